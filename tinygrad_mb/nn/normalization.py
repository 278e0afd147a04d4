"""Batch normalisation: standardise each feature over the mini-batch, then rescale.

For a feature with values x_1..x_m in the batch (m = N, or N*L for (N, C, L) input):

    mu = mean(x),  var = mean((x - mu)^2)          (biased: divide by m)
    xhat = (x - mu) / sqrt(var + eps)
    y = gamma * xhat + beta                       (gamma, beta learned per feature)

In training mode mu and var come from the batch, so each output depends on
every input of the batch; in eval mode they are the *running* estimates
collected during training, and the layer is a fixed affine map. The running
variance uses the unbiased batch variance var * m / (m - 1), as PyTorch does:

    running = (1 - momentum) * running + momentum * batch_statistic

With momentum=None the layer uses momentum = 1/k for its k-th training batch
(counted in the ``num_batches_tracked`` buffer): the running statistics are
then the plain average of all batch statistics so far.

This is also why batch normalisation and pure SGD (batch size 1) do not mix:
with m = 1 there is no variance to estimate.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np

from tinygrad_mb.backend import array_module
from tinygrad_mb.errors import ArgumentTypeError, HyperparameterError, ShapeError
from tinygrad_mb.nn.module import Module, Parameter
from tinygrad_mb.tensor import Function, Tensor, new_version


class BatchNormFn(Function):
    """y = gamma * xhat + beta with xhat = (x - mu) / sqrt(var + eps), per feature (axis 1).

    Backward, with s = 1/sqrt(var + eps), m values per feature and dxhat = g * gamma::

        dL/dbeta  = sum g,     dL/dgamma = sum g * xhat
        training (mu, var from this batch):
            dL/dx = s/m * (m * dxhat - sum dxhat - xhat * sum(dxhat * xhat))
        eval (mu, var are constants):
            dL/dx = s * dxhat

    (the sums run over the batch axes). The two extra terms in training come
    from mu and var themselves depending on x.
    """

    def forward(self, x, gamma=None, beta=None, mean=None, var=None, eps=1e-5, training=True):
        """gamma * (x - mean) / sqrt(var + eps) + beta, per feature (axis 1)."""
        self.axes = (0,) if x.ndim == 2 else (0, 2)
        shape = (1, -1) if x.ndim == 2 else (1, -1, 1)
        self.inv_std = (1.0 / array_module(x).sqrt(var + eps)).reshape(shape)
        self.xhat = (x - mean.reshape(shape)) * self.inv_std
        self.gamma = None if gamma is None else gamma.reshape(shape)
        self.training, self.m, self.has_beta = training, x.size // x.shape[1], beta is not None
        out = self.xhat if gamma is None else self.xhat * self.gamma
        return out if beta is None else out + beta.reshape(shape)

    def backward(self, g):
        """The gradients of the class docstring: dL/dx, dL/dgamma and dL/dbeta (None without gamma or beta)."""
        axes, xhat = self.axes, self.xhat
        dxhat = g if self.gamma is None else g * self.gamma
        if self.training:
            dx = (self.inv_std / self.m) * (
                self.m * dxhat - dxhat.sum(axis=axes, keepdims=True)
                - xhat * (dxhat * xhat).sum(axis=axes, keepdims=True)
            )
        else:
            dx = dxhat * self.inv_std
        dgamma = None if self.gamma is None else (g * xhat).sum(axis=axes)
        dbeta = g.sum(axis=axes) if self.has_beta else None
        return dx, dgamma, dbeta


def batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Batch normalisation of (N, C) or (N, C, L) input over all axes but 1 (PyTorch's F.batch_norm).

    In training mode (or when no running statistics are given) normalises with
    the batch statistics and, if running statistics are given, updates them in
    place; otherwise normalises with the running statistics. Everything is
    checked first and the running statistics are written last, so a call that
    fails leaves them as they were.
    """
    if not isinstance(x, Tensor):  # a NumPy array or list, as Linear and the activations accept
        where = weight if weight is not None else running_mean
        x = Tensor(x, backend=getattr(where, "backend", None))
    _check_batch_norm_args(x, running_mean, running_var, weight, bias, momentum, eps)
    use_batch = training or running_mean is None
    if not use_batch:
        return BatchNormFn.apply(x, weight, bias, mean=running_mean.data, var=running_var.data, eps=eps,
                                 training=False)
    axes = (0,) if x.ndim == 2 else (0, 2)
    m = x.size // x.shape[1]
    if m < 2:
        # model.eval() helps only where there are running statistics to fall back on.
        advice = "" if running_mean is None else ", or call model.eval() to use the running statistics"
        raise ShapeError(
            f"batch_norm in training mode needs more than one value per feature, got input shape "
            f"{tuple(x.shape)}; use a batch size >= 2{advice}"
        )
    mean, var = x.data.mean(axis=axes), x.data.var(axis=axes)
    out = BatchNormFn.apply(x, weight, bias, mean=mean, var=var, eps=eps, training=True)
    if training and running_mean is not None:
        # Only now that the op succeeded; in place, so the buffers stay the same arrays.
        # The running variance is unbiased (var * m / (m - 1)), like PyTorch's.
        running_mean.data[...] = (1 - momentum) * running_mean.data + momentum * mean
        running_var.data[...] = (1 - momentum) * running_var.data + (momentum * m / (m - 1)) * var
        # In-place writes: a graph that used the old values refuses backward (see Tensor).
        running_mean._version = running_var._version = new_version()
    return out


def _check_batch_norm_args(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
                           weight: Tensor | None, bias: Tensor | None, momentum: Any, eps: Any) -> None:
    """Every check of batch_norm, before anything is computed or written."""
    if x.ndim not in (2, 3):
        raise ShapeError(f"batch_norm: input must be (N, C) or (N, C, L), got shape {tuple(x.shape)}")
    if (running_mean is None) != (running_var is None):
        raise HyperparameterError(
            "batch_norm: running_mean and running_var must both be given or both be None, got "
            f"running_mean={'None' if running_mean is None else 'a tensor'} and "
            f"running_var={'None' if running_var is None else 'a tensor'}"
        )
    if not _is_number(momentum) or not 0 <= momentum <= 1:
        raise HyperparameterError(
            f"batch_norm: momentum must be a number in [0, 1], got {momentum!r}; for a cumulative average "
            "pass 1 / k for the k-th batch (what BatchNorm1d(momentum=None) does)"
        )
    if not _is_number(eps) or not eps > 0:
        raise HyperparameterError(f"batch_norm: eps must be a number > 0, got {eps!r}")
    c = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is None:
            continue
        if name.startswith("running") and not isinstance(t, Tensor):  # updated in place through .data
            raise ArgumentTypeError(f"batch_norm: {name} must be a Tensor or None, got a {type(t).__name__}; wrap it: "
                            f"Tensor(...)")
        shape = tuple(getattr(t, "shape", ()))
        if shape != (c,):
            raise ShapeError(
                f"batch_norm: {name} has shape {shape}, expected ({c},): one value per feature of the "
                f"input of shape {tuple(x.shape)}"
            )


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


class BatchNorm1d(Module):
    """Batch normalisation over (N, C) or (N, C, L) input, per feature C.

    Args:
        num_features: C.
        eps: added to the variance for stability (default 1e-5).
        momentum: weight of the newest batch in the running statistics (default 0.1); None
            for a cumulative average (weight 1/k for the k-th training batch).
        affine: learn gamma (``weight``, init 1) and beta (``bias``, init 0) (default True).
        track_running_stats: keep ``running_mean`` (init 0) and ``running_var`` (init 1)
            buffers and use them in eval mode (default True), and count the training
            batches in ``num_batches_tracked`` (an int64 0-d buffer, as in PyTorch); if False,
            batch statistics are used in both modes.
        dtype, backend: of the parameters and buffers (default float32, current backend).
    """

    keys_added_later = ("num_batches_tracked",)  # state dicts saved before 2026-12-03 lack it

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype: Any = "float32", backend: str | None = None):
        super().__init__()
        if not isinstance(num_features, (int, np.integer)) or num_features < 1:
            raise HyperparameterError(f"BatchNorm1d: num_features must be a positive int, got {num_features!r}")
        if not _is_number(eps) or not eps > 0:
            raise HyperparameterError(f"BatchNorm1d: eps must be a number > 0, got {eps!r}")
        # None is PyTorch's switch to a cumulative average of all batches (momentum 1/k for batch k).
        if momentum is not None and (not _is_number(momentum) or not 0 <= momentum <= 1):
            raise HyperparameterError(
                f"BatchNorm1d: momentum must be a number in [0, 1] or None (a cumulative average), got {momentum!r}"
            )
        self.num_features, self.eps = int(num_features), float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dtype), backend=backend)
            self.bias = Parameter(np.zeros(num_features, dtype=dtype), backend=backend)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=dtype), backend=backend))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=dtype), backend=backend))
            # An integer count (PyTorch's key, so state dicts match); Module.to never casts integer buffers.
            self.register_buffer("num_batches_tracked", Tensor(np.zeros((), dtype=np.int64), backend=backend))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):  # a NumPy array or list, as Linear and the activations accept
            x = Tensor(x, backend=self.running_mean.backend if self.track_running_stats else None)
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ShapeError(
                f"BatchNorm1d({self.num_features}): expected input (N, {self.num_features}) or "
                f"(N, {self.num_features}, L), got shape {tuple(x.shape)}"
            )
        counting = self.training and self.num_batches_tracked is not None
        momentum = self.momentum
        if momentum is None:  # cumulative average: this batch is batch number k = count + 1
            momentum = 1.0 / (int(self.num_batches_tracked.data) + 1) if counting else 0.0
        out = batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                         training=self.training or not self.track_running_stats, momentum=momentum, eps=self.eps)
        if counting:  # after batch_norm succeeded: a failed call counts no batch
            self.num_batches_tracked.data += 1
            self.num_batches_tracked._version = new_version()
        return out

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")
