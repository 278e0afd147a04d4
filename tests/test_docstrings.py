"""Every public module, class, function and method of tinygrad_mb has a docstring.

The API reference (``docs/api``) is generated from these docstrings, so an
undocumented public name would be a hole in the docs. "Public" means: reachable
without a leading underscore (module path, name and, for methods, the method
name), and *defined* in tinygrad_mb (re-exports are checked where they are
defined, or, when that is a private module, where they are exported; names
imported from NumPy and friends are not ours). A method that
overrides a documented method of a base class inherits its docstring, as it
does in the rendered docs (``inspect.getdoc``).

When this fails, the message lists every missing docstring as ``module.Name``
or ``module.Class.method``: write a short Google-style docstring (with the math
where there is some) for each.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

import pytest

import tinygrad_mb

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "_ext"))
from public_api import private_reexports  # noqa: E402  (the docs' own definition of "public")
from public_api import public_modules as all_public_modules  # noqa: E402


def public_modules() -> list[str]:
    """Dotted names of every public module, the package itself first (``__main__`` is private)."""
    return ["tinygrad_mb", *all_public_modules(tinygrad_mb)]


def _defined_here(obj: object, module_name: str) -> bool:
    return getattr(obj, "__module__", None) == module_name


def _is_ours(obj: object, package: str) -> bool:
    return (getattr(obj, "__module__", None) or "").split(".")[0] == package


def _has_doc(obj: object) -> bool:
    doc = inspect.getdoc(obj)
    return bool(doc and doc.strip())


def _class_members(cls: type, package: str) -> list[tuple[str, object]]:
    """Public methods and properties written in this class's own body (or attached to it by tinygrad_mb)."""
    members = []
    for name, raw in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(raw, (staticmethod, classmethod)):
            members.append((name, raw.__func__))
        elif isinstance(raw, property):
            members.append((name, raw))
        elif inspect.isfunction(raw) and _is_ours(raw, package):
            members.append((name, getattr(cls, name)))  # bound lookup so getdoc can inherit
    return members


def undocumented(module_name: str, adopted: dict | None = None) -> list[str]:
    """``module.Name`` / ``module.Class.member`` for each public object lacking a docstring.

    ``adopted`` maps objects defined in private modules to the public module
    that exports them (and is checked as their home).
    """
    adopted = adopted or {}
    module = importlib.import_module(module_name)
    missing = [] if _has_doc(module) else [f"{module_name} (module docstring)"]
    for name, obj in vars(module).items():
        if name.startswith("_") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if not (_defined_here(obj, module_name) or adopted.get(obj) == module_name):
            continue
        if not _has_doc(obj) or (inspect.isclass(obj) and obj.__doc__ is None):
            # a class must say what it is itself; inheriting "Base class for ..." would mislead
            missing.append(f"{module_name}.{name}")
        if inspect.isclass(obj):
            for member_name, member in _class_members(obj, module_name.split(".")[0]):
                if isinstance(member, property):
                    ok = bool(member.__doc__ and member.__doc__.strip())
                else:
                    ok = _has_doc(member)
                if not ok:
                    missing.append(f"{module_name}.{name}.{member_name}")
    return missing


def test_package_has_public_modules():
    names = public_modules()
    for expected in ("tinygrad_mb.tensor", "tinygrad_mb.ops", "tinygrad_mb.backend", "tinygrad_mb.gradcheck"):
        assert expected in names


@pytest.mark.parametrize("module_name", public_modules())
def test_every_public_name_has_a_docstring(module_name):
    missing = undocumented(module_name, private_reexports(tinygrad_mb))
    assert not missing, "public names without a docstring (add a short Google-style one):\n  " + "\n  ".join(missing)


def test_the_check_notices_missing_docstrings(tmp_path, monkeypatch):
    """The checker itself works: a public function, class and method without docs are all reported."""
    pkg = tmp_path / "tinygrad_mb_docfixture"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""Fixture."""\n')
    (pkg / "mod.py").write_text(
        '"""A module."""\n'
        "import os\n"  # imported names are not ours
        "def documented():\n    '''Yes.'''\n"
        "def bare():\n    pass\n"
        "def _private():\n    pass\n"
        "class Thing:\n    '''A thing.'''\n"
        "    def method(self):\n        pass\n"
        "    def _helper(self):\n        pass\n"
        "    @property\n    def size(self):\n        return 1\n"
        "class Bare:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert sorted(undocumented("tinygrad_mb_docfixture.mod")) == [
        "tinygrad_mb_docfixture.mod.Bare",
        "tinygrad_mb_docfixture.mod.Thing.method",
        "tinygrad_mb_docfixture.mod.Thing.size",
        "tinygrad_mb_docfixture.mod.bare",
    ]
