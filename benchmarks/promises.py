"""What each of the API's promises costs: tinygrad_mb's NumPy calls with one promise dropped at a time.

    python -m benchmarks.promises            # about 40 seconds
    python -m benchmarks.promises --quick    # a few seconds, rough

:mod:`benchmarks.gap` splits the gap between tinygrad_mb and the hand-written
step in two: what the API promises, and the engine's bookkeeping. This tool
takes the first part apart. It times, interleaved and repeated on one BLAS
thread, the hand-written step, tinygrad_mb's NumPy calls without the engine
(:class:`benchmarks.engine_calls.EngineCallsMLP`, every promise kept), and the
same calls with one promise dropped, then with all of them dropped:

- **learning rate**: ``p.grad`` holds the true gradient, so SGD applies the
  learning rate itself (``p -= lr * g``, BLAS axpy for the big weight).
  Without it, lr is folded into dL/dz as the hand-written step does, and the
  update is ``p -= g``.
- **label check**: the labels are checked before the loss picks ``z[i, y_i]``.
- **fresh weight gradients**: each step's weight gradient is a new array (it
  becomes ``p.grad``, which the caller may keep). Without it, it is written
  into an array kept from step to step.
- **fresh backward arrays**: the softmax and ReLU gradients are new arrays.
  Without it they are computed in place, in arrays that only backward holds
  (what an engine could do if it tracked who owns each gradient).

Every variant computes the same update (a test checks it), so the time a
variant saves is the price of the promise it drops. What stays between "all
dropped" and the hand-written step is the rest: the forward pass's fresh
arrays and the calls that differ in small ways. The prices are a few
microseconds each, well inside the swings of wall-clock time on a shared
machine, so this table gives **CPU time** per step: everything runs on one
thread, and CPU time does not count the moments when other programs had the
CPU (on a busy host the wall-clock medians of the same run disagreed by tens
of µs, the CPU-time ones by a few).

A second table looks inside the biggest price, the learning rate's: the
first-layer weight's update timed on its own inside the step (the clock read
around that one call, short enough for wall time), as ``p -= g``, as the bare
BLAS ``saxpy`` call, and as :func:`tinygrad_mb.optim.update.add_scaled_`,
which checks its arguments and reads the arrays' addresses before making that
call. All three with lr folded into dL/dz, so all three compute the same
update.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: import `benchmarks` from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from benchmarks import report as results  # noqa: E402
from benchmarks.engine_calls import PROMISES, EngineCallsMLP  # noqa: E402
from benchmarks.numpy_mlp import NumpyMLP  # noqa: E402
from benchmarks.problem import N_HIDDEN, N_IN, initial_weights, random_batch  # noqa: E402
from benchmarks.throughput import NUMPY  # noqa: E402
from benchmarks.timing import Case, Summary, blas_threads, run_interleaved  # noqa: E402

BATCHES = (1, 32)
ALL_KEPT = "tinygrad_mb's NumPy calls, every promise kept"
ALL_DROPPED = "every promise dropped"


def without(promise: str) -> str:
    """The label of the step that drops ``promise``."""
    return f"without {promise}"


def variants() -> dict[str, tuple[str, ...]]:
    """The promises each timed variant of the engine's calls drops, by label."""
    return {ALL_KEPT: (), **{without(p): (p,) for p in PROMISES}, ALL_DROPPED: tuple(PROMISES)}


def step_times(batch: int, repeats: int, target_s: float) -> dict[str, Summary]:
    """CPU seconds per step of the hand-written step and of every variant, interleaved, 1 BLAS thread."""
    weights, (x, y) = initial_weights(), random_batch(batch)
    models = {NUMPY: NumpyMLP(weights)}
    models.update({label: EngineCallsMLP(weights, without=dropped) for label, dropped in variants().items()})
    cases = [Case(label, partial(m.step, *m.prepare(x, y)), partial(blas_threads, 1)) for label, m in models.items()]
    run_interleaved(cases, repeats, target_s)
    return {c.label: Summary.of(c.cpu_seconds_per_step) for c in cases}


UPDATES = ("p -= g", "bare saxpy", "add_scaled_(p, -1.0, g)")  # how update_in_step updates the weight


class _TimedUpdate(EngineCallsMLP):
    """The engine's calls with lr folded into dL/dz; the first-layer weight's update timed alone, one of UPDATES."""

    def __init__(self, weights: dict[str, np.ndarray], how: str):
        from tinygrad_mb.optim import update

        super().__init__(weights, without=["learning rate"])
        self.how, self.spent, self.update_module = how, [], update
        scratch = np.zeros(update.MIN_SIZE, dtype=self.W1.dtype)
        update.add_scaled_(scratch, 1.0, scratch.copy())  # looks the BLAS routine up, once

    def update(self, grads: tuple[np.ndarray, ...]) -> None:
        weight, grad, module = self.W1, grads[0], self.update_module
        if self.how == UPDATES[0]:
            start = time.perf_counter()
            weight -= grad
        elif self.how == UPDATES[1]:  # the call add_scaled_ makes, with the addresses read before the clock starts
            routine = module._axpy[weight.dtype]
            source, target = module._address(grad, grad.flags), module._address(weight, weight.flags)
            start = time.perf_counter()
            routine(weight.size, -1.0, source, 1, target, 1)
        else:
            start = time.perf_counter()
            module.add_scaled_(weight, -1.0, grad)
        self.spent.append(time.perf_counter() - start)
        for p, g in zip((self.b1, self.W2, self.b2), grads[1:]):
            p -= g


def update_in_step(batch: int, repeats: int, steps: int) -> dict[str, Summary]:
    """Seconds of the first-layer weight's update inside the step, per way of doing it (see UPDATES).

    ``repeats`` rounds of ``steps`` steps, the three in a fresh order every
    round, on one BLAS thread; the median over a round's steps, then the
    median and range over the rounds.
    """
    weights, (x, y) = initial_weights(), random_batch(batch)
    models = {how: _TimedUpdate(weights, how) for how in UPDATES}
    if not models[UPDATES[1]].update_module._axpy:  # this NumPy's BLAS has no axpy we can call
        del models[UPDATES[1]]
    per_round: dict[str, list[float]] = {how: [] for how in models}
    order = list(models)
    with blas_threads(1):
        for round_ in range(repeats + 1):  # round 0 warms up
            random.Random(round_).shuffle(order)
            for how in order:
                model = models[how]
                model.spent.clear()
                for _ in range(steps):
                    model.step(x, y)
                if round_:
                    per_round[how].append(float(np.median(model.spent)))
    return {how: Summary.of(values) for how, values in per_round.items()}


def rows(times: dict[str, Summary], batch: int) -> list[list[str]]:
    """Table rows: each step's time, then what each promise costs (all kept − it dropped)."""
    med = {label: s.median * 1e6 for label, s in times.items()}
    out = [[f"batch {batch}: {label}", results._cell(s.scaled(lambda t: t * 1e6))] for label, s in times.items()]
    for promise in PROMISES:
        out.append([f"→ batch {batch}: cost of {promise}", f"{med[ALL_KEPT] - med[without(promise)]:+.1f}"])
    out.append([f"→ batch {batch}: all promises together", f"{med[ALL_KEPT] - med[ALL_DROPPED]:+.1f}"])
    out.append([f"→ batch {batch}: what is left, every promise dropped − hand-written",
                f"{med[ALL_DROPPED] - med[NUMPY]:+.1f}"])
    return out


def report(by_batch: dict[int, dict[str, Summary]], updates: dict[int, dict[str, Summary]] | None = None) -> str:
    """The measurements as Markdown tables (µs, median [min–max]): the steps, then the updates inside them."""
    table = [row for batch, times in by_batch.items() for row in rows(times, batch)]
    lines = results._table(["measurement", "CPU µs per step, median [min–max]"], table)
    if updates:
        inside = [[f"batch {batch}: `{how}`", results._cell(s.scaled(lambda t: t * 1e6))]
                  for batch, times in updates.items() for how, s in times.items()]
        header = [f"update of the {N_HIDDEN}×{N_IN} weight inside the step", "µs, median [min–max]"]
        lines += ["", *results._table(header, inside)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description="What each of the API's promises costs in tinygrad_mb's training step.")
    p.add_argument("--quick", action="store_true", help="few repeats, short timings (rough numbers)")
    args = p.parse_args(argv)
    repeats, target_s = (3, 0.02) if args.quick else (41, 0.05)  # many short timings: a steadier median
    steps = {batch: step_times(batch, repeats, target_s) for batch in BATCHES}
    updates = {batch: update_in_step(batch, 7 if args.quick else 21, 20 if args.quick else 200) for batch in BATCHES}
    table = report(steps, updates)
    print(table)
    return table


if __name__ == "__main__":
    main()
