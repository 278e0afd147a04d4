"""The one-sweep update p += alpha * d (BLAS axpy): same numbers on the BLAS path and the NumPy path."""

import numpy as np
import pytest

from tinygrad_mb import nn, optim
from tinygrad_mb.optim import update

BIG = (130, 140)  # 18,200 elements: above update.MIN_SIZE, so the BLAS path is eligible


def openblas_loaded() -> bool:
    from threadpoolctl import threadpool_info

    return any(info.get("internal_api") == "openblas" for info in threadpool_info())


def arrays(shape, dtype, order="C", seed=0):
    rng = np.random.default_rng(seed)
    target = np.asarray(rng.standard_normal(shape), dtype=dtype, order=order)
    x = np.asarray(rng.standard_normal(shape), dtype=dtype, order=order)
    return target, x


def test_the_blas_routines_are_found_where_numpy_uses_openblas():
    if not openblas_loaded():
        pytest.skip("this NumPy is not built on OpenBLAS: the NumPy path is the only one")
    routines = update._find_axpy()
    assert routines is not None and set(routines) == {np.dtype(np.float32), np.dtype(np.float64)}


def test_large_float_arrays_go_through_blas_and_small_ones_do_not(monkeypatch):
    if not openblas_loaded():
        pytest.skip("this NumPy is not built on OpenBLAS: the NumPy path is the only one")
    calls = []
    routine = update._find_axpy()[np.dtype(np.float32)]
    monkeypatch.setattr(update, "_axpy", {np.dtype(np.float32): lambda *args: (calls.append(args[0]), routine(*args))})
    for shape in (BIG, (3, 4)):
        target, x = arrays(shape, np.float32)
        expected = target - np.float32(0.1) * x
        update.add_scaled_(target, -0.1, x)
        np.testing.assert_allclose(target, expected, rtol=1e-6, atol=1e-6)
    assert calls == [BIG[0] * BIG[1]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("shape", [BIG, (7, 3), (update.MIN_SIZE,)])
def test_matches_the_numpy_expression(dtype, order, shape):
    target, x = arrays(shape, dtype, order)
    expected = target - np.asarray(0.37, dtype) * x
    update.add_scaled_(target, -0.37, x)
    assert target.dtype == dtype
    rtol = 1e-6 if dtype == np.float32 else 1e-14  # axpy may fuse the multiply-add: one rounding fewer
    np.testing.assert_allclose(target, expected, rtol=rtol, atol=rtol)


def test_blas_path_really_writes_in_place_and_switch_off_gives_the_same(monkeypatch):
    target, x = arrays(BIG, np.float32)
    on, off = target.copy(), target.copy()
    address = on.ctypes.data
    update.add_scaled_(on, -0.5, x)
    monkeypatch.setattr(update, "BLAS_AXPY", False)
    update.add_scaled_(off, -0.5, x)
    assert on.ctypes.data == address
    np.testing.assert_allclose(on, off, rtol=1e-6)
    assert not np.array_equal(on, target)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("writeable", [True, False])
def test_the_address_handed_to_blas_is_where_the_data_starts(order, writeable):
    target, _ = arrays(BIG, np.float32, order)
    target.flags.writeable = writeable  # a read-only array takes the slower lookup, same answer
    assert update._address(target, target.flags) == target.ctypes.data


def test_a_read_only_gradient_goes_through_blas_too():
    target, x = arrays(BIG, np.float32, "F")
    x.flags.writeable = False  # e.g. a gradient loaded from a file with mmap
    expected = target - np.float32(0.25) * x
    update.add_scaled_(target, -0.25, x)
    np.testing.assert_allclose(target, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "case",
    ["strided view", "layouts differ", "dtypes differ", "x overlaps target", "x is target", "alpha is zero"],
)
def test_cases_blas_cannot_take_still_give_the_right_answer(case):
    target, x = arrays(BIG, np.float64)
    if case == "strided view":
        target, x = arrays((260, 140), np.float64)
        target, x = target[::2], x[::2]
    elif case == "layouts differ":
        x = np.asfortranarray(x)
    elif case == "dtypes differ":
        x = x.astype(np.float32)
    elif case == "x overlaps target":
        big = np.arange(BIG[0] * BIG[1] + 1, dtype=np.float64)
        target, x = big[1:], big[:-1]
    elif case == "x is target":
        x = target
    elif case == "alpha is zero":
        x[0, 0] = np.inf
    alpha = 0.0 if case == "alpha is zero" else 0.25
    with np.errstate(invalid="ignore"):  # 0 * inf = nan, on purpose
        expected = target - alpha * x  # computed before the update, from the unchanged inputs
        update.add_scaled_(target, -alpha, x)
    np.testing.assert_allclose(target, expected, rtol=1e-14)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
     {"momentum": 0.5, "dampening": 0.3, "weight_decay": 0.1}],
)
def test_sgd_on_a_large_parameter_matches_its_equations(kwargs, monkeypatch):
    """Two steps of SGD on an 18,200-element weight, BLAS path on and off, against the equations."""
    rng = np.random.default_rng(1)
    start = rng.standard_normal(BIG)
    grads = [rng.standard_normal(BIG) for _ in range(2)]
    results = []
    for blas in (True, False):
        monkeypatch.setattr(update, "BLAS_AXPY", blas)
        p = nn.Parameter(start.copy(), backend="numpy")  # the BLAS path exists only for NumPy arrays
        opt = optim.SGD([p], lr=0.1, **kwargs)
        for g in grads:
            p.grad = g.copy()
            opt.step()
            np.testing.assert_array_equal(p.grad, g)  # the gradient is only read
        results.append(p.data.copy())
    mu, wd = kwargs.get("momentum", 0.0), kwargs.get("weight_decay", 0.0)
    damp, nesterov = kwargs.get("dampening", 0.0), kwargs.get("nesterov", False)
    w, buf = start.copy(), None
    for g in grads:  # the update written out, in float64
        d = g + wd * w
        if mu:
            buf = d.copy() if buf is None else mu * buf + (1 - damp) * d
            d = d + mu * buf if nesterov else buf
        w = w - 0.1 * d
    for result in results:
        np.testing.assert_allclose(result, w, rtol=1e-12, atol=1e-14)


def test_adam_on_a_large_parameter_matches_its_equations(monkeypatch):
    """Adam's running averages and its step use the one-sweep update too: three steps, on and off."""
    rng = np.random.default_rng(2)
    start = rng.standard_normal(BIG)
    grads = [rng.standard_normal(BIG) for _ in range(3)]
    lr, b1, b2, eps = 0.01, 0.8, 0.95, 1e-8
    results = []
    for blas in (True, False):
        monkeypatch.setattr(update, "BLAS_AXPY", blas)
        p = nn.Parameter(start.copy(), backend="numpy")  # the BLAS path exists only for NumPy arrays
        opt = optim.Adam([p], lr=lr, betas=(b1, b2), eps=eps)
        for g in grads:
            p.grad = g.copy()
            opt.step()
        results.append(p.data.copy())
    w, m, v = start.copy(), np.zeros(BIG), np.zeros(BIG)
    for t, g in enumerate(grads, start=1):  # Kingma & Ba, Algorithm 1
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    for result in results:
        np.testing.assert_allclose(result, w, rtol=1e-10, atol=1e-12)
