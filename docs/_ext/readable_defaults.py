"""Signatures with defaults that Sphinx can parse and a reader can read.

Two kinds of default are printed by their ``repr``, which is not Python:

* a dataclass field with ``default_factory`` shows as ``meta: dict = <factory>``.
  Sphinx cannot parse such a signature and prints it as raw text, with every
  annotation unresolved (``~typing.Any``, ``~collections.abc.Callable[...]``);
* a class as a default shows as ``dtype = <class 'numpy.float64'>``.

This extension rewrites them as code before Sphinx parses the signature:
``<factory>`` becomes the factory call (``dict()``, ``list()``; ``...`` for any
other factory), and ``<class 'numpy.float64'>`` becomes ``numpy.float64``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

_FACTORY = re.compile(r"(\w+)(\s*:[^=:]*?)?\s*=\s*<factory>")  # an annotation holds no ":"
_CLASS_REPR = re.compile(r"<class '([\w.]+)'>")


def factory_text(obj: Any, field_name: str) -> str:
    """How to write the default factory of dataclass ``obj``'s field ``field_name`` as code."""
    if isinstance(obj, type) and dataclasses.is_dataclass(obj):
        for field in dataclasses.fields(obj):
            if field.name == field_name and field.default_factory is not dataclasses.MISSING:
                factory = field.default_factory
                if getattr(factory, "__module__", None) == "builtins":
                    return f"{factory.__name__}()"
    return "..."


def readable_signature(obj: Any, signature: str) -> str:
    """``signature`` with ``<factory>`` and ``<class '...'>`` defaults written as code."""
    signature = _FACTORY.sub(
        lambda m: f"{m.group(1)}{(m.group(2) or '').rstrip()} = {factory_text(obj, m.group(1))}", signature
    )
    return _CLASS_REPR.sub(r"\1", signature)


def _process_signature(app, what, name, obj, options, signature, return_annotation):
    if not signature:
        return None
    new = readable_signature(obj, signature)
    return None if new == signature else (new, return_annotation)


def setup(app) -> dict[str, Any]:
    app.connect("autodoc-process-signature", _process_signature)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
