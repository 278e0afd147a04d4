"""The same MLP in PyTorch, written the ordinary way (the reference engine).

Skipped, with the reason in the report, when PyTorch is not importable.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from benchmarks.problem import LR, N_HIDDEN, N_IN, N_OUT


def unavailable() -> str | None:
    """None when PyTorch imports, else why not."""
    try:
        import torch  # noqa: F401
    except Exception as exc:  # any import failure means "skip"
        return f"{type(exc).__name__}: {exc}"
    return None


def version() -> str | None:
    """PyTorch's version, or None."""
    try:
        import torch
    except Exception:
        return None
    return torch.__version__


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run PyTorch's CPU ops on ``n`` threads inside the block."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class TorchMLP:
    """``Sequential(Linear, ReLU, Linear)``, ``F.cross_entropy``, ``optim.SGD``."""

    def __init__(self, weights: dict[str, np.ndarray], lr: float = LR, device: str = "cpu"):
        import torch

        self.torch, self.device = torch, device
        self.model = torch.nn.Sequential(
            torch.nn.Linear(N_IN, N_HIDDEN), torch.nn.ReLU(), torch.nn.Linear(N_HIDDEN, N_OUT)
        )
        self.model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in weights.items()})
        self.model.to(device)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr)

    def prepare(self, x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        """The batch as tensors on this model's device (done once, outside the clock)."""
        torch = self.torch
        return torch.from_numpy(x).to(self.device), torch.from_numpy(y).to(self.device)

    def step(self, x: Any, y: Any) -> Any:
        """One SGD update; returns the loss tensor (not ``.item()``: that would sync)."""
        loss = self.torch.nn.functional.cross_entropy(self.model(x), y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss

    def weights(self) -> dict[str, np.ndarray]:
        """Current weights as NumPy arrays, PyTorch layout."""
        return {k: v.detach().cpu().numpy().copy() for k, v in self.model.state_dict().items()}

    def synchronize(self) -> None:
        """Wait for queued GPU work (nothing to wait for on the CPU)."""
        if self.device != "cpu":
            self.torch.cuda.synchronize()
