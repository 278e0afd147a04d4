"""What counts as tinygrad_mb's public API, shared by ``docs/conf.py`` and ``tests/test_docs.py``.

A module is public when no part of its dotted name starts with ``_``. Its
public objects are the classes and functions it *defines*, plus those it
re-exports from a private module (``tinygrad_mb.exercises`` re-exports
``ExerciseError`` from ``exercises/_common.py``): those have no public home of
their own, so the docs show them where users import them from.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType


def is_private(dotted: str) -> bool:
    """True when any part of a dotted name starts with an underscore."""
    return any(part.startswith("_") for part in dotted.split("."))


def public_modules(package: ModuleType) -> list[str]:
    """Dotted names of the package's public submodules, in import order."""
    return [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
            if not is_private(m.name)]


def _exported_names(module: ModuleType) -> set[str]:
    """Names a module offers: its ``__all__``, or for a package every public name.

    A plain module that imports a helper from a private module (``from ._common
    import run``) uses it; a package ``__init__`` that does so re-exports it.
    """
    if hasattr(module, "__all__"):
        return set(module.__all__)
    if hasattr(module, "__path__"):
        return {n for n in vars(module) if not n.startswith("_")}
    return set()


def private_reexports(package: ModuleType) -> dict[object, str]:
    """Objects defined in a private module, mapped to the first public module that exports them."""
    home: dict[int, tuple[object, str]] = {}
    for name in public_modules(package):
        module = importlib.import_module(name)
        exported = _exported_names(module)
        for attr, obj in vars(module).items():
            if attr not in exported or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            origin = getattr(obj, "__module__", "") or ""
            if origin.split(".")[0] == package.__name__ and is_private(origin) and id(obj) not in home:
                home[id(obj)] = (obj, name)
    return {obj: name for obj, name in home.values()}


def adopt_private_definitions(package: ModuleType) -> dict[str, str]:
    """Point ``__module__`` of privately defined, publicly exported objects at their public module.

    Only the docs build calls this (it changes nothing on disk), so autodoc
    documents ``tinygrad_mb.exercises.ExerciseError`` on the page of
    ``tinygrad_mb.exercises``. Returns ``{new qualified name: old module}``.
    """
    moved = {}
    for obj, home in private_reexports(package).items():
        moved[f"{home}.{obj.__qualname__}"] = obj.__module__
        obj.__module__ = home
    return moved
