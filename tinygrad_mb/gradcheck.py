"""Numeric gradient checking: is an op's ``backward`` right?

For a function ``f`` of tensors with any output shape, pick a random upstream
gradient ``v`` of the output's shape and look at the scalar

    L(x) = sum(f(x) * v).

Backpropagation gives dL/dx analytically. The central difference

    dL/dx_i ~ (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)

gives it numerically, with an error of order eps^2, one element at a time.
The two must agree to ``atol + rtol * |numeric|``. This only works in
float64: in float32, rounding errors of order 1e-7 / eps swamp the result.

A random ``v`` (instead of checking every output separately) checks a random
combination of all rows of the Jacobian at once, which catches a wrong
backward with probability one.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_mb.backend import array_module, to_numpy
from tinygrad_mb.errors import GradcheckError
from tinygrad_mb.tensor import Tensor, no_grad


class GradcheckWarning(UserWarning):
    """gradcheck was given inputs whose precision makes the check unreliable."""


def _scalar(fn: Callable, inputs: list, v: Any) -> float:
    """L = sum(fn(inputs) * v), evaluated without recording a graph."""
    with no_grad():
        out = fn(*inputs)
    return float((out.data * v).sum())


def gradcheck(fn: Callable[..., Tensor], *inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, skip_kinks: bool = False, seed: int = 0) -> bool:
    """Compare the analytic gradient of ``fn`` with central differences.

    Args:
        fn: takes the inputs and returns a Tensor of any shape.
        *inputs: tensors (checked when ``requires_grad=True``) or constants.
        eps: step of the central difference.
        atol, rtol: an element passes when |analytic - numeric| <= atol + rtol * |numeric|.
        skip_kinks: at points where the left and right slopes differ (relu at 0,
            abs at 0, a tie in max), the function has no derivative and any
            answer is a subgradient; skip those elements instead of reporting
            a mismatch.
        seed: for the random upstream gradient.

    Returns:
        True when every checked element agrees.

    Raises:
        GradcheckError: naming the input, the element index, the analytic and
            the numeric value, for the first element that disagrees.
    """
    inputs = list(inputs)
    checked = [k for k, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise GradcheckError("gradcheck: no input requires grad; create the inputs with requires_grad=True")
    for k in checked:
        t = inputs[k]
        writeable = getattr(t.data.flags, "writeable", True)  # CuPy arrays are always writeable
        if t._ctx is not None or not writeable:
            # Check it as a leaf of its own: a non-leaf input (e.g. ``x.astype("float64")``) gets
            # no .grad from backward, and a read-only one cannot be perturbed in place.
            leaf = Tensor._wrap(t.data if writeable else t.data.copy())
            leaf.requires_grad = True
            inputs[k] = leaf
        if inputs[k].dtype != np.float64:
            warnings.warn(
                f"gradcheck: input {k} has dtype {inputs[k].dtype}; central differences are only reliable "
                "in float64, so create the inputs with dtype='float64'",
                GradcheckWarning, stacklevel=2,
            )

    out = fn(*inputs)
    if not isinstance(out, Tensor) or not out.requires_grad:
        raise GradcheckError("gradcheck: fn must return a Tensor that depends on the inputs requiring grad")
    xp = array_module(out.data)
    rng = np.random.default_rng(seed)
    v = xp.asarray(rng.standard_normal(out.shape)).astype(out.dtype)
    saved_grads = [inputs[k].grad for k in checked]
    for k in checked:
        inputs[k].grad = None
    out.backward(v)
    analytic = {k: inputs[k].grad for k in checked}
    for k, g in zip(checked, saved_grads):  # leave the caller's .grad as it was
        inputs[k].grad = g

    for k in checked:
        tensor = inputs[k]
        grad = analytic[k]
        if grad is None:
            grad = xp.zeros_like(tensor.data)  # the output does not depend on this input
        grad = to_numpy(grad)
        for index in np.ndindex(*tensor.shape):  # perturb in place, whatever the memory layout
            original = tensor.data[index].item()
            tensor.data[index] = original + eps
            up = _scalar(fn, inputs, v)
            tensor.data[index] = original - eps
            down = _scalar(fn, inputs, v)
            tensor.data[index] = original
            numeric = (up - down) / (2 * eps)
            a = float(grad[index])
            if not (math.isfinite(up) and math.isfinite(down) and math.isfinite(a)):
                # inf - inf, or inf <= inf, would make the comparison below meaningless (and pass)
                raise GradcheckError(
                    f"gradcheck: input {k} (shape {tuple(tensor.shape)}) at index {index}: not finite here "
                    f"(f(x+eps) = {up:.6g}, f(x-eps) = {down:.6g}, analytic gradient {a:.6g}); the function "
                    f"is not differentiable within eps={eps:g} of this point: move the input away from it "
                    "(e.g. log near 0) or use a smaller eps"
                )
            if abs(a - numeric) <= atol + rtol * abs(numeric):
                continue
            center = _scalar(fn, inputs, v)
            right, left = (up - center) / eps, (center - down) / eps
            at_kink = abs(right - left) > 10 * (atol + rtol * abs(numeric))
            if at_kink and skip_kinks:
                continue
            if tensor.dtype != np.float64:  # rounding, not a kink, is the likely cause of both differences
                hint = (f" The input is {tensor.dtype}, where rounding errors swamp central differences; "
                        "check again with dtype='float64' before looking for a bug.")
            elif at_kink:
                hint = (f" The left and right slopes differ ({left:.6g} vs {right:.6g}): the function is not "
                        "differentiable here; move the input away from this point or pass skip_kinks=True.")
            else:
                hint = ""
            raise GradcheckError(
                f"gradcheck: gradient mismatch for input {k} (shape {tuple(tensor.shape)}) at index {index}: "
                f"analytic {a:.8g}, numeric {numeric:.8g} (difference {a - numeric:.3g}, "
                f"allowed {atol + rtol * abs(numeric):.3g}).{hint}"
            )
    return True
