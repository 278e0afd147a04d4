"""The public hypothesis strategies generate what they promise."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_mb import Tensor
from tinygrad_mb.testing import arrays, axes, broadcastable_shapes, register_profiles, shapes, tensors


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


def test_profiles_are_registered(monkeypatch):
    for name in ("dev", "ci", "thorough"):
        monkeypatch.setenv("HYPOTHESIS_PROFILE", name)
        assert register_profiles() == name
        assert settings.get_profile(name).deadline is None
    assert settings.get_profile("ci").derandomize
    monkeypatch.undo()  # back to the profile this run was started with
    register_profiles()
