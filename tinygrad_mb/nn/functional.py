"""Stateless building blocks: ``import tinygrad_mb.nn.functional as F``.

Layers (:mod:`tinygrad_mb.nn.layers`) hold weights and call these; use the
functions directly when you manage the weights yourself::

    h = F.relu(F.linear(x, W1, b1))
    loss = F.cross_entropy(F.linear(h, W2, b2), y)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_mb import backend, ops
from tinygrad_mb.errors import DTypeError, HyperparameterError
from tinygrad_mb.nn.conv import conv2d, max_pool2d
from tinygrad_mb.nn.losses import binary_cross_entropy_with_logits, cross_entropy, mse_loss, nll_loss
from tinygrad_mb.nn.normalization import batch_norm
from tinygrad_mb.tensor import Tensor


def relu(x: Tensor) -> Tensor:
    """max(x, 0);  derivative 1 for x > 0, else 0."""
    return ops.relu(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope * x otherwise (keeps a small gradient for x < 0)."""
    return ops.leaky_relu(x, negative_slope)


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + e^-x);  derivative s(1 - s)."""
    return ops.sigmoid(x)


def tanh(x: Tensor) -> Tensor:
    """tanh x;  derivative 1 - tanh^2 x."""
    return ops.tanh(x)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """e^x_i / sum_j e^x_j along ``dim`` (stable: the max is subtracted first)."""
    return ops.softmax(x, axis=_softmax_dim(dim, "softmax"))


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """x_i - log sum_j e^x_j along ``dim`` (stable)."""
    return ops.log_softmax(x, axis=_softmax_dim(dim, "log_softmax"))


def _softmax_dim(dim: Any, name: str) -> Any:
    """``dim``, unless it is None: HyperparameterError then, since rows would no longer sum to 1.

    The core op follows NumPy, where ``axis=None`` means every element at once;
    old PyTorch code passes ``dim=None`` meaning "pick the class axis".
    """
    if dim is None:
        raise HyperparameterError(
            f"{name}: dim=None would normalise over every element of the tensor at once, not over each row; "
            "name the class axis, e.g. dim=-1 (or dim=1 for (N, C) logits)"
        )
    return dim


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight^T + bias, weight (out_features, in_features): the core's fused op."""
    return ops.linear(x, weight, bias)


def dropout_mask(shape: tuple[int, ...], p: float, seed: int | np.random.Generator | None,
                 dtype: Any = "float32", backend_name: str = backend.NUMPY) -> Any:
    """The inverted-dropout multiplier: 0 with probability p, else 1/(1-p); drawn on the CPU."""
    keep = backend.as_rng(seed).random(shape) >= p
    mask = keep.astype(dtype) * np.asarray(1.0 / (1.0 - p), dtype=dtype)
    return backend.to_backend(mask, backend_name)


def dropout(x: Tensor, p: float = 0.5, training: bool = True, seed: int | np.random.Generator | None = None) -> Tensor:
    """Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p).

    The scaling keeps E[output] = input, so nothing changes at evaluation time,
    when (``training=False``) the input passes through untouched. The mask is
    drawn on the CPU from ``seed`` (an int gives the same mask every call; pass a
    Generator for fresh masks), so NumPy and CuPy drop the same elements.
    dL/dx = mask * dL/dout.
    """
    if not 0 <= p <= 1:
        raise HyperparameterError(f"dropout: p must be in [0, 1], got {p}")
    if not isinstance(x, Tensor):  # a NumPy array or list, as Linear and the activations accept
        x = Tensor(x)
    if x.dtype.kind not in "fc":  # 1/(1-p) would be cut to an integer: 1, whatever p
        raise DTypeError(f"dropout: needs a floating-point tensor, got dtype {x.dtype}; use x.astype('float32')")
    if not training or p == 0:
        return x
    if p == 1:  # everything dropped; 1/(1-p) would divide by zero
        return x * 0.0
    mask = dropout_mask(x.shape, p, seed, x.dtype, x.backend)
    return x * Tensor._wrap(mask)


__all__ = [
    "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax", "linear", "conv2d", "max_pool2d",
    "dropout", "dropout_mask", "batch_norm", "mse_loss", "cross_entropy", "nll_loss",
    "binary_cross_entropy_with_logits",
]


def __getattr__(name: str) -> Any:
    """PyTorch's name for a loss this module has in another, stable form: say which to use."""
    if name == "binary_cross_entropy":
        raise AttributeError(
            "nn.functional has no binary_cross_entropy (on probabilities); drop the sigmoid at the end of the "
            "model and use binary_cross_entropy_with_logits(logits, target), which is the same loss, computed "
            "stably from the logits"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

