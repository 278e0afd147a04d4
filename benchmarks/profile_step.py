"""Where does a tinygrad_mb training step spend its time? cProfile of the benchmark step.

    python -m benchmarks.profile_step --batch 1 --steps 3000
    python -m benchmarks.profile_step --batch 32 --sort cumulative

Prints the functions with the most own time (``tottime``) by default: at small
batch sizes that is the engine's per-op bookkeeping, at large ones the BLAS
calls. Profiling slows Python code more than C code, so read the ranking, not
the absolute numbers.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import `benchmarks` from the repository root,
    sys.path[0] = str(Path(__file__).resolve().parent.parent)  # not its modules as top-level names

from benchmarks.problem import initial_weights, random_batch  # noqa: E402
from benchmarks.timing import blas_threads  # noqa: E402


def profile(batch: int, steps: int, sort: str, top: int) -> pstats.Stats:
    """Profile ``steps`` tinygrad_mb training steps at batch size ``batch`` (1 BLAS thread)."""
    from benchmarks.tinygrad_mlp import TinygradMLP

    model = TinygradMLP(initial_weights())
    x, y = model.prepare(*random_batch(batch))
    with blas_threads(1):
        for _ in range(10):
            model.step(x, y)
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(steps):
            model.step(x, y)
        prof.disable()
    stats = pstats.Stats(prof).strip_dirs().sort_stats(sort)
    print(f"tinygrad_mb training step, batch {batch}, {steps} steps, sorted by {sort}:")
    stats.print_stats(top)
    return stats


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="cProfile the tinygrad_mb MLP training step.")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--sort", default="tottime", choices=("tottime", "cumulative", "ncalls"))
    p.add_argument("--top", type=int, default=25)
    a = p.parse_args()
    profile(a.batch, a.steps, a.sort, a.top)
