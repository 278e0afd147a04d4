"""gradcheck itself: it accepts right gradients, rejects wrong ones, and says where."""

import numpy as np
import pytest
from hypothesis import given

from tinygrad_mb import Function, Tensor, gradcheck
from tinygrad_mb.backend import to_backend
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
    with pytest.warns(GradcheckWarning, match="1 of 3 elements sit at kinks"):
        assert gradcheck(lambda t: t.relu(), x, skip_kinks=True)


def test_no_input_requiring_grad_is_an_error():
    with pytest.raises(GradcheckError, match="requires grad"):
        gradcheck(lambda t: t * 2, Tensor(np.ones(2)))


def test_gradcheck_leaves_the_inputs_and_their_grads_alone():
    data = np.array([1.0, 2.0])
    x = Tensor(data.copy(), requires_grad=True)
    x.grad = to_backend(np.array([7.0, 7.0]), x.backend)  # .grad lives on the tensor's backend
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


def test_non_leaf_inputs_sharing_memory_are_checked_as_the_inputs_they_are():
    """x and x.reshape(3, 2) as two inputs: nudging one moved the other, and a right op failed (1 against 2)."""
    x = Tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)
    assert gradcheck(lambda a, b: a.reshape(6) * b.reshape(6), x, x.reshape(3, 2))
    y = x * 1.0
    assert gradcheck(lambda a, b: a * b, y, y)  # one non-leaf given twice: one input, as a leaf given twice is
    with pytest.raises(GradcheckError):
        gradcheck(lambda a, b: WrongSquare.apply(a) * b, y, y)


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

    def message(seed):  # each x feeds three outputs: the message shows values weighted by v
        with pytest.raises(GradcheckError, match="random weights") as info:
            gradcheck(lambda t: WrongSquare.apply(t) * Tensor(np.ones((3, 1))), x, seed=seed)
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


# --- skip_kinks accepts subgradients at kinks only ----------------------------------------------


class WrongLog(Function):
    """log(x) with a backward three times too large."""

    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, g):
        return 3 * g / self.x


class ReluAtZero(Function):
    """relu, whose backward gives ``at_zero`` as the derivative at the kink x = 0."""

    at_zero = 0.0

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, g):
        return g * np.where(self.x > 0, 1.0, np.where(self.x == 0, self.at_zero, 0.0))


def test_skip_kinks_does_not_skip_a_wrong_gradient_where_the_slopes_differ_by_curvature():
    # Catches any slope gap skipped as a kink: near 0, log curves so much that the one-sided
    # slopes differ by 100 at eps = 1e-6, but the gap shrinks with eps, so it is no kink.
    x = Tensor(np.array([1e-4]), requires_grad=True)
    with pytest.raises(GradcheckError, match="gradient mismatch") as info:
        gradcheck(WrongLog.apply, x, skip_kinks=True)
    assert "skip_kinks=True" not in str(info.value) and "not differentiable" not in str(info.value)


def test_a_mismatch_from_curvature_is_not_blamed_on_a_kink():
    # Catches the kink hint (and its advice skip_kinks=True) for a correct log at 1e-5: within
    # eps = 1e-6 its slope changes by 20 %, which only a smaller eps cures.
    x = Tensor(np.array([1e-5]), requires_grad=True)
    with pytest.raises(GradcheckError, match="not a kink: the gap shrinks at eps/10.*smaller eps") as info:
        gradcheck(lambda t: t.log(), x)
    assert "skip_kinks=True" not in str(info.value)
    assert gradcheck(lambda t: t.log(), x, eps=1e-8)


def test_skip_kinks_accepts_only_values_between_the_one_sided_slopes():
    # Catches every kink skipped whatever the analytic value: at relu's kink the slopes are 0 and 1.
    x = Tensor(np.array([0.0, 1.0]), requires_grad=True)

    class SubgradientAtZero(ReluAtZero):
        at_zero = 0.2  # any value in [0, 1] is a subgradient (0.5 would match the central difference)

    class FiveAtZero(ReluAtZero):
        at_zero = 5.0

    with pytest.warns(GradcheckWarning, match="1 of 2 elements sit at kinks"):
        assert gradcheck(SubgradientAtZero.apply, x, skip_kinks=True)
    with pytest.raises(GradcheckError, match=r"index \(0,\).*no subgradient either"):
        gradcheck(FiveAtZero.apply, x, skip_kinks=True)


def test_skip_kinks_does_not_skip_a_wrong_gradient_of_a_float32_output():
    # Catches rounding noise (a float32 output, only its 0-d input float64) taken for a kink.
    class WrongScale(Function):
        def forward(self, s, z):
            self.z = z
            return s * z

        def backward(self, g):
            return (g * self.z * 1.3).sum(), None  # 30 % too large

    temp = Tensor(np.array(0.7), requires_grad=True)
    logits = Tensor([[1.0, 2.0, 0.5], [0.3, -1.0, 2.0]])  # float32
    with pytest.warns(GradcheckWarning, match="output has dtype float32"), pytest.raises(GradcheckError):
        gradcheck(WrongScale.apply, temp, logits, skip_kinks=True)


# --- the numeric derivative ----------------------------------------------------------------------


def test_a_small_output_is_not_drowned_by_the_rounding_of_large_ones():
    # Catches summing the weighted outputs before differencing: exp(12) * 1000 rounds away the
    # change of exp(-3), and a correct exp fails (PyTorch passes it).
    a = np.full(1000, 12.0)
    a[0] = -3.0
    assert gradcheck(lambda t: t.exp(), Tensor(a, requires_grad=True))


def test_the_step_is_the_one_actually_stored():
    # Catches dividing by 2 * eps: at 1e8, x + 1e-6 is stored as a slightly different number.
    assert gradcheck(lambda t: t * 2, Tensor(np.array([1e8, -1e8]), requires_grad=True))
    with pytest.raises(GradcheckError, match="below the resolution of x = 1e\\+13.*larger eps"):
        gradcheck(lambda t: t * 2, Tensor(np.array([1e13]), requires_grad=True))


def test_a_mismatch_from_rounding_large_outputs_says_so():
    # Catches a correct x + 1e8 failing without a hint: its outputs are rounded to about 1.5e-8,
    # 1 % of the change 2 * eps, and the kink and curvature tests see nothing wrong.
    x = Tensor(np.array([0.5, 1.5]), requires_grad=True)
    with pytest.raises(GradcheckError, match="Rounding of the outputs alone.*larger eps") as info:
        gradcheck(lambda t: t + 1e8, x)
    assert "skip_kinks" not in str(info.value)
    assert gradcheck(lambda t: t + 1e8, x, eps=1e-3)


def test_a_small_random_weight_does_not_loosen_the_tolerance():
    # Catches weights drawn from a normal distribution: a 0-d output got v = 0.126 with seed 0,
    # which let a gradient wrong by 3e-5 through an atol of 1e-5.
    class TinySlope(Function):
        def forward(self, x):
            return 3e-5 * x

        def backward(self, g):
            return 6e-5 * g  # twice too large

    for seed in range(5):
        with pytest.raises(GradcheckError):
            gradcheck(TinySlope.apply, Tensor(np.array(0.5), requires_grad=True), seed=seed)


# --- the messages --------------------------------------------------------------------------------


class SquareWithAbs(Function):
    """x^2 with the backward 2|x| instead of 2x: wrong for x < 0 only."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, g):
        return 2 * np.abs(self.x) * g


def test_the_message_shows_real_derivatives_and_counts_the_failures():
    # Catches values multiplied by the hidden random weight (sign flipped here), and a message
    # that names only the first failure.
    x = Tensor(np.array([3.0, -1.0, 2.0, -4.0]), requires_grad=True)
    with pytest.raises(GradcheckError, match=r"index \(1,\): analytic 2, numeric -2 \(d out\[1\] / d x\[1\]") as info:
        gradcheck(SquareWithAbs.apply, x)
    assert r"2 of 4 elements disagree: input 0 at (1,), (3,)" in str(info.value)


def test_a_float32_output_warns_and_is_blamed_on_rounding():
    # Catches only the inputs' dtype checked: a forward that returns float32 rounds just as badly.
    class WrongSquare32(Function):
        def forward(self, x):
            self.x = x
            return (x * x).astype(np.float32)

        def backward(self, g):
            return 3 * self.x * g

    x = Tensor(np.array([0.3, 1.7, -2.2]), requires_grad=True)
    with pytest.warns(GradcheckWarning, match="output has dtype float32"):
        with pytest.raises(GradcheckError, match="output is float32, where rounding") as info:
            gradcheck(WrongSquare32.apply, x, skip_kinks=True)
    assert "skip_kinks=True" not in str(info.value)


def test_an_infinite_analytic_gradient_where_the_function_is_finite_is_blamed_on_backward():
    # Catches the "not differentiable within eps" message, which blamed the point, not backward.
    class Softsign(Function):
        def forward(self, x):
            self.x = x
            return x / (1 + np.abs(x))

        def backward(self, g):
            with np.errstate(divide="ignore"):
                return g / (1 + self.x) ** 2  # bug: x instead of |x|, infinite at x = -1

    x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    with pytest.raises(GradcheckError, match=r"backward returned -?inf for input 0 \(shape \(2,\)\) at index \(1,\)"):
        gradcheck(Softsign.apply, x)


# --- robustness ----------------------------------------------------------------------------------


def test_the_input_is_restored_when_fn_raises_half_way():
    # Catches the perturbed value left in the caller's tensor when fn raises at x + eps.
    class Acos(Function):
        def forward(self, x):
            if np.any(np.abs(x) > 1):
                raise ValueError("acos: input outside [-1, 1]")
            self.x = x
            return np.arccos(x)

        def backward(self, g):
            return -g / np.sqrt(1 - self.x**2)

    x = Tensor(np.array([0.5, 1.0]), requires_grad=True)
    with pytest.raises(ValueError, match="outside"), np.errstate(divide="ignore"):
        gradcheck(Acos.apply, x)
    np.testing.assert_array_equal(x.numpy(), [0.5, 1.0])


class TripleInPlace(Function):
    """3x, with a backward that edits its upstream gradient in place."""

    def forward(self, x):
        return 3 * x

    def backward(self, g):
        g *= 3
        return g


def test_a_backward_that_modifies_g_in_place_is_an_error():
    # Catches the in-place edit passing on its own: combined with an add (which hands the same g to
    # both of its inputs) it corrupts the other input's gradient.
    x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    if x.backend == "cupy":
        pytest.skip("CuPy arrays have no read-only flag (ndarray.flags.writeable), which gradcheck sets on the "
                    "upstream gradient g so that a backward writing into it raises; on CuPy the write is not caught")
    with pytest.raises(GradcheckError, match="must not modify g in place.*return a new array"):
        gradcheck(TripleInPlace.apply, x)
    with pytest.raises(GradcheckError, match="in place"):
        gradcheck(lambda t: TripleInPlace.apply(t) + t, x)


def test_several_outputs_are_refused_with_a_clear_message():
    # Catches a tuple fn output failing with "must return a Tensor", and a tuple forward with an AttributeError.
    class TwoOutputs(Function):
        def forward(self, x):
            return x, 2 * x

        def backward(self, g):
            return g

    x = Tensor(np.array([0.5, 1.5]), requires_grad=True)
    with pytest.raises(GradcheckError, match="fn returned a tuple of 2.*not supported"):
        gradcheck(lambda t: (t * 2, t * 3), x)
    with pytest.raises(TypeError, match="TwoOutputs.forward returned a tuple of 2; a Function has one output"):
        gradcheck(TwoOutputs.apply, x)
    with pytest.raises(TypeError, match="TwoOutputs.forward returned a tuple"):  # outside gradcheck too
        TwoOutputs.apply(x)


class ReluInPlace(Function):
    """relu, with a forward that zeroes the negative entries of its own input."""

    def forward(self, x):
        self.mask = x > 0
        x[~self.mask] = 0
        return x.copy()

    def backward(self, g):
        return g * self.mask


class DoubleSavedInPlace(Function):
    """x^2, with a backward that doubles the saved input in place (the formula 2x g itself is right)."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, g):
        self.x *= 2
        return g * self.x


def test_an_op_writing_into_its_input_is_named_and_the_input_restored():
    # Catches the in-place forward passing as "kinks" under skip_kinks=True, and the in-place backward
    # reported as a wrong derivative; either way the caller's input used to come back changed.
    x = Tensor(np.array([0.5, -1.0, 2.0, -0.3]), requires_grad=True)
    for skip_kinks in (False, True):
        with pytest.raises(GradcheckError, match=r"input 0 \(shape \(4,\)\) was changed in place during fn's "
                                                 r"forward pass.*np.where\(mask, x, 0\).*put the input's values back"):
            gradcheck(ReluInPlace.apply, x, skip_kinks=skip_kinks)
        np.testing.assert_array_equal(x.data, [0.5, -1.0, 2.0, -0.3])
    y = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    with pytest.raises(GradcheckError, match=r"changed in place during backward \(e.g. self.x \*= 2"):
        gradcheck(DoubleSavedInPlace.apply, y)
    np.testing.assert_array_equal(y.data, [1.0, 2.0, 3.0])


def test_a_gradient_left_out_is_named_and_values_print_without_minus_zero():
    class MulForgetsB(Function):
        def forward(self, a, b):
            self.a, self.b = a, b
            return a * b

        def backward(self, g):
            return g * self.b, None

    a, b = (Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True) for _ in range(2))
    with pytest.raises(GradcheckError, match=r"input 1 .*analytic 0, numeric 1 .*Backward gave input 1 no "
                                             r"gradient at all \(None\).*a return value missing"):
        gradcheck(MulForgetsB.apply, a, b)


def test_where_the_function_is_flat_an_elementwise_op_shows_its_own_slope_not_weighted_sums():
    class ReluSlopeOne(Function):  # backward claims slope 1 everywhere, also where relu is flat
        def forward(self, x):
            return np.maximum(x, 0)

        def backward(self, g):
            return g * 1.0

    x = Tensor(np.array([-1.0, -2.0, 3.0]), requires_grad=True)
    with pytest.raises(GradcheckError, match=r"index \(0,\): analytic 1, numeric 0 \(d out\[0\] / d x\[0\]"):
        gradcheck(ReluSlopeOne.apply, x)


def test_an_integer_output_is_refused_with_the_reason():
    class RoundToInt(Function):
        def forward(self, x):
            return np.round(x).astype(np.int64)

        def backward(self, g):
            return g

    with pytest.raises(GradcheckError, match="dtype int64: only float results have gradients"):
        gradcheck(RoundToInt.apply, Tensor(np.array([0.3, 1.7]), requires_grad=True))
