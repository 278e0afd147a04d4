"""Sections ``compare`` and the import half of ``memory``: whole commands in fresh processes.

A fresh subprocess is the only clean way to see what a user sees: the time
and memory of ``import tinygrad_mb`` without anything this benchmark already
imported, and the wall time of ``tinygrad-mb compare`` from start to finish.
"""

from __future__ import annotations

import ast
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("matplotlib", "scipy", "cupy", "torch", "pandas", "hypothesis")

_IMPORT_PROBE = """
import sys, time
def vm(key):
    for line in open('/proc/self/status'):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
rss0 = vm('VmRSS:')
t = time.perf_counter()
{imports}
dt = time.perf_counter() - t
print(repr({{'seconds': dt, 'rss_before': rss0, 'rss_after': vm('VmRSS:'),
             'modules': len(sys.modules), 'heavy': [m for m in {heavy!r} if m in sys.modules]}}))
"""


def subprocess_env() -> dict[str, str]:
    """The current environment with the repository first on PYTHONPATH (works uninstalled)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def import_cost(statement: str, runs: int = 5) -> dict:
    """Median time and RSS of ``statement`` (e.g. ``import tinygrad_mb``) over fresh interpreters."""
    code = _IMPORT_PROBE.format(imports=statement, heavy=HEAVY)
    with tempfile.TemporaryDirectory(prefix="tgmb_pycache_") as cache:
        # Byte-code in a private cache, written by one untimed run first: NumPy loads its
        # .pyc files from site-packages, so tinygrad_mb must not be timed compiling its
        # sources (PYTHONDONTWRITEBYTECODE, or a fresh checkout, would make it).
        env = {k: v for k, v in subprocess_env().items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=REPO, env=env, timeout=120)
        samples = _timed_imports(code, runs, env)
    if isinstance(samples, str):
        return {"statement": statement, "error": samples}
    return {
        "statement": statement,
        "runs": runs,
        "seconds": [s["seconds"] for s in samples],
        "rss_after": statistics.median(s["rss_after"] for s in samples),
        "rss_added": statistics.median(s["rss_after"] - s["rss_before"] for s in samples),
        "modules": samples[0]["modules"],
        "heavy": samples[0]["heavy"],
        "matplotlib_imported": "matplotlib" in samples[0]["heavy"],
    }


def _timed_imports(code: str, runs: int, env: dict) -> list[dict] | str:
    """The probe's results over ``runs`` fresh interpreters, or the error text of a failed run."""
    samples = []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              cwd=REPO, env=env, timeout=120)
        if proc.returncode != 0:
            return tail(proc.stderr)
        samples.append(ast.literal_eval(proc.stdout.strip().splitlines()[-1]))
    return samples


def imports(runs: int = 5) -> dict:
    """Import cost of NumPy alone (the floor), ``tinygrad_mb``, and the training API."""
    return {
        "numpy": import_cost("import numpy", runs),
        "tinygrad_mb": import_cost("import tinygrad_mb", runs),
        "tinygrad_mb + nn + optim": import_cost("import tinygrad_mb, tinygrad_mb.nn, tinygrad_mb.optim", runs),
    }


def compare_command(timeout_s: float = 600.0) -> dict:
    """Wall time of ``python -m tinygrad_mb compare --out <tmpdir>`` (defaults otherwise)."""
    with tempfile.TemporaryDirectory(prefix="tgmb_bench_") as out:
        cmd = [sys.executable, "-m", "tinygrad_mb", "compare", "--out", out]
        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO,
                                  env=subprocess_env(), timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return {"command": "python -m tinygrad_mb compare --out <tmpdir>",
                    "error": f"did not finish within {timeout_s:.0f} s"}
        wall = time.perf_counter() - start
        files = sorted(str(p.relative_to(out)) for p in Path(out).rglob("*") if p.is_file())
    result = {"command": "python -m tinygrad_mb compare --out <tmpdir>", "seconds": wall,
              "returncode": proc.returncode, "files": files}
    if proc.returncode != 0:
        result["error"] = f"exit code {proc.returncode}: {tail(proc.stderr or proc.stdout)}"
    return result


def tail(text: str, lines: int = 3) -> str:
    return " | ".join(text.strip().splitlines()[-lines:]) or "(no output)"
