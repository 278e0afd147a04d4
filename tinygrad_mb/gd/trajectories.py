"""The classic picture: each variant's path across the loss contours, :func:`trajectories`.

With only two parameters ``w = (w1, w2)`` the loss ``f(w1, w2)`` is a landscape
we can draw. Batch gradient descent follows the steepest-descent direction of
``f`` itself: a smooth curve, bending where the contours are elongated. SGD
follows the gradient of ONE sample's loss, which points somewhere else every
time: a zig-zag that wanders around the minimum without settling (at a
constant learning rate). Mini-batches average B of those directions: in between.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_mb import backend as _backend
from tinygrad_mb.errors import HyperparameterError
from tinygrad_mb.gd.evaluation import EvalData, as_dataset
from tinygrad_mb.gd.history import History
from tinygrad_mb.gd.trainer import train
from tinygrad_mb.gd.variants import Variant


@dataclass
class TrajectoryResult:
    """Paths (one ``(updates + 1, 2)`` array per variant label) and the loss on a grid around them."""

    names: tuple[str, str]
    paths: dict[str, np.ndarray]
    grid: tuple[np.ndarray, np.ndarray, np.ndarray]  # W1, W2, f(W1, W2)
    optimum: tuple[float, float] | None
    updates: int | None
    epochs: float | None
    histories: dict[str, History] = field(default_factory=dict)

    def plot(self, title: str | None = None) -> Any:
        """One panel per variant: contours of f - min f with the variant's path; returns the Figure."""
        from tinygrad_mb.gd.plots import plot_trajectories  # noqa: PLC0415

        return plot_trajectories(self, title=title)

    def to_csv(self, path: str | os.PathLike | None = None) -> str:
        """Long format: variant, update, w1, w2."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["variant", "update", self.names[0], self.names[1]])
        for label, p in self.paths.items():
            writer.writerows([label, k, repr(float(a)), repr(float(b))] for k, (a, b) in enumerate(p))
        text = buf.getvalue()
        if path is not None:
            from tinygrad_mb.gd.compare import _write_text  # noqa: PLC0415

            _write_text(path, text)
        return text

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """JSON text: parameter names, budget, optimum, paths and final losses; also written to ``path``."""
        doc = {"names": list(self.names), "updates": self.updates, "epochs": self.epochs, "optimum": self.optimum,
               "paths": {k: v.tolist() for k, v in self.paths.items()},
               "final_loss": {k: h.final_loss for k, h in self.histories.items()}}
        text = json.dumps(doc, indent=1)
        if path is not None:
            from tinygrad_mb.gd.compare import _write_text  # noqa: PLC0415

            _write_text(path, text)
        return text


def _set_point(model: Any, params: list[Any], point: Sequence[float]) -> None:
    """Write the two numbers of ``point`` into the model's parameters (two numbers in all), in order."""
    values = np.asarray(point, dtype=np.float64).ravel()
    i = 0
    for p in params:
        xp = _backend.array_module(p.data)
        size = int(np.prod(p.shape))
        p.data[...] = xp.asarray(values[i: i + size], dtype=p.data.dtype).reshape(p.data.shape)
        i += size


def _scalar_names(model: Any) -> tuple[str, ...]:
    """``("weight[0]", "weight[1]")`` for one (1, 2) weight, ``("weight", "bias")`` for two scalars."""
    names = []
    for name, p in model.named_parameters():
        size = int(np.prod(p.shape))
        names += [name] if size == 1 else [f"{name}[{i}]" for i in range(size)]
    return tuple(names)


def trajectories(model: Any = None, loss_fn: Callable[[Any, Any], Any] | None = None, dataset: Any = None,
                 variants: Sequence[Variant] | None = None, *, updates: int | None = None,
                 epochs: float | None = None, seed: int = 0,
                 start: Sequence[float] | None = None, optimum: Sequence[float] | None = None,
                 grid_size: int = 90, backend: str | None = None) -> TrajectoryResult:
    """Train each variant from the same start on a two-parameter problem and record its path.

    Args:
        model: a ``Module`` with exactly two scalar parameters (e.g.
            ``nn.Linear(2, 1, bias=False)``). Default: the built-in ``linear2d``
            problem (least squares with elongated contours).
        loss_fn, dataset: as in :func:`train` (default: that problem's).
        variants: default: batch GD, SGD and mini-batch (B=16) at the problem's default rates.
        updates, epochs: budget of every run (default: 80 updates each, so the paths have
            comparable numbers of steps; give ``epochs`` to compare at equal data instead).
        start: starting point ``(w1, w2)`` (default: the problem's, or the model's weights).
        optimum: where to mark the minimum (default: the dataset's ``w_star`` if it has one).
        grid_size: contour grid resolution per axis.
    """
    from tinygrad_mb.gd.problems import make_problem  # noqa: PLC0415
    from tinygrad_mb.tensor import no_grad  # noqa: PLC0415

    if model is None:
        prob = make_problem("linear2d", model="linear")
        model, loss_fn = prob.model_fn(seed), prob.loss_fn
        dataset = prob.train if dataset is None else dataset
        start = prob.start if start is None else start
        if variants is None:
            variants = prob.default_variants("batch,sgd,minibatch:16")
    if loss_fn is None or dataset is None:
        raise HyperparameterError("trajectories: pass loss_fn and dataset together with model")
    if not variants:
        raise HyperparameterError("trajectories: give at least one variant")
    params = list(model.parameters())
    names = _scalar_names(model)
    if len(names) != 2:
        raise HyperparameterError(
            f"trajectories needs a model with exactly two numbers as parameters, got shapes "
            f"{[tuple(p.shape) for p in params]}; e.g. nn.Linear(2, 1, bias=False) or nn.Linear(1, 1)")
    if start is not None:
        _set_point(model, params, start)
    if optimum is None:
        w_star = getattr(dataset, "w_star", None)
        optimum = None if w_star is None else tuple(float(v) for v in np.ravel(w_star)[:2])
    if updates is None and epochs is None:
        updates = 80
    initial = model.state_dict()
    ds = as_dataset(dataset)
    n = len(ds)
    paths, histories = {}, {}
    for v in variants:
        model.load_state_dict(initial)
        h = train(model, loss_fn, ds, v, updates=updates, epochs=epochs, seed=seed, record_params=True,
                  backend=backend, eval_every=n)
        label = v.label(n)
        paths[label] = h.params
        histories[label] = h
    model.load_state_dict(initial)

    pts = np.concatenate([p[np.all(np.isfinite(p), axis=1)] for p in paths.values()])
    if optimum is not None:
        pts = np.vstack([pts, optimum])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.12 * np.maximum(hi - lo, 1e-3)
    w1 = np.linspace(lo[0] - pad[0], hi[0] + pad[0], grid_size)
    w2 = np.linspace(lo[1] - pad[1], hi[1] + pad[1], grid_size)
    W1, W2 = np.meshgrid(w1, w2)
    evaluator = EvalData(ds, None, backend or _backend.backend_of(params[0].data), {})
    F = np.empty_like(W1)
    with no_grad():
        for idx in np.ndindex(W1.shape):
            _set_point(model, params, (W1[idx], W2[idx]))
            F[idx] = evaluator.evaluate(model, loss_fn)["train_loss"]
    model.load_state_dict(initial)
    return TrajectoryResult(names=names, paths=paths, grid=(W1, W2, F), optimum=optimum, updates=updates,
                            epochs=epochs, histories=histories)
