"""Fair timing: calibrated, interleaved, repeated, each timing started on a quiet process.

Machine noise (another process, a frequency change, the OS) comes in bursts.
If implementation A were timed 15 times and then B 15 times, a burst would
hit one of them only. So every *round* times each implementation once, in a
fresh random order (a seeded shuffle: no case always follows the same
neighbour, and a rerun with the same seed repeats the order). The report gives
the median over rounds with the min-max range next to it; because round ``i``
of every case ran within the same short stretch of time, timings of the same
round index can also be compared pairwise (:mod:`benchmarks.targets` does).

One timing runs a calibrated number of steps, so that it lasts about
``target_s`` seconds: long enough for the clock to be precise, short enough
to fit many rounds. Before each calibration and each timing, :func:`settle`
waits until the worker threads the previous case left spinning have gone quiet.
"""

from __future__ import annotations

import contextlib
import random
import statistics
import time
import timeit
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Case:
    """One thing to time: ``step()`` run under ``context()``, then ``sync()`` before the clock stops."""

    label: str
    step: Callable[[], Any]
    context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    sync: Callable[[], Any] | None = None
    steps_per_timing: int = 0
    seconds_per_step: list[float] = field(default_factory=list)
    cpu_seconds_per_step: list[float] = field(default_factory=list)  # process CPU time, all threads
    error: str | None = None


def _time_steps(case: Case, n: int) -> tuple[float, float]:
    """Wall and CPU seconds for ``n`` calls of ``case.step`` (context entered outside the clock).

    CPU time leaves out the moments other programs held the CPU, so on a busy
    machine it is the steadier figure for single-threaded runs -- steadier, not
    immune: programs sharing the caches and memory bandwidth slow the work it
    counts, and on a virtual machine stolen time can be counted in it. The
    report uses wall time.
    """
    step, sync = case.step, case.sync
    with case.context():
        cpu, start = time.process_time(), time.perf_counter()
        for _ in range(n):
            step()
        if sync is not None:
            sync()
        return time.perf_counter() - start, time.process_time() - cpu


def calibrate(case: Case, target_s: float, warmup: int = 3) -> None:
    """Choose ``case.steps_per_timing`` so one timing takes about ``target_s`` seconds."""
    _time_steps(case, warmup)  # first calls allocate buffers, fill caches
    n = 1
    while True:
        elapsed = _time_steps(case, n)[0]
        if elapsed >= target_s / 4 or n >= 1 << 24:
            break
        n *= 4 if elapsed < target_s / 40 else 2
    case.steps_per_timing = max(1, round(n * target_s / max(elapsed, 1e-9)))


SETTLE_WINDOW_S = 0.015  # one look at the process's CPU use: a few scheduler ticks
SETTLE_IDLE_SHARE = 0.1  # "quiet": under a tenth of one CPU over the window


def settle(max_s: float) -> float:
    """Wait until this process is (nearly) idle, at most ``max_s`` seconds; return the seconds waited.

    BLAS and OpenMP worker threads keep spinning for a while after their last
    job (OpenBLAS ~0.1 s, measured), and a pool left spinning by a 2-thread
    case would steal a CPU from whichever case runs next. A fixed pause only
    covers the spin it was sized for, so this sleeps in short windows and stops
    at the first window in which the whole process (all its threads) used
    under ``SETTLE_IDLE_SHARE`` of a CPU; the main thread only sleeps, so
    whatever CPU time the window shows was burnt by other threads.
    ``max_s <= 0`` returns at once.
    """
    start = time.perf_counter()
    while time.perf_counter() - start < max_s:
        cpu, wall = time.process_time(), time.perf_counter()
        time.sleep(SETTLE_WINDOW_S)
        if time.process_time() - cpu < SETTLE_IDLE_SHARE * (time.perf_counter() - wall):
            break
    return time.perf_counter() - start


def run_interleaved(cases: list[Case], repeats: int, target_s: float, settle_s: float = 0.0, seed: int = 0) -> None:
    """Calibrate every case, then time them ``repeats`` times, round by round.

    Every round times each case once, in an order shuffled by
    ``random.Random(seed)``; give each set of cases its own ``seed`` so that
    they do not all share one sequence of orders. Before each calibration and
    each timing, :func:`settle` waits (at most ``settle_s``) for the previous
    case's worker threads to stop spinning; ``settle_s=0`` skips it.

    Fills ``case.seconds_per_step``, one entry per round, so entry ``i`` of
    every case comes from round ``i``; a case whose step raises gets
    ``case.error`` and is dropped from later rounds (its earlier entries keep
    their round index), so one broken implementation cannot stop the others
    from being measured.
    """
    for case in cases:
        settle(settle_s)
        try:
            calibrate(case, target_s)
        except Exception as exc:  # report, keep measuring the others
            case.error = f"{type(exc).__name__}: {exc}"
    rng = random.Random(seed)
    for _ in range(repeats):
        live = [c for c in cases if c.error is None]
        if not live:
            return
        rng.shuffle(live)
        for case in live:
            settle(settle_s)
            try:
                wall, cpu = _time_steps(case, case.steps_per_timing)
                case.seconds_per_step.append(wall / case.steps_per_timing)
                case.cpu_seconds_per_step.append(cpu / case.steps_per_timing)
            except Exception as exc:
                case.error = f"{type(exc).__name__}: {exc}"


def time_statements(
    statements: dict[str, tuple[str, dict]], repeats: int, target_s: float
) -> dict[str, list[float]]:
    """Per-call seconds of tiny statements, timeit-style, interleaved and repeated.

    ``statements`` maps a label to ``(stmt, namespace)``. Like ``timeit``, the
    statement is compiled into the timing loop (no extra Python call per
    iteration) and the garbage collector is paused while the clock runs.
    """
    timers = {label: timeit.Timer(stmt, globals=ns) for label, (stmt, ns) in statements.items()}
    numbers = {}
    for label, timer in timers.items():
        number, elapsed = timer.autorange()  # smallest 1, 2, 5, 10, ... lasting >= 0.2 s
        numbers[label] = max(1, round(number * target_s / elapsed))
    out: dict[str, list[float]] = {label: [] for label in timers}
    labels = list(timers)
    for r in range(repeats):
        shift = r % len(labels)
        for label in labels[shift:] + labels[:shift]:
            out[label].append(timers[label].timeit(numbers[label]) / numbers[label])
    return out


@dataclass
class Summary:
    """Median and range of a list of measurements."""

    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Summary:
        return cls(statistics.median(values), min(values), max(values), len(values))

    def scaled(self, f: Callable[[float], float]) -> Summary:
        """The summary of ``f(values)`` for a monotone ``f`` (a decreasing one swaps low and high)."""
        a, b = f(self.low), f(self.high)
        return Summary(f(self.median), min(a, b), max(a, b), self.n)


_controller = None


@contextlib.contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """Limit NumPy's BLAS to ``n`` threads (threadpoolctl) inside the block."""
    global _controller
    if _controller is None:  # scanning the loaded libraries is slow: do it once
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    with _controller.limit(limits=n, user_api="blas"):
        yield
