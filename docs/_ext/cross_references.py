"""Resolve the short and public names that docstrings use for tinygrad_mb objects.

The API reference documents every object where it is *defined*
(``tinygrad_mb.gd.trainer.train``), but docstrings name objects the way users
import them (``tinygrad_mb.gd.train``, ``tinygrad_mb.load``) or by their bare
name (``train``, ``History``). Sphinx looks a bare name up only in the current
module, so all of these would render as plain, unlinked code. When Sphinx finds
no target, this extension tries, in order:

1. the public name: import it and link to where the object is defined;
2. the bare name: the one documented object whose full name ends in it, or,
   when several do, the one closest to the page that mentions it (the longest
   shared module prefix), as long as that choice is unique.

Names from other libraries (``numpy.ndarray``, ``collections.abc.Mapping``)
cannot be linked without intersphinx inventories, which the offline build does
not download; ``conf.py`` lists them in ``nitpick_ignore_regex``. Every other
unresolved reference stays a warning, and the build treats warnings as errors.

It also keeps private base classes out of the "Bases:" line of a class
(:func:`public_bases`).
"""

from __future__ import annotations

import importlib
from typing import Any

PACKAGE = "tinygrad_mb"


def _defined_at(dotted: str) -> str | None:
    """``tinygrad_mb.gd.train`` -> ``tinygrad_mb.gd.trainer.train``: where an importable name is defined."""
    module_name, _, attr = dotted.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError):
        return None
    home, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    return f"{home}.{qualname}" if home and qualname else None


def _shared_prefix(a: str, b: str) -> int:
    """How many leading dotted parts two names share."""
    count = 0
    for x, y in zip(a.split("."), b.split(".")):
        if x != y:
            break
        count += 1
    return count


def _closest(candidates: list[str], near: str) -> str | None:
    """The candidate sharing the longest module prefix with ``near``, if exactly one does."""
    if not candidates:
        return None
    scores = [_shared_prefix(c, near) for c in candidates]
    best = max(scores)
    winners = [c for c, s in zip(candidates, scores) if s == best]
    return winners[0] if len(winners) == 1 else None


def resolve_missing(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Sphinx ``missing-reference`` handler for Python-domain references to tinygrad_mb objects."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".~")
    domain = env.get_domain("py")
    objects = domain.objects  # full name -> ObjectEntry, everything documented
    full = _defined_at(target) if target.startswith(PACKAGE + ".") else None
    if full not in objects:
        suffix = "." + target
        near = node.get("py:module") or node.get("refdoc", "").replace("/", ".")
        full = _closest([name for name in objects if name.endswith(suffix) and name.startswith(PACKAGE)], near)
    if full is None:
        return None
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], full, node, contnode)


def public_bases(app: Any, name: str, obj: Any, options: Any, bases: list) -> None:
    """``Bases: _Loss`` becomes ``Bases: Module``: a private base class has no page to link to.

    Sphinx ``autodoc-process-bases`` handler: each private base is replaced by
    its own bases, until only public classes are left.
    """
    public: list = []
    pending = list(bases)
    while pending:
        base = pending.pop(0)
        if getattr(base, "__name__", "").startswith("_"):
            pending[:0] = [b for b in base.__bases__ if b is not object]
        elif base not in public:
            public.append(base)
    bases[:] = public or [object]


def setup(app: Any) -> dict[str, bool]:
    app.connect("missing-reference", resolve_missing)
    app.connect("autodoc-process-bases", public_bases)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
