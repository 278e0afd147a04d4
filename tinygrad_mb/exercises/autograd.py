"""Checkers for notebook 01, tensors and autograd.

* :func:`check_sigmoid_derivative` -- sigma'(x) = sigma(x) (1 - sigma(x)), by hand
* :func:`check_chain_rule` -- dL/da, dL/db, dL/dc of L = (a b + c)^2, by hand
* :func:`check_softplus` -- softplus(x) = log(1 + e^x) from tensor ops, so autograd differentiates it
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from tinygrad_mb.exercises._common import (as_array, as_number, checker, compare, fail, passed, placeholder,
                                           returned_none, rtol_for, run, show_both)

#: The point at which :func:`check_chain_rule` wants the gradient of L = (a b + c)^2.
CHAIN_RULE_POINT = {"a": 2.0, "b": -3.0, "c": 10.0}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1 / (1 + e^-x), without overflow


@checker
def check_sigmoid_derivative(fn: Callable[[np.ndarray], Any]) -> None:
    """Check ``fn(x) = d/dx sigmoid(x)`` on a NumPy array, elementwise.

    Expected: ``sigma(x) * (1 - sigma(x))`` with ``sigma(x) = 1 / (1 + exp(-x))``.
    """
    xs = np.array([-8.0, -2.0, -0.5, 0.0, 0.5, 2.0, 8.0])
    expected = _sigmoid(xs) * (1 - _sigmoid(xs))
    answer = run(fn, xs.copy(), what="your derivative")
    got = as_array(answer, "your derivative")
    if got.shape != xs.shape:
        fail(f"your derivative returned shape {got.shape} for an input of shape {xs.shape}",
             "work elementwise on the array (np.exp works on whole arrays)")
    # In float32, 1 - sigma(x) loses most of its digits at |x| = 8 (sigma is 0.99966...): allow that rounding.
    rtol, atol = rtol_for(answer, 1e-6), (1e-7 if rtol_for(answer, 0.0) > 0 else 1e-10)
    ratio = got / expected  # sigma' > 0 everywhere: a constant ratio means a stray factor
    for x, g, e in zip(xs, got, expected):
        if not np.isclose(g, e, rtol=rtol, atol=atol):
            hint = None
            if np.isclose(g, _sigmoid(x)):
                hint = "that is sigma(x) itself; the derivative is sigma(x) * (1 - sigma(x))"
            elif np.isclose(g, _sigmoid(x) * (1 + _sigmoid(x))):
                hint = "check the sign: (1 - sigma(x)), not (1 + sigma(x))"
            elif np.isclose(g, np.exp(-x) / (1 + np.exp(-x))):
                hint = ("that is 1 - sigma(x) = e^-x / (1 + e^-x): multiply by sigma(x) (the quotient rule "
                        "gives e^-x / (1 + e^-x)^2 -- the denominator is squared)")
            elif np.allclose(ratio, -1.0):
                hint = "the sign: sigma is increasing, so sigma'(x) = sigma(x) * (1 - sigma(x)) is positive"
            elif np.allclose(ratio, ratio[0]):
                hint = (f"every value is {ratio[0]:g} times the right one: look for a stray constant factor; "
                        "sigma'(x) = sigma(x) * (1 - sigma(x)) has none")
            shown_e, shown_g = show_both(e, g)
            fail(f"at x = {x:g}: expected sigma'(x) = {shown_e}, got {shown_g}", hint)
    grid = np.linspace(-4, 4, 12).reshape(3, 4)
    try:
        on_grid = fn(grid.copy())
    except Exception as exc:  # right on a 1-D array, so most likely a loop over x, which walks a 2-D array's rows
        fail(f"your derivative is right on the 1-D test points but raised {type(exc).__name__}: {exc}\n"
             "  when called with a 3x4 array",
             "x may have any shape: compute on the whole array at once (np.exp(-x) works elementwise on any "
             "shape) rather than looping over x, which on a 2-D array goes over its rows")
    compare(on_grid, _sigmoid(grid) * (1 - _sigmoid(grid)), "your derivative on a 3x4 array", rtol=rtol, atol=atol)
    passed("sigmoid'(x) = sigma(x) (1 - sigma(x)) matches at all 7 test points and on a 2-D array")


@checker
def check_chain_rule(grads: Mapping[str, Any]) -> None:
    """Check hand-computed ``{"a": dL/da, "b": dL/db, "c": dL/dc}`` for L = (a b + c)^2 at a=2, b=-3, c=10."""
    placeholder(grads, "your answer")
    if not isinstance(grads, Mapping):
        fail(f"expected a dict like {{'a': ..., 'b': ..., 'c': ...}}, got {type(grads).__name__}")
    missing = [k for k in "abc" if k not in grads]
    if missing:
        fail(f"the dict has no entry for {missing}; give all three: {{'a': dL/da, 'b': dL/db, 'c': dL/dc}}")
    a, b, c = (CHAIN_RULE_POINT[k] for k in "abc")
    d = a * b + c
    dL_dd = 2 * d
    expected = {"a": dL_dd * b, "b": dL_dd * a, "c": dL_dd}
    local = {"a": b, "b": a, "c": 1.0}
    for name in "abc":
        if grads[name] is None:
            fail(f"dL/d{name} is None: write the number you worked out")
        got = as_number(grads[name], f"dL/d{name}")
        if not np.isclose(got, expected[name], rtol=1e-5):
            hint = f"chain rule: dL/d{name} = dL/dd * dd/d{name} with d = a*b + c = {d:g}, dL/dd = 2d = {dL_dd:g}"
            if np.isclose(got, local[name]):
                hint = f"{got:g} is only dd/d{name}; multiply by dL/dd = 2d = {dL_dd:g}"
            shown_e, shown_g = show_both(expected[name], got)
            fail(f"dL/d{name} at a={a:g}, b={b:g}, c={c:g}: expected {shown_e}, got {shown_g}", hint)
    passed(f"dL/da = {expected['a']:g}, dL/db = {expected['b']:g}, dL/dc = {expected['c']:g}: all correct")


@checker
def check_softplus(fn: Callable[[Any], Any]) -> None:
    """Check ``fn(x: Tensor) -> Tensor`` computes softplus(x) = log(1 + e^x) with differentiable tensor ops.

    The forward values must match, and ``fn(x).sum().backward()`` must give
    ``x.grad = sigmoid(x)`` -- which it does by itself when fn is built from
    Tensor ops (``exp``, ``log``, ``+``), because autograd applies the chain rule.
    """
    from tinygrad_mb.tensor import Tensor  # noqa: PLC0415

    xs = np.array([-6.0, -1.5, -0.2, 0.0, 0.3, 2.0, 7.0])
    x = Tensor(xs.copy(), requires_grad=True)
    out = run(fn, x, what="your softplus")
    returned_none(out, "your softplus")
    if not isinstance(out, Tensor):
        fail(f"your softplus returned {type(out).__name__}, not a Tensor",
             "use tensor methods (x.exp(), .log(), + 1) instead of NumPy functions, so the graph is recorded")
    if tuple(out.shape) != xs.shape:
        fail(f"your softplus returned shape {tuple(out.shape)} for an input of shape {xs.shape}")
    # float32: log(1 + e^-6) = log(1.0024...) keeps only the digits that 1.0024... has in float32
    rtol, atol = rtol_for(out, 1e-6), (1e-7 if rtol_for(out, 0.0) > 0 else 1e-9)
    compare(out.numpy(), np.logaddexp(0.0, xs), "softplus forward", rtol=rtol, atol=atol,
            hint="softplus(x) = log(1 + exp(x))", inputs=xs)
    if not out.requires_grad:
        fail("the result does not require grad: it is not connected to x in the graph",
             "build it from x with tensor ops; converting to NumPy (x.numpy(), x.data) cuts the graph")
    if x.grad is not None:  # backward() here would add to it, or fail on a graph that was already freed
        fail("x.grad was already set when your softplus returned: it called backward() (or set x.grad) itself",
             "softplus only computes the forward pass; the checker calls out.sum().backward() afterwards")
    run(lambda: out.sum().backward(), what="out.sum().backward()")
    if x.grad is None:
        fail("after out.sum().backward(), x.grad is still None: the output does not depend on x through the graph")
    # The gradient is checked off x = 0: there |x| and relu have a kink, and autograd (here and in PyTorch)
    # takes the subgradient 0 for both, so the stable form relu(x) + log(1 + e^-|x|) gets 0 there, not 0.5.
    smooth = xs != 0
    compare(as_array(x.grad, "x.grad")[smooth], _sigmoid(xs[smooth]),
            "x.grad after out.sum().backward() (should be sigmoid(x))", rtol=rtol, atol=atol, inputs=xs[smooth])
    passed("softplus forward matches log(1 + e^x) and autograd gives d/dx softplus = sigmoid(x)")
