"""The README, CI script and packaging metadata agree with each other and with the code."""

import configparser
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tinygrad_mb

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def setup_cfg():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return cfg


def quickstart_commands():
    section = README.split("## Quickstart", 1)[1]
    block = re.search(r"```(?:bash|sh|console)?\n(.*?)```", section, re.S).group(1)
    return [line.strip() for line in block.splitlines() if line.strip()]


def test_quickstart_is_install_and_run_then_test():
    commands = quickstart_commands()
    assert len(commands) == 2
    assert commands[0] == "python3 -m pip install . && tinygrad-mb compare"
    assert commands[1] == 'python3 -m pip install -e ".[dev]" && python3 -m pytest'


def test_ci_runs_exactly_the_readme_test_command():
    script = ROOT / ".ci" / "run"
    text = script.read_text()
    assert os.access(script, os.X_OK), ".ci/run must be executable"
    assert "set -euo pipefail" in text
    last = [line for line in text.splitlines() if line.strip() and not line.startswith("#")][-1]
    assert last.strip() == quickstart_commands()[1]


def test_version_and_metadata():
    cfg = setup_cfg()
    assert cfg["metadata"]["name"] == "tinygrad_mb"
    assert cfg["metadata"]["version"].strip() == "attr: tinygrad_mb.__version__"
    assert re.fullmatch(r"\d+\.\d+\.\d+", tinygrad_mb.__version__)
    assert cfg["metadata"]["license_expression"].strip() == "MIT"
    assert "License ::" not in cfg["metadata"]["classifiers"]  # PEP 639: the expression replaces it
    scripts = cfg["options.entry_points"]["console_scripts"]
    assert "tinygrad-mb = tinygrad_mb.cli:main" in scripts
    assert "*.npz" in cfg["options.package_data"]["tinygrad_mb.data"]
    for path in cfg["metadata"]["license_files"].split():
        assert (ROOT / path).is_file(), path


def test_readme_training_example_runs():
    code = re.search(r"<!-- example -->\n```python\n(.*?)```", README, re.S).group(1)
    body = [line for line in code.splitlines() if line.strip() and not line.startswith(("import", "from"))]
    assert len(body) <= 10, "the README promises a ten-line example"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TINYGRAD_MB_BACKEND": "numpy", "MPLBACKEND": "Agg"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.split(":")[-1])
    assert accuracy > 0.9, result.stdout


@pytest.mark.parametrize("name", ["LICENSE", "ruff.toml"])
def test_repository_files_exist(name):
    assert (ROOT / name).is_file()


def test_pyproject_holds_the_build_system_only():
    tables = re.findall(r"^\[([^\]]+)\]", (ROOT / "pyproject.toml").read_text(), re.M)
    assert tables == ["build-system"]


GPU_SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "gpu"


def test_gpu_script_rejects_an_unknown_stage_before_doing_anything(tmp_path):
    result = subprocess.run(["bash", str(GPU_SCRIPT), "benchmarks"], env={**os.environ, "OUT": str(tmp_path)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "unknown stage 'benchmarks'" in result.stdout and "tests suite bench compare notebook" in result.stdout
    assert not (tmp_path / "gpu.log").exists()


@pytest.mark.skipif(tinygrad_mb.backend.cupy_available(), reason="a usable GPU: the script would run every stage")
def test_gpu_script_stops_with_the_reason_where_there_is_no_gpu(tmp_path):
    result = subprocess.run(["bash", str(GPU_SCRIPT)], env={**os.environ, "OUT": str(tmp_path)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    log = (tmp_path / "gpu.log").read_text()
    assert "CuPy is not usable here" in log and "nothing else to run" in result.stdout
