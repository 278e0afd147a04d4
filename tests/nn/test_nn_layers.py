"""Layers: forward against hand-written NumPy, gradients by gradcheck (float64), modes and seeds."""

import math

import numpy as np
import pytest

import tinygrad_mb as tg
import tinygrad_mb.nn.functional as F
from tinygrad_mb import nn
from tinygrad_mb.errors import DTypeError, HyperparameterError, ShapeError

RNG = np.random.default_rng(1234)


def t64(*shape, requires_grad=True, rng=RNG):
    return tg.Tensor(rng.standard_normal(shape), requires_grad=requires_grad)


def check_layer(layer, x):
    """gradcheck of a layer with respect to its input and every parameter."""
    params = list(layer.parameters())
    assert tg.gradcheck(lambda x, *_: layer(x), x, *params)


# --- Linear ----------------------------------------------------------------------------------
def test_linear_layout_forward_and_gradcheck():
    lin = nn.Linear(5, 3, seed=0, dtype="float64")
    assert lin.weight.shape == (3, 5) and lin.bias.shape == (3,)
    x = t64(4, 5)
    np.testing.assert_allclose(lin(x).data, x.data @ lin.weight.data.T + lin.bias.data, rtol=1e-12)
    check_layer(lin, x)
    check_layer(nn.Linear(5, 3, bias=False, seed=0, dtype="float64"), x)


def test_linear_default_init_is_pytorchs_uniform_bound():
    lin = nn.Linear(400, 300, seed=0)
    bound = 1 / math.sqrt(400)
    for p in (lin.weight, lin.bias):
        assert p.dtype == np.float32
        assert np.abs(p.data).max() <= bound
        assert np.abs(p.data).max() > 0.95 * bound  # really spread over the whole interval
    # variance of U(-b, b) is b^2 / 3
    assert lin.weight.numpy().var() == pytest.approx(bound**2 / 3, rel=0.02)


def test_linear_seed_is_reproducible_and_generators_chain():
    a, b, c = nn.Linear(4, 3, seed=7), nn.Linear(4, 3, seed=7), nn.Linear(4, 3, seed=8)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    assert not np.array_equal(a.weight.data, c.weight.data)
    rng1, rng2 = np.random.default_rng(0), np.random.default_rng(0)
    first, second = nn.Linear(2, 2, seed=rng1), nn.Linear(2, 2, seed=rng1)
    assert not np.array_equal(first.weight.data, second.weight.data)  # one generator, fresh numbers
    np.testing.assert_array_equal(nn.Linear(2, 2, seed=rng2).weight.data, first.weight.data)


def test_linear_takes_a_list_or_an_array_as_its_input():
    layer = nn.Linear(3, 2, seed=0)
    expected = layer(tg.Tensor(np.array([[1.0, 2.0, 3.0]], dtype=np.float32))).numpy()
    for given in ([[1.0, 2.0, 3.0]], np.array([[1.0, 2.0, 3.0]], dtype=np.float32)):
        out = layer(given)
        assert isinstance(out, tg.Tensor) and out.backend == layer.weight.backend
        np.testing.assert_array_equal(out.numpy(), expected)
    out.sum().backward()  # the input is a constant: only the parameters get gradients
    assert layer.weight.grad is not None


def test_linear_rejects_bad_sizes():
    with pytest.raises(HyperparameterError, match="in_features"):
        nn.Linear(0, 3)


def test_linear_on_backend(backend_name):
    lin = nn.Linear(3, 2, seed=0, backend=backend_name)
    ref = nn.Linear(3, 2, seed=0)
    np.testing.assert_array_equal(tg.backend.to_numpy(lin.weight.data), ref.weight.data)  # drawn on the CPU
    x = np.ones((2, 3), np.float32)
    out = lin(tg.Tensor(x, backend=backend_name))
    assert out.backend == backend_name
    np.testing.assert_allclose(out.numpy(), ref(tg.Tensor(x)).data, rtol=1e-6)


# --- activations -------------------------------------------------------------------------------
ACTIVATIONS = [
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (nn.Tanh(), np.tanh),
    (nn.Softmax(dim=1), lambda x: np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)),
    (nn.Softmax(dim=0), lambda x: np.exp(x) / np.exp(x).sum(axis=0, keepdims=True)),
    (nn.LogSoftmax(dim=-1), lambda x: x - np.log(np.exp(x).sum(axis=-1, keepdims=True))),
    (nn.LogSoftmax(dim=0), lambda x: x - np.log(np.exp(x).sum(axis=0, keepdims=True))),  # dim is not ignored
    (nn.Identity(), lambda x: x),
]


@pytest.mark.parametrize(("layer", "reference"), ACTIVATIONS, ids=lambda v: repr(v) if isinstance(v, nn.Module) else "")
def test_activation_forward_and_gradcheck(layer, reference):
    x = t64(4, 5)
    x.data[np.abs(x.data) < 1e-3] = 0.5  # stay away from the kink of (leaky) ReLU
    np.testing.assert_allclose(layer(x).data, reference(x.data), rtol=1e-12, atol=1e-12)
    assert tg.gradcheck(layer, x)


def test_functional_activations_match_layers():
    x = t64(3, 4)
    np.testing.assert_array_equal(F.relu(x).data, nn.ReLU()(x).data)
    np.testing.assert_array_equal(F.leaky_relu(x, 0.1).data, nn.LeakyReLU(0.1)(x).data)
    assert nn.LeakyReLU().negative_slope == 0.01  # PyTorch's default
    np.testing.assert_allclose(nn.LeakyReLU()(tg.Tensor([-2.0, 3.0])).numpy(), [-0.02, 3.0], rtol=1e-6)
    np.testing.assert_array_equal(F.sigmoid(x).data, nn.Sigmoid()(x).data)
    np.testing.assert_array_equal(F.tanh(x).data, nn.Tanh()(x).data)
    np.testing.assert_array_equal(F.softmax(x, dim=0).data, nn.Softmax(0)(x).data)
    np.testing.assert_allclose(F.log_softmax(x).data, np.log(F.softmax(x).data))
    w, b = t64(2, 4), t64(2)
    np.testing.assert_allclose(F.linear(x, w, b).data, x.data @ w.data.T + b.data)


# --- Flatten -----------------------------------------------------------------------------------
def test_flatten():
    x = t64(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Flatten(2)(x).shape == (2, 3, 20)
    np.testing.assert_array_equal(nn.Flatten()(x).data, x.data.reshape(2, -1))
    assert tg.gradcheck(nn.Flatten(), x)


# --- Dropout -----------------------------------------------------------------------------------
def test_dropout_gradcheck_with_a_fixed_mask():
    x = t64(6, 7)
    assert tg.gradcheck(lambda x: F.dropout(x, 0.4, training=True, seed=3), x)


def test_dropout_is_inverted_and_seeded():
    x = tg.Tensor(np.ones((200, 500)))
    out = F.dropout(x, 0.3, seed=0).numpy()
    kept = out != 0
    assert set(np.unique(out)) == {0.0, 1 / 0.7}
    assert kept.mean() == pytest.approx(0.7, abs=0.01)
    assert out.mean() == pytest.approx(1.0, abs=0.02)  # E[out] = x
    np.testing.assert_array_equal(F.dropout(x, 0.3, seed=0).data, out)
    # the mask multiplies the gradient too
    x = tg.Tensor(np.ones((3, 4)), requires_grad=True)
    y = F.dropout(x, 0.5, seed=1)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.data)


def test_dropout_layer_modes_and_generator():
    x = tg.Tensor(np.ones((10, 10), np.float32))
    a, b = nn.Dropout(0.5, seed=0), nn.Dropout(0.5, seed=0)
    first, second = a(x).data, a(x).data
    assert not np.array_equal(first, second)  # a fresh mask every call ...
    np.testing.assert_array_equal(b(x).data, first)  # ... but the same sequence from the same seed
    assert a.eval()(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert np.all(nn.Dropout(1.0)(x).data == 0)
    for bad in (1.5, None, "0.5"):
        with pytest.raises(HyperparameterError, match="p must be a number in \\[0, 1\\]"):
            nn.Dropout(bad)


# --- BatchNorm1d ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "pattern"), [
    ({"momentum": None}, "momentum=None .* not supported; pass a number in \\[0, 1\\]"),
    ({"momentum": 1.5}, "momentum must be a number in \\[0, 1\\], got 1.5"),
    ({"momentum": "0.1"}, "momentum must be a number"),
    ({"eps": 0}, "eps must be a number > 0"),
    ({"eps": None}, "eps must be a number > 0"),
])
def test_batchnorm_settings_are_checked_with_a_clear_message(kwargs, pattern):
    with pytest.raises(HyperparameterError, match=pattern):
        nn.BatchNorm1d(3, **kwargs)


def bn_reference(x, gamma, beta, eps=1e-5):
    axes = (0,) if x.ndim == 2 else (0, 2)
    shape = (1, -1) if x.ndim == 2 else (1, -1, 1)
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma.reshape(shape) + beta.reshape(shape)


@pytest.mark.parametrize("shape", [(6, 4), (5, 3, 7)])
def test_batchnorm_training_forward_running_stats_and_gradcheck(shape):
    bn = nn.BatchNorm1d(shape[1], dtype="float64")
    bn.weight.data[:] = RNG.standard_normal(shape[1])
    bn.bias.data[:] = RNG.standard_normal(shape[1])
    x = t64(*shape)
    out = bn(x)
    np.testing.assert_allclose(out.data, bn_reference(x.numpy(), bn.weight.numpy(), bn.bias.numpy()), rtol=1e-10,
                               atol=1e-12)
    axes = (0,) if x.ndim == 2 else (0, 2)
    m = x.size // shape[1]
    np.testing.assert_allclose(bn.running_mean.data, 0.1 * x.data.mean(axis=axes), rtol=1e-12)
    unbiased = x.data.var(axis=axes) * m / (m - 1)  # PyTorch keeps the unbiased running variance
    np.testing.assert_allclose(bn.running_var.data, 0.9 + 0.1 * unbiased, rtol=1e-12)
    check_layer(bn, x)


def test_batchnorm_eval_uses_running_stats_and_gradcheck():
    bn = nn.BatchNorm1d(3, dtype="float64")
    for _ in range(5):
        bn(t64(8, 3, requires_grad=False))
    bn.eval()
    x = t64(4, 3)
    expected = (x.data - bn.running_mean.data) / np.sqrt(bn.running_var.data + 1e-5) * bn.weight.data + bn.bias.data
    before = bn.running_mean.data.copy()
    np.testing.assert_allclose(bn(x).data, expected, rtol=1e-12)
    np.testing.assert_array_equal(bn.running_mean.data, before)  # eval does not update
    check_layer(bn, x)
    assert bn(t64(1, 3)).shape == (1, 3)  # one sample is fine in eval mode


def test_batchnorm_uses_its_own_eps_and_momentum():
    # Catches eps or momentum not reaching batch_norm: the defaults (1e-5, 0.1) would hide it.
    bn = nn.BatchNorm1d(3, eps=0.5, momentum=0.25, affine=False, dtype="float64")
    x = t64(6, 3)
    np.testing.assert_allclose(bn(x).data, bn_reference(x.numpy(), np.ones(3), np.zeros(3), eps=0.5), rtol=1e-10)
    np.testing.assert_allclose(bn.running_mean.data, 0.25 * x.data.mean(axis=0), rtol=1e-12)
    expected = (x.data - bn.running_mean.data) / np.sqrt(bn.running_var.data + 0.5)
    np.testing.assert_allclose(bn.eval()(x).data, expected, rtol=1e-12)


def test_batchnorm_without_affine_or_running_stats():
    bn = nn.BatchNorm1d(3, affine=False, track_running_stats=False, dtype="float64")
    assert list(bn.parameters()) == [] and list(bn.state_dict()) == []
    x = t64(5, 3)
    np.testing.assert_allclose(bn.eval()(x).data, bn_reference(x.numpy(), np.ones(3), np.zeros(3)), atol=1e-12)
    assert tg.gradcheck(bn, x)


@pytest.mark.parametrize("which", ["weight only", "bias only"])
def test_functional_batch_norm_with_only_a_weight_or_only_a_bias(which):
    x, gamma, beta = t64(5, 3), t64(3), t64(3)
    weight, bias = (gamma, None) if which == "weight only" else (None, beta)
    out = F.batch_norm(x, None, None, weight, bias, training=True)
    ones, zeros = np.ones(3), np.zeros(3)
    expected = bn_reference(x.numpy(), gamma.numpy() if weight is not None else ones,
                            beta.numpy() if bias is not None else zeros)
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12)
    given = weight if weight is not None else bias
    assert tg.gradcheck(lambda a, p: F.batch_norm(a, None, None, p if given is weight else None,
                                                  p if given is bias else None, training=True), x, given)


def test_functional_batch_norm_wants_both_running_statistics_or_neither():
    running_mean = tg.Tensor(np.zeros(3))
    with pytest.raises(HyperparameterError, match="running_mean and running_var must both"):
        F.batch_norm(t64(4, 3), running_mean, None, training=True)
    np.testing.assert_array_equal(running_mean.data, 0.0)  # untouched by the failed call


def test_batchnorm_errors_are_explained():
    bn = nn.BatchNorm1d(4)
    with pytest.raises(ShapeError, match="batch size >= 2.*eval"):
        bn(tg.Tensor(np.ones((1, 4), np.float32)))
    with pytest.raises(ShapeError, match="expected input \\(N, 4\\)"):
        bn(tg.Tensor(np.ones((3, 5), np.float32)))
    with pytest.raises(HyperparameterError, match="momentum"):
        nn.BatchNorm1d(4, momentum=2.0)


def test_dropout_needs_floats():
    with pytest.raises(DTypeError, match="dropout: needs a floating-point tensor, got dtype int64"):
        F.dropout(tg.Tensor(np.ones(10, dtype=np.int64)), p=0.3, seed=0)
