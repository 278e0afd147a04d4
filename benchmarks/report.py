"""Turn measured results into ``RESULTS.md`` and the throughput figures."""

from __future__ import annotations

import statistics
from pathlib import Path

from benchmarks.problem import N_HIDDEN, N_IN, N_OUT
from benchmarks.throughput import AGREE_MAX_ABS_DIFF, NUMPY, TINYGRAD, TORCH, disagreements
from benchmarks.timing import Summary


def _sig(x: float) -> str:
    """Three significant digits, thousands separated: 12,300 / 45.6 / 0.789."""
    if x >= 1000:
        return f"{float(f'{x:.3g}'):,.0f}"
    return f"{x:.3g}"


def _cell(s: Summary) -> str:
    return f"{_sig(s.median)} [{_sig(s.low)}–{_sig(s.high)}]"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def _mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def throughput(entry: dict, bs: int) -> Summary | None:
    """Samples per second at batch size ``bs`` (None when it was not measured)."""
    if "seconds" not in entry:
        return None
    return Summary.of(entry["seconds"]).scaled(lambda t: bs / t)


def mlp_section(mlp: dict, title: str) -> list[str]:
    """Throughput and step-time tables for one set of implementations."""
    labels, sizes, res = mlp["labels"], mlp["batch_sizes"], mlp["results"]
    out = [f"### {title}: samples per second, median [min–max]", ""]
    rows, step_rows = [], []
    for bs in sizes:
        cells, steps = [str(bs)], [str(bs)]
        for label in labels:
            entry = res[label].get(bs, {})
            s = throughput(entry, bs)
            cells.append(_cell(s) if s else entry.get("error", "—"))
            steps.append(_sig(statistics.median(entry["seconds"]) * 1e6) if s else "—")
        rows.append(cells)
        step_rows.append(steps)
    out += _table(["batch"] + labels, rows)
    out += ["", f"### {title}: microseconds per training step (median)", ""]
    out += _table(["batch"] + labels, step_rows)
    for name, note in mlp.get("skipped", {}).items():
        out.append(f"\n*{name}: {note}*")
    if mlp.get("agreement"):
        out += ["", agreement_text(mlp["agreement"])]
    return out


def agreement_text(agree: dict) -> str:
    """Do all implementations compute the same steps? A loud warning first when one does not."""
    parts = [f"{k}: " + (f"loss {v['loss']:.6f}, max |Δw| {v['max_abs_weight_diff']:.1e}" if "loss" in v
                         else f"failed ({v['error']})") for k, v in agree.items()]
    how = next((v for v in agree.values() if "batch_sizes" in v), {"batch_sizes": [32], "steps": 1})  # old: 1 step
    sizes = " and ".join(str(bs) for bs in how["batch_sizes"])
    steps = f"{how['steps']} steps on each" if how["steps"] > 1 else "one step"
    text = (f"Same start, same batches (of {sizes}), {steps} — do they compute the same thing? "
            "(max |Δw| = largest weight difference from the hand-written step; loss of the first step): "
            + "; ".join(parts) + ".")
    bad = disagreements(agree)
    if bad:
        text = (f"**WARNING: weights disagree with the hand-written step beyond {AGREE_MAX_ABS_DIFF:.0e}: "
                + "; ".join(bad) + ". These rows time a different computation; the speed targets are not judged.**"
                "\n\n" + text)
    return text


def ratios_section(mlp: dict) -> list[str]:
    """tinygrad_mb against the limit (best hand-written NumPy row) and against the best PyTorch row."""
    res, labels = mlp["results"], mlp["labels"]

    def best(name: str, bs: int) -> tuple[float, str] | None:
        rates = [(s.median, label) for label in labels if label.startswith(name)
                 for s in [throughput(res[label].get(bs, {}), bs)] if s]
        return max(rates) if rates else None

    tg_labels = [label for label in labels if label.startswith(TINYGRAD)]
    header = ["batch", "limit (best hand-written NumPy)"]
    header += [f"{label} / limit" for label in tg_labels]
    header += ["best tinygrad_mb / best PyTorch", "best PyTorch / limit"]
    cpu_pair = (f"{TINYGRAD}, 1 thread", f"{NUMPY}, 1 thread")
    if all(label in res for label in cpu_pair):
        header.append("tinygrad_mb / NumPy, both 1 thread, by CPU time")
    rows = []
    for bs in mlp["batch_sizes"]:
        limit, torch_best, tg_best = best(NUMPY, bs), best(TORCH, bs), best(TINYGRAD, bs)
        row = [str(bs), f"{_sig(limit[0])}/s ({limit[1].split(', ')[-1]})" if limit else "—"]
        for label in tg_labels:
            s = throughput(res[label].get(bs, {}), bs)
            row.append(_ratio(s.median / limit[0]) if s and limit else "—")
        row.append(_ratio(tg_best[0] / torch_best[0]) if tg_best and torch_best else "—")
        row.append(f"{torch_best[0] / limit[0]:.2f}" if torch_best and limit else "—")
        if len(header) > len(row):
            tg, ref = (res[label].get(bs, {}).get("cpu_seconds") for label in cpu_pair)
            row.append(_ratio(statistics.median(ref) / statistics.median(tg)) if tg and ref else "—")
        rows.append(row)
    return ["Ratios of median throughputs: below 1 means tinygrad_mb is slower (the factor in brackets). "
            "tinygrad_mb's lead over PyTorch holds for this machine only: it depends on how fast PyTorch runs "
            "here, shown as PyTorch's speed over the limit (on the issue's reference machine "
            "PyTorch ran at 7.8k samples/s against the hand-written step's 18.7k at batch 1, 0.42). "
            "The last column compares the two single-threaded rows by process CPU time instead of wall time: "
            "CPU time leaves out moments when other programs had the CPU, so on a shared machine it is the "
            "steadier measure of the engine's own cost — steadier, not immune: programs sharing the caches and "
            "memory bandwidth slow the work it counts, and on a virtual machine stolen time can be counted in it.",
            ""] + _table(header, rows)


def _ratio(r: float) -> str:
    return f"{r:.2f} ({1 / r:.1f}× slower)" if r < 1 else f"{r:.2f} ({r:.1f}× faster)"


def overhead_section(ov: dict) -> list[str]:
    """µs per tracked op on 1-element / 2x2 tensors, against the bare NumPy call."""
    per = ov["per_call_s"]
    libs = [lib for lib in ("numpy", "tinygrad_mb", "PyTorch") if lib in per]
    header = ["op"] + [f"{lib} µs" for lib in libs] + [f"{lib} / numpy" for lib in libs[1:]]
    rows = []
    for op in per["numpy"]:
        meds = {lib: statistics.median(per[lib][op]) for lib in libs if op in per[lib]}
        row = [op] + [_cell(Summary.of([v * 1e6 for v in per[lib][op]])) if op in per[lib] else "—" for lib in libs]
        row += [f"{meds[lib] / meds['numpy']:.1f}×" if lib in meds else "—" for lib in libs[1:]]
        rows.append(row)
    st = ov["statements"]
    out = _table(header, rows) + ["", "Statements: " + "; ".join(
        f"{lib} `{st[lib]['add']}`, `{st[lib]['matmul (2x2)']}`, `{st[lib]['relu']}`" for lib in libs) + "."]
    return out + [f"\n*{k}: {v}*" for k, v in ov.get("notes", {}).items()]


def compare_section(cmp: dict) -> list[str]:
    if "error" in cmp:
        return [f"`{cmp['command']}`: not available — {cmp['error']}"]
    return [f"`{cmp['command']}`: **{cmp['seconds']:.1f} s** wall time, one run "
            f"(exit code {cmp['returncode']}; wrote {len(cmp['files'])} files: "
            + ", ".join(f"`{f}`" for f in cmp["files"][:8]) + (" …" if len(cmp["files"]) > 8 else "") + ")."]


def memory_section(mem: dict) -> list[str]:
    out = []
    train = mem.get("training", {})
    if train:
        rows = []
        for kind, r in train.items():
            if "error" in r:
                rows.append([kind, r["error"]] + ["—"] * 6)
                continue
            first, last = r["samples"][0], r["samples"][-1]
            done = f"{r['updates']:,} in {r['seconds']:.1f} s ({r['updates'] / r['seconds']:,.0f}/s)"
            if not r.get("complete", True):
                done += f" — stopped at the time cap, {r['requested']:,} asked: incomplete"
            peak_growth = f"{r['peak_growth'] / 2**20:+.1f} MiB" if "peak_growth" in r else "—"
            rows.append([kind, done, _mib(first[1]), _mib(r["rss_max_after"]), _mib(last[1]),
                         f"{r['growth'] / 2**20:+.1f} MiB", _mib(r["peak_rss"]), peak_growth])
        feeds = "; ".join(f"{k}: {r['feed']}" for k, r in train.items() if "feed" in r)
        out += [f"Batch-size-1 training of the {N_IN}-{N_HIDDEN}-{N_OUT} MLP (the real training loop, "
                "in a fresh process, one BLAS thread), RSS and its peak (VmHWM) read every 1,000 updates. "
                "Batches: " + feeds + ".", ""]
        out += _table(["run", "updates", "RSS at 1,000", "max RSS after", "RSS at end",
                       "growth (max − at 1,000)", "peak (VmHWM)", "peak growth (end − at 1,000)"], rows)
    imports = mem.get("imports", {})
    if imports:
        rows = []
        for r in imports.values():
            if "error" in r:
                rows.append([f"`{r['statement']}`", r["error"], "—", "—", "—"])
                continue
            rows.append([f"`{r['statement']}`", _cell(Summary.of([s * 1e3 for s in r["seconds"]])),
                         _mib(r["rss_after"]), _mib(r["rss_added"]),
                         "yes" if r["matplotlib_imported"] else "no"])
        out += ["", "Import in a fresh interpreter (median of several runs; ms median [min–max]):", ""]
        out += _table(["statement", "time (ms)", "RSS after", "RSS added by the import", "matplotlib imported?"],
                      rows)
    return out


def plot_throughput(mlp: dict, path: Path, title: str) -> None:
    """Two log-log panels: samples/s and time per step, against batch size; min–max shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_rate, ax_step) = plt.subplots(1, 2, figsize=(13, 5.6))
    colours = {NUMPY: "tab:green", TORCH: "tab:orange", TINYGRAD: "tab:blue", "hand-written CuPy": "tab:red"}
    for i, label in enumerate(mlp["labels"]):
        pts = [(bs, Summary.of(e["seconds"])) for bs in mlp["batch_sizes"]
               for e in [mlp["results"][label].get(bs, {})] if "seconds" in e]
        if not pts:
            continue
        bs = [p[0] for p in pts]
        colour = next((c for k, c in colours.items() if label.startswith(k)), f"C{i}")
        secondary = "2 threads" in label or "(NumPy)" in label  # dashed, thin, unshaded: keeps the figure readable
        marker = "s" if "CUDA" in label or "CuPy" in label else "o"
        for ax, f in ((ax_rate, lambda b, t: b / t), (ax_step, lambda b, t: t * 1e6)):
            ax.plot(bs, [f(b, s.median) for b, s in pts], "--" if secondary else "-", marker=marker,
                    color=colour, label=label, linewidth=1.2 if secondary else 2, markersize=4 if secondary else 6,
                    alpha=0.75 if secondary else 1.0)
            if not secondary:
                ax.fill_between(bs, [f(b, s.low) for b, s in pts], [f(b, s.high) for b, s in pts],
                                color=colour, alpha=0.15, linewidth=0)
    sizes, first = mlp["batch_sizes"], mlp["results"][mlp["labels"][0]].get(mlp["batch_sizes"][-1], {})
    if "seconds" in first:  # through the first implementation's largest batch: where pure compute would lie
        t_big = statistics.median(first["seconds"]) * 1e6
        ax_step.plot([sizes[0], sizes[-1]], [t_big * sizes[0] / sizes[-1], t_big], ":", color="grey",
                     label="slope 1: time ∝ batch size (compute-bound)")
    ax_rate.set(xscale="log", yscale="log", xlabel="batch size (samples per step)",
                ylabel="throughput (samples / second)", title="Throughput: higher is better")
    ax_step.set(xscale="log", yscale="log", xlabel="batch size (samples per step)",
                ylabel="time per training step (µs)",
                title="Time per step: flat = overhead-bound, slope 1 = compute-bound")
    for ax in (ax_rate, ax_step):
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = ax_step.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8.5, frameon=False, bbox_to_anchor=(0.5, 0.04))
    fig.suptitle(title)
    fig.text(0.5, 0.01, "Small batches pay a fixed per-step cost (Python, op dispatch, BLAS call setup) for few "
             "samples; large batches spread it out and keep the arithmetic units busy. "
             "Shaded: min–max over repeats (solid lines).", ha="center", fontsize=8.5)
    fig.tight_layout(rect=(0, 0.13, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
