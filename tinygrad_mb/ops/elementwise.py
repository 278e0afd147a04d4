"""Elementwise ops: arithmetic, activations and friends.

Every op below works on raw arrays and follows NumPy broadcasting. ``backward``
receives ``g = dL/d(out)`` and returns ``dL/d(input) = g * d(out)/d(input)``
for each input, possibly still in the broadcast shape: the engine sums it back
to the input's shape (see ``tinygrad_mb.tensor.unbroadcast``).

Inputs may be Python numbers (``x * 2``); the engine ignores their gradients.
Result dtypes follow NumPy's rules (then float64 becomes float32 unless an input
asked for it, see ``tinygrad_mb.tensor``): ``x - mask`` works, as in NumPy, where
PyTorch refuses to subtract boolean tensors.
"""

from __future__ import annotations

import math
from typing import Any

from tinygrad_mb.backend import array_module, backend_of, to_backend
from tinygrad_mb.tensor import Function


class Add(Function):
    """out = a + b;   d/da = 1,  d/db = 1."""

    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


class Sub(Function):
    """out = a - b;   d/da = 1,  d/db = -1."""

    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, -g


class Mul(Function):
    """out = a * b;   d/da = b,  d/db = a."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        return g * self.b, g * self.a


class Div(Function):
    """out = a / b;   d/da = 1/b,  d/db = -a/b^2 = -out/b."""

    def forward(self, a, b):
        self.b = b
        self.out = a / b
        return self.out

    def backward(self, g):
        ga = g / self.b
        return ga, -ga * self.out


class Pow(Function):
    """out = a ** b;   d/da = b * a^(b-1),  d/db = a^b * ln(a)  (taken as 0 where a <= 0).

    Where b = 0, a^0 = 1 is constant and d/da = 0 for every a, also at a = 0 or
    inf, where the formula would give 0 * inf = NaN. PyTorch's d/db differs where
    a <= 0: NaN for a < 0, and -inf at a = 0 with b < 0.
    """

    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = a**b
        return self.out

    def backward(self, g):
        a, b = self.a, self.b
        xp = array_module(g)
        if isinstance(b, (int, float)):  # a constant exponent needs no gradient
            return (g * (b * a ** (b - 1)) if b != 0 else xp.zeros_like(g)), None
        if not hasattr(a, "dtype"):  # a Python number as the base (2 ** x): CuPy's where takes arrays only
            return None, (g * self.out * math.log(a) if a > 0 else xp.zeros_like(g))
        ga = g * (b * xp.where(b == 0, 1, a) ** (b - 1))  # b = 0: 0 * 1^(-1) = 0 for every a, not 0 * inf
        # a <= 0: 0 * ln(1), not a^b * ln(1) = inf * 0 = NaN where a = 0 and b < 0
        gb = g * xp.where(a <= 0, 0, self.out) * xp.log(xp.where(a <= 0, 1, a))
        return ga, gb


class Neg(Function):
    """out = -x;   d/dx = -1."""

    def forward(self, x):
        return -x

    def backward(self, g):
        return -g


class Exp(Function):
    """out = e^x;   d/dx = e^x = out."""

    def forward(self, x):
        self.out = array_module(x).exp(x)
        return self.out

    def backward(self, g):
        return g * self.out


class Log(Function):
    """out = ln x;   d/dx = 1/x."""

    def forward(self, x):
        self.x = x
        return array_module(x).log(x)

    def backward(self, g):
        return g / self.x


class Sqrt(Function):
    """out = sqrt(x);   d/dx = 1 / (2 sqrt(x)) = 0.5 / out."""

    def forward(self, x):
        self.out = array_module(x).sqrt(x)
        return self.out

    def backward(self, g):
        return g * 0.5 / self.out


class Abs(Function):
    """out = |x|;   d/dx = sign(x)  (0 at x = 0, the subgradient PyTorch picks).

    At x = NaN the slope is NaN (NumPy's sign), where PyTorch gives 0.
    """

    def forward(self, x):
        self.x = x
        return array_module(x).abs(x)

    def backward(self, g):
        return g * array_module(g).sign(self.x)


class ReLU(Function):
    """out = max(x, 0);   d/dx = 1 if x > 0 else 0.

    A NaN input is its own result (NumPy's maximum propagates it), so it passes
    the gradient on, as in PyTorch and as in :class:`Maximum`.
    """

    def forward(self, x):
        self.out = array_module(x).maximum(x, 0)
        return self.out

    def backward(self, g):
        return g * (self.out != 0)  # x > 0 or NaN: "> 0" would be False for NaN


class LeakyReLU(Function):
    """out = x if x > 0 else s*x;   d/dx = 1 if x > 0 else s."""

    def forward(self, x, negative_slope=0.01):
        self.positive, self.slope = x > 0, negative_slope
        return array_module(x).where(self.positive, x, x * negative_slope)

    def backward(self, g):
        return array_module(g).where(self.positive, g, g * self.slope)


class Sigmoid(Function):
    """out = 1 / (1 + e^-x);   d/dx = out * (1 - out).

    Computed from e = e^-|x| <= 1, which never overflows:
    sigmoid(x) = 1/(1+e) for x >= 0 and e/(1+e) for x < 0.
    """

    def forward(self, x):
        xp = array_module(x)
        e = xp.exp(-xp.abs(x))
        self.out = xp.where(x >= 0, 1, e) / (1 + e)
        return self.out

    def backward(self, g):
        return g * self.out * (1 - self.out)


class Tanh(Function):
    """out = tanh x;   d/dx = 1 - tanh(x)^2 = 1 - out^2."""

    def forward(self, x):
        self.out = array_module(x).tanh(x)
        return self.out

    def backward(self, g):
        return g * (1 - self.out * self.out)


class Softplus(Function):
    """out = ln(1 + e^x);   d/dx = sigmoid(x).

    ``logaddexp(0, x)`` = ln(e^0 + e^x) is the overflow-free way to write it.
    """

    def forward(self, x):
        self.x = x
        return array_module(x).logaddexp(0, x)

    def backward(self, g):
        return g * Sigmoid().forward(self.x)


def _share_of_a(xp, a, b, a_wins):
    """a's share of the gradient of max(a, b) or min(a, b): 1 where a wins, 0 where b wins, 1/2 at a tie.

    A NaN operand is the result (NumPy's maximum and minimum propagate it), so it
    wins against a number, and two NaNs tie.
    """
    a_nan, b_nan = xp.isnan(a), xp.isnan(b)
    return (a_wins | (a_nan & ~b_nan)) + 0.5 * ((a == b) | (a_nan & b_nan))


class Maximum(Function):
    """out = max(a, b);   d/da = 1 where a > b, d/db = 1 where b > a, ties split 1/2 each.

    A NaN operand is the result and takes the gradient; two NaNs tie (PyTorch gives both operands all of it).
    """

    def forward(self, a, b):
        self.a, self.b = a, b
        return array_module(a).maximum(a, b)

    def backward(self, g):
        wins = _share_of_a(array_module(g), self.a, self.b, self.a > self.b)
        return g * wins, g * (1 - wins)


class Minimum(Function):
    """out = min(a, b);   d/da = 1 where a < b, d/db = 1 where b < a, ties split 1/2 each.

    A NaN operand is the result and takes the gradient; two NaNs tie (PyTorch gives both operands all of it).
    """

    def forward(self, a, b):
        self.a, self.b = a, b
        return array_module(a).minimum(a, b)

    def backward(self, g):
        wins = _share_of_a(array_module(g), self.a, self.b, self.a < self.b)
        return g * wins, g * (1 - wins)


class Clip(Function):
    """out = min(max(x, lo), hi);   d/dx = 1 where lo <= x <= hi, else 0."""

    def forward(self, x, lo=None, hi=None):
        xp = array_module(x)
        out = xp.clip(x, lo, hi) if lo is not None or hi is not None else x.copy()  # CuPy needs a bound
        inside = xp.ones(out.shape, dtype=bool)  # out's shape: tensor bounds may broadcast x to a larger one
        if lo is not None:
            inside &= x >= lo
        if hi is not None:
            inside &= x <= hi
        self.inside = inside
        return out

    def backward(self, g):
        return g * self.inside


class Where(Function):
    """out = a where cond else b;   d/da = cond,  d/db = not cond.  (cond is not differentiable.)"""

    def forward(self, a, b, cond=None):
        # The operands decide where the result lives; a host condition (a NumPy mask, a
        # Python bool) is copied there once (CuPy's where accepts only device arrays).
        operands = [x for x in (a, b) if hasattr(x, "dtype")]
        xp = array_module(operands[0]) if operands else array_module(cond)
        self.cond = to_backend(cond, backend_of(operands[0])) if operands else cond
        return xp.where(self.cond, a, b)

    def backward(self, g):
        xp = array_module(g)
        return xp.where(self.cond, g, 0), xp.where(self.cond, 0, g)


class Copy(Function):
    """out = x, in new memory;   d/dx = 1. This is ``x.clone()``: unlike ``detach()``, it stays in the graph."""

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return g


class Cast(Function):
    """out = x converted to ``dtype``;   d/dx = 1 (the engine casts g back to x's dtype)."""

    chooses_dtype = True  # a cast to float64 is asked for: the engine must not make it float32

    def forward(self, x, dtype: Any = None):
        return x.astype(dtype)

    def backward(self, g):
        return g
