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

``EngineCallsMLP(weights, without=...)`` drops some of the promises of part 1
(named in :data:`PROMISES`), each in the way the hand-written step does
without it, and still computes the same update: :mod:`benchmarks.promises`
times the step with each one dropped, which prices them one by one.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from benchmarks.problem import LR

# The promises of part 1 that a step can drop. Without them: lr folded into dL/dz, so every gradient
# comes out scaled and the update is p -= g; no label check; dW1 and dW2 written into arrays kept from
# step to step; the softmax and ReLU gradients computed in place, in arrays only backward holds.
PROMISES = ("learning rate", "label check", "fresh weight gradients", "fresh backward arrays")


class EngineCallsMLP:
    """784-128-10 MLP, SGD, cross-entropy, as tinygrad_mb's NumPy calls; ``step(x, y)`` returns the loss."""

    def __init__(self, weights: dict[str, np.ndarray], lr: float = LR, without: Iterable[str] = ()):
        from tinygrad_mb.optim.update import add_scaled_

        self.add_scaled_, self.lr = add_scaled_, lr
        without = set(without)
        if not without <= set(PROMISES):
            raise ValueError(f"without={sorted(without - set(PROMISES))}: the promises are {list(PROMISES)}")
        self.applies_lr = "learning rate" not in without
        self.checks_labels = "label check" not in without
        self.fresh_weight_grads = "fresh weight gradients" not in without
        self.fresh_backward = "fresh backward arrays" not in without
        # nn.Linear's layout: PyTorch's (out, in) shape, stored column-major.
        self.W1 = np.asfortranarray(weights["0.weight"])
        self.b1 = weights["0.bias"].copy()
        self.W2 = np.asfortranarray(weights["2.weight"])
        self.b2 = weights["2.bias"].copy()
        if not self.fresh_weight_grads:  # written into at every step (without "fresh weight gradients")
            self.kept_dW1, self.kept_dW2 = np.empty_like(self.W1), np.empty_like(self.W2)

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
        if self.checks_labels:
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
        if self.fresh_backward:
            dz = e / sums[:, None]
        else:  # e is saved for backward only
            dz = e
            dz /= sums[:, None]
        dz.put(picked, dz.take(picked) - 1)
        dz *= seed / x.shape[0] if self.applies_lr else seed * self.lr / x.shape[0]
        dr = dz.dot(W2)
        dW2 = np.empty(W2.shape, dtype=dz.dtype, order="F") if self.fresh_weight_grads else self.kept_dW2
        r.T.dot(dz, out=dW2.T)
        db2 = dz.sum(axis=0)
        if self.fresh_backward:
            dh = dr * (r > 0)
        else:  # dr is backward's own array
            dh = dr
            dh *= r > 0
        dW1 = np.empty(W1.shape, dtype=dh.dtype, order="F") if self.fresh_weight_grads else self.kept_dW1
        x.T.dot(dh, out=dW1.T)  # no dL/dx: the input needs no gradient
        db1 = dh.sum(axis=0)
        return dW1, db1, dW2, db2

    def update(self, grads: tuple[np.ndarray, ...]) -> None:
        """SGD.step(): p -= lr * grad, parameter by parameter."""
        for p, g in zip((self.W1, self.b1, self.W2, self.b2), grads):
            if self.applies_lr:
                self.add_scaled_(p, -self.lr, g)
            else:  # the gradients came out scaled by lr already
                p -= g

    def weights(self) -> dict[str, np.ndarray]:
        """Current weights in PyTorch names and layout."""
        return {"0.weight": self.W1.copy(), "0.bias": self.b1.copy(),
                "2.weight": self.W2.copy(), "2.bias": self.b2.copy()}
