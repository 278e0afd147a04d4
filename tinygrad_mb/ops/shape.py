"""Ops that move elements around without changing them.

Their backward moves the gradient back the same way: reshape undoes reshape,
transposing by the inverse permutation undoes a transpose, and the gradient of
indexing is scattered back into a zero array of the input's shape.
"""

from __future__ import annotations

import numpy as np

from tinygrad_mb.backend import array_module, scatter_add
from tinygrad_mb.errors import ShapeError
from tinygrad_mb.tensor import Function


class Reshape(Function):
    """out = x viewed with another shape;   dL/dx = dL/dout viewed with x's shape."""

    def forward(self, x, shape=None):
        self.shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ShapeError(
                f"reshape: cannot view shape {tuple(x.shape)} ({x.size} elements) as {tuple(shape)}; the number "
                "of elements must stay the same (one entry may be -1, computed from the others)"
            ) from None

    def backward(self, g):
        return g.reshape(self.shape)


class Transpose(Function):
    """out = x with axes permuted by ``axes``;   dL/dx = dL/dout permuted by the inverse."""

    def forward(self, x, axes=None):
        if axes is None:
            axes = tuple(reversed(range(x.ndim)))
        if sorted(a % max(x.ndim, 1) for a in axes) != list(range(x.ndim)):
            raise ShapeError(f"transpose: axes {axes} are not a permutation of the {x.ndim} axes of {x.shape}")
        self.inverse = tuple(sorted(range(x.ndim), key=lambda i: axes[i] % x.ndim))
        return x.transpose(axes)

    def backward(self, g):
        return g.transpose(self.inverse)


class BroadcastTo(Function):
    """out = x copied along new or size-1 axes to ``shape``.

    dL/dx = dL/dout summed over the copies -- exactly what the engine's
    ``unbroadcast`` does for every op, so backward just passes ``g`` on.
    """

    def forward(self, x, shape=None):
        return array_module(x).broadcast_to(x, shape)

    def backward(self, g):
        return g


def _is_basic_index(index) -> bool:
    """True for ints, slices, None and Ellipsis only (no arrays): then no index repeats."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts)


class GetItem(Function):
    """out = x[index];   dL/dx = zeros with dL/dout added at ``index``.

    An integer-array index may pick the same element several times; each pick
    contributes, so the gradients are *accumulated* (``scatter_add``), not
    overwritten.
    """

    def forward(self, x, index=None):
        self.shape, self.dtype, self.index = x.shape, x.dtype, index
        out = x[index]
        if isinstance(out, np.generic) and _is_basic_index(index):
            # x[1] is one element, which NumPy copies out as a scalar; x[1, ...] is the same element as a 0-d
            # view, so that x[1] -= v writes into x as a slice would (CuPy returns such a view already).
            out = x[(*index, ...) if isinstance(index, tuple) else (index, ...)]
        return out

    def backward(self, g):
        grad = array_module(g).zeros(self.shape, dtype=g.dtype)
        if _is_basic_index(self.index):
            grad[self.index] = g
        else:
            scatter_add(grad, self.index, g)
        return grad


class Concatenate(Function):
    """out = [x1, x2, ...] joined along ``axis``;   dL/dx_k = the slice of dL/dout that came from x_k."""

    def forward(self, *xs, axis=0):
        self.axis = axis
        self.sizes = [x.shape[axis] for x in xs]
        return array_module(xs[0]).concatenate(xs, axis=axis)

    def backward(self, g):
        bounds, start = [], 0
        for n in self.sizes[:-1]:
            start += n
            bounds.append(start)
        return tuple(array_module(g).split(g, bounds, axis=self.axis))


class Stack(Function):
    """out = [x1, x2, ...] stacked along a new ``axis``;   dL/dx_k = dL/dout taken at position k."""

    def forward(self, *xs, axis=0):
        out = array_module(xs[0]).stack(xs, axis=axis)
        self.axis = axis % out.ndim
        return out

    def backward(self, g):
        xp = array_module(g)
        return tuple(xp.moveaxis(g, self.axis, 0))
