"""Weight initialisers: fill a tensor in place, PyTorch's names and formulas.

Why initialisation matters: in a deep network each layer multiplies the signal
by its weights. If their scale is too small the activations (and gradients)
shrink layer after layer; too large and they blow up. The schemes below pick
the scale from the layer's *fan* (how many inputs feed one unit, ``fan_in``,
or how many units one input feeds, ``fan_out``):

* Xavier/Glorot (tanh, sigmoid):  Var(w) = gain^2 * 2 / (fan_in + fan_out)
* Kaiming/He (ReLU):              Var(w) = gain^2 / fan

A uniform U(-b, b) has variance b^2/3, so the uniform variants use
b = sqrt(3) * std.

Every random initialiser takes ``seed`` (an int, a ``numpy.random.Generator``
or None). The numbers are drawn on the CPU in float64 and then copied into the
tensor (cast to its dtype, moved to its backend), so the same seed gives the
same weights on NumPy and on CuPy. Nothing touches NumPy's global random state.
"""

from __future__ import annotations

import math

import numpy as np

from tinygrad_mb import backend
from tinygrad_mb.errors import HyperparameterError
from tinygrad_mb.tensor import Tensor

Seed = int | np.random.Generator | None


def _fill(tensor: Tensor, values: np.ndarray | float) -> Tensor:
    """Write ``values`` into ``tensor.data`` in place (cast and moved as needed)."""
    if isinstance(values, np.ndarray):
        values = backend.to_backend(values.astype(tensor.dtype, copy=False), tensor.backend)
    tensor.data[...] = values
    return tensor


def calculate_fan_in_and_fan_out(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of ``shape``, in PyTorch's layout.

    Linear (out, in): fan_in = in, fan_out = out. Conv (out_c, in_c, kh, kw):
    each output sees in_c*kh*kw inputs, so fan_in = in_c*kh*kw and
    fan_out = out_c*kh*kw.
    """
    if len(shape) < 2:
        raise HyperparameterError(
            f"fan in/out needs a weight with at least 2 dimensions, got shape {tuple(shape)}; "
            "use uniform_/normal_ for biases"
        )
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor that keeps the variance of activations steady through ``nonlinearity``.

    linear, identity, sigmoid, conv*/conv_transpose*: 1;  tanh: 5/3;  relu: sqrt(2);
    leaky_relu with slope a: sqrt(2 / (1 + a^2))  (a defaults to 0.01);  selu: 3/4.
    """
    if nonlinearity in _GAIN_ONE:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + slope * slope))
    if nonlinearity == "selu":
        return 0.75
    raise HyperparameterError(
        f"calculate_gain: unknown nonlinearity {nonlinearity!r}; valid: "
        f"{', '.join((*_GAIN_ONE, 'tanh', 'relu', 'leaky_relu', 'selu'))}"
    )


# Gain 1, as in PyTorch: no nonlinearity, and the convolutions (linear maps themselves).
_GAIN_ONE = ("linear", "identity", "sigmoid", "conv1d", "conv2d", "conv3d",
             "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


def _fan(tensor: Tensor, mode: str) -> int:
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor.shape)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise HyperparameterError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return _fill(tensor, 1)


def constant_(tensor: Tensor, value: float) -> Tensor:
    """Fill with ``value``."""
    return _fill(tensor, value)


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, seed: Seed = None) -> Tensor:
    """Fill with draws from U(a, b)."""
    if not a <= b:
        raise HyperparameterError(f"uniform_: need a <= b, got a={a}, b={b}")
    return _fill(tensor, backend.as_rng(seed).uniform(a, b, size=tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, seed: Seed = None) -> Tensor:
    """Fill with draws from N(mean, std^2)."""
    if not std >= 0:
        raise HyperparameterError(f"normal_: std must be >= 0, got {std}")
    return _fill(tensor, backend.as_rng(seed).normal(mean, std, size=tensor.shape))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, seed: Seed = None) -> Tensor:
    """Glorot uniform: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor.shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, seed=seed)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, seed: Seed = None) -> Tensor:
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor.shape)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), seed=seed)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     seed: Seed = None) -> Tensor:
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a).

    With PyTorch's Linear/Conv default ``a = sqrt(5)`` the gain is sqrt(1/3),
    so b = 1 / sqrt(fan_in).
    """
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, seed=seed)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    seed: Seed = None) -> Tensor:
    """He normal: N(0, std^2) with std = gain / sqrt(fan)."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std, seed=seed)


__all__ = [
    "calculate_fan_in_and_fan_out", "calculate_gain", "zeros_", "ones_", "constant_", "uniform_", "normal_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
]
