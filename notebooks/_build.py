"""Build the notebooks from their sources: ``python notebooks/_build.py`` (``--check`` to only compare).

Each notebook is written as a plain Python file in ``notebooks/src/`` in the
"percent" format: ``# %% [markdown]`` starts a markdown cell (its lines are
comments, ``# `` stripped), ``# %%`` starts a code cell, and a commented magic
such as ``# %matplotlib inline`` becomes the magic itself. Plain files are easy
to review, diff and lint; the ``.ipynb`` files are generated from them, with no
outputs and no execution counts, so what is committed is exactly what a
student opens. ``tests/test_notebooks.py`` fails when a notebook and its
source disagree, or when a notebook has outputs.

Every source gives two notebooks. The lines of a model answer sit between
``# BEGIN SOLUTION`` and ``# END SOLUTION``:

* the **student** version, ``notebooks/NN_name.ipynb``, replaces each such block
  with a stub at the block's indentation: ``# your code here`` and
  ``raise NotImplementedError("your answer here")``, or, when ``# STUB: <line>``
  lines follow the ``# END SOLUTION`` marker, those lines (for an answer that is
  a value rather than code, e.g. ``# STUB: answer = {"a": ...}``);
* the **solutions** version, ``notebooks/solutions/NN_name.ipynb``, keeps the
  answers and drops the markers and the ``# STUB:`` lines; its title says
  *worked answers* and its answer cells say so in their first line.

The exercise checkers (``tinygrad_mb.exercises``) report an answer that is still
a stub as *not attempted yet* instead of failing, so both versions run top to bottom.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "src"
SOLUTIONS = HERE / "solutions"
KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}
VERSIONS = ("student", "solutions")

BEGIN, END, STUB = "# BEGIN SOLUTION", "# END SOLUTION", "# STUB:"
DEFAULT_STUB = ("# your code here", 'raise NotImplementedError("your answer here")')
#: First line of every answer cell in a source (and in the student version) ...
ANSWER_HEADER = "# Your answer — replace the stub with your code, then run the check cell below"
#: ... and what it becomes in the solutions version.
WORKED_HEADER = "# A worked answer — the check cell below prints ✓"
WORKED_TITLE = " — worked answers"  # appended to the notebook's title (its first "# # " line) in solutions


def split_solutions(text: str, version: str) -> str:
    """The percent-format text of one version (``"student"`` or ``"solutions"``) of a source.

    Raises ValueError, naming the line, for a marker without its partner, a
    nested ``# BEGIN SOLUTION``, a block that runs past the end of its cell, or a
    ``# STUB:`` line that does not directly follow ``# END SOLUTION``.
    """
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {VERSIONS}, got {version!r}")
    student = version == "student"
    out: list[str] = []
    indent: str | None = None  # the open block's indentation, None outside a block
    closed_indent = ""  # the indentation of the block that closed last: where its stub goes
    after_end = False  # True while the lines just after an END marker may still be STUB lines
    custom_stub = False
    titled = False
    for number, line in enumerate(text.splitlines(), start=1):
        marker = line.strip()
        if after_end and not marker.startswith(STUB):
            if student and not custom_stub:
                out.extend(closed_indent + stub for stub in DEFAULT_STUB)
            after_end = False
        if marker == BEGIN:
            if indent is not None:
                raise ValueError(f"line {number}: {BEGIN!r} inside another solution block")
            indent = line[: len(line) - len(line.lstrip())]
        elif marker == END:
            if indent is None:
                raise ValueError(f"line {number}: {END!r} without {BEGIN!r}")
            closed_indent, indent, after_end, custom_stub = indent, None, True, False
        elif marker.startswith(STUB):
            if not after_end:
                raise ValueError(f"line {number}: {STUB!r} lines must directly follow {END!r}")
            custom_stub = True
            if student:
                stub = marker[len(STUB):]
                out.append(line[: len(line) - len(line.lstrip())] + (stub[1:] if stub.startswith(" ") else stub))
        elif indent is not None:
            if line.startswith("# %%"):
                raise ValueError(f"line {number}: a new cell starts inside a solution block (no {END!r})")
            if not student:
                out.append(line)
        elif not student and marker == ANSWER_HEADER:
            out.append(line.replace(ANSWER_HEADER, WORKED_HEADER))
        elif not student and not titled and line.startswith("# # "):
            out.append(line + WORKED_TITLE)
            titled = True
        else:
            out.append(line)
    if indent is not None:
        raise ValueError(f"{BEGIN!r} without {END!r} before the end of the file")
    if after_end and student and not custom_stub:
        out.extend(closed_indent + stub for stub in DEFAULT_STUB)
    return "\n".join(out) + "\n"


def solution_cells(text: str) -> dict[int, list[str]]:
    """The model-answer lines of a source, by the index of their cell in the built notebooks.

    Both versions have the same cells (a block becomes a stub, never nothing),
    so ``tests/test_notebooks.py`` can check that cell ``i`` of a student
    notebook contains none of these lines.
    """
    found: dict[int, list[str]] = {}
    for i, (_kind, cell) in enumerate(parse(text)):
        inside = False
        for line in cell.splitlines():
            if line.strip() in (BEGIN, END):
                inside = line.strip() == BEGIN
            elif inside:
                found.setdefault(i, []).append(line)
    return found


def parse(text: str) -> list[tuple[str, str]]:
    """Split percent-format source into ``(kind, source)`` cells, kind ``"markdown"`` or ``"code"``."""
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("# %%"):
            kind = "markdown" if "[markdown]" in line else "code"
            cells.append((kind, []))
        elif cells:
            kind, lines = cells[-1]
            if kind == "code" and line.startswith("# %"):  # a commented IPython magic: "# %matplotlib inline"
                line = line[2:]
            if kind == "markdown":
                if line and not line.startswith("#"):
                    raise ValueError(f"markdown line without '# ': {line!r}")
                line = line[2:] if line.startswith("# ") else line[1:]
            lines.append(line)
        elif line.strip() and not line.startswith("#"):
            raise ValueError(f"code before the first '# %%' marker: {line!r}")
    out = []
    for kind, lines in cells:
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if lines:
            out.append((kind, "\n".join(lines)))
    return out


def build(source: Path, version: str = "student") -> nbformat.NotebookNode:
    """One version of the notebook for a source file: no outputs, no execution counts, stable cell ids."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNEL)
    nb.metadata["language_info"] = {"name": "python"}
    try:
        text = split_solutions(source.read_text(encoding="utf-8"), version)
    except ValueError as exc:
        raise ValueError(f"{source.name}: {exc}") from None
    for i, (kind, cell_text) in enumerate(parse(text)):
        cell = nbformat.v4.new_markdown_cell(cell_text) if kind == "markdown" else nbformat.v4.new_code_cell(cell_text)
        cell["id"] = f"c{i:03d}"  # stable ids: rebuilding an unchanged source gives an identical file
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def target(source: Path, version: str = "student") -> Path:
    """Where one version of a source's notebook lives: ``notebooks/`` or ``notebooks/solutions/``."""
    return (HERE if version == "student" else SOLUTIONS) / (source.stem + ".ipynb")


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report notebooks that are out of date")
    args = parser.parse_args(argv)
    stale = []
    for source in sorted(SOURCES.glob("[0-9][0-9]_*.py")):
        for version in VERSIONS:
            text = render(build(source, version))
            path = target(source, version)
            if path.exists() and path.read_text(encoding="utf-8") == text:
                continue
            stale.append(str(path.relative_to(HERE)))
            if not args.check:
                path.parent.mkdir(exist_ok=True)
                path.write_text(text, encoding="utf-8")
    verb = "out of date" if args.check else "written"
    print(f"{len(stale)} notebook(s) {verb}: {', '.join(stale) if stale else '-'}")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
