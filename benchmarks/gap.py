"""Where does the time go that tinygrad_mb spends beyond the hand-written NumPy step?

    python -m benchmarks.gap            # about a minute
    python -m benchmarks.gap --quick    # a few seconds, rough

Each measurement interleaved and repeated, on one BLAS thread (medians, [min-max]):

1. **The step, taken apart.** Four steps that compute the same update: the
   hand-written one (:mod:`benchmarks.numpy_mlp`); tinygrad_mb's own NumPy calls
   with the engine taken away (:mod:`benchmarks.engine_calls`); the same calls
   inside the least engine a user's training loop needs, with no checks at all
   (:mod:`benchmarks.bare_engine`); and tinygrad_mb. The first difference is
   what the API's promises cost (true gradients in ``.grad``, so SGD applies
   the learning rate itself; fresh result arrays; checked labels). The other
   two are the engine's bookkeeping: what any engine of this shape pays
   (Tensor objects, the graph, backward's walk over it, the module and
   optimizer loops), then what tinygrad_mb's checks and conveniences add.
   Timed on a 4-4-3 MLP at batch 1, where the arithmetic costs next to
   nothing, and on the benchmark's 784-128-10 MLP at batch sizes 1 and 32.
2. **The step in three parts**: the clock read after the forward pass (the
   loss, with its graph), after backward (gradients) and after the SGD update,
   for tinygrad_mb's calls without the engine, the bare engine and
   tinygrad_mb, at the full size: where the engine's bookkeeping goes.
3. **The SGD update** of the 128x784 weight. ``p -= lr * g`` sweeps memory
   twice (the temporary ``lr * g``, then the subtraction). The hand-written
   step folds ``lr`` into its output gradient, so its weight gradients come out
   already scaled and one subtraction does. NumPy has no one-pass ``a*x + y``;
   tinygrad_mb's SGD calls BLAS ``axpy`` for it
   (:func:`tinygrad_mb.optim.update.add_scaled_`), timed here too, also with
   every BLAS thread, since OpenBLAS shares a long axpy between threads when
   it may.
4. **The tiny step right after a full-size one.** Each implementation's step
   of the tiny MLP, timed alone and right after a batch-32 hand-written step
   of the full MLP (the clock read around the tiny step only). The matrix
   products leave the caches full of their own data, so whatever runs next
   starts cold: this shows how much dearer that makes the engine's calls and
   bookkeeping than the same work timed alone, one reason why the engine adds
   more at batch 32 than on the tiny MLP.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: import `benchmarks` from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from benchmarks import report as results  # noqa: E402
from benchmarks import tinygrad_mlp  # noqa: E402
from benchmarks.bare_engine import BareEngineMLP  # noqa: E402
from benchmarks.engine_calls import EngineCallsMLP  # noqa: E402
from benchmarks.numpy_mlp import NumpyMLP  # noqa: E402
from benchmarks.problem import LR, N_HIDDEN, N_IN, N_OUT, initial_weights  # noqa: E402
from benchmarks.throughput import NUMPY, TINYGRAD  # noqa: E402
from benchmarks.timing import Case, Summary, blas_threads, run_interleaved, time_statements  # noqa: E402

TINY = (4, 4, 3)  # in, hidden, out: arithmetic is negligible, calls are all that is left
FULL = (N_IN, N_HIDDEN, N_OUT)  # the benchmark's MLP
FULL_BATCHES = (1, 32)
ENGINE_CALLS = "tinygrad_mb's NumPy calls, no engine"  # benchmarks.engine_calls
BARE_ENGINE = "the same calls in a bare engine, no checks"  # benchmarks.bare_engine
ADD_SCALED = "add_scaled_(p, -lr, g)"  # tinygrad_mb's SGD update, tinygrad_mb.optim.update
ALL_THREADS = "all BLAS threads"  # label of the update timed without a thread limit
PHASES = ("forward", "backward", "update")  # the parts of a step: loss with its graph; gradients; SGD step
SETTINGS = ("alone", "after")  # after_full_step: the tiny step on its own, or right after a full-size step


def training_steps(sizes: tuple[int, int, int], batch: int) -> dict[str, Callable[[], object]]:
    """One training step of an in-hidden-out MLP on a fixed batch, per implementation (same weights and data).

    The hand-written step; where tinygrad_mb imports, also its NumPy calls
    without the engine (:mod:`benchmarks.engine_calls`) and tinygrad_mb itself.
    """
    weights = initial_weights(sizes=sizes)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], size=batch)
    builders = {NUMPY: NumpyMLP}
    if tinygrad_mlp.unavailable() is None:
        builders[ENGINE_CALLS] = EngineCallsMLP
        builders[BARE_ENGINE] = BareEngineMLP
        builders[TINYGRAD] = tinygrad_mlp.TinygradMLP
    steps = {}
    for name, build in builders.items():
        model = build(weights)
        steps[name] = partial(model.step, *model.prepare(x, y))
    return steps


def step_times(sizes: tuple[int, int, int], batch: int, repeats: int, target_s: float) -> dict[str, Summary]:
    """Seconds per training step of each implementation, interleaved, 1 BLAS thread."""
    cases = [Case(name, step, partial(blas_threads, 1)) for name, step in training_steps(sizes, batch).items()]
    run_interleaved(cases, repeats, target_s)
    return {c.label: Summary.of(c.seconds_per_step) for c in cases}


def bookkeeping(repeats: int, target_s: float) -> dict[str, Summary]:
    """Seconds per training step of the tiny MLP at batch 1 (see :func:`step_times`)."""
    return step_times(TINY, 1, repeats, target_s)


def phase_times(sizes: tuple[int, int, int], batch: int, repeats: int, steps: int) -> dict[str, dict[str, Summary]]:
    """Seconds per phase of a step, ``{implementation: {phase: Summary}}``, for the three engine steps.

    The engine's calls, the bare engine and tinygrad_mb each run the step as
    ``forward``, ``backward`` and ``update``, with the clock read between the
    parts; ``repeats`` rounds of ``steps`` steps each, the three in a fresh
    order every round, on one BLAS thread.
    """
    if tinygrad_mlp.unavailable() is not None:
        return {}
    weights = initial_weights(sizes=sizes)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], size=batch)
    models = {ENGINE_CALLS: EngineCallsMLP(weights), BARE_ENGINE: BareEngineMLP(weights),
              TINYGRAD: tinygrad_mlp.TinygradMLP(weights)}
    batches = {name: model.prepare(x, y) for name, model in models.items()}
    per_round: dict[str, list[list[float]]] = {name: [] for name in models}
    clock, order = time.perf_counter, list(models)
    with blas_threads(1):
        for round_ in range(repeats + 1):  # round 0 warms up
            random.Random(round_).shuffle(order)
            for name in order:
                model, (xb, yb), spent = models[name], batches[name], [0.0, 0.0, 0.0]
                for _ in range(steps):
                    t0 = clock()
                    out = model.forward(xb, yb)
                    t1 = clock()
                    grads = model.backward(out)
                    t2 = clock()
                    model.update(grads)
                    t3 = clock()
                    spent[0] += t1 - t0
                    spent[1] += t2 - t1
                    spent[2] += t3 - t2
                if round_:
                    per_round[name].append([t / steps for t in spent])
    return {name: {phase: Summary.of([r[k] for r in rounds]) for k, phase in enumerate(PHASES)}
            for name, rounds in per_round.items()}


def sgd_update(repeats: int, target_s: float) -> dict[str, Summary]:
    """Seconds per update of a first-layer weight: two passes (lr * g, then subtract), one, and tinygrad_mb's.

    All on one BLAS thread, the setting of the small-batch comparison (NumPy's
    own loops use one thread anyway). OpenBLAS splits an axpy this long
    between threads when it may, so tinygrad_mb's update is also timed with
    every BLAS thread the machine offers: that row is what a 2-thread step pays.
    """
    rng = np.random.default_rng(0)
    shape = (N_HIDDEN, N_IN)  # nn.Linear's weight, stored column-major like tinygrad_mb's
    ns = {"p": np.asfortranarray(rng.standard_normal(shape, dtype=np.float32)),
          "g": np.asfortranarray(rng.standard_normal(shape, dtype=np.float32)), "lr": LR, "np": np}
    # np.subtract(..., out=p) is ``p -= ...`` (timeit cannot assign to a name from its namespace)
    statements = {"p -= lr * g": ("np.subtract(p, lr * g, out=p)", ns),
                  "p -= g": ("np.subtract(p, g, out=p)", ns)}
    threaded = {}
    if tinygrad_mlp.unavailable() is None:  # what tinygrad_mb's SGD does: one sweep with BLAS axpy
        from tinygrad_mb.optim.update import add_scaled_

        statements[ADD_SCALED] = ("add_scaled_(p, -lr, g)", {**ns, "add_scaled_": add_scaled_})
        threaded = {f"{ADD_SCALED} [{ALL_THREADS}]": statements[ADD_SCALED]}
    with blas_threads(1):
        timings = time_statements(statements, repeats, target_s)
    if threaded:
        timings.update(time_statements(threaded, repeats, target_s))
    return {label: Summary.of(values) for label, values in timings.items()}


def after_full_step(repeats: int, steps: int, batch: int = 32) -> dict[str, dict[str, Summary]]:
    """The tiny MLP's step alone and right after a full-size hand-written step, per implementation.

    Returns ``{implementation: {"alone": Summary, "after": Summary}}`` in
    seconds. The clock is read around the tiny step only, in both settings:
    "alone" runs the tiny steps back to back, "after" runs a batch-``batch``
    hand-written step of the full MLP before each of them. ``repeats`` rounds
    of ``steps`` steps each, the settings and implementations in a fresh order
    every round, on one BLAS thread.
    """
    weights = initial_weights()
    x = np.random.default_rng(0).standard_normal((batch, N_IN), dtype=np.float32)
    hand = NumpyMLP(weights)
    full_step = partial(hand.step, *hand.prepare(x, np.arange(batch) % N_OUT))
    tiny_steps = training_steps(TINY, 1)
    runs = [(name, setting) for name in tiny_steps for setting in SETTINGS]
    spent: dict[tuple[str, str], list[float]] = {run: [] for run in runs}
    clock = time.perf_counter
    with blas_threads(1):
        for round_ in range(repeats + 1):  # round 0 warms up
            random.Random(round_).shuffle(runs)
            for name, setting in runs:
                tiny_step, total = tiny_steps[name], 0.0
                for _ in range(steps):
                    if setting == "after":
                        full_step()
                    t0 = clock()
                    tiny_step()
                    total += clock() - t0
                if round_:
                    spent[name, setting].append(total / steps)
    return {name: {setting: Summary.of(spent[name, setting]) for setting in SETTINGS}
            for name in tiny_steps}


def _us(s: Summary) -> str:
    return results._cell(s.scaled(lambda seconds: seconds * 1e6))


def step_rows(times: dict[str, Summary], sizes: tuple[int, int, int], batch: int) -> list[list[str]]:
    """Table rows for one :func:`step_times` result, with the differences that take the gap apart."""
    model = f"{'-'.join(map(str, sizes))} MLP, batch {batch}"
    rows = [[f"training step, {model}: {label}", _us(s)] for label, s in times.items()]
    if {TINYGRAD, ENGINE_CALLS, BARE_ENGINE} <= set(times):
        med = {label: s.median * 1e6 for label, s in times.items()}
        rows.append([f"→ {model}: the API's promises (lr applied by SGD, fresh arrays, label check)",
                     f"{med[ENGINE_CALLS] - med[NUMPY]:+.1f}"])
        rows.append([f"→ {model}: the least engine (objects, graph, walk, module and optimizer loops)",
                     f"{med[BARE_ENGINE] - med[ENGINE_CALLS]:+.1f}"])
        rows.append([f"→ {model}: {TINYGRAD}'s checks and conveniences", f"{med[TINYGRAD] - med[BARE_ENGINE]:+.1f}"])
        rows.append([f"→ {model}: hand-written / bare engine (the best any engine keeping the API reached)",
                     f"{med[NUMPY] / med[BARE_ENGINE]:.2f}"])
        rows.append([f"→ {model}: hand-written / {TINYGRAD}", f"{med[NUMPY] / med[TINYGRAD]:.2f}"])
    return rows


def phase_rows(phases: dict[str, dict[str, Summary]], batch: int) -> list[list[str]]:
    """Table rows for one :func:`phase_times` result: each phase of each step, and what the engine adds to it."""
    model = f"{'-'.join(map(str, FULL))} MLP, batch {batch}"
    rows = [[f"{phase}, {model}: {name}", _us(s)] for name, parts in phases.items() for phase, s in parts.items()]
    if len(phases) == 3:
        for phase in PHASES:
            least = (phases[BARE_ENGINE][phase].median - phases[ENGINE_CALLS][phase].median) * 1e6
            added = (phases[TINYGRAD][phase].median - phases[BARE_ENGINE][phase].median) * 1e6
            rows.append([f"→ {phase}, {model}: the least engine", f"{least:+.1f}"])
            rows.append([f"→ {phase}, {model}: {TINYGRAD}'s checks and conveniences", f"{added:+.1f}"])
    return rows


def after_rows(after: dict[str, dict[str, Summary]]) -> list[list[str]]:
    """Table rows for :func:`after_full_step`: each tiny step alone, after the full step, and the ratio."""
    model = f"{'-'.join(map(str, TINY))} MLP step"
    rows = []
    for name, times in after.items():
        rows.append([f"{model} alone: {name}", _us(times["alone"])])
        rows.append([f"{model} right after a hand-written step of the full MLP: {name}", _us(times["after"])])
        rows.append([f"→ {model}, right after against alone: {name}",
                     f"×{times['after'].median / times['alone'].median:.2f}"])
    return rows


def report(book: dict[str, Summary], sgd: dict[str, Summary],
           full: dict[int, dict[str, Summary]] | None = None,
           phases: dict[int, dict[str, dict[str, Summary]]] | None = None,
           after: dict[str, dict[str, Summary]] | None = None) -> str:
    """The measurements as a Markdown table (µs, median [min–max]).

    ``full`` maps a batch size to step times, ``phases`` to the times of the parts of a step;
    ``after`` is :func:`after_full_step`'s result.
    """
    rows = step_rows(book, TINY, 1)
    for batch, times in (full or {}).items():
        rows += step_rows(times, FULL, batch)
    for batch, parts in (phases or {}).items():
        rows += phase_rows(parts, batch)
    rows += after_rows(after or {})
    for label, s in sgd.items():
        code, _, threads = label.partition(" [")  # "stmt [all BLAS threads]" or just "stmt"
        threads = threads.rstrip("]") or "1 BLAS thread"
        rows.append([f"update of a {N_HIDDEN}×{N_IN} float32 weight, {threads}: `{code}`", _us(s)])
    return "\n".join(results._table(["measurement", "µs, median [min–max]"], rows))


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description="Where tinygrad_mb's training step loses time to hand-written NumPy.")
    p.add_argument("--quick", action="store_true", help="few repeats, short timings (rough numbers)")
    args = p.parse_args(argv)
    repeats, target_s = (3, 0.02) if args.quick else (15, 0.15)
    book = bookkeeping(repeats, target_s)
    full = {batch: step_times(FULL, batch, repeats, target_s) for batch in FULL_BATCHES}
    phases = {batch: phase_times(FULL, batch, repeats, 10 if args.quick else 200) for batch in FULL_BATCHES}
    after = after_full_step(repeats, 10 if args.quick else 200)
    table = report(book, sgd_update(repeats, target_s), full, phases, after)
    print(table)
    return table


if __name__ == "__main__":
    main()
