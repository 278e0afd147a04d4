"""tinygrad_mb's training step as bare NumPy calls: the engine with its bookkeeping taken away.

The gap between tinygrad_mb and the hand-written step (:mod:`benchmarks.numpy_mlp`)
has two parts, and this step separates them:

1. **What the API promises.** ``p.grad`` must hold the true gradient, so SGD
   cannot fold the learning rate into the backward pass as the hand-written
   step does, and updates with ``p -= lr * g`` (BLAS axpy for the big weight).
   Each op returns a fresh array, since its input may still be needed; the
   labels are checked before the loss, so a bad label fails with a message.
2. **The engine.** Tensor objects, the recorded graph, backward's walk over it,
   gradient accumulation, module and optimizer loops.

:class:`EngineCallsMLP` makes exactly the NumPy calls tinygrad_mb makes for
``Sequential(Linear, ReLU, Linear)``, ``cross_entropy``, ``backward()`` and
``SGD.step()``, in the same order and with the same memory layouts, and none of
the Python around them. Timed next to the other two
(``python -m benchmarks.gap``), hand-written → this step is the price of part
1, this step → tinygrad_mb the price of part 2. A test checks that it computes
what tinygrad_mb computes, so it cannot drift away from the engine unnoticed.
"""

from __future__ import annotations

import numpy as np

from benchmarks.problem import LR


class EngineCallsMLP:
    """784-128-10 MLP, SGD, cross-entropy, as tinygrad_mb's NumPy calls; ``step(x, y)`` returns the loss."""

    def __init__(self, weights: dict[str, np.ndarray], lr: float = LR):
        from tinygrad_mb.optim.update import add_scaled_

        self.add_scaled_, self.lr = add_scaled_, lr
        # nn.Linear's layout: PyTorch's (out, in) shape, stored column-major.
        self.W1 = np.asfortranarray(weights["0.weight"])
        self.b1 = weights["0.bias"].copy()
        self.W2 = np.asfortranarray(weights["2.weight"])
        self.b2 = weights["2.bias"].copy()

    def prepare(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The batch as it is (NumPy arrays)."""
        return x, y

    def step(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """One SGD update on ``(x, y)``, call for call as tinygrad_mb; returns the loss before it."""
        saved = self.forward(x, y)
        self.update(self.backward(saved))
        return saved[-1]

    def forward(self, x: np.ndarray, y: np.ndarray) -> tuple:
        """What backward needs (as the ops save it), the loss last."""
        W1, b1, W2, b2 = self.W1, self.b1, self.W2, self.b2
        n = x.shape[0]
        # ops.linear, ops.relu, ops.linear (each result a fresh array)
        h = x.dot(W1.T)
        h += b1
        r = np.maximum(h, 0)
        z = r.dot(W2.T)
        z += b2
        # nn.functional.cross_entropy: the label check, then the fused op
        unsigned = y.view(np.uint64)
        if unsigned[unsigned.argmax()] >= z.shape[1]:
            raise ValueError("label out of range")
        c = z.shape[1]
        picked = np.arange(0, n * c, c) + np.asarray(y)
        shifted = z - z.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        sums = e.sum(axis=1)
        loss = np.asarray((np.log(sums) - shifted.take(picked)).sum() / n)
        return x, r, e, sums, picked, loss

    def backward(self, saved: tuple) -> tuple[np.ndarray, ...]:
        """The seed gradient, then each op's backward in reverse order: dW1, db1, dW2, db2."""
        x, r, e, sums, picked, loss = saved
        W1, W2 = self.W1, self.W2
        seed = np.ones_like(loss)
        dz = e / sums[:, None]
        dz.put(picked, dz.take(picked) - 1)
        dz *= seed / x.shape[0]
        dr = dz.dot(W2)
        dW2 = np.empty(W2.shape, dtype=dz.dtype, order="F")
        r.T.dot(dz, out=dW2.T)
        db2 = dz.sum(axis=0)
        dh = dr * (r > 0)
        dW1 = np.empty(W1.shape, dtype=dh.dtype, order="F")  # no dL/dx: the input needs no gradient
        x.T.dot(dh, out=dW1.T)
        db1 = dh.sum(axis=0)
        return dW1, db1, dW2, db2

    def update(self, grads: tuple[np.ndarray, ...]) -> None:
        """SGD.step(): p -= lr * grad, parameter by parameter."""
        for p, g in zip((self.W1, self.b1, self.W2, self.b2), grads):
            self.add_scaled_(p, -self.lr, g)

    def weights(self) -> dict[str, np.ndarray]:
        """Current weights in PyTorch names and layout."""
        return {"0.weight": self.W1.copy(), "0.bias": self.b1.copy(),
                "2.weight": self.W2.copy(), "2.bias": self.b2.copy()}
