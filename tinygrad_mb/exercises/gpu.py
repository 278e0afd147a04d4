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
#: The second run's numbers keep that shifted median (40 ms) well apart from the mean (52 ms): sleeping
#: overshoots by a few ms on a busy machine, and the hint goes to the wrong timer nearest to what came back.
RUNS = ((4, (0.002, 0.006, 0.015, 0.04, 0.2)), (1, (0.2, 0.1, 0.04, 0.015, 0.006, 0.002, 0.002)))


class _FakeDevice:
    """Queues work on ``step()`` and returns at once; ``sync()`` sleeps until the queue is done.

    The first ``warmup`` calls queue WARMUP_WORK seconds each, the timed calls ``timed`` in turn.
    """

    def __init__(self, warmup: int, timed: Sequence[float]) -> None:
        self.calls = 0
        self.busy_until = time.perf_counter()
        self.warmup = warmup
        self.work = [WARMUP_WORK] * warmup + list(timed)
        self.log: list[str] = []

    def step(self) -> None:
        duration = self.work[self.calls] if self.calls < len(self.work) else self.work[-1]
        self.calls += 1
        self.busy_until = max(self.busy_until, time.perf_counter()) + duration
        self.log.append("step")

    def sync(self) -> None:
        remaining = self.busy_until - time.perf_counter()
        if remaining > 0:
            time.sleep(remaining)
        self.log.append("sync")

    def synced_after_warmup(self) -> bool:
        """Was there a sync() between the last warm-up step and the first timed one?"""
        steps = [i for i, event in enumerate(self.log) if event == "step"]
        return "sync" in self.log[steps[self.warmup - 1]:steps[self.warmup]]


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _ms(values: Sequence[float]) -> str:
    return ", ".join(f"{v * 1e3:g}" for v in values) + " ms"


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
        want = _median(timed)
        work = (f"the timed calls do {_ms(timed)} of (simulated) device work, median {want * 1e3:g} ms; "
                f"each warm-up call {WARMUP_WORK * 1e3:g} ms")
        sync_hint = ("the clock stopped before the step's own work finished: call sync() after each step, before "
                     "reading the clock (a sync() before step() waits for the previous step's work instead)")
        if got < 0.75 * want:  # a right timer never measures less than the work: sync() sleeps until it is done
            # the minimum, or the median of the shifted list sync(); step() gives: hint at the nearer one
            minimum = 0.9 * min(timed) <= got < (min(timed) + _median([0.0, *timed[:-1]])) / 2
            fail(f"{where} measured {got * 1e3:.2f} ms; {work}",
                 "take the median of the timed calls, as asked, not the minimum" if minimum else sync_hint)
        if got > 2 * want + 0.002:  # generous: sleeping is not exact on a busy machine
            mistakes = [  # what typical wrong timers return on this device, and what to say about them
                (1000 * want, "return seconds, not milliseconds: time.perf_counter() counts seconds"),
                (1e9 * want, "return seconds, not nanoseconds: divide time.perf_counter_ns() by 1e9"),
                (_median([warmup * WARMUP_WORK, *timed[:-1]]), sync_hint),
                (sum(timed) / repeats,
                 "take the median of the timed calls: it ignores one slow outlier, the mean does not"),
                (_median([WARMUP_WORK] * warmup + list(timed)),
                 "leave the warm-up calls out of the timing: they are slow on purpose"),
            ]
            near = [(abs(math.log(got / value)), text) for value, text in mistakes
                    if 0.8 * value <= got <= 1.25 * value + 0.004]
            hint = min(near)[1] if near else None  # the mistake whose number is nearest to what came back
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
            fail(f"{where}: expected {want}, got {got!r}", hint)
    passed(f"crossover right in all {len(cases)} cases (always, never, ties and a GPU that wins early by luck)")
