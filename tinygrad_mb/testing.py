"""Hypothesis strategies for property-testing ops and their gradients.

Property-based testing states a fact that must hold for *every* input ("the
analytic gradient equals the numeric one") and lets hypothesis search for an
input that breaks it, then shrink that input to a minimal example. These
strategies generate the inputs ops care about::

    from hypothesis import given
    from tinygrad_mb import gradcheck
    from tinygrad_mb.testing import arrays, shapes, tensors

    @given(tensors(shapes(max_dims=3)))
    def test_my_op_gradient(x):
        assert gradcheck(my_op, x)

Everything here needs ``hypothesis`` (installed with the ``dev`` extra); the
rest of tinygrad_mb does not import this module.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_mb.errors import HyperparameterError
from tinygrad_mb.tensor import Tensor

__all__ = [
    "shapes", "broadcastable_shapes", "axes", "arrays", "distinct_arrays", "tensors",
    "register_profiles",
]


def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 5) -> st.SearchStrategy:
    """Array shapes such as ``()``, ``(3,)``, ``(2, 1, 4)``; small sides keep gradchecks fast."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(num_shapes: int = 2, min_dims: int = 0, max_dims: int = 4,
                         max_side: int = 4) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    """Tuples of ``num_shapes`` shapes that broadcast together (e.g. ``(2, 1, 3)`` and ``(4, 3)``)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, max_side=max_side
    ).map(lambda b: b.input_shapes)


def axes(ndim: int, allow_none: bool = True, allow_tuple: bool = True,
         allow_negative: bool = True, allow_empty: bool = False) -> st.SearchStrategy:
    """Valid ``axis`` arguments for a tensor of rank ``ndim``: None, an int or a tuple of distinct ints.

    A 0-d tensor has no axis: it gets None and (), which NumPy accepts too. Only when
    neither is allowed does it get 0 and -1, which tinygrad_mb's reductions accept on
    a 0-d tensor as PyTorch does (NumPy refuses them), so the strategy is never empty.

    ``allow_empty=True`` adds the empty tuple ``()`` for ``ndim > 0`` as well: every
    reduction accepts it and reduces over nothing (``x.sum(axis=()) == x``). It is
    off by default because some reductions are undefined there: ``var(ddof=1)``
    divides by N - ddof = 0 and gives nan, as in NumPy.
    """
    options = []
    if allow_none:
        options.append(st.none())
    if ndim > 0:
        low = -ndim if allow_negative else 0
        options.append(st.integers(low, ndim - 1))
        if allow_tuple:
            options.append(
                st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).flatmap(
                    lambda ax: st.tuples(*[st.sampled_from([a, a - ndim] if allow_negative else [a])
                                           for a in ax])
                )
            )
            if allow_empty:
                options.append(st.just(()))
    elif allow_tuple:
        options.append(st.just(()))
    elif not allow_none:  # nothing else left: the ints a 0-d tensor accepts (see the docstring)
        options.append(st.sampled_from([0, -1] if allow_negative else [0]))
    return st.one_of(*options)


def arrays(shape: Any, dtype: Any = np.float64, min_value: float = -3.0, max_value: float = 3.0,
           positive: bool = False, avoid: float | list[float] | None = None,
           margin: float = 1e-2) -> st.SearchStrategy[np.ndarray]:
    """Well-conditioned float arrays: bounded, finite, optionally positive, away from kinks.

    Args:
        shape: a shape (an int for 1-d) or a strategy of shapes.
        dtype: a float dtype; an integer one (e.g. for the indices of a gather)
            draws the whole numbers in [min_value, max_value] instead.
        positive: only values >= max(min_value, margin) (for log, sqrt, division).
        avoid: points the values must stay more than ``margin`` away from, e.g. 0
            for relu or abs, whose derivative jumps there.

    The values are drawn from the allowed intervals directly, [low, a - margin) and
    (a + margin, max_value] around each avoided point a, rather than drawn from
    [low, max_value] and filtered: a filter would throw many examples away (all of
    them, for a wide margin) and make hypothesis give up.
    """
    # Python floats: NumPy numbers (avoid=x.mean(), an array of kinks) would make NumPy bools of the
    # comparisons below, which hypothesis refuses as exclude_min/exclude_max.
    avoided = [] if avoid is None else [float(a) for a in np.atleast_1d(np.asarray(avoid, dtype=np.float64))]
    min_value, max_value, margin = float(min_value), float(max_value), float(margin)
    low = max(min_value, margin) if positive else min_value
    kind = np.dtype(dtype).kind
    if kind in "iu":
        return _integer_arrays(shape, dtype, math.ceil(low), math.floor(max_value), avoided, margin)
    if kind != "f":
        raise HyperparameterError(f"arrays: dtype={np.dtype(dtype)} is not a number type; give a float dtype "
                                  "(or an integer one, for indices)")
    if low > max_value:  # checked here, in the caller's terms, not later by hypothesis in its own
        if low > min_value:
            raise HyperparameterError(f"arrays: positive=True keeps the values >= margin={margin:g}, above "
                             f"max_value={max_value:g}: raise max_value or lower margin")
        raise HyperparameterError(f"arrays: min_value={min_value:g} is above max_value={max_value:g}")
    # Cut (a - margin, a + margin) out of [low, max_value] for each avoided a, left to right.
    float_type = np.dtype(dtype).type
    pieces, start, open_start = [], low, False
    for a in sorted(avoided):
        if a - margin > max_value:  # this point, and every later one, lies above the range
            break
        if a - margin > start:
            pieces.append(_floats_between(start, a - margin, open_start, True, float_type))
        if a + margin >= start:
            start, open_start = a + margin, True
    if start <= max_value:
        pieces.append(_floats_between(start, max_value, open_start, False, float_type))
    pieces = [p for p in pieces if p is not None]
    if not pieces:
        raise HyperparameterError(f"arrays: every value in [{low:g}, {max_value:g}] is within margin={margin:g} of "
                         f"avoid={avoid}; widen the range or lower margin")
    return hnp.arrays(dtype=dtype, shape=shape, elements=st.one_of(*pieces))


def _floats_between(lo: float, hi: float, exclude_lo: bool, exclude_hi: bool, float_type: Any) -> Any:
    """Floats of ``float_type`` in the interval from lo to hi (each end open or closed); None if it holds none.

    The ends are moved inward to numbers of that width: drawn as float64 and then rounded to float32,
    a value could land on the wrong side of a bound or inside an avoided margin.
    """
    first, last = float_type(lo), float_type(hi)
    # Compared as float64: NumPy 2 would round the Python float to float32 first, and see 0.1 == float32(0.1).
    if float(first) < lo or (exclude_lo and float(first) == lo):
        first = np.nextafter(first, float_type(np.inf))
    if float(last) > hi or (exclude_hi and float(last) == hi):
        last = np.nextafter(last, float_type(-np.inf))
    if first > last:
        return None
    return st.floats(float(first), float(last), width=8 * np.dtype(float_type).itemsize)


def _integer_arrays(shape: Any, dtype: Any, low: int, high: int, avoided: list, margin: float) -> Any:
    """arrays() for an integer dtype: the whole numbers in [low, high] more than ``margin`` from each avoided point.

    The range is clipped to what the dtype holds (the default -3 has no uint8); the allowed numbers are
    listed and sampled, not drawn and filtered, for the reason :func:`arrays` gives.
    """
    info = np.iinfo(dtype)
    low, high = max(low, int(info.min)), min(high, int(info.max))
    if low > high:
        raise HyperparameterError(f"arrays: no whole number lies in [{low}, {high}] for dtype={np.dtype(dtype)}; "
                                  "widen min_value..max_value")
    if avoided and high - low <= 100_000:
        allowed = [n for n in range(low, high + 1) if all(abs(n - a) > margin for a in avoided)]
        if not allowed:
            raise HyperparameterError(f"arrays: every whole number in [{low}, {high}] is within margin={margin:g} "
                                      f"of avoid={avoided}; widen min_value..max_value or lower margin")
        return hnp.arrays(dtype=dtype, shape=shape, elements=st.sampled_from(allowed))
    elements = st.integers(low, high)
    if avoided:  # a range too wide to list: a few avoided points reject few draws
        elements = elements.filter(lambda n: all(abs(n - a) > margin for a in avoided))
    return hnp.arrays(dtype=dtype, shape=shape, elements=elements)


def distinct_arrays(shape: Any, dtype: Any = np.float64, spacing: float = 0.1) -> st.SearchStrategy[np.ndarray]:
    """Arrays whose values are at least ``spacing / 2`` apart: no near-ties for max/min/sort.

    Built from a random permutation of 0..n-1 (scaled by ``spacing``) plus a
    small jitter, so every pair of values differs by a clear margin.
    """
    if np.dtype(dtype).kind != "f" or not spacing > 0:
        raise HyperparameterError(f"distinct_arrays: needs a float dtype and spacing > 0, got dtype={np.dtype(dtype)}, "
                                  f"spacing={spacing!r}; integers would round the values into ties")
    if isinstance(shape, (int, np.integer)):  # like arrays(5): a 1-d shape
        shape = (int(shape),)
    shape_st = shape if isinstance(shape, st.SearchStrategy) else st.just(tuple(shape))

    def build(shp: tuple) -> st.SearchStrategy[np.ndarray]:
        n = int(np.prod(shp))
        jitter = hnp.arrays(np.float64, (n,), elements=st.floats(-spacing / 4, spacing / 4))
        return st.tuples(st.permutations(list(range(n))), jitter).map(
            lambda pj: ((np.asarray(pj[0], dtype=np.float64) - n / 2) * spacing + pj[1])
            .reshape(shp).astype(dtype)
        )

    return shape_st.flatmap(build)


def tensors(shape: Any = None, requires_grad: bool = True, dtype: Any = np.float64, backend: str | None = None,
            **array_kwargs: Any) -> st.SearchStrategy[Tensor]:
    """Tensors with values from :func:`arrays` (float64 by default, for gradcheck).

    ``backend`` ("numpy" or "cupy") places them; None, like ``Tensor(...)``, means
    the default backend when the example is drawn, so the same property test runs
    the op on the GPU once ``TINYGRAD_MB_BACKEND=cupy`` (or ``set_backend``) says so.
    """
    shape = shapes() if shape is None else shape
    return arrays(shape, dtype=dtype, **array_kwargs).map(
        lambda a: Tensor(a, requires_grad=requires_grad, backend=backend)
    )


def register_profiles() -> str:
    """Register the profiles ``dev``, ``ci`` and ``thorough`` and load ``$HYPOTHESIS_PROFILE``.

    ``dev`` is quick while editing, ``ci`` (CI's choice) is derandomized so a
    red build is reproducible, ``thorough`` searches much longer before a release.
    Returns the name of the profile loaded (``dev`` when the variable is unset).
    """
    # Gradchecks are slow by nature, and a fixture choosing the backend is constant per test.
    slow_ok = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
               HealthCheck.function_scoped_fixture]
    settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=slow_ok)
    settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True,
                              suppress_health_check=slow_ok, print_blob=True)
    settings.register_profile("thorough", max_examples=400, deadline=None, suppress_health_check=slow_ok)
    name = os.environ.get("HYPOTHESIS_PROFILE", "dev")
    settings.load_profile(name)
    return name
