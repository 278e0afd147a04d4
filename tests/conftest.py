"""Shared test set-up: hypothesis profiles, a non-interactive matplotlib, and the backend fixture.

Ops are tested on every backend: ``backend_name`` runs a test once on NumPy
and once on CuPy; the CuPy run is skipped, with the reason shown, where CuPy or
a GPU is missing.
"""

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")  # plots in tests and notebooks never open a window

from tinygrad_mb import backend  # noqa: E402
from tinygrad_mb.testing import register_profiles  # noqa: E402

register_profiles()

_CUPY_SKIP = pytest.mark.skipif(
    not backend.cupy_available(), reason=f"CuPy backend not usable here: {backend.cupy_unavailable_reason()}"
)
BACKEND_PARAMS = [backend.NUMPY, pytest.param(backend.CUPY, marks=[_CUPY_SKIP, pytest.mark.gpu])]


@pytest.fixture(params=BACKEND_PARAMS)
def backend_name(request):
    """Each backend in turn: "numpy", then "cupy" (skipped without a GPU)."""
    return request.param


@pytest.fixture
def on_backend(backend_name):
    """A function moving a NumPy array (or a list of them) to the backend under test."""

    def move(*arrays):
        moved = [backend.to_backend(a, backend_name) for a in arrays]
        return moved[0] if len(moved) == 1 else moved

    return move


def _compare_on_the_host(assertion):
    """``assertion`` with CuPy arrays copied to the host first (NumPy's testing functions refuse them)."""

    def host_assertion(*args, **kwargs):
        return assertion(*[backend.to_numpy(a) if backend.backend_of(a) == backend.CUPY else a for a in args],
                         **kwargs)

    return host_assertion


if os.environ.get(backend.ENV_VAR, "").strip().lower() == backend.CUPY:
    # The whole suite on CuPy (``TINYGRAD_MB_BACKEND=cupy``, the `.ci/gpu` suite stage): tensors
    # are made on the GPU, and the expected values are NumPy's; compare them on the host.
    import numpy as np  # noqa: E402

    for _name in ("assert_allclose", "assert_array_equal", "assert_array_almost_equal", "assert_equal",
                  "assert_array_less", "assert_almost_equal"):
        setattr(np.testing, _name, _compare_on_the_host(getattr(np.testing, _name)))
