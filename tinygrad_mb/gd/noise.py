"""How noisy is a mini-batch gradient? :func:`gradient_noise` measures it.

Let ``g_i`` be the gradient of sample i's loss and ``G = (1/N) sum_i g_i`` the
full gradient. A mini-batch of B samples drawn *without replacement* (as one
epoch's partition does) gives ``g_B = (1/B) sum_{i in batch} g_i``, an unbiased
estimate of G whose expected squared error is the finite-population formula

    E |g_B - G|^2 = tr(Sigma) / B * (N - B) / (N - 1),
    tr(Sigma)    = (1/N) sum_i |g_i - G|^2        (per-sample gradient variance)

It falls like 1/B (the familiar law of averages) and reaches 0 at B = N, where
the "mini-batch" is the whole data set. The **simple noise scale**

    B_simple = tr(Sigma) / |G|^2

(McCandlish et al., 2018) is the batch size at which noise and signal are the
same size: well below it, doubling B nearly halves the steps needed (perfect
scaling); well above it, a bigger batch is mostly wasted work.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tinygrad_mb import backend as _backend
from tinygrad_mb.errors import HyperparameterError
from tinygrad_mb.gd.evaluation import EVAL_CHUNK, as_dataset, flat_grad


def batch_gradient(model: Any, loss_fn: Callable[[Any, Any], Any], xb: Any, yb: Any) -> np.ndarray:
    """The gradient of the mean loss on one batch, as one float64 NumPy vector (weights unchanged)."""
    model.zero_grad()
    loss_fn(model(xb), yb).backward()
    grad = flat_grad(list(model.parameters()))
    model.zero_grad()
    return grad


def full_gradient(model: Any, loss_fn: Callable[[Any, Any], Any], dataset: Any,
                  backend: str | None = None) -> np.ndarray:
    """``G = (1/N) sum_i g_i``: the size-weighted mean of the gradients of chunks covering the data."""
    return sum(size * g for size, g in minibatch_gradients(model, loss_fn, dataset, EVAL_CHUNK, shuffle=False,
                                                           backend=backend)) / len(as_dataset(dataset))


def minibatch_gradients(model: Any, loss_fn: Callable[[Any, Any], Any], dataset: Any, batch_size: int,
                        seed: int | np.random.Generator | None = 0, shuffle: bool = True,
                        backend: str | None = None) -> list[tuple[int, np.ndarray]]:
    """``(batch size, gradient)`` for every batch of ONE epoch's partition of the data.

    Their size-weighted mean ``sum_b (|b|/N) g_b`` is exactly the full gradient,
    which is why a mini-batch gradient is an unbiased estimate of it.
    """
    from tinygrad_mb.data import DataLoader  # noqa: PLC0415

    ds = as_dataset(dataset)
    loader = DataLoader(ds, batch_size=min(batch_size, len(ds)), shuffle=shuffle, seed=seed,
                        backend=backend or _model_backend(model))
    return [(int(xb.shape[0]), batch_gradient(model, loss_fn, xb, yb)) for xb, yb in loader]


def _model_backend(model: Any) -> str:
    for p in model.parameters():
        return _backend.backend_of(p.data)
    return _backend.get_backend()


@dataclass
class NoiseResult:
    """What :func:`gradient_noise` measured (all norms squared Euclidean, over all parameters)."""

    n: int
    batch_sizes: list[int]
    measured: list[float]  # mean of |g_B - G|^2 over the draws
    measured_se: list[float]  # its standard error
    theory: list[float]  # tr(Sigma)/B * (N-B)/(N-1)
    draws: int
    trace_sigma: float
    grad_norm_sq: float
    b_simple: float

    def relative_error(self) -> list[float]:
        """``measured / theory - 1`` for each batch size; NaN at B = N, where both are exactly 0 (undefined)."""
        return [m / t - 1 if t > 0 else math.nan for m, t in zip(self.measured, self.theory)]

    def plot(self, ax: Any = None, title: str | None = None) -> Any:
        """Log-log plot of measured noise and theory against B; returns the Figure."""
        from tinygrad_mb.gd.plots import plot_noise  # noqa: PLC0415

        return plot_noise(self, ax=ax, title=title)

    def to_dict(self) -> dict[str, Any]:
        """All fields plus the relative errors, as plain Python (NaN/inf as strings, so it is valid JSON)."""
        from tinygrad_mb.gd.compare import _sanitize  # noqa: PLC0415  (the convention compare and sweep use)

        return _sanitize({**asdict(self), "relative_error": self.relative_error()})

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """JSON text of :meth:`to_dict`; also written to ``path`` if given."""
        from tinygrad_mb.gd.compare import _json_default, _write_text  # noqa: PLC0415

        text = json.dumps(self.to_dict(), indent=1, default=_json_default)
        if path is not None:
            _write_text(path, text)
        return text

    def to_csv(self, path: str | os.PathLike | None = None) -> str:
        """One row per batch size: measured, standard error, theory, relative error; also written to ``path``."""
        lines = ["batch_size,measured,measured_se,theory,relative_error"]
        lines += [f"{b},{m!r},{s!r},{t!r},{e!r}" for b, m, s, t, e in
                  zip(self.batch_sizes, self.measured, self.measured_se, self.theory, self.relative_error())]
        text = "\n".join(lines) + "\n"
        if path is not None:
            from tinygrad_mb.gd.compare import _write_text  # noqa: PLC0415

            _write_text(path, text)
        return text

    def __str__(self) -> str:
        rows = [f"gradient noise at the model's weights as given (N = {self.n}): tr(Sigma) = {self.trace_sigma:.4g}, "
                f"|G|^2 = {self.grad_norm_sq:.4g}, B_simple = tr(Sigma)/|G|^2 = {self.b_simple:.4g}",
                f"{'B':>6}  {'measured':>11}  {'+-s.e.':>9}  {'theory':>11}  {'rel. err':>8}"]
        for b, m, s, t, e in zip(self.batch_sizes, self.measured, self.measured_se, self.theory,
                                 self.relative_error()):
            # B = N: one batch is the whole data set, so both noises are exactly 0 and a ratio is undefined
            err = f"{e:>+8.1%}" if math.isfinite(e) else f"{'exact' if m == t == 0 else '-':>8}"
            rows.append(f"{b:>6}  {m:>11.4g}  {s:>9.2g}  {t:>11.4g}  {err}")
        return "\n".join(rows)


def gradient_noise(model: Any, loss_fn: Callable[[Any, Any], Any], dataset: Any,
                   batch_sizes: Sequence[int] = (1, 4, 16, 64, 256), draws: int = 1000,
                   seed: int | np.random.Generator | None = 0, backend: str | None = None) -> NoiseResult:
    """Measure ``E |g_B - G|^2`` at the model's current weights for each batch size, next to theory.

    Args:
        model, loss_fn, dataset: as in :func:`~tinygrad_mb.gd.train` (``loss_fn`` a mean over the batch).
        batch_sizes: the B's to measure (each between 1 and N).
        draws: mini-batches averaged per batch size, each the first batch of a fresh
            shuffle: uniform samples without replacement, independent of each other, so
            the standard error is std / sqrt(draws). B = 1 uses the N per-sample
            gradients themselves (exact: standard error 0), B = N the full batch.
        seed: for the shuffling.
        backend: where the data and gradients live (default: the model's backend); the model is moved there.

    Returns:
        A :class:`NoiseResult` (``print`` it, ``.plot()`` it).
    """
    from tinygrad_mb.data import DataLoader  # noqa: PLC0415

    ds = as_dataset(dataset)
    n = len(ds)
    sizes = [int(b) for b in batch_sizes]
    if not sizes or any(b < 1 or b > n for b in sizes):
        raise HyperparameterError(f"batch_sizes must lie between 1 and N={n}, got {list(batch_sizes)}")
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 2:
        raise HyperparameterError(f"draws must be an int >= 2, got {draws!r}")
    if backend is not None and backend != _model_backend(model):
        model.to(backend)  # as train() does: the gradients are taken where the data is
    backend = _model_backend(model)
    rng = _backend.as_rng(seed)
    G = full_gradient(model, loss_fn, ds, backend)
    per_sample = np.stack([g for _, g in minibatch_gradients(model, loss_fn, ds, 1, shuffle=False,
                                                             backend=backend)])
    dev = per_sample - G
    sq_dev = np.einsum("ij,ij->i", dev, dev)
    trace_sigma = float(sq_dev.mean())
    grad_norm_sq = float(G @ G)
    measured, se = [], []
    for b in sizes:
        if b == 1:  # every sample once: the exact B = 1 average, no sampling error
            measured.append(float(sq_dev.mean()))
            se.append(0.0)
            continue
        if b == n:  # one batch: the whole data set, no noise at all
            measured.append(0.0)
            se.append(0.0)
            continue
        # Each draw is the first batch of a fresh shuffle, so the draws are independent
        # and std / sqrt(draws) is their standard error. (The batches of one shuffle are
        # not: the two halves of a B = N/2 split have exactly the same |g_B - G|^2.)
        loader = DataLoader(ds, batch_size=b, shuffle=True, drop_last=True, seed=rng, backend=backend)
        values = []
        for _ in range(draws):
            xb, yb = next(iter(loader))
            d = batch_gradient(model, loss_fn, xb, yb) - G
            values.append(float(d @ d))
        values = np.asarray(values)
        measured.append(float(values.mean()))
        se.append(float(values.std(ddof=1) / math.sqrt(len(values))))
    theory = [trace_sigma / b * (n - b) / (n - 1) if n > 1 else 0.0 for b in sizes]
    b_simple = trace_sigma / grad_norm_sq if grad_norm_sq > 0 else math.inf
    return NoiseResult(n=n, batch_sizes=sizes, measured=measured, measured_se=se, theory=theory, draws=draws,
                       trace_sigma=trace_sigma, grad_norm_sq=grad_norm_sq, b_simple=b_simple)
