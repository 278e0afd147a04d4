"""Matrix products, softmax and the fused ops neural networks spend their time in.

``linear`` and ``cross_entropy`` could be built from primitives (matmul, add,
exp, sum, log, indexing); they are fused here because they run on every
training step: one fused op is one Python call instead of half a dozen, and
the fused log-softmax is also the numerically stable way to compute it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_mb import backend
from tinygrad_mb.backend import array_module
from tinygrad_mb.errors import HyperparameterError, LabelError, ShapeError
from tinygrad_mb.tensor import Function

REDUCTIONS = ("mean", "sum", "none")
_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}  # same-size unsigned type, by itemsize


def _swap(m):
    """Transpose the last two axes (the matrix transpose of a batch of matrices)."""
    return m.swapaxes(-1, -2)


class MatMul(Function):
    """out = a @ b (NumPy's matmul: 1-D, 2-D and batched);   dL/da = g @ b^T,  dL/db = a^T @ g.

    A 1-D operand is treated as a row (for ``a``) or column (for ``b``) vector,
    as NumPy does, and that extra axis is removed again in backward.
    """

    def forward(self, a, b):
        self.a, self.b = a, b
        if a.ndim == 2 and b.ndim == 2:
            return a.dot(b)  # np.dot is much faster than matmul for skinny BLAS calls
        return array_module(a).matmul(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        xp = array_module(g)
        if a.ndim == 1 and b.ndim == 1:  # dot product: out = sum_i a_i b_i
            return g * b, g * a
        a2 = a[None, :] if a.ndim == 1 else a  # (.., n, k)
        b2 = b[:, None] if b.ndim == 1 else b  # (.., k, m)
        g2 = g
        if a.ndim == 1:
            g2 = g2[..., None, :]
        if b.ndim == 1:
            g2 = g2[..., None]
        if a2.ndim == 2 and b2.ndim == 2:
            ga, gb = g2.dot(b2.T), a2.T.dot(g2)
        else:
            ga, gb = xp.matmul(g2, _swap(b2)), xp.matmul(_swap(a2), g2)
        if a.ndim == 1:
            ga = ga[..., 0, :]
        if b.ndim == 1:
            gb = gb[..., 0]
        return ga, gb


class Linear(Function):
    """out = x W^T + b with W of shape (out_features, in_features), as in PyTorch.

    dL/dx = g W,   dL/dW = g^T x,   dL/db = sum of g over the batch.
    Inputs with more than two axes are flattened to (batch, in_features) first.
    A bias of another shape that broadcasts, e.g. (1, out_features), works as in PyTorch.
    """

    def forward(self, x, weight, bias=None):
        if x.shape[-1] != weight.shape[1]:
            raise ShapeError(
                f"linear: input has {x.shape[-1]} features (shape {x.shape}) but weight expects "
                f"{weight.shape[1]} (weight shape {weight.shape})"
            )
        self.x_shape = x.shape
        self.x = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
        self.weight, self.has_bias = weight, bias is not None
        self.bias_is_vector = getattr(bias, "ndim", 0) == 1
        out = self.x.dot(weight.T)
        if bias is not None:
            out += bias  # in place: out is a fresh array
        return out.reshape(*self.x_shape[:-1], weight.shape[0]) if x.ndim != 2 else out

    def backward(self, g):
        g2 = g.reshape(-1, g.shape[-1]) if g.ndim != 2 else g
        gx = None
        if self.needs_input_grad(0):  # the input batch usually needs none: skip a whole matmul
            gx = g2.dot(self.weight)
            gx = gx.reshape(self.x_shape) if len(self.x_shape) != 2 else gx
        gw = None
        if self.needs_input_grad(1):
            weight = self.weight
            layout = weight.flags  # a new object at every ``.flags``: read it once
            if layout.f_contiguous and not layout.c_contiguous and self.x.dtype == g2.dtype == weight.dtype:
                # A column-major weight (nn.Linear's) gets a column-major gradient, written
                # straight into place: W -= lr * dW is then a plain contiguous sweep.
                gw = array_module(g2).empty(weight.shape, dtype=g2.dtype, order="F")
                self.x.T.dot(g2, out=gw.T)
            else:
                gw = g2.T.dot(self.x)
        if self.has_bias:
            # The usual (out_features,) bias: g summed over the batch. Any other bias shape that broadcast
            # in forward gets g as it is, and the engine sums it to that shape.
            return gx, gw, g2.sum(axis=0) if self.bias_is_vector else g2
        return gx, gw


class Softmax(Function):
    """s = e^(x - max x) / sum e^(x - max x) along ``axis``.

    dL/dx = s * (g - sum(g * s)):  the Jacobian diag(s) - s s^T applied to g.
    Subtracting the max changes nothing mathematically and keeps e^... <= 1.
    """

    def forward(self, x, axis=-1):
        xp = array_module(x)
        if x.size == 0:  # the softmax of no numbers is no numbers (and an empty axis has no max)
            self.s, self.axis = xp.empty_like(x), axis
            return self.s
        e = xp.exp(x - x.max(axis=axis, keepdims=True))
        self.s, self.axis = e / e.sum(axis=axis, keepdims=True), axis
        return self.s

    def backward(self, g):
        s = self.s
        return s * (g - (g * s).sum(axis=self.axis, keepdims=True))


def _log_softmax(x, axis):
    """log s = (x - m) - log sum e^(x - m), m = max x: stable for logits of any size."""
    xp = array_module(x)
    if x.size == 0:  # no numbers, nothing to normalise (and an empty axis has no max)
        return xp.empty_like(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


class LogSoftmax(Function):
    """out = x - logsumexp(x) along ``axis``;   dL/dx = g - softmax(x) * sum(g)."""

    def forward(self, x, axis=-1):
        self.out, self.axis = _log_softmax(x, axis), axis
        return self.out

    def backward(self, g):
        return g - array_module(g).exp(self.out) * g.sum(axis=self.axis, keepdims=True)


def check_reduction(reduction: str, loss: str) -> None:
    """HyperparameterError unless ``reduction`` is "mean", "sum" or "none"."""
    if not isinstance(reduction, str):  # ``in`` would compare an array elementwise and fail with NumPy's words
        raise HyperparameterError(
            f"{loss}: reduction must be one of {list(REDUCTIONS)}, got an object of type {type(reduction).__name__}; "
            "the third positional argument is the reduction here (PyTorch's weight= for classes is not offered): pass "
            "reduction= by name"
        )
    if reduction not in REDUCTIONS:
        raise HyperparameterError(f"{loss}: reduction must be one of {list(REDUCTIONS)}, got {reduction!r}")


def check_labels(labels: Any, logits: Any, op: str = "cross_entropy") -> None:
    """Integer dtype, shape (N,) matching (N, C) logits, values in [0, C): else LabelError.

    Checked before the loss picks z_i[y_i]: a label out of range would otherwise
    pick an entry of another row (or, on CuPy, wrap around) without any error.
    """
    n, c = logits.shape
    if labels.dtype.kind not in "iu":
        _refuse_one_hot(labels, n, c, op)
        regression = " For real-valued targets (regression) use mse_loss instead." if c == 1 else ""
        raise LabelError(
            f"{op}: labels must be integers; got {labels.dtype} — use y.astype(int) "
            f"(labels are class indices 0..C-1, not probabilities).{regression}"
        )
    if labels.ndim != 1 or labels.shape[0] != n:
        _refuse_one_hot(labels, n, c, op)  # integer one-hot labels: the same advice as for float ones
        raise LabelError(
            f"{op}: labels must have shape (N,) = ({n},) to match logits of shape {tuple(logits.shape)}; "
            f"got labels of shape {tuple(labels.shape)} — pass one class index per sample (e.g. y.reshape(-1))"
        )
    if n == 0 or not backend.sync_checks_enabled(labels):  # on a GPU in a training loop: checked once before
        return
    signed, bits = labels.dtype.kind == "i", 8 * labels.dtype.itemsize
    if signed and c > 1 << (bits - 1):
        # More classes than the type's positive range (int8 labels, over 128 classes):
        # no value it holds reaches C, so only a negative label can be out of range.
        out_of_range = labels[labels.argmin()] < 0
    else:
        # One pass instead of min() and max(): read as unsigned, a negative label wraps
        # around to 2^bits - |label| >= 2^(bits-1) >= C, so "max >= C" catches both ends.
        # (The max as the element at argmax: NumPy's argmax is a plain loop, its max() a
        # trip through the general reduction machinery, several times the cost on a small batch.)
        as_unsigned = labels.view(_UNSIGNED[labels.dtype.itemsize]) if signed else labels
        out_of_range = as_unsigned[as_unsigned.argmax()] >= c
    if out_of_range:
        lo, hi = int(labels.min()), int(labels.max())
        hint = " If your labels start at 1, subtract 1." if lo >= 1 and hi == c else ""
        if c == 1:  # a binary problem given one output unit, as for a sigmoid
            raise LabelError(
                f"{op}: the logits have 1 column, one class, but the labels go from {lo} to {hi}; {op} needs "
                f"one output per class: give the last layer out_features={hi + 1}, or, for two classes, keep 1 "
                "output and use binary_cross_entropy_with_logits with float targets of shape (N, 1)"
            )
        raise LabelError(
            f"{op}: labels must lie in [0, {c}) for {c} classes (logits shape {tuple(logits.shape)}); "
            f"got values from {lo} to {hi}. Give the model as many outputs as there are classes, or remap the "
            f"labels to 0..{c - 1}.{hint}"
        )


def _refuse_one_hot(labels: Any, n: int, c: int, op: str) -> None:
    """LabelError if ``labels`` look one-hot, (N, C) like the logits; called only on the way to another error."""
    if labels.ndim == 2 and tuple(labels.shape) == (n, c) and c > 1:
        raise LabelError(
            f"{op}: labels look one-hot (shape {tuple(labels.shape)}, dtype {labels.dtype}); "
            "pass class indices instead, e.g. y.argmax(axis=1)"
        )


def label_entries(xp: Any, scores: Any, labels: Any, op: str, what: str) -> Any:
    """The flat index i * C + y_i of each sample's entry scores[i, y_i], after checking shapes and labels.

    ``take`` and ``put`` with this index count elements row by row, whatever
    the memory layout. ``labels`` may be a host array or a list even when the
    (N, C) ``scores`` live on the GPU; ``xp`` is the scores' array module.
    """
    if scores.ndim != 2:
        raise ShapeError(
            f"{op}: {what} must be (N, C), got shape {tuple(scores.shape)}; "
            "for a single sample use reshape(1, -1)"
        )
    labels = xp.asarray(labels)
    check_labels(labels, scores, op)
    n, c = scores.shape
    if labels.dtype.kind == "u":  # int64 row starts + uint64 labels would give float64, useless as indices
        labels = labels.astype(xp.int64)
    return xp.arange(0, n * c, c) + labels


class CrossEntropy(Function):
    """Mean (or sum, or per-sample) of -log softmax(z)[y] for logits z (N, C) and labels y (N,).

    Fused and stable, with m_i = max_j z_ij and S_i = sum_j e^(z_ij - m_i):

        loss_i = log S_i - (z_i[y_i] - m_i)         (= logsumexp(z_i) - z_i[y_i])
        dL/dz_i = e^(z_i - m_i) / S_i - onehot(y_i)  (= softmax(z_i) - onehot(y_i); / N for the mean)

    Every exponent is <= 0, so nothing overflows, and backward reuses the
    forward's exponentials instead of computing them again.

    The entries z_i[y_i] are picked with one flat index, i * C + y_i (``take``
    and ``put`` count elements row by row, whatever the memory layout): indexing
    with a pair of index arrays, ``z[rows, labels]``, costs about twice as much.
    """

    def forward(self, logits, labels=None, reduction="mean"):
        check_reduction(reduction, "cross_entropy")
        xp = array_module(logits)
        self.picked, self.reduction = label_entries(xp, logits, labels, "cross_entropy", "logits"), reduction
        n = logits.shape[0]
        shifted = logits - logits.max(axis=1, keepdims=True)
        self.exp = xp.exp(shifted)
        self.sums = self.exp.sum(axis=1)
        losses = xp.log(self.sums) - shifted.take(self.picked)
        if reduction == "none":
            return losses
        total = losses.sum()
        return total if reduction == "sum" else total / n

    def backward(self, g):
        grad = self.exp / self.sums[:, None]  # softmax: a fresh array, so the edits below are safe
        picked = self.picked
        grad.put(picked, grad.take(picked) - 1)  # minus the one-hot of the labels
        if self.reduction == "none":
            grad *= g[:, None]
            return grad
        grad *= g / grad.shape[0] if self.reduction == "mean" else g
        return grad


class NLLLoss(Function):
    """Mean (or sum, or per-sample) of -logp_i[y_i] for log-probabilities logp (N, C) and labels y (N,).

        loss_i = -logp_i[y_i]          dL/dlogp_i = -onehot(y_i)  (/ N for the mean)

    Only the picked entries get a gradient. After ``log_softmax`` this is the
    cross-entropy, computed in two ops; :class:`CrossEntropy` fuses the two.
    """

    def forward(self, log_probs, labels=None, reduction="mean"):
        check_reduction(reduction, "nll_loss")
        self.picked = label_entries(array_module(log_probs), log_probs, labels, "nll_loss", "log-probabilities")
        self.shape, self.reduction, n = log_probs.shape, reduction, log_probs.shape[0]
        losses = -log_probs.take(self.picked)
        if reduction == "none":
            return losses
        total = losses.sum()
        return total if reduction == "sum" else total / n

    def backward(self, g):
        xp = array_module(g)
        grad = xp.zeros(self.shape, dtype=g.dtype)
        n = self.shape[0]
        per_sample = -g if self.reduction != "mean" else -g / n  # (N,) for "none", one number otherwise
        grad.put(self.picked, xp.broadcast_to(per_sample, self.picked.shape))
        return grad


class MSELoss(Function):
    """Mean (or sum, or elementwise) of (p - t)^2;   dL/dp = 2 (p - t) (/ n for the mean), dL/dt = -dL/dp."""

    def forward(self, pred, target, reduction="mean"):
        check_reduction(reduction, "mse_loss")
        self.diff, self.reduction = pred - target, reduction
        sq = self.diff * self.diff
        if reduction == "none":
            return sq
        return sq.sum() if reduction == "sum" else sq.mean()

    def backward(self, g):
        grad = 2 * self.diff * g
        if self.reduction == "mean":
            grad = grad / self.diff.size
        return grad, -grad
