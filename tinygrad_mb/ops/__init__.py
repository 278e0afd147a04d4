"""Every differentiable op, as functions and as Tensor methods.

The ops themselves (a :class:`~tinygrad_mb.tensor.Function` each, forward and
backward side by side) live in four short files:

* :mod:`~tinygrad_mb.ops.elementwise` -- ``+ - * / **``, exp, log, activations, ...
* :mod:`~tinygrad_mb.ops.reduce` -- sum, mean, max, min
* :mod:`~tinygrad_mb.ops.shape` -- reshape, transpose, indexing, concatenate, ...
* :mod:`~tinygrad_mb.ops.linalg` -- matmul, softmax and the fused linear / losses

This file gives them friendly names (``ops.exp(x)``, ``x.exp()``, ``a + b``)
and composes the few ops that need no backward of their own (var, flatten, ...).
"""

from __future__ import annotations

from numbers import Number
from typing import Any

import numpy as np

from tinygrad_mb import backend
from tinygrad_mb.errors import ArgumentTypeError, BackwardError, DTypeError, LossInputWarning, ShapeError, warn_user
from tinygrad_mb.ops.elementwise import (
    Abs, Add, Cast, Clip, Copy, Div, Exp, LeakyReLU, Log, Maximum, Minimum, Mul, Neg, Pow, ReLU,
    Sigmoid, Softplus, Sqrt, Sub, Tanh, Where,
)
from tinygrad_mb.ops.linalg import CrossEntropy, Linear, LogSoftmax, MatMul, MSELoss, NLLLoss, Softmax
from tinygrad_mb.ops.reduce import Max, Mean, Sum, normalize_axes
from tinygrad_mb.ops.shape import BroadcastTo, Concatenate, GetItem, Reshape, Stack, Transpose
from tinygrad_mb.tensor import Tensor, is_grad_enabled, new_version

_SCALARS = (int, float, bool)
_FLOAT32 = np.float32


def _lift(x: Any, partner: Any = None) -> Any:
    """Tensors and Python numbers pass through; arrays and lists become constant tensors.

    Host data (a list, a NumPy array) goes where ``partner``, the op's other
    operand, lives when that is a tensor: ``numpy_tensor + numpy_array`` stays
    on NumPy under a CuPy default, and ``gpu_tensor * numpy_mask`` runs on the
    GPU, so code written for NumPy runs unchanged after switching the backend.
    A GPU array is never copied back to the host implicitly: it stays where it
    is, and the op then says that the backends differ and how to move one.
    """
    if isinstance(x, Tensor) or type(x) in _SCALARS:
        return x
    if isinstance(x, Number):  # NumPy scalars and the like
        return x.item() if hasattr(x, "item") else x
    if isinstance(partner, Tensor) and backend.backend_of(x) != backend.CUPY:
        return Tensor(x, backend=partner.backend)
    return Tensor(x)


# PyTorch's keyword names, and what they are called here (NumPy's names).
_TORCH_KEYWORDS = {"dim": "axis", "keepdim": "keepdims"}


def _check_extra(op: str, extra: dict) -> None:
    """Refuse keywords an op does not take, naming NumPy's spelling of PyTorch's ``dim=`` and ``keepdim=``.

    ``np.sum(t)`` and ``np.mean(t)`` call ``t.sum(axis=..., dtype=None, out=None)``: those two, left
    as None, are NumPy's doing and pass (the tensor method runs, as PyTorch's does under NumPy).
    """
    for key, value in extra.items():
        if key in _TORCH_KEYWORDS:
            raise ArgumentTypeError(f"{op}() got {key}={value!r}, PyTorch's name; here (as in NumPy) it is "
                                    f"{_TORCH_KEYWORDS[key]}: write {op}({_TORCH_KEYWORDS[key]}={value!r})")
        if key not in ("dtype", "out") or value is not None:
            raise ArgumentTypeError(f"{op}() got an unexpected keyword argument {key!r}")


def _clip_bounds(lo: Any, hi: Any, extra: dict) -> tuple[Any, Any]:
    """clip's bounds when given as ``min=``/``max=`` (NumPy 2, PyTorch) instead of ``lo``/``hi``."""
    extra = dict(extra)
    for name, given in (("min", lo), ("max", hi)):
        if name in extra and given is not None:
            bound = "lo" if name == "min" else "hi"
            raise ArgumentTypeError(f"clip() got both {name}= and the bound it names ({bound}); give it once")
    lo, hi = extra.pop("min", lo), extra.pop("max", hi)
    if extra:
        _check_extra("clip", extra)
    return lo, hi


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _wrap_result(value: Any) -> Tensor:
    """A constant tensor around a NumPy/CuPy result; NumPy's 0-d results are scalars, made arrays here."""
    return Tensor._wrap(np.asarray(value) if isinstance(value, np.generic) else value)


def _floating(x: Any) -> Any:
    """``x`` ready for a float function (exp, sqrt, sigmoid, ...): integer and boolean tensors become float32.

    PyTorch's rule. NumPy would compute these functions of 8-bit integers in
    float16 (sqrt(255) = 15.97) and, for unsigned ones, wrap -x around, so that
    sigmoid of a uint8 100 came out 0. Integer tensors never need gradients.
    """
    if isinstance(x, Tensor) and x.data.dtype.kind in "biu":
        return Tensor._wrap(x.data.astype(_FLOAT32))
    return x


# --- arithmetic ------------------------------------------------------------------
def add(a, b) -> Tensor:
    """a + b (broadcasting)."""
    return Add.apply(_lift(a, b), _lift(b, a))


def sub(a, b) -> Tensor:
    """a - b (broadcasting)."""
    return Sub.apply(_lift(a, b), _lift(b, a))


def mul(a, b) -> Tensor:
    """a * b (broadcasting)."""
    return Mul.apply(_lift(a, b), _lift(b, a))


def div(a, b) -> Tensor:
    """a / b (broadcasting)."""
    return Div.apply(_lift(a, b), _lift(b, a))


def pow(a, b) -> Tensor:  # noqa: A001  (the natural name)
    """a ** b, with a tensor or scalar exponent."""
    return Pow.apply(_lift(a, b), _lift(b, a))


def neg(x: Tensor) -> Tensor:
    """-x."""
    return Neg.apply(x)


def matmul(a, b) -> Tensor:
    """a @ b with NumPy's rules (1-D, 2-D, batched)."""
    return MatMul.apply(_lift(a, b), _lift(b, a))


# --- elementwise functions -----------------------------------------------------------
def exp(x: Tensor) -> Tensor:
    """e^x."""
    return Exp.apply(_floating(x))


def log(x: Tensor) -> Tensor:
    """Natural logarithm."""
    return Log.apply(_floating(x))


def sqrt(x: Tensor) -> Tensor:
    """Square root."""
    return Sqrt.apply(_floating(x))


def clone(x: Tensor) -> Tensor:
    """A copy in new memory; gradients flow back to ``x`` (``detach()`` shares memory and cuts them)."""
    return Copy.apply(x)


def abs(x: Tensor) -> Tensor:  # noqa: A001
    """|x|."""
    return Abs.apply(x)


def relu(x: Tensor) -> Tensor:
    """max(x, 0)."""
    return ReLU.apply(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope * x otherwise."""
    return LeakyReLU.apply(x, negative_slope=negative_slope)


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + e^-x), stable for any x."""
    return Sigmoid.apply(_floating(x))


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return Tanh.apply(_floating(x))


def softplus(x: Tensor) -> Tensor:
    """ln(1 + e^x), stable for any x."""
    return Softplus.apply(_floating(x))


def maximum(a, b) -> Tensor:
    """Elementwise max(a, b)."""
    return Maximum.apply(_lift(a, b), _lift(b, a))


def minimum(a, b) -> Tensor:
    """Elementwise min(a, b)."""
    return Minimum.apply(_lift(a, b), _lift(b, a))


def clip(x: Tensor, lo: float | None = None, hi: float | None = None, **extra) -> Tensor:
    """Limit values to [lo, hi] (either bound may be None, a number or a tensor).

    ``min=`` and ``max=`` name the bounds too, as in NumPy 2 and PyTorch's ``clamp``.
    The bounds get no gradient, also when they are tensors (PyTorch's ``clamp`` gives tensor bounds one).
    """
    if extra:
        lo, hi = _clip_bounds(lo, hi, extra)
    # Array bounds go where x is (as _lift does for the other ops), so NumPy bounds work on the GPU too.
    return Clip.apply(x, lo=None if lo is None else _data(_lift(lo, x)), hi=None if hi is None else _data(_lift(hi, x)))


def where(cond, a, b) -> Tensor:
    """Elementwise ``a if cond else b``; cond is a boolean tensor or array (no gradient)."""
    return Where.apply(_lift(a, b), _lift(b, a), cond=_data(cond))


# --- reductions --------------------------------------------------------------------
def sum(x: Tensor, axis=None, keepdims: bool = False, **extra) -> Tensor:  # noqa: A001
    """Sum over ``axis`` (None = all; int, negative or tuple; ``()`` = none, as in NumPy, not all as in PyTorch)."""
    if extra:
        _check_extra("sum", extra)
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x: Tensor, axis=None, keepdims: bool = False, **extra) -> Tensor:
    """Mean over ``axis`` (as for :func:`sum`). Integers average to floats, as in NumPy (PyTorch refuses them)."""
    if extra:
        _check_extra("mean", extra)
    return Mean.apply(x, axis=axis, keepdims=keepdims)


def var(x: Tensor, axis=None, keepdims: bool = False, ddof: int = 0, **extra) -> Tensor:
    """Variance over ``axis``: sum (x - mean)^2 / (n - ddof). Composed from mean and mul.

    ``ddof=0`` by default, as in NumPy; PyTorch's ``var`` divides by n - 1 unless given ``correction=0``.
    With no degrees of freedom left (n <= ddof) the variance is inf or NaN, as in NumPy and PyTorch, and
    its gradient NaN (PyTorch's is then inf or finite).
    """
    if extra:  # unbiased= or correction=, PyTorch's, would otherwise be dropped and the default differs
        for key, value in extra.items():
            if key in ("unbiased", "correction"):
                same = int(bool(value)) if key == "unbiased" else value
                raise ArgumentTypeError(
                    f"var() got {key}={value!r}, PyTorch's; here (as in NumPy) ddof sets the divisor, n - ddof: "
                    f"write var(ddof={same!r}). Without it the divisor is n (ddof=0), where PyTorch's default is n - 1"
                )
        _check_extra("var", extra)
    axes = normalize_axes(axis, x.ndim, "var")
    n = 1
    for a in axes:
        n *= x.shape[a]
    centered = x - mean(x, axis=axes, keepdims=True)
    # n - ddof <= 0: no degrees of freedom left; NumPy and PyTorch then divide by 0 (inf), or by
    # a negative count: max(..., 0) gives inf here too (NaN where the sum of squares is 0)
    scale = 1.0 / (n - ddof) if n > ddof else float("inf")
    return sum(centered * centered, axis=axes, keepdims=keepdims) * scale


def std(x: Tensor, axis=None, keepdims: bool = False, ddof: int = 0, **extra) -> Tensor:
    """Standard deviation over ``axis``: sqrt(var(x, axis, ddof)), ``ddof=0`` by default as in NumPy.

    Where the variance is 0 the gradient is inf or NaN (d sqrt(v)/dv = 1 / (2 sqrt(v))), as in PyTorch.
    """
    return sqrt(var(x, axis=axis, keepdims=keepdims, ddof=ddof, **extra))


def logsumexp(x: Tensor, axis=None, keepdims: bool = False, **extra) -> Tensor:
    """log sum e^x over ``axis``, stable: m + log sum e^(x - m) with m the maximum, so no e^x overflows.

    Its gradient is softmax(x) along ``axis``. m is taken as a constant (it cancels out of the
    value, so also out of the gradient); a slice whose values are all -inf gives -inf, as in SciPy.
    """
    if extra:
        _check_extra("logsumexp", extra)
    xp = x.xp
    m = x.data.max(axis=axis, keepdims=True)
    m = Tensor._wrap(xp.where(xp.isfinite(m), m, 0).astype(x.dtype))  # -inf - -inf would be NaN
    with np.errstate(divide="ignore"):  # log(0) = -inf for an all -inf slice is the answer, not an accident
        out = log(sum(exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else squeeze(out, axis=tuple(range(x.ndim)) if axis is None else axis)


def max(x: Tensor, axis=None, keepdims: bool = False, **extra) -> Tensor:  # noqa: A001
    """Maximum over ``axis`` (as for :func:`sum`); ties share the gradient."""
    if extra:
        _check_extra("max", extra)
    return Max.apply(x, axis=axis, keepdims=keepdims)


def min(x: Tensor, axis=None, keepdims: bool = False, **extra) -> Tensor:  # noqa: A001
    """Minimum over ``axis`` (as for :func:`sum`); ties share the gradient."""
    if extra:
        _check_extra("min", extra)
    return Max.apply(x, axis=axis, keepdims=keepdims, smallest=True)


def argmax(x: Tensor, axis: int | None = None, keepdims: bool = False, **extra) -> Tensor:
    """Index of the maximum (not differentiable); ``keepdims`` keeps ``axis`` with size 1, as in NumPy."""
    if extra:
        _check_extra("argmax", extra)
    return _wrap_result(x.data.argmax(axis=axis, keepdims=keepdims))


def argmin(x: Tensor, axis: int | None = None, keepdims: bool = False, **extra) -> Tensor:
    """Index of the minimum (not differentiable); ``keepdims`` keeps ``axis`` with size 1, as in NumPy."""
    if extra:
        _check_extra("argmin", extra)
    return _wrap_result(x.data.argmin(axis=axis, keepdims=keepdims))


# --- shapes ------------------------------------------------------------------------
def _axis(axis: int, ndim: int, op: str) -> int:
    """``axis`` as a non-negative index into ``ndim`` axes, or a ShapeError naming the valid range."""
    if not -ndim <= axis < ndim:
        raise ShapeError(f"{op}: axis {axis} is out of range; the valid axes are {-ndim}..{ndim - 1}")
    return axis % ndim


def _shape_arg(shape: tuple) -> tuple:
    """Accept both ``f(2, 3)`` and ``f((2, 3))``."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


def _as_view(out: Tensor, x: Tensor) -> Tensor:
    """``out``, marked as a view of ``x`` when it shares x's memory (see ``Tensor._view_of`` and ``_in_place``).

    NumPy's reshape, transpose, broadcast_to and basic slicing return views
    where they can, copies where they must (a reshape of a transposed array);
    only a view shares writes.
    """
    data = out.data
    if data.base is not None and x.xp.may_share_memory(data, x.data):
        out._view_of = x
    return out


def reshape(x: Tensor, *shape) -> Tensor:
    """The same elements with another shape (one entry may be -1)."""
    return _as_view(Reshape.apply(x, shape=_shape_arg(shape)), x)


def transpose(x: Tensor, *axes, **extra) -> Tensor:
    """``x.transpose(a, b)`` swaps axes a and b (PyTorch's meaning); with no axes, reverse them all.

    A full permutation of three or more axes is also taken, as by :func:`permute`.
    (NumPy reads two axes as a permutation, so ``np.transpose(m, (0, 1))`` leaves a
    matrix as it is: here, as in PyTorch, it transposes it.)
    """
    if extra:
        if set(extra) <= {"dim0", "dim1"}:
            raise ArgumentTypeError(f"transpose() got {', '.join(f'{k}={v!r}' for k, v in extra.items())}, PyTorch's "
                                    "names; give the two axes by position: transpose(a, b)")
        _check_extra("transpose", extra)
    axes = _shape_arg(axes)
    if len(axes) == 2:
        first, second = _axis(axes[0], x.ndim, "transpose"), _axis(axes[1], x.ndim, "transpose")
        order = list(range(x.ndim))
        order[first], order[second] = order[second], order[first]
        axes = tuple(order)
    return _as_view(Transpose.apply(x, axes=axes or None), x)


def permute(x: Tensor, *axes) -> Tensor:
    """Reorder the axes: ``x.permute(2, 0, 1)`` puts axis 2 first (reverse them when none are given)."""
    return _as_view(Transpose.apply(x, axes=_shape_arg(axes) or None), x)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes start_dim..end_dim into one (PyTorch's ``flatten``)."""
    if x.ndim == 0:
        return reshape(x, 1)
    start, end = _axis(start_dim, x.ndim, "flatten"), _axis(end_dim, x.ndim, "flatten")
    if start > end:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} (shape {x.shape})")
    merged = 1
    for n in x.shape[start:end + 1]:
        merged *= n
    return reshape(x, *x.shape[:start], merged, *x.shape[end + 1:])


def broadcast_to(x: Tensor, shape) -> Tensor:
    """Copy x along new or size-1 axes to ``shape``."""
    return _as_view(BroadcastTo.apply(x, shape=tuple(shape)), x)


def expand(x: Tensor, *shape) -> Tensor:
    """Like broadcast_to; -1 keeps that axis's size (PyTorch's ``expand``)."""
    shape = _shape_arg(shape)
    offset = len(shape) - x.ndim
    if offset < 0:
        raise ShapeError(f"expand: shape {shape} has fewer axes than the tensor's {x.shape}; give one size per axis")
    if -1 in shape[:offset]:
        raise ShapeError(f"expand: -1 (keep the size) used for a new leading axis in {shape}; give its size")
    shape = tuple(x.shape[i - offset] if n == -1 else n for i, n in enumerate(shape))
    return broadcast_to(x, shape)


def squeeze(x: Tensor, axis: int | tuple | None = None, **extra) -> Tensor:
    """Remove size-1 axes (all of them, or the given ones).

    Naming an axis whose size is not 1 is a ShapeError, as in NumPy (PyTorch leaves such an axis alone).
    """
    if extra:
        _check_extra("squeeze", extra)
    axes = [i for i, n in enumerate(x.shape) if n == 1] if axis is None else normalize_axes(axis, x.ndim, "squeeze")
    for a in axes:
        if x.shape[a] != 1:
            raise ShapeError(f"squeeze: axis {a} has size {x.shape[a]}, not 1 (shape {x.shape})")
    return reshape(x, *[n for i, n in enumerate(x.shape) if i not in axes])


def unsqueeze(x: Tensor, axis: int | None = None, **extra) -> Tensor:
    """Insert a size-1 axis at position ``axis``."""
    if extra:
        _check_extra("unsqueeze", extra)
    if axis is None:
        raise ArgumentTypeError("unsqueeze() needs the position of the new axis, e.g. x.unsqueeze(0)")
    axis = _axis(axis, x.ndim + 1, "unsqueeze")  # the new axis can also go after the last one
    return reshape(x, *x.shape[:axis], 1, *x.shape[axis:])


def _check_gpu_index(x: Tensor, index: Any) -> None:
    """IndexError for an integer-array index out of range, which CuPy wraps around where NumPy raises.

    One read back from the GPU, so skipped where sync checks are off (inside training loops). Checked for
    an index whose parts stand for the axes in order (ints, slices, arrays); others are left to CuPy.
    """
    parts = index if isinstance(index, tuple) else (index,)
    if any(p is None or p is Ellipsis for p in parts) or not backend.sync_checks_enabled(x.data):
        return
    for axis, part in enumerate(parts):
        if getattr(part, "ndim", 0) and part.dtype.kind in "iu" and axis < x.ndim and part.size:
            n = x.shape[axis]
            low, high = int(part.min()), int(part.max())
            if low < -n or high >= n:
                raise IndexError(f"index {low if low < -n else high} is out of bounds for axis {axis} with size {n} "
                                 "(CuPy would wrap it around and pick another element without a word)")


def getitem(x: Tensor, index) -> Tensor:
    """x[index]: slices, integers, integer arrays and boolean masks (negative steps too, as NumPy; not PyTorch)."""
    if isinstance(index, tuple):
        index = tuple(_data(i) if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, Tensor):
        index = x.xp.asarray(index.data)
    elif isinstance(index, list):  # [] alone would become float64, which NumPy refuses as an index
        index = x.xp.asarray(index, dtype=None if index else x.xp.intp)
    if type(x.data) is not np.ndarray:
        _check_gpu_index(x, index)
    try:
        return _as_view(GetItem.apply(x, index=index), x)
    except IndexError as exc:  # NumPy lists what may be an index; say which part was a float, and the fix
        parts = index if isinstance(index, tuple) else (index,)
        if any(isinstance(i, float) or getattr(getattr(i, "dtype", None), "kind", "") == "f" for i in parts):
            raise IndexError(f"{exc}; this index holds a float: use int(i), or i.astype('int64') for an array "
                             "of positions") from None
        raise


def concatenate(tensors, axis: int = 0, **extra) -> Tensor:
    """Join tensors along an existing axis."""
    if extra:
        _check_extra("concatenate", extra)
    return Concatenate.apply(*_to_join(tensors, "concatenate"), axis=axis)


def stack(tensors, axis: int = 0, **extra) -> Tensor:
    """Join same-shaped tensors along a new axis."""
    if extra:
        _check_extra("stack", extra)
    return Stack.apply(*_to_join(tensors, "stack"), axis=axis)


def _to_join(tensors, op: str) -> list[Tensor]:
    """The tensors to join, lifted; at least one."""
    tensors = list(tensors)
    partner = next((t for t in tensors if isinstance(t, Tensor)), None)
    lifted = [_lift(t, partner) for t in tensors]
    if not lifted:
        raise ShapeError(f"{op}: needs at least one tensor, got an empty sequence")
    return lifted


# --- neural-network ops ---------------------------------------------------------------
def softmax(x: Tensor, axis: int = -1, **extra) -> Tensor:
    """e^x / sum e^x along ``axis``, stable for large logits."""
    if extra:
        _check_extra("softmax", extra)
    return Softmax.apply(_floating(x), axis=axis)


def log_softmax(x: Tensor, axis: int = -1, **extra) -> Tensor:
    """x - logsumexp(x) along ``axis``, stable for large logits."""
    if extra:
        _check_extra("log_softmax", extra)
    return LogSoftmax.apply(_floating(x), axis=axis)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias in one fused op (weight: (out_features, in_features))."""
    if not isinstance(x, Tensor):  # a list or an array as input: a constant tensor where the weight lives
        x = _lift(x, weight)
    if bias is None:
        return Linear.apply(x, weight)
    return Linear.apply(x, weight, bias)


def cross_entropy(logits: Tensor, labels, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of (N, C) logits against N integer labels (fused, stable)."""
    if isinstance(logits, Tensor) and type(logits._ctx) is Softmax:
        warn_after_activation("cross_entropy", "softmax", "applies log-softmax to its input itself, so softmax "
                              "runs twice and the gradients shrink. Pass the raw scores (logits): drop the "
                              "softmax at the end of the model, and apply it only to read probabilities")
    return CrossEntropy.apply(logits, labels=_data(labels), reduction=reduction)


def nll_loss(log_probs: Tensor, labels, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of (N, C) log-probabilities (e.g. from log_softmax) at N integer labels."""
    if isinstance(log_probs, Tensor) and type(log_probs._ctx) is Softmax:
        warn_after_activation("nll_loss", "softmax", "expects log-probabilities, and softmax gives probabilities: "
                              "use log_softmax instead of softmax (or cross_entropy on the raw scores)")
    return NLLLoss.apply(log_probs, labels=_data(labels), reduction=reduction)


def warn_after_activation(loss: str, activation: str, why: str) -> None:
    """A LossInputWarning: ``loss`` was given ``activation``'s output, which the recorded graph shows.

    A classic mistake (a model ending in softmax, trained with cross_entropy):
    nothing fails, training just goes slower or wrong, so it deserves a word.
    Only the graph tells, so it is seen when gradients are being recorded.
    """
    warn_user(f"{loss} got the output of {activation}: {loss} {why}.", LossInputWarning)


def mse_loss(pred: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean squared error: mean((pred - target)^2)."""
    return MSELoss.apply(pred, _lift(target, pred), reduction=reduction)


# --- comparisons (no gradient) -----------------------------------------------------------
def _compare(name: str):
    def compare(a: Tensor, b) -> Tensor:
        try:
            # A list or NumPy array goes where a is, as for the arithmetic ops: CuPy refuses host data.
            return _wrap_result(getattr(a.data, name)(_data(_lift(b, a))))
        except ValueError as exc:  # shapes that do not broadcast: say so as the other ops do
            raise ShapeError(f"{name.strip('_')}: cannot compare shapes {tuple(a.shape)} and "
                             f"{tuple(getattr(b, 'shape', ()))} ({exc})") from None

    compare.__name__ = name
    compare.__doc__ = f"Elementwise comparison ``{name}``: a boolean tensor, not differentiable."
    return compare


def _reflected(fn):
    def reflected(self, other):
        return fn(other, self)

    reflected.__doc__ = f"Reflected {fn.__name__}: other {fn.__name__} self."
    return reflected


def _in_place(op, symbol: str):
    """The operator ``x op= y`` (``x -= lr * g``): an update of x's own memory where no graph needs the old values.

    * Recording (outside ``no_grad()``), x a leaf that requires grad (a weight): refused.
      Writing over it would hide the update from autograd, and the ops that used x
      would compute their gradients from the new values (PyTorch refuses too).
    * Recording, x or y requires grad otherwise: ``x = x op y``, a new tensor, so the
      graph records the op (the name x is rebound; other references keep the old tensor).
    * Otherwise (inside ``no_grad()``, or nothing requires grad): the result is written
      into x's array, in x's dtype and shape, and x itself is returned. This is how
      ``with no_grad(): p -= lr * p.grad`` trains. x's version goes up by one, so a
      backward through an op that used x before then refuses (see ``Tensor``); so do
      the versions of the tensors x is a view of, whose memory this writes too.
    """
    name = f"x {symbol} y"

    def in_place(self: Tensor, other: Any) -> Tensor:
        if is_grad_enabled():
            if self._requires_grad and self._ctx is None:
                raise BackwardError(
                    f"{name} on a leaf tensor that requires grad (shape {tuple(self.shape)}) would change it behind "
                    "autograd's back; update weights inside `with tg.no_grad():` (as in `with tg.no_grad(): "
                    "p -= lr * p.grad`), or let an optimizer do it (tg.optim.SGD(model.parameters(), lr).step())"
                )
            if self._requires_grad or (isinstance(other, Tensor) and other._requires_grad):
                return op(self, other)
        result = op(self, other).data  # the op's checks and messages (shapes, backends) for free
        if result.shape != self.shape:
            raise ShapeError(
                f"{name}: the result has shape {tuple(result.shape)} but x has shape {tuple(self.shape)}; an in-place "
                f"op cannot change a tensor's shape (y may broadcast only to x's shape); write x = x {symbol[:-1]} y "
                "for a new tensor"
            )
        data = self.data
        # NumPy marks a broadcast view read-only; CuPy has no such flag, so look for the zero stride too:
        # many elements in one memory cell, which a GPU would write from many threads at once.
        if not getattr(data.flags, "writeable", True) or any(
                step == 0 and n > 1 for step, n in zip(data.strides, data.shape)):
            raise ArgumentTypeError(
                f"{name}: x is read-only, a broadcast view (expand, broadcast_to) in which many elements share one "
                f"memory cell, or an array handed out read-only; write x = x {symbol[:-1]} y for a new tensor"
            )
        if not np.can_cast(result.dtype, self.dtype, casting="same_kind"):
            raise DTypeError(
                f"{name}: the result is {result.dtype}, which cannot be stored in x's dtype {self.dtype} without "
                f"losing its kind (e.g. fractions in integers); write x = x {symbol[:-1]} y for a new tensor, or "
                "convert x first: x = x.astype('float32')"
            )
        self.data[...] = result
        version = new_version()
        written = self
        while written is not None:  # a view's memory is also that of the tensor it views, and so on up
            written._version = version
            written = getattr(written, "_view_of", None)
        return self

    in_place.__doc__ = f"``{name}``: in place outside the graph, a new tensor inside it (see ``_in_place``)."
    return in_place


# --- Tensor methods and operators ----------------------------------------------------------
_METHODS = {
    "__add__": add, "__radd__": _reflected(add), "__sub__": sub, "__rsub__": _reflected(sub),
    "__mul__": mul, "__rmul__": _reflected(mul), "__truediv__": div, "__rtruediv__": _reflected(div),
    "__pow__": pow, "__rpow__": _reflected(pow), "__matmul__": matmul, "__rmatmul__": _reflected(matmul),
    "__iadd__": _in_place(add, "+="), "__isub__": _in_place(sub, "-="), "__imul__": _in_place(mul, "*="),
    "__itruediv__": _in_place(div, "/="), "__ipow__": _in_place(pow, "**="), "__imatmul__": _in_place(matmul, "@="),
    "__neg__": neg, "__abs__": abs, "__pos__": lambda x: x, "__getitem__": getitem,
    "__lt__": _compare("__lt__"), "__le__": _compare("__le__"), "__gt__": _compare("__gt__"),
    "__ge__": _compare("__ge__"), "__eq__": _compare("__eq__"), "__ne__": _compare("__ne__"),
    "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "neg": neg, "matmul": matmul,
    "exp": exp, "log": log, "sqrt": sqrt, "abs": abs, "relu": relu, "leaky_relu": leaky_relu,
    "sigmoid": sigmoid, "tanh": tanh, "softplus": softplus, "maximum": maximum, "minimum": minimum,
    "clip": clip, "sum": sum, "mean": mean, "var": var, "std": std, "logsumexp": logsumexp, "max": max, "min": min,
    "argmax": argmax, "argmin": argmin, "reshape": reshape, "transpose": transpose, "permute": permute,
    "flatten": flatten, "expand": expand, "broadcast_to": broadcast_to, "squeeze": squeeze,
    "unsqueeze": unsqueeze, "softmax": softmax, "log_softmax": log_softmax, "clone": clone,
}
for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
Tensor.T = property(lambda self: transpose(self), doc="The tensor with its axes reversed.")

__all__ = [name for name in _METHODS if not name.startswith("_")] + [
    "where", "concatenate", "stack", "linear", "cross_entropy", "nll_loss", "mse_loss", "Cast",
    "Abs", "Add", "BroadcastTo", "Clip", "Concatenate", "Copy", "CrossEntropy", "Div", "Exp", "GetItem",
    "LeakyReLU", "Linear", "Log", "LogSoftmax", "MSELoss", "MatMul", "Max", "Maximum", "Mean",
    "Minimum", "Mul", "NLLLoss", "Neg", "Pow", "ReLU", "Reshape", "Sigmoid", "Softmax", "Softplus", "Sqrt",
    "Stack", "Sub", "Sum", "Tanh", "Transpose", "Where",
]
