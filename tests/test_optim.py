"""Optimizers and schedules: single steps against the update equations written out by hand."""

import math

import numpy as np
import pytest

import tinygrad_mb as tg
from tinygrad_mb import nn, optim
from tinygrad_mb.errors import HyperparameterError, StateDictError

P0 = np.array([1.0, -2.0, 3.0])
G1 = np.array([0.5, -1.0, 2.0])
G2 = np.array([-0.25, 0.5, 1.0])


def param(values=P0):
    # On NumPy whatever the default backend: these tests feed NumPy gradients and check the update
    # equations; test_optimizers_on_backend runs the optimizers on every backend.
    return nn.Parameter(np.array(values, dtype=np.float64), backend="numpy")


def take_steps(opt, p, grads):
    for g in grads:
        p.grad = np.array(g)
        opt.step()
    return p.data


# --- SGD ---------------------------------------------------------------------------------------
def test_plain_sgd_step():
    p = param()
    take_steps(optim.SGD([p], lr=0.1), p, [G1])
    np.testing.assert_allclose(p.data, [1.0 - 0.05, -2.0 + 0.1, 3.0 - 0.2])


def test_sgd_momentum_two_steps():
    p = param()
    take_steps(optim.SGD([p], lr=0.1, momentum=0.9), p, [G1, G2])
    buf1 = G1  # the first buffer is the gradient itself
    p1 = P0 - 0.1 * buf1
    buf2 = 0.9 * buf1 + G2
    np.testing.assert_allclose(p.data, p1 - 0.1 * buf2, rtol=1e-14)


def test_sgd_dampening():
    p = param()
    take_steps(optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5), p, [G1, G2])
    p1 = P0 - 0.1 * G1  # no dampening on the first step (PyTorch)
    buf2 = 0.9 * G1 + 0.5 * G2
    np.testing.assert_allclose(p.data, p1 - 0.1 * buf2, rtol=1e-14)


def test_sgd_nesterov():
    p = param()
    take_steps(optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True), p, [G1, G2])
    p1 = P0 - 0.1 * (G1 + 0.9 * G1)
    buf2 = 0.9 * G1 + G2
    np.testing.assert_allclose(p.data, p1 - 0.1 * (G2 + 0.9 * buf2), rtol=1e-14)


def test_sgd_weight_decay_with_momentum():
    p = param()
    take_steps(optim.SGD([p], lr=0.1, momentum=0.5, weight_decay=0.01), p, [G1, G2])
    d1 = G1 + 0.01 * P0
    p1 = P0 - 0.1 * d1
    d2 = G2 + 0.01 * p1
    np.testing.assert_allclose(p.data, p1 - 0.1 * (0.5 * d1 + d2), rtol=1e-14)


def test_step_is_in_place_reads_grad_only_and_skips_missing_grads():
    a, b = param(), param([5.0, 6.0, 7.0])
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9, weight_decay=0.1)
    data_a = a.data
    grad = G1.copy()
    a.grad = grad
    opt.step()
    assert a.data is data_a  # updated in place: the same array
    assert a.grad is grad
    np.testing.assert_array_equal(grad, G1)  # the gradient is not modified
    np.testing.assert_array_equal(b.data, [5.0, 6.0, 7.0])  # no grad: untouched
    assert "momentum_buffer" not in opt.state[1]
    buf = opt.state[0]["momentum_buffer"]
    opt.step()
    assert opt.state[0]["momentum_buffer"] is buf  # the buffer is updated in place too


def test_zero_grad():
    p = param()
    p.grad = G1.copy()
    opt = optim.SGD([p], lr=0.1)
    opt.zero_grad()
    assert p.grad is None


def test_zero_grad_in_place_keeps_the_arrays_and_accumulates_from_zero():
    p = param()
    p.grad = G1.copy()
    held = p.grad
    opt = optim.SGD([p], lr=0.1)
    opt.zero_grad(set_to_none=False)
    assert p.grad is held and not held.any()
    (p * G1).sum().backward()  # d/dp sum(p * G1) = G1, added to the zeros (G1 goes where p lives)
    np.testing.assert_array_equal(p.grad, G1)
    opt.zero_grad(set_to_none=False)
    assert not p.grad.any()
    fresh = param()  # no gradient yet: stays None, nothing to zero
    optim.SGD([fresh], lr=0.1).zero_grad(set_to_none=False)
    assert fresh.grad is None


def test_float32_parameters_stay_float32():
    lin = nn.Linear(3, 2, seed=0)
    opt = optim.Adam(lin.parameters(), lr=0.1)
    for p in lin.parameters():
        p.grad = tg.backend.to_backend(np.ones(p.shape, np.float32), p.backend)
    opt.step()
    assert all(p.dtype == np.float32 for p in lin.parameters())


# --- Adam / AdamW ----------------------------------------------------------------------------------
def adam_reference(p, grads, lr, b1, b2, eps, wd=0.0, decoupled=False):
    m = v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p - lr * wd * p
        elif wd:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


def test_adam_first_step_is_lr_times_sign():
    p = param()
    take_steps(optim.Adam([p], lr=0.01, eps=1e-12), p, [G1])
    # bias correction makes m_hat = g and v_hat = g^2 at t = 1
    np.testing.assert_allclose(p.data, P0 - 0.01 * np.sign(G1), rtol=1e-12)


def test_adam_two_steps_with_bias_correction():
    p = param()
    take_steps(optim.Adam([p], lr=0.01, betas=(0.8, 0.9), eps=1e-8), p, [G1, G2])
    m2 = 0.8 * 0.2 * G1 + 0.2 * G2
    v2 = 0.9 * 0.1 * G1**2 + 0.1 * G2**2
    p1 = P0 - 0.01 * G1 / (np.abs(G1) + 1e-8)
    expected = p1 - 0.01 * (m2 / (1 - 0.8**2)) / (np.sqrt(v2 / (1 - 0.9**2)) + 1e-8)
    np.testing.assert_allclose(p.data, expected, rtol=1e-12)
    np.testing.assert_allclose(p.data, adam_reference(P0, [G1, G2], 0.01, 0.8, 0.9, 1e-8), rtol=1e-12)


def test_adam_l2_weight_decay_and_adamw_decoupled_decay():
    p = param()
    take_steps(optim.Adam([p], lr=0.01, weight_decay=0.1), p, [G1, G2, G1])
    np.testing.assert_allclose(p.data, adam_reference(P0, [G1, G2, G1], 0.01, 0.9, 0.999, 1e-8, wd=0.1), rtol=1e-12)
    q = param()
    take_steps(optim.AdamW([q], lr=0.01, weight_decay=0.1), q, [G1])
    # one step by hand: shrink first, then the Adam step (m_hat / sqrt(v_hat) = sign(g))
    np.testing.assert_allclose(q.data, P0 * (1 - 0.01 * 0.1) - 0.01 * G1 / (np.abs(G1) + 1e-8), rtol=1e-12)
    q = param()
    take_steps(optim.AdamW([q], lr=0.01, weight_decay=0.1), q, [G1, G2, G1])
    expected = adam_reference(P0, [G1, G2, G1], 0.01, 0.9, 0.999, 1e-8, wd=0.1, decoupled=True)
    np.testing.assert_allclose(q.data, expected, rtol=1e-12)
    assert optim.AdamW([param()]).weight_decay == 0.01  # PyTorch's default


def test_adam_counts_steps_per_parameter():
    a, b = param(), param()
    opt = optim.Adam([a, b], lr=0.01)
    a.grad = G1.copy()
    opt.step()  # b has no gradient yet
    b.grad = G1.copy()
    opt.step()
    assert opt.state[0]["step"] == 2 and opt.state[1]["step"] == 1
    np.testing.assert_allclose(b.data, P0 - 0.01 * G1 / (np.abs(G1) + 1e-8), rtol=1e-12)


# --- Adagrad / RMSprop -------------------------------------------------------------------------------
def test_adagrad_divides_by_the_root_of_all_squared_gradients():
    p = param()
    take_steps(optim.Adagrad([p], lr=0.1, eps=1e-12), p, [G1])
    np.testing.assert_allclose(p.data, P0 - 0.1 * np.sign(G1), rtol=1e-10)  # first step: lr * sign(g)
    q = param()
    take_steps(optim.Adagrad([q], lr=0.1), q, [G1, G2])
    expected = P0 - 0.1 * G1 / (np.sqrt(G1**2) + 1e-10)
    expected = expected - 0.1 * G2 / (np.sqrt(G1**2 + G2**2) + 1e-10)
    np.testing.assert_allclose(q.data, expected, rtol=1e-12)


def test_rmsprop_divides_by_the_root_of_a_running_mean_and_can_add_momentum():
    p = param()
    take_steps(optim.RMSprop([p], lr=0.01, alpha=0.9), p, [G1, G2])
    v1 = 0.1 * G1**2
    x1 = P0 - 0.01 * G1 / (np.sqrt(v1) + 1e-8)
    v2 = 0.9 * v1 + 0.1 * G2**2
    np.testing.assert_allclose(p.data, x1 - 0.01 * G2 / (np.sqrt(v2) + 1e-8), rtol=1e-12)
    q = param()
    opt = optim.RMSprop([q], lr=0.01, alpha=0.9, momentum=0.5)
    take_steps(opt, q, [G1, G2])
    d1, d2 = G1 / (np.sqrt(v1) + 1e-8), G2 / (np.sqrt(v2) + 1e-8)
    np.testing.assert_allclose(q.data, P0 - 0.01 * d1 - 0.01 * (0.5 * d1 + d2), rtol=1e-12)
    assert set(opt.state[0]) == {"step", "square_avg", "momentum_buffer"} and opt.state[0]["step"] == 2


@pytest.mark.parametrize(
    ("make", "kwargs"),
    [
        (optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
        (optim.SGD, {"lr": 0.1, "momentum": 0.5, "dampening": 0.3, "weight_decay": 0.1}),
        (optim.Adam, {"lr": 0.01, "betas": (0.8, 0.95), "weight_decay": 0.1}),
        (optim.AdamW, {"lr": 0.01, "weight_decay": 0.1}),
        (optim.Adagrad, {"lr": 0.1, "weight_decay": 0.1, "initial_accumulator_value": 0.2}),
        (optim.RMSprop, {"lr": 0.01, "alpha": 0.9, "weight_decay": 0.1, "momentum": 0.8}),
        (optim.RMSprop, {"lr": 0.01}),
    ],
)
def test_matches_pytorch_when_available(make, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    p = param(rng.standard_normal(5))
    tp = torch.tensor(p.data.copy(), requires_grad=True)
    opt, topt = make([p], **kwargs), getattr(torch.optim, make.__name__)([tp], **kwargs)
    for _ in range(5):
        g = rng.standard_normal(5)
        p.grad, tp.grad = g, torch.tensor(g)
        opt.step()
        topt.step()
    np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    ("make", "kwargs"),
    [
        (optim.SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.05}),
        (optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
        (optim.Adam, {"lr": 0.01, "betas": (0.5, 0.0), "eps": 1e-3, "weight_decay": 0.1}),
        (optim.AdamW, {"lr": 0.01, "betas": (0.0, 0.5), "weight_decay": 0.5}),
        (optim.Adagrad, {"lr": 0.1, "eps": 1e-2, "initial_accumulator_value": 0.3}),
        (optim.RMSprop, {"lr": 0.01, "alpha": 0.0, "eps": 1e-2, "momentum": 0.9, "weight_decay": 0.1}),
    ],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_pytorch_on_several_shapes_with_missing_and_zero_gradients_and_lr_changes(make, kwargs, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    start = [rng.standard_normal(shape).astype(dtype) for shape in [(), (3,), (2, 3), (4, 1, 2)]]
    ps = [nn.Parameter(a.copy(), backend="numpy") for a in start]
    tps = [torch.tensor(a.copy(), requires_grad=True) for a in start]
    opt, topt = make(ps, **kwargs), getattr(torch.optim, make.__name__)(tps, **kwargs)
    for t in range(8):
        if t in (3, 5):  # a hand-set lr, 0 included
            opt.lr = topt.param_groups[0]["lr"] = {3: 0.0, 5: 0.05}[t]
        for p, tp in zip(ps, tps):
            kind = rng.integers(3)  # no gradient this step, a zero one, or a random one
            g = None if kind == 0 else np.zeros(p.shape, dtype) if kind == 1 else rng.standard_normal(p.shape)
            p.grad = None if g is None else g.astype(dtype)
            tp.grad = None if g is None else torch.tensor(g.astype(dtype))
        opt.step()
        topt.step()
        for p, tp in zip(ps, tps):
            assert p.dtype == dtype and p.shape == tuple(tp.shape)
            rtol = 1e-12 if dtype == np.float64 else 1e-5
            np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=rtol, atol=rtol)


@pytest.mark.parametrize(
    ("make", "kwargs"),
    [
        (optim.SGD, {"lr": 0.1}),
        (optim.SGD, {"lr": 0.1, "momentum": 0.9}),
        (optim.SGD, {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1}),
        (optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
        (optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
        (optim.Adam, {"lr": 0.1, "weight_decay": 0.1}),
        (optim.AdamW, {"lr": 0.1}),
        (optim.Adagrad, {"lr": 0.1, "weight_decay": 0.1}),
        (optim.RMSprop, {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1}),
    ],
)
def test_a_scalar_parameter_is_updated_like_a_one_element_vector(make, kwargs):
    # A learnable scale or temperature is a 0-d parameter. NumPy turns 0-d products into
    # scalars, and an in-place edit of a scalar changes a copy: the state must stay arrays.
    scalar, vector = param(2.0), param([2.0])
    opt_scalar, opt_vector = make([scalar], **kwargs), make([vector], **kwargs)
    for g in (0.5, -0.3, 0.8, 0.1):
        scalar.grad, vector.grad = np.array(g), np.array([g])
        opt_scalar.step()
        opt_vector.step()
        assert scalar.data.shape == () and scalar.data[()] == vector.data[0]
    for name, value in opt_vector.state[0].items():
        np.testing.assert_array_equal(np.reshape(opt_scalar.state[0][name], 1), np.reshape(value, 1))


# --- a bad gradient stops the step before anything is written -------------------------------------------
ALL_OPTIMIZERS = [lambda ps: optim.SGD(ps, lr=0.1), lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
                  lambda ps: optim.Adam(ps, lr=0.1), lambda ps: optim.AdamW(ps, lr=0.1),
                  lambda ps: optim.Adagrad(ps, lr=0.1), lambda ps: optim.RMSprop(ps, lr=0.1, momentum=0.5)]


@pytest.mark.parametrize("make", ALL_OPTIMIZERS)
@pytest.mark.parametrize(
    ("new_data", "error", "pattern"),
    [
        # NumPy fails only when it reaches this parameter, after the first two have moved
        (np.ones(4), tg.ShapeError, r"params\[2\].grad has shape \(3,\) but the tensor has shape \(4,\)"),
        # NumPy broadcasts the gradient into both rows without a word
        (np.ones((2, 3)), tg.ShapeError, r"params\[2\].grad has shape \(3,\) but the tensor has shape \(2, 3\)"),
        # NumPy casts: a float64 momentum buffer for a float32 weight
        (np.ones(3, np.float32), tg.DTypeError, r"params\[2\].grad has dtype float64 but the tensor has float32"),
    ],
)
def test_a_gradient_that_does_not_fit_its_parameter_stops_the_step_before_any_write(make, new_data, error, pattern):
    a, b, c = param(), param(), param()
    opt = make([a, b, c])
    for p in (a, b, c):
        p.grad = G1.copy()
    c.data = new_data  # the parameter replaced after backward: its gradient no longer fits
    versions = [p._version for p in (a, b, c)]
    with pytest.raises(error, match=pattern + ".*nothing was updated"):
        opt.step()
    np.testing.assert_array_equal(a.data, P0)
    np.testing.assert_array_equal(b.data, P0)
    assert opt.state == [{}, {}, {}] and [p._version for p in (a, b, c)] == versions
    c.grad = None  # with the culprit out of the way the step goes through
    opt.step()
    assert not np.array_equal(a.data, P0) and np.array_equal(a.data, b.data)


def test_after_a_refused_step_sgd_goes_on_exactly_as_if_it_had_not_been_tried():
    a, c = param(), param()
    opt = optim.SGD([a, c], lr=0.1, momentum=0.9)
    a.grad, c.grad = G1.copy(), G1.copy()
    c.data = np.ones(4)
    with pytest.raises(tg.ShapeError):
        opt.step()
    c.grad = None
    take_steps(opt, a, [G1, G2])
    np.testing.assert_allclose(a.data, P0 - 0.1 * G1 - 0.1 * (0.9 * G1 + G2), rtol=1e-14)  # buffer: G1 first


# --- hyper-parameter errors -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda p: optim.SGD(p, lr=-0.1), "lr=-0.1.*\\[0, inf\\)"),
        (lambda p: optim.SGD(p, lr=float("nan")), "lr=nan"),
        (lambda p: optim.SGD(p, lr=0.1, momentum=1.0), "momentum=1.0.*\\[0, 1\\)"),
        (lambda p: optim.SGD(p, lr=0.1, momentum=-0.5), "momentum=-0.5"),
        (lambda p: optim.SGD(p, lr=0.1, dampening=1.5), "dampening=1.5.*\\[0, 1\\]"),
        (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "nesterov=True needs momentum > 0"),
        (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "dampening = 0"),
        (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1e-4), "weight_decay=-0.0001"),
        (lambda p: optim.Adam(p, betas=(1.0, 0.999)), "beta1=1.0.*\\[0, 1\\)"),
        (lambda p: optim.Adam(p, betas=(0.9, -0.1)), "beta2=-0.1"),
        (lambda p: optim.Adam(p, betas=0.9), "pair"),
        (lambda p: optim.Adam(p, eps=0.0), "eps=0.0.*\\(0, inf\\)"),
        (lambda p: optim.AdamW(p, weight_decay=-0.01), "weight_decay=-0.01"),
        (lambda p: optim.Adam(p, lr="fast"), "lr='fast'"),
        (lambda p: optim.Adagrad(p, eps=0.0), "Adagrad: invalid eps=0.0"),
        (lambda p: optim.Adagrad(p, initial_accumulator_value=-1), "initial_accumulator_value=-1"),
        (lambda p: optim.RMSprop(p, alpha=1.0), "RMSprop: invalid alpha=1.0.*\\[0, 1\\)"),
        (lambda p: optim.RMSprop(p, momentum=-0.1), "momentum=-0.1"),
        (lambda p: optim.SGD([], lr=0.1), "empty parameter list"),
        (lambda p: optim.SGD([p[0], p[0]], lr=0.1), "params\\[1\\] is the same tensor as params\\[0\\]; pass each"),
        (lambda p: optim.SGD([np.zeros(3)], lr=0.1), "not a Tensor"),
        (lambda p: optim.Adam(nn.Linear(2, 1).parameters, lr=0.1), r"the method itself; call it: model.parameters\(\)"),
        (lambda p: optim.SGD(p[0], lr=0.1), r"params is one Tensor; pass an iterable of them, e.g. \[w\]"),
        (lambda p: optim.SGD({"w": p[0]}, lr=0.1), r"params is a dict; pass its tensors, params.values\(\)"),
        (lambda p: optim.SGD([{"params": p}], lr=0.1), "params\\[0\\] is a dict: parameter groups are not supported"),
        (lambda p: optim.SGD([p[0] * 2], lr=0.1), "params\\[0\\] is not a leaf tensor \\(it is the result of Mul\\)"),
        (lambda p: optim.SGD([tg.Tensor(np.ones(3))], lr=0.1), "none of the 1 parameters requires grad"),
        (lambda p: optim.Adam(used_up_iterator()), "empty parameter list.*used up by the first optimizer"),
    ],
)
def test_invalid_hyperparameters(make, pattern):
    with pytest.raises(HyperparameterError, match=pattern):
        make([param()])


def used_up_iterator():
    params = nn.Linear(2, 1).parameters()  # an iterator: the first optimizer takes everything
    optim.SGD(params, lr=0.1)
    return params


def test_frozen_parameters_among_others_are_accepted_and_skipped_as_in_pytorch():
    frozen, trained = nn.Parameter(P0.copy(), requires_grad=False, backend="numpy"), param()
    opt = optim.SGD([frozen, trained], lr=0.1)
    take_steps(opt, trained, [G1])
    np.testing.assert_array_equal(frozen.data, P0)
    np.testing.assert_allclose(trained.data, P0 - 0.1 * G1, rtol=1e-15)
    kept = (trained * 2).retain_grad()  # a non-leaf that keeps its .grad is accepted too, as in PyTorch
    assert optim.SGD([kept], lr=0.1).params == [kept]


def test_setting_a_negative_lr_later_is_refused():
    opt = optim.SGD([param()], lr=0.1)
    opt.lr = 0.05
    assert opt.lr == 0.05
    with pytest.raises(HyperparameterError, match="lr=-1"):
        opt.lr = -1


# --- state dicts -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "kwargs"),
    [(optim.SGD, {"lr": 0.1, "momentum": 0.9}), (optim.Adam, {"lr": 0.01}), (optim.AdamW, {"lr": 0.01}),
     (optim.Adagrad, {"lr": 0.1}), (optim.RMSprop, {"lr": 0.01, "momentum": 0.9})],
)
def test_state_dict_round_trip_resumes_exactly(make, kwargs):
    grads = [G1, G2, G1 * 2, G2 - 1]
    p = param()
    opt = make([p], **kwargs)
    take_steps(opt, p, grads[:2])
    state = opt.state_dict()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    assert state["lr"] == kwargs["lr"]
    saved_p = p.data.copy()
    take_steps(opt, p, grads[2:])  # uninterrupted
    q = param(saved_p)
    resumed = make([q], lr=1.0)  # a different lr: restored from the state dict
    resumed.load_state_dict(state)
    assert resumed.lr == kwargs["lr"]
    take_steps(resumed, q, grads[2:])
    np.testing.assert_array_equal(q.data, p.data)


def test_rmsprop_without_momentum_reloads_its_own_state():
    # Catches load_state_dict asking for a momentum buffer that RMSprop only makes when momentum > 0.
    p = param()
    opt = optim.RMSprop([p], lr=0.01)
    take_steps(opt, p, [G1])
    assert "0.momentum_buffer" not in opt.state_dict()
    q = param(p.data.copy())
    resumed = optim.RMSprop([q], lr=0.01)
    resumed.load_state_dict(opt.state_dict())
    take_steps(opt, p, [G2])
    take_steps(resumed, q, [G2])
    np.testing.assert_array_equal(q.data, p.data)


def test_setting_any_hyperparameter_later_is_checked_like_the_constructor():
    opt = optim.SGD([param()], lr=0.1, momentum=0.9)
    opt.momentum = 0.5
    assert opt.momentum == 0.5
    with pytest.raises(HyperparameterError, match="momentum=5.0"):
        opt.momentum = 5.0
    with pytest.raises(HyperparameterError, match="nesterov must be True or False"):
        opt.nesterov = "yes"
    assert opt.momentum == 0.5 and opt.nesterov is False
    adam = optim.Adam([param()])
    with pytest.raises(HyperparameterError, match="beta1=1.0"):
        adam.beta1 = 1.0
    assert adam.beta1 == 0.9


def test_betas_can_be_set_as_a_pair_with_the_constructors_checks():
    p = param()
    adam = optim.Adam([p], lr=0.01, eps=1e-8)
    adam.betas = (0.5, 0.75)
    assert (adam.beta1, adam.beta2, adam.betas) == (0.5, 0.75, (0.5, 0.75))
    take_steps(adam, p, [G1, G2])
    m2, v2 = 0.5 * 0.5 * G1 + 0.5 * G2, 0.75 * 0.25 * G1**2 + 0.25 * G2**2
    p1 = P0 - 0.01 * G1 / (np.abs(G1) + 1e-8)
    np.testing.assert_allclose(p.data, p1 - 0.01 * (m2 / 0.75) / (np.sqrt(v2 / (1 - 0.75**2)) + 1e-8), rtol=1e-12)
    with pytest.raises(HyperparameterError, match="beta2=1.0"):
        adam.betas = (0.9, 1.0)
    with pytest.raises(HyperparameterError, match="pair"):
        adam.betas = 0.9
    assert adam.betas == (0.5, 0.75)


def test_a_valid_state_dict_loads_whatever_order_its_settings_are_checked_in():
    # Catches load_state_dict setting hyper-parameters one by one, each checked against the old others:
    # momentum 0 is invalid next to the old nesterov=True, valid next to the new nesterov=False.
    opt = optim.SGD([param()], lr=0.1, momentum=0.9, nesterov=True)
    opt.load_state_dict(optim.SGD([param()], lr=0.2).state_dict())
    assert (opt.lr, opt.momentum, opt.nesterov) == (0.2, 0.0, False)


def test_state_dict_is_a_copy():
    p = param()
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    take_steps(opt, p, [G1])
    state = opt.state_dict()
    take_steps(opt, p, [G2])
    np.testing.assert_array_equal(state["0.momentum_buffer"], G1)


def test_bad_optimizer_state_dicts_are_rejected_without_changes():
    p = param()
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    take_steps(opt, p, [G1])
    good = opt.state_dict()
    cases = [
        ({k: v for k, v in good.items() if k != "momentum"}, "missing hyper-parameters \\['momentum'\\]"),
        ({**good, "1.momentum_buffer": np.zeros(3)}, "unexpected key '1.momentum_buffer'"),
        ({**good, "0.exp_avg": np.zeros(3)}, "unexpected key '0.exp_avg'"),
        ({**good, "0.momentum_buffer": np.zeros(4)}, "'0.momentum_buffer'.*\\(3,\\).*\\(4,\\)"),
        # a value that only fails when converted: refused before the lr below is assigned
        ({**good, "lr": np.array(0.5), "0.momentum_buffer": np.array(["x", "y", "z"])}, "not numbers"),
        ({**good, "lr": np.array([0.1, 0.2])}, "'lr' holds 2 values of shape \\(2,\\); a hyper-parameter is one"),
    ]
    for bad, pattern in cases:
        with pytest.raises(StateDictError, match=pattern):
            opt.load_state_dict(bad)
    with pytest.raises(HyperparameterError, match="momentum=1.5"):
        opt.load_state_dict({**good, "momentum": np.array(1.5)})
    assert opt.momentum == 0.9 and opt.lr == 0.1
    np.testing.assert_array_equal(opt.state[0]["momentum_buffer"], G1)


@pytest.mark.parametrize("step", [-1, 2.5, float("nan"), float("inf"), True])
def test_a_step_count_that_is_not_a_whole_number_from_0_is_refused(step):
    # Catches load_state_dict taking step=-1 (Adam's next step then divides by 1 - b1^0 = 0, half-way through
    # the parameters) or truncating 2.5 to 2.
    p = param()
    opt = optim.Adam([p], lr=0.01)
    take_steps(opt, p, [G1])
    bad = {**opt.state_dict(), "lr": np.array(0.5), "0.step": np.array(step)}
    with pytest.raises(StateDictError, match="'0.step' is .*a step count must be a whole number >= 0"):
        opt.load_state_dict(bad)
    assert opt.lr == 0.01 and opt.state[0]["step"] == 1


def test_a_step_count_of_0_with_zero_averages_loads_as_a_fresh_start():
    p = param()
    opt = optim.Adam([p], lr=0.01, eps=1e-12)
    opt.load_state_dict({**opt.state_dict(), "0.step": np.array(0), "0.exp_avg": np.zeros(3),
                         "0.exp_avg_sq": np.zeros(3)})
    take_steps(opt, p, [G1])
    np.testing.assert_allclose(p.data, P0 - 0.01 * np.sign(G1), rtol=1e-10)  # t = 1: lr * sign(g)


def test_loading_a_state_without_buffers_forgets_the_momentum():
    # Catches load_state_dict keeping the old momentum buffer of a parameter the saved state has none for.
    p = param()
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    fresh = opt.state_dict()  # saved before any step: no buffers
    take_steps(opt, p, [G1])
    opt.load_state_dict(fresh)
    assert opt.state[0] == {}
    take_steps(opt, p, [G2])  # so the next step starts a new buffer, as a fresh optimizer would
    np.testing.assert_allclose(p.data, P0 - 0.1 * G1 - 0.1 * G2, rtol=1e-14)


def test_loaded_state_takes_the_dtype_of_its_parameter():
    # Catches load_state_dict keeping a float64 buffer (e.g. saved from a float64 model) for a float32 parameter.
    p = nn.Parameter(P0.astype(np.float32), backend="numpy")
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    opt.load_state_dict({**opt.state_dict(), "0.momentum_buffer": G1})
    assert opt.state[0]["momentum_buffer"].dtype == np.float32


# --- schedules -----------------------------------------------------------------------------------
def lrs(schedule, steps):
    values = [schedule.optimizer.lr]
    for _ in range(steps):
        values.append(schedule.step())
    return values


def sgd(lr=1.0):
    return optim.SGD([param()], lr=lr)


def test_step_lr():
    assert lrs(optim.StepLR(sgd(), step_size=2, gamma=0.5), 5) == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]


def test_exponential_lr():
    np.testing.assert_allclose(lrs(optim.ExponentialLR(sgd(2.0), gamma=0.9), 3), [2.0, 1.8, 1.62, 1.458])


def test_cosine_annealing_lr():
    values = lrs(optim.CosineAnnealingLR(sgd(1.0), T_max=4, eta_min=0.1), 6)
    expected = [0.1 + 0.9 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(5)] + [0.1, 0.1]
    np.testing.assert_allclose(values, expected)
    assert values[2] == pytest.approx(0.55)  # halfway: the mean of the two ends


def test_schedule_edge_settings():
    # T_max = 1 is a valid one-step cosine; gamma = 0 would zero the rate after one step: refused, as is
    # a negative gamma. A state dict of a schedule that has not stepped yet (last_step 0) loads.
    assert lrs(optim.CosineAnnealingLR(sgd(1.0), T_max=1, eta_min=0.25), 2) == [1.0, 0.25, 0.25]
    for gamma in (0.0, -0.5):
        with pytest.raises(HyperparameterError, match="gamma"):
            optim.ExponentialLR(sgd(), gamma=gamma)
    fresh = optim.StepLR(sgd(2.0), step_size=2, gamma=0.5)
    assert fresh.state_dict()["last_step"] == 0
    other = optim.StepLR(sgd(1.0), step_size=2, gamma=0.5)
    other.step()
    other.load_state_dict(fresh.state_dict())
    assert (other.last_step, other.optimizer.lr) == (0, 2.0)
    other.step()
    assert repr(other) == "StepLR(step=1, lr=2)"


def test_linear_warmup():
    np.testing.assert_allclose(lrs(optim.LinearWarmup(sgd(1.0), warmup_steps=4, start_factor=0.2), 6),
                               [0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0])


def test_sequential_warmup_then_cosine():
    opt = sgd(1.0)
    warmup = optim.LinearWarmup(opt, warmup_steps=2, start_factor=0.5)
    cosine = optim.CosineAnnealingLR(opt, T_max=2)
    schedule = optim.SequentialLR(opt, [warmup, cosine], milestones=[2])
    assert cosine.base_lr == 1.0  # the warmup lowering opt.lr did not change the base
    np.testing.assert_allclose(lrs(schedule, 5), [0.5, 0.75, 1.0, 0.5, 0.0, 0.0])


def test_sequential_switches_exactly_at_the_milestone_like_pytorch():
    # Two schedules that differ at the milestone: the second one must be in charge from step 2 on.
    opt = sgd(1.0)
    schedule = optim.SequentialLR(opt, [optim.ExponentialLR(opt, gamma=0.5), optim.StepLR(opt, step_size=10)],
                                  milestones=[2])
    np.testing.assert_allclose(lrs(schedule, 4), [1.0, 0.5, 1.0, 1.0, 1.0])  # torch.optim.lr_scheduler gives these


def test_chained_scheduler_multiplies():
    opt = sgd(1.0)
    chain = optim.ChainedScheduler(opt, [optim.LinearWarmup(opt, 2, start_factor=0.5),
                                         optim.ExponentialLR(opt, gamma=0.5)])
    np.testing.assert_allclose(lrs(chain, 3), [0.5, 0.75 * 0.5, 0.25, 0.125])


def test_schedule_drives_the_update():
    p = param()
    opt = optim.SGD([p], lr=1.0)
    schedule = optim.StepLR(opt, step_size=1, gamma=0.1)
    take_steps(opt, p, [G1])
    schedule.step()
    take_steps(opt, p, [G1])
    np.testing.assert_allclose(p.data, P0 - 1.0 * G1 - 0.1 * G1)


def test_schedule_state_dict():
    opt = sgd(1.0)
    schedule = optim.ExponentialLR(opt, gamma=0.5)
    lrs(schedule, 3)
    state = schedule.state_dict()
    opt2 = sgd(1.0)
    other = optim.ExponentialLR(opt2, gamma=0.5)
    other.load_state_dict(state)
    assert opt2.lr == opt.lr == 0.125
    assert other.step() == schedule.step()


def test_schedule_state_restores_the_base_lr():
    # Catches load_state_dict restoring the step count but keeping the new schedule's own base lr.
    schedule = optim.StepLR(sgd(2.0), step_size=2, gamma=0.5)
    lrs(schedule, 2)
    other = optim.StepLR(sgd(1.0), step_size=2, gamma=0.5)
    other.load_state_dict(schedule.state_dict())
    assert other.base_lr == 2.0 and other.lr == 1.0
    assert lrs(other, 2)[1:] == lrs(schedule, 2)[1:] == [1.0, 0.5]


def test_a_schedule_attached_after_resuming_starts_from_the_same_base_lr():
    # Catches load_state_dict leaving optimizer.initial_lr at the lr the resumed optimizer had when the
    # schedule was created again (already decayed), which a schedule attached later takes as its base.
    def run(resume_at):
        opt = sgd(1.0)
        schedule = optim.StepLR(opt, step_size=2, gamma=0.5)
        for t in range(5):
            if t == resume_at:
                again = sgd(7.0)
                again.load_state_dict(opt.state_dict())  # lr 0.5 by now: the new StepLR takes that as base
                schedule_state, opt = schedule.state_dict(), again
                schedule = optim.StepLR(opt, step_size=2, gamma=0.5)
                schedule.load_state_dict(schedule_state)
            schedule.step()
        return lrs(optim.ExponentialLR(opt, gamma=0.5), 2)
    assert run(resume_at=None) == run(resume_at=3) == [1.0, 0.5, 0.25]


def test_a_schedule_state_saved_with_numpy_loads(tmp_path):
    schedule = optim.StepLR(sgd(1.0), step_size=2, gamma=0.5)
    lrs(schedule, 3)
    np.savez(tmp_path / "s.npz", **schedule.state_dict())  # numbers come back as 0-d arrays
    other = optim.StepLR(sgd(1.0), step_size=2, gamma=0.5)
    other.load_state_dict(dict(np.load(tmp_path / "s.npz")))
    assert (other.last_step, other.lr) == (3, 0.5) and type(other.last_step) is int


def test_a_schedule_state_saves_with_tinygrad_mb_save(tmp_path):
    # Catches state_dict() returning Python numbers, which tg.save (arrays only) refuses.
    schedule = optim.StepLR(sgd(1.0), step_size=2, gamma=0.5)
    lrs(schedule, 3)
    tg.save(schedule.state_dict(), tmp_path / "s.npz")
    other = optim.StepLR(sgd(1.0), step_size=2, gamma=0.5)
    other.load_state_dict(tg.load(tmp_path / "s.npz"))
    assert (other.last_step, other.lr) == (3, 0.5)


def test_schedules_take_numpy_integers():
    opt = sgd(1.0)
    warmup = optim.LinearWarmup(opt, warmup_steps=np.int64(2))
    both = optim.SequentialLR(opt, [warmup, optim.StepLR(opt, step_size=np.int32(1), gamma=0.5)],
                              milestones=np.array([2]))
    assert lrs(both, 4) == [0.1, 0.55, 1.0, 0.5, 0.25]
    assert optim.CosineAnnealingLR(sgd(), T_max=np.int64(4)).T_max == 4


@pytest.mark.parametrize(
    ("state", "pattern"),
    [
        ({"last_step": 7, "base_lr": -1.0}, "base_lr=-1.0"),
        ({"last_step": -2, "base_lr": 1.0}, "last_step must be an int >= 0"),
        ({"last_step": -1, "base_lr": 1.0}, "last_step must be an int >= 0"),  # the boundary: off by one
        ({"last_step": 2.5, "base_lr": 1.0}, "last_step must be an int >= 0"),
        ({"base_lr": 1.0}, "missing \\['last_step'\\]"),
    ],
)
def test_a_bad_schedule_state_is_refused_before_anything_changes(state, pattern):
    opt = sgd(1.0)
    schedule = optim.StepLR(opt, step_size=2, gamma=0.5)
    lrs(schedule, 3)
    before = (schedule.last_step, schedule.base_lr, opt.lr)
    with pytest.raises((StateDictError, HyperparameterError), match=pattern):
        schedule.load_state_dict(state)
    assert (schedule.last_step, schedule.base_lr, opt.lr) == before
    assert schedule.step() == 0.25  # and it goes on from where it was


@pytest.mark.parametrize(
    ("ours", "theirs", "epochs"),
    [
        (lambda o: optim.StepLR(o, 7, 0.5), lambda L, o: L.StepLR(o, 7, 0.5), 40),
        (lambda o: optim.ExponentialLR(o, 0.93), lambda L, o: L.ExponentialLR(o, 0.93), 40),
        (lambda o: optim.CosineAnnealingLR(o, 20, 0.01), lambda L, o: L.CosineAnnealingLR(o, 20, 0.01), 20),
        (lambda o: optim.LinearWarmup(o, 10, 0.2), lambda L, o: L.LinearLR(o, 0.2, 1.0, 10), 40),
        (lambda o: optim.SequentialLR(o, [optim.LinearWarmup(o, 5, 0.2), optim.CosineAnnealingLR(o, 30)], [5]),
         lambda L, o: L.SequentialLR(o, [L.LinearLR(o, 0.2, 1.0, 5), L.CosineAnnealingLR(o, 30)], [5]), 35),
        (lambda o: optim.SequentialLR(o, [optim.ExponentialLR(o, 0.9), optim.StepLR(o, 4, 0.5),
                                          optim.LinearWarmup(o, 3, 0.5)], [6, 15]),
         lambda L, o: L.SequentialLR(o, [L.ExponentialLR(o, 0.9), L.StepLR(o, 4, 0.5), L.LinearLR(o, 0.5, 1.0, 3)],
                                     [6, 15]), 40),
        (lambda o: optim.ChainedScheduler(o, [optim.LinearWarmup(o, 5, 0.2), optim.ExponentialLR(o, 0.95)]),
         lambda L, o: L.ChainedScheduler([L.LinearLR(o, 0.2, 1.0, 5), L.ExponentialLR(o, 0.95)]), 40),
    ],
)
def test_schedules_drive_sgd_like_pytorchs_including_a_resume_half_way(ours, theirs, epochs):
    torch = pytest.importorskip("torch")
    from torch.optim import lr_scheduler

    rng = np.random.default_rng(2)
    p, tp = param(), torch.tensor(P0.copy(), requires_grad=True)
    opt, topt = optim.SGD([p], lr=0.5, momentum=0.9), torch.optim.SGD([tp], lr=0.5, momentum=0.9)
    schedule, tschedule = ours(opt), theirs(lr_scheduler, topt)
    for epoch in range(epochs):
        if epoch == epochs // 2:  # resume ours from its state dicts, into new objects
            q = param(p.data.copy())
            opt_state, schedule_state, opt = opt.state_dict(), schedule.state_dict(), optim.SGD([q], lr=9.0)
            opt.load_state_dict(opt_state)
            schedule, p = ours(opt), q
            schedule.load_state_dict(schedule_state)
        g = rng.standard_normal(3)
        p.grad, tp.grad = g.copy(), torch.tensor(g)
        opt.step()
        topt.step()
        schedule.step()
        tschedule.step()
        assert opt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12)
    assert opt.initial_lr == topt.param_groups[0]["initial_lr"]  # what a schedule attached now starts from


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda o: optim.StepLR(o, step_size=0), "step_size=0"),
        (lambda o: optim.StepLR(o, step_size=2, gamma=0), "gamma=0"),
        (lambda o: optim.ExponentialLR(o, gamma=-1), "gamma=-1"),
        (lambda o: optim.CosineAnnealingLR(o, T_max=0), "T_max=0"),
        (lambda o: optim.LinearWarmup(o, warmup_steps=0), "warmup_steps=0"),
        (lambda o: optim.LinearWarmup(o, warmup_steps=3, start_factor=0), "start_factor=0"),
        (lambda o: optim.SequentialLR(o, [optim.StepLR(o, 1), optim.StepLR(o, 1)], milestones=[]), "milestones"),
        (lambda o: optim.SequentialLR(o, [optim.StepLR(o, 1), optim.StepLR(o, 1)], milestones=[0]), "increasing"),
        (lambda o: optim.SequentialLR(o, [optim.StepLR(sgd(), 1)], milestones=[]), "same optimizer"),
        (lambda o: optim.StepLR("opt", 1), "expected an Optimizer"),
    ],
)
def test_invalid_schedules(make, pattern):
    with pytest.raises(HyperparameterError, match=pattern):
        make(sgd())


# --- backends ------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
                                  lambda ps: optim.AdamW(ps, lr=0.1),
                                  lambda ps: optim.Adagrad(ps, lr=0.1, weight_decay=0.1),
                                  lambda ps: optim.RMSprop(ps, lr=0.1, momentum=0.5)])
def test_optimizers_on_backend(backend_name, make):
    ref = param()
    p = nn.Parameter(P0, backend=backend_name)
    opt_ref, opt = make([ref]), make([p])
    for g in (G1, G2):
        ref.grad, p.grad = g.copy(), tg.backend.to_backend(g, backend_name)
        opt_ref.step()
        opt.step()
    assert p.backend == backend_name
    np.testing.assert_allclose(tg.backend.to_numpy(p.data), ref.data, rtol=1e-12)


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1), lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: optim.Adam(ps), lambda ps: optim.AdamW(ps),
                                  lambda ps: optim.Adagrad(ps), lambda ps: optim.RMSprop(ps, momentum=0.5)])
def test_each_step_counts_as_an_in_place_write_of_the_parameters_it_updates(make):
    used, unused = param(), param()
    opt = make([used, unused])
    loss = (used * used).sum()
    loss.backward(retain_graph=True)
    opt.step()
    first = used._version
    opt.step()
    assert 0 < first < used._version and unused._version == 0  # a parameter without a gradient is not written
    with pytest.raises(tg.BackwardError, match="modified in place"):
        loss.backward()  # its graph saw the weights before the steps


# --- found by mutation testing: behaviour no other test pinned down (without torch installed) ---


def test_sgd_nesterov_without_weight_decay_leaves_the_gradient_it_reads_unchanged():
    p = param()
    opt = optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True)
    take_steps(opt, p, [G1, G2])
    np.testing.assert_array_equal(p.grad, G2)  # d = g + mu * buf goes to a new array, never into p.grad
    np.testing.assert_array_equal(opt.state[0]["momentum_buffer"], 0.9 * G1 + G2)


def test_adagrad_weight_decay_adds_wd_times_p_and_counts_steps():
    p = param()
    opt = optim.Adagrad([p], lr=0.1, weight_decay=0.1, initial_accumulator_value=0.2)
    take_steps(opt, p, [G1, G2])
    g1 = G1 + 0.1 * P0
    s1 = 0.2 + g1**2
    p1 = P0 - 0.1 * g1 / (np.sqrt(s1) + 1e-10)
    g2 = G2 + 0.1 * p1
    np.testing.assert_allclose(p.data, p1 - 0.1 * g2 / (np.sqrt(s1 + g2**2) + 1e-10), rtol=1e-12)
    assert opt.state[0]["step"] == 2


def test_rmsprop_weight_decay_adds_wd_times_p():
    p = param()
    take_steps(optim.RMSprop([p], lr=0.01, alpha=0.9, eps=0.5, weight_decay=0.1), p, [G1])
    g = G1 + 0.1 * P0
    np.testing.assert_allclose(p.data, P0 - 0.01 * g / (np.sqrt(0.1 * g**2) + 0.5), rtol=1e-12)


def test_a_state_dict_moved_to_the_gpu_loads_hyper_parameters_and_buffers(backend_name):
    # Catches np.asarray(v).item() on the hyper-parameters: CuPy refuses the implicit copy to the host.
    p = nn.Parameter(P0, backend=backend_name)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = tg.backend.to_backend(G1, backend_name)
    opt.step()
    moved = {k: tg.backend.to_backend(np.asarray(v), backend_name) for k, v in opt.state_dict().items()}
    resumed = optim.SGD([nn.Parameter(P0, backend=backend_name)], lr=0.5)
    resumed.load_state_dict(moved)
    assert resumed.lr == 0.1 and resumed.momentum == 0.9 and type(resumed.lr) is float
    np.testing.assert_array_equal(tg.backend.to_numpy(resumed.state[0]["momentum_buffer"]), G1)


def _train(model, opt, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = tg.Tensor(rng.standard_normal((8, 200)).astype(model[0].weight.dtype))
        loss = (model(x) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


@pytest.mark.parametrize("make", [lambda ps: optim.Adam(ps, lr=1e-2), lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9)])
def test_resuming_from_a_saved_optimizer_state_matches_an_uninterrupted_run_bit_for_bit(make, tmp_path):
    # Catches the state saved in C order for nn.Linear's column-major weight: loaded back, it took the
    # two-pass NumPy update instead of BLAS axpy, and the weights drifted by an ulp (6e-8 in float32).
    straight = nn.Sequential(nn.Linear(200, 100, seed=0))  # 20,000 weights: the axpy path
    opt = make(straight.parameters())
    _train(straight, opt, 4, seed=1)
    _train(straight, opt, 4, seed=2)
    first = nn.Sequential(nn.Linear(200, 100, seed=0))
    opt = make(first.parameters())
    _train(first, opt, 4, seed=1)
    tg.save(first.state_dict(), tmp_path / "model.npz")
    tg.save(opt.state_dict(), tmp_path / "opt.npz")
    resumed = nn.Sequential(nn.Linear(200, 100, seed=5))
    resumed.load_state_dict(tg.load(tmp_path / "model.npz"))
    opt = make(resumed.parameters())
    opt.load_state_dict(tg.load(tmp_path / "opt.npz"))
    if resumed[0].weight.backend == "numpy":  # (on CuPy, state_dict's host copies are C order)
        assert all(v.flags.f_contiguous for k, v in opt.state_dict().items() if k.startswith("0."))  # W's layout
    _train(resumed, opt, 4, seed=2)
    for a, b in zip(straight.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_an_optimizers_state_follows_its_parameters_to_float64():
    # Catches Adam's moments left in float32 after model.to(dtype="float64"): NumPy rounded every
    # update of the float64 weights through them without a word.
    model = nn.Sequential(nn.Linear(200, 3, seed=0))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    _train(model, opt, 3, seed=1)
    model.to(dtype="float64")
    twin = nn.Sequential(nn.Linear(200, 3, seed=9)).to(dtype="float64")
    twin.load_state_dict(model.state_dict())
    twin_opt = optim.Adam(twin.parameters(), lr=1e-2)
    twin_opt.load_state_dict(opt.state_dict())  # load_state_dict casts the moments to the weights' dtype
    _train(model, opt, 2, seed=2)
    _train(twin, twin_opt, 2, seed=2)
    assert opt.state[0]["exp_avg"].dtype == opt.state[0]["exp_avg_sq"].dtype == np.float64
    for a, b in zip(model.parameters(), twin.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
