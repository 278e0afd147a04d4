"""The public hypothesis strategies generate what they promise."""

import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis.errors import NoSuchExample
from hypothesis import strategies as st

from tinygrad_mb import Tensor
from tinygrad_mb.errors import HyperparameterError
from tinygrad_mb.testing import (
    arrays, axes, broadcastable_shapes, distinct_arrays, register_profiles, shapes, tensors,
)


@given(shape=shapes(min_dims=1, max_dims=3, max_side=4))
def test_shapes_respect_bounds(shape):
    assert 1 <= len(shape) <= 3 and all(1 <= n <= 4 for n in shape)


@given(pair=broadcastable_shapes(num_shapes=3))
def test_broadcastable_shapes_broadcast(pair):
    np.broadcast_shapes(*pair)  # raises if they do not


@given(data=st.data(), ndim=st.integers(0, 4))
def test_axes_are_valid_for_numpy(data, ndim):
    axis = data.draw(axes(ndim))
    np.sum(np.ones((2,) * ndim), axis=axis)  # raises on an invalid axis


@given(axis=axes(0, allow_none=False, allow_tuple=False))
def test_axes_of_a_zero_dimensional_tensor_are_not_an_empty_strategy(axis):
    assert axis in (0, -1)
    assert Tensor(2.0).sum(axis=axis).item() == 2.0  # accepted, as in PyTorch


@given(a=arrays(shapes(), positive=True, margin=0.5), b=arrays((5,), avoid=[0.0, 1.0], margin=0.1))
def test_arrays_positive_and_avoid(a, b):
    assert np.all(a >= 0.5) and a.dtype == np.float64
    assert np.all(np.abs(b) > 0.1) and np.all(np.abs(b - 1) > 0.1)


@given(t=tensors(shapes(max_dims=2)))
def test_tensors_are_float64_and_track_gradients(t):
    assert isinstance(t, Tensor) and t.requires_grad and t.dtype == np.float64


def test_tensors_follow_the_default_backend_unless_one_is_named():
    # A property test written once must run the op on the GPU when the backend switch says so.
    from tinygrad_mb import backend as backend_module

    seen = {}

    @settings(max_examples=3, database=None)
    @given(default=tensors(shapes(max_dims=1)), pinned=tensors(shapes(max_dims=1), backend="numpy"))
    def record(default, pinned):
        seen["default"], seen["pinned"] = default.backend, pinned.backend

    record()
    assert seen == {"default": backend_module.get_backend(), "pinned": "numpy"}
    with backend_module.use_backend("numpy"):  # chosen when the example is drawn, not when the strategy is made
        record()
    assert seen == {"default": "numpy", "pinned": "numpy"}


def test_tensors_leave_the_backend_to_tensor_unless_one_is_named(monkeypatch):
    # Without a GPU here the default backend is NumPy either way, so look at what tensors() asks for:
    # no backend (Tensor's default, which follows the switch) unless the test names one.
    import tinygrad_mb.testing as testing

    asked = []
    monkeypatch.setattr(testing, "Tensor", lambda a, requires_grad, backend: asked.append(backend))
    find(tensors((2,)), lambda t: True)
    find(tensors((2,), backend="numpy"), lambda t: True)
    assert set(asked) == {None, "numpy"} and asked[0] is None and asked[-1] == "numpy"


def test_profiles_are_registered(monkeypatch):
    for name in ("dev", "ci", "thorough"):
        monkeypatch.setenv("HYPOTHESIS_PROFILE", name)
        assert register_profiles() == name
        assert settings.get_profile(name).deadline is None
    assert settings.get_profile("ci").derandomize
    monkeypatch.undo()  # back to the profile this run was started with
    register_profiles()


@given(shapes_=broadcastable_shapes(num_shapes=3, min_dims=1, max_dims=2, max_side=3))
def test_broadcastable_shapes_respect_their_arguments(shapes_):
    # Catches num_shapes, the number of dimensions or max_side ignored.
    assert len(shapes_) == 3
    assert all(1 <= len(s) <= 2 and all(1 <= n <= 3 for n in s) for s in shapes_)


def test_broadcastable_shapes_do_not_all_come_out_equal():
    # Catches equal shapes only: they "broadcast", but leave the broadcasting code untested.
    assert find(broadcastable_shapes(), lambda p: p[0] != p[1])
    assert find(broadcastable_shapes(), lambda p: len(p[0]) != len(p[1]))


def test_shapes_include_0d_and_empty_ones_when_the_bounds_allow():
    # Catches () or a side of 0 never generated although min_dims=0 or min_side=0 asks for them.
    assert find(shapes(), lambda s: s == ()) == ()
    assert 0 in find(shapes(min_dims=1, min_side=0), lambda s: 0 in s)


def test_axes_include_negative_ones():
    # Catches negative axes never generated (as an int, or inside a tuple).
    assert find(axes(3), lambda a: isinstance(a, int) and a < 0) in (-3, -2, -1)
    assert find(axes(3), lambda a: isinstance(a, tuple) and min(a) < 0)


def test_axes_defaults_draw_none_and_every_single_axis_but_never_the_empty_tuple():
    # Catches allow_none off by default, a rank-1 tensor offered no int axis, axis 0 left out when
    # negatives are not allowed, and () drawn by default (var(ddof=1) over nothing is nan).
    assert find(axes(2), lambda a: a is None) is None
    assert find(axes(1), lambda a: a == 0) == 0
    assert find(axes(2, allow_negative=False), lambda a: a == 0) == 0
    assert find(axes(2, allow_negative=False), lambda a: isinstance(a, tuple) and 0 in a) == (0,)
    with pytest.raises(NoSuchExample):
        find(axes(3), lambda a: a == (), settings=settings(max_examples=300, database=None))


def test_broadcastable_shapes_include_0d_shapes_by_default():
    # Catches min_dims defaulting to 1: a 0-d operand (a scalar tensor) broadcasts against anything.
    assert () in find(broadcastable_shapes(), lambda p: () in p)


@given(axis=axes(3, allow_none=False, allow_tuple=False, allow_negative=False))
def test_axes_leave_out_what_is_not_allowed(axis):
    # Catches allow_none, allow_tuple or allow_negative ignored.
    assert isinstance(axis, int) and 0 <= axis < 3


@given(a=arrays((4,), dtype=np.float32, min_value=-1.0, max_value=2.0), b=arrays((3,), avoid=0.0, margin=0.5))
def test_arrays_respect_dtype_bounds_and_a_single_avoided_point(a, b):
    # Catches dtype, min_value or max_value ignored, and an avoid given as a number (not a list) ignored.
    assert a.dtype == np.float32 and np.all((a >= -1.0) & (a <= 2.0))
    assert np.all(np.abs(b) > 0.5)


def test_distinct_arrays_are_not_always_sorted():
    # Catches 0..n-1 used in order instead of permuted: max would always be the last element.
    assert find(distinct_arrays((4,)), lambda a: not np.all(np.diff(a) > 0)) is not None


@given(t=tensors((2,), requires_grad=False, dtype=np.float32, positive=True))
def test_tensors_pass_their_options_on(t):
    # Catches requires_grad, dtype or the arrays() options (here positive) dropped.
    assert not t.requires_grad and t.dtype == np.float32 and np.all(t.numpy() > 0)


def test_dev_is_the_default_profile_and_thorough_searches_longest(monkeypatch):
    # Catches another default profile, and profiles whose example counts are out of order.
    monkeypatch.delenv("HYPOTHESIS_PROFILE", raising=False)
    assert register_profiles() == "dev"
    dev, ci, thorough = (settings.get_profile(name).max_examples for name in ("dev", "ci", "thorough"))
    assert dev <= ci < thorough
    monkeypatch.undo()  # back to the profile this run was started with
    register_profiles()


@settings(suppress_health_check=[h for h in HealthCheck if h != HealthCheck.filter_too_much], max_examples=50)
@given(a=arrays((20,), avoid=[-1.0, 0.0, 1.0], margin=0.5),
       b=arrays((20,), min_value=-1.0, max_value=1.0, avoid=0.0, margin=0.9))
def test_avoid_draws_from_the_allowed_intervals_without_filtering(a, b):
    # Catches avoid= built with .filter: for b it threw away 9 values in 10 and failed the filter_too_much check.
    assert np.all(np.abs(a) > 1.5) and np.all(np.abs(b) > 0.9)


def test_impossible_bounds_are_refused_up_front_in_the_callers_terms():
    # Catches hypothesis's later complaint about a min_value of 0.01 that the caller never set.
    with pytest.raises(ValueError, match="positive=True keeps the values >= margin=0.01.*max_value=0.005"):
        arrays((3,), positive=True, max_value=0.005)
    with pytest.raises(ValueError, match="within margin=5 of avoid=0.0"):
        arrays((3,), avoid=0.0, margin=5)


def test_axes_can_include_the_empty_tuple():
    # Catches () never generated for ndim > 0: reductions accept it and reduce over nothing.
    assert find(axes(3, allow_empty=True), lambda a: a == ()) == ()
    x = Tensor(np.arange(6.0).reshape(2, 3))
    for name in ("sum", "mean", "var", "max", "min"):
        np.testing.assert_array_equal(getattr(x, name)(axis=()).numpy(), getattr(np, name)(x.numpy(), axis=()))


@given(a=distinct_arrays(5))
def test_distinct_arrays_accept_an_int_shape_like_arrays(a):
    # Catches tuple(5) failing: arrays(5) accepts an int, so distinct_arrays(5) must too.
    assert a.shape == (5,) and len(np.unique(a)) == 5


@settings(max_examples=30, deadline=None)
@given(arrays(6, dtype=np.int64, min_value=-2.5, max_value=3, avoid=0), arrays(4, dtype=np.uint8, positive=True))
def test_integer_arrays_draw_whole_numbers_in_range_away_from_avoided_points(idx, counts):
    # e.g. the indices of a gather: used to fail inside hypothesis ("1.5 cannot be represented as int64")
    assert idx.dtype == np.int64 and set(idx.tolist()) <= {-2, -1, 1, 2, 3}
    assert counts.dtype == np.uint8 and counts.min() >= 1 and counts.max() <= 3


def test_arrays_refuse_an_empty_integer_range_and_a_non_number_dtype():
    with pytest.raises(HyperparameterError, match=r"no whole number lies in \[1, 0\]"):
        arrays(3, dtype=np.int32, min_value=0.2, max_value=0.8)
    with pytest.raises(HyperparameterError, match="dtype=bool is not a number type"):
        arrays(3, dtype=bool)


def _drawn(strategy, n=80):
    """Every value of ``n`` examples of an array strategy, flattened, as float64."""
    found = []

    @settings(max_examples=n, database=None)
    @given(strategy)
    def collect(a):
        found.append(np.asarray(a, dtype=np.float64).ravel())

    collect()
    return np.concatenate(found)


def test_arrays_take_numpy_numbers_and_points_beyond_the_range():
    """avoid=np.float64(0) failed (NumPy bools to hypothesis); two avoided points above max_value crashed."""
    for kwargs in (dict(avoid=np.float64(0.0)), dict(avoid=np.array([0.0, 1.0])),
                   dict(avoid=0, max_value=np.float64(2)), dict(avoid=[10, 20])):
        values = _drawn(arrays((20,), **kwargs))
        assert -3.0 <= values.min() and values.max() <= float(kwargs.get("max_value", 3.0))
        for point in np.atleast_1d(kwargs["avoid"]):
            assert np.abs(values - point).min() > 1e-2


def test_float32_arrays_keep_their_bounds_and_margins_after_rounding():
    """Drawn as float64 and cast, a value could round onto the wrong side (0.1 -> 0.10000000149 > max_value)."""
    values = _drawn(arrays((50,), dtype=np.float32, min_value=-0.1, max_value=0.1, avoid=0.05, margin=0.01), 150)
    assert values.min() >= -0.1 and values.max() <= 0.1
    assert np.abs(values - 0.05).min() > 0.01


def test_integer_arrays_clip_to_the_dtype_and_sample_what_is_left():
    assert _drawn(arrays(5, dtype=np.uint8)).min() >= 0  # the default min_value -3: was an OverflowError
    left = _drawn(arrays((4,), dtype=np.int64, min_value=0, max_value=999, avoid=list(range(995))))
    assert set(left) <= {995.0, 996.0, 997.0, 998.0, 999.0}  # was a health-check failure (filtered away)


def test_distinct_arrays_refuse_what_would_tie():
    for kwargs in (dict(dtype=np.int64), dict(spacing=0), dict(spacing=-0.1)):
        with pytest.raises(HyperparameterError, match="needs a float dtype and spacing > 0"):
            distinct_arrays(5, **kwargs)
