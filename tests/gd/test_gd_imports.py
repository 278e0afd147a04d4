"""Importing gd (or the CLI) must not import matplotlib or tqdm: they load only when drawing / showing progress."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gd_and_cli_import_without_matplotlib_or_tqdm():
    code = ("import sys, tinygrad_mb.gd, tinygrad_mb.cli; "
            "heavy = [m for m in ('matplotlib', 'tqdm') if m in sys.modules]; "
            "assert not heavy, heavy")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
