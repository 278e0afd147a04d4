"""Reductions: sum, mean, max, min over an axis (None, int, negative or tuple).

The backward of a reduction spreads ``g`` back over the reduced axes. With
``keepdims=False`` those axes were dropped from ``g``, so we first put them
back as size-1 axes; then broadcasting copies ``g`` to every reduced element.
"""

from __future__ import annotations

from numbers import Integral

from tinygrad_mb.backend import array_module
from tinygrad_mb.errors import ShapeError
from tinygrad_mb.tensor import Function


def normalize_axes(axis, ndim: int, op: str = "reduce") -> tuple[int, ...]:
    """Axes as a sorted tuple of non-negative ints (``None`` means all axes)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, Integral) else tuple(axis)  # Integral: NumPy's int64 too
    out = []
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ShapeError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimension(s)")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in {axis}")
    if ndim == 0:  # a 0-d tensor has no axis to reduce; axis 0 or -1 is accepted, as PyTorch does
        return ()
    return tuple(sorted(out))


def _kept_shape(shape: tuple, axes: tuple[int, ...]) -> tuple:
    """``shape`` with the reduced axes set to 1 (the keepdims=True shape)."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """out = sum of x over ``axis``;   d/dx_i = 1 for every summed element.

    Integer and boolean sums have NumPy's dtype: int64, or uint64 for unsigned
    integers (PyTorch sums every integer type to int64).
    """

    def forward(self, x, axis=None, keepdims=False):
        self.shape = x.shape
        self.axes = normalize_axes(axis, x.ndim, "sum")
        return x.sum(axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        g = g.reshape(_kept_shape(self.shape, self.axes))
        return array_module(g).broadcast_to(g, self.shape)


class Mean(Function):
    """out = (1/n) * sum of x over ``axis``;   d/dx_i = 1/n, n = number of elements averaged."""

    def forward(self, x, axis=None, keepdims=False):
        self.shape = x.shape
        self.axes = normalize_axes(axis, x.ndim, "mean")
        count = 1
        for a in self.axes:
            count *= x.shape[a]
        self.count = count
        return x.mean(axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        g = g.reshape(_kept_shape(self.shape, self.axes)) / self.count
        return array_module(g).broadcast_to(g, self.shape)


class Max(Function):
    """out = max of x over ``axis``;   d/dx_i = 1 for the maximal element(s), else 0.

    When several elements tie for the maximum the gradient is shared equally
    between them (the choice PyTorch makes for full reductions and ``amax``;
    ``torch.max(x, dim)`` gives it all to the one index it returns). A NaN
    maximum sends the gradient to the NaN(s), as PyTorch's full reduction does
    (its ``amax`` along an axis gives NaN gradients there).
    ``Max(..., smallest=True)`` is the minimum, with the same rule.
    """

    def forward(self, x, axis=None, keepdims=False, smallest=False):
        self.axes = normalize_axes(axis, x.ndim, "min" if smallest else "max")
        empty = [a for a in self.axes if x.shape[a] == 0]
        if empty:  # a max of nothing has no value (reducing (0, 3) over its axis 1 is fine: shape (0,))
            raise ShapeError(
                f"{'min' if smallest else 'max'}: cannot reduce over axis {empty[0]} of length 0 "
                f"(tensor of shape {tuple(x.shape)}); there is no element to take the "
                f"{'minimum' if smallest else 'maximum'} of"
            )
        reduce = x.min if smallest else x.max
        out = reduce(axis=self.axes, keepdims=True)
        # The winners: elements equal to the result, or NaN where the result is NaN
        # (NaN != NaN, so without the second part a NaN maximum would have no winner).
        self.winners = (x == out) | ((x != x) & (out != out))
        self.shape = x.shape
        return out if keepdims else out.reshape([n for i, n in enumerate(x.shape) if i not in self.axes])

    def backward(self, g):
        g = g.reshape(_kept_shape(self.shape, self.axes))
        share = self.winners / self.winners.sum(axis=self.axes, keepdims=True)
        return g * share
