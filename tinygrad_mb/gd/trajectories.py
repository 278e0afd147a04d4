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
import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_mb import backend as _backend
from tinygrad_mb.errors import HyperparameterError
from tinygrad_mb.gd.evaluation import EvalData, as_dataset
from tinygrad_mb.gd.history import History
from tinygrad_mb.gd.plots import variant_kind  # plots imports matplotlib only when a figure is drawn
from tinygrad_mb.gd.trainer import train
from tinygrad_mb.gd.variants import Variant


@dataclass
class TrajectoryResult:
    """Paths (one ``(updates + 1, 2)`` array per variant label) and the loss on a grid around them.

    A run that diverged is a result too: its path ends where the run stopped,
    :meth:`diverged_at` says at which update, and :meth:`summary_lines` says so.
    """

    names: tuple[str, str]
    paths: dict[str, np.ndarray]
    grid: tuple[np.ndarray, np.ndarray, np.ndarray]  # W1, W2, f(W1, W2) over the view (see _view_box)
    optimum: tuple[float, float] | None
    updates: int | None
    epochs: float | None
    histories: dict[str, History] = field(default_factory=dict)
    losses: dict[str, np.ndarray] = field(default_factory=dict)  # full training loss at every path point; inf: overflow
    # each panel's own view and loss grid, filled only when the shared view would shrink a path to a dot
    panel_grids: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)

    # --- what each run did ------------------------------------------------------------
    def view_of(self, label: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(W1, W2, F)`` of the panel of ``label``: its own view if it has one, else the shared ``grid``."""
        return self.panel_grids.get(label, self.grid)

    def updates_made(self, label: str) -> int:
        """Updates the run of ``label`` took (its path has one point more: the start)."""
        return len(self.paths[label]) - 1

    def diverged_at(self, label: str) -> int | None:
        """The update at which the run of ``label`` diverged (could not continue), or None."""
        h = self.histories.get(label)
        return h.diverged_at if h is not None and h.diverged else None

    def final_loss(self, label: str) -> float:
        """Full training loss at the path's last point: where the run ended, blown up or not (inf: overflow)."""
        if label in self.losses:
            return float(self.losses[label][-1])
        return self.histories[label].final_loss

    def start_loss(self, label: str) -> float:
        """Full training loss at the start of the path."""
        return float(self.losses[label][0]) if label in self.losses else self.histories[label].initial_loss

    def summary_lines(self) -> list[str]:
        """One line per variant: updates made and final loss, or where it diverged."""
        lines = []
        for label in self.paths:
            k, at, last = self.updates_made(label), self.diverged_at(label), self.final_loss(label)
            if at is None:
                lines.append(f"{label}: {_count(k, 'update')}, final loss {last:.5g}")
            else:
                lines.append(f"{label}: diverged after update {k} (loss {self.start_loss(label):.5g} at the start, "
                             f"{last:.3g} after update {k}; update {at} was not taken)")
        return lines

    def __str__(self) -> str:
        return "\n".join(self.summary_lines())

    def budget_text(self) -> str:
        """What ran: ``"80 updates each"``, or the budget and every run's count of updates when they differ."""
        asked = [_count(self.epochs, "epoch") if self.epochs else "",
                 _count(self.updates, "update") if self.updates else ""]
        asked_text = " or ".join(a for a in asked if a) + (", whichever came first" if all(asked) else "")
        counts = {label: self.updates_made(label) for label in self.paths}
        if len(set(counts.values())) == 1 and not any(self.diverged_at(label) for label in self.paths):
            each = _count(next(iter(counts.values())), "update")
            return f"{each} each" + ("" if asked_text == each else f" (budget: {asked_text})")
        names = [h.variant.name for h in self.histories.values()]
        short = {label: h.variant.name if names.count(h.variant.name) == 1 else label
                 for label, h in self.histories.items()}
        made = ", ".join(f"{short.get(label, label)} {k}" + (" (diverged)" if self.diverged_at(label) else "")
                         for label, k in counts.items())
        return f"budget: {asked_text}; updates made: {made}"

    # --- figure and export ------------------------------------------------------------
    def plot(self, title: str | None = None) -> Any:
        """One panel per variant: contours of f - min f with the variant's path; returns the Figure."""
        return plot_trajectories(self, title=title)

    def to_csv(self, path: str | os.PathLike | None = None) -> str:
        """Long format: variant, update, w1, w2 (``nan``/``inf`` where a diverged run overflowed)."""
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
        """JSON text: names, budget, optimum, paths, final losses and divergence; also written to ``path``.

        Non-finite numbers are written as strings (``"inf"``, ``"nan"``), as :mod:`tinygrad_mb.gd.compare` does.
        """
        from tinygrad_mb.gd.compare import _sanitize, _write_text  # noqa: PLC0415

        doc = {"names": list(self.names), "updates": self.updates, "epochs": self.epochs, "optimum": self.optimum,
               "paths": {k: v.tolist() for k, v in self.paths.items()},
               "updates_made": {k: self.updates_made(k) for k in self.paths},
               "final_loss": {k: self.final_loss(k) for k in self.paths},
               "diverged_at": {k: self.diverged_at(k) for k in self.paths}}
        text = json.dumps(_sanitize(doc), indent=1)
        if path is not None:
            _write_text(path, text)
        return text


def _count(value: float, unit: str) -> str:
    """``"1 update"``, ``"80 updates"``, ``"0.5 epochs"``."""
    return f"{value:g} {unit}" + ("" if value == 1 else "s")


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
        # evaluate after every update: the loss along the whole path, and a blow-up
        # caught at the update where it happens (not at the end of an SGD epoch)
        h = train(model, loss_fn, ds, v, updates=updates, epochs=epochs, seed=seed, record_params=True,
                  backend=backend, eval_every=v.resolve_batch_size(n))
        label = v.label(n)
        if label in paths:  # the second run would replace the first without a word
            raise HyperparameterError(f"trajectories: two variants have the same label, {label}; make them differ")
        paths[label] = h.params
        histories[label] = h
    model.load_state_dict(initial)

    evaluator = EvalData(ds, None, backend or _backend.backend_of(params[0].data), {})

    def loss_at(point: Sequence[float]) -> float:
        _set_point(model, params, point)
        loss = evaluator.evaluate(model, loss_fn)["train_loss"]
        return loss if math.isfinite(loss) else math.inf

    # weights that overflowed give inf/nan losses: expected here, not worth a warning
    with no_grad(), np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        losses = {label: _path_losses(histories[label], paths[label], loss_at) for label in paths}
        diverged = {label: histories[label].diverged for label in paths}
        lo, hi = _view_box(paths, losses, diverged, optimum)
        grid = _loss_grid(lo, hi, grid_size, loss_at)
        # One view for all panels compares the paths at one scale, unless a run that wanders far
        # (SGD at a large rate) or the swings of a diverging one would leave another path a dot:
        # that panel zooms in on its own path (in a box of the shared view's shape, so the panels align).
        squeezed = [label for label in paths if _fill(paths[label], optimum, lo, hi) < OWN_VIEW_FILL]
        own = {label: _view_box({label: paths[label]}, {label: losses[label]}, {label: diverged[label]}, optimum)
               for label in squeezed}
        panel_grids = {label: _loss_grid(*_with_shape(box, hi - lo), grid_size, loss_at) for label, box in own.items()}
    model.load_state_dict(initial)
    return TrajectoryResult(names=names, paths=paths, grid=grid, optimum=optimum, updates=updates,
                            epochs=epochs, histories=histories, losses=losses, panel_grids=panel_grids)


def _loss_grid(lo: np.ndarray, hi: np.ndarray, size: int,
               loss_at: Callable[[Sequence[float]], float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(W1, W2, f(W1, W2))`` on a ``size`` x ``size`` grid over the box ``lo..hi``."""
    W1, W2 = np.meshgrid(np.linspace(lo[0], hi[0], size), np.linspace(lo[1], hi[1], size))
    F = np.array([loss_at(point) for point in zip(W1.ravel(), W2.ravel())]).reshape(W1.shape)
    return W1, W2, F


#: A panel gets its own view when, in the shared one, its path (with the start and the
#: optimum) would span less than this fraction of the view in both directions: a dot next
#: to another run's wide swings.
OWN_VIEW_FILL = 0.25


def _fill(path: np.ndarray, optimum: Sequence[float] | None, lo: np.ndarray, hi: np.ndarray) -> float:
    """How much of the view ``lo..hi`` the path's visible part spans, in the direction where it spans most (0..1)."""
    with np.errstate(invalid="ignore"):
        inside = path[np.all(np.isfinite(path) & (path >= lo) & (path <= hi), axis=1)]
    pts = [path[:1], inside] + ([] if optimum is None else [np.asarray(optimum, dtype=np.float64).reshape(1, 2)])
    pts = np.concatenate(pts)
    return float(np.max((pts.max(axis=0) - pts.min(axis=0)) / (hi - lo)))


def _with_shape(box: tuple[np.ndarray, np.ndarray], shape: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The box widened (about its centre) along one axis to the height/width ratio of ``shape``."""
    lo, hi = box
    span = hi - lo
    target = shape[1] / shape[0]
    span = np.array([span[0], span[0] * target]) if span[1] / span[0] < target else \
        np.array([span[1] / target, span[1]])
    centre = (lo + hi) / 2
    return centre - span / 2, centre + span / 2


def _path_losses(h: History, path: np.ndarray, loss_at: Callable[[Sequence[float]], float]) -> np.ndarray:
    """Full training loss at every point of a path: from the run's evaluations, the rest evaluated here."""
    losses = np.full(len(path), np.nan)
    done = h.evals["update"]
    known = done < len(path)
    losses[done[known]] = h.evals["train_loss"][known]
    for k in np.flatnonzero(np.isnan(losses)):  # at most the point a blow-up was detected at
        losses[k] = loss_at(path[k])
    return np.where(np.isfinite(losses), losses, np.inf)


#: A diverged run's points count for the view while their loss is within this many
#: times the start's distance to the lowest loss seen: its first swings, not its flight.
VIEW_LOSS_FACTOR = 4.0


def _view_box(paths: dict[str, np.ndarray], losses: dict[str, np.ndarray], diverged: dict[str, bool],
              optimum: Sequence[float] | None) -> tuple[np.ndarray, np.ndarray]:
    """The rectangle worth drawing: the start, the optimum, and every path point whose loss is at most
    the worst loss of a run that did not diverge (or a few times the start's). Blown-up points are left
    out, so one diverged run cannot shrink the others to a dot."""
    all_losses = np.concatenate(list(losses.values()))
    f_low = float(all_losses[np.isfinite(all_losses)].min())  # the start's loss at least: always finite
    f0 = float(next(iter(losses.values()))[0])
    ceiling = f_low + VIEW_LOSS_FACTOR * (f0 - f_low)
    ceiling = max([ceiling] + [float(losses[k].max()) for k in paths if not diverged[k]])
    pts = [next(iter(paths.values()))[:1]]
    pts += [p[losses[k] <= ceiling] for k, p in paths.items()]
    if optimum is not None:
        pts.append(np.asarray(optimum, dtype=np.float64).reshape(1, 2))
    pts = np.concatenate(pts)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = np.maximum(hi - lo, max(1e-3, 0.1 * float(np.abs(pts).max())))  # never a zero-width view
    pad = 0.12 * span
    return lo - pad, hi + pad


# --- the figure ------------------------------------------------------------------------
def _contour_levels(F: np.ndarray) -> tuple[np.ma.MaskedArray, np.ndarray] | None:
    """``f - min f`` (non-finite values masked) and log-spaced levels; None if there is nothing to contour."""
    finite = np.isfinite(F)
    if not finite.any():
        return None
    gap = np.ma.masked_invalid(F - F[finite].min())
    top = float(gap.max())
    if not (top > 0 and math.isfinite(top)):  # a flat landscape
        return None
    return gap, np.geomspace(top * 1e-3, top, 13)  # log-spaced: near and far both visible


def _edge_point(p: np.ndarray, q: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Where the segment from ``p`` (inside the box ``lo..hi``) to ``q`` (outside) crosses the box's edge."""
    d = q - p
    with np.errstate(divide="ignore", invalid="ignore"):
        t_hi = np.where(d > 0, (hi - p) / d, np.inf)
        t_lo = np.where(d < 0, (lo - p) / d, np.inf)
    return p + min(1.0, float(t_hi.min()), float(t_lo.min())) * d


def _visible_part(path: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, bool]:
    """The path up to where it leaves the view for good, ending on the view's edge; and whether it left."""
    with np.errstate(invalid="ignore"):
        inside = np.all(np.isfinite(path) & (path >= lo) & (path <= hi), axis=1)
    last = int(np.flatnonzero(inside)[-1]) if inside.any() else 0
    if last == len(path) - 1:
        return path, False
    head = path[: last + 1]
    if not np.all(np.isfinite(path[last + 1])):  # overflowed in one step: no direction to follow
        return head, True
    return np.vstack([head, _edge_point(path[last], path[last + 1], lo, hi)]), True


def _path_story(batch_sizes: Sequence[int], n: int) -> str:
    """What the paths of these kinds of variant show: the full story only when all three kinds are drawn."""
    kinds = {variant_kind(b, n) for b in batch_sizes}
    lines = {"batch": "batch GD is smooth", "sgd": "SGD zig-zags", "minibatch": "mini-batch lies in between"}
    if kinds == {"minibatch"}:
        return "the larger the batch, the straighter the path" if len(batch_sizes) > 1 else "mini-batch is noisy"
    if "minibatch" in kinds and len(kinds) == 2:
        lines["minibatch"] = "mini-batch " + ("is smoother than SGD" if "sgd" in kinds else "is noisier than batch")
    return ", ".join(lines[k] for k in ("batch", "sgd", "minibatch") if k in kinds)


def plot_trajectories(result: TrajectoryResult, title: str | None = None) -> Any:
    """Loss contours of a two-parameter problem with each variant's path, one panel per variant.

    A diverged path is drawn until it leaves the view, where an arrow shows which way
    it flew off and a ✕ marks "diverged after update k". The panels share one view, except
    one whose path it would shrink to a dot (see ``TrajectoryResult.panel_grids``): that
    panel zooms in on its own path, and its title says so.
    """
    from tinygrad_mb.gd.plots import (  # noqa: PLC0415
        COLORS, LEGEND_HANDLE_LENGTH, new_figure, variant_colors, variant_styles)

    k = len(result.paths)
    shared = not result.panel_grids
    views = {label: result.view_of(label) for label in result.paths}
    boxes = {label: (np.array([W1.min(), W2.min()]), np.array([W1.max(), W2.max()]))
             for label, (W1, W2, _) in views.items()}
    # equal axis scales (true contour shapes): a panel's height follows its view's shape
    ratios = {label: float((hi[1] - lo[1]) / max(hi[0] - lo[0], 1e-12)) for label, (lo, hi) in boxes.items()}
    legend_below = min(ratios.values()) < 0.5  # a flat panel has no room inside for the legend
    height = min(max(4.4 * max(ratios.values()), 1.2), 6.5) + 1.4 + (0.9 if legend_below else 0)
    # constrained layout: tight_layout measured the equal-aspect panels before they shrank and
    # pushed the x labels off the bottom edge
    # Up to three panels in a row; more wrap into two rows (five in one row made each panel and its text tiny).
    rows = 1 if k <= 3 else 2
    cols = -(-k // rows)
    fig, axes = new_figure(rows, cols, (4.8 * cols, height * rows), sharex=shared, sharey=shared,
                           layout="constrained")
    for j in range(k, rows * cols):  # an odd count leaves the last place of the second row empty
        axes[j].set_visible(False)
        axes[j - cols].xaxis.set_tick_params(labelbottom=True)  # the panel above it is a column's bottom now
    # colours and line styles by kind (full batch solid blue, SGD dotted vermillion), as in the comparison
    # figure, whatever the order
    runs = [result.histories.get(label) for label in result.paths]
    if all(runs):
        sizes, n = [h.batch_size for h in runs], runs[0].n_train
        colors, styles = variant_colors(sizes, n), variant_styles(sizes, n)
    else:
        colors, styles = [COLORS[i % len(COLORS)] for i in range(k)], ["-"] * k
    for i, (a, (label, path)) in enumerate(zip(axes, result.paths.items())):
        W1, W2, F = views[label]
        lo, hi = boxes[label]
        contours = _contour_levels(F)
        if contours is not None:
            gap, levels = contours
            top = levels[-1]
            a.contourf(W1, W2, np.ma.maximum(gap, top * 1e-4), levels=np.concatenate([[0], levels]),
                       cmap="Blues_r", alpha=0.5)
            a.contour(W1, W2, gap, levels=levels, colors="white", linewidths=0.7)
        a.set_aspect("equal")
        a.set_anchor("N")  # an equal-aspect panel shorter than its slot sits under its title, not mid-slot
        color = colors[i]
        at = result.diverged_at(label)
        drawn, left = _visible_part(path, lo, hi)
        a.plot(drawn[:, 0], drawn[:, 1], color=color, ls=styles[i], lw=1.1 if len(drawn) > 100 else 1.6,
               alpha=0.95, marker="." if len(drawn) <= 100 else None, ms=5, label="path")
        a.plot(*path[0], "o", color="black", ms=7, label="start")
        if result.optimum is not None:
            a.plot(*result.optimum, "P", color="gold", mec="black", ms=10, label="minimum w*", zorder=4)
        made = result.updates_made(label)
        if at is None:
            a.plot(*path[-1], "*", color=color, mec="black", ms=14, label=f"end ({_count(made, 'update')})", zorder=5)
        else:
            if left and len(drawn) > 1:  # which way it flew off
                a.annotate("", xy=drawn[-1], xytext=drawn[-2],
                           arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.6, "mutation_scale": 16})
            where = " (off the view)" if left else ""
            a.plot(*drawn[-1], "X", color=color, mec="black", ms=12, ls="none", clip_on=False, zorder=6,
                   label=f"diverged after update {made}{where}")
        what = f"{label}" if at is None else f"{label}\n{_count(made, 'update')}, then diverged"
        if label in result.panel_grids:  # its path would be a dot in the others' view
            what += "\nzoomed in: its own axis scales"
        a.set_title(what, fontsize=10.5)
        if i + cols >= k or not shared:  # under the column's last panel only, where its numbers are
            a.set_xlabel(f"w₁ = {result.names[0]}")
        if i % cols == 0 or not shared:
            a.set_ylabel(f"w₂ = {result.names[1]}")
        if legend_below:
            a.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.3), frameon=False,
                     handlelength=LEGEND_HANDLE_LENGTH)
        else:
            a.legend(fontsize=8, loc="best", framealpha=0.85, handlelength=LEGEND_HANDLE_LENGTH)
        a.set_xlim(lo[0], hi[0])
        a.set_ylim(lo[1], hi[1])
    n_div = sum(result.diverged_at(label) is not None for label in result.paths)
    story = (_path_story([h.batch_size for h in runs], runs[0].n_train) if all(runs) else "one path per variant")
    if n_div:
        story = f"{n_div} of {k} runs diverged (✕): learning rate too large"
    fig.suptitle(title or f"Paths on the loss contours: {story}\n({result.budget_text()}; "
                          "contours of f(w) − min f, log-spaced)", fontsize=11)
    return fig
