"""The same MLP in tinygrad_mb, written the way a user would write it.

``nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))``,
``F.cross_entropy``, ``optim.SGD``, and the usual
``zero_grad(); loss.backward(); step()``. Nothing here is tuned for the
benchmark: this is the cost a student's training loop pays.

While the library is still being written, :func:`unavailable` says why it
cannot run, and the benchmark reports that instead of failing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.problem import LR


def unavailable() -> str | None:
    """None when tinygrad_mb's Tensor, nn, F and optim import, else why not."""
    try:
        import tinygrad_mb.nn.functional  # noqa: F401
        import tinygrad_mb.optim  # noqa: F401
        from tinygrad_mb.tensor import Tensor  # noqa: F401
    except Exception as exc:  # any failure means "not available"
        return f"{type(exc).__name__}: {exc}"
    return None


def build_model(weights: dict[str, np.ndarray]) -> Any:
    """The Sequential MLP, on NumPy, holding exactly ``weights`` (PyTorch names and layout)."""
    from tinygrad_mb import nn

    (n_hidden, n_in), n_out = weights["0.weight"].shape, weights["2.weight"].shape[0]
    model = nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_out))
    ours = list(weights.values())  # W1, b1, W2, b2: the order parameters() gives
    if hasattr(model, "load_state_dict") and hasattr(model, "state_dict"):
        names = list(model.state_dict())
        if [model.state_dict()[k].shape for k in names] != [w.shape for w in ours]:
            raise ValueError(f"unexpected parameters {names}")
        model.load_state_dict({k: w.copy() for k, w in zip(names, ours)})
    else:  # fall back to setting .data directly
        for p, w in zip(model.parameters(), ours, strict=True):
            p.data = w.copy()
    return model


class TinygradMLP:
    """tinygrad_mb model + optimizer; ``step(x, y)`` is one training step."""

    def __init__(self, weights: dict[str, np.ndarray], lr: float = LR, backend: str = "numpy"):
        import tinygrad_mb.nn.functional as F
        from tinygrad_mb import optim
        from tinygrad_mb.tensor import Tensor

        self.F, self.Tensor, self.backend = F, Tensor, backend
        self.model = build_model(weights)
        self.model.to(backend)  # also to NumPy: the model is built on the default backend ($TINYGRAD_MB_BACKEND)
        self.opt = optim.SGD(self.model.parameters(), lr=lr)

    def prepare(self, x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        """The batch as Tensors on the model's backend (done once, like data on the device)."""
        return self.Tensor(x, backend=self.backend), self.Tensor(y, backend=self.backend)

    def step(self, x: Any, y: Any) -> Any:
        """One SGD update; returns the loss Tensor."""
        loss = self.F.cross_entropy(self.model(x), y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss

    # The same step in three parts, for timing each (benchmarks.gap): step() stays one
    # piece of code, as a user writes it.
    def forward(self, x: Any, y: Any) -> Any:
        """The loss Tensor, with its graph."""
        return self.F.cross_entropy(self.model(x), y)

    def backward(self, loss: Any) -> None:
        """Fresh gradients in every parameter's ``.grad``."""
        self.opt.zero_grad()
        loss.backward()

    def update(self, _: Any = None) -> None:
        """The SGD step."""
        self.opt.step()

    def weights(self) -> dict[str, np.ndarray]:
        """Current weights as NumPy arrays in PyTorch names and layout."""
        from tinygrad_mb.backend import to_numpy

        return {k: to_numpy(p.data).copy() for k, p in zip(("0.weight", "0.bias", "2.weight", "2.bias"),
                                                           self.model.parameters(), strict=True)}

    def synchronize(self) -> None:
        """Wait for queued GPU work (a no-op on NumPy)."""
        if self.backend != "numpy":
            from tinygrad_mb import backend

            backend.synchronize()
