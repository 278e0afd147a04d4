"""A hand-written NumPy MLP with a manual backward pass: the practical limit.

Any NumPy-based engine (tinygrad_mb included) ends up calling the same BLAS
routines, plus its own bookkeeping: graph nodes, Tensor objects, gradient
accumulation. This module does only the arithmetic, written for speed, so the
gap between it and tinygrad_mb *is* the engine's overhead.

Forward, for a batch X (n, 784) with integer labels y::

    H = relu(X W1 + b1)            (n, 128)
    Z = H W2 + b2                  (n, 10)
    L = mean_i [ logsumexp(Z_i) - Z_i,y_i ]

Backward (chain rule, written out)::

    dZ  = (softmax(Z) - onehot(y)) / n
    dW2 = H^T dZ,   db2 = sum_i dZ_i
    dH  = (dZ W2^T) * [H > 0]
    dW1 = X^T dH,   db1 = sum_i dH_i

Speed choices: float32 everywhere; weights stored as (in, out) so the forward
needs no transpose; ``dot`` with preallocated ``out=`` buffers (``np.dot``
calls BLAS directly, where ``np.matmul`` on a transposed view at batch size 1
was 10x slower); in-place updates; the learning rate folded into dZ (every
gradient is linear in dZ, so the buffers come out as ``lr * grad`` and the
update is one subtraction). ``xp`` may be CuPy: the same code is the
hand-written GPU baseline in :mod:`benchmarks.gpu`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.problem import LR


class NumpyMLP:
    """784-128-10 MLP, SGD, cross-entropy; ``step(x, y)`` does one update and returns the loss."""

    def __init__(self, weights: dict[str, np.ndarray], lr: float = LR, xp: Any = np):
        self.xp, self.lr = xp, lr
        # (in, out) layout: X @ W1 with no transpose in the forward pass.
        self.W1 = xp.asarray(np.ascontiguousarray(weights["0.weight"].T))
        self.b1 = xp.asarray(weights["0.bias"].copy())
        self.W2 = xp.asarray(np.ascontiguousarray(weights["2.weight"].T))
        self.b2 = xp.asarray(weights["2.bias"].copy())
        self.dW1, self.db1 = xp.empty_like(self.W1), xp.empty_like(self.b1)
        self.dW2, self.db2 = xp.empty_like(self.W2), xp.empty_like(self.b2)
        self._n = -1

    def prepare(self, x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        """The batch as arrays of this model's module (a copy to the GPU for CuPy)."""
        return self.xp.asarray(x), self.xp.asarray(y)

    def synchronize(self) -> None:
        """Wait for queued GPU work: the clock must not stop before the GPU does."""
        if self.xp is not np:
            self.xp.cuda.Device().synchronize()

    def _buffers(self, n: int) -> None:
        """Activations for batch size ``n``, allocated once and reused every step."""
        if n != self._n:
            xp = self.xp
            self._n = n
            self.H = xp.empty((n, self.W1.shape[1]), dtype=self.W1.dtype)  # float32 (float64 in tests)
            self.dH = xp.empty_like(self.H)
            self.Z = xp.empty((n, self.W2.shape[1]), dtype=self.W1.dtype)
            self.dZ = xp.empty_like(self.Z)
            self.row_starts = xp.arange(0, n * self.W2.shape[1], self.W2.shape[1])  # flat index of Z[i, 0]

    def forward_backward(self, x: Any, y: Any, scale: float) -> Any:
        """Loss of the batch; leaves ``scale * gradient`` in dW1, db1, dW2, db2."""
        xp, n = self.xp, x.shape[0]
        self._buffers(n)
        H, Z, dZ, dH = self.H, self.Z, self.dZ, self.dH
        picked = self.row_starts + y  # flat indices of Z[i, y_i]: take/put beat Z[rows, y] by 2x
        xp.dot(x, self.W1, out=H)
        H += self.b1
        xp.maximum(H, 0, out=H)
        xp.dot(H, self.W2, out=Z)
        Z += self.b2
        # Stable log-softmax: subtract the row max, so exp never overflows.
        Z -= Z.max(axis=1, keepdims=True)
        xp.exp(Z, out=dZ)
        s = dZ.sum(axis=1, keepdims=True)
        loss = (xp.log(s[:, 0]) - Z.take(picked)).sum() / n  # .sum()/n: .mean() costs 2x more
        dZ /= s  # softmax(Z)
        dZ.put(picked, dZ.take(picked) - 1.0)
        dZ *= scale / n
        xp.dot(H.T, dZ, out=self.dW2)
        dZ.sum(axis=0, out=self.db2)
        xp.dot(dZ, self.W2.T, out=dH)
        dH *= H > 0  # relu'(pre-activation) = [H > 0]
        xp.dot(x.T, dH, out=self.dW1)
        dH.sum(axis=0, out=self.db1)
        return loss

    def step(self, x: Any, y: Any) -> Any:
        """One SGD update on the batch ``(x, y)``; returns the loss before the update."""
        loss = self.forward_backward(x, y, self.lr)
        self.W1 -= self.dW1
        self.b1 -= self.db1
        self.W2 -= self.dW2
        self.b2 -= self.db2
        return loss

    def gradients(self, x: Any, y: Any) -> tuple[float, dict[str, np.ndarray]]:
        """Loss and plain (unscaled) gradients in PyTorch layout, for checking."""
        loss = self.forward_backward(x, y, 1.0)
        return float(loss), {
            "0.weight": _host(self.dW1).T.copy(),
            "0.bias": _host(self.db1).copy(),
            "2.weight": _host(self.dW2).T.copy(),
            "2.bias": _host(self.db2).copy(),
        }

    def weights(self) -> dict[str, np.ndarray]:
        """Current weights in PyTorch layout, as NumPy arrays."""
        return {
            "0.weight": _host(self.W1).T.copy(),
            "0.bias": _host(self.b1).copy(),
            "2.weight": _host(self.W2).T.copy(),
            "2.bias": _host(self.b2).copy(),
        }


def _host(a: Any) -> np.ndarray:
    """A NumPy copy of a NumPy or CuPy array."""
    return a.get() if hasattr(a, "get") else np.asarray(a)
