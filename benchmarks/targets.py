"""Which of tinygrad_mb's speed and memory targets did a benchmark run meet?

    python -m benchmarks.targets                          # the committed run, benchmarks/results.json
    python -m benchmarks.targets A/results.json B/results.json ...   # several runs, side by side

Each run of ``python -m benchmarks`` leaves a ``results.json`` beside its
``RESULTS.md`` (``--out DIR/RESULTS.md`` puts both in DIR). This reads one or
more of them and checks the project's targets, each measured within one run:

- training throughput of the 784-128-10 MLP against the limit (the better of
  the two hand-written NumPy rows), tinygrad_mb at its better thread setting:
  at least 0.5 at batch 1, 0.85 at batch 32 and 128, 0.95 at batch 8192;
- faster than PyTorch (its better thread setting) at batch 1 and 32;
- a tracked add on 1-element tensors: at most 2.0 µs, and at most 7 times
  the bare ``np.add`` timed in the same run;
- peak RSS of the 100,000-update run grows by at most 5 MiB after the first
  1,000 updates; ``import tinygrad_mb`` under 0.3 s, without matplotlib.

All figures are medians. On a shared machine a ratio near its target passes
in one run and fails in the next; several runs show how often.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import `benchmarks` from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from benchmarks import report  # noqa: E402
from benchmarks.throughput import NUMPY, TINYGRAD, TORCH  # noqa: E402

DEFAULT = Path(__file__).resolve().parent / "results.json"
LIMIT_RATIOS = {1: 0.5, 32: 0.85, 128: 0.85, 8192: 0.95}  # batch size: least tinygrad_mb / limit
FASTER_THAN_TORCH = (1, 32)
ADD_MAX_US, ADD_MAX_TIMES_NUMPY = 2.0, 7.0
RSS_MAX_GROWTH_MIB, IMPORT_MAX_S = 5.0, 0.3

Check = Callable[[dict], "tuple[str, bool] | None"]  # results -> (value shown, met?), None if not measured


def best_rate(results: dict, name: str, bs: int) -> float | None:
    """Samples per second of ``name``'s better thread setting at batch size ``bs`` (median), if measured."""
    mlp = results.get("mlp", {})
    rates = []
    for label, entry in mlp.get("results", {}).items():
        timing = entry.get(str(bs), entry.get(bs))  # str keys once read back from JSON
        if label.startswith(name) and timing and "seconds" in timing:
            rates.append(bs / statistics.median(timing["seconds"]))
    return max(rates) if rates else None


def limit_ratio(bs: int, least: float) -> Check:
    def check(results: dict) -> tuple[str, bool] | None:
        ours, limit = best_rate(results, TINYGRAD, bs), best_rate(results, NUMPY, bs)
        if ours is None or limit is None:
            return None
        return f"{ours / limit:.3f}", ours / limit >= least
    return check


def faster_than_torch(bs: int) -> Check:
    def check(results: dict) -> tuple[str, bool] | None:
        ours, torch = best_rate(results, TINYGRAD, bs), best_rate(results, TORCH, bs)
        if ours is None or torch is None:
            return None
        return f"{ours / torch:.2f}×", ours > torch
    return check


def _add_us(results: dict, impl: str) -> float | None:
    per_call = results.get("overhead", {}).get("per_call_s", {}).get(impl, {}).get("add")
    return statistics.median(per_call) * 1e6 if per_call else None


def add_time(results: dict) -> tuple[str, bool] | None:
    us = _add_us(results, TINYGRAD)
    return None if us is None else (f"{us:.2f} µs", us <= ADD_MAX_US)


def add_against_numpy(results: dict) -> tuple[str, bool] | None:
    ours, bare = _add_us(results, TINYGRAD), _add_us(results, "numpy")
    if ours is None or not bare:
        return None
    return f"{ours / bare:.1f}×", ours / bare <= ADD_MAX_TIMES_NUMPY


def rss_growth(results: dict) -> tuple[str, bool] | None:
    run = results.get("memory", {}).get("training", {}).get(TINYGRAD)
    if not run or "peak_growth" not in run:
        return None
    mib = max(run["peak_growth"], run.get("growth", 0)) / 2**20
    return f"{mib:+.1f} MiB", mib <= RSS_MAX_GROWTH_MIB and bool(run.get("complete", True))


def import_time(results: dict) -> tuple[str, bool] | None:
    imp = results.get("memory", {}).get("imports", {}).get(TINYGRAD)
    if not imp:
        return None
    seconds = statistics.median(imp["seconds"])
    light = not imp["matplotlib_imported"]
    return f"{seconds * 1e3:.0f} ms{'' if light else ', imports matplotlib'}", seconds < IMPORT_MAX_S and light


TARGETS: dict[str, Check] = {
    **{f"batch {bs}: tinygrad_mb / limit ≥ {least}": limit_ratio(bs, least) for bs, least in LIMIT_RATIOS.items()},
    **{f"batch {bs}: faster than PyTorch": faster_than_torch(bs) for bs in FASTER_THAN_TORCH},
    f"tracked add ≤ {ADD_MAX_US} µs": add_time,
    f"tracked add ≤ {ADD_MAX_TIMES_NUMPY:.0f}× np.add": add_against_numpy,
    f"peak RSS growth ≤ {RSS_MAX_GROWTH_MIB:.0f} MiB": rss_growth,
    f"import < {IMPORT_MAX_S} s, no matplotlib": import_time,
}


def table(runs: dict[str, dict]) -> str:
    """Markdown: one row per target, one column per run (value, ✓ or ✗), and how many runs met it."""
    header = ["target", *runs, "met in"]
    rows = []
    for name, check in TARGETS.items():
        outcomes = [check(results) for results in runs.values()]
        cells = ["not measured" if o is None else f"{o[0]} {'✓' if o[1] else '✗'}" for o in outcomes]
        measured = [o for o in outcomes if o is not None]
        rows.append([name, *cells, f"{sum(o[1] for o in measured)} of {len(measured)}"])
    return "\n".join(report._table(header, rows))


def run_name(path: Path, results: dict) -> str:
    """A column title: the run's date and time, and which sections it ran ("all" for a full run)."""
    when = results.get("machine", {}).get("date", str(path))
    sections = results.get("config", {}).get("sections", [])
    return f"{when}, {'all' if set(sections) >= {'mlp', 'overhead', 'memory'} else ', '.join(sections) or '?'}"


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description="Check tinygrad_mb's speed and memory targets in benchmark results.")
    p.add_argument("results", nargs="*", type=Path, default=[DEFAULT],
                   help="results.json files written by python -m benchmarks (default: the committed run)")
    args = p.parse_args(argv)
    runs = {}
    for path in args.results:
        try:
            results = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            p.error(f"cannot read {path}: {exc}; give the results.json that python -m benchmarks wrote")
        name = run_name(path, results)
        runs[name if name not in runs else f"{name} [{path}]"] = results
    text = table(runs)
    print(text)
    return text


if __name__ == "__main__":
    main()
