"""The notebooks: each one runs top to bottom in under a minute, and none is committed with outputs.

Every notebook is executed in a fresh Jupyter kernel (nbclient), with the
working directory ``notebooks/``, the repository on ``PYTHONPATH`` and the
non-interactive matplotlib backend, so a broken notebook fails the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
TIME_LIMIT = 60.0  # seconds per notebook, kernel start included (the issue asks: under a minute on 2 cores)
EXPECTED = [
    "01_tensors_and_autograd", "02_layers_losses_optimizers", "03_batch_vs_stochastic_vs_minibatch",
    "04_gradient_noise", "05_learning_rate_and_batch_size", "06_testing_gradients_with_hypothesis",
    "07_gpu_with_cupy",
]


def test_all_seven_notebooks_exist_with_their_sources():
    assert [p.stem for p in PATHS] == EXPECTED
    assert sorted(p.stem for p in (NOTEBOOKS / "src").glob("[0-9][0-9]_*.py")) == EXPECTED


def dirty_cells(nb) -> list[int]:
    """Indices of code cells that carry outputs or an execution count."""
    return [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            and (cell.get("outputs") or cell.get("execution_count") is not None)]


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_is_stored_without_outputs(path):
    dirty = dirty_cells(nbformat.read(path, as_version=4))
    assert not dirty, (f"{path.name}: code cells {dirty} have outputs or execution counts; "
                       "rebuild it with `python notebooks/_build.py` (or clear all outputs) before committing")


def test_the_output_check_notices_outputs_and_execution_counts():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# title"), nbformat.v4.new_code_cell("1 + 1"),
                nbformat.v4.new_code_cell("print(2)"), nbformat.v4.new_code_cell("3")]
    assert dirty_cells(nb) == []
    nb.cells[1].execution_count = 1
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
    assert dirty_cells(nb) == [1, 2]


def test_notebooks_match_their_sources():
    """The .ipynb files are generated from notebooks/src/*.py; they must not drift apart."""
    result = subprocess.run([sys.executable, str(NOTEBOOKS / "_build.py"), "--check"], capture_output=True,
                            text=True, cwd=ROOT)
    assert result.returncode == 0, f"run `python notebooks/_build.py` and commit the result:\n{result.stdout}"


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_runs_top_to_bottom_in_under_a_minute(path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # The kernel inherits this environment: no windows, and the package importable without installing.
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "ci")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=int(TIME_LIMIT), kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, naming the cell, when any cell fails
    elapsed = time.perf_counter() - start
    assert elapsed < TIME_LIMIT, f"{path.name} took {elapsed:.1f} s; it must run in under {TIME_LIMIT:.0f} s"
    errors = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
              if out.get("output_type") == "error"]
    assert not errors
