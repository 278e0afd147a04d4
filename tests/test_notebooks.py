"""The notebooks: each one runs top to bottom in under a minute, and none is committed with outputs.

Every source in ``notebooks/src/`` gives two notebooks (``notebooks/_build.py``):
the student version ``notebooks/NN_name.ipynb``, whose answer cells are stubs,
and the solutions version ``notebooks/solutions/NN_name.ipynb``, with the worked
answers. Both are executed in a fresh Jupyter kernel (nbclient), with the
notebook's folder as the working directory, the repository on ``PYTHONPATH`` and
the non-interactive matplotlib backend, so a broken notebook fails the suite.
In the solutions every checker prints ✓; in the student versions every checker
prints "○ not attempted yet", and no line of a model answer is left in them.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SOURCES = sorted((NOTEBOOKS / "src").glob("[0-9][0-9]_*.py"))
STUDENT = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((NOTEBOOKS / "solutions").glob("[0-9][0-9]_*.ipynb"))
PATHS = STUDENT + SOLUTIONS
IDS = [str(p.relative_to(NOTEBOOKS).with_suffix("")) for p in PATHS]
TIME_LIMIT = 60.0  # seconds per notebook, kernel start included (the issue asks: under a minute on 2 cores)
EXPECTED = [
    "01_tensors_and_autograd", "02_layers_losses_optimizers", "03_batch_vs_stochastic_vs_minibatch",
    "04_gradient_noise", "05_learning_rate_and_batch_size", "06_testing_gradients_with_hypothesis",
    "07_gpu_with_cupy",
]
N_EXERCISES = 21  # 3 + 4 + 3 + 3 + 3 + 3 + 2, one checker each (see tinygrad_mb/exercises/__init__.py)
CHECK_CALL = re.compile(r"^check_\w+\(", re.M)


def _load_build():
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS / "_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build()


def source_of(path: Path) -> Path:
    return NOTEBOOKS / "src" / (path.stem + ".py")


def checks_in(nb) -> int:
    """How many checker calls (one per exercise) the notebook's code cells make."""
    return sum(len(CHECK_CALL.findall(cell.source)) for cell in nb.cells if cell.cell_type == "code")


def test_all_seven_notebooks_exist_with_their_sources_and_solutions():
    assert [p.stem for p in STUDENT] == EXPECTED
    assert [p.stem for p in SOLUTIONS] == EXPECTED
    assert [p.stem for p in SOURCES] == EXPECTED


def test_every_exercise_has_a_marked_answer_and_one_checker():
    """Each answer cell holds a # BEGIN SOLUTION block, and is followed by the cell that checks it."""
    total = 0
    for source in SOURCES:
        text = source.read_text(encoding="utf-8")
        answers = build.solution_cells(text)
        nb = build.build(source, "solutions")
        checks = checks_in(nb)
        assert len(answers) == checks, f"{source.name}: {len(answers)} answer cells, {checks} checker calls"
        for i in answers:
            assert nb.cells[i].source.startswith(build.WORKED_HEADER), f"{source.name}: cell {i}"
            assert CHECK_CALL.search(nb.cells[i + 1].source), f"{source.name}: no checker after answer cell {i}"
        total += checks
    assert total == N_EXERCISES


@pytest.mark.parametrize("path", STUDENT, ids=[p.stem for p in STUDENT])
def test_student_notebook_holds_stubs_and_no_answer(path):
    """No line of a model answer is left in the answer cells of the student version; a stub is in each."""
    answers = build.solution_cells(source_of(path).read_text(encoding="utf-8"))
    nb = nbformat.read(path, as_version=4)
    assert answers
    for i, lines in answers.items():
        cell = nb.cells[i]
        assert cell.id == f"c{i:03d}" and cell.source.startswith(build.ANSWER_HEADER), cell.source
        left = {line.strip() for line in cell.source.splitlines()} & {line.strip() for line in lines if line.strip()}
        assert not left, f"{path.name}, cell {cell.id}: answer lines left in the student version: {sorted(left)}"
        assert "NotImplementedError" in cell.source or "..." in cell.source, cell.source
    for cell in nb.cells:  # no marker survives in either version
        assert build.BEGIN not in cell.source and build.END not in cell.source and build.STUB not in cell.source


def test_the_builder_splits_a_source_into_student_and_solutions():
    text = "\n".join([
        "# %% [markdown]", "# # Title", "# %%", build.ANSWER_HEADER, "def f(x):", '    """Return 2 x."""',
        "    # BEGIN SOLUTION", "    return 2 * x", "    # END SOLUTION", "", "# %%",
        "# BEGIN SOLUTION", "answer = 42", "# END SOLUTION", "# STUB: answer = ...  # your number", ""])
    student = build.split_solutions(text, "student")
    assert "return 2 * x" not in student and "answer = 42" not in student
    assert '    # your code here\n    raise NotImplementedError("your answer here")\n' in student
    assert "\nanswer = ...  # your number\n" in student
    solutions = build.split_solutions(text, "solutions")
    assert "    return 2 * x\n" in solutions and "answer = 42" in solutions
    assert "SOLUTION" not in solutions and "STUB" not in solutions and "NotImplementedError" not in solutions
    assert "# # Title" + build.WORKED_TITLE in solutions and build.WORKED_HEADER in solutions
    assert build.solution_cells(text) == {1: ["    return 2 * x"], 2: ["answer = 42"]}
    for broken in ("# BEGIN SOLUTION\nx = 1\n", "x = 1\n# END SOLUTION\n", "x = 1\n# STUB: x = ...\n",
                   "# BEGIN SOLUTION\n# BEGIN SOLUTION\n", "# %%\n# BEGIN SOLUTION\n# %%\n# END SOLUTION\n"):
        with pytest.raises(ValueError, match="line|end of the file"):
            build.split_solutions(broken, "student")


def dirty_cells(nb) -> list[int]:
    """Indices of code cells that carry outputs or an execution count."""
    return [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            and (cell.get("outputs") or cell.get("execution_count") is not None)]


@pytest.mark.parametrize("path", PATHS, ids=IDS)
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
    """Both versions of every notebook are generated from notebooks/src/*.py; they must not drift apart."""
    result = subprocess.run([sys.executable, str(NOTEBOOKS / "_build.py"), "--check"], capture_output=True,
                            text=True, cwd=ROOT)
    assert result.returncode == 0, f"run `python notebooks/_build.py` and commit the result:\n{result.stdout}"


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_notebook_runs_top_to_bottom_in_under_a_minute(path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # The kernel inherits this environment: no windows, and the package importable without installing.
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "ci")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=int(TIME_LIMIT), kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, naming the cell, when any cell fails
    elapsed = time.perf_counter() - start
    assert elapsed < TIME_LIMIT, f"{path.name} took {elapsed:.1f} s; it must run in under {TIME_LIMIT:.0f} s"
    errors = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
              if out.get("output_type") == "error"]
    assert not errors
    lines = [line for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
             if out.get("output_type") == "stream" for line in out.get("text", "").splitlines()]
    passed = [line for line in lines if line.startswith("✓")]
    open_ = [line for line in lines if line.startswith("○ not attempted yet")]
    exercises = checks_in(nb)
    if path.parent == NOTEBOOKS:  # the student version: every answer is still a stub
        assert (len(open_), len(passed)) == (exercises, 0), "\n".join(open_ + passed)
    else:  # the worked answers: every checker is satisfied
        assert (len(passed), len(open_)) == (exercises, 0), "\n".join(passed + open_)
