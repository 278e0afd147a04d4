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

This is also why batch normalisation and pure SGD (batch size 1) do not mix:
with m = 1 there is no variance to estimate.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np

from tinygrad_mb.backend import array_module
from tinygrad_mb.errors import HyperparameterError, ShapeError
from tinygrad_mb.nn.module import Module, Parameter
from tinygrad_mb.tensor import Function, Tensor


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
    place; otherwise normalises with the running statistics.
    """
    if x.ndim not in (2, 3):
        raise ShapeError(f"batch_norm: input must be (N, C) or (N, C, L), got shape {tuple(x.shape)}")
    if (running_mean is None) != (running_var is None):
        raise HyperparameterError(
            "batch_norm: running_mean and running_var must both be given or both be None, got "
            f"running_mean={'None' if running_mean is None else 'a tensor'} and "
            f"running_var={'None' if running_var is None else 'a tensor'}"
        )
    use_batch = training or running_mean is None
    if use_batch:
        axes = (0,) if x.ndim == 2 else (0, 2)
        m = x.size // x.shape[1]
        if m < 2:
            raise ShapeError(
                f"batch_norm in training mode needs more than one value per feature, got input shape "
                f"{tuple(x.shape)}; use a batch size >= 2, or call model.eval() to use the running statistics"
            )
        mean, var = x.data.mean(axis=axes), x.data.var(axis=axes)
        if training and running_mean is not None:
            # In place, so the buffers stay the same arrays; unbiased variance like PyTorch.
            running_mean.data *= 1 - momentum
            running_mean.data += momentum * mean
            running_var.data *= 1 - momentum
            running_var.data += (momentum * m / (m - 1)) * var
    else:
        mean, var = running_mean.data, running_var.data
    return BatchNormFn.apply(x, weight, bias, mean=mean, var=var, eps=eps, training=use_batch)


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


class BatchNorm1d(Module):
    """Batch normalisation over (N, C) or (N, C, L) input, per feature C.

    Args:
        num_features: C.
        eps: added to the variance for stability (default 1e-5).
        momentum: weight of the newest batch in the running statistics (default 0.1).
        affine: learn gamma (``weight``, init 1) and beta (``bias``, init 0) (default True).
        track_running_stats: keep ``running_mean`` (init 0) and ``running_var`` (init 1)
            buffers and use them in eval mode (default True); if False, batch
            statistics are used in both modes.
        dtype, backend: of the parameters and buffers (default float32, current backend).
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype: Any = "float32", backend: str | None = None):
        super().__init__()
        if not isinstance(num_features, (int, np.integer)) or num_features < 1:
            raise HyperparameterError(f"BatchNorm1d: num_features must be a positive int, got {num_features!r}")
        if not _is_number(eps) or not eps > 0:
            raise HyperparameterError(f"BatchNorm1d: eps must be a number > 0, got {eps!r}")
        if momentum is None:  # PyTorch's switch to a cumulative average of all batches
            raise HyperparameterError(
                "BatchNorm1d: momentum=None (a cumulative average, in PyTorch) is not supported; "
                "pass a number in [0, 1], e.g. the default 0.1"
            )
        if not _is_number(momentum) or not 0 <= momentum <= 1:
            raise HyperparameterError(f"BatchNorm1d: momentum must be a number in [0, 1], got {momentum!r}")
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), float(momentum)
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
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ShapeError(
                f"BatchNorm1d({self.num_features}): expected input (N, {self.num_features}) or "
                f"(N, {self.num_features}, L), got shape {tuple(x.shape)}"
            )
        return batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                          training=self.training or not self.track_running_stats,
                          momentum=self.momentum, eps=self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")
