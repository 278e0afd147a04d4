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
