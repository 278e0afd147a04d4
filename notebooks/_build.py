"""Build the notebooks from their sources: ``python notebooks/_build.py`` (``--check`` to only compare).

Each notebook is written as a plain Python file in ``notebooks/src/`` in the
"percent" format: ``# %% [markdown]`` starts a markdown cell (its lines are
comments, ``# `` stripped), ``# %%`` starts a code cell, and a commented magic
such as ``# %matplotlib inline`` becomes the magic itself. Plain files are easy
to review, diff and lint; the ``.ipynb`` files next to this script are
generated from them, with no outputs and no execution counts, so what is
committed is exactly what a student opens. ``tests/test_notebooks.py`` fails
when a notebook and its source disagree, or when a notebook has outputs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "src"
KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}


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


def build(source: Path) -> nbformat.NotebookNode:
    """The notebook for one source file: no outputs, no execution counts, stable cell ids."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNEL)
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, text) in enumerate(parse(source.read_text(encoding="utf-8"))):
        cell = nbformat.v4.new_markdown_cell(text) if kind == "markdown" else nbformat.v4.new_code_cell(text)
        cell["id"] = f"c{i:03d}"  # stable ids: rebuilding an unchanged source gives an identical file
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def target(source: Path) -> Path:
    return HERE / (source.stem + ".ipynb")


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report notebooks that are out of date")
    args = parser.parse_args(argv)
    stale = []
    for source in sorted(SOURCES.glob("[0-9][0-9]_*.py")):
        text = render(build(source))
        path = target(source)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path.name)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    verb = "out of date" if args.check else "written"
    print(f"{len(stale)} notebook(s) {verb}: {', '.join(stale) if stale else '-'}")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
