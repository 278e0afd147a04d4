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
    if t.backend == "numpy":
        assert np.allclose(t, [1.5, -2.0]) and np.asarray(t, dtype=np.float64).dtype == np.float64
    else:  # a CuPy tensor refuses implicit conversion, as CuPy arrays do: no unnoticed GPU-to-host copy
        with pytest.raises(TypeError, match=r"call \.numpy\(\)"):
            np.asarray(t, dtype=np.float64)
        assert np.allclose(t.numpy(), [1.5, -2.0])
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


def test_a_list_of_gpu_values_says_stack_them(backend_name):
    # Catches CuPy's own TypeError ("implicit conversion to a NumPy array") from np.asarray of the list.
    a, b = tg.Tensor(1.0, backend=backend_name), tg.Tensor(2.0, backend=backend_name)
    if backend_name == "numpy":  # NumPy reads them as it reads numbers
        assert tg.Tensor([a, b]).tolist() == [1.0, 2.0] and tg.Tensor([[a.data], [b.data]]).shape == (2, 1)
        return
    for data in ([a, b], [a.data, b.data], [[1.0], [b.data]]):
        with pytest.raises(TypeError, match=r"list of GPU arrays or tensors.*tg.stack"):
            tg.Tensor(data)
    assert tg.stack([a, b]).tolist() == [1.0, 2.0]


def test_a_tensor_requiring_grad_owns_its_memory_and_a_plain_one_shares():
    xp = tg.backend.get_array_module(tg.get_backend())  # the caller's array lives on the default backend
    w0 = xp.asfortranarray(xp.zeros((2, 3), np.float32))
    p = Tensor(w0, requires_grad=True)
    plain = Tensor(w0)
    assert plain.data is w0  # no copy for data (like torch.as_tensor)
    assert not xp.shares_memory(p.data, w0) and p.data.flags.f_contiguous  # a copy, same layout
    from tinygrad_mb import optim

    p.grad = xp.ones((2, 3), np.float32)
    optim.SGD([p], lr=1.0).step()
    np.testing.assert_array_equal(w0, 0.0)  # training did not write into the caller's array
    np.testing.assert_array_equal(p.data, -1.0)


# --- in-place operators -------------------------------------------------------------------------
def test_in_place_operators_update_the_tensor_itself_outside_the_graph():
    w = Tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    memory = w.data
    with tg.no_grad():  # PyTorch's manual update: the same tensor, new values
        w -= 0.25 * w.grad
    assert w.is_leaf and w.requires_grad and w.data is memory
    np.testing.assert_array_equal(w.numpy(), [0.5, 1.0])
    x = Tensor([2.0, 4.0])  # nothing requires grad: in place even while recording
    same = x
    x += 1
    x *= Tensor([2.0, 1.0])
    x /= 2
    x -= np.array([1.0, 1.0])  # a float64 array: stored in x's float32
    assert x is same and x.dtype == np.float32 and x.tolist() == [2.0, 1.5]
    n = Tensor(np.zeros((2, 3), np.float32))
    n += Tensor([1.0, 2.0, 3.0])  # y may broadcast to x's shape
    assert n.tolist() == [[1.0, 2.0, 3.0]] * 2


def test_in_place_operators_on_an_indexed_part_write_into_the_tensor_outside_the_graph():
    """x[i] -= v is x[i] = x[i].__isub__(v): the write through the view happened, then the assignment was refused."""
    w = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    with tg.no_grad():
        w[:1] -= 1
        w[1] *= 5  # one element: a 0-d view, not a copied scalar
    assert w.tolist() == [0.0, 10.0, 3.0] and w.is_leaf
    x = Tensor(np.arange(6.0).reshape(2, 3))
    x[:, 1:] /= 2
    x[1, 2] += 100
    x[..., 0] -= 7
    assert x.tolist() == [[-7.0, 0.5, 1.0], [-4.0, 2.0, 102.5]]
    with pytest.raises(tg.ArgumentTypeError, match="cannot be assigned to by index"):
        x[[0]] += 1  # an integer-array index picks a copy: nothing reaches x, and it says so
    with pytest.raises(tg.ArgumentTypeError, match="cannot be assigned to by index"):
        x[:1] = x[1:2]  # a view of x, but of another part: a real assignment, still refused
    assert x.tolist() == [[-7.0, 0.5, 1.0], [-4.0, 2.0, 102.5]]
    w = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(tg.ArgumentTypeError, match=r"works in place inside `with tg.no_grad\(\):`"):
        w[:1] -= 1  # recording: the part is a new tensor, and w is left as it was
    assert w.tolist() == [1.0, 2.0, 3.0]
    y = (w[1] * 3).sum()
    y.backward()
    np.testing.assert_array_equal(w.grad, [0.0, 3.0, 0.0])


def test_in_place_on_a_broadcast_view_says_it_is_read_only():
    e = Tensor([1.0, 2.0]).expand(3, 2)  # every row is the same memory (found by its zero stride on CuPy)
    with pytest.raises(tg.ArgumentTypeError, match=r"x \+= y: x is read-only, a broadcast view.*x = x \+ y"):
        e += 1
    assert e.tolist() == [[1.0, 2.0]] * 3


def test_power_and_matmul_in_place_are_in_place_too():
    """x **= 2 and m @= a made new tensors: other names kept the old values, and a weight was swapped silently."""
    x = Tensor([1.0, 2.0])
    same = x
    x **= 2
    assert x is same and x.tolist() == [1.0, 4.0]
    m = Tensor(np.eye(2, dtype=np.float32))
    same = m
    m @= Tensor([[1.0, 2.0], [3.0, 4.0]])
    assert m is same and m.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    w = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(tg.BackwardError, match=r"x \*\*= y on a leaf tensor that requires grad"):
        w **= 2
    with pytest.raises(ShapeError, match=r"x @= y: the result has shape \(2, 3\).*x = x @ y"):
        m @= Tensor(np.ones((2, 3), np.float32))


def test_in_place_operators_refuse_a_trainable_leaf_while_recording():
    w = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(tg.BackwardError, match=r"leaf tensor that requires grad.*no_grad\(\).*optimizer"):
        w -= 0.1
    assert w.tolist() == [1.0, 2.0]


def test_in_place_operators_on_a_graph_result_record_the_op():
    a = Tensor([1.0, 2.0], requires_grad=True)
    y = a * 2
    before = y
    y += a  # a new tensor: the graph keeps the op
    assert y is not before and before.tolist() == [2.0, 4.0]
    c = Tensor([1.0, 1.0])
    c *= a  # a constant times a trainable tensor: recorded too
    (y + c).sum().backward()
    np.testing.assert_array_equal(a.grad, [4.0, 4.0])


def test_in_place_operators_keep_the_shape_and_kind_of_dtype():
    x = Tensor([1.0, 2.0])
    with pytest.raises(ShapeError, match=r"x \+= y: the result has shape \(3, 2\).*x = x \+ y"):
        x += np.ones((3, 2))
    counts = Tensor([1, 2])
    with pytest.raises(DTypeError, match=r"x /= y: the result is float32.*int64.*astype"):
        counts /= 2
    counts *= 3  # integers times integers stay integers
    assert counts.tolist() == [3, 6] and counts.dtype == np.int64 and x.tolist() == [1.0, 2.0]


def test_manual_gradient_descent_with_in_place_updates_trains():
    rng = np.random.default_rng(0)
    model = tg.nn.Linear(3, 1)
    X = Tensor(rng.standard_normal((64, 3)).astype(np.float32))
    Y = Tensor(rng.standard_normal((64, 1)).astype(np.float32))
    losses = []
    for _ in range(5):
        loss = tg.ops.mse_loss(model(X), Y)
        model.zero_grad()
        loss.backward()
        with tg.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
        losses.append(loss.item())
    assert all(later < earlier for earlier, later in zip(losses, losses[1:]))


# --- requires_grad -----------------------------------------------------------------------------
def test_requires_grad_can_change_only_on_float_leaves():
    counts = Tensor([1, 2, 3])
    with pytest.raises(DTypeError, match="floating-point.*astype"):
        counts.requires_grad = True
    assert not counts.requires_grad
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    with pytest.raises(tg.BackwardError, match=r"non-leaf.*Mul.*detach\(\)"):
        y.requires_grad = False
    y.requires_grad = True  # no change: fine
    assert y.requires_grad and x.requires_grad_(False) is x and not x.requires_grad
    assert Tensor([1.0]).requires_grad_().requires_grad


def test_requires_grad_set_later_copies_the_callers_array():
    from tinygrad_mb import optim

    xp = tg.backend.get_array_module(tg.get_backend())  # the caller's array lives on the default backend
    arr = xp.array([1.0, 2.0], np.float32)
    w = Tensor(arr)
    assert w.data is arr  # shared while it only holds data (like torch.as_tensor)
    w.requires_grad = True
    d = Tensor(arr).detach().requires_grad_()  # a detached view of the caller's array, too
    for t in (w, d):
        assert not xp.shares_memory(t.data, arr)
        (t * t).sum().backward()
        optim.SGD([t], lr=0.1).step()
    assert arr.tolist() == [1.0, 2.0]


def test_a_view_of_the_callers_array_is_copied_too(tmp_path):
    arr = np.memmap(tmp_path / "weights.bin", dtype=np.float32, mode="w+", shape=(2,))
    arr[:] = [1.0, 2.0]
    def shares(data):  # a memmap is host memory: copied to the GPU when the default backend is CuPy
        return tg.backend.backend_of(data) == "numpy" and np.shares_memory(data, arr)

    w = Tensor(arr, requires_grad=True)  # np.asarray(memmap) is a new object on the same memory
    assert not shares(w.data)
    late = Tensor(arr)
    late.requires_grad = True
    assert not shares(late.data)
    with tg.no_grad():  # training writes into the tensors' own memory, never the file's
        w -= 1.0
        late -= 1.0
    assert arr.tolist() == [1.0, 2.0]


def test_grad_is_an_array_and_numpy_is_the_tensors_own_array():  # as documented in Tensor's docstring
    w = Tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    assert type(w.grad) is type(w.data) and w.grad.dtype == w.dtype  # an array of the tensor's backend
    assert type(w.numpy()) is np.ndarray
    if w.backend == "numpy":
        assert np.shares_memory(w.numpy(), w.data)
    assert ".grad`` is an array" in Tensor.__doc__ and "not a copy" in Tensor.__doc__


def test_a_copy_keeps_a_subclass_s_own_attributes_and_is_no_view():
    import copy
    import pickle

    class Tagged(Tensor):  # a user's subclass, without __slots__: its attributes live in __dict__
        pass

    t = Tagged([1.0, 2.0])
    t.note = "kept"
    assert copy.deepcopy(t).note == "kept"  # (a local class cannot be pickled: copy only)
    base = Tensor(np.arange(6.0))
    view = base[1:4]
    for clone in (copy.deepcopy(view), pickle.loads(pickle.dumps(view))):
        assert getattr(clone, "_view_of", None) is None  # memory of its own: not tied to base (nor carrying it)
        assert clone.tolist() == [1.0, 2.0, 3.0]
