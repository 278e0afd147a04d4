"""Every exercise checker accepts a right answer (printing ✓) and rejects wrong ones with a useful message."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tinygrad_mb import Function, Tensor, gradcheck
from tinygrad_mb import exercises as ex
from tinygrad_mb.backend import array_module
from tinygrad_mb.exercises import ExerciseError


def accepts(check, answer, capsys, *args):
    assert check(answer, *args) is None
    out = capsys.readouterr().out
    assert out.startswith("✓"), out


def rejects(check, answer, *patterns, args=()):
    """The checker raises ExerciseError whose message matches every regex in ``patterns``."""
    with pytest.raises(ExerciseError) as info:
        check(answer, *args)
    message = str(info.value)
    assert message.startswith("✗"), message
    for pattern in patterns:
        assert re.search(pattern, message, re.S), f"{pattern!r} not in:\n{message}"
    return message


def test_exercise_error_is_a_library_error_and_an_assertion():
    from tinygrad_mb.errors import TinygradMBError

    assert issubclass(ExerciseError, TinygradMBError) and issubclass(ExerciseError, AssertionError)


def test_as_number_takes_one_element_and_names_the_shape_of_more():
    from tinygrad_mb.exercises._common import as_number

    for value in (0.5, [0.5], np.array([[0.5]]), np.float32(0.5), Tensor([0.5])):
        assert as_number(value, "x") == pytest.approx(0.5)
    with pytest.raises(ExerciseError, match=r"(?s)x: expected one number, got ndarray of shape \(3,\).*Hint"):
        as_number(np.ones(3), "x")
    with pytest.raises(ExerciseError, match=r"x: expected one number, got list of shape \(0,\)"):
        as_number([], "x")
    with pytest.raises(ExerciseError, match="x returned None: did you forget `return`"):
        as_number(None, "x")


def test_show_both_adds_digits_until_the_numbers_differ():
    from tinygrad_mb.exercises._common import show_both

    assert show_both(0.4, 0.5) == ("0.4", "0.5")
    expected, got = show_both(0.4, np.float32(0.4))
    assert expected != got and got.startswith("0.4000000")
    expected, got = show_both(np.array([0.72, 0.0]), np.array([0.72, 6e-8]))
    assert expected != got


# --- 01 tensors and autograd ----------------------------------------------------------------
def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_sigmoid_derivative(capsys):
    accepts(ex.check_sigmoid_derivative, lambda x: sigmoid(x) * (1 - sigmoid(x)), capsys)
    rejects(ex.check_sigmoid_derivative, sigmoid, r"at x = -8: expected sigma'\(x\) = 0.000335", "sigma\\(x\\) itself")
    rejects(ex.check_sigmoid_derivative, lambda x: sigmoid(x) * (1 + sigmoid(x)), "check the sign")
    rejects(ex.check_sigmoid_derivative, lambda x: np.exp(-x) / (1 + np.exp(-x)), "squared")
    rejects(ex.check_sigmoid_derivative, lambda x: 0.25, "shape")
    rejects(ex.check_sigmoid_derivative, lambda x: x.foo, "raised AttributeError", "called with")
    rejects(ex.check_sigmoid_derivative, "not a function", "expected a function")


def test_chain_rule(capsys):
    accepts(ex.check_chain_rule, {"a": -24.0, "b": 16.0, "c": 8.0}, capsys)
    rejects(ex.check_chain_rule, {"a": -3.0, "b": 16.0, "c": 8.0}, "dL/da", "expected -24, got -3",
            "only dd/da")
    rejects(ex.check_chain_rule, {"a": -24.0, "b": 16.0, "c": 1.0}, "dL/dc", "expected 8, got 1")
    rejects(ex.check_chain_rule, {"a": -24.0}, r"no entry for \['b', 'c'\]")
    rejects(ex.check_chain_rule, [-24, 16, 8], "expected a dict")


def test_softplus(capsys):
    accepts(ex.check_softplus, lambda x: (x.exp() + 1).log(), capsys)
    rejects(ex.check_softplus, lambda x: x.exp().log(), "softplus forward at x = -6", "log\\(1 \\+ exp")
    rejects(ex.check_softplus, lambda x: np.log1p(np.exp(x.numpy())), "not a Tensor")
    rejects(ex.check_softplus, lambda x: Tensor(np.log1p(np.exp(x.numpy()))), "not connected to x")


def test_sigmoid_derivative_hints_a_stray_factor_or_sign_and_none(capsys):
    rejects(ex.check_sigmoid_derivative, lambda x: 2 * sigmoid(x) * (1 - sigmoid(x)), "every value is 2 times")
    rejects(ex.check_sigmoid_derivative, lambda x: -sigmoid(x) * (1 - sigmoid(x)), "Hint: the sign", "positive")
    rejects(ex.check_sigmoid_derivative, lambda x: None, "returned None: did you forget `return`")


def test_sigmoid_derivative_message_shows_enough_digits_to_differ():
    message = rejects(ex.check_sigmoid_derivative, lambda x: sigmoid(x) * (1 - sigmoid(x)) * (1 + 2e-6), "expected")
    expected, got = re.search(r"expected sigma'\(x\) = (\S+), got (\S+)", message).groups()
    assert expected != got, message


def test_chain_rule_takes_one_element_values_and_rejects_more(capsys):
    accepts(ex.check_chain_rule, {"a": [-24.0], "b": np.array([16.0]), "c": Tensor([8.0])}, capsys)
    rejects(ex.check_chain_rule, {"a": [-24.0, 1.0], "b": 16.0, "c": 8.0}, "dL/da: expected one number",
            r"shape \(2,\)")
    rejects(ex.check_chain_rule, {"a": None, "b": 16.0, "c": 8.0}, "dL/da is None")


def test_softplus_accepts_the_stable_formula_with_its_kink_at_zero(capsys):
    # relu and |x| have subgradient 0 at x = 0, so autograd gives 0 there instead of sigmoid(0) = 0.5
    accepts(ex.check_softplus, lambda x: x.relu() + ((-x.abs()).exp() + 1).log(), capsys)
    rejects(ex.check_softplus, lambda x: x.relu() + ((-x.abs()).exp() + 1).log() * 0.5, "softplus forward")
    rejects(ex.check_softplus, lambda x: None, "returned None")


def test_autograd_checkers_accept_float32_answers(capsys):
    # float32 keeps ~7 digits, and 1 - sigma(x) or log(1 + e^x) near 1 lose some of them: still right answers
    def derivative32(x):
        s = sigmoid(x.astype(np.float32))
        return s * (1 - s)

    accepts(ex.check_sigmoid_derivative, derivative32, capsys)
    accepts(ex.check_softplus, lambda x: (x.astype(np.float32).exp() + 1).log(), capsys)
    rejects(ex.check_sigmoid_derivative, lambda x: sigmoid(x.astype(np.float32)), "sigma\\(x\\) itself")


def test_sigmoid_derivative_names_one_minus_sigma():
    rejects(ex.check_sigmoid_derivative, lambda x: 1 - sigmoid(x), "that is 1 - sigma\\(x\\)",
            "multiply by sigma\\(x\\)")


def test_softplus_that_calls_backward_itself_gets_a_message_not_a_crash():
    def with_backward(x):
        out = (x.exp() + 1).log()
        out.sum().backward()  # frees the graph the checker then goes through
        return out

    rejects(ex.check_softplus, with_backward, "called backward\\(\\)", "only computes the forward pass")


# --- 06 testing gradients with hypothesis ------------------------------------------------------
class Softsign(Function):
    def forward(self, x):
        self.x = x
        return x / (1 + array_module(x).abs(x))

    def backward(self, g):
        return g / (1 + array_module(self.x).abs(self.x)) ** 2


class SoftsignNotSquared(Softsign):
    def backward(self, g):
        return g / (1 + array_module(self.x).abs(self.x))


class SoftsignNoAbs(Softsign):
    def backward(self, g):
        with np.errstate(divide="ignore"):  # 1 + x = 0 at x = -1
            return g / (1 + self.x) ** 2


class SoftsignWrongForward(Softsign):
    def forward(self, x):
        self.x = x
        return x / (1 + x * x)


def test_softsign_op(capsys):
    accepts(ex.check_softsign_op, Softsign, capsys)
    rejects(ex.check_softsign_op, SoftsignNotSquared, "gradient at x = -4", "squared")
    rejects(ex.check_softsign_op, SoftsignNoAbs, "gradient at x = -4", "use \\|x\\|")
    rejects(ex.check_softsign_op, SoftsignWrongForward, "Softsign forward")
    rejects(ex.check_softsign_op, lambda x: x, "subclass of tinygrad_mb.Function")


def test_property_test(capsys):
    from hypothesis import given, settings

    from tinygrad_mb.testing import shapes, tensors

    def good(op):
        @settings(max_examples=25, deadline=None, database=None, derandomize=True)
        @given(tensors(shapes(max_dims=2)))
        def test(x):
            assert gradcheck(op, x)

        return test

    def only_positive(op):  # too narrow: never tries x < 0
        @settings(max_examples=25, deadline=None, database=None, derandomize=True)
        @given(tensors(shapes(max_dims=2), min_value=0.1, max_value=1.5))
        def test(x):
            assert gradcheck(op, x)

        return test

    def no_hypothesis(op):
        def test():
            assert gradcheck(op, Tensor(np.array([0.5]), requires_grad=True))

        return test

    def always_fails(op):
        @settings(max_examples=5, deadline=None, database=None)
        @given(tensors(shapes(max_dims=1)))
        def test(x):
            raise AssertionError("nope")

        return test

    accepts(ex.check_property_test, good, capsys)
    rejects(ex.check_property_test, only_positive, "PASSED an op whose backward is wrong only for x < 0")
    rejects(ex.check_property_test, no_hypothesis, "not a hypothesis test", "@given")
    rejects(ex.check_property_test, always_fails, "FAILED on a correct softsign")
    rejects(ex.check_property_test, lambda op: None, "returned None")


class LogCosh(Function):
    def forward(self, x):
        xp = array_module(x)
        self.x = x
        ax = xp.abs(x)
        return ax + xp.log1p(xp.exp(-2 * ax)) - np.log(2.0)

    def backward(self, g):
        return g * np.tanh(self.x)


class BuggyLogCosh(LogCosh):
    def backward(self, g):
        return g * np.tanh(np.abs(self.x))


def test_fixed_logcosh(capsys):
    accepts(ex.check_fixed_logcosh, LogCosh, capsys)
    rejects(ex.check_fixed_logcosh, BuggyLogCosh, "gradient at x = -25", "still tanh\\(\\|x\\|\\)")


class NegatedLogCosh(LogCosh):
    def backward(self, g):
        return -g * np.tanh(self.x)


def test_fixed_logcosh_hints_the_sign_not_the_abs_for_minus_tanh():
    message = rejects(ex.check_fixed_logcosh, NegatedLogCosh, "gradient at x = -25", "Hint: the sign")
    assert "still tanh(|x|)" not in message


class SoftsignIgnoresG(Softsign):
    def backward(self, g):
        return 1 / (1 + np.abs(self.x)) ** 2  # right for g = 1 only


class LogCoshIgnoresG(LogCosh):
    def backward(self, g):
        return np.tanh(self.x)


def test_ops_whose_backward_ignores_g_are_told_so():
    for check, op in ((ex.check_softsign_op, SoftsignIgnoresG), (ex.check_fixed_logcosh, LogCoshIgnoresG)):
        rejects(check, op, "same gradient for g = 2 as for g = 1: it ignores g", "g \\* d\\(out\\)/dx")


def test_property_test_verdict_does_not_depend_on_timing(capsys):
    import time

    from hypothesis import given, settings

    from tinygrad_mb.testing import shapes, tensors

    def make_test(deadline_ms=None):
        def make(op):
            first = [True]

            # no deadline set (hypothesis's default is 200 ms), as students often write it
            @(settings(max_examples=20) if deadline_ms is None else settings(max_examples=20, deadline=deadline_ms))
            @given(tensors(shapes(max_dims=2)))
            def test(x):
                if first.pop() if first else False:
                    time.sleep(0.3)  # one slow example: what a busy machine does now and then
                assert gradcheck(op, x)

            return test

        return make

    before = settings.default
    accepts(ex.check_property_test, make_test(), capsys)
    assert settings.default == before  # the student's own hypothesis defaults are back
    # a deadline the student sets is kept; the hint then says what went wrong
    rejects(ex.check_property_test, make_test(deadline_ms=200), "FAILED on a correct softsign", "deadline=None")


# --- 02 layers, losses and optimizers ------------------------------------------------------------
def _linear_class(init="uniform", layout="out_in", forward="right", n_params=2):
    from tinygrad_mb import nn

    class Layer(nn.Module):
        def __init__(self, d_in, d_out):
            super().__init__()
            rng = np.random.default_rng(0)
            shape = (d_out, d_in) if layout == "out_in" else (d_in, d_out)
            w = {"uniform": rng.uniform(-1, 1, shape) / np.sqrt(d_in), "randn": rng.standard_normal(shape),
                 "zeros": np.zeros(shape)}[init]
            self.weight = nn.Parameter(w.astype(np.float32))
            if n_params == 2:
                self.bias = nn.Parameter(np.zeros(d_out, dtype=np.float32))

        def forward(self, x):
            w = self.weight.T if layout == "out_in" else self.weight
            if forward == "no_bias":
                return x @ w
            if forward == "detached":
                return Tensor(x.numpy() @ w.numpy() + self.bias.numpy())
            return x @ w + self.bias

    return Layer


def test_linear_layer(capsys):
    accepts(ex.check_linear_layer, _linear_class(), capsys)
    rejects(ex.check_linear_layer, _linear_class(layout="in_out"), r"shape \(5, 3\)", r"\(out_features, in_features\)")
    rejects(ex.check_linear_layer, _linear_class(init="randn"), "standard deviation", "1/sqrt")
    rejects(ex.check_linear_layer, _linear_class(init="zeros"), "all equal")
    rejects(ex.check_linear_layer, _linear_class(n_params=1), "1 parameters; expected 2")
    rejects(ex.check_linear_layer, _linear_class(forward="no_bias"), "output for a batch of 1", "x @ W.T \\+ b")
    rejects(ex.check_linear_layer, _linear_class(forward="detached"), "not connected", "cuts the graph")
    rejects(ex.check_linear_layer, lambda a, b: object(), "not an nn.Module")


def test_mlp(capsys):
    from tinygrad_mb import nn

    accepts(ex.check_mlp, nn.Sequential(nn.Linear(64, 32, seed=0), nn.ReLU(), nn.Linear(32, 10, seed=1)), capsys)
    rejects(ex.check_mlp, nn.Sequential(nn.Linear(64, 32, seed=0), nn.Linear(32, 10, seed=1)), "affine",
            "non-linearity")
    rejects(ex.check_mlp, nn.Sequential(nn.Linear(64, 64, seed=0), nn.ReLU(), nn.Linear(64, 10, seed=1)),
            "4810 parameters", "2410")
    rejects(ex.check_mlp, nn.Sequential(nn.Linear(64, 32, seed=0), nn.ReLU()), r"expected a Tensor of shape \(6, 10\)")
    rejects(ex.check_mlp, lambda x: x, "not an nn.Module")


class _CustomMLP:  # a hand-written Module, not a Sequential; built lazily so nn is imported inside tests
    @staticmethod
    def make(seed, hidden="relu"):
        from tinygrad_mb import nn

        class MLP(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(64, 32, seed=seed)
                self.fc2 = nn.Linear(32, 10, seed=seed + 100)

            def forward(self, x):
                h = self.fc1(x)
                return self.fc2(h.relu() if hidden == "relu" else h.tanh())

        return MLP()


def test_mlp_accepts_custom_modules_with_any_seed(capsys):
    for seed in range(6):
        accepts(ex.check_mlp, _CustomMLP.make(seed, "relu" if seed % 2 else "tanh"), capsys)


def test_mlp_must_output_logits():
    from tinygrad_mb import nn

    relu_last = nn.Sequential(nn.Linear(64, 32, seed=0), nn.Linear(32, 10, seed=1), nn.ReLU())
    rejects(ex.check_mlp, relu_last, "never negative", "logits: the raw output of the last Linear",
            "between the layers")
    softmax_last = nn.Sequential(nn.Linear(64, 32, seed=0), nn.ReLU(), nn.Linear(32, 10, seed=1), nn.Softmax())
    rejects(ex.check_mlp, softmax_last, "probabilities", "logits")
    tanh_last = nn.Sequential(nn.Linear(64, 32, seed=0), nn.ReLU(), nn.Linear(32, 10, seed=1), nn.Tanh())
    rejects(ex.check_mlp, tanh_last, "not the raw output of its last Linear", "logits")


def test_mlp_leaves_the_model_unchanged():
    from tinygrad_mb import nn

    model = nn.Sequential(nn.Linear(64, 32, seed=0), nn.Tanh(), nn.Linear(32, 10, seed=1))
    before = {k: v.copy() for k, v in model.state_dict().items()}
    ex.check_mlp(model)
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())


def test_mlp_returning_an_array_is_told_why_a_tensor_is_needed():
    from tinygrad_mb import nn

    class NumpyOut(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Sequential(nn.Linear(64, 32, seed=0), nn.ReLU(), nn.Linear(32, 10, seed=1))

        def forward(self, x):
            return self.inner(x).numpy()

    rejects(ex.check_mlp, NumpyOut(), "returned ndarray", "not a Tensor", "gradients")


def test_linear_layer_output_shape_hint_is_about_rows():
    from tinygrad_mb import nn

    class SumsTheBatch(nn.Module):
        def __init__(self, d_in, d_out):
            super().__init__()
            self.weight = nn.Parameter(np.random.default_rng(0).uniform(-1, 1, (d_out, d_in)) / np.sqrt(d_in))
            self.bias = nn.Parameter(np.zeros(d_out))

        def forward(self, x):
            return (x @ self.weight.T).sum(axis=0) + self.bias

    message = rejects(ex.check_linear_layer, SumsTheBatch, r"returned shape \(3,\); expected \(1, 3\)",
                      "one row of outputs per input row")
    assert "with the input's shape" not in message


def test_mlp_with_dropout_is_checked_in_eval_mode(capsys):
    from tinygrad_mb import nn

    model = nn.Sequential(nn.Linear(64, 32, seed=0), nn.ReLU(), nn.Dropout(0.2, seed=0), nn.Linear(32, 10, seed=1))
    accepts(ex.check_mlp, model, capsys)
    assert all(module.training for module in model.modules())  # left in the mode it was given in
    model.eval()
    accepts(ex.check_mlp, model, capsys)
    assert not any(module.training for module in model.modules())


def _stable_ce(logits, labels):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - shifted.exp().sum(axis=1, keepdims=True).log()
    return -log_p[np.arange(len(labels)), labels].mean()


def test_cross_entropy(capsys):
    def naive(logits, labels):
        p = logits.exp() / logits.exp().sum(axis=1, keepdims=True)
        return -p.log()[np.arange(len(labels)), labels].mean()

    def summed(logits, labels):
        return _stable_ce(logits, labels) * len(labels)

    def wrong_sign(logits, labels):
        return -_stable_ce(logits, labels)

    accepts(ex.check_cross_entropy, _stable_ce, capsys)
    with np.errstate(over="ignore", invalid="ignore"):
        rejects(ex.check_cross_entropy, naive, "large logits", "subtract each row's maximum")
    rejects(ex.check_cross_entropy, summed, "sum over the batch")
    rejects(ex.check_cross_entropy, wrong_sign, "the sign")
    rejects(ex.check_cross_entropy, lambda z, y: (z - z.max(axis=1, keepdims=True)).exp(), "one-element Tensor")


def test_cross_entropy_more_mistakes_and_float32(capsys):
    accepts(ex.check_cross_entropy, lambda z, y: _stable_ce(z.astype(np.float32), y), capsys)
    rejects(ex.check_cross_entropy, lambda z, y: -z.log_softmax(axis=0)[np.arange(len(y)), y].mean(),
            "random logits", "axis=1")
    rejects(ex.check_cross_entropy, lambda z, y: _stable_ce(z, y).numpy(), "returned ndarray", "not a Tensor",
            "gradients")
    rejects(ex.check_cross_entropy, lambda z, y: None, "returned None: did you forget `return`")


def test_cross_entropy_hints_a_wrong_index_and_always_says_something():
    def every_pair(logits, labels):  # log_p[:, labels]: an N x N block
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_p = shifted - shifted.exp().sum(axis=1, keepdims=True).log()
        return -log_p[:, labels].mean()

    rejects(ex.check_cross_entropy, every_pair, "random logits", r"log_p\[np.arange\(N\), labels\]")
    rejects(ex.check_cross_entropy, lambda z, y: _stable_ce(z, y) / np.log(10), "random logits",
            "Hint: each sample's loss is log\\(sum_j exp\\(z_j\\)\\) - z_label")


def _momentum_class(kind="right", lr_factor=1.0):
    class Opt:
        def __init__(self, params, lr, momentum):
            # "keeps_iterator" stores what it was given: model.parameters() is an iterator, used up after one loop
            self.params = params if kind == "keeps_iterator" else list(params)
            self.lr, self.mu = lr * lr_factor, momentum
            self.v = {}
            self.shared = None

        def zero_grad(self):
            if kind != "no_zero":
                for p in self.params:
                    p.grad = None

        def step(self):
            for i, p in enumerate(self.params):
                if kind == "plain":
                    p.data -= self.lr * p.grad
                    continue
                if kind == "mutates_grad":
                    p.grad *= 1.0 + 1e-3
                g = p.grad.astype(np.float32) if kind == "float32_buffer" else p.grad
                if kind == "ema":
                    g = (1 - self.mu) * g
                v = self.shared if kind == "shared_buffer" else self.v.get(i)
                if v is None:
                    v = np.zeros_like(g) if kind == "zero_start" else g.copy()
                    if kind == "zero_start":
                        v = self.mu * v + (1 - self.mu) * g
                else:
                    v = self.mu * v + g
                if kind == "shared_buffer":
                    self.shared = v
                self.v[i] = v
                if kind == "uphill":
                    p.data += self.lr * v
                elif kind == "nesterov":
                    p.data -= self.lr * (g + self.mu * v)
                else:
                    p.data -= self.lr * v

    return Opt


def test_sgd_momentum(capsys):
    accepts(ex.check_sgd_momentum, _momentum_class(), capsys)
    rejects(ex.check_sgd_momentum, _momentum_class("plain"), "after step 2", "plain SGD step")
    rejects(ex.check_sgd_momentum, _momentum_class("zero_start"), "after step 1", "first step")
    rejects(ex.check_sgd_momentum, _momentum_class("mutates_grad"), "step\\(\\) changed p.grad")
    rejects(ex.check_sgd_momentum, _momentum_class("no_zero"), "after zero_grad\\(\\) the gradient is still")
    rejects(ex.check_sgd_momentum, lambda params, lr, mu: object(), "no method zero_grad")


def test_sgd_momentum_needs_its_own_list_and_one_buffer_per_parameter():
    rejects(ex.check_sgd_momentum, _momentum_class("keeps_iterator"), "iterator", "list\\(params\\)")
    rejects(ex.check_sgd_momentum, _momentum_class("shared_buffer"), "its own momentum buffer")


def test_sgd_momentum_accepts_a_float32_buffer(capsys):
    accepts(ex.check_sgd_momentum, _momentum_class("float32_buffer"), capsys)


def test_sgd_momentum_hints_match_the_mistake():
    first_step_hint = "on the first step the buffer is just the gradient"
    for kind, lr_factor, pattern in (("right", 0.5, "0.5 times the right size: use the lr"),
                                     ("ema", 1.0, "moving average"), ("uphill", 1.0, "uphill")):
        message = rejects(ex.check_sgd_momentum, _momentum_class(kind, lr_factor), "after step 1", pattern)
        assert first_step_hint not in message
    message = rejects(ex.check_sgd_momentum, _momentum_class("nesterov"), "after step 1")
    assert "uphill" not in message and "times the right size" not in message and "plain SGD" not in message


def test_sgd_momentum_that_takes_len_of_an_iterator_gets_the_list_hint():
    class LenFirst:
        def __init__(self, params, lr, momentum):
            self.buffers = [None] * len(params)  # fails for model.parameters(), an iterator
            self.params, self.lr, self.momentum = list(params), lr, momentum

        def zero_grad(self):
            pass

        def step(self):
            pass

    rejects(ex.check_sgd_momentum, LenFirst, "raised TypeError", "no len\\(\\)", "self.params = list\\(params\\)")


# --- 03 batch vs stochastic vs mini-batch ---------------------------------------------------------
def test_updates_per_epoch(capsys):
    import math

    def right(n, b, drop_last=False):
        if b is None or b >= n:
            return 1
        return n // b if drop_last else math.ceil(n / b)

    accepts(ex.check_updates_per_epoch, right, capsys)
    rejects(ex.check_updates_per_epoch, lambda n, b, drop_last=False: 1 if b is None else n // b,
            r"n=1000, batch_size=32\): expected 32, got 31", "round up")
    rejects(ex.check_updates_per_epoch, lambda n, b, drop_last=False: 1 if b is None else math.ceil(n / b),
            "drop_last=True\\): expected 31, got 32", "round down")
    rejects(ex.check_updates_per_epoch, lambda n, b, drop_last=False: n / (b or n), "float", "whole number")
    rejects(ex.check_updates_per_epoch, lambda n, b, drop_last=False: n // b, "raised TypeError")


def test_updates_per_epoch_hints_none_and_an_extra_batch():
    rejects(ex.check_updates_per_epoch, lambda n, b, drop_last=False: None, "did you forget `return`")
    rejects(ex.check_updates_per_epoch, lambda n, b, drop_last=False: 1 if b is None else n // b + 1,
            r"n=1000, batch_size=1000\): expected 1, got 2", "counts one too many", "math.ceil")


@pytest.fixture(scope="module")
def small_comparison():
    from tinygrad_mb import gd

    prob = gd.make_problem("digits")
    return gd.compare(prob.model_fn, prob.loss_fn, prob.train, [gd.Batch(0.5), gd.Stochastic(0.01),
                      gd.MiniBatch(32, 0.1)], epochs=2, seeds=[0])


def test_axis_reading(capsys, small_comparison):
    accepts(ex.check_axis_reading, small_comparison, capsys, {"per_update": "batch", "per_sample": "sgd"})
    with pytest.raises(ExerciseError, match="(?s)after 2 updates, the lowest training loss belongs to 'batch'.*"
                                            "Hint: read the 'per update' panel"):
        ex.check_axis_reading(small_comparison, {"per_update": "sgd", "per_sample": "sgd"})
    with pytest.raises(ExerciseError, match="per_sample: after one epoch"):
        ex.check_axis_reading(small_comparison, {"per_update": "batch", "per_sample": "minibatch"})
    with pytest.raises(ExerciseError, match="not one of the variants"):
        ex.check_axis_reading(small_comparison, {"per_update": "adam", "per_sample": "sgd"})
    with pytest.raises(ExerciseError, match="keys 'per_update' and 'per_sample'"):
        ex.check_axis_reading(small_comparison, {"updates": "batch"})
    with pytest.raises(ExerciseError, match="must be the gd.Comparison"):
        ex.check_axis_reading(None, {"per_update": "batch", "per_sample": "sgd"})


def _loop(new_loader_each_epoch=False, step=True, zero_grad=True):
    from tinygrad_mb import data, optim

    def my_train(model, loss_fn, X, y, batch_size, lr, epochs, seed):
        make = lambda: data.DataLoader(data.TensorDataset(X, y), batch_size=batch_size, shuffle=True,  # noqa: E731
                                       seed=seed)
        loader = make()
        opt = optim.SGD(model.parameters(), lr=lr)
        for _ in range(epochs):
            for xb, yb in (make() if new_loader_each_epoch else loader):
                loss = loss_fn(model(xb), yb)
                if zero_grad:
                    opt.zero_grad()
                loss.backward()
                if step:
                    opt.step()

    return my_train


def test_training_loop(capsys):
    accepts(ex.check_training_loop, _loop(), capsys)
    rejects(ex.check_training_loop, _loop(new_loader_each_epoch=True), "batch_size=1", "created ONCE")
    rejects(ex.check_training_loop, _loop(step=False), "batch_size=20", "did not move")
    # Without zero_grad the full-batch case fails first; its order cannot be the cause, so the hint says so.
    rejects(ex.check_training_loop, _loop(zero_grad=False), "batch_size=20", "without zero_grad")


def test_training_loop_hints_match_the_mistake():
    from tinygrad_mb import data, optim

    def loop(lr_factor=1.0, extra_epochs=0, shuffle=True, one_epoch=False):
        def my_train(model, loss_fn, X, y, batch_size, lr, epochs, seed):
            loader = data.DataLoader(data.TensorDataset(X, y), batch_size=batch_size, shuffle=shuffle, seed=seed)
            opt = optim.SGD(model.parameters(), lr=lr * lr_factor)
            for _ in range(1 if one_epoch else epochs + extra_epochs):
                for xb, yb in loader:
                    loss = loss_fn(model(xb), yb)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()

        return my_train

    message = rejects(ex.check_training_loop, loop(lr_factor=0.5), "batch_size=20", "compare your loop")
    assert "zero_grad() the gradients" not in message
    message = rejects(ex.check_training_loop, loop(extra_epochs=-1), "batch_size=20", "that is 2 epochs")
    assert "zero_grad() the gradients" not in message
    rejects(ex.check_training_loop, loop(shuffle=False), "batch_size=1", "shuffle=True")
    # one epoch whatever `epochs` says: the first case asks for 3, so it is neither epochs - 1 nor epochs + 1
    message = rejects(ex.check_training_loop, loop(one_epoch=True), "batch_size=20, lr=0.2, 3 epochs",
                      "one pass over the data", r"range\(epochs\)")
    assert "compare your loop" not in message


def test_training_loop_accepts_another_right_order(capsys):
    from tinygrad_mb import data, optim

    def my_train(model, loss_fn, X, y, batch_size, lr, epochs, seed):  # zero_grad first, a while loop
        loader = data.DataLoader(data.TensorDataset(X, y), batch_size=batch_size, shuffle=True, seed=seed)
        opt = optim.SGD(model.parameters(), lr=lr)
        done = 0
        while done < epochs:
            for xb, yb in loader:
                opt.zero_grad()
                loss_fn(model(xb), yb).backward()
                opt.step()
            done += 1

    accepts(ex.check_training_loop, my_train, capsys)


# --- 04 gradient noise ---------------------------------------------------------------------------
def test_noise_theory(capsys):
    accepts(ex.check_noise_theory, lambda tr, b, n: tr / b * (n - b) / (n - 1), capsys)
    rejects(ex.check_noise_theory, lambda tr, b, n: tr / b, "B=4, N=100: expected 2.42424, got 2.5", "with-replacement")
    rejects(ex.check_noise_theory, lambda tr, b, n: tr / b * (n - b) / n, "not \\(N - B\\) / N")
    rejects(ex.check_noise_theory, lambda tr, b, n: tr / b**2, "expected")


def test_noise_theory_accepts_float32_and_one_element_answers(capsys):
    def right(tr, b, n):
        return tr / b * (n - b) / (n - 1)

    accepts(ex.check_noise_theory, lambda tr, b, n: np.float32(right(tr, b, n)), capsys)
    accepts(ex.check_noise_theory, lambda tr, b, n: Tensor(right(tr, b, n)), capsys)  # float32 by default
    accepts(ex.check_noise_theory, lambda tr, b, n: np.array([right(tr, b, n)]), capsys)
    rejects(ex.check_noise_theory, lambda tr, b, n: np.array([tr, b]), r"expected one number", r"shape \(2,\)")
    rejects(ex.check_noise_theory, lambda tr, b, n: None, "returned None: did you forget `return`")


def test_noise_scale(capsys):
    def right(g):
        G = g.mean(axis=0)
        return ((g - G) ** 2).sum(axis=1).mean() / (G @ G)

    def ddof1(g):
        G = g.mean(axis=0)
        return ((g - G) ** 2).sum(axis=1).sum() / (len(g) - 1) / (G @ G)

    def not_squared(g):
        G = g.mean(axis=0)
        return ((g - G) ** 2).sum(axis=1).mean() / np.sqrt(G @ G)

    def trace_only(g):
        return ((g - g.mean(axis=0)) ** 2).sum(axis=1).mean()

    accepts(ex.check_noise_scale, right, capsys)
    rejects(ex.check_noise_scale, ddof1, r"shape \(50, 3\)", "not N - 1")
    rejects(ex.check_noise_scale, not_squared, "SQUARED")
    rejects(ex.check_noise_scale, trace_only, "that is tr\\(Sigma\\)")

    def mean_of_variances(g):
        return ((g - g.mean(axis=0)) ** 2).mean() / (g.mean(axis=0) @ g.mean(axis=0))

    rejects(ex.check_noise_scale, mean_of_variances, "SUM of the variances")


def test_noise_scale_accepts_float32_and_explains_a_vector(capsys):
    def right(g):
        G = g.mean(axis=0)
        return ((g - G) ** 2).sum(axis=1).mean() / (G @ G)

    accepts(ex.check_noise_scale, lambda g: np.float32(right(g)), capsys)
    rejects(ex.check_noise_scale, lambda g: np.var(g, axis=0) / (g.mean(0) @ g.mean(0)),
            r"expected one number, got ndarray of shape \(3,\)", "SUM of the variances")


def test_batch_for_noise(capsys):
    import math

    def right(tr, g2, n, ratio):
        return min(n, math.ceil(tr * n / (ratio * g2 * (n - 1) + tr)))

    accepts(ex.check_batch_for_noise, right, capsys)
    rejects(ex.check_batch_for_noise, lambda tr, g2, n, r: min(n, math.ceil(tr / (r * g2))), "expected B = 91, got 100",
            "without replacement")
    rejects(ex.check_batch_for_noise, lambda tr, g2, n, r: min(n, math.floor(tr * n / (r * g2 * (n - 1) + tr))),
            "expected B = 91, got 90", "round up")
    rejects(ex.check_batch_for_noise, lambda tr, g2, n, r: tr * n / (r * g2 * (n - 1) + tr), "expected the int")
    def ceil_as_float(tr, g2, n, r):  # rounded up, but np.ceil returns a float
        return np.minimum(n, np.ceil(tr * n / (r * g2 * (n - 1) + tr)))

    message = rejects(ex.check_batch_for_noise, ceil_as_float, "expected the int 91", r"wrap it in int\(")
    assert "round UP" not in message


def test_batch_for_noise_hints_match_the_mistake():
    import math

    def over_n(tr, g2, n, r):  # the finite-population factor (N - B)/N instead of (N - B)/(N - 1)
        return min(n, math.ceil(tr * n / (r * g2 * n + tr)))

    message = rejects(ex.check_batch_for_noise, over_n, "expected B = 501, got 500", "not \\(N - B\\) / N")
    assert "round up" not in message
    rejects(ex.check_batch_for_noise, lambda tr, g2, n, r: None, "returned None: did you forget `return`")


def test_batch_for_noise_rejects_int_plus_one():
    def int_plus_one(tr, g2, n, r):  # rounds up, except a whole number, which it bumps one too far
        return min(n, int(tr * n / (r * g2 * (n - 1) + tr)) + 1)

    def search(tr, g2, n, r):  # the smallest B whose noise is at most the budget, found by trying them all
        return next(b for b in range(1, n + 1) if tr / b * (n - b) / (n - 1) <= r * g2)

    rejects(ex.check_batch_for_noise, int_plus_one, "N=64, ratio=1.0: expected B = 32, got 33", "math.ceil")
    rejects(ex.check_batch_for_noise, lambda tr, g2, n, r: search(tr, g2, n, r * (1 - 1e-12)), "got 33", "<=")


def test_batch_for_noise_accepts_the_exact_boundary_in_every_form(capsys):
    import math

    def search(tr, g2, n, r):
        return next(b for b in range(1, n + 1) if tr * (n - b) / (b * (n - 1)) <= r * g2)

    accepts(ex.check_batch_for_noise, search, capsys)
    accepts(ex.check_batch_for_noise, lambda tr, g2, n, r: math.ceil(n / (1 + r * g2 * (n - 1) / tr)), capsys)
    accepts(ex.check_batch_for_noise, lambda tr, g2, n, r: int(np.ceil(np.float32(tr) * n / (
        np.float32(r * g2) * (n - 1) + np.float32(tr)))), capsys)


# --- 05 learning rate and batch size --------------------------------------------------------------
def test_stable_lr(capsys):
    def right(X):
        return 2 / np.linalg.eigvalsh(2 / len(X) * X.T @ X)[-1]

    accepts(ex.check_stable_lr, right, capsys)
    rejects(ex.check_stable_lr, lambda X: 2 / np.linalg.eigvalsh(X.T @ X / len(X))[-1], "no factor 1/2")
    rejects(ex.check_stable_lr, lambda X: 1 / np.linalg.eigvalsh(2 / len(X) * X.T @ X)[-1], "that is 1/L")
    rejects(ex.check_stable_lr, lambda X: np.linalg.eigvalsh(2 / len(X) * X.T @ X)[-1], "that is L itself")
    accepts(ex.check_stable_lr, lambda X: len(X) / np.linalg.norm(X, 2) ** 2, capsys)  # 2/L = N / sigma_max^2
    rejects(ex.check_stable_lr, lambda X: 2 / np.linalg.eigvalsh(2 / len(X) * X.T @ X)[0], "LARGEST eigenvalue")
    rejects(ex.check_stable_lr, lambda X: 2 / np.trace(2 / len(X) * X.T @ X), "trace")
    rejects(ex.check_stable_lr, lambda X: 2 / np.linalg.eigvalsh(2 * X.T @ X)[-1], "MEAN over the N samples")

    def with_bias_column(X):  # section 1's Hessian, which has a column of ones for the bias
        Xb = np.column_stack([X, np.ones(len(X))])
        return 2 / np.linalg.eigvalsh(2 / len(X) * Xb.T @ Xb)[-1]

    rejects(ex.check_stable_lr, with_bias_column, "column of ones")


def test_lr_for_batch_size(capsys):
    def right(ref_lr, ref_b, b, rule, max_lr=None):
        lr = ref_lr * (b / ref_b if rule == "linear" else np.sqrt(b / ref_b))
        return lr if max_lr is None else min(lr, max_lr)

    def always_linear(ref_lr, ref_b, b, rule, max_lr=None):
        return right(ref_lr, ref_b, b, "linear", max_lr)

    def uncapped(ref_lr, ref_b, b, rule, max_lr=None):
        return right(ref_lr, ref_b, b, rule)

    def upside_down(ref_lr, ref_b, b, rule, max_lr=None):
        return ref_lr * ref_b / b

    def always_the_cap(ref_lr, ref_b, b, rule, max_lr=None):  # max_lr whenever there is one
        return right(ref_lr, ref_b, b, rule) if max_lr is None else max_lr

    def only_the_cap(ref_lr, ref_b, b, rule, max_lr=None):
        return max_lr

    def no_return(ref_lr, ref_b, b, rule, max_lr=None):
        right(ref_lr, ref_b, b, rule, max_lr)

    accepts(ex.check_lr_for_batch_size, right, capsys)
    accepts(ex.check_lr_for_batch_size,
            lambda ref_lr, ref_b, b, rule, max_lr=None: min(right(ref_lr, ref_b, b, rule), max_lr or float("inf")),
            capsys)
    rejects(ex.check_lr_for_batch_size, always_the_cap, "max_lr=0.85\\): expected 0.2, got 0.85", "only a cap")
    message = rejects(ex.check_lr_for_batch_size, only_the_cap, "128, 'linear'\\) returned None", "only a cap")
    assert "forget `return`" not in message
    rejects(ex.check_lr_for_batch_size, no_return, "returned None", "forget `return`")
    rejects(ex.check_lr_for_batch_size, always_linear, "'sqrt'\\): expected 0.2, got 0.4", "that is the linear rule")
    rejects(ex.check_lr_for_batch_size, uncapped, "max_lr=0.85\\): expected 0.85, got 1.6", "cap")
    rejects(ex.check_lr_for_batch_size, upside_down, "upside down")


def test_warmup_cosine(capsys):
    import math

    def right(t, base, w, total):
        if t < w:
            return base * (t + 1) / w
        if t >= total:
            return 0.0
        return base * 0.5 * (1 + math.cos(math.pi * (t - w) / (total - w)))

    def off_by_one(t, base, w, total):
        return base * t / w if t < w else right(t, base, w, total)

    def unshifted(t, base, w, total):
        return right(t, base, w, total) if t < w or t > total else base * 0.5 * (1 + math.cos(math.pi * t / total))

    def never_zero(t, base, w, total):  # keeps following the cosine past total_steps
        return right(t, base, w, total) if t < total else base * 0.5 * (1 + math.cos(math.pi * (t - w) / (total - w)))

    def warm_up_too_long(t, base, w, total):  # `step <= warmup_steps`: one warm-up step too many
        return base * (t + 1) / w if t <= w else right(t, base, w, total)

    def no_half(t, base, w, total):
        return right(t, base, w, total) if t < w or t >= total else 2 * right(t, base, w, total)

    def squared_cosine(t, base, w, total):  # (1 + cos x) / 2 = cos(x/2)^2: right, written another way
        if t < w or t >= total:
            return right(t, base, w, total)
        return base * math.cos(math.pi / 2 * (t - w) / (total - w)) ** 2

    accepts(ex.check_warmup_cosine, right, capsys)
    accepts(ex.check_warmup_cosine, squared_cosine, capsys)
    message = rejects(ex.check_warmup_cosine, warm_up_too_long, "step 10 .*expected 0.4, got 0.44", "not <=")
    assert "factor 1/2" not in message
    message = rejects(ex.check_warmup_cosine, no_half, "step 10 .*expected 0.4, got 0.8", "factor 1/2")
    assert "not <=" not in message
    rejects(ex.check_warmup_cosine, off_by_one, "step 0 \\(base_lr=0.4", "count from step 0")
    rejects(ex.check_warmup_cosine, unshifted, "step 10 ", "start the cosine where the warm-up ends")
    rejects(ex.check_warmup_cosine, never_zero, "stays at 0")


def test_learning_rate_checkers_accept_float32_and_one_element_answers(capsys):
    import math

    def lr(ref_lr, ref_b, b, rule, max_lr=None):
        value = ref_lr * (b / ref_b if rule == "linear" else math.sqrt(b / ref_b))
        return value if max_lr is None else min(value, max_lr)

    def warmup_cosine(t, base, w, total):
        if t < w:
            return base * (t + 1) / w
        return 0.0 if t >= total else base * 0.5 * (1 + math.cos(math.pi * (t - w) / (total - w)))

    accepts(ex.check_lr_for_batch_size, lambda *a, **k: np.float32(lr(*a, **k)), capsys)
    accepts(ex.check_warmup_cosine, lambda *a: np.float32(warmup_cosine(*a)), capsys)
    accepts(ex.check_warmup_cosine, lambda *a: [warmup_cosine(*a)], capsys)
    accepts(ex.check_stable_lr, lambda X: 2 / np.linalg.eigvalsh(2 / len(X) * X.T @ X)[-1:], capsys)
    rejects(ex.check_stable_lr, lambda X: 2 / np.linalg.eigvalsh(2 / len(X) * X.T @ X),
            r"expected one number, got ndarray of shape \(3,\)", r"eigvalsh\(H\)\[-1\]")
    rejects(ex.check_stable_lr, lambda X: None, "returned None")


# --- 07 the GPU with CuPy -------------------------------------------------------------------------
def _timer(sync_each=True, warm=True, reduce="median", extra_calls=0, sync_after_warmup=True, time_warmup=False,
           sync_before_step=False):
    """The model answer of notebook 07's timer, or with a setting changed one of the mistakes a student makes.

    ``sync_before_step``: sync() inside the timing but before step() instead of after it, so each
    reading covers the previous step's device work.
    """
    import statistics
    import time

    def time_it(step, sync, repeats=5, warmup=1):
        timed = repeats + extra_calls
        if time_warmup:  # the warm-up calls go into the timings too
            timed += warmup
        elif warm:
            for _ in range(warmup):
                step()
            if sync_after_warmup:
                sync()
        times = []
        for _ in range(timed):
            start = time.perf_counter()
            if sync_before_step:
                sync()
            step()
            if sync_each and not sync_before_step:
                sync()
            times.append(time.perf_counter() - start)
        if not sync_each or sync_before_step:
            sync()
        if reduce == "list":
            return times
        return statistics.median(times) if reduce == "median" else statistics.mean(times)

    return time_it


@pytest.fixture(params=[0.0, 0.004], ids=["exact sleep", "oversleeping by up to 4 ms"])
def machine(request, monkeypatch):
    """The timer checks run twice: once as slept, once on a (simulated) busy machine where every sleep of the
    fake device takes up to 4 ms longer -- the verdicts and hints must not change (CI once failed on it)."""
    if request.param:
        import random
        import time

        rng, sleep = random.Random(0), time.sleep
        monkeypatch.setattr(time, "sleep", lambda seconds: sleep(seconds + rng.uniform(0.5, 1) * request.param))


def test_timer(capsys, machine):
    accepts(ex.check_timer, _timer(), capsys)
    rejects(ex.check_timer, _timer(sync_each=False), "measured 0.", "call sync\\(\\) after each step")
    rejects(ex.check_timer, _timer(reduce="mean"), "returned", "median")
    rejects(ex.check_timer, _timer(warm=False), "called step\\(\\) 5 times; expected warmup \\+ repeats = 9")
    rejects(ex.check_timer, _timer(extra_calls=1), "called step\\(\\) 10 times")
    rejects(ex.check_timer, lambda step, sync, repeats=5, warmup=1: [step() for _ in range(warmup + repeats)][0],
            "did not call sync")


def test_timer_warm_up_must_be_untimed_and_synchronised(machine):
    rejects(ex.check_timer, _timer(time_warmup=True), "returned", "leave the warm-up calls out")
    rejects(ex.check_timer, _timer(sync_after_warmup=False), "did not call sync\\(\\) between the warm-up calls")


def test_timer_hints_milliseconds_and_a_list(machine):
    right = _timer()
    message = rejects(ex.check_timer, lambda *a, **k: 1000 * right(*a, **k), "returned", "milliseconds")
    assert "warm-up" not in message.split("Hint")[1]

    rejects(ex.check_timer, _timer(reduce="list"), r"expected one number, got list of shape \(5,\)", "median")


def test_timer_rejects_the_minimum_and_timing_the_previous_step(machine):
    def minimum(step, sync, repeats=5, warmup=1):
        return min(_timer(reduce="list")(step, sync, repeats, warmup))

    right = _timer()
    # The numbers are what sleeping took here (a few ms more on a busy machine); the hints must not depend on it.
    rejects(ex.check_timer, minimum, r"repeats=5, warmup=4\) measured \d", "not the minimum")
    rejects(ex.check_timer, _timer(sync_before_step=True), r"repeats=5, warmup=4\) measured \d", "previous step")
    rejects(ex.check_timer, _timer(sync_before_step=True, sync_after_warmup=False),
            r"repeats=7, warmup=1\) returned 0.0[45]", "previous step")
    # perf_counter_ns() without dividing by 1e9
    rejects(ex.check_timer, lambda *a, **k: 1e9 * right(*a, **k), r"returned \d\.\d+e\+07", "nanoseconds")


def _crossover(sizes, cpu, gpu, beats=lambda g, c: g < c):
    """The model answer (the GPU beats the CPU from here on), or with ``beats`` a variant of it."""
    answer = None
    for b, c, g in reversed(list(zip(sizes, cpu, gpu))):
        if not beats(g, c):
            break
        answer = b
    return answer


def _crossover_ties_count(sizes, cpu, gpu):  # a tie counted as a GPU win: <= instead of <
    return _crossover(sizes, cpu, gpu, beats=lambda g, c: g <= c)


def test_crossover(capsys):
    def first_win(sizes, cpu, gpu):
        return next((b for b, c, g in zip(sizes, cpu, gpu) if g < c), None)

    def never_none(sizes, cpu, gpu):
        return _crossover(sizes, cpu, gpu) or sizes[-1]

    accepts(ex.check_crossover, _crossover, capsys)
    rejects(ex.check_crossover, first_win, "expected 64, got 4", "every larger batch size")
    rejects(ex.check_crossover, never_none, "expected None, got 16", "return None")
    rejects(ex.check_crossover, _crossover_ties_count, "expected 32, got 8")


def test_crossover_hints_an_answer_one_place_off(capsys):
    def by_index(sizes, cpu, gpu, shift=0):  # walk down from the end while the GPU wins; shift: an index mistake
        i = len(sizes)
        while i > 0 and gpu[i - 1] < cpu[i - 1]:
            i -= 1
        return sizes[i + shift] if 0 <= i + shift < len(sizes) else None

    accepts(ex.check_crossover, by_index, capsys)
    message = rejects(ex.check_crossover, lambda *a: by_index(*a, shift=-1), "expected 16, got 4", "too early",
                      r"at 4 the GPU is not faster \(0.0005 s against 0.0002 s")
    assert "too late" not in message
    rejects(ex.check_crossover, lambda *a: by_index(*a, shift=1), "expected 16, got 64", "too late", "faster at 16")
    # one place early where that is a tie: the tie hint, which says why, comes first
    rejects(ex.check_crossover, _crossover_ties_count, "expected 32, got 8", "<, not <=")


def test_crossover_arrays_and_ties(capsys):
    def as_array(sizes, cpu, gpu):  # a vectorised attempt: the first size where the GPU wins, as an array
        return np.array(sizes)[np.array(gpu) < np.array(cpu)][:1]

    accepts(ex.check_crossover, lambda *a: None if _crossover(*a) is None else np.int64(_crossover(*a)), capsys)
    rejects(ex.check_crossover, _crossover_ties_count, "expected 32, got 8", "strictly", "<, not <=")
    # right where the GPU wins, then an empty array where it never does: a message, not a crash
    rejects(ex.check_crossover, as_array, r"GPU \[5.0, 6.0, 7.0\]: expected one batch size \(or None\)",
            r"array of shape \(0,\)")
    rejects(ex.check_crossover, lambda *a: np.array([1, 4]), r"array of shape \(2,\)")


# --- an answer that is still the notebook's stub: reported, not raised ------------------------------
def _stub(*args, **kwargs):
    raise NotImplementedError("your answer here")  # what the student notebooks' answer cells hold


class _StubLinear:  # notebook 02: the constructor is still the stub
    def __init__(self, in_features, out_features):
        raise NotImplementedError("your answer here")


class _StubMomentumSGD:  # notebook 02: __init__ written, step() and zero_grad() still stubs
    def __init__(self, params, lr, momentum):
        self.params = list(params)

    def zero_grad(self):
        raise NotImplementedError("your answer here")

    def step(self):
        raise NotImplementedError("your answer here")


class _StubSoftsign(Function):
    def forward(self, x):
        raise NotImplementedError("your answer here")

    def backward(self, g):
        raise NotImplementedError("your answer here")


class _StubLogCosh(LogCosh):
    def backward(self, g):
        raise NotImplementedError("your answer here")


STUBS = {
    "check_sigmoid_derivative": (_stub,), "check_chain_rule": ({"a": ..., "b": ..., "c": ...},),
    "check_softplus": (_stub,),
    "check_linear_layer": (_StubLinear,), "check_mlp": (...,), "check_cross_entropy": (_stub,),
    "check_sgd_momentum": (_StubMomentumSGD,),
    "check_updates_per_epoch": (_stub,), "check_axis_reading": (None, {"per_update": ..., "per_sample": ...}),
    "check_training_loop": (_stub,),
    "check_noise_theory": (_stub,), "check_noise_scale": (_stub,), "check_batch_for_noise": (_stub,),
    "check_stable_lr": (_stub,), "check_lr_for_batch_size": (_stub,), "check_warmup_cosine": (_stub,),
    "check_softsign_op": (_StubSoftsign,), "check_property_test": (_stub,), "check_fixed_logcosh": (_StubLogCosh,),
    "check_timer": (_stub,), "check_crossover": (_stub,),
}


def not_attempted(check, *args, capsys):
    """The checker returns None and prints one ○ line; the message, without the ○ prefix, is returned."""
    assert check(*args) is None
    out = capsys.readouterr().out
    assert out.startswith("○ not attempted yet") and out.count("\n") == 1, out
    assert out.rstrip().endswith("write your answer in the cell above and rerun this cell"), out
    return out


def test_every_checker_has_a_stub_case():
    assert sorted(STUBS) == sorted(name for name in ex.__all__ if name.startswith("check_"))


@pytest.mark.parametrize("name", sorted(STUBS))
def test_checker_reports_a_stub_answer_as_not_attempted(name, capsys):
    out = not_attempted(getattr(ex, name), *STUBS[name], capsys=capsys)
    assert out.startswith("○ not attempted yet: "), out  # the notebook's own stub: no details needed


def test_other_stubs_are_not_attempted_too(capsys):
    def bare(x):
        raise NotImplementedError

    not_attempted(ex.check_sigmoid_derivative, bare, capsys=capsys)
    out = not_attempted(ex.check_sigmoid_derivative, lambda x: ..., capsys=capsys)
    assert "returned the placeholder ..." in out
    out = not_attempted(ex.check_chain_rule, {"a": -24.0, "b": ..., "c": ...}, capsys=capsys)
    assert "'b', 'c' still ..." in out
    not_attempted(ex.check_noise_theory, ..., capsys=capsys)

    class ForwardOnly(Function):  # backward not written: the library's own NotImplementedError
        def forward(self, x):
            return x / (1 + array_module(x).abs(x))

    # The notebook's scaffold has both methods, each a stub: one missing is a mistake (a misspelling), not a stub.
    rejects(ex.check_softsign_op, ForwardOnly, "ForwardOnly.backward is not written")


def test_a_wrong_attempt_still_raises_after_a_stub(capsys):
    not_attempted(ex.check_sigmoid_derivative, _stub, capsys=capsys)
    rejects(ex.check_sigmoid_derivative, sigmoid, "sigma\\(x\\) itself")
    rejects(ex.check_chain_rule, {"a": -3.0, "b": 16.0, "c": 8.0}, "only dd/da")
    rejects(ex.check_sigmoid_derivative, lambda x: x.foo, "raised AttributeError")


def test_a_misspelled_forward_or_backward_fails_instead_of_reading_as_not_attempted(capsys):
    """The library's own placeholder (Module.forward, Function.backward) raised NotImplementedError: read as a stub."""
    from tinygrad_mb import nn

    class Misspelled(_linear_class()):
        forward = nn.Module.forward  # as if the student wrote `def foward`: the base class's placeholder runs
        def foward(self, x):  # noqa: E301
            return x

    rejects(ex.check_linear_layer, Misspelled, r"raised NotImplementedError: Misspelled has no forward\(\)")

    class NoBackward(Function):
        def forward(self, x):
            self.x = x
            return x / (1 + np.abs(x))

        def backwards(self, g):  # misspelled: Function.backward, the placeholder, runs
            return g / (1 + np.abs(self.x)) ** 2

    rejects(ex.check_softsign_op, NoBackward, r"NotImplementedError: NoBackward.backward is not written")
    # the student's own stub still reads as not attempted
    class Stub(Function):
        def forward(self, x):
            raise NotImplementedError("your answer here")

    not_attempted(ex.check_softsign_op, Stub, capsys=capsys)


def test_a_class_for_an_instance_and_an_instance_for_a_class_are_named():
    from tinygrad_mb import nn

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(64, 32, seed=0), nn.ReLU(), nn.Linear(32, 10, seed=1))

        def forward(self, x):
            return self.body(x)

    rejects(ex.check_mlp, MLP, r"is the class MLP, not a model made from it", r"MLP\(\)")
    rejects(ex.check_linear_layer, _linear_class()(5, 3), "wants the class itself", r"check_linear_layer\(Layer\)")


def test_numbers_written_as_text_are_not_numbers(capsys):
    rejects(ex.check_chain_rule, {"a": "-24", "b": "16", "c": "8"}, "got text", "without quotes")
    accepts(ex.check_chain_rule, {"a": -24, "b": np.float32(16), "c": [8.0]}, capsys)


def test_zero_grad_between_backward_and_step_gets_the_order_in_the_hint():
    from tinygrad_mb import data, optim

    def wiped(model, loss_fn, X, y, batch_size, lr, epochs, seed):
        loader = data.DataLoader(data.TensorDataset(X, y), batch_size=batch_size, shuffle=True, seed=seed)
        opt = optim.SGD(model.parameters(), lr=lr)
        for _ in range(epochs):
            for xb, yb in loader:
                loss_fn(model(xb), yb).backward()
                opt.zero_grad()
                opt.step()

    rejects(ex.check_training_loop, wiped, "did not move", r"zero_grad\(\) between backward\(\) and step\(\) wipes")


def test_a_sigmoid_derivative_that_loops_over_x_is_told_to_work_on_any_shape():
    import math

    looped = lambda x: [(1 / (1 + math.exp(-v))) * (1 - 1 / (1 + math.exp(-v))) for v in x]  # noqa: E731
    rejects(ex.check_sigmoid_derivative, looped, "right on the 1-D test points but raised TypeError",
            "3x4 array", "any shape")


def test_a_property_test_that_returns_its_verdict_is_told_to_assert():
    from hypothesis import given, settings

    from tinygrad_mb.testing import tensors

    def make_test(op):
        @settings(max_examples=25)
        @given(tensors())
        def test(x):
            return gradcheck(op, x)  # hypothesis wants None: it stops on the returned True

        return test

    rejects(ex.check_property_test, make_test, "should return None", r"write `assert gradcheck\(op, x\)`")


def test_timer_with_one_clock_around_the_loop_is_told_it_took_the_mean(machine):
    import time

    def total_over_repeats(step, sync, repeats=5, warmup=1):
        for _ in range(warmup):
            step()
        sync()
        start = time.perf_counter()
        for _ in range(repeats):
            step()
        sync()
        return (time.perf_counter() - start) / repeats

    rejects(ex.check_timer, total_over_repeats, "returned", r"that is the mean, total time / repeats.*median")
