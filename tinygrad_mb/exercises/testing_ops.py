"""Checkers for notebook 06, testing gradients with hypothesis.

* :func:`check_softsign_op` -- your own op ``Softsign``: forward x / (1 + |x|), backward 1 / (1 + |x|)^2
* :func:`check_property_test` -- your property test passes a correct op and catches buggy ones
* :func:`check_fixed_logcosh` -- the planted bug in ``LogCosh.backward``, fixed
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from tinygrad_mb.backend import to_numpy
from tinygrad_mb.exercises._common import (ExerciseError, checker, compare, fail, passed, placeholder, run,
                                           show_both, stub_raised)


def _is_function_class(cls: Any) -> bool:
    from tinygrad_mb.tensor import Function  # noqa: PLC0415

    return isinstance(cls, type) and issubclass(cls, Function)


def _check_op(cls: Any, name: str, forward: Callable[[np.ndarray], np.ndarray],
              derivative: Callable[[np.ndarray], np.ndarray], points: np.ndarray,
              hint: Callable[[np.ndarray, np.ndarray], str | None] | None = None) -> None:
    """Forward values, the gradient at named points, and gradcheck on a few shapes.

    ``hint(points, gradients)`` sees the gradient at every point, to recognise a mistake by its pattern.
    """
    from tinygrad_mb.errors import GradcheckError  # noqa: PLC0415
    from tinygrad_mb.gradcheck import gradcheck  # noqa: PLC0415
    from tinygrad_mb.tensor import Tensor  # noqa: PLC0415

    placeholder(cls, name)
    if not _is_function_class(cls):
        fail(f"expected a subclass of tinygrad_mb.Function, got {cls!r}",
             f"write `class {name}(Function):` with forward(self, x) and backward(self, g), and pass the class")
    x = Tensor(points.copy(), requires_grad=True)
    out = run(cls.apply, x, what=f"{name}.apply (your forward)")
    if not isinstance(out, Tensor) or tuple(out.shape) != points.shape:
        fail(f"{name}.apply(x) on shape {points.shape} returned {out!r}; expected a Tensor of the same shape")
    compare(out.numpy(), forward(points), f"{name} forward", rtol=1e-7, atol=1e-10)
    got = _gradient(out, x, 1.0, name)
    want = derivative(points)
    for p, g, e in zip(points, got, want):
        if not np.isclose(g, e, rtol=1e-6, atol=1e-9):
            text = hint(points, got) if hint else None  # all points: one can look like many mistakes
            shown_e, shown_g = show_both(e, g)
            fail(f"{name} gradient at x = {p:g}: expected {shown_e}, got {shown_g}", text)
    # With g = 1 a backward that ignores g looks right; the chain rule scales the gradient with g.
    x = Tensor(points.copy(), requires_grad=True)
    got = _gradient(run(cls.apply, x, what=f"{name}.apply (your forward)"), x, 2.0, name)
    if not np.allclose(got, 2 * want, rtol=1e-6, atol=1e-9) and np.allclose(got, want, rtol=1e-6, atol=1e-9):
        fail(f"{name}.backward returned the same gradient for g = 2 as for g = 1: it ignores g",
             "backward(self, g) gets g = dL/d(out) and must return g * d(out)/dx: the chain rule multiplies")
    rng = np.random.default_rng(0)
    for shape in [(), (4,), (2, 3)]:
        values = rng.uniform(-3, 3, size=shape)
        try:
            gradcheck(cls.apply, Tensor(values, requires_grad=True))
        except GradcheckError as exc:
            fail(f"gradcheck failed for an input of shape {shape}: {exc}")
        except ExerciseError:
            raise
        except Exception as exc:
            stub_raised(exc, name)
            fail(f"{name} crashed under gradcheck on shape {shape}: {type(exc).__name__}: {exc}")


def _gradient(out: Any, x: Any, g: float, name: str) -> np.ndarray:
    """x.grad after ``out.backward(g everywhere)``, on the host; fail with advice if backward crashes or gives none."""
    try:
        out.backward(np.full(out.shape, g))
    except ExerciseError:
        raise
    except Exception as exc:
        stub_raised(exc, f"{name}.backward")
        fail(f"{name}.backward raised {type(exc).__name__}: {exc}",
             "backward(self, g) gets dL/d(out) and returns g * d(out)/dx; save what it needs in forward")
    if x.grad is None:
        fail(f"{name}.backward gave no gradient for x (returned None?)")
    return to_numpy(x.grad)


def _softsign(x: np.ndarray) -> np.ndarray:
    return x / (1 + np.abs(x))


def _softsign_grad(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.abs(x)) ** 2


@checker
def check_softsign_op(cls: Any) -> None:
    """Check a ``Function`` subclass computing softsign(x) = x / (1 + |x|) and its derivative 1 / (1 + |x|)^2."""
    points = np.array([-4.0, -1.0, -0.25, 0.5, 2.0, 9.0])

    def hint(x: np.ndarray, g: np.ndarray) -> str | None:
        with np.errstate(divide="ignore"):  # 1 + x = 0 at x = -1
            no_abs = 1 / (1 + x) ** 2
        if np.allclose(g, 1 / (1 + np.abs(x))):
            return "the derivative is squared: 1 / (1 + |x|)^2"
        if np.allclose(g, no_abs):
            return "use |x| in the derivative too: 1 / (1 + |x|)^2"
        return "quotient rule: d/dx x/(1+|x|) = ((1+|x|) - x sign(x)) / (1+|x|)^2 = 1/(1+|x|)^2"

    _check_op(cls, "Softsign", _softsign, _softsign_grad, points, hint)
    passed("Softsign: forward matches x / (1 + |x|), the gradient is 1 / (1 + |x|)^2, gradcheck passes")


# --- ops for check_property_test: one right, three wrong in different places ---------------------
def _make_softsign_ops() -> dict[str, Any]:
    from tinygrad_mb.backend import array_module  # noqa: PLC0415
    from tinygrad_mb.tensor import Function  # noqa: PLC0415

    class RightSoftsign(Function):
        def forward(self, x):
            self.x = x
            return x / (1 + array_module(x).abs(x))

        def backward(self, g):
            return g / (1 + array_module(self.x).abs(self.x)) ** 2

    class NotSquared(RightSoftsign):  # wrong everywhere except at 0
        def backward(self, g):
            return g / (1 + array_module(self.x).abs(self.x))

    class WrongForNegatives(RightSoftsign):  # forgot the |.|: wrong for x < 0 only
        def backward(self, g):
            xp = array_module(self.x)
            return g / xp.maximum(1 + self.x, 0.5) ** 2

    class WrongForLarge(RightSoftsign):  # a "shortcut" for large |x| that is off by a lot
        def backward(self, g):
            xp = array_module(self.x)
            ax = xp.abs(self.x)
            return g * xp.where(ax > 2, 1 / xp.maximum(ax, 1) ** 2, 1 / (1 + ax) ** 2)

    return {"right": RightSoftsign, "wrong everywhere (derivative not squared)": NotSquared,
            "wrong only for x < 0 (|x| forgotten)": WrongForNegatives,
            "wrong only for |x| > 2 (a bad shortcut for large inputs)": WrongForLarge}


@contextmanager
def _steady_hypothesis() -> Iterator[None]:
    """Run a student's hypothesis test with defaults that give the same verdict on every run and machine.

    No deadline: a gradcheck on a busy machine can take longer than hypothesis's default 200 ms, and
    one slow example fails a right test. Derandomized, without the example database: the same examples
    every time, not failures replayed from an earlier run. A setting the test names itself still wins
    (make_test is called in here, so the settings it creates start from these defaults).
    """
    try:
        from hypothesis import settings  # noqa: PLC0415 -- only this checker needs hypothesis
    except ImportError:  # then make_test cannot work either; it says so when called
        yield
        return
    saved = settings.default
    settings.register_profile("tinygrad_mb-check", settings(saved, deadline=None, database=None, derandomize=True))
    settings.load_profile("tinygrad_mb-check")
    try:
        yield
    finally:
        settings.register_profile("tinygrad_mb-before-check", saved)  # the student's own defaults, back
        settings.load_profile("tinygrad_mb-before-check")


def _timing_trouble(exc: BaseException) -> bool:
    """Did hypothesis stop the test for its deadline, or because it failed once and then passed (Flaky)?"""
    return any(c.__name__ in ("DeadlineExceeded", "Flaky") and c.__module__.startswith("hypothesis")
               for c in type(exc).__mro__)


@checker
def check_property_test(make_test: Callable[[Callable[[Any], Any]], Callable[[], None]]) -> None:
    """Check that ``make_test(op)`` builds a hypothesis test that passes a right op and fails wrong ones.

    ``make_test`` receives a function ``op(x: Tensor) -> Tensor`` (softsign, or a
    version of it with a planted bug) and returns a test function decorated with
    ``@given(...)``, to be called with no arguments. The checker calls it once
    with the right op (it must pass) and once with each of three buggy ops (it
    must fail every time).
    """
    with _steady_hypothesis():
        _check_property_test(make_test)
    passed("your property test passes the right softsign and catches all 3 planted bugs")


def _check_property_test(make_test: Callable[[Callable[[Any], Any]], Callable[[], None]]) -> None:
    ops = _make_softsign_ops()
    right = ops.pop("right")
    test = run(make_test, right.apply, what="make_test")
    if not callable(test):
        fail(f"make_test(op) returned {test!r}; it should return the test function it defined")
    if not hasattr(test, "hypothesis"):
        fail("the test that make_test returns is not a hypothesis test",
             "decorate it with @given(tensors(...)) (and @settings(...) if you like) inside make_test")
    try:
        test()
    except Exception as exc:
        stub_raised(exc, "your test")
        if _timing_trouble(exc):
            hint = ("hypothesis stopped it for being slow, or for failing once and passing on a rerun: a gradcheck "
                    "can outlast a deadline on a busy machine, so leave deadline out of @settings (or pass "
                    "deadline=None)")
        elif "return_value" in str(exc) or "should return None" in str(exc):
            hint = ("a hypothesis test checks with assert and returns nothing: write `assert gradcheck(op, x)` "
                    "(or just call gradcheck, which raises on a mismatch) instead of returning True or False")
        else:
            hint = "generate float64 tensors (tensors() does) and compare with gradcheck(op, x)"
        fail(f"your test FAILED on a correct softsign op: {type(exc).__name__}: {str(exc)[:300]}", hint)
    for what, bug in ops.items():
        try:
            run(make_test, bug.apply, what="make_test")()
        except ExerciseError:
            raise
        except Exception:  # the test found the bug: that is what we want
            continue
        fail(f"your test PASSED an op whose backward is {what}",
             "let hypothesis try negative values and values up to |x| = 3 (the default of tensors()), "
             "several shapes, and enough examples (max_examples >= 20)")


def _log_cosh(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    return ax + np.log1p(np.exp(-2 * ax)) - np.log(2.0)


@checker
def check_fixed_logcosh(cls: Any) -> None:
    """Check a repaired ``LogCosh`` op: forward log(cosh(x)), backward tanh(x) -- for negative x too."""
    points = np.array([-25.0, -3.0, -1.0, -0.1, 0.2, 1.0, 4.0, 30.0])

    def hint(x: np.ndarray, g: np.ndarray) -> str | None:
        if np.allclose(g, np.tanh(np.abs(x))):
            return "still tanh(|x|): the derivative of |x| is sign(x), so d/dx log cosh(x) = tanh(x)"
        if np.allclose(g, -np.tanh(x)):
            return ("the sign: log(cosh(x)) grows with |x|, so its slope tanh(x) is positive for x > 0 and "
                    "negative for x < 0")
        return "d/dx log(cosh(x)) = sinh(x) / cosh(x) = tanh(x)"

    _check_op(cls, "LogCosh", _log_cosh, np.tanh, points, hint)
    passed("LogCosh: forward matches log(cosh(x)) and the gradient is tanh(x) for every sign of x")
