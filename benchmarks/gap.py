"""Where does the time go that tinygrad_mb spends beyond the hand-written NumPy step?

    python -m benchmarks.gap            # about 10 seconds
    python -m benchmarks.gap --quick    # a few seconds, rough

Two measurements that account for most of the gap in the ``mlp`` section of
RESULTS.md, each interleaved and repeated (medians, [min-max]):

1. **Bookkeeping.** The same training step on a 4-4-3 MLP at batch size 1,
   where the arithmetic costs next to nothing, so what is left is the cost of
   calls. The hand-written step pays only NumPy's own per-call cost; tinygrad_mb
   adds Tensor objects, the graph, backward's walk over it, the module and
   optimizer loops, and a few more NumPy calls. It pays this on every step, at
   every batch size.
2. **The SGD update** of the 128x784 weight. ``p -= lr * g`` sweeps memory
   twice (the temporary ``lr * g``, then the subtraction). The hand-written
   step folds ``lr`` into its output gradient, so its weight gradients come out
   already scaled and one subtraction does. NumPy has no one-pass ``a*x + y``;
   tinygrad_mb's SGD calls BLAS ``axpy`` for it
   (:func:`tinygrad_mb.optim.update.add_scaled_`), timed here too: on one
   BLAS thread it is faster than the two passes, yet slower than the single
   ``p -= g``; OpenBLAS shares a long axpy between threads when allowed, which
   hides that on an idle machine.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: import `benchmarks` from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from benchmarks import report as results  # noqa: E402
from benchmarks import tinygrad_mlp  # noqa: E402
from benchmarks.numpy_mlp import NumpyMLP  # noqa: E402
from benchmarks.problem import LR, N_HIDDEN, N_IN, initial_weights  # noqa: E402
from benchmarks.throughput import NUMPY, TINYGRAD  # noqa: E402
from benchmarks.timing import Case, Summary, blas_threads, run_interleaved, time_statements  # noqa: E402

TINY = (4, 4, 3)  # in, hidden, out: arithmetic is negligible, calls are all that is left
ADD_SCALED = "add_scaled_(p, -lr, g)"  # tinygrad_mb's SGD update, tinygrad_mb.optim.update
ALL_THREADS = "all BLAS threads"  # label of the update timed without a thread limit


def tiny_steps() -> dict[str, Callable[[], object]]:
    """One training step of the tiny MLP at batch 1, per implementation (tinygrad_mb where it imports)."""
    return training_steps(TINY, 1)


def training_steps(sizes: tuple[int, int, int], batch: int) -> dict[str, Callable[[], object]]:
    """One training step of an in-hidden-out MLP on a fixed batch, per implementation (same weights and data)."""
    weights = initial_weights(sizes=sizes)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], size=batch)
    builders = {NUMPY: NumpyMLP}
    if tinygrad_mlp.unavailable() is None:
        builders[TINYGRAD] = tinygrad_mlp.TinygradMLP
    steps = {}
    for name, build in builders.items():
        model = build(weights)
        steps[name] = partial(model.step, *model.prepare(x, y))
    return steps


def bookkeeping(repeats: int, target_s: float) -> dict[str, Summary]:
    """Seconds per training step of the tiny MLP, hand-written NumPy and tinygrad_mb, 1 BLAS thread."""
    cases = [Case(name, step, partial(blas_threads, 1)) for name, step in tiny_steps().items()]
    run_interleaved(cases, repeats, target_s)
    return {c.label: Summary.of(c.seconds_per_step) for c in cases}


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


def report(book: dict[str, Summary], sgd: dict[str, Summary]) -> str:
    """The two measurements as a Markdown table (µs, median [min–max])."""
    def us(s: Summary) -> str:
        return results._cell(s.scaled(lambda seconds: seconds * 1e6))

    tiny = "-".join(map(str, TINY))
    rows = [[f"training step, {tiny} MLP, batch 1: {label}", us(s)] for label, s in book.items()]
    if TINYGRAD in book:
        extra = (book[TINYGRAD].median - book[NUMPY].median) * 1e6
        rows.append([f"→ {TINYGRAD}'s bookkeeping per step", f"{extra:+.1f}"])
    for label, s in sgd.items():
        code, _, threads = label.partition(" [")  # "stmt [all BLAS threads]" or just "stmt"
        threads = threads.rstrip("]") or "1 BLAS thread"
        rows.append([f"update of a {N_HIDDEN}×{N_IN} float32 weight, {threads}: `{code}`", us(s)])
    return "\n".join(results._table(["measurement", "µs, median [min–max]"], rows))


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description="Where tinygrad_mb's training step loses time to hand-written NumPy.")
    p.add_argument("--quick", action="store_true", help="few repeats, short timings (rough numbers)")
    args = p.parse_args(argv)
    repeats, target_s = (3, 0.02) if args.quick else (15, 0.15)
    table = report(bookkeeping(repeats, target_s), sgd_update(repeats, target_s))
    print(table)
    return table


if __name__ == "__main__":
    main()
