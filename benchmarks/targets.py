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
- peak RSS of a 100,000-update run grows by at most 5 MiB after the first
  1,000 updates; ``import tinygrad_mb`` under 0.3 s, without matplotlib.

Each cell shows the figure the issue asks for (for ratios, the ratio of the two
medians) and, next to it, the median of the per-round values with its 90%
interval. A ratio is paired by round: a round times every implementation once,
interleaved (:mod:`benchmarks.timing`), so timing ``i`` of tinygrad_mb's chosen
row is divided by timing ``i`` of the chosen reference row (each side's better
thread setting by median). The interval is distribution-free: the order
statistics ``[x(k), x(n+1-k)]`` around the median, with the largest ``k`` that
covers the true median with probability ≥ 90% (from the binomial distribution;
15 rounds give ``[x(4), x(12)]``, 96.5%). The verdict:

- **met** when the whole interval meets the bar;
- **not met** when none of it does;
- **inconclusive** when the bar lies inside the interval, or when there are too
  few rounds (under 5) for one.

The RSS growth is one measurement: met or not met, and only judged when the
run requested and completed 100,000 updates. Nothing is judged in a quick run
(``--quick``: too few, too short timings), and the throughput targets are not
judged when an implementation's weights after a few steps differ from the
hand-written step's (``mlp.agreement``): it computes something else.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from math import comb
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import `benchmarks` from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from benchmarks import report  # noqa: E402
from benchmarks.throughput import NUMPY, TINYGRAD, TORCH, disagreements  # noqa: E402

DEFAULT = Path(__file__).resolve().parent / "results.json"
LIMIT_RATIOS = {1: 0.5, 32: 0.85, 128: 0.85, 8192: 0.95}  # batch size: least tinygrad_mb / limit
FASTER_THAN_TORCH = (1, 32)
ADD_MAX_US, ADD_MAX_TIMES_NUMPY = 2.0, 7.0
RSS_MAX_GROWTH_MIB, RSS_UPDATES, IMPORT_MAX_S = 5.0, 100_000, 0.3
LEVEL = 0.90  # coverage of the interval around the median
REFERENCE_TORCH_OVER_NUMPY = 7_800 / 18_700  # the machine, batch 1: PyTorch against the hand-written step
MET, NOT_MET, INCONCLUSIVE = "✓ met", "✗ not met", "? inconclusive"
RULE = ("Each cell: the issue's figure (for ratios, the ratio of medians), then the median of the per-round values "
        "(ratios paired by round) with its 90% distribution-free interval, and the verdict: **met** when the whole "
        "interval meets the bar, **not met** when none of it does, **inconclusive** when the bar lies inside it "
        "(or there are under 5 rounds). The RSS growth is one measurement, judged only over 100,000 completed "
        "updates; a quick run is not judged, nor the throughput targets when an implementation's weights disagree "
        "with the hand-written step's. How far tinygrad_mb is ahead of PyTorch depends on how fast PyTorch is on "
        "this machine: its speed as a share of the limit is shown beside it (0.42 at batch 1 on the issue's "
        "reference machine).")


@dataclass
class Outcome:
    """One target in one run: the figures shown, and the verdict (or why there is none)."""

    shown: str
    verdict: str

    def cell(self) -> str:
        return f"{self.shown}: {self.verdict}"


Check = Callable[[dict], "Outcome | None"]  # results -> outcome, None if not measured


def median_interval(values: list[float], level: float = LEVEL) -> tuple[float, float] | None:
    """``[x(k), x(n+1-k)]``, the narrowest order-statistic interval covering the median with ≥ ``level``.

    The true median lies below ``x(k)`` only if fewer than ``k`` of the ``n``
    values fall below it, probability ``P(Binomial(n, 1/2) < k)``; likewise
    above. None when even ``[min, max]`` covers less than ``level`` (n < 5 at 90%).
    """
    xs, n = sorted(values), len(values)
    k, below = 0, 0.0  # below = P(Binomial(n, 1/2) <= k - 1)
    while k < n and 2 * (below + comb(n, k) / 2**n) <= 1 - level:
        below += comb(n, k) / 2**n
        k += 1
    return (xs[k - 1], xs[n - k]) if k else None


def judge(values: list[float], ok: Callable[[float], bool], fmt: Callable[[float], str]) -> tuple[str, str]:
    """The median of ``values`` with its interval, formatted, and the verdict of ``ok`` on the interval."""
    interval = median_interval(values)
    if interval is None:
        return f"{fmt(statistics.median(values))} [under 5 rounds]", INCONCLUSIVE
    low, high = interval
    verdict = MET if ok(low) and ok(high) else NOT_MET if not ok(low) and not ok(high) else INCONCLUSIVE
    return f"{fmt(statistics.median(values))} [{fmt(low)}–{fmt(high)}]", verdict


def chosen_row(results: dict, name: str, bs: int) -> list[float] | None:
    """Seconds per step, round by round, of ``name``'s better thread setting (by median) at batch ``bs``."""
    rows = []
    for label, entry in results.get("mlp", {}).get("results", {}).items():
        timing = entry.get(str(bs), entry.get(bs))  # str keys once read back from JSON
        if label.startswith(name) and timing and timing.get("seconds"):
            rows.append(timing["seconds"])
    return min(rows, key=statistics.median) if rows else None


def paired(results: dict, bs: int, reference: str) -> tuple[float, list[float]] | None:
    """tinygrad_mb's speed over ``reference``'s at batch ``bs``: ratio of medians, and per round."""
    ours, ref = chosen_row(results, TINYGRAD, bs), chosen_row(results, reference, bs)
    if ours is None or ref is None:
        return None
    per_round = [r / o for o, r in zip(ours, ref)]  # zip: a row that failed midway keeps its first rounds
    return statistics.median(ref) / statistics.median(ours), per_round


def limit_ratio(bs: int, least: float) -> Check:
    def check(results: dict) -> Outcome | None:
        pair = paired(results, bs, NUMPY)
        if pair is None:
            return None
        rounds, verdict = judge(pair[1], lambda r: r >= least, lambda r: f"{r:.3f}")
        return Outcome(f"{pair[0]:.3f}; rounds {rounds}", verdict)
    return check


def faster_than_torch(bs: int) -> Check:
    def check(results: dict) -> Outcome | None:
        pair, torch, limit = paired(results, bs, TORCH), chosen_row(results, TORCH, bs), chosen_row(results, NUMPY, bs)
        if pair is None:
            return None
        rounds, verdict = judge(pair[1], lambda r: r > 1, lambda r: f"{r:.2f}×")
        share = f", PyTorch at {statistics.median(limit) / statistics.median(torch):.2f} of the limit" if limit else ""
        return Outcome(f"{pair[0]:.2f}×; rounds {rounds}{share}", verdict)
    return check


def _per_call_us(results: dict, impl: str) -> list[float] | None:
    per_call = results.get("overhead", {}).get("per_call_s", {}).get(impl, {}).get("add")
    return [t * 1e6 for t in per_call] if per_call else None


def add_time(results: dict) -> Outcome | None:
    us = _per_call_us(results, TINYGRAD)
    return None if us is None else Outcome(*judge(us, lambda t: t <= ADD_MAX_US, lambda t: f"{t:.2f} µs"))


def add_against_numpy(results: dict) -> Outcome | None:
    ours, bare = _per_call_us(results, TINYGRAD), _per_call_us(results, "numpy")
    if ours is None or not bare:
        return None  # both were timed in the same rounds (timing.time_statements): pair them
    rounds, verdict = judge([o / b for o, b in zip(ours, bare)], lambda r: r <= ADD_MAX_TIMES_NUMPY,
                            lambda r: f"{r:.1f}×")
    return Outcome(f"{statistics.median(ours) / statistics.median(bare):.1f}×; rounds {rounds}", verdict)


def rss_growth(results: dict) -> Outcome | None:
    run = results.get("memory", {}).get("training", {}).get(TINYGRAD)
    if not run or "peak_growth" not in run:
        return None
    mib = max(run["peak_growth"], run.get("growth", 0)) / 2**20
    requested, done = run.get("requested", 0), run.get("updates", 0)
    shown = f"{mib:+.1f} MiB over {done:,} updates"
    if requested < RSS_UPDATES or done < requested:
        return Outcome(shown, f"not judged: {requested:,} requested, {done:,} done, {RSS_UPDATES:,} needed")
    return Outcome(shown, MET if mib <= RSS_MAX_GROWTH_MIB else NOT_MET)


def import_time(results: dict) -> Outcome | None:
    imp = results.get("memory", {}).get("imports", {}).get(TINYGRAD)
    if not imp or "seconds" not in imp:
        return None
    shown, verdict = judge(imp["seconds"], lambda t: t < IMPORT_MAX_S, lambda t: f"{t * 1e3:.0f} ms")
    if imp["matplotlib_imported"]:
        return Outcome(f"{shown}, imports matplotlib", NOT_MET)
    return Outcome(shown, verdict)


TARGETS: dict[str, tuple[str, Check]] = {  # name: (section the figures come from, check)
    **{f"batch {bs}: tinygrad_mb / limit ≥ {least}": ("mlp", limit_ratio(bs, least))
       for bs, least in LIMIT_RATIOS.items()},
    **{f"batch {bs}: faster than PyTorch": ("mlp", faster_than_torch(bs)) for bs in FASTER_THAN_TORCH},
    f"tracked add ≤ {ADD_MAX_US} µs": ("overhead", add_time),
    f"tracked add ≤ {ADD_MAX_TIMES_NUMPY:.0f}× np.add": ("overhead", add_against_numpy),
    f"peak RSS growth ≤ {RSS_MAX_GROWTH_MIB:.0f} MiB": ("memory", rss_growth),
    f"import < {IMPORT_MAX_S} s, no matplotlib": ("memory", import_time),
}


def not_judged(results: dict, section: str) -> str | None:
    """Why no target of ``section`` may be judged in this run, or None."""
    if results.get("config", {}).get("quick"):
        return "not judged: quick run"
    if section == "mlp":
        agree = results.get("mlp", {}).get("agreement")
        if not agree:
            return "not judged: agreement with the hand-written step not checked"
        if disagreements(agree):
            return "not judged: weights disagree (" + "; ".join(disagreements(agree)) + ")"
    return None


def outcome(results: dict, name: str) -> Outcome | None:
    """The target ``name`` in one run, with the verdict withheld where the run cannot be judged."""
    section, check = TARGETS[name]
    out = check(results)
    why = not_judged(results, section)
    return Outcome(out.shown, why) if out is not None and why else out


def table(runs: dict[str, dict]) -> str:
    """Markdown: one row per target, one column per run (figures and verdict), and the verdicts counted."""
    header = ["target", *runs, "met / not met / inconclusive"]
    rows = []
    for name in TARGETS:
        outcomes = [outcome(results, name) for results in runs.values()]
        cells = ["not measured" if o is None else o.cell() for o in outcomes]
        verdicts = [o.verdict for o in outcomes if o is not None]
        rows.append([name, *cells, " / ".join(str(verdicts.count(v)) for v in (MET, NOT_MET, INCONCLUSIVE))])
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
