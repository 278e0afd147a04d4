"""Conv2d and MaxPool2d: forward against naive NumPy loops, gradients by gradcheck (float64)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_mb as tg
from tinygrad_mb.backend import to_numpy
import tinygrad_mb.nn.functional as F
from tinygrad_mb import nn
from tinygrad_mb.errors import HyperparameterError, ShapeError

RNG = np.random.default_rng(99)


def conv_reference(x, w, b, stride, padding):
    """Direct definition: out[n, o, p, q] = b[o] + sum_{c,i,j} w[o,c,i,j] * xpad[n, c, p*sh+i, q*sw+j]."""
    (sh, sw), (ph, pw) = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, _, h, wd = xp.shape
    oc, _, kh, kw = w.shape
    oh, ow = (h - kh) // sh + 1, (wd - kw) // sw + 1
    out = np.zeros((n, oc, oh, ow))
    for p in range(oh):
        for q in range(ow):
            patch = xp[:, :, p * sh:p * sh + kh, q * sw:q * sw + kw]
            out[:, :, p, q] = np.einsum("ncij,ocij->no", patch, w) + (0 if b is None else b)
    return out


def pool_reference(x, kernel, stride, padding):
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    oh, ow = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    out = np.empty((*x.shape[:2], oh, ow))
    for p in range(oh):
        for q in range(ow):
            out[:, :, p, q] = xp[:, :, p * sh:p * sh + kh, q * sw:q * sw + kw].max(axis=(2, 3))
    return out


CONV_CASES = [  # (N, C, H, W), out_channels, kernel, stride, padding
    ((2, 3, 6, 5), 4, (3, 3), (1, 1), (0, 0)),
    ((2, 2, 7, 6), 3, (3, 3), (2, 2), (1, 1)),
    ((1, 2, 5, 6), 2, (2, 3), (2, 1), (1, 0)),
    ((3, 1, 4, 4), 2, (1, 1), (1, 1), (0, 0)),
]


@pytest.mark.parametrize(("xshape", "oc", "kernel", "stride", "padding"), CONV_CASES)
def test_conv2d_forward_matches_the_definition(xshape, oc, kernel, stride, padding):
    x = RNG.standard_normal(xshape)
    w = RNG.standard_normal((oc, xshape[1], *kernel))
    b = RNG.standard_normal(oc)
    out = F.conv2d(tg.Tensor(x), tg.Tensor(w), tg.Tensor(b), stride=stride, padding=padding)
    np.testing.assert_allclose(out.data, conv_reference(x, w, b, stride, padding), rtol=1e-12, atol=1e-12)
    out = F.conv2d(tg.Tensor(x), tg.Tensor(w), stride=stride, padding=padding)
    np.testing.assert_allclose(out.data, conv_reference(x, w, None, stride, padding), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("xshape", "oc", "kernel", "stride", "padding"), CONV_CASES)
def test_conv2d_gradcheck(xshape, oc, kernel, stride, padding):
    layer = nn.Conv2d(xshape[1], oc, kernel, stride=stride, padding=padding, seed=0, dtype="float64")
    x = tg.Tensor(RNG.standard_normal(xshape), requires_grad=True)
    assert tg.gradcheck(lambda x, w, b: layer(x), x, layer.weight, layer.bias)


def test_conv2d_without_bias_and_input_without_grad():
    layer = nn.Conv2d(2, 3, 3, padding=1, bias=False, seed=0, dtype="float64")
    assert layer.bias is None and [n for n, _ in layer.named_parameters()] == ["weight"]
    x = tg.Tensor(RNG.standard_normal((2, 2, 4, 4)), requires_grad=True)
    assert tg.gradcheck(lambda x, w: layer(x), x, layer.weight)
    image = tg.Tensor(RNG.standard_normal((2, 2, 4, 4)))  # an input batch: needs no gradient
    layer(image).sum().backward()
    assert image.grad is None and layer.weight.grad.shape == (3, 2, 3, 3)


def test_conv2d_init_and_shapes():
    layer = nn.Conv2d(3, 8, (3, 5), seed=0)
    assert layer.weight.shape == (8, 3, 3, 5) and layer.bias.shape == (8,)
    bound = 1 / math.sqrt(3 * 3 * 5)  # PyTorch: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.bias.data).max() <= bound
    np.testing.assert_array_equal(nn.Conv2d(3, 8, (3, 5), seed=0).weight.data, layer.weight.data)
    out = layer(tg.Tensor(np.ones((2, 3, 10, 10), np.float32)))
    assert out.shape == (2, 8, 8, 6) and out.dtype == np.float32
    assert "kernel_size=(3, 5)" in repr(layer)


def test_conv2d_errors():
    layer = nn.Conv2d(3, 4, 3)
    with pytest.raises(ShapeError, match="weight expects 3 input channels, got 2"):
        layer(tg.Tensor(np.ones((1, 2, 5, 5), np.float32)))
    with pytest.raises(ShapeError, match="weight expects 3 input channels, got 2"):
        layer(tg.Tensor(np.ones((2, 5, 5), np.float32)))  # unbatched
    with pytest.raises(ShapeError, match="does not fit"):
        layer(tg.Tensor(np.ones((1, 3, 2, 2), np.float32)))
    with pytest.raises(HyperparameterError, match="stride"):
        nn.Conv2d(3, 4, 3, stride=0)
    with pytest.raises(HyperparameterError, match="kernel_size must be an int >= 1 or a pair of them, got 2.0"):
        nn.Conv2d(3, 4, 2.0)  # a float, not a sequence


POOL_CASES = [  # kernel, stride, padding
    ((2, 2), (2, 2), (0, 0)),
    ((3, 3), (2, 2), (1, 1)),
    ((3, 3), (1, 1), (1, 1)),  # overlapping windows: gradients add up at shared winners
    ((2, 3), (1, 2), (1, 1)),
]


@pytest.mark.parametrize(("kernel", "stride", "padding"), POOL_CASES)
def test_max_pool2d_forward_and_gradcheck(kernel, stride, padding):
    x = tg.Tensor(RNG.standard_normal((2, 3, 7, 6)), requires_grad=True)  # distinct values: no ties
    out = F.max_pool2d(x, kernel, stride, padding)
    np.testing.assert_array_equal(out.data, pool_reference(x.numpy(), kernel, stride, padding))
    assert tg.gradcheck(lambda x: F.max_pool2d(x, kernel, stride, padding), x)


def test_max_pool_layer_default_stride_and_tie_rule():
    pool = nn.MaxPool2d(2)
    assert pool.stride == (2, 2)
    x = tg.Tensor(np.ones((1, 1, 2, 2)), requires_grad=True)  # all tied: the first one wins, as in PyTorch
    pool(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [[[[1, 0], [0, 0]]]])
    with pytest.raises(HyperparameterError, match="at most half"):
        nn.MaxPool2d(2, padding=2)


def test_functional_max_pool_stride_defaults_to_the_kernel():
    # Catches F.max_pool2d defaulting to stride 1 (overlapping windows) when only the layer is checked.
    x = tg.Tensor(RNG.standard_normal((2, 3, 6, 4)))
    out = F.max_pool2d(x, 2)
    assert out.shape == (2, 3, 3, 2)
    np.testing.assert_array_equal(out.data, pool_reference(x.numpy(), (2, 2), (2, 2), (0, 0)))


def test_small_cnn_gradcheck_end_to_end():
    rng = np.random.default_rng(0)
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1, seed=rng, dtype="float64"), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * 3 * 3, 3, seed=rng, dtype="float64"),
    )
    x = tg.Tensor(rng.standard_normal((2, 1, 6, 6)))
    y = np.array([0, 2])
    assert tg.gradcheck(lambda *_: F.cross_entropy(model(x), y), *model.parameters())


def test_conv_on_backend(backend_name, on_backend):
    layer = nn.Conv2d(2, 3, 3, stride=2, padding=1, seed=0, backend=backend_name)
    ref = nn.Conv2d(2, 3, 3, stride=2, padding=1, seed=0, backend="numpy")
    x = RNG.standard_normal((2, 2, 5, 5)).astype(np.float32)
    xt = tg.Tensor(on_backend(x), requires_grad=True, backend=backend_name)
    out = F.max_pool2d(layer(xt), 2, padding=1)
    out.sum().backward()
    xr = tg.Tensor(x, requires_grad=True, backend="numpy")
    ref_out = F.max_pool2d(ref(xr), 2, padding=1)
    ref_out.sum().backward()
    np.testing.assert_allclose(out.numpy(), ref_out.data, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tg.backend.to_numpy(xt.grad), xr.grad, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tg.backend.to_numpy(layer.weight.grad), ref.weight.grad, rtol=1e-5, atol=1e-5)


@st.composite
def conv_configs(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))  # also valid for pooling
    h, w = draw(st.integers(max(1, kh - 2 * ph), 6)), draw(st.integers(max(1, kw - 2 * pw), 6))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    n, c, oc = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**16))
    return (n, c, h, w), oc, (kh, kw), stride, (ph, pw), seed


@given(conv_configs())
def test_conv2d_property_forward_and_gradient(config):
    xshape, oc, kernel, stride, padding, seed = config
    rng = np.random.default_rng(seed)
    x = tg.Tensor(rng.standard_normal(xshape), requires_grad=True)
    w = tg.Tensor(rng.standard_normal((oc, xshape[1], *kernel)), requires_grad=True)
    b = tg.Tensor(rng.standard_normal(oc), requires_grad=True)
    out = F.conv2d(x, w, b, stride, padding)
    np.testing.assert_allclose(out.data, conv_reference(x.numpy(), w.numpy(), b.numpy(), stride, padding), atol=1e-12)
    assert tg.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride, padding), x, w, b)


@given(conv_configs())
def test_max_pool2d_property_forward_and_gradient(config):
    xshape, _, kernel, stride, padding, seed = config
    x = tg.Tensor(np.random.default_rng(seed).standard_normal(xshape), requires_grad=True)
    out = F.max_pool2d(x, kernel, stride, padding)
    np.testing.assert_array_equal(out.data, pool_reference(x.numpy(), kernel, stride, padding))
    assert tg.gradcheck(lambda x: F.max_pool2d(x, kernel, stride, padding), x)


@pytest.mark.parametrize("dtype", [np.int64, np.uint8, np.bool_])
def test_max_pool_pads_integer_and_boolean_images_with_their_lowest_value(dtype):
    x = (np.arange(16).reshape(1, 1, 4, 4) % 7).astype(dtype)
    out = nn.MaxPool2d(2, padding=1)(tg.Tensor(x)).numpy()
    padded = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-1000)
    expected = padded.reshape(1, 1, 3, 2, 3, 2).max(axis=(3, 5))
    np.testing.assert_array_equal(out, expected.astype(dtype))
    assert out.dtype == dtype


@pytest.mark.parametrize(("xshape", "wshape", "bshape", "pattern"), [
    ((5, 5), (4, 3, 3, 3), None, "input must be \\(N, C, H, W\\) or one unbatched image \\(C, H, W\\), got shape"),
    ((1, 1, 3, 5, 5), (4, 3, 3, 3), None, "input must be .*got shape \\(1, 1, 3, 5, 5\\)"),
    ((1, 3, 5, 5), (4, 3, 3), None, "weight must be \\(out_channels, in_channels, kh, kw\\), got shape \\(4, 3, 3\\)"),
    ((1, 3, 5, 5), (4, 2, 3, 3), None, "weight expects 2 input channels, got 3"),
    ((1, 3, 5, 5), (4, 3, 3, 3), (3,), "bias must have shape \\(4,\\), one value per output channel, got shape \\(3,"),
    ((1, 3, 5, 5), (4, 3, 3, 3), (1,), "bias must have shape \\(4,\\)"),  # would broadcast silently
    ((1, 3, 5, 5), (4, 3, 3, 3), (4, 1), "bias must have shape \\(4,\\)"),
])
def test_conv2d_shape_errors_say_which_operand_is_wrong(xshape, wshape, bshape, pattern):
    bias = None if bshape is None else tg.Tensor(np.zeros(bshape))
    with pytest.raises(ShapeError, match=pattern) as err:
        F.conv2d(tg.Tensor(np.zeros(xshape)), tg.Tensor(np.zeros(wshape)), bias)
    assert "incompatible shapes" not in str(err.value)  # not NumPy's complaint about the im2col matrices


@pytest.mark.parametrize("op", ["conv2d", "max_pool2d", "Conv2d", "MaxPool2d"])
def test_unbatched_image_works_like_a_batch_of_one(op):
    # As in PyTorch: (C, H, W) -> (C_out, OH, OW), and the gradient reaches the 3-D input.
    w, b = tg.Tensor(RNG.standard_normal((4, 3, 3, 2))), tg.Tensor(RNG.standard_normal(4))
    fn = {"conv2d": lambda x: F.conv2d(x, w, b, (2, 1), (1, 0)),
          "max_pool2d": lambda x: F.max_pool2d(x, 3, (1, 2), 1),
          "Conv2d": nn.Conv2d(3, 4, 3, stride=2, padding=1, seed=0, dtype="float64"),
          "MaxPool2d": nn.MaxPool2d(3, 2, 1)}[op]
    image = RNG.standard_normal((3, 7, 6))
    x, batch = tg.Tensor(image, requires_grad=True), tg.Tensor(image[None], requires_grad=True)
    out, batched = fn(x), fn(batch)
    assert out.shape == batched.shape[1:]
    np.testing.assert_array_equal(out.data, batched.data[0])
    g = RNG.standard_normal(out.shape)
    (out * tg.Tensor(g)).sum().backward()
    (batched * tg.Tensor(g[None])).sum().backward()
    assert x.grad.shape == (3, 7, 6)
    np.testing.assert_allclose(x.grad, batch.grad[0], rtol=1e-12, atol=1e-12)
    assert tg.gradcheck(fn, tg.Tensor(image[:, :5, :4], requires_grad=True))


def test_conv2d_backward_skips_the_kernel_gradient_of_a_frozen_weight():
    x = tg.Tensor(RNG.standard_normal((2, 3, 5, 5)), requires_grad=True)
    w = tg.Tensor(RNG.standard_normal((4, 3, 3, 3)))  # frozen: requires_grad=False
    g = tg.Tensor(RNG.standard_normal((2, 4, 5, 5))).data  # on the default backend, as x
    dx, dw = F.conv2d(x, w, padding=1)._ctx.backward(g)
    assert dw is None  # not computed, not only dropped afterwards
    trained = tg.Tensor(w.data, requires_grad=True)
    np.testing.assert_allclose(to_numpy(dx), to_numpy(F.conv2d(x, trained, padding=1)._ctx.backward(g)[0]),
                               rtol=1e-12)


def test_max_pool_window_of_only_minus_inf_sends_its_gradient_to_the_first_real_element():
    # With padding, such a window ties with the -inf padding; PyTorch gives the gradient to the first
    # real element of the window, never to the padding, where it would be lost.
    x = tg.Tensor(np.full((1, 1, 2, 2), -np.inf), requires_grad=True)
    out = F.max_pool2d(x, 2, 2, padding=1)  # four windows, each holding one real element after padding
    np.testing.assert_array_equal(out.data, np.full((1, 1, 2, 2), -np.inf))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones((1, 1, 2, 2)))
    x = tg.Tensor(np.array([[[[-np.inf, 1.0], [-np.inf, -np.inf]]]]), requires_grad=True)
    F.max_pool2d(x, 3, 1, padding=1).sum().backward()  # windows holding the 1.0 send everything there
    np.testing.assert_array_equal(x.grad, [[[[0, 4], [0, 0]]]])


def test_conv_and_pool_match_pytorch_when_available():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    for shape in [(2, 3, 7, 6), (3, 7, 6)]:
        image, w, b = RNG.standard_normal(shape), RNG.standard_normal((4, 3, 3, 2)), RNG.standard_normal(4)
        x, wt, bt = (tg.Tensor(a, requires_grad=True) for a in (image, w, b))
        xr, wr, br = (torch.tensor(a, requires_grad=True) for a in (image, w, b))
        out, ref = F.conv2d(x, wt, bt, (2, 1), (1, 1)), tf.conv2d(xr, wr, br, (2, 1), (1, 1))
        pooled, ref_pooled = F.max_pool2d(out, 2, 1, 1), tf.max_pool2d(ref, 2, 1, 1)
        g = RNG.standard_normal(pooled.shape)
        (pooled * tg.Tensor(g)).sum().backward()
        ref_pooled.backward(torch.tensor(g))
        np.testing.assert_allclose(pooled.data, ref_pooled.detach().numpy(), rtol=1e-12, atol=1e-12)
        for mine, theirs in ((x, xr), (wt, wr), (bt, br)):
            np.testing.assert_allclose(mine.grad, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)
    minus_inf = np.array([[[[-np.inf, 1.0, -np.inf], [-np.inf] * 3, [2.0, -np.inf, -np.inf]]]])
    for kernel, stride in [(3, 1), (2, 1), (2, 2), (3, 2)]:
        x, xr = tg.Tensor(minus_inf, requires_grad=True), torch.tensor(minus_inf, requires_grad=True)
        F.max_pool2d(x, kernel, stride, 1).sum().backward()
        tf.max_pool2d(xr, kernel, stride, 1).sum().backward()
        np.testing.assert_array_equal(x.grad, xr.grad.numpy())


# --- found by mutation testing ------------------------------------------------------------------
@pytest.mark.parametrize("xshape", [(1, 1, 1, 4, 4), (16,)])
def test_conv2d_input_that_is_not_a_batch_of_flattened_images_gets_the_plain_reshape_hint(xshape):
    w = tg.Tensor(np.ones((2, 1, 3, 3)))
    with pytest.raises(ShapeError, match="x.reshape\\(1, 1, H, W\\) for a single grey image") as info:
        F.conv2d(tg.Tensor(np.ones(xshape)), w)
    assert "flattened" not in str(info.value)


@pytest.mark.parametrize("xshape", [(1, 1, 2, 5), (1, 1, 5, 2)])
def test_a_kernel_too_tall_or_too_wide_for_the_input_is_refused(xshape):
    with pytest.raises(ShapeError, match="kernel 3x3 does not fit"):
        F.conv2d(tg.Tensor(np.ones(xshape)), tg.Tensor(np.ones((1, 1, 3, 3))))
    with pytest.raises(ShapeError, match="window 3x3 does not fit"):
        F.max_pool2d(tg.Tensor(np.ones(xshape)), 3)


def test_functional_conv_and_pool_defaults_and_their_argument_checks():
    x = tg.Tensor(np.ones((1, 1, 5, 5)))
    assert F.conv2d(x, tg.Tensor(np.ones((1, 1, 3, 3)))).shape == (1, 1, 3, 3)  # stride 1, no padding
    for bad in ({"stride": 0}, {"stride": (1, 0)}):
        with pytest.raises(HyperparameterError, match="stride must be an int >= 1"):
            F.conv2d(x, tg.Tensor(np.ones((1, 1, 3, 3))), **bad)
    with pytest.raises(HyperparameterError, match="kernel_size must be an int >= 1"):
        F.max_pool2d(x, 0)
    with pytest.raises(HyperparameterError, match="stride must be an int >= 1"):
        F.max_pool2d(x, 2, stride=0)
    for padding in ((2, 0), (0, 2)):  # more than half a 3x3 window, in either direction
        with pytest.raises(HyperparameterError, match="at most half the kernel"):
            F.max_pool2d(x, 3, padding=padding)


def test_conv2d_channel_counts_must_be_positive_ints():
    # found by mutation testing: the check's `or` and `< 1` were not pinned down
    for bad in (0, -1, 1.5, "3"):
        with pytest.raises(HyperparameterError, match="in_channels must be a positive int"):
            nn.Conv2d(bad, 1, 3)
        with pytest.raises(HyperparameterError, match="out_channels must be a positive int"):
            nn.Conv2d(1, bad, 3)


def test_conv2d_bias_starts_in_plus_minus_one_over_the_root_of_the_fan_in():
    # PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_channels * kh * kw (a 2x5 kernel here)
    conv = nn.Conv2d(3, 400, (2, 5), seed=0)
    bias, bound = conv.bias.numpy(), 1 / np.sqrt(3 * 2 * 5)
    assert np.abs(bias).max() <= bound
    assert np.abs(bias).max() > 0.9 * bound and bias.std() > 0.5 * bound / np.sqrt(3)  # spread over the range


def test_conv2d_takes_positional_arguments_in_pytorchs_order():
    """Conv2d(3, 8, 3, 1, 1, 2) is dilation 2 in PyTorch: here it was bias=2, and groups=4 became a seed."""
    with pytest.raises(HyperparameterError, match=r"dilation=2, groups=1: only dilation=1 and groups=1"):
        nn.Conv2d(3, 8, 3, 1, 1, 2)
    with pytest.raises(HyperparameterError, match=r"dilation=1, groups=4"):
        nn.Conv2d(4, 4, 3, 1, 1, 1, 4)
    with pytest.raises(HyperparameterError, match=r"dilation=\(2, 1\)"):
        nn.Conv2d(4, 4, 3, dilation=(2, 1))
    with pytest.raises(HyperparameterError, match="bias must be True or False, got 5; pass seed= by name"):
        nn.Conv2d(4, 4, 3, 1, 1, 1, 1, 5)
    with pytest.raises(TypeError):  # seed, dtype and backend only by name
        nn.Conv2d(4, 4, 3, 1, 1, 1, 1, True, 0)
    layer = nn.Conv2d(4, 6, 3, 2, 1, 1, 1, False, seed=0)  # PyTorch's full positional list
    assert layer.bias is None and layer.stride == (2, 2) and layer.padding == (1, 1)
