"""Checkers for notebook 07, the GPU with CuPy.

* :func:`check_timer` -- time a step on an asynchronous device: warm up, synchronise, take the median
* :func:`check_crossover` -- the batch size from which the GPU is faster than the CPU

Both run without a GPU: the timer is checked on a simulated device whose work,
like a GPU's, runs in the background until ``sync()`` waits for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_mb.exercises._common import as_number, checker, fail, passed, run

WORK = 0.004  # seconds of simulated device work per step
WARMUP_WORK = 0.06  # every warm-up call is slow (think: compiling kernels, allocating memory)
OUTLIER = 0.12  # one timed call is slow (think: another process took the GPU)


class _FakeDevice:
    """Queues work on ``step()`` and returns at once; ``sync()`` sleeps until the queue is done.

    The first ``warmup`` calls queue WARMUP_WORK seconds, call ``outlier_call`` OUTLIER, every other WORK.
    """

    def __init__(self, warmup: int, outlier_call: int) -> None:
        self.calls = 0
        self.busy_until = time.perf_counter()
        self.warmup = warmup
        self.outlier_call = outlier_call
        self.log: list[str] = []

    def step(self) -> None:
        duration = WARMUP_WORK if self.calls < self.warmup else OUTLIER if self.calls == self.outlier_call else WORK
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


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


@checker
def check_timer(fn: Callable[..., Any]) -> None:
    """Check ``fn(step, sync, repeats=5, warmup=1)``: median seconds of one ``step()``.

    It must call ``step`` exactly ``warmup + repeats`` times (the warm-up calls
    untimed), call ``sync()`` before every clock reading -- after the warm-up
    calls and after each timed call (GPU work is asynchronous: ``step()`` only
    queues it) -- and return the median of the timed calls in seconds (robust to
    one slow outlier). On the simulated device every warm-up call is slow, and
    with 4 of them next to 5 timed calls, timing them too moves the median.
    """
    for warmup, repeats in ((4, 5), (1, 7)):
        device = _FakeDevice(warmup, outlier_call=warmup + 2)
        got = run(fn, device.step, device.sync, repeats=repeats, warmup=warmup, what="your time_it")
        where = f"time_it(step, sync, repeats={repeats}, warmup={warmup})"
        if device.calls != warmup + repeats:
            fail(f"{where} called step() {device.calls} times; expected warmup + repeats = {warmup + repeats}")
        if "sync" not in device.log or device.log[-1] != "sync":
            fail(f"{where} did not call sync() after the last step",
                 "on a GPU, step() only queues the work: call sync() before stopping the clock")
        got = as_number(got, "your time_it", "return one number, the median of the timed calls (statistics.median "
                        "or np.median of your list of times)")
        timed = [WORK] * repeats
        timed[2] = OUTLIER
        mistakes = [  # what typical wrong timers return on this device, and what to say about them
            (1000 * WORK, "return seconds, not milliseconds: time.perf_counter() counts seconds"),
            (sum(timed) / repeats,
             "take the median of the timed calls: it ignores one slow outlier, the mean does not"),
            (_median([WARMUP_WORK] * warmup + timed),
             "leave the warm-up calls out of the timing: they are slow on purpose"),
        ]
        if got < 0.5 * WORK:
            fail(f"{where} measured {got * 1e3:.2f} ms, but every step does {WORK * 1e3:.0f} ms of (simulated) "
                 "device work", "the clock stopped before the work finished: call sync() after each step, "
                 "before reading the clock")
        if got > 2.5 * WORK + 0.004:  # generous: sleeping is not exact on a busy machine
            hint = next((text for value, text in mistakes if 0.8 * value <= got <= 1.25 * value + 0.004), None)
            fail(f"{where} returned {got:.4g} (seconds); a typical step takes {WORK:g} s = {WORK * 1e3:.0f} ms "
                 f"(one timed call takes {OUTLIER * 1e3:.0f} ms and each warm-up call {WARMUP_WORK * 1e3:.0f} ms)",
                 hint)
        # The median hides one timing inflated by queued warm-up work, but the task asks for a sync() before
        # every clock reading: without it, a slow warm-up spills into the first timed call.
        if not device.synced_after_warmup():
            fail(f"{where} did not call sync() between the warm-up calls and the first timed call",
                 "the warm-up work is still queued when the clock starts, so the first timing includes it: "
                 "call sync() after the warm-up loop")
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
