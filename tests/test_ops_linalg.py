"""Matrix products, softmax / log_softmax and the fused linear and loss ops."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mb import Tensor, cross_entropy, gradcheck, linear, mse_loss
from tinygrad_mb.ops import nll_loss
from tinygrad_mb.errors import ShapeError
from tinygrad_mb.testing import arrays, axes, shapes


@st.composite
def matmul_shapes(draw):
    """Operand shapes NumPy's matmul accepts: 1-D, 2-D, and batched with broadcast batch axes."""
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kind = draw(st.sampled_from(["vv", "vm", "mv", "mm", "batched"]))
    if kind == "vv":
        return (k,), (k,)
    if kind == "vm":
        return (k,), draw(st.sampled_from([(k, m), (2, k, m)]))
    if kind == "mv":
        return draw(st.sampled_from([(n, k), (3, n, k)])), (k,)
    if kind == "mm":
        return (n, k), (k, m)
    batch_a = draw(st.sampled_from([(), (2,), (1,), (3, 1)]))
    batch_b = draw(st.sampled_from([(), (2,), (1,), (1, 2)]))
    return batch_a + (n, k), batch_b + (k, m)


@given(shapes_=matmul_shapes(), data=st.data())
def test_matmul_like_numpy(backend_name, shapes_, data):
    a, b = data.draw(arrays(shapes_[0])), data.draw(arrays(shapes_[1]))
    x = Tensor(a, requires_grad=True, backend=backend_name)
    y = Tensor(b, requires_grad=True, backend=backend_name)
    np.testing.assert_allclose((x @ y).numpy(), np.matmul(a, b), rtol=1e-10, atol=1e-12)
    assert gradcheck(lambda p, q: p @ q, x, y)


def test_matmul_shape_mismatch_names_op_and_shapes():
    with pytest.raises(ShapeError, match=r"MatMul.*\(2, 3\).*\(4, 5\)"):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5)))


def _np_log_softmax(a, axis):
    shifted = a - a.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


@given(data=st.data())
def test_softmax_and_log_softmax(backend_name, data):
    a = data.draw(arrays(shapes(min_dims=1, max_dims=3)))
    axis = data.draw(axes(a.ndim, allow_none=False, allow_tuple=False))
    x = Tensor(a, requires_grad=True, backend=backend_name)
    np.testing.assert_allclose(x.log_softmax(axis).numpy(), _np_log_softmax(a, axis), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.softmax(axis).numpy(), np.exp(_np_log_softmax(a, axis)), rtol=1e-10)
    assert gradcheck(lambda t: t.softmax(axis), x)
    assert gradcheck(lambda t: t.log_softmax(axis), x)


@pytest.mark.parametrize(("shape", "axis"), [((2, 0), 1), ((0, 3), 0), ((0, 3), 1)])
def test_softmax_of_no_numbers_is_no_numbers(shape, axis):
    # Catches the row max of an empty axis, which NumPy refuses to compute.
    for name in ("softmax", "log_softmax"):
        x = Tensor(np.zeros(shape), requires_grad=True)
        y = getattr(x, name)(axis)
        assert y.shape == shape
        y.sum().backward()
        assert x.grad.shape == shape


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_softmax_is_stable_for_huge_logits(scale):
    logits = Tensor([[scale, 0.0, -scale], [scale, scale, 0.0]], requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="ignore"):
        p = logits.softmax(axis=1)
        lp = logits.log_softmax(axis=1)
        (p.sum() + lp[:, 0].sum()).backward()
    assert np.all(np.isfinite(p.numpy())) and np.all(np.isfinite(logits.grad))
    np.testing.assert_allclose(p.numpy().sum(axis=1), 1.0, rtol=1e-6)
    assert np.isfinite(lp.numpy()[0, 0])
    loss = cross_entropy(logits, np.array([2, 2]))
    assert np.isfinite(loss.item())


@given(data=st.data(), bias=st.booleans(), lead=st.sampled_from([(), (3,), (2, 2)]))
def test_fused_linear_equals_x_at_w_transpose_plus_b(backend_name, data, bias, lead):
    n_in, n_out = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    x = Tensor(data.draw(arrays(lead + (n_in,))), requires_grad=True, backend=backend_name)
    w = Tensor(data.draw(arrays((n_out, n_in))), requires_grad=True, backend=backend_name)
    b = Tensor(data.draw(arrays((n_out,))), requires_grad=True, backend=backend_name) if bias else None
    expected = x.numpy() @ w.numpy().T + (b.numpy() if bias else 0)
    np.testing.assert_allclose(linear(x, w, b).numpy(), expected, rtol=1e-10, atol=1e-12)
    inputs = (x, w, b) if bias else (x, w)
    assert gradcheck(lambda *t: linear(*t), *inputs)


def test_linear_with_wrong_features_is_a_clear_error():
    with pytest.raises(ShapeError, match="input has 3 features"):
        linear(Tensor(np.ones((2, 3))), Tensor(np.ones((4, 5))))


@given(data=st.data(), reduction=st.sampled_from(["mean", "sum", "none"]))
def test_fused_cross_entropy(backend_name, data, reduction):
    n, c = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5))
    z = data.draw(arrays((n, c)))
    labels = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    logits = Tensor(z, requires_grad=True, backend=backend_name)
    y = Tensor(labels, backend=backend_name)
    per_sample = -_np_log_softmax(z, 1)[np.arange(n), labels]
    expected = {"mean": per_sample.mean(), "sum": per_sample.sum(), "none": per_sample}[reduction]
    np.testing.assert_allclose(cross_entropy(logits, y, reduction).numpy(), expected, rtol=1e-10)
    assert gradcheck(lambda t: cross_entropy(t, y, reduction), logits)


@given(data=st.data(), reduction=st.sampled_from(["mean", "sum", "none"]))
def test_nll_loss(backend_name, data, reduction):
    n, c = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5))
    logp = data.draw(arrays((n, c)))  # any numbers: the loss is linear in them, valid log-probabilities or not
    labels = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    x = Tensor(logp, requires_grad=True, backend=backend_name)
    y = Tensor(labels, backend=backend_name)
    per_sample = -logp[np.arange(n), labels]
    expected = {"mean": per_sample.mean(), "sum": per_sample.sum(), "none": per_sample}[reduction]
    np.testing.assert_allclose(nll_loss(x, y, reduction).numpy(), expected, rtol=1e-12)
    assert gradcheck(lambda t: nll_loss(t, y, reduction), x)


@given(data=st.data(), reduction=st.sampled_from(["mean", "sum", "none"]))
def test_mse_loss(backend_name, data, reduction):
    shape = data.draw(shapes(max_dims=3))
    p = Tensor(data.draw(arrays(shape)), requires_grad=True, backend=backend_name)
    t = Tensor(data.draw(arrays(shape)), requires_grad=True, backend=backend_name)
    sq = (p.numpy() - t.numpy()) ** 2
    expected = {"mean": sq.mean(), "sum": sq.sum(), "none": sq}[reduction]
    np.testing.assert_allclose(mse_loss(p, t, reduction).numpy(), expected, rtol=1e-10)
    assert gradcheck(lambda a, b: mse_loss(a, b, reduction), p, t)


def test_an_array_on_the_left_of_at_is_the_left_factor():
    # np_array @ tensor goes to Tensor.__rmatmul__; without the swap of operands it would compute
    # tensor @ array, a different product for matrices that do not commute
    m = np.array([[1.0, 2.0], [3.0, 4.0]])
    x = Tensor(np.array([[0.5, -1.0], [2.0, 1.0]]), requires_grad=True)  # where m goes too: the default backend
    out = m @ x
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.numpy(), m @ x.numpy())
    assert gradcheck(lambda t: m @ t, x)


def test_linear_gives_each_input_its_gradient_when_the_others_are_frozen(backend_name):
    # Linear.backward skips the gradients no input needs (needs_input_grad); asking about the wrong
    # input would leave x without a gradient when the weight is frozen (fine-tuning, saliency maps)
    rng = np.random.default_rng(0)
    values = [rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal(2)]
    for trainable in range(3):
        inputs = [Tensor(v, requires_grad=k == trainable, backend=backend_name) for k, v in enumerate(values)]
        assert gradcheck(lambda *t: linear(*t), *inputs)


def test_linear_with_a_column_major_weight_as_nn_linear_stores_it():
    # For a column-major weight, Linear.backward writes dW straight into a column-major array: a code
    # path of its own, which the C-order weights drawn above never reach
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((5, 3)), requires_grad=True, backend="numpy")
    w = Tensor(np.asfortranarray(rng.standard_normal((2, 3))), requires_grad=True, backend="numpy")
    assert w.data.flags.f_contiguous and not w.data.flags.c_contiguous
    assert gradcheck(lambda *t: linear(*t), x, w)
    g = rng.standard_normal((5, 2))
    linear(x, w).backward(g)
    np.testing.assert_allclose(w.grad, g.T @ x.numpy(), rtol=1e-12)
    assert w.grad.flags.f_contiguous


def test_linear_with_a_bias_that_broadcasts_gets_its_gradient_in_its_own_shape():
    # A (1, out_features) bias broadcasts in forward; its gradient used to be summed to (out_features,),
    # which the engine cannot fit back into (1, out_features): backward raised a BackwardError
    rng = np.random.default_rng(2)
    x, w, b = (Tensor(rng.standard_normal(shape), requires_grad=True) for shape in [(4, 3), (2, 3), (1, 2)])
    np.testing.assert_allclose(linear(x, w, b).numpy(), x.numpy() @ w.numpy().T + b.numpy(), rtol=1e-12)
    g = rng.standard_normal((4, 2))
    linear(x, w, b).backward(g)
    np.testing.assert_allclose(b.grad, g.sum(axis=0, keepdims=True), rtol=1e-12)
    assert gradcheck(lambda *t: linear(*t), x, w, b)


@pytest.mark.parametrize("bias_shape", [None, (2,), (1, 2), (1,)])
def test_linear_matches_pytorch_for_every_bias_shape(bias_shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    values = [rng.standard_normal((4, 3)), rng.standard_normal((2, 3))]
    values += [] if bias_shape is None else [rng.standard_normal(bias_shape)]
    ours = [Tensor(v, requires_grad=True) for v in values]
    theirs = [torch.tensor(v, requires_grad=True) for v in values]
    g = rng.standard_normal((4, 2))
    out = linear(*ours)
    expected = torch.nn.functional.linear(*theirs)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12)
    out.backward(g)
    expected.backward(torch.tensor(g))
    for mine, reference in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad, reference.grad.numpy(), rtol=1e-12)


# --- found by mutation testing: behaviour no other test pinned down ---


def test_linear_with_a_column_major_float32_weight_and_an_integer_input():
    # The column-major fast path writes dW with out=, which needs one dtype for x, g and W; an integer
    # batch (pixels, counts) must take the plain path
    x = np.arange(6).reshape(2, 3)  # int64
    w = Tensor(np.asfortranarray(np.ones((2, 3), np.float32)), requires_grad=True)
    out = linear(Tensor(x), w)
    assert out.dtype == np.float32
    out.backward(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32))
    # dW = g^T x = [[1, 3], [2, 4]] @ [[0, 1, 2], [3, 4, 5]]
    assert w.grad.dtype == np.float32 and w.grad.shape == (2, 3)
    np.testing.assert_array_equal(w.grad, [[9.0, 13.0, 17.0], [12.0, 18.0, 24.0]])
