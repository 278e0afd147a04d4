"""Let docstrings write plain-text math such as ``|x|`` or ``|g_B - G|^2``.

tinygrad_mb's docstrings put the math next to the code in plain text, because
students read them in the source, where ``d/dx |x| = sign(x)`` is the natural
way to write it. In reStructuredText, though, ``|x|`` is a *substitution
reference*, so the docs build would fail on it ("Undefined substitution").

This extension escapes every ``|`` in prose (``\\|`` renders as ``|``) before
the docstring is parsed, and leaves alone what reST reads literally anyway:
``inline literals``, roles such as ``:math:`|x|```, ``::`` literal blocks,
directive bodies (``.. code-block::``, ``.. math::``), doctest lines and grid
tables. Nothing else about the docstring changes.
"""

from __future__ import annotations

import re
from typing import Any

# Backtick spans: ``literal``, `interpreted` and :role:`text`. Their contents are taken literally.
_BACKTICKS = re.compile(r"(``.+?``|:[\w.:+-]+:`[^`]*`|`[^`]*`_{0,2})")


def escape_line(line: str) -> str:
    """Escape the bars of one line of prose, outside backtick spans."""
    if "|" not in line:
        return line
    stripped = line.lstrip()
    if stripped == "|" or stripped.startswith(("| ", "+-", "+=", ">>>", "... ")):  # grid tables, line blocks, doctests
        return line
    parts = _BACKTICKS.split(line)
    for k in range(0, len(parts), 2):  # even parts are outside the spans
        parts[k] = re.sub(r"(?<!\\)\|", r"\\|", parts[k])
    return "".join(parts)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def escape_bars(lines: list[str]) -> list[str]:
    """Escape ``|`` in the prose lines of a docstring; keep literal blocks and directives as they are."""
    out: list[str] = []
    literal_from: int | None = None  # indentation of the paragraph that opened a literal block
    for line in lines:
        if literal_from is not None:
            if not line.strip() or _indent(line) > literal_from:
                out.append(line)
                continue
            literal_from = None
        out.append(escape_line(line))
        stripped = line.strip()
        if stripped.endswith("::") or stripped.startswith(".. "):
            literal_from = _indent(line)
    return out


def _process_docstring(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    lines[:] = escape_bars(lines)


def setup(app: Any) -> dict[str, Any]:
    """Register the docstring hook (after napoleon has turned Google sections into reST)."""
    app.connect("autodoc-process-docstring", _process_docstring, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
