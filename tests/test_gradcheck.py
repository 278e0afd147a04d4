"""gradcheck itself: it accepts right gradients, rejects wrong ones, and says where."""

import numpy as np
import pytest
from hypothesis import given

from tinygrad_mb import Function, Tensor, gradcheck
from tinygrad_mb.errors import GradcheckError
from tinygrad_mb.gradcheck import GradcheckWarning
from tinygrad_mb.testing import arrays, shapes


class WrongSquare(Function):
    """out = x^2 with a deliberately wrong backward (x instead of 2x)."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, g):
        return g * self.x  # bug: should be 2 * x * g


def test_a_wrong_backward_is_rejected_with_an_informative_message():
    x = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda t: WrongSquare.apply(t), x)
    message = str(info.value)
    assert "input 0" in message and "index (0, 0)" in message
    assert "analytic" in message and "numeric" in message


def test_the_error_names_the_analytic_and_numeric_values():
    x = Tensor(np.array([3.0]), requires_grad=True)
    with pytest.raises(GradcheckError, match=r"analytic (-?[0-9.]+), numeric (-?[0-9.]+)") as info:
        gradcheck(lambda t: WrongSquare.apply(t).sum(), x)  # scalar output: v is a 1-element draw
    analytic, numeric = (float(v) for v in
                         __import__("re").search(r"analytic (\S+), numeric (\S+) ", str(info.value)).groups())
    np.testing.assert_allclose(numeric, 2 * analytic, rtol=1e-4)


def test_several_inputs_and_any_output_shape():
    a = Tensor(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True)
    b = Tensor(np.random.default_rng(1).standard_normal((3, 4)), requires_grad=True)
    c = Tensor(np.ones(4))  # a constant input is fine
    assert gradcheck(lambda x, y, z: (x @ y) * z, a, b, c)


def test_the_second_input_is_reported_when_it_is_the_wrong_one():
    class WrongMulB(Function):
        def forward(self, a, b):
            self.a, self.b = a, b
            return a * b

        def backward(self, g):
            return g * self.b, g * self.b  # d/db should be a

    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = Tensor(np.array([3.0, 5.0]), requires_grad=True)
    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(lambda x, y: WrongMulB.apply(x, y), a, b)


def test_float32_inputs_warn():
    x = Tensor([1.0, 2.0], requires_grad=True)  # float32
    with pytest.warns(GradcheckWarning, match="float64"):
        gradcheck(lambda t: t * 2, x, atol=1e-2, rtol=1e-2, eps=1e-2)


def test_a_float32_mismatch_is_blamed_on_rounding_not_on_a_kink():
    # Catches the kink hint for a smooth cube in float32, which sent users to skip_kinks=True.
    x = Tensor(np.array([1.3, 2.7], dtype=np.float32), requires_grad=True)
    with pytest.warns(GradcheckWarning), pytest.raises(GradcheckError, match="float32, where rounding") as info:
        gradcheck(lambda t: t * t * t, x)
    assert "skip_kinks" not in str(info.value)


def test_kinks_are_detected_and_can_be_skipped():
    x = Tensor(np.array([0.0, 1.0, -1.0]), requires_grad=True)  # relu has no derivative at 0
    with pytest.raises(GradcheckError, match="not differentiable here.*skip_kinks=True"):
        gradcheck(lambda t: t.relu(), x)
    assert gradcheck(lambda t: t.relu(), x, skip_kinks=True)


def test_no_input_requiring_grad_is_an_error():
    with pytest.raises(GradcheckError, match="requires grad"):
        gradcheck(lambda t: t * 2, Tensor(np.ones(2)))


def test_gradcheck_leaves_the_inputs_and_their_grads_alone():
    data = np.array([1.0, 2.0])
    x = Tensor(data.copy(), requires_grad=True)
    x.grad = np.array([7.0, 7.0])
    gradcheck(lambda t: t.exp(), x)
    np.testing.assert_array_equal(x.numpy(), data)
    np.testing.assert_array_equal(x.grad, [7.0, 7.0])


@given(a=arrays(shapes(max_dims=3)))
def test_wrong_backward_is_caught_for_every_shape(a):
    x = Tensor(a + np.sign(a) + (a == 0), requires_grad=True)  # |x| >= 1: the bug is visible
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: WrongSquare.apply(t), x)


def test_gradcheck_checks_non_leaf_and_read_only_inputs_as_leaves():
    x32 = Tensor(np.array([0.3, 0.7], dtype=np.float32), requires_grad=True)
    assert gradcheck(lambda a: (a * a).sum(), x32.astype("float64"))  # what the dtype warning advises
    assert x32.grad is None  # the check does not reach back into the caller's graph
    with pytest.raises(GradcheckError):
        gradcheck(lambda a: WrongSquare.apply(a).sum(), x32.astype("float64"))
    read_only = Tensor(np.broadcast_to(np.array([0.3, 0.7]), (2, 2)), requires_grad=True)
    assert gradcheck(lambda a: (a * a).sum(), read_only)


def test_skip_kinks_skips_kinks_only_not_wrong_gradients():
    x = Tensor(np.array([0.5, 1.5]), requires_grad=True)  # smooth points: nothing to skip
    with pytest.raises(GradcheckError, match="gradient mismatch"):
        gradcheck(lambda a: WrongSquare.apply(a).sum(), x, skip_kinks=True)


class ZeroGradSoftmax(Function):
    """Softmax with a backward that returns zeros: right only for an upstream gradient of all ones,
    since sum(softmax(x)) = 1 does not depend on x."""

    def forward(self, x):
        e = np.exp(x - x.max())
        return e / e.sum()

    def backward(self, g):
        return np.zeros_like(g)


def test_a_random_upstream_gradient_catches_what_a_sum_would_miss():
    x = Tensor(np.array([0.1, -0.4, 0.7]), requires_grad=True)
    with pytest.raises(GradcheckError):
        gradcheck(ZeroGradSoftmax.apply, x)


def test_a_point_where_the_function_is_not_finite_is_an_error_not_a_pass():
    # At x = 1e-6, x - eps = 0 and log gives -inf: the numeric slope is inf, and
    # "|analytic - inf| <= tol * inf" would accept any analytic value, even a wrong one.
    class WrongLog(Function):
        def forward(self, x):
            with np.errstate(divide="ignore"):  # log(0) = -inf is the point of this test
                return np.log(x)

        def backward(self, g):
            return g * 123.0

    x = Tensor(np.array([1e-6, 2.0]), requires_grad=True)
    with pytest.raises(GradcheckError, match=r"index \(0,\): not finite here .*f\(x-eps\) = -inf"):
        gradcheck(lambda t: WrongLog.apply(t), x)
    assert gradcheck(lambda t: t.log(), Tensor(np.array([0.5, 2.0]), requires_grad=True))


def test_the_numeric_gradient_is_a_central_difference():
    # Catches a forward difference (f(x+eps) - f(x)) / eps: for x^2 it is off by eps, the central one is exact.
    x = Tensor(np.array([0.5, -1.5]), requires_grad=True)
    assert gradcheck(lambda t: t * t, x, eps=1e-2, atol=1e-7, rtol=0)


def test_every_element_is_checked_not_only_the_first():
    # WrongSquare is right where x = 0 (0 = 0): only the last element can show the bug.
    x = Tensor(np.array([[0.0, 0.0], [0.0, 1.0]]), requires_grad=True)
    with pytest.raises(GradcheckError, match=r"index \(1, 1\)"):
        gradcheck(lambda t: WrongSquare.apply(t), x)


class NoisyZero(Function):
    """out = 0 * x, with a backward giving 1e-7 instead of an exact 0 (like rounding noise)."""

    def forward(self, x):
        return np.zeros_like(x)

    def backward(self, g):
        return np.full_like(g, 1e-7)


class OffByATenthPercent(Function):
    """out = 3x, with a backward 0.1 % too large (3.003)."""

    def forward(self, x):
        return 3 * x

    def backward(self, g):
        return 3.003 * g


def test_the_tolerance_is_atol_plus_rtol_times_the_numeric_gradient():
    # Catches atol ignored, rtol ignored, and the two swapped.
    x = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    assert gradcheck(NoisyZero.apply, x, atol=1e-6, rtol=0.5)  # the numeric gradient is 0: only atol allows 1e-7
    with pytest.raises(GradcheckError):
        gradcheck(NoisyZero.apply, x, atol=1e-8, rtol=0.5)  # and rtol * 0 allows nothing
    assert gradcheck(OffByATenthPercent.apply, x, atol=0, rtol=2e-3)  # 0.1 % is within rtol alone
    with pytest.raises(GradcheckError):
        gradcheck(OffByATenthPercent.apply, x, atol=0, rtol=5e-4)


def test_float16_inputs_warn_too():
    # Catches a warning for float32 only: every dtype but float64 is unreliable.
    x = Tensor(np.array([1.0, 2.0], dtype=np.float16), requires_grad=True)
    with pytest.warns(GradcheckWarning, match="float16"):
        gradcheck(lambda t: t * 2, x, atol=1e-1, rtol=1e-1, eps=1e-1)


def test_a_wrong_gradient_at_a_smooth_point_is_not_blamed_on_a_kink():
    # Catches the "not differentiable here" hint shown for every mismatch.
    x = Tensor(np.array([0.5, 1.5]), requires_grad=True)
    with pytest.raises(GradcheckError, match="gradient mismatch") as info:
        gradcheck(lambda a: WrongSquare.apply(a), x)
    assert "not differentiable" not in str(info.value) and "skip_kinks" not in str(info.value)


def test_the_error_counts_constant_inputs_too():
    # Catches numbering the inputs among those requiring grad: the wrong one here is fn's second argument.
    c = Tensor(np.ones(2))
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(GradcheckError, match="for input 1 "):
        gradcheck(lambda const, t: WrongSquare.apply(t) * const, c, x)


def test_a_backward_that_forgets_an_input_is_caught():
    # Returning None for b means "no gradient": b must then be checked against zero, not skipped.
    class ForgetsB(Function):
        def forward(self, a, b):
            self.a, self.b = a, b
            return a * b

        def backward(self, g):
            return g * self.b, None

    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = Tensor(np.array([3.0, 5.0]), requires_grad=True)
    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(lambda x, y: ForgetsB.apply(x, y), a, b)


def test_the_seed_fixes_the_upstream_gradient():
    # Catches the seed ignored: the same seed must give the same check (and numbers), another one others.
    x = Tensor(np.array([3.0, -2.0]), requires_grad=True)

    def message(seed):
        with pytest.raises(GradcheckError) as info:
            gradcheck(lambda t: WrongSquare.apply(t), x, seed=seed)
        return str(info.value)

    assert message(1) == message(1) != message(2)


def test_a_point_where_the_function_is_infinite_on_the_right_is_an_error():
    # At x = -1e-6, -(x + eps) = 0 and log gives -inf on the right only: an unchecked f(x+eps)
    # makes the numeric slope infinite and the comparison pass whatever the analytic value.
    class WrongLog(Function):
        def forward(self, x):
            with np.errstate(divide="ignore"):
                return np.log(x)

        def backward(self, g):
            return g * 123.0

    x = Tensor(np.array([-1e-6]), requires_grad=True)
    with pytest.raises(GradcheckError, match=r"not finite here .*f\(x\+eps\) = -inf"):
        gradcheck(lambda t: WrongLog.apply(-t), x)


def test_an_output_that_does_not_depend_on_the_inputs_is_an_error():
    # fn computed outside the graph (through NumPy): there is no analytic gradient to check.
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(GradcheckError, match="depends on the inputs"):
        gradcheck(lambda t: Tensor(t.numpy() * 2), x)
