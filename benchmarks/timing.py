"""Fair timing: calibrated, interleaved, repeated.

Machine noise (another process, a frequency change, the OS) comes in bursts.
If implementation A were timed 15 times and then B 15 times, a burst would
hit one of them only. So every *round* times each implementation once, in
turn (round-robin, with the starting point rotated every round), and the
report gives the median over rounds with the min-max range next to it.

One timing runs a calibrated number of steps, so that it lasts about
``target_s`` seconds: long enough for the clock to be precise, short enough
to fit many rounds.
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

    CPU time counts only this process's work, so on a busy machine it is the
    steadier figure for single-threaded runs; the report uses wall time.
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


def run_interleaved(cases: list[Case], repeats: int, target_s: float, settle_s: float = 0.0, seed: int = 0) -> None:
    """Calibrate every case, then time them ``repeats`` times, round by round.

    Every round times each case once, in a fresh random order (so no case always
    follows the same neighbour), after a pause of ``settle_s``: BLAS and OpenMP
    worker threads keep spinning for a while after their last job (OpenBLAS up
    to ~0.1 s), and a spinning pool left behind by a 2-thread case would
    otherwise steal a CPU from whichever case runs next.

    Fills ``case.seconds_per_step``; a case whose step raises gets ``case.error``
    and is dropped from later rounds, so one broken implementation cannot stop
    the others from being measured.
    """
    for case in cases:
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
            time.sleep(settle_s)
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
