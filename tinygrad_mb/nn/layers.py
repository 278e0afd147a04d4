"""Layers: Linear, the activations, Flatten and Dropout.

(Convolution and pooling live in :mod:`tinygrad_mb.nn.conv`, batch
normalisation in :mod:`tinygrad_mb.nn.normalization`.)
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import numpy as np

from tinygrad_mb import ops
from tinygrad_mb.backend import as_rng
from tinygrad_mb.errors import HyperparameterError, ShapeError
from tinygrad_mb.nn import functional as F
from tinygrad_mb.nn import init
from tinygrad_mb.nn.module import Module, Parameter
from tinygrad_mb.tensor import Tensor

Seed = int | np.random.Generator | None


class Linear(Module):
    """Fully connected layer: y = x W^T + b, with W (out_features, in_features) as in PyTorch.

    Defaults, as in PyTorch: W and b are drawn from U(-1/sqrt(in_features),
    1/sqrt(in_features)) -- that is ``kaiming_uniform_(W, a=sqrt(5))``, whose
    gain sqrt(2/(1+5)) = sqrt(1/3) turns the bound sqrt(3)*gain/sqrt(fan_in)
    into 1/sqrt(fan_in). Use :mod:`tinygrad_mb.nn.init` to pick another scheme.

    Args:
        in_features, out_features: sizes of x's last axis and of y's.
        bias: learn b (default True).
        seed: int or numpy Generator for the initial weights (W first, then b);
            None draws fresh entropy. Pass one Generator to several layers to
            seed a whole network from one number.
        dtype: of the parameters (default float32; float64 for gradcheck).
        backend: "numpy" or "cupy" (default: the current backend). The values
            are drawn on the CPU either way, so both backends start identical.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, seed: Seed = None,
                 dtype: Any = "float32", backend: str | None = None):
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise HyperparameterError(f"Linear: {name} must be a positive int, got {value!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        rng = as_rng(seed)
        # Stored column-major: the shape is PyTorch's (out, in), but in memory W.T is
        # a contiguous (in, out) matrix, the layout BLAS multiplies fastest in x @ W.T.
        weight = np.empty((self.out_features, self.in_features), dtype=dtype, order="F")
        self.weight = Parameter(weight, backend=backend)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), seed=rng)
        if bias:
            self.bias = Parameter(np.empty(self.out_features, dtype=dtype), backend=backend)
            bound = 1.0 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound, seed=rng)
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        try:  # costs nothing unless it raises
            return ops.linear(x, self.weight, self.bias)
        except ShapeError as exc:
            fix = self._shape_fix(x)
            if fix is None:  # not the width of the input: the op's own message says it all
                raise
            raise ShapeError(f"{exc}; {fix}") from None

    def _shape_fix(self, x: Any) -> str | None:
        """How to fix an input whose last axis is not ``in_features`` wide (None if it is)."""
        shape = tuple(np.shape(x.data if isinstance(x, Tensor) else x))
        if not shape or shape[-1] == self.in_features:
            return None
        if len(shape) > 2 and math.prod(shape[1:]) == self.in_features:
            return (f"the input {shape} is not flattened: put nn.Flatten() before this layer, "
                    f"or pass x.reshape({shape[0]}, -1)")
        if len(shape) > 2:
            return (f"Linear acts on the last axis only; flatten the input first (nn.Flatten() or "
                    f"x.reshape({shape[0]}, -1)) and give this layer in_features={math.prod(shape[1:])}")
        features = shape[-1]
        return (f"give this layer in_features={features} (nn.Linear({features}, {self.out_features})), "
                f"or pass inputs with {self.in_features} features on their last axis")

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class ReLU(Module):
    """max(x, 0), elementwise.

    ``inplace`` is taken for PyTorch's ``nn.ReLU(inplace=True)`` and ignored: the values are the same,
    and ops here always make a new array (saving memory by overwriting the input is PyTorch's concern).
    """

    def __init__(self, inplace: bool = False):
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return ops.relu(x)


class LeakyReLU(Module):
    """x for x > 0, negative_slope * x otherwise (default slope 0.01)."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):  # inplace: ignored, as for ReLU
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        return ops.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    """1 / (1 + e^-x), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return ops.sigmoid(x)


class Tanh(Module):
    """tanh x, elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return ops.tanh(x)


class Softmax(Module):
    """Softmax along ``dim`` (default -1). For training, feed logits to CrossEntropyLoss instead."""

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = F._softmax_dim(dim, type(self).__name__)

    def forward(self, x: Tensor) -> Tensor:
        return ops.softmax(x, axis=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log softmax along ``dim`` (default -1), stable."""

    def forward(self, x: Tensor) -> Tensor:
        return ops.log_softmax(x, axis=self.dim)


class Identity(Module):
    """Returns its input (a placeholder layer)."""

    def forward(self, x: Tensor) -> Tensor:
        return x


class Flatten(Module):
    """Merge axes start_dim..end_dim (default: all but the batch axis): (N, C, H, W) -> (N, C*H*W)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return ops.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Inverted dropout with probability ``p`` in training mode; the identity in eval mode.

    Each element is zeroed with probability p and the survivors are scaled by
    1/(1-p), so the expected output equals the input and eval needs no
    rescaling. The layer owns a Generator made from ``seed``: a fixed seed gives
    the same *sequence* of masks on every run.
    """

    def __init__(self, p: float = 0.5, seed: Seed = None):
        super().__init__()
        if not isinstance(p, Real) or isinstance(p, bool) or not 0 <= p <= 1:
            raise HyperparameterError(f"Dropout: p must be a number in [0, 1], got {p!r}")
        self.p = float(p)
        self.rng = as_rng(seed)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, seed=self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"
