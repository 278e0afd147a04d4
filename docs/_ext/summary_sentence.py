"""Autosummary's one-line summaries never cut through an ``inline literal``.

An autosummary table shows the first sentence of each docstring, found by
splitting at ". ". Sphinx checks that a split leaves the markup intact, but
(Sphinx 7 to 9) it parses the whole paragraph instead of the cut sentence, so
the check always passes: a valid docstring such as

    Two classes: ``P(y=1 | x) = sigmoid(x . w_true + b_true)``.

is summarised as "Two classes: ``P(y=1 | x) = sigmoid(x." and the build fails
with "Inline literal start-string without end-string". This extension wraps
``extract_summary``: only when Sphinx's summary leaves a literal open, it takes
sentences up to the first one that closes it. Every other summary is Sphinx's own.
"""

from __future__ import annotations

from typing import Any

from sphinx.ext import autosummary


def _first_stanza(doc: list[str]) -> list[str]:
    lines: list[str] = []
    for line in doc:
        if line.strip():
            lines.append(line.strip())
        elif lines:
            break
    return lines


def summary_without_open_literals(doc: list[str], summary: str) -> str:
    """``summary`` if its inline literals are closed, else the shortest run of sentences that closes them."""
    if summary.count("``") % 2 == 0:
        return summary
    sentences = autosummary.periods_re.split(" ".join(_first_stanza(doc)))
    for i in range(len(sentences)):
        candidate = ". ".join(sentences[: i + 1]).rstrip(".") + "."
        if candidate.count("``") % 2 == 0:
            return candidate
    return summary


def setup(app: Any) -> dict[str, Any]:
    """Wrap autosummary's summary extraction (once per process)."""
    original = autosummary.extract_summary
    if not getattr(original, "_keeps_literals_whole", False):

        def extract_summary(doc: list[str], settings: Any) -> str:
            return summary_without_open_literals(list(doc), original(doc, settings))

        extract_summary._keeps_literals_whole = True  # type: ignore[attr-defined]
        autosummary.extract_summary = extract_summary
    return {"parallel_read_safe": True, "parallel_write_safe": True}
