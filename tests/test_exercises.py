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
