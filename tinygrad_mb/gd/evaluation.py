"""Datasets as the training loop sees them, and evaluation on the whole of them.

:func:`as_dataset` accepts the forms a user is likely to have at hand (a
``data.TensorDataset``, a bundled dataset object with ``.X``/``.y``, a tuple of
arrays) and returns something a ``DataLoader`` takes.

:class:`EvalData` computes the *full* training loss

    f(w) = (1/N) * sum_i loss_i(w)

(the quantity all three variants try to minimise, whatever batch they step
with) and the test loss/metrics, in chunks whose size-weighted mean is exactly
the mean over all samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_mb import backend as _backend
from tinygrad_mb.errors import DataError, HyperparameterError

#: Largest chunk evaluated in one forward pass (bounds memory on big datasets).
EVAL_CHUNK = 8192
#: Attribute names under which a dataset may know its optimal training loss f*.
F_STAR_ATTRS = ("min_loss", "f_star", "optimal_loss", "loss_star")


def as_dataset(obj: Any, what: str = "dataset") -> Any:
    """A ``Dataset`` the ``DataLoader`` accepts, from a dataset, an ``.X``/``.y`` object or ``(X, y)``."""
    from tinygrad_mb.data import TensorDataset  # noqa: PLC0415

    if hasattr(obj, "tensors"):
        return obj
    if hasattr(obj, "X") and hasattr(obj, "y"):
        return TensorDataset(obj.X, obj.y)
    if isinstance(obj, (tuple, list)) and len(obj) in (1, 2):
        return TensorDataset(*obj)
    if hasattr(obj, "__len__") and hasattr(obj, "__getitem__"):
        return obj
    raise DataError(
        f"{what} must be a data.Dataset, an object with .X and .y arrays, or a tuple (X, y); "
        f"got {type(obj).__name__}"
    )


def dataset_f_star(obj: Any) -> float | None:
    """The optimal training loss f* if the dataset knows it (e.g. linear regression), else None."""
    for name in F_STAR_ATTRS:
        value = getattr(obj, name, None)
        if value is not None and not callable(value):
            return float(value)
    return None


def precision_floor(f_star: float, dtype: str = "") -> float:
    """The smallest f - f* that a loss computed in ``dtype`` resolves: one unit in the last place of f*.

    Just below f* = 0.25 float32 numbers are 1.5e-8 apart, so once the weights are at
    the optimum an evaluated f - f* is rounding noise of that size, often <= 0
    (f* itself is exact, from float64). Plots and summaries clip f - f* to this
    floor instead of dropping such points. ``dtype`` is the parameters' (e.g.
    ``"float32"``; unknown: float64). For f* = 0 it is the smallest normal number.
    """
    kind = np.dtype(dtype) if dtype in ("float16", "float32", "float64") else np.dtype(np.float64)
    if f_star == 0:
        return float(np.finfo(kind).tiny)
    return float(np.spacing(kind.type(abs(f_star))))


def _label_dtype(ds: Any) -> Any:
    tensors = getattr(ds, "tensors", None)
    if tensors is not None and len(tensors) > 1:
        return tensors[1].dtype
    if len(ds) and isinstance(ds[0], (tuple, list)) and len(ds[0]) > 1:
        label = ds[0][1]
        # Not getattr(label, "dtype", np.asarray(label).dtype): the default is computed first, and
        # np.asarray of a label on the GPU is refused.
        return label.dtype if hasattr(label, "dtype") else np.asarray(label).dtype
    return None


def accuracy(outputs: Any, targets: Any) -> float:
    """Fraction of correct predictions: argmax of (N, C) logits, or ``logit > 0`` for one output."""
    xp = _backend.array_module(outputs)
    if outputs.ndim == 2 and outputs.shape[1] > 1:
        pred = outputs.argmax(axis=1)
    else:
        pred = (outputs.reshape(-1) > 0).astype(targets.dtype)
    return float(xp.mean(pred == targets.reshape(-1)))


def default_metrics(ds: Any) -> dict[str, Callable[[Any, Any], float]]:
    """Accuracy for integer labels (classification), nothing for regression."""
    dtype = _label_dtype(ds)
    if dtype is not None and np.issubdtype(np.dtype(str(dtype)), np.integer):
        return {"accuracy": accuracy}
    return {}


class EvalData:
    """Full-data evaluation of a model: train loss, test loss and metrics on both."""

    def __init__(self, train_ds: Any, test_ds: Any, backend: str,
                 metrics: dict[str, Callable[[Any, Any], float]]) -> None:
        from tinygrad_mb.data import DataLoader  # noqa: PLC0415

        self.metrics = dict(metrics)
        self.loaders = {"train": DataLoader(train_ds, batch_size=min(len(train_ds), EVAL_CHUNK),
                                            shuffle=False, backend=backend)}
        if test_ds is not None:
            self.loaders["test"] = DataLoader(test_ds, batch_size=min(len(test_ds), EVAL_CHUNK),
                                              shuffle=False, backend=backend)

    def evaluate(self, model: Any, loss_fn: Callable[[Any, Any], Any]) -> dict[str, float]:
        """``{"train_loss": ..., "train_accuracy": ..., "test_loss": ..., ...}`` (call under no_grad)."""
        record: dict[str, float] = {}
        for split, loader in self.loaders.items():
            sums = dict.fromkeys(["loss", *self.metrics], 0.0)
            count = 0
            for xb, yb in loader:
                out = model(xb)
                m = int(xb.shape[0])
                loss = loss_fn(out, yb)
                if loss.data.size != 1:  # float() would fail on it with NumPy's words, far from the cause
                    raise HyperparameterError(
                        f"loss_fn must return the batch's mean loss, one number, but it returned shape "
                        f"{tuple(loss.shape)}; use reduction='mean' (the default), or .mean() it"
                    )
                sums["loss"] += float(loss.data) * m
                for name, fn in self.metrics.items():
                    sums[name] += fn(out.data, yb.data) * m
                count += m
            for name, total in sums.items():
                record[f"{split}_{name}"] = total / count if count else math.nan
        return record


def flat_grad(params: list[Any]) -> np.ndarray:
    """All parameter gradients as one float64 NumPy vector (zeros where a grad is None)."""
    parts = []
    for p in params:
        g = p.grad
        parts.append(np.zeros(p.size) if g is None else _backend.to_numpy(g).astype(np.float64).ravel())
    return np.concatenate(parts) if parts else np.zeros(0)


def flat_params(params: list[Any]) -> np.ndarray:
    """All parameter values as one float64 NumPy vector."""
    return np.concatenate([_backend.to_numpy(p.data).astype(np.float64).ravel() for p in params]) \
        if params else np.zeros(0)
