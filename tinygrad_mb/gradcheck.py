"""Numeric gradient checking: is an op's ``backward`` right?

For a function ``f`` of tensors with any output shape, draw a random upstream
gradient ``v`` of the output's shape and look at the scalar

    L(x) = sum_j f_j(x) * v_j.

Backpropagation gives dL/dx analytically (``backward(v)``). The central difference

    dL/dx_i ~ sum_j (f_j(x + h e_i) - f_j(x - h e_i)) * v_j / (2 h)

gives it numerically, with an error of order h^2, one element at a time.
The two must agree to ``atol + rtol * |numeric|``. Three details keep
rounding errors out of the numeric value:

* the outputs are differenced *before* they are weighted and summed: summing
  first would round away the tiny change of one output inside a large total;
* the step is the one actually stored, (x + h) - (x - h) read back from the
  array, not 2h: near x = 1e8, x + 1e-6 is not representable exactly;
* everything is float64: in float32, rounding errors of order 1e-7 / h swamp
  the result (a float32 input or output gets a warning).

A random ``v`` (instead of checking every output separately) checks a random
combination of all rows of the Jacobian at once, which catches a wrong
backward with probability one. Its entries have random signs and sizes in
[0.5, 1.5]: an entry near 0 would shrink an error below ``atol`` unseen.

Where the left and right slopes differ (relu at 0), there is no derivative,
and any value between the two one-sided slopes (a subgradient) is a fair
answer; ``skip_kinks=True`` accepts exactly those. A slope gap is called a
kink only if it stays the same when the step shrinks tenfold: a gap from
curvature shrinks with the step, one from rounding grows.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_mb import backend
from tinygrad_mb.backend import to_numpy
from tinygrad_mb.errors import BackwardError, GradcheckError
from tinygrad_mb.tensor import Function, Tensor, no_grad


class GradcheckWarning(UserWarning):
    """gradcheck ran, but its result is less reliable than it looks (float32 data, skipped kinks)."""


class _ReadOnlyGradient(Function):
    """Identity whose backward hands a *read-only* upstream gradient to the op below it.

    The engine may give one gradient array to several ops (an add passes its g
    to both inputs), so a backward that edits g in place (``g *= 3``) corrupts
    the others' gradients. Read-only, such an edit raises at once.
    """

    chooses_dtype = True  # keep the output's dtype as it is

    def forward(self, x: Any) -> Any:
        return x

    def backward(self, g: Any) -> Any:
        if isinstance(g, np.ndarray):  # CuPy arrays have no read-only flag
            g = g.view()
            g.flags.writeable = False
        return g


def _forward(fn: Callable, inputs: list) -> np.ndarray:
    """fn(*inputs) as a float64 NumPy array, without recording a graph."""
    with no_grad():
        out = fn(*inputs)
    return to_numpy(out.data).astype(np.float64)


def _outputs_around(fn: Callable, inputs: list, tensor: Tensor, index: tuple, h: float) -> tuple:
    """f at x_i - h and at x_i + h, and the two values of x_i actually stored (lo, hi)."""
    original = tensor.data[index].item()
    try:  # even if fn raises, the caller's input must come back unchanged
        tensor.data[index] = original + h
        hi = tensor.data[index].item()
        f_hi = _forward(fn, inputs)
        tensor.data[index] = original - h
        lo = tensor.data[index].item()
        f_lo = _forward(fn, inputs)
    finally:
        tensor.data[index] = original
    return f_lo, f_hi, lo, hi


def _one_sided_slopes(fn: Callable, inputs: list, tensor: Tensor, index: tuple, v: np.ndarray, h: float,
                      f_center: np.ndarray) -> tuple[float, float] | None:
    """(left, right) difference quotients of L at step h; None if h is below the resolution of x_i."""
    original = tensor.data[index].item()
    f_lo, f_hi, lo, hi = _outputs_around(fn, inputs, tensor, index, h)
    if lo == original or hi == original:
        return None
    return (float(((f_center - f_lo) * v).sum()) / (original - lo),
            float(((f_hi - f_center) * v).sum()) / (hi - original))


def _slopes(fn: Callable, inputs: list, tensor: Tensor, index: tuple, v: np.ndarray, eps: float, numeric: float,
            tol: float) -> tuple[float, float, bool, float]:
    """The one-sided slopes (left, right) of L at step eps, whether they show a kink, and their gap at eps / 10.

    At a kink (relu at 0) the slopes differ, and each stays the same as the step
    shrinks. Curvature makes them differ by about f'' * eps, which shrinks with
    the step; rounding by about ulp(f) / eps, which grows.
    """
    f_center = _forward(fn, inputs)
    slopes = _one_sided_slopes(fn, inputs, tensor, index, v, eps, f_center)
    smaller = _one_sided_slopes(fn, inputs, tensor, index, v, eps / 10, f_center)
    left, right = slopes if slopes is not None else (numeric, numeric)
    if smaller is None:  # eps / 10 is below the resolution of x: nothing to compare with
        return left, right, False, math.inf
    gap = abs(right - left)
    at_kink = gap > tol and abs(smaller[0] - left) + abs(smaller[1] - right) <= gap / 2
    return left, right, at_kink, abs(smaller[1] - smaller[0])


def _hint(left: float, right: float, at_kink: bool, smaller_gap: float, noise: float, miss: float, tol: float,
          skip_kinks: bool, low_precision: str | None) -> str:
    """What most likely explains a mismatch by ``miss``: the one-sided slopes (see _slopes), the rounding ``noise``."""
    if at_kink:
        return (f" The left and right slopes differ ({left:.6g} vs {right:.6g}, also at eps/10): the function "
                "is not differentiable here (a kink); "
                + ("the analytic value is not between the two slopes, so it is no subgradient either."
                   if skip_kinks else "move the input away from this point, or pass skip_kinks=True to accept "
                   "any value between the two slopes."))
    if low_precision is not None:  # rounding, not a kink, is the likely cause of both differences
        return (f" The {low_precision}, where rounding errors swamp central differences; "
                "check again in float64 before looking for a bug.")
    if tol < noise and miss < 10 * noise:  # a miss far beyond the rounding is a real one
        return (f" Rounding of the outputs alone can move the numeric value by about {noise:.3g} here (large "
                "output values change little, relative to their size, within eps): try a larger eps.")
    gap = abs(right - left)
    if gap <= tol or miss > gap:  # the slopes agree, or explain too little: a plain wrong gradient
        return ""
    return (f" The left and right slopes differ ({left:.6g} vs {right:.6g}), but not a kink: the gap "
            + ("grows at eps/10, so it is rounding error; try a larger eps." if smaller_gap > gap else
               "shrinks at eps/10, so the function curves strongly (or has a kink) within eps of this point; "
               "try a smaller eps."))


def _at(index: tuple) -> str:
    """``[1, 2]`` for the index (1, 2), nothing for the index () of a 0-d array."""
    return "" if index == () else "[" + ", ".join(map(str, index)) + "]"


def _call(fn: Callable, inputs: list) -> Tensor:
    """The first call of fn, with a clear message for what gradcheck cannot check."""
    out = fn(*inputs)  # (a Function whose forward returns several arrays is refused by Function.apply)
    if isinstance(out, (tuple, list)):
        raise GradcheckError(
            f"gradcheck: fn returned a {type(out).__name__} of {len(out)}; it must return one Tensor (several "
            "outputs are not supported): check each output on its own, e.g. gradcheck(lambda x: fn(x)[0], x)"
        )
    if isinstance(out, Tensor) and out.dtype.kind not in "fc":
        raise GradcheckError(
            f"gradcheck: fn returned a tensor of dtype {out.dtype}: only float results have gradients (an integer "
            "result, from rounding or a cast, is a constant); return the float values"
        )
    if not isinstance(out, Tensor) or not out.requires_grad:
        raise GradcheckError("gradcheck: fn must return a Tensor that depends on the inputs requiring grad")
    return out


def _snapshot(inputs: list) -> list[tuple[int, Any]]:
    """A copy of every array fn gets (tensors' data and plain arrays), to see if fn writes into them."""
    return [(k, (t.data if isinstance(t, Tensor) else t).copy()) for k, t in enumerate(inputs)
            if hasattr(t.data if isinstance(t, Tensor) else t, "dtype")]


def _check_unchanged(inputs: list, snapshot: list, during: str, example: str) -> None:
    """GradcheckError if fn changed an input in place ``during`` a phase; the input gets its values back first."""
    for k, before in snapshot:
        data = inputs[k].data if isinstance(inputs[k], Tensor) else inputs[k]
        xp = backend.array_module(data)
        if xp.array_equal(data, before, equal_nan=data.dtype.kind in "fc"):
            continue
        data[...] = before  # the caller's input comes back as it was
        raise GradcheckError(
            f"gradcheck: input {k} (shape {tuple(data.shape)}) was changed in place during {during} (e.g. "
            f"{example}); an op must not write into the arrays it is given, or every gradient computed from them "
            "is wrong: compute a new array instead. gradcheck put the input's values back"
        )


def gradcheck(fn: Callable[..., Tensor], *inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, skip_kinks: bool = False, seed: int = 0) -> bool:
    """Compare the analytic gradient of ``fn`` with central differences.

    Args:
        fn: takes the inputs and returns one Tensor of any shape.
        *inputs: tensors (checked when ``requires_grad=True``) or constants.
        eps: step of the central difference.
        atol, rtol: an element passes when |analytic - numeric| <= atol + rtol * |numeric|.
        skip_kinks: at a kink (relu or abs at 0, a tie in max) the function has
            no derivative; accept there any analytic value between the left and
            the right slope (± the tolerance), i.e. any subgradient. Values
            outside still fail. A GradcheckWarning says how many were accepted so.
        seed: for the random upstream gradient ``v``.

    Returns:
        True when every checked element agrees.

    Raises:
        GradcheckError: for the first element that disagrees, naming the input,
            the index, the analytic and the numeric value (the real derivative
            d out[j]/d x[i] when only one output depends on x[i], otherwise
            that of sum(out * v)), how many elements disagree, and a hint
            (kink, rounding or curvature) where one applies. Also when a
            backward returns inf/nan where the function is finite, or edits
            its upstream gradient in place: a backward must never modify
            ``g``; return new arrays (``g * 3``, not ``g *= 3``).
    """
    inputs = list(inputs)
    checked = [k for k, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise GradcheckError("gradcheck: no input requires grad; create the inputs with requires_grad=True")
    low_precision = None  # the first input or output that is not float64: it explains rounding
    leaves: dict[int, Tensor] = {}  # id of a replaced input -> its leaf: one input given twice stays one
    for k in checked:
        t = inputs[k]
        if t._ctx is not None or not getattr(t.data.flags, "writeable", True):  # (CuPy arrays: always writeable)
            # Check it as a leaf of its own: a non-leaf input (e.g. ``x.astype("float64")``) gets
            # no .grad from backward, and a read-only one cannot be perturbed in place. Its data is
            # copied: a view of another input's memory (x and x.reshape(3, 2)) would move with it
            # when either is nudged, while backward counts them as two inputs.
            if id(t) not in leaves:
                leaves[id(t)] = Tensor._wrap(t.data.copy())
                leaves[id(t)].requires_grad = True
            inputs[k] = leaves[id(t)]
        if inputs[k].dtype != np.float64 and low_precision is None:
            low_precision = f"input {k} is {inputs[k].dtype}"
            warnings.warn(
                f"gradcheck: input {k} has dtype {inputs[k].dtype}; central differences are only reliable "
                "in float64, so create the inputs with dtype='float64'",
                GradcheckWarning, stacklevel=2,
            )

    before = _snapshot(inputs)
    out = _call(fn, inputs)
    _check_unchanged(inputs, before, "fn's forward pass", "x *= 2 or x[mask] = 0 in forward; write x * 2 or "
                     "np.where(mask, x, 0)")
    if out.dtype != np.float64 and low_precision is None:
        low_precision = f"output is {out.dtype}"
        warnings.warn(
            f"gradcheck: fn's output has dtype {out.dtype} although the inputs are float64; central "
            "differences are only reliable in float64: make the op compute and return float64",
            GradcheckWarning, stacklevel=2,
        )
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.5, 1.5, out.shape) * rng.choice([-1.0, 1.0], out.shape)
    v = v.astype(out.dtype).astype(np.float64)  # the values backward sees, also in a float32 output
    saved_grads = [inputs[k].grad for k in checked]
    for k in checked:
        inputs[k].grad = None
    try:
        _ReadOnlyGradient.apply(out).backward(v)
        analytic = {k: inputs[k].grad for k in checked}
    except (ValueError, BackwardError) as exc:  # NumPy's, or the engine's BackwardError that wraps it
        if "read-only" not in str(exc):
            raise
        raise GradcheckError(
            f"gradcheck: a backward wrote into a read-only array ({exc}), most likely its upstream gradient g, "
            "which gradcheck makes read-only: a backward must not modify g in place. The engine may pass one g "
            "to several ops (an add gives it to both inputs), so this corrupts their gradients: return a new "
            "array (g * 3, not g *= 3)"
        ) from exc
    finally:
        for k, g in zip(checked, saved_grads):  # leave the caller's .grad as it was
            inputs[k].grad = g
    _check_unchanged(inputs, before, "backward", "self.x *= 2 on an input saved in forward; write self.x * 2")

    failures = []  # (k, index) of every element that disagrees
    first = ""  # the message for the first of them
    skipped = 0
    size = sum(inputs[k].size for k in checked)
    for k in checked:
        tensor = inputs[k]
        grad = analytic[k]
        # None: the output does not depend on this input, so the gradient must be 0
        missing = grad is None
        grad = np.zeros(tensor.shape) if missing else to_numpy(grad).astype(np.float64)
        for index in np.ndindex(*tensor.shape):  # perturb in place, whatever the memory layout
            f_lo, f_hi, lo, hi = _outputs_around(fn, inputs, tensor, index, eps)
            a = float(grad[index])
            where = f"input {k} (shape {tuple(tensor.shape)}) at index {index}"
            bad = ~(np.isfinite(f_lo) & np.isfinite(f_hi))
            if bad.any():
                # inf - inf, or inf <= inf, would make the comparison below meaningless (and pass)
                j = tuple(int(i) for i in np.unravel_index(np.flatnonzero(bad)[0], bad.shape))
                raise GradcheckError(
                    f"gradcheck: {where}: not finite here (f(x+eps) = {f_hi[j]:.6g}, f(x-eps) = {f_lo[j]:.6g} "
                    f"at output index {j}, analytic gradient {a:.6g}); the function is not differentiable "
                    f"within eps={eps:g} of this point: move the input away from it (e.g. log near 0) "
                    "or use a smaller eps"
                )
            if not math.isfinite(a):
                raise GradcheckError(
                    f"gradcheck: backward returned {a} for {where}, where the function is finite "
                    f"(f(x±eps) finite): look for a division by zero or a log of 0 in backward (or, if the "
                    "derivative really is infinite here, as for x**(1/3) at 0, move the input away)"
                )
            if hi == lo:
                raise GradcheckError(
                    f"gradcheck: {where}: eps={eps:g} is below the resolution of x = {tensor.data[index].item():g} "
                    f"in {tensor.dtype}, so x ± eps is x; pass a larger eps"
                )
            column = f_hi - f_lo  # (hi - lo) times column i of the Jacobian d out / d x
            numeric = float((column * v).sum()) / (hi - lo)
            tol = atol + rtol * abs(numeric)
            if abs(a - numeric) <= tol:
                continue

            left, right, at_kink, smaller_gap = _slopes(fn, inputs, tensor, index, v, eps, numeric, tol)
            if at_kink and skip_kinks and min(left, right) - tol <= a <= max(left, right) + tol:
                skipped += 1  # a subgradient: accepted
                continue
            failures.append((k, index))
            if first:
                continue
            # Show real derivatives when a single output depends on x[i] (an elementwise op): the
            # weighted values divided by that output's weight v[j]. Otherwise name the weighting.
            moved = np.flatnonzero(column)
            if len(moved) == 1 or (not len(moved) and out.shape == tensor.shape):  # (no output moved: flat here)
                j = tuple(int(i) for i in np.unravel_index(moved[0], out.shape)) if len(moved) else index
                scale, what = 1 / v[j], f"d out{_at(j)} / d x{_at(index)}"
            else:
                scale, what = 1.0, f"d sum(out * v) / d x{_at(index)}, v the random weights of seed={seed}"
            # Each output is rounded to about eps_machine * |f_j|, so the difference quotient can be off by
            # eps_machine * sum_j |v_j f_j| / step (large outputs, e.g. x + 1e8, make that large).
            noise = np.finfo(out.dtype).eps * float(np.abs(f_hi * v).ravel()[moved].sum()) / (hi - lo)
            hint = _hint(left * scale + 0.0, right * scale + 0.0, at_kink, smaller_gap * abs(scale),
                         noise * abs(scale), abs((a - numeric) * scale), tol * abs(scale), skip_kinks,
                         low_precision)  # + 0.0: no "-0"
            if missing:
                hint += (f" Backward gave input {k} no gradient at all (None): if fn's output depends on it, return "
                         "its gradient (is a return value missing?).")
            first = (f"gradcheck: gradient mismatch for {where}: analytic {a * scale + 0.0:.8g}, "
                     f"numeric {numeric * scale + 0.0:.8g} ({what}; difference {(a - numeric) * scale + 0.0:.3g}, "
                     f"allowed {tol * abs(scale):.3g}).{hint}")
    if failures:
        shown = {}  # the first few failing indices, by input
        for k, index in failures[:5]:
            shown.setdefault(k, []).append(str(index))
        shown = "; ".join(f"input {k} at {', '.join(indices)}" for k, indices in shown.items())
        which = "; the first 5" if len(failures) > 5 else ""
        kinks = f" ({skipped} more accepted as kinks)" if skipped else ""
        raise GradcheckError(f"{first} In all, {len(failures)} of {size} elements disagree{kinks}{which}: {shown}.")
    if skipped:
        warnings.warn(
            f"gradcheck: {skipped} of {size} elements sit at kinks; their analytic values were only checked to "
            "lie between the left and right slopes (skip_kinks=True)",
            GradcheckWarning, stacklevel=2,
        )
    return True
