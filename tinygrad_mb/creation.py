"""Functions that create tensors: zeros, ones, full, arange, eye, randn, rand and ``*_like``.

These are the only places (with initialisers and loaders) that must ask which
backend is current: everything else follows the arrays it is given. Random
numbers are always drawn on the CPU from a ``numpy.random.Generator`` and then
moved, so a seed gives the same tensor on NumPy and on CuPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_mb import backend as backends
from tinygrad_mb.tensor import Tensor


def _shape(shape: tuple) -> tuple:
    """Accept both ``zeros(2, 3)`` and ``zeros((2, 3))``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _make(array: Any, requires_grad: bool, backend_name: str | None) -> Tensor:
    return Tensor(array, requires_grad=requires_grad, backend=backend_name)


def full(shape, value: float, dtype: Any = "float32", requires_grad: bool = False,
         backend: str | None = None) -> Tensor:
    """A tensor of ``shape`` filled with ``value``."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return _make(_xp(backend).full(shape, value, dtype=dtype), requires_grad, backend)


def _xp(backend_name: str | None):
    return backends.get_array_module(backend_name or backends.get_backend())


def zeros(*shape, dtype: Any = "float32", requires_grad: bool = False, backend: str | None = None) -> Tensor:
    """A tensor of zeros, e.g. ``zeros(2, 3)``."""
    return _make(_xp(backend).zeros(_shape(shape), dtype=dtype), requires_grad, backend)


def ones(*shape, dtype: Any = "float32", requires_grad: bool = False, backend: str | None = None) -> Tensor:
    """A tensor of ones, e.g. ``ones(2, 3)``."""
    return _make(_xp(backend).ones(_shape(shape), dtype=dtype), requires_grad, backend)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False, backend: str | None = None) -> Tensor:
    """Evenly spaced values in [start, stop), like ``numpy.arange`` (float32 unless integer args)."""
    values = np.arange(start, stop, step)  # stop=None: ``start`` is the stop, as in NumPy
    if dtype is None:
        dtype = np.int64 if values.dtype.kind in "iu" else np.float32
    return _make(values.astype(dtype), requires_grad, backend)


def eye(n: int, m: int | None = None, dtype: Any = "float32", requires_grad: bool = False,
        backend: str | None = None) -> Tensor:
    """The n x m identity matrix (square when m is None)."""
    return _make(_xp(backend).eye(n, m, dtype=dtype), requires_grad, backend)


def randn(*shape, seed: int | np.random.Generator | None = None, dtype: Any = "float32",
          requires_grad: bool = False, backend: str | None = None) -> Tensor:
    """Standard normal samples N(0, 1), drawn on the CPU from ``seed`` (an int or a Generator)."""
    values = backends.as_rng(seed).standard_normal(_shape(shape)).astype(dtype)
    return _make(values, requires_grad, backend)


def rand(*shape, seed: int | np.random.Generator | None = None, dtype: Any = "float32",
         requires_grad: bool = False, backend: str | None = None) -> Tensor:
    """Uniform samples in [0, 1), drawn on the CPU from ``seed`` (an int or a Generator)."""
    values = backends.as_rng(seed).random(_shape(shape)).astype(dtype)
    return _make(values, requires_grad, backend)



def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape, dtype and backend of ``t``."""
    return _make(t.xp.zeros_like(t.data, dtype=dtype), requires_grad, t.backend)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape, dtype and backend of ``t``."""
    return _make(t.xp.ones_like(t.data, dtype=dtype), requires_grad, t.backend)


def full_like(t: Tensor, value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """``value`` everywhere, with the shape, dtype and backend of ``t``."""
    return _make(t.xp.full_like(t.data, value, dtype=dtype), requires_grad, t.backend)


def randn_like(t: Tensor, seed: int | np.random.Generator | None = None, requires_grad: bool = False) -> Tensor:
    """Normal samples with the shape, dtype and backend of ``t``."""
    return randn(*t.shape, seed=seed, dtype=t.dtype, requires_grad=requires_grad, backend=t.backend)


def rand_like(t: Tensor, seed: int | np.random.Generator | None = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples with the shape, dtype and backend of ``t``."""
    return rand(*t.shape, seed=seed, dtype=t.dtype, requires_grad=requires_grad, backend=t.backend)
