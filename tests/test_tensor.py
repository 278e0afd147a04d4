"""Creating tensors, their attributes, factories and conversions."""

import numpy as np
import pytest

import tinygrad_mb as tg
from tinygrad_mb import Tensor
from tinygrad_mb.errors import DTypeError, ShapeError


def test_from_python_data_defaults():
    assert Tensor(1.5).dtype == np.float32
    assert Tensor([[1.0, 2.0]]).dtype == np.float32
    assert Tensor([1, 2]).dtype == np.int64
    assert Tensor([True, False]).dtype == np.bool_
    assert Tensor([1, 2], dtype="float64").dtype == np.float64


def test_from_arrays_keeps_dtype_and_shares_nothing_surprising():
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = Tensor(a)
    assert t.dtype == np.float64 and t.shape == (2, 3) and t.ndim == 2 and t.size == 6
    assert t.backend == tg.backend.get_backend() and t.xp is tg.backend.get_array_module(t.backend)
    assert len(t) == 2
    assert Tensor(a, dtype="float32").dtype == np.float32


def test_only_float_tensors_can_require_grad():
    with pytest.raises(DTypeError, match="floating-point"):
        Tensor([1, 2], requires_grad=True)


def test_numpy_item_tolist_and_repr():
    t = Tensor([[1.0, 2.0]], requires_grad=True)
    assert isinstance(t.numpy(), np.ndarray)
    assert Tensor([3.5]).item() == 3.5
    assert t.tolist() == [[1.0, 2.0]]
    with pytest.raises(ShapeError, match="one element"):
        t.item()
    on = "" if tg.backend.get_backend() == "numpy" else f", backend={tg.backend.get_backend()!r}"
    assert repr(t) == f"Tensor([[1., 2.]], dtype=float32{on}, requires_grad=True)"
    assert "grad_fn=Mul" in repr(t * 2)


def test_astype_is_differentiable():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x.astype("float64")
    assert y.dtype == np.float64
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, [2.0, 4.0])


def test_to_same_backend_returns_itself():
    t = Tensor([1.0])
    assert t.to(tg.backend.get_backend()) is t
    n = Tensor([1.0], backend="numpy")
    assert n.to("numpy") is n


def test_factories():
    assert tg.zeros(2, 3).shape == (2, 3) and tg.zeros((2, 3)).numpy().sum() == 0
    assert tg.ones(4).numpy().sum() == 4
    assert tg.full((2, 2), 7.0).numpy().tolist() == [[7.0, 7.0], [7.0, 7.0]]
    assert tg.arange(5).dtype == np.int64 and tg.arange(0.0, 1.0, 0.25).dtype == np.float32
    assert tg.arange(10, step=2).tolist() == [0, 2, 4, 6, 8]  # a stop and a step, as numpy.arange
    assert tg.full(np.int64(3), 1.0).shape == (3,)
    np.testing.assert_array_equal(tg.eye(3).numpy(), np.eye(3))
    like = Tensor(np.ones((2, 5), dtype=np.float64))
    assert tg.zeros_like(like).dtype == np.float64 and tg.ones_like(like).shape == (2, 5)
    assert tg.full_like(like, 3.0).numpy().max() == 3.0
    assert tg.zeros(2, requires_grad=True).requires_grad


def test_random_factories_are_seeded_and_leave_global_state_alone():
    state = np.random.get_state()[1].copy()
    a, b = tg.randn(3, 4, seed=0), tg.randn(3, 4, seed=0)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert a.dtype == np.float32
    rng = np.random.default_rng(1)
    c, d = tg.rand(5, seed=rng), tg.rand(5, seed=rng)  # one generator: a stream, not repeats
    assert not np.array_equal(c.numpy(), d.numpy())
    assert (0 <= c.numpy()).all() and (c.numpy() < 1).all()
    assert tg.randn_like(a, seed=0).shape == a.shape and tg.rand_like(a, seed=3).shape == a.shape
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    with pytest.raises(TypeError, match="seed must be"):
        tg.randn(2, seed="x")


def test_a_matrix_transposes_with_axes_0_1_as_in_pytorch():
    m = tg.Tensor([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(m.transpose(0, 1).numpy(), [[1.0, 3.0], [2.0, 4.0]])  # NumPy: unchanged
    np.testing.assert_array_equal(m.permute(0, 1).numpy(), m.numpy())  # permute is a permutation
    assert tg.Tensor(np.zeros((2, 3, 4))).transpose(1, 2).shape == (2, 4, 3)


def test_python_and_numpy_conversions():
    t = tg.Tensor([1.5, -2.0])
    assert float(tg.Tensor(2.5)) == 2.5 and int(tg.Tensor(3)) == 3 and [10, 20, 30][tg.Tensor(1)] == 20
    assert np.allclose(t, [1.5, -2.0]) and np.asarray(t, dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(abs(t).numpy(), [1.5, 2.0])
    assert (+t) is t
    assert [x.item() for x in t] == [1.5, -2.0]
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        list(tg.Tensor(5.0))
    with pytest.raises(TypeError, match=r"len\(\) of a 0-d tensor.*\.item\(\)"):
        len(tg.Tensor(5.0))
    assert len(t) == 2 and bool(tg.Tensor([3.0])) and not tg.Tensor(0.0)
    for several in ([1.0, 2.0], np.zeros(0)):
        with pytest.raises(ValueError, match=r"truth value of a tensor with \d elements is ambiguous.*item\(\)"):
            bool(tg.Tensor(several))
    with pytest.raises(TypeError, match="only integer tensors"):
        [1, 2][tg.Tensor(1.0)]
    assert isinstance(np.ones(2) + t, tg.Tensor)  # NumPy on the left still gives a Tensor


@pytest.mark.parametrize("data", [None, [1.0, None], "abc"])
def test_data_that_is_not_numbers_is_refused(data):
    with pytest.raises(DTypeError, match="cannot make a tensor of"):
        tg.Tensor(data)


def test_a_tensor_requiring_grad_owns_its_memory_and_a_plain_one_shares():
    w0 = np.asfortranarray(np.zeros((2, 3), np.float32))
    p = Tensor(w0, requires_grad=True)
    plain = Tensor(w0)
    assert plain.data is w0  # no copy for data (like torch.as_tensor)
    assert not np.shares_memory(p.data, w0) and p.data.flags.f_contiguous  # a copy, same layout
    from tinygrad_mb import optim

    p.grad = np.ones((2, 3), np.float32)
    optim.SGD([p], lr=1.0).step()
    np.testing.assert_array_equal(w0, 0.0)  # training did not write into the caller's array
    np.testing.assert_array_equal(p.data, -1.0)
