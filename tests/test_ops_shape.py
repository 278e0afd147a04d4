"""Shape ops: reshape, transpose/permute/.T, flatten, expand, squeeze, indexing, concatenate, stack."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mb import Tensor, concatenate, gradcheck, stack
from tinygrad_mb.errors import ShapeError
from tinygrad_mb.testing import arrays, shapes


def _check(fn, ref, a, backend_name):
    x = Tensor(a, requires_grad=True, backend=backend_name)
    out = fn(x)
    np.testing.assert_array_equal(out.numpy(), ref(a))
    assert gradcheck(fn, x)
    np.testing.assert_array_equal(x.numpy(), a)


@given(a=arrays(shapes(max_dims=4)))
def test_reshape(backend_name, a):
    _check(lambda x: x.reshape(-1), np.ravel, a, backend_name)
    _check(lambda x: x.reshape(*reversed(a.shape)), lambda v: v.reshape(tuple(reversed(a.shape))), a, backend_name)


@given(data=st.data())
def test_transpose_permute_and_T(backend_name, data):
    a = data.draw(arrays(shapes(max_dims=4)))
    perm = data.draw(st.permutations(list(range(a.ndim))))
    if len(perm) != 2:  # two axes mean "swap these two" (PyTorch), not a permutation (NumPy)
        _check(lambda x: x.transpose(*perm), lambda v: v.transpose(perm), a, backend_name)
    _check(lambda x: x.permute(perm), lambda v: v.transpose(perm), a, backend_name)
    _check(lambda x: x.T, lambda v: v.T, a, backend_name)
    if a.ndim >= 2:
        i, j = data.draw(st.tuples(st.integers(-a.ndim, a.ndim - 1), st.integers(-a.ndim, a.ndim - 1)))
        _check(lambda x: x.transpose(i, j), lambda v: np.swapaxes(v, i, j), a, backend_name)


@given(data=st.data())
def test_flatten(backend_name, data):
    a = data.draw(arrays(shapes(min_dims=1, max_dims=4)))
    start = data.draw(st.integers(0, a.ndim - 1))
    end = data.draw(st.integers(start, a.ndim - 1))
    expected_shape = a.shape[:start] + (int(np.prod(a.shape[start:end + 1])),) + a.shape[end + 1:]
    _check(lambda x: x.flatten(start, end), lambda v: v.reshape(expected_shape), a, backend_name)


@given(data=st.data())
def test_expand_and_broadcast_to_sum_the_gradient_back(backend_name, data):
    a = data.draw(arrays(shapes(max_dims=3, max_side=3)))
    target = data.draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)).copy()
    target = tuple(target) + tuple(n if n != 1 else data.draw(st.integers(1, 3)) for n in a.shape)
    _check(lambda x: x.broadcast_to(target), lambda v: np.broadcast_to(v, target), a, backend_name)
    keep = (-1,) * a.ndim
    _check(lambda x: x.expand(*target[: len(target) - a.ndim], *keep),
           lambda v: np.broadcast_to(v, target[: len(target) - a.ndim] + a.shape), a, backend_name)


@given(data=st.data())
def test_squeeze_and_unsqueeze(backend_name, data):
    a = data.draw(arrays(shapes(max_dims=4, max_side=2)))
    _check(lambda x: x.squeeze(), np.squeeze, a, backend_name)
    axis = data.draw(st.integers(-a.ndim - 1, a.ndim))
    _check(lambda x: x.unsqueeze(axis), lambda v: np.expand_dims(v, axis), a, backend_name)
    ones = [i for i, n in enumerate(a.shape) if n == 1]
    if ones:
        _check(lambda x: x.squeeze(ones[0]), lambda v: np.squeeze(v, ones[0]), a, backend_name)


def test_squeeze_of_a_non_unit_axis_is_an_error():
    with pytest.raises(ShapeError, match="axis 0 has size 2"):
        Tensor(np.ones((2, 1))).squeeze(0)


@given(data=st.data())
def test_getitem_basic_slices(backend_name, data):
    a = data.draw(arrays(shapes(min_dims=1, max_dims=3)))
    index = tuple(
        data.draw(st.one_of(st.slices(n), st.integers(-n, n - 1))) for n in a.shape
    )
    _check(lambda x: x[index], lambda v: v[index], a, backend_name)
    _check(lambda x: x[..., None], lambda v: v[..., None], a, backend_name)


@given(data=st.data())
def test_getitem_integer_arrays_accumulate_repeated_indices(backend_name, data):
    a = data.draw(arrays(shapes(min_dims=1, max_dims=3)))
    picks = data.draw(st.lists(st.integers(-a.shape[0], a.shape[0] - 1), min_size=1, max_size=6))
    _check(lambda x: x[np.array(picks)], lambda v: v[np.array(picks)], a, backend_name)


def test_repeated_index_gradient_counts_every_use():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 0.0, 1.0])


@given(data=st.data())
def test_getitem_boolean_mask(backend_name, data):
    a = data.draw(arrays(shapes(min_dims=1, max_dims=3)))
    mask = a > 0
    _check(lambda x: x[mask], lambda v: v[mask], a, backend_name)
    _check(lambda x: x[Tensor(mask, backend=backend_name)], lambda v: v[mask], a, backend_name)


@given(data=st.data())
def test_concatenate_and_stack(backend_name, data):
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    parts = []
    for _ in range(data.draw(st.integers(1, 3))):
        s = list(shape)
        s[axis] = data.draw(st.integers(1, 3))
        parts.append(data.draw(arrays(tuple(s))))
    xs = [Tensor(p, requires_grad=True, backend=backend_name) for p in parts]
    np.testing.assert_array_equal(concatenate(xs, axis=axis).numpy(), np.concatenate(parts, axis=axis))
    assert gradcheck(lambda *ts: concatenate(ts, axis=axis), *xs)

    same = [data.draw(arrays(shape)) for _ in range(len(parts))]
    new_axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    ys = [Tensor(p, requires_grad=True, backend=backend_name) for p in same]
    np.testing.assert_array_equal(stack(ys, axis=new_axis).numpy(), np.stack(same, axis=new_axis))
    assert gradcheck(lambda *ts: stack(ts, axis=new_axis), *ys)


def test_concatenate_shape_mismatch_names_the_op():
    with pytest.raises(ShapeError, match=r"Concatenate.*\(2, 3\).*\(2, 4\)"):
        concatenate([Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))], axis=0)


def test_reshape_to_another_number_of_elements_says_both_sizes():
    x = Tensor(np.zeros(6))
    with pytest.raises(ShapeError, match=r"reshape: cannot view shape \(6,\) \(6 elements\) as \(4, 2\).*-1"):
        x.reshape(4, 2)
    with pytest.raises(ShapeError, match=r"as \(4, -1\)"):
        x.reshape((4, -1))
    assert x.reshape(3, -1).shape == (3, 2)


def test_flatten_unsqueeze_and_expand_reject_axes_that_do_not_exist():
    x = Tensor(np.zeros((2, 3, 4)))
    with pytest.raises(ShapeError, match="flatten: axis 3 is out of range"):
        x.flatten(3)
    with pytest.raises(ShapeError, match="start_dim 2 comes after end_dim 1"):
        x.flatten(2, 1)
    with pytest.raises(ShapeError, match="unsqueeze: axis 5 is out of range"):
        x.unsqueeze(5)
    with pytest.raises(ShapeError, match="new leading axis"):
        Tensor(np.ones(3)).expand(-1, 3)
    with pytest.raises(ShapeError, match="fewer axes than the tensor"):
        x.expand(-1, 4)
    assert x.flatten(-2).shape == (2, 12)
    assert x.unsqueeze(3).shape == x.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert Tensor(np.ones(3)).expand(2, -1).shape == (2, 3)


def test_indexing_with_an_empty_list_selects_nothing():
    # e.g. the samples of a class that has none in this batch
    x = Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    picked = x[[]]
    assert picked.shape == (0, 4)
    (picked.sum() + x.sum()).backward()
    np.testing.assert_array_equal(x.grad, np.ones((3, 4)))


def test_joining_nothing_is_a_shape_error():
    with pytest.raises(ShapeError, match="concatenate: needs at least one tensor"):
        concatenate([])
    with pytest.raises(ShapeError, match="stack: needs at least one tensor"):
        stack([])


# --- found by mutation testing: behaviour no other test pinned down ---


def test_permuting_a_0d_tensor_by_an_axis_is_refused_with_a_shape_error():
    x = Tensor(1.0)
    with pytest.raises(ShapeError, match=r"axes \(0,\) are not a permutation of the 0 axes"):
        x.permute(0)  # (not a ZeroDivisionError from taking axis 0 modulo 0 dimensions)
    assert x.permute().shape == ()
