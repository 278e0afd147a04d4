"""Elementwise ops: forward equals NumPy, backward equals central differences, inputs untouched.

Every test runs on each backend (``backend_name``); shapes, broadcasting and
values are drawn by hypothesis with the strategies users get in
``tinygrad_mb.testing``.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mb import Tensor, gradcheck, ops
from tinygrad_mb.backend import to_numpy
from tinygrad_mb.errors import ShapeError
from tinygrad_mb.testing import arrays, broadcastable_shapes, distinct_arrays, shapes


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


# name, tinygrad function, NumPy reference, how to draw the input values
UNARY = [
    ("neg", lambda x: -x, np.negative, {}),
    ("clone", lambda x: x.clone(), np.copy, {}),
    ("exp", lambda x: x.exp(), np.exp, {}),
    ("log", lambda x: x.log(), np.log, {"positive": True, "margin": 0.1}),
    ("sqrt", lambda x: x.sqrt(), np.sqrt, {"positive": True, "margin": 0.1}),
    ("abs", lambda x: x.abs(), np.abs, {"avoid": 0.0}),
    ("relu", lambda x: x.relu(), lambda a: np.maximum(a, 0), {"avoid": 0.0}),
    ("leaky_relu", lambda x: x.leaky_relu(0.1), lambda a: np.where(a > 0, a, 0.1 * a), {"avoid": 0.0}),
    ("sigmoid", lambda x: x.sigmoid(), _sigmoid, {}),
    ("tanh", lambda x: x.tanh(), np.tanh, {}),
    ("softplus", lambda x: x.softplus(), lambda a: np.log1p(np.exp(a)), {}),
    ("clip", lambda x: x.clip(-1.0, 1.0), lambda a: np.clip(a, -1, 1), {"avoid": [-1.0, 1.0]}),
    ("pow_int", lambda x: x**3, lambda a: a**3, {}),
    ("pow_float", lambda x: x**1.5, lambda a: a**1.5, {"positive": True, "margin": 0.1}),
    ("rpow", lambda x: 2.0**x, lambda a: 2.0**a, {}),
    ("scalars_both_sides", lambda x: (2 - x) * 3 / (x * x + 1) + 1, lambda a: (2 - a) * 3 / (a * a + 1) + 1, {}),
    ("rdiv", lambda x: 1.0 / x, lambda a: 1.0 / a, {"positive": True, "margin": 0.2}),
]


@pytest.mark.parametrize("name, fn, ref, draw", UNARY, ids=[u[0] for u in UNARY])
@given(data=st.data())
def test_unary_forward_and_gradient(backend_name, name, fn, ref, draw, data):
    a = data.draw(arrays(shapes(max_dims=3), **draw))
    x = Tensor(a, requires_grad=True, backend=backend_name)
    np.testing.assert_allclose(fn(x).numpy(), ref(a), rtol=1e-10, atol=1e-12)
    assert gradcheck(fn, x)
    np.testing.assert_array_equal(to_numpy(x.data), a)  # the input was not mutated


BINARY = [
    ("add", lambda a, b: a + b, np.add, {}, {}),
    ("sub", lambda a, b: a - b, np.subtract, {}, {}),
    ("mul", lambda a, b: a * b, np.multiply, {}, {}),
    ("div", lambda a, b: a / b, np.divide, {}, {"positive": True, "margin": 0.3}),
    ("pow", lambda a, b: a**b, np.power, {"positive": True, "margin": 0.2}, {}),
    ("maximum", lambda a, b: a.maximum(b), np.maximum, {}, {}),
    ("minimum", lambda a, b: a.minimum(b), np.minimum, {}, {}),
]


@pytest.mark.parametrize("name, fn, ref, draw_a, draw_b", BINARY, ids=[b[0] for b in BINARY])
@given(data=st.data())
def test_binary_broadcasting_forward_and_gradient(backend_name, name, fn, ref, draw_a, draw_b, data):
    shape_a, shape_b = data.draw(broadcastable_shapes(max_dims=3))
    a = data.draw(arrays(shape_a, **draw_a))
    b = data.draw(arrays(shape_b, **draw_b))
    if name in ("maximum", "minimum"):  # keep a and b apart: max has no derivative at a tie
        b = np.where(np.abs(a - b) < 0.05, b + 0.1, b)
    x = Tensor(a, requires_grad=True, backend=backend_name)
    y = Tensor(b, requires_grad=True, backend=backend_name)
    out = fn(x, y)
    assert out.shape == np.broadcast_shapes(shape_a, shape_b)
    np.testing.assert_allclose(out.numpy(), ref(a, b), rtol=1e-10)
    assert gradcheck(fn, x, y)
    assert x.grad is None and y.grad is None  # gradcheck leaves .grad as it found it
    np.testing.assert_array_equal(x.numpy(), a)
    np.testing.assert_array_equal(y.numpy(), b)


@given(shapes=broadcastable_shapes(num_shapes=3, max_dims=3), data=st.data())
def test_where_gradient_flows_to_the_chosen_side(backend_name, shapes, data):
    shape_c, shape_a, shape_b = shapes
    cond = data.draw(arrays(shape_c)) > 0
    a, b = data.draw(arrays(shape_a)), data.draw(arrays(shape_b))
    x = Tensor(a, requires_grad=True, backend=backend_name)
    y = Tensor(b, requires_grad=True, backend=backend_name)
    c = Tensor(cond, backend=backend_name)
    np.testing.assert_array_equal(ops.where(c, x, y).numpy(), np.where(cond, a, b))
    assert gradcheck(lambda p, q: ops.where(c, p, q), x, y)


def test_where_with_a_host_condition_and_python_numbers(backend_name):
    # A NumPy mask, a list or a Python bool as the condition, Python numbers as one side:
    # the tensors decide where the result lives (CuPy's where accepts device arrays only).
    x = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True, backend=backend_name)
    for cond in (np.array([True, False, True]), [True, False, True]):
        out = ops.where(cond, x, 0.0)
        assert out.backend == backend_name
        np.testing.assert_array_equal(out.numpy(), [1.0, 0.0, 3.0])
    assert gradcheck(lambda p: ops.where(np.array([True, False, True]), p, 0.0), x)
    assert gradcheck(lambda p: ops.where(False, 1.0, p), x)


@pytest.mark.parametrize("op, grad_a, grad_b", [("maximum", [0.5, 0.0], [0.5, 1.0]),
                                                 ("minimum", [0.5, 1.0], [0.5, 0.0])])
def test_maximum_and_minimum_ties_share_the_gradient(op, grad_a, grad_b):
    # at a tie (first element) each input gets half; a tie rule written as a <= b would give all of it to a
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([1.0, 3.0], requires_grad=True)
    getattr(a, op)(b).sum().backward()
    np.testing.assert_allclose(a.grad, grad_a)
    np.testing.assert_allclose(b.grad, grad_b)


def test_sigmoid_and_softplus_are_stable_far_out():
    x = Tensor([-1000.0, -710.0, 0.0, 710.0, 1000.0], requires_grad=True, dtype="float64")
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow, no nan
        s = x.sigmoid()
        (s.sum() + x.softplus().sum()).backward()
    np.testing.assert_allclose(s.numpy(), [0, 0, 0.5, 1, 1], atol=1e-300)
    assert np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(x.softplus().numpy()[[0, 2, 4]], [0.0, np.log(2), 1000.0])


def test_python_scalars_keep_float32():
    x = Tensor([1.0, 2.0])
    for y in (x + 1, 1 + x, x * 2.5, 2.5 * x, x / 2, 2 / x, x - 1, 1 - x, x**2, 2**x, -x):
        assert y.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.bool_, np.int16, np.int64])
def test_float_functions_of_integers_give_float32_like_pytorch(dtype):
    # Catches NumPy's own rule: float16 for 8-bit integers (sqrt(255) = 15.97), and -x wrapping
    # around for unsigned ones (sigmoid(uint8 50) was 0).
    values = np.array([0, 1, 50] if dtype is not np.bool_ else [0, 1, 1], dtype=dtype)
    x, exact = Tensor(values), values.astype(np.float64)
    for name, ref in [("exp", np.exp), ("sqrt", np.sqrt), ("tanh", np.tanh), ("sigmoid", _sigmoid),
                      ("softplus", lambda a: np.logaddexp(0, a)), ("softmax", lambda a: np.exp(a - a.max()) /
                                                                   np.exp(a - a.max()).sum())]:
        y = getattr(x, name)()
        assert y.dtype == np.float32, name
        np.testing.assert_allclose(y.numpy(), ref(exact), rtol=1e-6, atol=1e-30, err_msg=name)
    assert Tensor(np.array([255], dtype=np.uint8)).sqrt().item() == pytest.approx(np.sqrt(255), rel=1e-7)


def test_a_float64_scalar_does_not_turn_a_float32_tensor_into_float64():
    # PyTorch's rule: a 0-d operand decides the dtype only against other 0-d operands.
    x = Tensor([1.0, 2.0], requires_grad=True)
    scale = Tensor(np.array(2.0), requires_grad=True)  # float64, 0-d
    y = x * scale
    assert y.dtype == np.float32 and (x * np.array(2.0)).dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32 and scale.grad.dtype == np.float64 and scale.grad == 3.0
    assert (Tensor(np.array(1.0, np.float32)) * np.array(2.0)).dtype == np.float64  # both 0-d: float64 asks
    assert (Tensor(np.float64([1.0])) * np.float32(2)).dtype == np.float64  # a float64 array with dimensions asks


def test_result_dtypes_across_kinds_follow_pytorch():
    # A 0-d float over integer arrays decides (NumPy and PyTorch: float64); float16 arrays with integer
    # arrays stay float16 (PyTorch; NumPy would give float64, which used to become float32 here).
    ints = Tensor(np.array([1, 2, 3]))
    assert (ints + Tensor(np.array(1.5))).dtype == np.float64
    assert (ints + np.array(1.5, np.float32)).dtype == np.float32
    half = Tensor(np.array([1.0, 2.0, 3.0], np.float16), requires_grad=True)
    y = half * ints
    assert y.dtype == np.float16
    y.sum().backward()
    assert half.grad.dtype == np.float16 and half.grad.tolist() == [1.0, 2.0, 3.0]
    assert (ints / 2).dtype == np.float32  # no float input at all: the default float32


def test_numpy_array_on_the_left_calls_the_tensor():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], dtype=np.float32) * x
    assert isinstance(y, Tensor)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 4.0])


def test_comparisons_are_boolean_and_not_differentiable():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result, expected in [
        (x < 2, [True, False, False]), (x <= 2, [True, True, False]), (x > 2, [False, False, True]),
        (x >= 2, [False, True, True]), (x == 2, [False, True, False]), (x != 2, [True, False, True]),
        (x > Tensor([0.0, 5.0, 1.0]), [True, False, True]),
    ]:
        assert result.dtype == np.bool_ and not result.requires_grad
        np.testing.assert_array_equal(result.numpy(), expected)
    assert not isinstance((x[0] < 2).data, np.generic)  # a 0-d array, not NumPy's scalar: .data is always an array


@given(a=distinct_arrays(shapes(min_dims=1, max_dims=3)))
def test_distinct_arrays_have_no_near_ties(a):
    values = np.sort(a.ravel())
    assert np.all(np.diff(values) >= 0.05 - 1e-12)


def test_the_power_zero_has_slope_zero_even_at_zero():
    # a^0 = 1 is constant; the general rule b * a^(b-1) would give 0 * inf = NaN at a = 0.
    x = Tensor(np.array([0.0, 1.0, -2.0]), requires_grad=True)
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])
    a = Tensor(np.array([0.0, 3.0]), requires_grad=True)
    b = Tensor(np.array([0.0, 2.0]), requires_grad=True)
    (a**b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.0, 6.0])
    assert np.all(np.isfinite(b.grad))


def test_the_documented_gradients_at_the_kinks():
    # Where the slope jumps, each op picks one side (the choices PyTorch makes), as their docstrings say:
    # |x|' = sign(x) = 0 at 0; leaky_relu'(0) = the negative slope; clip'(x) = 1 on [lo, hi], bounds included.
    x = Tensor(np.array([0.0]), requires_grad=True)
    x.abs().sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0])
    x.grad = None
    x.leaky_relu(0.1).sum().backward()
    np.testing.assert_allclose(x.grad, [0.1])
    x = Tensor(np.array([-1.0, 0.5, 1.0, 1.5, -2.0]), requires_grad=True)
    x.clip(-1.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0, 1.0, 0.0, 0.0])


def test_clip_takes_tensor_bounds_and_comparisons_name_shapes():
    x = Tensor([-1.0, 0.5, 2.0], requires_grad=True)
    out = x.clip(Tensor(0.0), Tensor(1.0))
    np.testing.assert_array_equal(out.numpy(), [0.0, 0.5, 1.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0])
    with pytest.raises(ShapeError, match="lt: cannot compare shapes \\(3,\\) and \\(2,\\)"):
        _ = x < Tensor([1.0, 2.0])


def test_the_exponent_gets_slope_zero_where_the_base_is_not_positive():
    # d(a^b)/db = a^b ln(a) has no real value for a <= 0; Pow takes it as 0 (its docstring), for a
    # Python-number base (2 ** x) as for a tensor base. ln|a| would give a finite but wrong slope.
    x = Tensor(np.array([2.0, 3.0]), requires_grad=True)
    ((-2.0) ** x).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])
    a = Tensor(np.array([-2.0, 0.0]), requires_grad=True)
    b = Tensor(np.array([2.0, 3.0]), requires_grad=True)
    (a**b).sum().backward()
    np.testing.assert_array_equal(b.grad, [0.0, 0.0])
    np.testing.assert_array_equal(a.grad, [-4.0, 0.0])  # b * a^(b-1)


def test_clip_with_tensor_bounds_that_broadcast_x_to_a_larger_shape():
    # np.clip broadcasts x with its bounds; the mask of unclipped elements must take the result's shape
    x = Tensor(np.array([-1.0, 0.5, 2.0]), requires_grad=True)
    lo = Tensor(np.array([[0.0], [-2.0]]))
    out = x.clip(lo, 1.0)
    np.testing.assert_array_equal(out.numpy(), [[0.0, 0.5, 1.0], [-1.0, 0.5, 1.0]])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 2.0, 0.0])  # -1 is clipped in the first row only
    assert gradcheck(lambda t: t.clip(lo, 1.0), Tensor(np.array([-1.3, 0.5, 2.0]), requires_grad=True))


def test_pow_slopes_are_zero_not_nan_where_its_docstring_says_zero():
    # d/da = 0 wherever b = 0 (a^0 = 1), also at a = inf or NaN, where b * a^(b-1) = 0 * inf; d/db = 0 where
    # a <= 0, also at a = 0 with b < 0, where a^b ln(a) became inf * 0 = NaN
    a = Tensor(np.array([np.inf, np.nan, 0.0, 2.0]), requires_grad=True)
    b = Tensor(np.array([0.0, 0.0, -1.0, 3.0]), requires_grad=True)
    with np.errstate(divide="ignore"):  # 0 ** -1 = inf, in the forward as in NumPy
        (a**b).sum().backward()
        x = Tensor(np.array([-1.0, 2.0]), requires_grad=True)
        (0.0**x).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.0, 0.0, -np.inf, 12.0])  # b * a^(b-1)
    b_grad = to_numpy(b.grad)
    assert b_grad[2] == 0.0 and b_grad[3] == pytest.approx(8 * np.log(2))
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])


@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_a_nan_operand_of_maximum_and_minimum_takes_the_gradient(op):
    # NaN is the result (NumPy propagates it), so its operand gets the slope 1 and the other operand 0;
    # two NaNs tie. The old rule gave everything to b whenever a was NaN.
    a = Tensor(np.array([np.nan, 1.0, np.nan, 1.0]), requires_grad=True)
    b = Tensor(np.array([1.0, np.nan, np.nan, 1.0]), requires_grad=True)
    getattr(a, op)(b).sum().backward()
    np.testing.assert_array_equal(a.grad, [1.0, 0.0, 0.5, 0.5])
    np.testing.assert_array_equal(b.grad, [0.0, 1.0, 0.5, 0.5])
    x = Tensor(np.array([0.5, 2.0]), requires_grad=True)  # a boolean or integer partner has no NaN to test
    getattr(Tensor(np.array([True, False])), op)(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0] if op == "maximum" else [1.0, 0.0])


def test_relu_passes_the_gradient_of_a_nan_on():
    # relu(NaN) = NaN comes from x, so x gets the slope 1 there (PyTorch's choice, and Maximum's)
    x = Tensor(np.array([np.nan, -1.0, 0.0, 2.0]), requires_grad=True)
    x.relu().backward(np.full(4, 3.0))
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 0.0, 3.0])


_SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 0.5, 2.0, -2.0, np.inf, -np.inf, np.nan])


def _grads(fn, tensors):
    fn(*tensors).sum().backward()
    return [to_numpy(t.grad) for t in tensors]  # ours may be CuPy arrays, PyTorch's are CPU tensors


def test_gradients_at_kinks_and_special_values_match_pytorch():
    torch = pytest.importorskip("torch")
    a, b = (m.ravel() for m in np.meshgrid(_SPECIAL, _SPECIAL))
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    everywhere = np.ones(a.shape, dtype=bool)
    # op, the same op in PyTorch, where each input's gradient must agree (elsewhere a docstring says why not)
    cases = [
        (lambda x: x.relu(), torch.relu, [everywhere]),
        (lambda x: x.leaky_relu(0.1), lambda x: torch.nn.functional.leaky_relu(x, 0.1), [everywhere]),
        (lambda x: x.clip(-1.0, 1.0), lambda x: torch.clamp(x, -1.0, 1.0), [everywhere]),
        (lambda x: x.abs(), torch.abs, [~nan_a]),
        (lambda x, y: x / y, torch.div, [everywhere, everywhere]),
        (lambda x, y: x**y, torch.pow, [everywhere, ~(a <= 0)]),
        (lambda x, y: x.maximum(y), torch.maximum, [~nan_b, ~nan_a]),
        (lambda x, y: x.minimum(y), torch.minimum, [~nan_b, ~nan_a]),
    ]
    with np.errstate(all="ignore"):
        for fn, torch_fn, agree in cases:
            ours = _grads(fn, [Tensor(v, requires_grad=True) for v in (a, b)[:len(agree)]])
            theirs = _grads(torch_fn, [torch.tensor(v, requires_grad=True) for v in (a, b)[:len(agree)]])
            for mine, reference, where in zip(ours, theirs, agree):
                np.testing.assert_allclose(mine[where], reference[where], rtol=1e-12)


# --- found by mutation testing: behaviour no other test pinned down ---


def test_a_number_base_below_one_raised_to_a_tensor_has_the_log_gradient():
    # d/dx a^x = a^x ln a, also for 0 < a < 1, where ln a < 0 (a rule for a <= 1 instead of a <= 0 would give 0)
    e = np.array([0.5, 2.0])
    x = Tensor(e, requires_grad=True)
    (0.5**x).sum().backward()
    np.testing.assert_allclose(x.grad, 0.5**e * np.log(0.5), rtol=1e-12)
    assert gradcheck(lambda t: 0.5**t, Tensor(e, requires_grad=True))
