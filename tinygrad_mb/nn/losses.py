"""Loss functions: how far the predictions are from the targets, as one number to minimise.

* ``mse_loss``: mean of (pred - target)^2, for regression.
* ``cross_entropy``: -log softmax(logits)[label], for classification with C
  classes and integer labels 0..C-1.
* ``binary_cross_entropy_with_logits``: -[y log s(x) + (1 - y) log(1 - s(x))]
  with s the sigmoid, for yes/no targets, computed from the logit x directly.

Each takes ``reduction``: ``"mean"`` (default), ``"sum"`` or ``"none"`` (one
loss per element/sample). The targets are checked first, so a wrong label type
or range fails with a message that says how to fix it instead of producing a
silently wrong loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_mb import backend, ops
from tinygrad_mb.errors import HyperparameterError, LabelError, ShapeError
from tinygrad_mb.nn.module import Module
from tinygrad_mb.ops.elementwise import Sigmoid
from tinygrad_mb.ops.linalg import check_reduction
from tinygrad_mb.tensor import Function, Tensor


def _target_array(target: Any, like: Tensor) -> Any:
    """The raw target array on ``like``'s backend (lists and NumPy arrays accepted)."""
    data = target.data if isinstance(target, Tensor) else target
    if not hasattr(data, "dtype"):
        data = np.asarray(data)
    if backend.backend_of(data) != like.backend:
        data = backend.to_backend(data, like.backend)
    return data


def _reduce(losses: Any, reduction: str) -> Any:
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


# --- regression ---------------------------------------------------------------------------
def mse_loss(pred: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error: mean over all elements of (pred - target)^2 (fused op).

    ``pred`` and ``target`` must have the same shape: a (N, 1) prediction against
    a (N,) target would otherwise broadcast to an (N, N) matrix of wrong pairs.
    The fused op checks the reduction.
    """
    if not isinstance(target, Tensor):
        target = Tensor(_target_array(target, pred), backend=pred.backend)  # where pred is, in its own dtype
    given_integers = target.dtype.kind in "iu"  # class labels, most likely (see the shape check)
    if target.dtype != pred.dtype:
        target = target.astype(pred.dtype)
    if tuple(target.shape) != tuple(pred.shape):
        if given_integers and pred.ndim == 2 and pred.shape[1] > 1 and tuple(target.shape) == pred.shape[:1]:
            hint = ("the targets are integer class labels: for classification use nn.functional.cross_entropy "
                    "(nn.CrossEntropyLoss), which takes (N, C) logits and N labels")
        elif pred.ndim == target.ndim == 2 and pred.shape[0] == target.shape[0]:
            hint = (f"the model gives {pred.shape[1]} output(s) per sample and the targets have "
                    f"{target.shape[1]}; give the last layer out_features={target.shape[1]}")
        else:
            hint = "reshape one of them, e.g. pred.reshape(-1) for a (N, 1) prediction and (N,) targets"
        raise ShapeError(
            f"mse_loss: prediction shape {tuple(pred.shape)} differs from target shape {tuple(target.shape)}; {hint}"
        )
    return ops.mse_loss(pred, target, reduction=reduction)


# --- classification -----------------------------------------------------------------------
def cross_entropy(logits: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy: loss_i = logsumexp(z_i) - z_i[y_i] for logits z (N, C), labels y (N,).

    Uses the core's fused, numerically stable op, whose gradient is
    dL/dz_i = softmax(z_i) - onehot(y_i) (divided by N for the mean).

    Args:
        logits: (N, C) unnormalised scores (no softmax before this!).
        target: (N,) integer class indices in [0, C): a Tensor, NumPy/CuPy array or list.
        reduction: "mean", "sum" or "none".

    Raises:
        LabelError: labels are not integers, have the wrong shape, or are out of range.
    """
    # The fused op checks the reduction, the logits' shape and the labels (ops.linalg.check_labels).
    return ops.cross_entropy(logits, _target_array(target, logits), reduction=reduction)


def nll_loss(log_probs: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood: loss_i = -log_probs_i[y_i] for (N, C) log-probabilities and labels y (N,).

    ``nll_loss(log_softmax(z, axis=1), y)`` is ``cross_entropy(z, y)``, in two
    ops instead of one fused op; the gradient is -onehot(y_i) (divided by N for
    the mean). Give it log-probabilities, not probabilities or raw logits.

    Raises:
        LabelError: labels are not integers, have the wrong shape, or are out of range.
    """
    return ops.nll_loss(log_probs, _target_array(target, log_probs), reduction=reduction)


class BCEWithLogitsFn(Function):
    """loss = max(x, 0) - x*y + log(1 + e^-|x|): binary cross-entropy of sigmoid(x) vs y, without overflow.

    Derivation: -[y log s + (1-y) log(1-s)] with s = 1/(1+e^-x) simplifies to
    log(1 + e^x) - x*y, and log(1 + e^x) = max(x, 0) + log(1 + e^-|x|) keeps
    every exponent <= 0.   dL/dx = sigmoid(x) - y,   dL/dy = -x.
    """

    def forward(self, x, y, reduction="mean"):
        """The stable per-element loss, reduced."""
        xp = backend.array_module(x)
        e = xp.exp(-xp.abs(x))  # in (0, 1]: never overflows
        self.sigmoid = xp.where(x >= 0, 1, e) / (1 + e)
        self.x, self.y, self.reduction = x, y, reduction
        return _reduce(xp.maximum(x, 0) - x * y + xp.log1p(e), reduction)

    def backward(self, g):
        """dL/dx = (sigmoid(x) - y) g,  dL/dy = -x g  (g divided by the count for the mean)."""
        if self.reduction == "mean":
            g = g / self.x.size
        return (self.sigmoid - self.y) * g, -self.x * g


def binary_cross_entropy_with_logits(logits: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of sigmoid(logits) against targets in [0, 1], stable for any logit.

    Args:
        logits: raw scores, any shape (no sigmoid before this!).
        target: same shape, values in [0, 1] (0/1 labels or probabilities).
        reduction: "mean", "sum" or "none".

    Raises:
        ShapeError: target and logits differ in shape.
        LabelError: a target lies outside [0, 1].
    """
    check_reduction(reduction, "binary_cross_entropy_with_logits")
    if isinstance(logits, Tensor) and type(logits._ctx) is Sigmoid:
        ops.warn_after_activation(
            "binary_cross_entropy_with_logits", "sigmoid", "applies the sigmoid itself, so it runs twice and "
            "the predictions squeeze into (0.5, 0.73). Pass the raw scores: drop the sigmoid at the end of the "
            "model, and apply it only to read probabilities")
    if isinstance(target, Tensor) and target.requires_grad:
        y = target if target.dtype == logits.dtype else target.astype(logits.dtype)
    else:
        y = Tensor._wrap(_target_array(target, logits).astype(logits.dtype, copy=False))
    if tuple(y.shape) != tuple(logits.shape):
        raise ShapeError(
            f"binary_cross_entropy_with_logits: logits shape {tuple(logits.shape)} differs from target shape "
            f"{tuple(y.shape)}; reshape one of them, e.g. logits.reshape(-1) for (N, 1) logits and (N,) targets"
        )
    if y.size and backend.sync_checks_enabled(y.data) and (float(y.data.min()) < 0 or float(y.data.max()) > 1):
        raise LabelError(
            f"binary_cross_entropy_with_logits: targets must lie in [0, 1], got values from "
            f"{float(y.data.min())} to {float(y.data.max())}; for -1/+1 labels use (y + 1) / 2"
        )
    return BCEWithLogitsFn.apply(logits, y, reduction=reduction)


# --- as modules ---------------------------------------------------------------------------------
class _Loss(Module):
    """A loss as a module: holds the reduction, checked once here for every loss (named after the subclass)."""

    def __init__(self, reduction: str = "mean", *misplaced: Any):
        name = type(self).__name__
        if misplaced or hasattr(reduction, "shape"):  # nn.MSELoss(pred, y): the class given the data
            raise HyperparameterError(
                f"{name}(...) was given tensors, but {name} is a class: make the loss once, "
                f"loss_fn = nn.{name}(), then call it on the data, loss_fn(outputs, targets)"
            )
        check_reduction(reduction, name)
        super().__init__()
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Module form of :func:`mse_loss`: ``MSELoss()(pred, target)``."""

    def forward(self, pred: Tensor, target: Any) -> Tensor:
        return mse_loss(pred, target, self.reduction)


class CrossEntropyLoss(_Loss):
    """Module form of :func:`cross_entropy`: ``CrossEntropyLoss()(logits, labels)``."""

    def forward(self, logits: Tensor, target: Any) -> Tensor:
        return cross_entropy(logits, target, self.reduction)


class NLLLoss(_Loss):
    """Module form of :func:`nll_loss`: ``NLLLoss()(log_probs, labels)``, e.g. after ``nn.LogSoftmax()``."""

    def forward(self, log_probs: Tensor, target: Any) -> Tensor:
        return nll_loss(log_probs, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Module form of :func:`binary_cross_entropy_with_logits`."""

    def forward(self, logits: Tensor, target: Any) -> Tensor:
        return binary_cross_entropy_with_logits(logits, target, self.reduction)
