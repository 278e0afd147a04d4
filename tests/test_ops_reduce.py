"""Reductions over every kind of axis argument, with and without keepdims."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mb import Tensor, gradcheck
from tinygrad_mb.errors import ShapeError
from tinygrad_mb.testing import arrays, axes, distinct_arrays, shapes

REDUCTIONS = [
    ("sum", lambda x, ax, kd: x.sum(axis=ax, keepdims=kd), np.sum, arrays),
    ("mean", lambda x, ax, kd: x.mean(axis=ax, keepdims=kd), np.mean, arrays),
    ("var", lambda x, ax, kd: x.var(axis=ax, keepdims=kd), np.var, arrays),
    ("max", lambda x, ax, kd: x.max(axis=ax, keepdims=kd), np.max, distinct_arrays),
    ("min", lambda x, ax, kd: x.min(axis=ax, keepdims=kd), np.min, distinct_arrays),
]


@pytest.mark.parametrize("name, fn, ref, values", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
@given(data=st.data(), keepdims=st.booleans())
def test_reduction_forward_and_gradient(backend_name, name, fn, ref, values, data, keepdims):
    shape = data.draw(shapes(min_dims=0, max_dims=3))
    axis = data.draw(axes(len(shape)))
    a = data.draw(values(shape))
    x = Tensor(a, requires_grad=True, backend=backend_name)
    out = fn(x, axis, keepdims)
    expected = ref(a, axis=axis, keepdims=keepdims)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert gradcheck(lambda t: fn(t, axis, keepdims), x)
    np.testing.assert_array_equal(x.numpy(), a)


@given(data=st.data())
def test_var_with_ddof_matches_numpy(backend_name, data):
    shape = data.draw(shapes(min_dims=1, max_dims=3, min_side=2))
    axis = data.draw(axes(len(shape), allow_none=True))
    a = data.draw(arrays(shape))
    x = Tensor(a, requires_grad=True, backend=backend_name)
    np.testing.assert_allclose(x.var(axis=axis, ddof=1).numpy(), np.var(a, axis=axis, ddof=1), rtol=1e-10)
    assert gradcheck(lambda t: t.var(axis=axis, ddof=1), x)


def test_max_ties_share_the_gradient_equally():
    x = Tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]], requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[0, 0.5, 0.5], [1, 0, 0]])


@pytest.mark.parametrize("name", ["argmax", "argmin"])  # two tests: a copy-paste slip in one shows
@given(a=distinct_arrays(shapes(min_dims=1, max_dims=3)), data=st.data())
def test_argmax_and_argmin_match_numpy_and_have_no_graph(name, a, data):
    axis = data.draw(st.one_of(st.none(), st.integers(-a.ndim, a.ndim - 1)))
    x = Tensor(a, requires_grad=True)
    idx = getattr(x, name)(axis=axis)
    np.testing.assert_array_equal(idx.numpy(), getattr(np, name)(a, axis=axis))
    assert not idx.requires_grad and idx.dtype.kind == "i"
    assert not isinstance(idx.data, np.generic)  # also for axis=None: NumPy's scalar result made a 0-d array


def test_bad_axis_is_a_clear_shape_error():
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(ShapeError, match="axis 2 is out of range"):
        x.sum(axis=2)
    with pytest.raises(ShapeError, match="repeated axis"):
        x.mean(axis=(0, -2))


def test_max_of_a_nan_sends_the_gradient_to_the_nan_like_pytorch():
    x = Tensor([1.0, np.nan, 2.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0])


def test_numpy_integer_axes_and_the_axes_of_a_zero_dimensional_tensor():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    np.testing.assert_array_equal(x.sum(axis=np.int64(1)).numpy(), [3.0, 12.0])
    t = Tensor(2.0, requires_grad=True)
    for reduce in (lambda t: t.sum(axis=0), lambda t: t.max(axis=-1), lambda t: t.mean(axis=(0,))):
        out = reduce(t)
        assert out.shape == () and out.item() == 2.0
    t.mean(axis=0).backward()
    assert t.grad == 1.0
    with pytest.raises(ShapeError, match="axis 1 is out of range"):
        t.sum(axis=1)


def test_variance_without_degrees_of_freedom_is_as_in_numpy():
    # NumPy (and PyTorch) divide by max(n - ddof, 0): 0/0 is NaN, a positive sum over 0 is inf
    with np.errstate(invalid="ignore"):  # 0 * inf, warned about as NumPy's var warns
        assert np.isnan(Tensor([1.0]).var(ddof=1).item())
    assert Tensor([1.0, 3.0]).var(ddof=2).item() == np.inf
    assert Tensor([1.0, 3.0]).var(ddof=3).item() == np.inf
    assert Tensor([1.0, 3.0]).var(ddof=1).item() == pytest.approx(np.var([1.0, 3.0], ddof=1))


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_of_an_empty_tensor_along_a_non_empty_axis_is_empty_and_an_empty_axis_is_an_error(op):
    x = Tensor(np.ones((0, 3)), requires_grad=True)
    out = getattr(x, op)(axis=1)  # three candidates in each of zero rows: fine, as in NumPy
    assert out.shape == (0,)
    out.sum().backward()
    assert x.grad.shape == (0, 3)
    with pytest.raises(ShapeError, match=f"{op}: cannot reduce over axis 0 of length 0"):
        getattr(x, op)(axis=0)
    with pytest.raises(ShapeError, match="axis 0 of length 0"):
        getattr(x, op)()


@given(data=st.data())
def test_std_is_the_square_root_of_var_as_numpy_with_ddof(backend_name, data):
    shape = data.draw(shapes(min_dims=1, max_dims=3, min_side=2))
    axis = data.draw(axes(len(shape), allow_none=True))
    a = data.draw(distinct_arrays(st.just(shape)))
    ddof = data.draw(st.sampled_from([0, 1]))
    x = Tensor(a, requires_grad=True, backend=backend_name)
    np.testing.assert_allclose(x.std(axis=axis, ddof=ddof).numpy(), np.std(a, axis=axis, ddof=ddof), rtol=1e-10)
    assert gradcheck(lambda t: t.std(axis=axis, ddof=ddof, keepdims=True), x)


@given(data=st.data())
def test_logsumexp_matches_numpy_and_its_gradient_is_softmax(backend_name, data):
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    axis = data.draw(axes(len(shape), allow_none=True))
    keepdims = data.draw(st.booleans())
    a = data.draw(arrays(shape))
    x = Tensor(a, requires_grad=True, backend=backend_name)
    expected = np.log(np.sum(np.exp(a), axis=axis, keepdims=keepdims))
    # atol: the stable form keeps a tiny x of a one-element slice (log(exp(1e-136)) is 0 in floats)
    np.testing.assert_allclose(x.logsumexp(axis=axis, keepdims=keepdims).numpy(), expected, rtol=1e-10, atol=1e-12)
    assert gradcheck(lambda t: t.logsumexp(axis=axis, keepdims=keepdims), x)


def test_logsumexp_is_stable_for_large_and_all_minus_infinity_slices():
    x = Tensor(np.array([[1000.0, 1000.0, 0.0], [-np.inf, -np.inf, -np.inf]]), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = x.logsumexp(axis=1)
    np.testing.assert_allclose(out.numpy(), [1000.0 + np.log(2.0), -np.inf])
    out[0].backward()
    np.testing.assert_allclose(x.grad[0], [0.5, 0.5, 0.0])  # softmax of the row
    assert Tensor(np.float32([1.0, 2.0])).logsumexp().dtype == np.float32
