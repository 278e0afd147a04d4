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

from tinygrad_mb.exercises._common import as_array, checker, fail, passed, run

WORK = 0.004  # seconds of simulated device work per step
FIRST = 0.06  # the first call is slow (think: compiling kernels, allocating memory)
OUTLIER = 0.12  # one timed call is slow (think: another process took the GPU)


class _FakeDevice:
    """Queues WORK seconds per ``step()`` and returns at once; ``sync()`` sleeps until the queue is done."""

    def __init__(self, outlier_call: int) -> None:
        self.calls = 0
        self.busy_until = time.perf_counter()
        self.outlier_call = outlier_call
        self.log: list[str] = []

    def step(self) -> None:
        duration = FIRST if self.calls == 0 else OUTLIER if self.calls == self.outlier_call else WORK
        self.calls += 1
        self.busy_until = max(self.busy_until, time.perf_counter()) + duration
        self.log.append("step")

    def sync(self) -> None:
        remaining = self.busy_until - time.perf_counter()
        if remaining > 0:
            time.sleep(remaining)
        self.log.append("sync")


@checker
def check_timer(fn: Callable[..., Any]) -> None:
    """Check ``fn(step, sync, repeats=5, warmup=1)``: median seconds of one ``step()``.

    It must call ``step`` exactly ``warmup + repeats`` times (the warm-up calls
    untimed), call ``sync()`` before reading the clock after each timed call (GPU
    work is asynchronous: ``step()`` only queues it), and return the median of
    the timed calls (robust to one slow outlier).
    """
    for warmup, repeats in ((2, 5), (1, 7)):
        device = _FakeDevice(outlier_call=warmup + 2)
        got = run(fn, device.step, device.sync, repeats=repeats, warmup=warmup, what="your time_it")
        got = float(as_array(got, "your time_it"))
        where = f"time_it(step, sync, repeats={repeats}, warmup={warmup})"
        if device.calls != warmup + repeats:
            fail(f"{where} called step() {device.calls} times; expected warmup + repeats = {warmup + repeats}")
        if "sync" not in device.log or device.log[-1] != "sync":
            fail(f"{where} did not call sync() after the last step",
                 "on a GPU, step() only queues the work: call sync() before stopping the clock")
        if got < 0.5 * WORK:
            fail(f"{where} measured {got * 1e3:.2f} ms, but every step does {WORK * 1e3:.0f} ms of (simulated) "
                 "device work", "the clock stopped before the work finished: call sync() after each step, "
                 "before reading the clock")
        if got > 2.5 * WORK + 0.004:  # generous: sleeping is not exact on a busy machine
            hint = "take the median of the timed calls: it ignores one slow outlier, the mean does not"
            if got > 0.8 * FIRST:
                hint = "leave the warm-up calls out of the timing: the first call is always slow"
            fail(f"{where} returned {got * 1e3:.1f} ms; a typical step takes {WORK * 1e3:.0f} ms "
                 f"(one timed call takes {OUTLIER * 1e3:.0f} ms and the first call {FIRST * 1e3:.0f} ms)", hint)
    passed("time_it: warm-up excluded, synchronised before every reading, median of the timed calls")


def _crossover(batch_sizes: Sequence[int], cpu: Sequence[float], gpu: Sequence[float]) -> int | None:
    answer = None
    for b, c, g in zip(reversed(batch_sizes), reversed(cpu), reversed(gpu)):
        if g < c:
            answer = b
        else:
            break
    return answer


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
        got = run(fn, list(sizes), list(cpu), list(gpu), what="your crossover")
        want = _crossover(sizes, cpu, gpu)
        if got != want or (got is not None and isinstance(got, bool)):
            hint = None
            first = next((b for b, c, g in zip(sizes, cpu, gpu) if g < c), None)
            if got == first and want != first:
                hint = "the GPU must stay faster for every larger batch size too: scan from the largest down"
            elif want is None:
                hint = "when the GPU is not faster at the largest batch size, return None"
            fail(f"batch sizes {sizes}, CPU {cpu}, GPU {gpu}: expected {want}, got {got!r}", hint)
    passed(f"crossover right in all {len(cases)} cases (always, never, ties and a GPU that wins early by luck)")

