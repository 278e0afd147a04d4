"""The least an autograd engine must do: tinygrad_mb's design with every check taken out.

:mod:`benchmarks.engine_calls` removes the engine entirely and keeps only its
NumPy calls. This module puts back the smallest engine that can run a user's
training loop written as in tinygrad_mb or PyTorch: Tensor objects, ops that
record their inputs, a backward walk in reverse recording order, leaf
gradients in ``.grad``, modules called in a ``Sequential`` and an optimizer
looping over its parameters. It makes exactly the NumPy calls of
:class:`~benchmarks.engine_calls.EngineCallsMLP` (a test checks the weights
agree bit for bit with tinygrad_mb's) and nothing a user would notice as help:
no shape, dtype or backend checks, no version counters guarding saved arrays,
no error messages, no ``no_grad``, no accumulation into an existing ``.grad``.

Timed next to the other steps (``python -m benchmarks.gap``), it splits
tinygrad_mb's bookkeeping in two: NumPy calls → this engine is what any engine
of this shape costs, and this engine → tinygrad_mb what tinygrad_mb's checks
and conveniences add. The first part alone tells whether a speed target is
within reach of any engine that keeps the API.
"""

from __future__ import annotations

from heapq import heappop, heappush
from itertools import count
from typing import Any

import numpy as np

from benchmarks.problem import LR


class BareTensor:
    """An array, whether it needs a gradient, the op that made it, and its gradient."""

    __slots__ = ("data", "requires_grad", "ctx", "grad")

    def __init__(self, data: np.ndarray, requires_grad: bool = False):
        self.data, self.requires_grad, self.ctx, self.grad = data, requires_grad, None, None

    def backward(self) -> None:
        """Chain rule from this scalar loss: newest op first (an op's inputs ran before it)."""
        grads = {self: np.ones_like(self.data)}
        pending = [(-self.ctx.number, self)]
        while pending:
            node = heappop(pending)[1]
            fn = node.ctx
            for parent, g in zip(fn.parents, fn.backward(grads.pop(node))):
                if g is None or not parent.requires_grad:
                    continue
                if parent.ctx is None:  # a leaf: every parameter here is used once, so its gradient is final
                    parent.grad = g
                elif parent in grads:
                    grads[parent] = grads[parent] + g
                else:
                    grads[parent] = g
                    heappush(pending, (-parent.ctx.number, parent))


_numbers = count()


class Op:
    """A recorded op: ``forward`` on arrays, ``backward`` from dL/d(output) to one gradient per input."""

    __slots__ = ("parents", "number", "__dict__")

    @classmethod
    def apply(cls, *inputs: BareTensor, **settings: Any) -> BareTensor:
        op = cls()
        out = BareTensor(op.forward(*[t.data for t in inputs], **settings))
        if any(t.requires_grad for t in inputs):
            op.parents, op.number = inputs, next(_numbers)
            out.requires_grad, out.ctx = True, op
        return out


class LinearOp(Op):
    """out = x W^T + b; dx = g W, dW = g^T x (column-major, as tinygrad_mb's), db = sum of g."""

    def forward(self, x, weight, bias):
        self.x, self.weight = x, weight
        out = x.dot(weight.T)
        out += bias
        return out

    def backward(self, g):
        dx = g.dot(self.weight) if self.parents[0].requires_grad else None
        dw = np.empty(self.weight.shape, dtype=g.dtype, order="F")
        self.x.T.dot(g, out=dw.T)
        return dx, dw, g.sum(axis=0)


class ReluOp(Op):
    """max(x, 0); the gradient passes where the output is positive."""

    def forward(self, x):
        self.out = np.maximum(x, 0)
        return self.out

    def backward(self, g):
        return (g * (self.out > 0),)


class CrossEntropyOp(Op):
    """Mean softmax cross-entropy at integer labels; dL/dz = (softmax(z) - onehot(y)) / n."""

    def forward(self, z, labels):
        unsigned = labels.view(np.uint64)  # the label check tinygrad_mb makes, so the calls stay the same
        if unsigned[unsigned.argmax()] >= z.shape[1]:
            raise ValueError("label out of range")
        n, c = z.shape
        self.picked = np.arange(0, n * c, c) + labels
        shifted = z - z.max(axis=1, keepdims=True)
        self.e = np.exp(shifted)
        self.sums = self.e.sum(axis=1)
        return np.asarray((np.log(self.sums) - shifted.take(self.picked)).sum() / n)

    def backward(self, g):
        dz = self.e / self.sums[:, None]
        dz.put(self.picked, dz.take(self.picked) - 1)
        dz *= g / dz.shape[0]
        return dz, None


class Linear:
    """A layer holding W (out, in, column-major as nn.Linear's) and b."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray):
        self.weight = BareTensor(np.asfortranarray(weight), requires_grad=True)
        self.bias = BareTensor(bias.copy(), requires_grad=True)

    def __call__(self, x: BareTensor) -> BareTensor:
        return LinearOp.apply(x, self.weight, self.bias)


class ReLU:
    def __call__(self, x: BareTensor) -> BareTensor:
        return ReluOp.apply(x)


class Sequential:
    def __init__(self, *layers: Any):
        self.layers = layers

    def __call__(self, x: BareTensor) -> BareTensor:
        for layer in self.layers:
            x = layer(x)
        return x


class SGD:
    """p -= lr * p.grad, with tinygrad_mb's one-sweep update (BLAS axpy)."""

    def __init__(self, params: list[BareTensor], lr: float):
        from tinygrad_mb.optim.update import add_scaled_

        self.params, self.lr, self.add_scaled_ = params, lr, add_scaled_

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        for p in self.params:
            if p.grad is not None:
                self.add_scaled_(p.data, -self.lr, p.grad)


class BareEngineMLP:
    """784-128-10 MLP, SGD, cross-entropy on the bare engine; the benchmark's ``step(x, y)`` interface."""

    def __init__(self, weights: dict[str, np.ndarray], lr: float = LR):
        first, second = Linear(weights["0.weight"], weights["0.bias"]), Linear(weights["2.weight"], weights["2.bias"])
        self.model = Sequential(first, ReLU(), second)
        self.opt = SGD([first.weight, first.bias, second.weight, second.bias], lr)

    def prepare(self, x: np.ndarray, y: np.ndarray) -> tuple[BareTensor, BareTensor]:
        """The batch as tensors (done once, as in the other implementations)."""
        return BareTensor(x), BareTensor(y)

    def step(self, x: BareTensor, y: BareTensor) -> BareTensor:
        """One SGD update, written as a user's training loop; returns the loss tensor."""
        loss = CrossEntropyOp.apply(self.model(x), y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss

    # The step in three parts, for timing each (benchmarks.gap).
    def forward(self, x: BareTensor, y: BareTensor) -> BareTensor:
        return CrossEntropyOp.apply(self.model(x), y)

    def backward(self, loss: BareTensor) -> None:
        self.opt.zero_grad()
        loss.backward()

    def update(self, _: Any = None) -> None:
        self.opt.step()

    def weights(self) -> dict[str, np.ndarray]:
        """Current weights in PyTorch names and layout."""
        names = ("0.weight", "0.bias", "2.weight", "2.bias")
        return {name: p.data.copy() for name, p in zip(names, self.opt.params, strict=True)}
