"""Instructions per training step, counted by valgrind: a cost no other program can disturb.

    python -m benchmarks.instructions          # about a minute; needs valgrind on the PATH
    python -m benchmarks.instructions --steps 100 600

On a shared machine two timings of the same code can differ by 30%: other
programs take the CPU, the caches, the memory bus. The number of instructions
a step executes does not change with the weather, so it is the measure to
watch when cutting the engine's bookkeeping. It runs the training step of the
tiny 4-4-3 MLP of :mod:`benchmarks.gap` (where the arithmetic is negligible
and the cost of calls is all that is left) under ``valgrind --tool=callgrind``
twice, for a few and for many steps, and divides the difference by the
number of extra steps, so that starting Python and importing NumPy cancel out.

Instructions are not time: interpreted Python retires fewer instructions per
cycle than a BLAS kernel does, so compare counts of the same kind of code
(engine against engine, before against after a change), not against seconds.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path


if __package__ in (None, ""):  # run as a script: import `benchmarks` from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from benchmarks import gap, tinygrad_mlp  # noqa: E402
from benchmarks import report as results  # noqa: E402
from benchmarks.throughput import NUMPY, TINYGRAD  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
STEPS = (200, 1200)  # few and many: the difference is 1,000 steps' worth of instructions
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def run_steps(implementation: str, steps: int) -> None:
    """The measured program: ``steps`` training steps of the tiny MLP (valgrind runs this)."""
    step = gap.tiny_steps()[implementation]
    for _ in range(steps):
        step()


def collected(valgrind_output: str) -> int:
    """The total instruction count from callgrind's closing summary."""
    found = _COLLECTED.search(valgrind_output)
    if found is None:
        raise RuntimeError(f"no 'Collected :' line in valgrind's output:\n{valgrind_output[-2000:]}")
    return int(found.group(1))


def count(implementation: str, steps: int) -> int:
    """Instructions executed by a whole Python process running ``steps`` steps, one BLAS thread."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
               "-m", "benchmarks.instructions", "--child", implementation, str(steps)]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return collected(done.stderr)


def per_step(steps: tuple[int, int] = STEPS) -> dict[str, float]:
    """Instructions per training step for each implementation (difference of two runs)."""
    few, many = steps
    names = [NUMPY] + ([TINYGRAD] if tinygrad_mlp.unavailable() is None else [])  # as gap.tiny_steps
    return {name: (count(name, many) - count(name, few)) / (many - few) for name in names}


def report(counts: dict[str, float]) -> str:
    """Markdown table: instructions per step, and each against the hand-written step."""
    tiny = "-".join(map(str, gap.TINY))
    rows = [[f"training step, {tiny} MLP, batch 1: {name}", f"{n:,.0f}", f"{n / counts[NUMPY]:.2f}"]
            for name, n in counts.items()]
    return "\n".join(results._table(["measurement", "instructions per step", f"× {NUMPY}"], rows))


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description="Instructions per training step of the tiny MLP, counted by valgrind.")
    p.add_argument("--steps", type=int, nargs=2, default=STEPS, metavar=("FEW", "MANY"),
                   help=f"step counts of the two runs (default {STEPS[0]} {STEPS[1]})")
    p.add_argument("--child", nargs=2, metavar=("IMPLEMENTATION", "STEPS"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        run_steps(args.child[0], int(args.child[1]))
        return ""
    few, many = args.steps
    if not 0 <= few < many:
        p.error(f"--steps: FEW must be at least 0 and less than MANY, got {few} {many}")
    if shutil.which("valgrind") is None:
        p.exit(2, "benchmarks.instructions needs valgrind on the PATH (e.g. `apt install valgrind`)\n")
    table = report(per_step((few, many)))
    print(table)
    return table


if __name__ == "__main__":
    main()
