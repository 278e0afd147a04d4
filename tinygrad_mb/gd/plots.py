"""Figures for the mini-batch story (matplotlib is imported here, and only when a figure is drawn).

Every function returns a matplotlib ``Figure``. Conventions shared by all:
one colour per variant, in the order given; legends name the variant, its
batch size and its learning rate; axis labels carry units; losses and noise
are drawn on log scales, where exponential convergence is a straight line.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_mb.gd.history import X_AXES

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
X_LABELS = {
    "epoch": "epochs (passes over the training set)",
    "update": "updates (parameter steps, log scale)",
    "samples": "samples seen (log scale)",
    "time": "wall-clock training time [s] (log scale)",
}
X_TITLES = {"epoch": "per epoch", "update": "per update", "samples": "per sample seen", "time": "per second"}
LOG_X = {"epoch": False, "update": True, "samples": True, "time": True}
Y_LABELS = {
    "suboptimality": "suboptimality f(w) − f* (log scale)",
    "train_loss": "full-batch training loss f(w)",
    "test_loss": "test loss",
    "train_accuracy": "training accuracy",
    "test_accuracy": "test accuracy",
}


def pyplot() -> Any:
    """``matplotlib.pyplot``, on the non-interactive Agg backend when there is no display."""
    import matplotlib  # noqa: PLC0415

    headless = sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if headless and "MPLBACKEND" not in os.environ and "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def new_figure(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] = (6.4, 4.6), **kw: Any) -> Any:
    """``(figure, flat list of axes)`` from pyplot (headless-safe)."""
    plt = pyplot()
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False, **kw)
    return fig, list(axes.ravel())


def style(ax: Any) -> None:
    """Light grids, no top/right frame, and no crowded minor-tick labels on log axes spanning decades."""
    from matplotlib.ticker import FuncFormatter, LogFormatterSciNotation, LogLocator, NullFormatter  # noqa: PLC0415

    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        if axis.get_scale() != "log" or lo <= 0 or hi / lo <= 20:
            continue
        if hi / lo < 1000 and isinstance(axis.get_major_formatter(), LogFormatterSciNotation):
            # few decades: label 1, 2 and 5 times each power of ten, not only the powers
            axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())


def _nan_stats(values: np.ndarray, log: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and mean -+ std over axis 0, ignoring NaN; in log10 space for log-scale quantities."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if log:
            v = np.log10(np.where(values > 0, values, np.nan))
            m, s = np.nanmean(v, axis=0), np.nanstd(v, axis=0)
            return 10 ** m, 10 ** (m - s), 10 ** (m + s)
        m, s = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
        return m, m - s, m + s


def _stack(runs: Sequence[Any], key: str) -> np.ndarray:
    """One row per seed, padded with NaN (diverged runs end early); evals share the sample grid."""
    length = max(len(h.evals[key]) for h in runs)
    out = np.full((len(runs), length), np.nan)
    for i, h in enumerate(runs):
        out[i, : len(h.evals[key])] = h.evals[key]
    return out


def _divergence_x(h: Any, x: str) -> float:
    return {"epoch": h.diverged_samples / h.n_train, "update": h.diverged_at, "samples": h.diverged_samples,
            "time": h.diverged_time}[x]


def plot_comparison(cmp: Any, x: str | Sequence[str] = "epoch", y: str = "auto", ax: Any = None,
                    bands: bool = True, title: str | None = None) -> Any:
    """Full training loss (or f - f*) of every variant against epochs, updates, samples and/or time."""
    xs = list(X_AXES) if x == "all" else [x] if isinstance(x, str) else list(x)
    bad = [v for v in xs if v not in X_AXES]
    if bad or not xs:
        raise ValueError(f"x must be one of {list(X_AXES)} or 'all', got {x!r}")
    key = {"auto": "suboptimality" if cmp.f_star is not None else "train_loss", "loss": "train_loss",
           "f-f*": "suboptimality"}.get(y, y)
    if key not in Y_LABELS:
        raise ValueError(f"y must be one of {['auto', 'loss', *Y_LABELS]}, got {y!r}")
    runs_all = [h for hs in cmp.histories.values() for h in hs]
    if any(key not in h.evals for h in runs_all):
        raise ValueError(f"y={y!r}: not recorded (no test set or no f* for this dataset?)")
    log_y = key == "suboptimality" or (key.endswith("loss") and all(np.nanmin(h.evals[key]) > 0 for h in runs_all))
    if ax is not None:
        if len(xs) != 1:
            raise ValueError("pass ax only with a single x")
        fig, axes = ax.figure, [ax]
    elif len(xs) == 1:
        fig, axes = new_figure(1, 1, (7.0, 4.8))
    else:
        rows = 1 if len(xs) <= 2 else 2
        cols = -(-len(xs) // rows)
        fig, axes = new_figure(rows, cols, (6.2 * cols, 4.3 * rows + 0.9))
    starts = [h.evals[key][0] for h in runs_all if len(h.evals[key]) and np.isfinite(h.evals[key][0])]
    y_cap = (30 * max(starts) if log_y else max(starts) + abs(max(starts))) if starts else np.inf
    for panel, xname in zip(axes, xs):
        for i, (label, runs) in enumerate(cmp.histories.items()):
            color = COLORS[i % len(COLORS)]
            xv = np.nanmean(_stack(runs, xname), axis=0)
            yv = _stack(runs, key)
            mean, lo, hi = _nan_stats(yv, log_y)
            keep = np.isfinite(xv) & np.isfinite(mean) & ((xv > 0) if LOG_X[xname] else True)
            text = label
            div = [h for h in runs if h.diverged]
            if div:
                text += f" — diverged at update {div[0].diverged_at}" if len(runs) == 1 else \
                    f" — {len(div)}/{len(runs)} seeds diverged"
            only_one = keep.sum() == 1
            panel.plot(xv[keep], mean[keep], color=color, lw=1.8, label=text,
                       marker="o" if only_one else None, ms=4)
            if bands and len(runs) > 1:
                panel.fill_between(xv[keep], lo[keep], hi[keep], color=color, alpha=0.18, lw=0)
            for h in div:
                good = np.isfinite(h.evals[key]) & ((h.evals[xname] > 0) if LOG_X[xname] else True)
                if good.any():
                    y_mark = min(h.evals[key][good][-1], y_cap / 3 if log_y else y_cap)
                    panel.plot([_divergence_x(h, xname)], [y_mark], marker="X", ms=10, color=color, mec="black",
                               mew=0.8, ls="none", clip_on=False, zorder=5)
        if key == "suboptimality" and any(h.dtype == "float32" for h in runs_all):
            # below one float32 step of f*, f - f* is rounding noise (and <= 0 values are not drawn)
            ulp = float(np.spacing(np.float32(cmp.f_star)))
            panel.axhline(ulp, color="gray", ls=":", lw=1)
            panel.annotate("float32 precision of f", (1, ulp), xycoords=("axes fraction", "data"), ha="right",
                           va="bottom", fontsize=8, color="gray")
        if LOG_X[xname]:
            panel.set_xscale("log")
        if log_y:
            panel.set_yscale("log")
        if any(h.diverged for h in runs_all) and np.isfinite(y_cap):
            # a blown-up run would squeeze every other curve flat: cut the axis above the starting loss
            panel.set_ylim(top=min(panel.get_ylim()[1], y_cap))
        panel.set_xlabel(X_LABELS[xname])
        panel.set_ylabel(Y_LABELS[key] + (" (log scale)" if log_y and key != "suboptimality" else ""))
        panel.set_title(f"{'f − f*' if key == 'suboptimality' else 'loss'} {X_TITLES[xname]}", fontsize=11)
        style(panel)
    seeds = len(cmp.seeds)
    band = f"; lines: mean over {seeds} seeds, bands: ±1 std" + (" (in log space)" if log_y else "") \
        if seeds > 1 and bands else ""
    suptitle = title or "Batch vs stochastic vs mini-batch gradient descent"
    if len(axes) > 1:
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), frameon=False, fontsize=10)
        any_div = any(h.diverged for h in runs_all)
        fig.suptitle(f"{suptitle}\nN = {cmp.n_train} training samples{band}" + ("; ✕ = diverged" if any_div else ""),
                     fontsize=12)
        fig.tight_layout(rect=(0, 0.05 if len(labels) <= 4 else 0.09, 1, 1))
    else:
        axes[0].legend(fontsize=9, frameon=False)
        if ax is None:
            axes[0].set_title(f"{suptitle}\nN = {cmp.n_train}{band}", fontsize=11)
            fig.tight_layout()
    return fig


def plot_noise(result: Any, ax: Any = None, title: str | None = None) -> Any:
    """Measured E|g_B - G|^2 against B, with the without-replacement theory and the noise scale."""
    fig, axes = (ax.figure, [ax]) if ax is not None else new_figure(1, 1, (7.0, 4.8))
    a = axes[0]
    n = result.n
    b = np.unique(np.geomspace(1, max(n - 1, 1), 300).round().astype(int))
    a.plot(b, result.trace_sigma / b * (n - b) / (n - 1), color="black", lw=1.6,
           label=r"theory tr(Σ)/B · (N−B)/(N−1)  (without replacement)")
    a.plot(b, result.trace_sigma / b, color="gray", lw=1.2, ls="--", label=r"tr(Σ)/B  (with replacement)")
    bs = np.asarray(result.batch_sizes)
    a.errorbar(bs, result.measured, yerr=2 * np.asarray(result.measured_se), fmt="o", color=COLORS[1], ms=6,
               capsize=3, label=f"measured ({result.draws} mini-batches each, ±2 s.e.)", zorder=3)
    a.axhline(result.grad_norm_sq, color=COLORS[0], ls=":", lw=1.4, label="signal |∇f|² (squared full gradient)")
    if np.isfinite(result.b_simple) and result.b_simple > 0:
        a.axvline(result.b_simple, color=COLORS[2], ls="-.", lw=1.4,
                  label=f"noise scale B_simple = tr(Σ)/|∇f|² ≈ {result.b_simple:.3g}")
    a.set_xscale("log")
    a.set_yscale("log")
    # the theory curve drops to 0 at B = N; do not let that plunge squeeze the measured range
    low = min(np.min(result.measured), result.grad_norm_sq) / 30
    if low > 0:
        a.set_ylim(bottom=low)
    ticks = sorted({*result.batch_sizes, n})
    a.set_xticks(ticks)
    a.set_xticklabels([f"{t}" + ("\n(=N)" if t == n else "") for t in ticks])
    a.xaxis.set_minor_locator(_null_locator())
    a.set_xlabel("batch size B (samples per gradient, log scale)")
    a.set_ylabel("gradient noise E‖g_B − ∇f‖² (log scale)")
    a.set_title(title or f"Mini-batch gradient noise vs batch size (N = {n})", fontsize=11)
    a.legend(fontsize=8.5, framealpha=0.9, loc="upper right")
    style(a)
    if ax is None:
        fig.tight_layout()
    return fig


def plot_trajectories(result: Any, title: str | None = None) -> Any:
    """Loss contours of a two-parameter problem with each variant's path, one panel per variant."""
    k = len(result.paths)
    W1, W2, F = result.grid
    ratio = float(np.ptp(W2) / max(np.ptp(W1), 1e-12))  # equal axis scales: true contour shapes
    fig, axes = new_figure(1, k, (4.8 * k, min(max(4.4 * ratio, 2.6), 6.5) + 1.6), sharex=True, sharey=True)
    gap = F - np.nanmin(F)
    top = float(np.nanmax(gap))
    levels = np.geomspace(top * 1e-3, top, 13) if top > 0 else 10  # log-spaced: near and far both visible
    for i, (a, (label, path)) in enumerate(zip(axes, result.paths.items())):
        a.contourf(W1, W2, np.maximum(gap, top * 1e-4), levels=np.concatenate([[0], levels]), cmap="Blues_r",
                   alpha=0.5)
        a.contour(W1, W2, gap, levels=levels, colors="white", linewidths=0.7)
        a.set_aspect("equal")
        color = COLORS[i % len(COLORS)]
        a.plot(path[:, 0], path[:, 1], color=color, lw=1.1 if len(path) > 100 else 1.6, alpha=0.95,
               marker="." if len(path) <= 100 else None, ms=5)
        a.plot(*path[0], "o", color="black", ms=7, label="start")
        if result.optimum is not None:
            a.plot(*result.optimum, "P", color="gold", mec="black", ms=10, label="minimum w*", zorder=4)
        a.plot(*path[-1], "*", color=color, mec="black", ms=14, label=f"end ({len(path) - 1} updates)", zorder=5)
        a.set_title(label, fontsize=10.5)
        a.set_xlabel(f"w₁ = {result.names[0]}")
        if i == 0:
            a.set_ylabel(f"w₂ = {result.names[1]}")
        a.legend(fontsize=8, loc="best", framealpha=0.85)
        a.set_xlim(W1.min(), W1.max())
        a.set_ylim(W2.min(), W2.max())
    budget = f"{result.updates} updates each" if result.updates else f"{result.epochs:g} epoch(s) each"
    fig.suptitle(title or f"Paths on the loss contours ({budget}): batch GD is smooth, SGD zig-zags, "
                 "mini-batch lies in between\n(contours of f(w) − min f, log-spaced)", fontsize=11)
    fig.tight_layout()
    return fig


def _null_locator() -> Any:
    from matplotlib.ticker import NullLocator  # noqa: PLC0415

    return NullLocator()


def plot_sweep(result: Any, title: str | None = None) -> Any:
    """Steps-to-target against batch size (log-log) and the best learning rate per batch size."""
    fig, (a, b) = new_figure(1, 2, (12.5, 4.9))
    bs = np.asarray(result.batch_sizes, dtype=float)
    steps = np.asarray(result.steps_to_target, dtype=float)
    ok = np.isfinite(steps)
    if ok.any():
        b0, s0 = bs[ok][0], steps[ok][0]
        grid = np.geomspace(bs.min(), bs.max(), 200)
        a.plot(grid, s0 * b0 / grid, color="gray", ls="--", lw=1.2, label="perfect scaling: steps ∝ 1/B")
        if result.fit is not None:
            s_min, b_noise = result.fit
            a.plot(grid, s_min * (1 + b_noise / grid), color="black", lw=1.2,
                   label=f"fit S_min·(1 + B_noise/B): S_min ≈ {s_min:.3g}, B_noise ≈ {b_noise:.3g}")
            a.axhline(s_min, color="black", ls=":", lw=1, label="S_min (steps of a noise-free gradient)")
    a.plot(bs[ok], steps[ok], "o-", color=COLORS[0], ms=7, lw=1.8, label="measured (best lr per batch size)")
    if (~ok).any():
        top = np.nanmax(steps) if ok.any() else 1.0
        a.plot(bs[~ok], np.full((~ok).sum(), top * 1.5), "v", color=COLORS[1], ms=8, ls="none",
               label="target not reached within budget")
    a.set_xscale("log", base=2)
    a.set_yscale("log")
    a.set_xlabel("batch size B (log scale)")
    a.set_ylabel("updates to reach the target loss (log scale)")
    a.set_title(f"Steps to target f ≤ {result.target:.4g}", fontsize=11)
    a.legend(fontsize=8.5, frameon=False)
    style(a)
    lrs = np.asarray(result.best_lr, dtype=float)
    b.plot(bs[ok], lrs[ok], "o-", color=COLORS[2], ms=7, lw=1.8, label="best learning rate")
    grid_lrs = np.asarray(result.lrs, dtype=float)
    b.plot(np.repeat(bs, len(grid_lrs)), np.tile(grid_lrs, len(bs)), "o", ms=3, color="lightgray", zorder=0,
           label="learning rates in the grid")
    if ok.any():
        b0, l0 = bs[ok][0], lrs[ok][0]
        grid = np.geomspace(bs.min(), bs.max(), 200)
        b.plot(grid, l0 * grid / b0, color="gray", ls="--", lw=1.2, label="linear scaling rule lr ∝ B")
        b.plot(grid, l0 * np.sqrt(grid / b0), color="gray", ls=":", lw=1.2, label="square-root rule lr ∝ √B")
    b.set_xscale("log", base=2)
    b.set_yscale("log")
    b.set_ylim(grid_lrs.min() / 1.5, grid_lrs.max() * 1.5)
    b.set_xlabel("batch size B (log scale)")
    b.set_ylabel("learning rate (log scale)")
    b.set_title("Best learning rate per batch size", fontsize=11)
    b.legend(fontsize=8.5, frameon=False)
    style(b)
    for axis in (a, b):  # batch sizes as plain numbers, N marked
        axis.set_xticks(bs)
        axis.set_xticklabels([f"{int(v)}" + ("\n(=N)" if int(v) == result.n else "") for v in bs])
        axis.xaxis.set_minor_locator(_null_locator())
    fig.suptitle(title or f"Learning-rate sweep (N = {result.n}): perfect scaling for small batches, "
                 "then diminishing returns", fontsize=12)
    fig.tight_layout()
    return fig
