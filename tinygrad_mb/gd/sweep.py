"""How many steps does each batch size need? A learning-rate sweep, :func:`sweep`.

For each batch size B we try a grid of learning rates, keep the best one, and
count the updates it needs to bring the full training loss down to a target.
Plotted against B on log-log axes, the counts show two regimes (Shallue et
al., 2019; McCandlish et al., 2018)::

    steps(B) ~ S_min * (1 + B_noise / B)

* **perfect scaling** for B << B_noise: the gradient noise dominates, doubling
  B halves the noise, allows twice the step and halves the steps (slope -1);
* **diminishing returns** for B >> B_noise: the gradient is already nearly
  exact, the step is capped by the curvature (lr < 2/L), and more samples per
  step buy almost nothing (the curve flattens towards S_min, the count of a
  noise-free gradient, which is full-batch GD's; the curve counts batches drawn
  with replacement, so at B = N it overcounts, S_min (1 + B_noise / N)).

The sweep fits that curve; ``B_noise`` estimates the *critical batch size*.
A run's count is the update of its first evaluation at or below the target,
so a noisy run that dips below it by luck counts too: see :func:`sweep`
(several seeds make that less likely).
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from tinygrad_mb.errors import DataError, HyperparameterError
from tinygrad_mb.gd.evaluation import as_dataset, dataset_f_star
from tinygrad_mb.gd.trainer import train
from tinygrad_mb.gd.variants import Variant


@dataclass
class SweepResult:
    """Best learning rate and steps-to-target per batch size, and every run's outcome."""

    n: int
    target: float
    batch_sizes: list[int]
    lrs: list[float]
    best_lr: list[float]  # nan where no rate reached the target, or every rate tied at 0 updates
    steps_to_target: list[float]  # updates (mean over seeds); inf where not reached; 0: met at the start
    samples_to_target: list[float]
    runs: list[dict[str, Any]]  # one per (B, lr): steps (inf if not reached), diverged, capped, best
    fit: tuple[float, float] | None  # (S_min, B_noise) of steps = S_min (1 + B_noise / B)
    budgets: list[int] = field(default_factory=list)  # most updates a run of each batch size was allowed
    seeds: int = 1  # runs per (B, lr): the counts are means over them

    def plot(self, title: str | None = None) -> Any:
        """Log-log steps-to-target against B, and best lr against B; returns the Figure."""
        return plot_sweep(self, title=title)

    def met_at_start(self) -> bool:
        """True when the target loss holds at the initial weights (0 updates for every batch size)."""
        return bool(self.steps_to_target) and all(s == 0 for s in self.steps_to_target)

    def runs_at(self, batch_size: int) -> list[dict[str, Any]]:
        """The runs (one per learning rate) of one batch size."""
        return [r for r in self.runs if r["batch_size"] == batch_size]

    def all_diverged(self, batch_size: int) -> bool:
        """True when every learning rate tried at ``batch_size`` diverged: the grid's rates are all too large."""
        runs = self.runs_at(batch_size)
        return bool(runs) and all(r["diverged"] for r in runs)

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain Python (infinities as strings, so it is valid JSON)."""
        from tinygrad_mb.gd.compare import _sanitize  # noqa: PLC0415  (one convention for every result)

        return _sanitize(asdict(self))

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """JSON text of :meth:`to_dict`; also written to ``path`` if given."""
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            from tinygrad_mb.gd.compare import _write_text  # noqa: PLC0415

            _write_text(path, text)
        return text

    def to_csv(self, path: str | os.PathLike | None = None) -> str:
        """Every (batch size, lr) run: steps and samples to target (inf: not reached), diverged, capped, best."""
        lines = ["batch_size,lr,steps_to_target,samples_to_target,diverged,capped,best"]
        for r in self.runs:
            lines.append(f"{r['batch_size']},{r['lr']!r},{r['steps']},{r['samples']},{r['diverged']},{r['capped']},"
                         f"{r['best']}")
        text = "\n".join(lines) + "\n"
        if path is not None:
            from tinygrad_mb.gd.compare import _write_text  # noqa: PLC0415

            _write_text(path, text)
        return text

    def __str__(self) -> str:
        means = f"; means over {self.seeds} seeds" if self.seeds > 1 else ""
        rows = [f"learning-rate sweep: updates to reach full training loss <= {self.target:.6g} (N = {self.n}{means})",
                f"{'B':>6}  {'best lr':>9}  {'updates':>9}  {'samples':>10}"]
        for b, lr, s, m in zip(self.batch_sizes, self.best_lr, self.steps_to_target, self.samples_to_target):
            if s == 0:  # every rate ties: no update was needed
                rows.append(f"{b:>6}  {'-':>9}  {0:>9}  {0:>10}  (target met at the start)")
            elif math.isfinite(s):
                rows.append(f"{b:>6}  {lr:>9.4g}  {_count(s):>9}  {_count(m):>10}")
            else:
                rows.append(f"{b:>6}  {'-':>9}  {'not reached':>9}  {self._why_not_reached(b)}")
        if self.met_at_start():
            rows.append("the target is already met at the initial weights: 0 updates for every batch size "
                        "and rate, so no rate is best (choose a lower target)")
        if self.fit is not None:
            rows.append(f"fit steps = S_min (1 + B_noise/B): S_min = {self.fit[0]:.4g}, B_noise = {self.fit[1]:.4g}")
        return "\n".join(rows)

    def _why_not_reached(self, batch_size: int) -> str:
        """Which way to move: a rate that blew up wants a smaller one, a slow one more updates."""
        runs = self.runs_at(batch_size)
        n_div = sum(r["diverged"] for r in runs)
        if self.all_diverged(batch_size):
            return "(all rates diverged; try smaller --lrs)"
        if n_div:
            return f"({n_div} of {len(runs)} rates diverged, the rest ran out of updates)"
        return "(no rate diverged: each ran out of updates; try more --epochs or larger --lrs)"


def fit_steps(batch_sizes: Sequence[float], steps: Sequence[float]) -> tuple[float, float] | None:
    """Least squares (relative errors) for ``steps = S_min + S_min * B_noise / B``; None if ill-posed."""
    b, s = np.asarray(batch_sizes, float), np.asarray(steps, float)
    ok = np.isfinite(s) & (s > 0)
    if ok.sum() < 2:
        return None
    A = np.stack([np.ones(ok.sum()), 1 / b[ok]], axis=1) / s[ok, None]
    (a, c), *_ = np.linalg.lstsq(A, np.ones(ok.sum()), rcond=None)
    if a <= 0 or c < 0:
        return None
    return float(a), float(c / a)


def sweep(model: Any, loss_fn: Callable[[Any, Any], Any], dataset: Any, *,
          batch_sizes: Sequence[int] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1000),
          lrs: Sequence[float] | None = None, target: float | None = None, epochs: float = 5,
          min_updates: int = 200, seeds: Sequence[int] = (0,), optimizer: str = "sgd",
          backend: str | None = None, progress: bool = False) -> SweepResult:
    """For each batch size, find the learning rate that reaches ``target`` in the fewest updates.

    Args:
        model: a ``Module`` (every run trains a copy of it as it is now) or a factory ``seed -> Module``.
        loss_fn, dataset: as in :func:`train`.
        batch_sizes: the B's to try (values >= N mean full batch).
        lrs: the learning-rate grid (default: 2^-10 ... 2^1 in factors of sqrt(2)).
        target: the full training loss to reach (default: ``f* + 3e-4 (f0 - f*)`` when f* is
            known, else 10% of the initial loss f0).
        epochs, min_updates: a run that has not reached the target after
            ``max(epochs * N / B, min_updates)`` updates counts as "not reached".
        seeds: runs per (B, lr); the steps are averaged (a rate counts only if every seed reaches).
        optimizer: optimizer name for every run (see :class:`Variant`).

    The best rate of a batch size is the one with the fewest updates (mean over the seeds); of
    rates that tie, the larger, which is tried first.

    A run's steps to target is the update of its **first** evaluation at or below ``target``
    (the full loss is evaluated every ``max(B, N // 200)`` samples, and the run stops there),
    even if its loss climbs back above the target later. With a noisy gradient (small B, large
    rate) the loss fluctuates around a noise floor, and a floor near the target can dip below
    it early by luck, making that rate look best. Several seeds (``seeds=[0, 1, 2]``) guard
    against it: the steps are averaged, and a rate counts only if every seed reaches the target.

    Once a rate of one batch size has reached the target, the other rates of that
    batch size get only as many updates as could still beat it (their seeds
    together fewer than the best rate's), which keeps the sweep cheap; their
    rows then say ``capped``.
    """
    lrs = sorted((float(x) for x in (lrs if lrs is not None else 2.0 ** np.arange(-10, 1.25, 0.5))),
                 reverse=True)
    if not lrs or any(not math.isfinite(x) or x <= 0 for x in lrs):
        raise HyperparameterError(f"lrs must be positive finite numbers, got {lrs}")
    ds = as_dataset(dataset)
    n = len(ds)
    if n == 0:
        raise DataError("dataset is empty (0 samples): there is nothing to sweep on")
    sizes = sorted({min(int(b), n) for b in batch_sizes})
    if not sizes or sizes[0] < 1:
        raise HyperparameterError(f"batch_sizes must be positive ints, got {list(batch_sizes)}")
    seeds = list(seeds)
    if not seeds:
        raise HyperparameterError("seeds must name at least one seed, e.g. seeds=[0]")
    is_module = hasattr(model, "state_dict")
    nets = {s: (model if is_module else model(s)) for s in seeds}  # templates: every run trains a copy
    if target is None:
        target = default_target(nets[seeds[0]], loss_fn, dataset, backend)
    if not math.isfinite(target):  # nan is never reached and inf always: either way no rate could be told apart
        raise HyperparameterError(f"target must be a finite loss, got {target!r}")
    bar = None
    if progress:
        from tinygrad_mb.gd.compare import _progress_bar  # noqa: PLC0415

        bar = _progress_bar(True, len(sizes) * len(lrs))
    runs: list[dict[str, Any]] = []
    best_lr, best_steps, best_samples, budgets = [], [], [], []
    for b in sizes:
        best, best_run = (math.inf, math.nan, math.inf), None
        budget = max(math.ceil(epochs * n / b), min_updates)
        budgets.append(budget)
        for lr in lrs:
            if best[0] == 0:
                # the target holds at the initial weights (every seed's update 0), whatever the
                # rate: every other rate ties at 0 updates without being run
                runs.append({"batch_size": b, "lr": lr, "steps": 0.0, "samples": 0.0, "diverged": False,
                             "capped": True, "best": False})
                if bar is not None:
                    bar.update(1)
                continue
            # A rate beats the best one so far only if its mean over the seeds is lower, that is,
            # if all its seeds together need fewer than len(seeds) * best updates. So each seed
            # may run for what the seeds before it left of that total, and once it is spent the
            # rate has lost. (Capping every seed at the best *mean* would cut off a winner whose
            # seeds differ: one seed above the mean, the others well below it.)
            steps, samples, diverged, capped = [], [], False, False
            for s in seeds:
                cap = budget
                if math.isfinite(best[0]):
                    left = len(seeds) * best[0] - sum(steps)  # -inf once a seed has missed
                    if left <= 0:
                        steps, samples, capped = [math.inf], [math.inf], True  # lost: skip the other seeds
                        break
                    cap = min(budget, math.ceil(left))
                capped |= cap < budget
                # a fresh copy, as in compare(): reloading only the weights would let a layer's own
                # random generator (nn.Dropout(seed=...)) carry on from the previous rate's run
                h = train(copy.deepcopy(nets[s]), loss_fn, ds, Variant("sweep", b, lr, optimizer=optimizer),
                          updates=cap, seed=s, stop_loss=target, eval_every=max(b, n // 200), backend=backend)
                hit = h.reach(target)
                diverged |= h.diverged
                steps.append(hit["update"] if hit else math.inf)
                samples.append(hit["samples"] if hit else math.inf)
            mean_steps = float(np.mean(steps))
            runs.append({"batch_size": b, "lr": lr, "steps": mean_steps, "samples": float(np.mean(samples)),
                         "diverged": diverged, "capped": capped, "best": False})
            if bar is not None:
                bar.update(1)
            if mean_steps < best[0]:
                best, best_run = (mean_steps, lr, float(np.mean(samples))), runs[-1]
        if best[0] == 0:  # met at the start: all rates tie, none is best
            best, best_run = (0.0, math.nan, 0.0), None
        if best_run is not None:  # that run only: a rate listed twice in lrs is still one best run
            best_run["best"] = True
        best_steps.append(best[0])
        best_lr.append(best[1])
        best_samples.append(best[2])
    if bar is not None:
        bar.close()
    return SweepResult(n=n, target=float(target), batch_sizes=sizes, lrs=lrs, best_lr=best_lr,
                       steps_to_target=best_steps, samples_to_target=best_samples, runs=runs,
                       fit=fit_steps(sizes, best_steps), budgets=budgets, seeds=len(seeds))


def default_target(model: Any, loss_fn: Callable[[Any, Any], Any], dataset: Any, backend: str | None = None) -> float:
    """``f* + 3e-4 (f0 - f*)`` when the dataset knows f*, else ``0.1 f0`` (f0: the loss at the model's weights).

    With ``backend`` given, the model is moved there first (where the sweep will train it).
    """
    from tinygrad_mb.gd.evaluation import EvalData  # noqa: PLC0415
    from tinygrad_mb.gd.noise import _model_backend  # noqa: PLC0415
    from tinygrad_mb.tensor import no_grad  # noqa: PLC0415

    if backend is not None and backend != _model_backend(model):
        model.to(backend)  # where the runs will train it (train() moves it too): data and weights together
    with no_grad():
        f0 = EvalData(as_dataset(dataset), None, _model_backend(model), {}).evaluate(model, loss_fn)
    f_star = dataset_f_star(dataset)
    return f_star + 3e-4 * (f0["train_loss"] - f_star) if f_star is not None else 0.1 * f0["train_loss"]


def _count(value: float) -> str:
    """A count, or a mean of counts over seeds: whole, or with one decimal (so samples = updates x B shows)."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


# --- the figure ------------------------------------------------------------------------
def plot_sweep(result: SweepResult, title: str | None = None) -> Any:
    """Steps-to-target against batch size (log-log) and the best learning rate per batch size.

    Batch sizes that never reached the target are marked above the measured points (or, with
    none measured, at their budget of updates): ✕ where every rate diverged (the grid's rates
    are too large), ▼ where some rate ran out of updates. Those that met it before any update
    (0 updates, not drawable on a log axis) get ▲ at a floor. On the right, the rates tried
    are grey dots, or grey ✕ where the run diverged.
    """
    from tinygrad_mb.gd.plots import COLORS, _null_locator, new_figure, style  # noqa: PLC0415

    fig, (a, b) = new_figure(1, 2, (12.5, 4.9))
    bs = np.asarray(result.batch_sizes, dtype=float)
    steps = np.asarray(result.steps_to_target, dtype=float)
    ok = np.isfinite(steps) & (steps > 0)  # drawable on the log axis
    at_start, missed = steps == 0, ~np.isfinite(steps)
    blown = missed & np.array([result.all_diverged(int(v)) for v in bs], dtype=bool)  # every rate diverged
    slow = missed & ~blown  # some rate was still going when its budget ran out
    grid = np.geomspace(bs.min(), bs.max(), 200)
    spans = len(np.unique(bs[ok])) > 1  # two measured batch sizes or more: reference lines to compare with
    if ok.any():
        b0, s0 = bs[ok][0], steps[ok][0]
        # The reference line stops at half the fewest steps measured: drawn on, it could pull the log axis
        # decades below every measurement and squeeze them into a band; its departure is visible by then.
        perfect = s0 * b0 / grid
        perfect[perfect < 0.5 * steps[ok].min()] = np.nan
        if spans:  # through one measured batch size a reference line is a dot: its legend entry would mislead
            a.plot(grid, perfect, color="gray", ls="--", lw=1.2, label="perfect scaling: steps ∝ 1/B")
        if result.fit is not None:
            s_min, b_noise = result.fit
            a.plot(grid, s_min * (1 + b_noise / grid), color="black", lw=1.2,
                   label=f"fit S_min·(1 + B_noise/B): S_min ≈ {s_min:.3g}, B_noise ≈ {b_noise:.3g}")
            a.axhline(s_min, color="black", ls=":", lw=1, label="S_min (steps of a noise-free gradient)")
        a.plot(bs[ok], steps[ok], "o-", color=COLORS[0], ms=7, lw=1.8, label="measured (best lr per batch size)")
    # Where a batch size has no count, its marker sits just above the measured points (max over
    # FINITE counts: inf is no height); with none measured, at its budget of updates: a real
    # number, so the axis keeps its scale ("more than this many").
    at_budget = not ok.any() and len(result.budgets) == len(bs)
    if at_budget:
        heights, where = np.asarray(result.budgets, dtype=float), " (drawn at the update budget)"
    else:
        heights, where = np.full(len(bs), 1.5 * float(steps[ok].max()) if ok.any() else 1.5), ""
    if blown.any():
        a.plot(bs[blown], heights[blown], "X", color=COLORS[1], ms=10, ls="none",
               label=f"every rate diverged: try smaller rates{where}")
    if slow.any():
        a.plot(bs[slow], heights[slow], "v", color=COLORS[3], ms=9, ls="none",
               label=f"target not reached within budget{where}")
        if not at_budget and len(result.budgets) == len(bs):
            # drawn just above the measured points, far below the budget it ran out of: the count says so
            for v, height, budget in zip(bs[slow], heights[slow], np.asarray(result.budgets)[slow]):
                a.annotate(f"> {int(budget):,}", (v, height), xytext=(7, 0), textcoords="offset points",
                           va="center", fontsize=8.5, color="dimgray")
    if at_start.any():
        floor = float(steps[ok].min()) / 1.5 if ok.any() else 0.5
        a.plot(bs[at_start], np.full(at_start.sum(), floor), "^", color=COLORS[2], ms=9, ls="none",
               label="target met at the start (0 updates; drawn at a floor)")
    if not ok.any():
        what = "already met at the initial weights:\nno update needed" if result.met_at_start() else \
            "not reached: every learning rate diverged\n(try smaller rates)" if blown.all() else \
            "not reached by any batch size\nwithin its budget" if missed.all() else "reached by no update count > 0"
        a.text(0.5, 0.22 if at_budget else 0.5, f"target f ≤ {result.target:.4g}\n{what}", transform=a.transAxes,
               ha="center", va="center", fontsize=11, color="dimgray")  # (below the markers at their budgets)
    a.set_xscale("log", base=2)
    a.set_yscale("log")
    if at_budget and missed.any():  # room above the markers for the legend, below them for the text
        a.set_ylim(min(heights[missed].min(), 1.0 if at_start.any() else math.inf) / 100, heights[missed].max() * 5)
    a.set_xlabel("batch size B (log scale)")
    a.set_ylabel("updates to reach the target loss (log scale)")
    a.set_title(f"Steps to target f ≤ {result.target:.4g}", fontsize=11)
    a.legend(fontsize=8.5, frameon=False)
    style(a)
    if not ok.any() and not at_budget:  # only markers at stand-in heights: a number scale would mislead
        a.set_yticks([])
        a.set_yticks([], minor=True)
    _plot_rates(b, result, bs, ok, blown, grid if spans else None)
    for axis in (a, b):  # batch sizes as plain numbers, N marked
        axis.set_xticks(bs)
        axis.set_xticklabels([f"{int(v)}" + ("\n(=N)" if int(v) == result.n else "") for v in bs])
        axis.xaxis.set_minor_locator(_null_locator())
    fig.suptitle(title or f"Learning-rate sweep (N = {result.n}): updates to the target against the batch size",
                 fontsize=12)
    fig.tight_layout()
    return fig


def _plot_rates(b: Any, result: SweepResult, bs: np.ndarray, ok: np.ndarray, blown: np.ndarray,
                grid: np.ndarray | None) -> None:
    """The right panel: every rate tried (✕: it diverged) and the best one per batch size.

    The scaling rules are drawn along ``grid``; None (one measured batch size) leaves them out.
    """
    from tinygrad_mb.gd.plots import COLORS, style  # noqa: PLC0415

    grid_lrs = np.asarray(result.lrs, dtype=float)
    runs = result.runs or [{"batch_size": v, "lr": lr, "diverged": False} for v in bs for lr in grid_lrs]
    tried = np.array([(r["batch_size"], r["lr"]) for r in runs], dtype=float).reshape(-1, 2)
    diverged = np.array([bool(r["diverged"]) for r in runs], dtype=bool)
    if (~diverged).any():
        b.plot(*tried[~diverged].T, "o", ms=3, color="lightgray", zorder=0, label="learning rates tried")
    if diverged.any():  # where the stable rates end: the largest usable rate grows with B
        b.plot(*tried[diverged].T, "x", ms=5, mew=1.2, color="gray", zorder=0,
               label="learning rates tried: diverged")
    if ok.any():
        lrs = np.asarray(result.best_lr, dtype=float)
        b.plot(bs[ok], lrs[ok], "o-", color=COLORS[2], ms=7, lw=1.8, label="best learning rate")
        b0, l0 = bs[ok][0], lrs[ok][0]
        if grid is not None:
            b.plot(grid, l0 * grid / b0, color="gray", ls="--", lw=1.2, label="linear scaling rule lr ∝ B")
            b.plot(grid, l0 * np.sqrt(grid / b0), color="gray", ls=":", lw=1.2, label="square-root rule lr ∝ √B")
        title = "Best learning rate per batch size"
    else:  # said in the title: a note in the middle of the panel would sit under the legend or the dots
        why = "every rate needs 0 updates" if result.met_at_start() else \
            "every rate diverged (try smaller rates)" if blown.all() else "no rate reached the target"
        title = f"No best learning rate: {why}"
    b.set_xscale("log", base=2)
    b.set_yscale("log")
    b.set_ylim(grid_lrs.min() / 1.5, grid_lrs.max() * 1.5)
    b.set_xlabel("batch size B (log scale)")
    b.set_ylabel("learning rate (log scale)")
    b.set_title(title, fontsize=11)
    b.legend(fontsize=8.5, frameon=False)
    style(b)
