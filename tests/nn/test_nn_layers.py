"""Layers: forward against hand-written NumPy, gradients by gradcheck (float64), modes and seeds."""

import math

import numpy as np
import pytest

import tinygrad_mb as tg
from tinygrad_mb.backend import backend_of, to_backend, to_numpy
import tinygrad_mb.nn.functional as F
from tinygrad_mb import nn
from tinygrad_mb.errors import DTypeError, HyperparameterError, ShapeError, StateDictError

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
    # both signs, spread like U(-b, b): mean near 0 (found by mutation testing: U(b, b) is constant)
    assert lin.bias.numpy().min() < -0.9 * bound and abs(lin.bias.numpy().mean()) < 0.2 * bound


def test_softmax_and_dropout_defaults_are_pytorchs():
    x = tg.Tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_allclose(nn.Softmax()(x).numpy().sum(axis=-1), [1.0, 1.0])  # dim=-1, the classes
    assert nn.Dropout().p == 0.5


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
    ({"momentum": 1.5}, "momentum must be a number in \\[0, 1\\] or None \\(a cumulative average\\), got 1.5"),
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
    for p in (bn.weight, bn.bias):  # drawn on the CPU, written on the layer's backend (CuPy refuses NumPy here)
        p.data[:] = to_backend(RNG.standard_normal(shape[1]), backend_of(p.data))
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
    assert bn.num_batches_tracked.data == 0  # a failed call counts no batch
    with pytest.raises(ShapeError, match="expected input \\(N, 4\\)"):
        bn(tg.Tensor(np.ones((3, 5), np.float32)))
    with pytest.raises(HyperparameterError, match="momentum"):
        nn.BatchNorm1d(4, momentum=2.0)


def test_dropout_needs_floats():
    with pytest.raises(DTypeError, match="dropout: needs a floating-point tensor, got dtype int64"):
        F.dropout(tg.Tensor(np.ones(10, dtype=np.int64)), p=0.3, seed=0)


@pytest.mark.parametrize("layer", [nn.BatchNorm1d(4, track_running_stats=False), None])
def test_batch_of_one_error_suggests_eval_only_where_eval_would_help(layer):
    # Without running statistics, eval mode still normalises with the batch's: it would fail the same way.
    x = tg.Tensor(np.ones((1, 4), np.float32))
    with pytest.raises(ShapeError, match="use a batch size >= 2") as err:
        layer(x) if layer is not None else F.batch_norm(x, None, None, training=True)
    assert "eval" not in str(err.value)


@pytest.mark.parametrize(("kwargs", "error", "pattern"), [
    ({"running_mean": np.zeros(4)}, ShapeError, "running_mean has shape \\(4,\\), expected \\(3,\\)"),
    ({"running_var": np.ones((3, 1))}, ShapeError, "running_var has shape \\(3, 1\\), expected \\(3,\\)"),
    ({"weight": np.ones(5)}, ShapeError, "weight has shape \\(5,\\), expected \\(3,\\)"),
    ({"bias": np.ones(1)}, ShapeError, "bias has shape \\(1,\\), expected \\(3,\\)"),  # would broadcast
    ({"momentum": 1.5}, HyperparameterError, "momentum must be a number in \\[0, 1\\], got 1.5"),
    ({"momentum": None}, HyperparameterError, "momentum must be a number in \\[0, 1\\], got None"),
    ({"eps": 0}, HyperparameterError, "eps must be a number > 0"),
])
def test_functional_batch_norm_checks_everything_before_touching_the_running_statistics(kwargs, error, pattern):
    args = {"running_mean": np.zeros(3), "running_var": np.ones(3), "weight": np.ones(3), "bias": np.zeros(3)}
    args.update({k: v for k, v in kwargs.items() if k in args})
    tensors = {k: tg.Tensor(v) for k, v in args.items()}
    settings = {k: v for k, v in kwargs.items() if k not in args}
    for training in (True, False):
        with pytest.raises(error, match=pattern):
            F.batch_norm(t64(4, 3), training=training, **tensors, **settings)
        np.testing.assert_array_equal(tensors["running_mean"].data, args["running_mean"])  # untouched
        np.testing.assert_array_equal(tensors["running_var"].data, args["running_var"])


def test_functional_batch_norm_wants_running_statistics_it_can_update_in_place():
    with pytest.raises(TypeError, match="running_mean must be a Tensor or None, got a ndarray"):
        F.batch_norm(t64(4, 3), np.zeros(3), tg.Tensor(np.ones(3)), training=True)


def test_functional_batch_norm_writes_the_running_statistics_only_after_the_op_succeeded(monkeypatch):
    from tinygrad_mb.nn import normalization

    def fail(*args, **kwargs):
        raise RuntimeError("op failed")

    monkeypatch.setattr(normalization.BatchNormFn, "apply", fail)
    running_mean, running_var = tg.Tensor(np.zeros(3)), tg.Tensor(np.ones(3))
    with pytest.raises(RuntimeError, match="op failed"):
        F.batch_norm(t64(4, 3), running_mean, running_var, training=True)
    np.testing.assert_array_equal(running_mean.data, 0.0)
    np.testing.assert_array_equal(running_var.data, 1.0)


def test_batchnorm_counts_its_training_batches_like_pytorch():
    bn = nn.BatchNorm1d(3)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    count = bn.num_batches_tracked
    assert count.shape == () and count.dtype == np.int64 and not count.requires_grad
    with tg.no_grad():  # counted like the running statistics, with or without a graph
        bn(t64(4, 3))
    bn(t64(4, 3, 2))
    bn.eval()(t64(4, 3))  # eval mode counts nothing
    assert bn.num_batches_tracked is count and count.data == 2  # in place: the same buffer
    bn.to(dtype="float64")
    assert count.dtype == np.int64 and bn.running_mean.dtype == np.float64  # a count stays an integer
    assert "num_batches_tracked" not in nn.BatchNorm1d(3, track_running_stats=False).state_dict()


def test_batchnorm_momentum_none_keeps_the_cumulative_average_of_the_batch_statistics():
    bn = nn.BatchNorm1d(3, momentum=None, dtype="float64")
    batches = [t64(5, 3, requires_grad=False) for _ in range(4)]
    for x in batches:
        bn(x)
    means = [to_numpy(x.data).mean(axis=0) for x in batches]
    variances = [to_numpy(x.data).var(axis=0, ddof=1) for x in batches]  # unbiased, as stored
    # running_k = (1 - 1/k) running_{k-1} + 1/k stat_k is the plain mean of stat_1..stat_k (the init drops out).
    np.testing.assert_allclose(to_numpy(bn.running_mean.data), np.mean(means, axis=0), rtol=1e-12)
    np.testing.assert_allclose(to_numpy(bn.running_var.data), np.mean(variances, axis=0), rtol=1e-12)
    assert bn.num_batches_tracked.data == 4 and "momentum=None" in repr(bn)


def test_state_dict_saved_without_num_batches_tracked_still_loads_strictly():
    trained = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    trained(tg.Tensor(np.random.default_rng(0).normal(size=(8, 2)).astype(np.float32)))
    old = trained.state_dict()
    del old["1.num_batches_tracked"]  # as saved by earlier versions
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    assert model.load_state_dict(old) == ([], [])
    np.testing.assert_array_equal(model[1].running_mean.data, trained[1].running_mean.data)
    assert model[1].num_batches_tracked.data == 0  # kept: the old file does not know the count
    del old["1.running_var"]  # any other key is still required
    with pytest.raises(StateDictError, match="missing keys \\['1.running_var'\\]"):
        model.load_state_dict(old)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_matches_pytorch_and_loads_its_state_dict_strictly(momentum):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    bn, ref = nn.BatchNorm1d(3, momentum=momentum, dtype="float64"), torch.nn.BatchNorm1d(3, momentum=momentum)
    ref.double()
    for shape in [(6, 3), (4, 3, 5), (2, 3)]:
        x, g = rng.standard_normal(shape), rng.standard_normal(shape)
        xt, xr = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, ref_out = bn(xt), ref(xr)
        (out * tg.Tensor(g)).sum().backward()
        ref_out.backward(torch.tensor(g))
        np.testing.assert_allclose(out.data, ref_out.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(xt.grad, xr.grad.numpy(), rtol=1e-10, atol=1e-12)
    state = {k: v.numpy() for k, v in ref.state_dict().items()}
    assert list(bn.state_dict()) == list(state)
    for key, value in bn.state_dict().items():
        np.testing.assert_allclose(value, state[key], rtol=1e-12)
        assert value.dtype == state[key].dtype
    fresh = nn.BatchNorm1d(3, momentum=momentum, dtype="float64")
    fresh.load_state_dict(state)  # strict
    assert fresh.num_batches_tracked.data == 3


# --- found by mutation testing ------------------------------------------------------------------
def test_functional_batch_norm_defaults_to_eval_mode_with_the_running_statistics():
    x = t64(5, 3, requires_grad=False)
    running_mean, running_var = tg.Tensor(np.array([1.0, -1.0, 0.5])), tg.Tensor(np.array([4.0, 1.0, 0.25]))
    out = F.batch_norm(x, running_mean, running_var)  # training=False, as in PyTorch
    expected = (x.numpy() - [1.0, -1.0, 0.5]) / np.sqrt(np.array([4.0, 1.0, 0.25]) + 1e-5)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    np.testing.assert_array_equal(running_mean.data, [1.0, -1.0, 0.5])  # not updated
    np.testing.assert_array_equal(running_var.data, [4.0, 1.0, 0.25])


def test_batchnorm_momentum_zero_and_one_are_allowed_and_mean_keep_or_replace():
    x = t64(6, 3, requires_grad=False)
    mean, unbiased = x.numpy().mean(axis=0), x.numpy().var(axis=0, ddof=1)
    keep, replace = nn.BatchNorm1d(3, momentum=0.0, dtype="float64"), nn.BatchNorm1d(3, momentum=1.0, dtype="float64")
    keep(x)
    replace(x)
    np.testing.assert_array_equal(keep.running_mean.data, 0.0)
    np.testing.assert_array_equal(keep.running_var.data, 1.0)
    np.testing.assert_allclose(replace.running_mean.data, mean, rtol=1e-12)
    np.testing.assert_allclose(replace.running_var.data, unbiased, rtol=1e-12)
    rm, rv = tg.Tensor(np.zeros(3)), tg.Tensor(np.ones(3))
    F.batch_norm(x, rm, rv, training=True, momentum=0)  # the functional form takes 0 too
    np.testing.assert_array_equal(rm.data, 0.0)


def test_batchnorm_momentum_none_in_eval_mode_uses_the_running_statistics():
    bn = nn.BatchNorm1d(3, momentum=None, dtype="float64")
    bn(t64(4, 3, requires_grad=False))
    x = t64(4, 3, requires_grad=False)
    expected = (x.numpy() - bn.running_mean.numpy()) / np.sqrt(bn.running_var.numpy() + 1e-5)
    np.testing.assert_allclose(bn.eval()(x).data, expected, rtol=1e-12)
    assert bn.num_batches_tracked.data == 1


def test_batchnorm_num_features_must_be_a_positive_int():
    assert nn.BatchNorm1d(1)(t64(4, 1)).shape == (4, 1)  # one feature is fine
    for bad in (0, -2, 2.0, "3"):
        with pytest.raises(HyperparameterError, match="num_features must be a positive int"):
            nn.BatchNorm1d(bad)


def test_batch_norm_marks_its_in_place_writes_so_a_graph_using_the_old_values_refuses_backward():
    from tinygrad_mb.errors import BackwardError

    bn = nn.BatchNorm1d(3, dtype="float64")
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        w = tg.Tensor(np.ones(3), requires_grad=True)
        y = (w * getattr(bn, name)).sum()  # the gradient of w is the buffer's old value
        bn(t64(4, 3, requires_grad=False))
        with pytest.raises(BackwardError, match="modified in place"):
            y.backward()


def test_softmax_with_dim_none_is_refused_rather_than_normalising_the_whole_tensor():
    """Old PyTorch code passes dim=None meaning 'the class axis'; NumPy's axis=None means every element."""
    x = tg.Tensor(np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32))
    for make in (lambda: nn.Softmax(dim=None), lambda: nn.LogSoftmax(dim=None),
                 lambda: F.softmax(x, dim=None), lambda: F.log_softmax(x, dim=None)):
        with pytest.raises(HyperparameterError, match=r"dim=None would normalise over every element.*dim=-1"):
            make()
    np.testing.assert_allclose(nn.Softmax(dim=1)(x).data.sum(axis=1), [1.0, 1.0], rtol=1e-6)
