"""Instructions (and cache misses) per training step, counted by valgrind: costs no other program can disturb.

    python -m benchmarks.instructions                         # tiny 4-4-3 MLP; 45 seconds; needs valgrind
    python -m benchmarks.instructions --model full --cache    # the real 784-128-10 MLP, with cache misses (2 minutes)
    python -m benchmarks.instructions --steps 100 600

On a shared machine two timings of the same code can differ by 30%: other
programs take the CPU, the caches, the memory bus. The number of instructions
a step executes does not change with the weather, so it is the measure to
watch when cutting the engine's bookkeeping. By default it runs the training
step of the tiny 4-4-3 MLP of :mod:`benchmarks.gap` (where the arithmetic is
negligible and the cost of calls is all that is left), by hand, as
tinygrad_mb's NumPy calls without the engine (:mod:`benchmarks.engine_calls`)
and in tinygrad_mb, under
``valgrind --tool=cachegrind`` twice, for a few and for many steps, and
divides the difference by the number of extra steps, so that starting Python
and importing NumPy cancel out.

Instructions are not time: interpreted Python retires fewer instructions per
cycle than a BLAS kernel does, so compare counts of the same kind of code
(engine against engine, before against after a change), not against seconds.
``--cache`` shows one reason why. It lets valgrind simulate the caches of one
AMD Zen 4 core (32 KiB L1 for instructions, 32 KiB L1 for data, 1 MiB L2: the
core of the machine most benchmark runs so far ran on; the simulation does not
follow the machine it runs on) and counts, per step, the instruction fetches that
miss L1 and the data reads and writes that miss L2. At full size the 784x128
weight and its gradient (392 KiB each) nearly fill L2, so every bit of
extra code and data the engine touches pushes some of them out, and each
miss waits for the next cache level; the simulated caches are the same on
any machine, so these counts are as repeatable as the instruction count.
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
MODELS = {"tiny": gap.TINY, "full": gap.FULL}
# Few and many steps: the difference is what the extra steps cost. The full model
# runs about 50 times slower under valgrind, so it gets fewer.
STEPS = {"tiny": (200, 1200), "full": (20, 120)}
CACHES = ("--I1=32768,8,64", "--D1=32768,8,64", "--LL=1048576,8,64")  # size,ways,line: one Zen 4 core, L2 as "LL"
INSTRUCTIONS, CODE_MISSES, L2_DATA_MISSES = "instructions", "L1 instruction misses", "L2 data misses"
_SUMMARY = {INSTRUCTIONS: r"I\s+refs", CODE_MISSES: r"I1\s+misses", L2_DATA_MISSES: r"LLd\s+misses"}


def run_steps(implementation: str, steps: int, model: str = "tiny", batch: int = 1) -> None:
    """The measured program: ``steps`` training steps of one MLP on one batch (valgrind runs this)."""
    step = gap.training_steps(MODELS[model], batch)[implementation]
    for _ in range(steps):
        step()


def summary(valgrind_output: str, cache: bool = False) -> dict[str, int]:
    """The totals from cachegrind's closing summary: instructions, and with ``cache`` the misses."""
    wanted = _SUMMARY if cache else {INSTRUCTIONS: _SUMMARY[INSTRUCTIONS]}
    totals = {}
    for name, label in wanted.items():
        found = re.search(label + r":\s*([\d,]+)", valgrind_output)
        if found is None:
            raise RuntimeError(f"no {name!r} total in valgrind's output:\n{valgrind_output[-2000:]}")
        totals[name] = int(found.group(1).replace(",", ""))
    return totals


def count(implementation: str, steps: int, model: str = "tiny", batch: int = 1,
          cache: bool = False) -> dict[str, int]:
    """Totals for a whole Python process running ``steps`` steps, one BLAS thread (see :func:`summary`)."""
    simulate = ["--cache-sim=yes", *CACHES] if cache else ["--cache-sim=no"]
    command = ["valgrind", "--tool=cachegrind", *simulate, "--cachegrind-out-file=/dev/null", sys.executable,
               "-m", "benchmarks.instructions", "--child", implementation, str(steps), model, str(batch)]
    # One BLAS thread, and a fixed hash seed: sets and dicts then behave the same in every run, to the instruction.
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return summary(done.stderr, cache)


def per_step(steps: tuple[int, int], model: str = "tiny", batch: int = 1,
             cache: bool = False) -> dict[str, dict[str, float]]:
    """Per training step, for each implementation: the counts of :func:`count` (difference of two runs)."""
    few, many = steps
    engines = [gap.ENGINE_CALLS, gap.BARE_ENGINE, TINYGRAD]  # as gap
    names = [NUMPY] + (engines if tinygrad_mlp.unavailable() is None else [])
    result = {}
    for name in names:
        low, high = count(name, few, model, batch, cache), count(name, many, model, batch, cache)
        result[name] = {key: (high[key] - low[key]) / (many - few) for key in high}
    return result


def report(counts: dict[str, dict[str, float]], model: str = "tiny", batch: int = 1) -> str:
    """Markdown table: each count per step, and against the hand-written step's."""
    sizes = "-".join(map(str, MODELS[model]))
    keys = list(counts[NUMPY])
    headers = ["measurement"]
    for key in keys:
        headers += [f"{key} per step", f"× {NUMPY}"]
    rows = []
    for name, values in counts.items():
        row = [f"training step, {sizes} MLP, batch {batch}: {name}"]
        for key in keys:
            row += [f"{values[key]:,.0f}", f"{values[key] / counts[NUMPY][key]:.2f}"]
        rows.append(row)
    return "\n".join(results._table(headers, rows))


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description="Instructions (and cache misses) per training step, counted by valgrind.")
    p.add_argument("--model", choices=sorted(MODELS), default="tiny",
                   help="tiny: 4-4-3 MLP, the cost of calls alone (default); full: the benchmark's 784-128-10 MLP")
    p.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    p.add_argument("--cache", action="store_true",
                   help="also simulate a Zen 4 core's caches and count L1 instruction and L2 data misses (slower)")
    p.add_argument("--steps", type=int, nargs=2, metavar=("FEW", "MANY"),
                   help=f"step counts of the two runs (default {STEPS['tiny']} for tiny, {STEPS['full']} for full)")
    p.add_argument("--child", nargs=4, metavar=("IMPLEMENTATION", "STEPS", "MODEL", "BATCH"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        implementation, steps, model, batch = args.child
        run_steps(implementation, int(steps), model, int(batch))
        return ""
    few, many = args.steps or STEPS[args.model]
    if not 0 <= few < many:
        p.error(f"--steps: FEW must be at least 0 and less than MANY, got {few} {many}")
    if args.batch < 1:
        p.error(f"--batch must be at least 1, got {args.batch}")
    if shutil.which("valgrind") is None:
        p.exit(2, "benchmarks.instructions needs valgrind on the PATH (e.g. `apt install valgrind`)\n")
    table = report(per_step((few, many), args.model, args.batch, args.cache), args.model, args.batch)
    print(table)
    return table


if __name__ == "__main__":
    main()
