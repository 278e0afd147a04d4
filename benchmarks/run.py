"""Run the benchmark suite and write RESULTS.md, results.json and the figures.

    python -m benchmarks                 # everything, ~4 minutes; writes benchmarks/RESULTS.md
    python -m benchmarks --quick         # a short smoke run (writes under out/benchmarks/)
    python -m benchmarks --only overhead # one section (repeat --only for several)
    python benchmarks/run.py --out /tmp/r/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import `benchmarks` from the repository root,
    sys.path[0] = str(Path(__file__).resolve().parent.parent)  # not its modules as top-level names

from benchmarks import endtoend, gpu, machine, memory, overhead, report, targets, throughput, timing  # noqa: E402
from benchmarks.problem import BATCH_SIZES, LR, N_HIDDEN, N_IN, N_OUT  # noqa: E402

SECTIONS = ("mlp", "overhead", "compare", "memory", "gpu")
HERE = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description="tinygrad_mb speed and memory benchmarks.")
    p.add_argument("--quick", action="store_true", help="short smoke run: few repeats, short timings, fewer sizes")
    p.add_argument("--only", action="append", choices=SECTIONS, help="run only this section (repeatable)")
    p.add_argument("--out", type=Path, help="markdown file to write; figures and results.json go beside it "
                   "(default benchmarks/RESULTS.md for a full run, out/benchmarks/RESULTS.md otherwise)")
    p.add_argument("--repeats", type=int, help="timings per implementation (default 15, quick 3)")
    p.add_argument("--target", type=float, help="seconds per timing (default 0.15, quick 0.03)")
    p.add_argument("--settle", type=float, help="before each calibration and timing, wait at most this long for "
                   "the previous case's BLAS/OpenMP threads to stop spinning (default 0.5 s; 0: no wait)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quick, sections = args.quick, args.only or list(SECTIONS)
    repeats = args.repeats or (3 if quick else 15)
    target = args.target or (0.03 if quick else 0.15)
    settle = args.settle if args.settle is not None else 0.5  # an upper bound: settle() stops once the CPU is quiet
    out = args.out or (HERE / "RESULTS.md" if not (quick or args.only) else HERE.parent / "out/benchmarks/RESULTS.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    command = "python -m benchmarks" + "".join(" " + shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    results: dict = {"machine": machine.describe(command), "config": {
        "quick": quick, "repeats": repeats, "target_s": target, "settle_max_s": settle, "sections": sections}}
    start, cpu_start = time.perf_counter(), machine.cpu_times()

    if "mlp" in sections:
        print("mlp: training-step throughput", flush=True)
        sizes = (1, 32, 1024) if quick else BATCH_SIZES
        impls, skipped = throughput.cpu_impls()
        agree = throughput.agreement(impls, (1, max(sizes)))
        warn_if_they_disagree(agree)
        results["mlp"] = {"batch_sizes": list(sizes), "labels": [i.label for i in impls], "skipped": skipped,
                          "agreement": agree, "results": throughput.measure(impls, sizes, repeats, target, settle)}
    if "overhead" in sections:
        print("overhead: per-op cost on tiny tensors", flush=True)
        results["overhead"] = overhead.measure(repeats, min(target, 0.05))
    if "compare" in sections:
        print("compare: `tinygrad-mb compare` end to end", flush=True)
        results["compare"] = endtoend.compare_command()
    if "memory" in sections:
        print("memory: long batch-size-1 run, import cost", flush=True)
        results["memory"] = {"training": memory.measure(5_000 if quick else 100_000, 1_000, 60.0 if quick
                                                        else memory.TIME_CAP_S),
                             "imports": endtoend.imports(2 if quick else 5)}
    if "gpu" in sections:
        print("gpu: throughput on CuPy", flush=True)
        sizes = (1, 64, 4096) if quick else gpu.GPU_BATCH_SIZES
        results["gpu"] = gpu.run(sizes, repeats, target, settle)
        warn_if_they_disagree(results["gpu"].get("agreement", {}))
    results["config"]["total_seconds"] = time.perf_counter() - start
    results["machine"]["load average at end (includes this benchmark)"] = machine.load_average()
    results["machine"]["steal time during the run"] = machine.steal_share(cpu_start, machine.cpu_times())

    write(results, out)
    print(f"\nwrote {out} (and figures, results.json beside it) in {results['config']['total_seconds']:.0f} s")
    print(f"\nthe speed and memory targets in this run (python -m benchmarks.targets {out.parent / 'results.json'}):")
    print(targets.table({targets.run_name(out, results): results}))
    if "mlp" in results:
        warn_if_they_disagree(results["mlp"]["agreement"])  # again, where the targets are read
    return 0


def warn_if_they_disagree(agree: dict) -> None:
    """Say loudly when an implementation does not compute the hand-written step: its speed means nothing."""
    bad = throughput.disagreements(agree)
    if bad:
        rule = "!" * 78
        print(f"\n{rule}\nWEIGHTS DISAGREE with the hand-written step: {'; '.join(bad)}.\n"
              f"These implementations compute something else; the speed targets are not judged.\n{rule}\n",
              flush=True)


def _settle_text(settle_max_s: float) -> str:
    if settle_max_s <= 0:
        return "No wait between timings (`--settle 0`)."
    return ("Before each calibration and each timing the runner waits until the process has used under "
            f"{timing.SETTLE_IDLE_SHARE:.0%} of a CPU over {timing.SETTLE_WINDOW_S * 1e3:.0f} ms (at most "
            f"{settle_max_s} s), so BLAS/OpenMP worker threads the previous case left spinning (OpenBLAS's spin "
            "for about 0.1 s) do not take a CPU from the next one.")


def write(results: dict, out: Path) -> None:
    """RESULTS.md + results.json + throughput figures in ``out``'s folder."""
    cfg, lines = results["config"], []
    lines += ["# tinygrad_mb benchmark results", "",
              "Written by `benchmarks/run.py`; do not edit by hand — rerun it. "
              f"Sections: {', '.join(cfg['sections'])}{' (quick smoke run)' if cfg['quick'] else ''}.", "",
              "## Machine", ""]
    lines += report._table(["", ""], [[k, f"`{v}`" if k == "command" else str(v)]
                                      for k, v in results["machine"].items()])
    lines += ["", "## Method", "",
              f"Model: float32 MLP {N_IN}→{N_HIDDEN}→ReLU→{N_OUT}, mean softmax cross-entropy, plain SGD "
              f"(lr {LR}); every implementation starts from the same weights (drawn once with a seeded "
              "`numpy.random.Generator`) and trains on the same random batch, already in its own format.", "",
              f"Each implementation is timed {cfg['repeats']} times, **interleaved**: every round times each one "
              "once, in an order shuffled with a seed of its own for each batch size, so machine noise hits all "
              "alike, and round *i* of every row ran within the same short stretch of time (the targets below "
              f"compare rows round by round). One timing runs a calibrated number of steps lasting about "
              f"{cfg['target_s']} s. {_settle_text(cfg['settle_max_s'])} "
              "Tables give the median and [min–max] over the timings. "
              "Thread counts: NumPy's BLAS limited with threadpoolctl; PyTorch with `torch.set_num_threads`. "
              "A 2-thread row slower than its 1-thread row means the threads spent their time waiting for each "
              "other: BLAS threads meet at every call, and on a virtual or shared machine a thread that loses "
              "its CPU stalls the other (the min–max range shows how often). In the machine table, the load "
              "average at the start shows other work before the run; the one at the end counts the benchmark's "
              "own 1–2 busy threads too, so only what exceeds that was other work. The steal time is the share "
              "of the machine's CPU time the hypervisor gave to other virtual machines during the run.", ""]
    if "mlp" in results:
        lines += ["## 1. MLP training step", ""] + report.mlp_section(results["mlp"], "CPU")
        lines += ["", "![throughput against batch size](throughput.png)", "",
                  "### tinygrad_mb against the limit and against PyTorch", ""] + report.ratios_section(results["mlp"])
        report.plot_throughput(results["mlp"], out.parent / "throughput.png",
                               f"Training step of a {N_IN}-{N_HIDDEN}-{N_OUT} MLP on the CPU")
    if "overhead" in results:
        lines += ["", "## 2. Per-op overhead (µs per call, median [min–max])", "",
                  "One op on 1-element tensors (2×2 for matmul) with `requires_grad=True`, so the graph is "
                  "recorded; timeit-style loops (GC paused), PyTorch on 1 thread.", ""]
        lines += report.overhead_section(results["overhead"])
    if "compare" in results:
        lines += ["", "## 3. `tinygrad-mb compare`, end to end", ""] + report.compare_section(results["compare"])
    if "memory" in results:
        lines += ["", "## 4. Memory", ""] + report.memory_section(results["memory"])
    if "gpu" in results:
        lines += ["", "## 5. GPU", ""]
        g = results["gpu"]
        if "skipped" in g and "results" not in g:
            lines.append(f"Skipped: {g['skipped']}.")
        else:
            lines += [f"Device: {g['device']}.", ""] + report.mlp_section(g, "GPU")
            lines += ["", "![GPU throughput against batch size](throughput_gpu.png)"]
            report.plot_throughput(g, out.parent / "throughput_gpu.png",
                                   f"Training step of a {N_IN}-{N_HIDDEN}-{N_OUT} MLP on {g['device']}")
    lines += ["", "## Targets", "", targets.RULE, "", targets.table({targets.run_name(out, results): results})]
    lines += ["", f"Total benchmark time: {cfg['total_seconds']:.0f} s.", ""]
    out.write_text("\n".join(lines), encoding="utf-8")
    (out.parent / "results.json").write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
