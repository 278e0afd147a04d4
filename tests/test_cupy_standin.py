"""The CuPy code path, checked without a GPU, on a strict CPU stand-in for CuPy (tests/cupy_standin).

The stand-in is NOT CuPy: it refuses what CuPy's documentation says CuPy refuses
(implicit conversion to NumPy, NumPy operands, a Python bool as ``where``'s
condition, ...), with NumPy doing the arithmetic inside. Code that passes here
is written against ``xp``; whether it is fast and right on a real GPU is what
`.ci/gpu` checks on a machine that has one. Each run below is a separate
process, with the stand-in first on the import path.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STANDIN = ROOT / "tests" / "cupy_standin"


def run_on_standin(*pytest_args, default_backend=None, timeout=600):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(STANDIN), str(ROOT)]), MPLBACKEND="Agg")
    env.pop("TINYGRAD_MB_BACKEND", None)
    if default_backend:
        env["TINYGRAD_MB_BACKEND"] = default_backend
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--deselect",
           "tests/test_cupy_standin.py", *pytest_args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_standin_refuses_what_cupy_refuses():
    code = (
        "import numpy as np, cupy\n"
        "a = cupy.asarray(np.arange(3.0))\n"
        "def refused(f):\n"
        "    try:\n"
        "        f()\n"
        "    except (TypeError, AttributeError):\n"
        "        return True\n"
        "    return False\n"
        "checks = [refused(lambda: np.asarray(a)), refused(lambda: a + np.ones(3)),\n"
        "          refused(lambda: cupy.exp(np.ones(3))), refused(lambda: cupy.where(True, a, 0.0)),\n"
        "          type(a.sum()) is cupy.ndarray, not hasattr(a.flags, 'writeable'),\n"
        "          float((a * 2).sum()) == 6.0]\n"
        "print(checks)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(STANDIN))
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str([True] * 7)


def test_the_gpu_tests_pass_on_the_standin():
    r = run_on_standin("-m", "gpu")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    summary = r.stdout.splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary  # they ran, on the stand-in


CORE = ["tests/test_engine.py", "tests/test_tensor.py", "tests/test_gradcheck.py", "tests/test_ops_elementwise.py",
        "tests/test_ops_linalg.py", "tests/test_ops_reduce.py", "tests/test_ops_shape.py", "tests/nn",
        "tests/test_optim.py", "tests/test_optim_update.py", "tests/data", "tests/gd/test_gd_trainer.py",
        "tests/gd/test_gd_noise.py", "tests/test_exercises.py", "tests/test_serialization.py"]


def test_the_core_suite_passes_with_cupy_as_the_default_backend():
    # Every tensor made without an explicit backend lands on the stand-in: library code that makes
    # an array on the default backend instead of its inputs', or hands a NumPy array to CuPy, fails.
    r = run_on_standin(*CORE, default_backend="cupy")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert " passed" in r.stdout.splitlines()[-1]
