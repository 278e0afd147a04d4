"""Checkers for notebook 07, the GPU with CuPy.

* :func:`check_timer` -- time a step on an asynchronous device: warm up, synchronise, take the median
* :func:`check_crossover` -- the batch size from which the GPU is faster than the CPU

Both run without a GPU: the timer is checked on a simulated device whose work,
like a GPU's, runs in the background until ``sync()`` waits for it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_mb.exercises._common import as_number, checker, fail, passed, run

WARMUP_WORK = 0.06  # every warm-up call is slow (think: compiling kernels, allocating memory)
#: (warmup, device seconds of each timed call) of the two runs. The timed calls differ, with one slow outlier
#: (think: another process took the GPU), so that the median (15 ms in both runs) is told apart from the mean,
#: the minimum, and a timer that times the *previous* step: sync() before step() inside the timing returns
#: the median of a shifted list -- lower in the first run (rising work), higher in the second (falling work).
RUNS = ((4, (0.002, 0.006, 0.015, 0.04, 0.2)), (1, (0.2, 0.1, 0.04, 0.015, 0.006, 0.002, 0.002)))


class _FakeDevice:
    """Queues work on ``step()`` and returns at once; ``sync()`` sleeps until the queue is done.

    The first ``warmup`` calls queue WARMUP_WORK seconds each, the timed calls ``timed`` in turn.
    Every call is logged with the clock readings at its start and end: sleeping overshoots by
    milliseconds on a busy machine, so the checker judges a timer by what the calls really took.
    """

    def __init__(self, warmup: int, timed: Sequence[float]) -> None:
        self.calls = 0
        self.busy_until = time.perf_counter()
        self.warmup = warmup
        self.work = [WARMUP_WORK] * warmup + list(timed)
        self.log: list[str] = []
        self.clock: list[tuple[float, float]] = []  # (start, end) of each logged call

    def step(self) -> None:
        start = time.perf_counter()
        duration = self.work[self.calls] if self.calls < len(self.work) else self.work[-1]
        self.calls += 1
        self.busy_until = max(self.busy_until, start) + duration
        self.log.append("step")
        self.clock.append((start, time.perf_counter()))

    def sync(self) -> None:
        start = time.perf_counter()
        remaining = self.busy_until - start
        if remaining > 0:
            time.sleep(remaining)
        self.log.append("sync")
        self.clock.append((start, time.perf_counter()))

    def _steps(self) -> list[int]:
        return [i for i, event in enumerate(self.log) if event == "step"]

    def synced_after_warmup(self) -> bool:
        """Was there a sync() between the last warm-up step and the first timed one?"""
        steps = self._steps()
        return "sync" in self.log[steps[self.warmup - 1]:steps[self.warmup]]

    def spans(self) -> list[float | None]:
        """Per step: from its start to the end of the first sync() after it -- what a right timer reads.

        None for a step with no sync() before the next step (or the end): nothing waited for its work alone.
        """
        steps = self._steps()
        spans: list[float | None] = []
        for i, j in zip(steps, [*steps[1:], len(self.log)]):
            syncs = [k for k in range(i + 1, j) if self.log[k] == "sync"]
            spans.append(self.clock[syncs[0]][1] - self.clock[i][0] if syncs else None)
        return spans

    def spans_sync_first(self) -> list[float] | None:
        """Per timed step: from the start of the last sync() before it to its end -- what ``sync(); step()``
        reads (the previous step's work). None if some timed step has no sync() just before it."""
        steps = self._steps()
        spans = []
        for before, i in zip(steps[self.warmup - 1:], steps[self.warmup:]):
            syncs = [k for k in range(before + 1, i) if self.log[k] == "sync"]
            if not syncs:
                return None
            spans.append(self.clock[i][1] - self.clock[syncs[-1]][0])
        return spans


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _ms(values: Sequence[float]) -> str:
    return ", ".join(f"{v * 1e3:g}" for v in values) + " ms"


def _nearest_mistake(got: float, mistakes: list[tuple[float | None, str]]) -> str | None:
    """The hint of the wrong timer whose number is nearest to ``got`` (within about 25%), or None."""
    if not got > 0:
        return None
    near = [(abs(math.log(got / value)), text) for value, text in mistakes
            if value is not None and value > 0 and 0.8 * value - 0.0005 <= got <= 1.25 * value + 0.002]
    return min(near)[1] if near else None


@checker
def check_timer(fn: Callable[..., Any]) -> None:
    """Check ``fn(step, sync, repeats=5, warmup=1)``: median seconds of one ``step()``.

    It must call ``step`` exactly ``warmup + repeats`` times (the warm-up calls
    untimed), call ``sync()`` before every clock reading -- after the warm-up
    calls and after each timed call (GPU work is asynchronous: ``step()`` only
    queues it) -- and return the median of the timed calls in seconds (robust to
    one slow outlier). The timed calls of the simulated device differ, so the
    mean, the minimum, timing the warm-up calls too, or timing ``sync(); step()``
    (which measures the previous step's work) each give a different number.
    The right number is the median of what the calls really took, read from the
    device's own log, so a busy machine that oversleeps does not fail a right timer.
    """
    for warmup, timed in RUNS:
        repeats = len(timed)
        device = _FakeDevice(warmup, timed)
        got = run(fn, device.step, device.sync, repeats=repeats, warmup=warmup, what="your time_it")
        where = f"time_it(step, sync, repeats={repeats}, warmup={warmup})"
        if device.calls != warmup + repeats:
            fail(f"{where} called step() {device.calls} times; expected warmup + repeats = {warmup + repeats}")
        if "sync" not in device.log or device.log[-1] != "sync":
            fail(f"{where} did not call sync() after the last step",
                 "on a GPU, step() only queues the work: call sync() before stopping the clock")
        # Without this sync() the slow warm-up work is still queued when the clock starts for the first call.
        if not device.synced_after_warmup():
            fail(f"{where} did not call sync() between the warm-up calls and the first timed call",
                 "the warm-up work is still queued when the clock starts, so the first timing includes it: "
                 "call sync() after the warm-up loop")
        got = as_number(got, "your time_it", "return one number, the median of the timed calls (statistics.median "
                        "or np.median of your list of times)")
        spans = device.spans()
        spans_timed = spans[warmup:] if None not in spans[warmup:] else None
        spans_all = spans if None not in spans else None  # the warm-up calls timed too
        want = _median(spans_timed) if spans_timed else _median(timed)
        work = (f"the timed calls do {_ms(timed)} of (simulated) device work, median {_median(timed) * 1e3:g} ms; "
                f"each warm-up call {WARMUP_WORK * 1e3:g} ms")
        if spans_timed and abs(want - _median(timed)) > 0.1 * _median(timed):
            work += f" (this busy machine overslept: the median call took {want * 1e3:.1f} ms)"
        if 0.8 * want - 0.0005 <= got <= 1.25 * want + 0.002:
            continue
        sync_hint = ("the clock stopped before the step's own work finished: call sync() after each step, before "
                     "reading the clock (a sync() before step() waits for the previous step's work instead)")
        shifted = device.spans_sync_first()
        mistakes: list[tuple[float | None, str]] = [  # what typical wrong timers return here, and what to say
            (min(spans_timed) if spans_timed else None,
             "take the median of the timed calls, as asked, not the minimum"),
            (_median(shifted) if shifted else None, sync_hint),
            (sum(spans_timed) / repeats if spans_timed else None,
             "take the median of the timed calls: it ignores one slow outlier, the mean does not"),
            (sum(timed) / repeats if not spans_timed else None,  # one clock around the whole loop, / repeats
             "that is the mean, total time / repeats: time each call on its own (sync(), read the clock, step(), "
             "sync(), read it again) and take the median of those times, which ignores one slow outlier"),
            (_median(spans_all) if spans_all else None,
             "leave the warm-up calls out of the timing: they are slow on purpose"),
            (1000 * want, "return seconds, not milliseconds: time.perf_counter() counts seconds"),
            (1e9 * want, "return seconds, not nanoseconds: divide time.perf_counter_ns() by 1e9"),
        ]
        hint = _nearest_mistake(got, mistakes)
        if got < want:  # below the work: a clock read before sync() waited for it, unless it is a known mistake
            fail(f"{where} measured {got * 1e3:.2f} ms; {work}", hint or sync_hint)
        fail(f"{where} returned {got:.4g} (seconds); {work}", hint)
    passed("time_it: warm-up excluded, synchronised before every reading, median of the timed calls")


def _crossover(batch_sizes: Sequence[int], cpu: Sequence[float], gpu: Sequence[float],
               ties_count: bool = False) -> int | None:
    """The answer -- or, with ``ties_count``, the answer of a crossover that counts a tie as faster."""
    answer = None
    for b, c, g in zip(reversed(batch_sizes), reversed(cpu), reversed(gpu)):
        if g < c or (ties_count and g == c):
            answer = b
        else:
            break
    return answer


def _off_by_one(sizes: Sequence[int], cpu: Sequence[float], gpu: Sequence[float], got: int, want: int) -> str | None:
    """The hint for an answer one place away from the right one in ``sizes`` (an index off by one), else None."""
    i, right = list(sizes).index(got), list(sizes).index(want)
    if i == right - 1:
        return (f"one batch size too early: at {got} the GPU is not faster ({gpu[i]:g} s against {cpu[i]:g} s on "
                f"the CPU); return the first size of the run of GPU wins, not the size before it")
    if i == right + 1:
        return (f"one batch size too late: the GPU is already faster at {want}; check the index you return "
                f"(off by one)")
    return None


def _as_batch_size(value: Any, where: str) -> Any:
    """A one-element NumPy array as its number; anything else as it is (a wrong type fails the comparison)."""
    if isinstance(value, np.ndarray):
        if value.size != 1:
            fail(f"{where}: expected one batch size (or None), got an array of shape {value.shape}",
                 "return a single number: the smallest batch size from which on the GPU stays faster")
        return value.reshape(-1)[0].item()
    return value


@checker
def check_crossover(fn: Callable[[Sequence[int], Sequence[float], Sequence[float]], Any]) -> None:
    """Check ``fn(batch_sizes, cpu_seconds, gpu_seconds)``: the smallest batch size from which on the GPU
    is faster (for it and for every larger batch size), or None if it is not faster at the largest.

    ``batch_sizes`` is increasing; the two time lists hold seconds per training step.
    """
    cases = [
        ([1, 4, 16, 64, 256], [1e-4, 2e-4, 6e-4, 2e-3, 8e-3], [5e-4, 5e-4, 5e-4, 6e-4, 9e-4]),  # 16
        ([1, 4, 16], [1.0, 2.0, 3.0], [0.5, 0.6, 0.7]),  # always faster: 1
        ([1, 4, 16], [1.0, 2.0, 3.0], [5.0, 6.0, 7.0]),  # never: None
        ([1, 4, 16, 64, 256], [1.0, 2.0, 3.0, 4.0, 5.0], [3.0, 1.5, 3.5, 3.0, 4.0]),  # faster at 4, not 16: 64
        ([8, 32], [2.0, 3.0], [2.0, 2.0]),  # a tie is not faster: 32
    ]
    for sizes, cpu, gpu in cases:
        where = f"batch sizes {sizes}, CPU {cpu}, GPU {gpu}"
        got = _as_batch_size(run(fn, list(sizes), list(cpu), list(gpu), what="your crossover"), where)
        want = _crossover(sizes, cpu, gpu)
        if isinstance(got, bool) or got != want:
            hint = None
            first = next((b for b, c, g in zip(sizes, cpu, gpu) if g < c), None)
            if got == first and want != first:
                hint = "the GPU must stay faster for every larger batch size too: scan from the largest down"
            elif got == _crossover(sizes, cpu, gpu, ties_count=True):
                hint = "a tie is not faster: the GPU must take strictly less time (<, not <=)"
            elif want is None:
                hint = "when the GPU is not faster at the largest batch size, return None"
            elif not isinstance(got, bool) and got in sizes:
                hint = _off_by_one(sizes, cpu, gpu, got, want)
            fail(f"{where}: expected {want}, got {got!r}", hint)
    passed(f"crossover right in all {len(cases)} cases (always, never, ties and a GPU that wins early by luck)")
