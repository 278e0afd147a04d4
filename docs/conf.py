"""Sphinx configuration for the tinygrad_mb documentation site.

Build (offline, warnings are errors; this is what ``tests/test_docs.py`` runs)::

    sphinx-build -W --keep-going -b html docs docs/_build/html

Sphinx with MyST-NB: pages are Markdown (MyST), the notebooks in ``notebooks/``
are executed during the build and rendered with their outputs (their worked
answers, ``notebooks/solutions/``, are rendered as code, unexecuted), and the API
reference is generated from the docstrings (autodoc + autosummary + napoleon).
Nothing is downloaded at build time: no intersphinx inventories, no web fonts,
no widget JavaScript; and the reader's browser fetches nothing either:
MathJax is copied into the site by ``sphinx-mathjax-offline`` (see ``design.md``).
"""

from __future__ import annotations

import importlib
import inspect
import os
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document the checkout, not some installed copy
sys.path.insert(0, str(DOCS / "_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")  # figures drawn while importing or executing never open a window
# The notebook kernels inherit this: they import the checkout too, installed or not.
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)

import tinygrad_mb  # noqa: E402
from public_api import adopt_private_definitions, public_modules  # noqa: E402  (docs/_ext)

# ExerciseError lives in exercises/_common.py but is imported from tinygrad_mb.exercises:
# document it there (autodoc only documents what a module defines).
adopt_private_definitions(tinygrad_mb)

project = "tinygrad_mb"
author = "tinygrad_mb developers"
copyright = "tinygrad_mb developers, MIT licence"  # noqa: A001  (Sphinx's name)
release = tinygrad_mb.__version__
version = release

extensions = [
    "myst_nb",  # MyST Markdown pages + executed Jupyter notebooks
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",  # Google-style "Args:" / "Returns:" sections
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax served from the built site: formulas render without a network
    "sphinx.ext.viewcode",  # "[source]" links: the math sits next to the code
    "plain_math",  # docs/_ext: plain-text |x| in docstrings is not a reST substitution
    "summary_sentence",  # docs/_ext: summaries in API tables never end inside ``a literal``
    "cross_references",  # docs/_ext: ``train`` and ``tinygrad_mb.gd.train`` link to where train is defined
    "readable_defaults",  # docs/_ext: dataclass ``<factory>`` and ``<class ...>`` defaults written as code
]

exclude_patterns = ["_build", "**/.ipynb_checkpoints", "api/generated/_*"]
templates_path = ["_templates"]
html_static_path = ["_static"]

# --- look --------------------------------------------------------------------
# Furo: maintained, readable, light/dark, and self-contained (system fonts, no CDN).
html_theme = "furo"
html_title = f"tinygrad_mb {release}"
html_css_files = ["custom.css"]
html_theme_options = {"navigation_with_keys": True}
pygments_style = "friendly"
pygments_dark_style = "monokai"

# --- MyST ---------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# --- notebooks (MyST-NB) -------------------------------------------------------
# The notebooks are stored without outputs; every build runs them top to bottom,
# so a notebook that breaks breaks the docs build. TINYGRAD_MB_DOCS_EXECUTE=cache
# reuses outputs for unchanged notebooks while editing prose.
nb_execution_mode = os.environ.get("TINYGRAD_MB_DOCS_EXECUTE", "force")
nb_execution_cache_path = str(DOCS / "_build" / ".jupyter_cache")
nb_execution_timeout = 180  # seconds per cell
nb_execution_raise_on_error = True
# The worked answers (notebooks/solutions/, section "Solutions") are shown as code, not run again:
# the student versions above already show every output, and tests/test_notebooks.py runs both versions.
nb_execution_excludepatterns = ["notebooks/solutions/*.ipynb"]
nb_execution_show_tb = True
nb_merge_streams = True
nb_ipywidgets_js = {}  # no widgets here; keep require.js / widget JS (CDN) off every page

# --- API reference -------------------------------------------------------------
autosummary_generate = True
autosummary_ignore_module_all = True  # document where a name is defined, not every re-export
autodoc_default_options = {"member-order": "bysource", "show-inheritance": True, "ignore-module-all": True}
autodoc_typehints = "signature"  # types in the signature; "Args:" sections stay prose
autodoc_typehints_format = "short"
autodoc_preserve_defaults = False  # True trips over some signatures in Sphinx 9 ("pop from empty list")
autodoc_class_signature = "mixed"  # Tensor(data, requires_grad=False, ...) on the class line
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
add_module_names = False

# Offline on purpose: intersphinx is not enabled (it would download inventories),
# and no warning is suppressed: -W turns every one of them into an error.
# Nitpicky: a reference to a tinygrad_mb object that leads nowhere is a warning too,
# so a renamed function cannot leave dead links behind. Names from other libraries
# cannot be linked offline and are shown as plain code.
nitpicky = True
nitpick_ignore_regex = [
    ("py:.*", r"(numpy|np|collections|typing|types|os|argparse|contextlib|pathlib|hypothesis|cupy|matplotlib)(\..*)?"),
    ("py:class", r"(dict|list|tuple|set)\[.*"),  # napoleon splits "dict[str, Any]" of an Attributes: entry at the comma
]


# --- files that live outside docs/ ---------------------------------------------
def _sync(src_dir: Path, pattern: str, dst_dir: Path) -> None:
    """Mirror ``src_dir/pattern`` into ``dst_dir`` (copy changed files, drop stale ones).

    Sphinx only reads sources under ``docs/``; the notebooks stay where users
    open them (``notebooks/``) and are copied here at build time. Unchanged
    files keep their timestamps, so incremental builds stay incremental.
    """
    dst_dir.mkdir(parents=True, exist_ok=True)
    wanted = {p.name: p for p in sorted(src_dir.glob(pattern))} if src_dir.is_dir() else {}
    for old in dst_dir.glob(pattern):
        if old.name not in wanted:
            old.unlink()
    for name, src in wanted.items():
        dst = dst_dir / name
        if not dst.exists() or dst.read_bytes() != src.read_bytes():
            shutil.copyfile(src, dst)


_sync(ROOT / "notebooks", "*.ipynb", DOCS / "notebooks")  # the student versions, answers as stubs
_sync(ROOT / "notebooks" / "solutions", "*.ipynb", DOCS / "notebooks" / "solutions")  # the worked answers


def _write_if_changed(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _toplevel_table() -> str:
    """An autosummary of every name in ``tinygrad_mb.__all__``, linked to where it is defined."""
    lines = ["```{eval-rst}", ".. autosummary::", "   :nosignatures:", ""]
    for name in tinygrad_mb.__all__:
        obj = getattr(tinygrad_mb, name)
        if name.startswith("__"):
            continue
        if isinstance(obj, type(tinygrad_mb)):
            lines.append(f"   {obj.__name__}")
        else:
            lines.append(f"   {obj.__module__}.{obj.__qualname__}")
    lines.append("```")
    return "\n".join(lines) + "\n"


def _shadowed_modules() -> list[str]:
    """Public modules hidden behind a same-named attribute of their package.

    ``tinygrad_mb.gradcheck`` is both a module and, re-exported, the function
    ``gradcheck``; autosummary resolves the name to the function, so such
    modules get a plain ``automodule`` page written here instead.
    """
    names = []
    for name in public_modules(tinygrad_mb):
        module = importlib.import_module(name)
        parent, _, leaf = name.rpartition(".")
        if getattr(importlib.import_module(parent), leaf, module) is not module:
            names.append(name)
    return names


# The stubs are regenerated on every build, so a changed template or a removed
# module never leaves a stale page behind (autosummary only writes missing files).
GENERATED = DOCS / "api" / "generated"
shutil.rmtree(GENERATED, ignore_errors=True)
autosummary_generate_overwrite = False
_write_if_changed(GENERATED / "_toplevel.md", _toplevel_table())
for _name in _shadowed_modules():
    _title = _name.replace("_", r"\_")
    _write_if_changed(
        GENERATED / f"{_name}.rst",
        f"{_title}\n{'=' * len(_title)}\n\n.. automodule:: {_name}\n   :members:\n   :show-inheritance:\n",
    )


def _skip_inherited_docstring(app, what, name, obj, skip, options) -> bool | None:
    """Leave out methods that only repeat their base's docstring (every op's forward/backward).

    The math of each op is in its class docstring; the contract of ``forward``
    and ``backward`` is documented once, on :class:`tinygrad_mb.tensor.Function`
    (and ``Module.forward`` on :class:`tinygrad_mb.nn.module.Module`).
    """
    if what == "class" and inspect.isfunction(obj) and obj.__doc__ is None:
        return True
    return None


def setup(app) -> None:
    """Project hooks for autodoc."""
    app.connect("autodoc-skip-member", _skip_inherited_docstring)

