"""The figure of :func:`~tinygrad_mb.gd.compare.compare`: loss against epochs, updates, samples and time.

One panel per x-axis, one colour and one line style per variant (full batch solid blue, SGD dotted
vermillion, mini-batch dashed: see :func:`~tinygrad_mb.gd.plots.variant_colors` and
:func:`~tinygrad_mb.gd.plots.variant_styles`), a line for the mean over seeds
(and a band for their spread). Everything a run did shows in every panel:
a run that diverged is a curve up to its last finite evaluation and a ✕ where
it stopped (after its last update); f - f* is clipped at the precision of f* rather than
dropped where float rounding makes it <= 0. (matplotlib is imported only when
a figure is drawn.)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_mb.errors import HyperparameterError
from tinygrad_mb.gd.history import X_AXES
from tinygrad_mb.gd.plots import LEGEND_HANDLE_LENGTH, legend_below, new_figure, style, variant_colors, variant_styles

X_LABELS = {
    "epoch": "epochs (passes over the training set)",
    "update": "updates (parameter steps, log scale)",
    "samples": "samples seen (log scale)",
    "time": "wall-clock training time [s] (log scale)",
}
X_TITLES = {"epoch": "per epoch", "update": "per update", "samples": "per sample seen", "time": "per second"}
LOG_X = {"epoch": False, "update": True, "samples": True, "time": True}
EPOCH_LOG_LABEL = "epochs (passes over the training set, log scale)"  # when the runs' lengths differ (_log_x)
Y_TITLES = {"suboptimality": "f − f*", "train_loss": "loss", "test_loss": "test loss",
            "train_accuracy": "training accuracy", "test_accuracy": "test accuracy"}
Y_LABELS = {
    "suboptimality": "suboptimality f(w) − f* (log scale)",
    "train_loss": "full-batch training loss f(w)",
    "test_loss": "test loss",
    "train_accuracy": "training accuracy",
    "test_accuracy": "test accuracy",
}


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


def _stack(runs: Sequence[Any], key: str, floor: float | None = None) -> np.ndarray:
    """One row per seed, padded with NaN (diverged runs end early); evals share the sample grid.

    Values below ``floor`` (f - f* lost in float rounding, even <= 0) are drawn at it: every seed stays
    in the mean and the curve runs to the end instead of stopping where rounding first crosses zero.
    """
    length = max(len(h.evals[key]) for h in runs)
    out = np.full((len(runs), length), np.nan)
    for i, h in enumerate(runs):
        out[i, : len(h.evals[key])] = h.evals[key]
    return out if floor is None else np.maximum(out, floor)  # (NaN padding stays NaN)


def _divergence_x(h: Any, x: str) -> float:
    """Where a diverged run stopped: after its last update, whose weights gave the bad loss."""
    return {"epoch": h.diverged_samples / h.n_train, "update": h.updates, "samples": h.diverged_samples,
            "time": h.diverged_time}[x]


def _divergence_y(h: Any, key: str, floor: float | None) -> float:
    """The last finite value of a diverged run: its start, if it blew up before the next evaluation."""
    values = h.evals[key][np.isfinite(h.evals[key])]
    if not values.size:
        return np.nan
    return float(values[-1]) if floor is None else max(float(values[-1]), floor)


def _legend_text(label: str, runs: Sequence[Any]) -> str:
    div = [h for h in runs if h.diverged]
    if not div:
        return label
    if len(runs) == 1:
        return f"{label} — diverged after update {div[0].updates}"
    return f"{label} — {len(div)}/{len(runs)} seeds diverged"


def _log_x(cmp: Any, xname: str) -> bool:
    """Whether a panel's x axis is logarithmic: always for updates, samples and time; epochs only when
    the runs end at very different epochs.

    With a budget in updates or seconds, batch GD may run 100 epochs while SGD runs 0.1: on a
    linear axis SGD's whole curve would sit in the first pixel. Diverged runs do not count; they
    stop early whatever the budget.
    """
    if xname != "epoch":
        return LOG_X[xname]
    ends = [float(np.nanmax(h.evals["epoch"])) for hs in cmp.histories.values() for h in hs
            if not h.diverged and len(h.evals["epoch"])]
    ends = [e for e in ends if e > 0]
    return bool(ends) and max(ends) > EPOCH_SPREAD_FOR_LOG * min(ends)


# Runs that end this many times further apart in epochs get a log epoch axis (see _log_x).
EPOCH_SPREAD_FOR_LOG = 10


def _draw_panel(panel: Any, cmp: Any, xname: str, key: str, log_y: bool, floor: float | None,
                y_cap: float, bands: bool, log_x: bool) -> list[float]:
    """Every variant's mean curve (and band) and a ✕ per diverged seed; returns the x values drawn."""
    drawn, marks = [], []
    batch_sizes = [runs[0].batch_size for runs in cmp.histories.values()]
    colors, styles = variant_colors(batch_sizes, cmp.n_train), variant_styles(batch_sizes, cmp.n_train)
    for color, ls, (label, runs) in zip(colors, styles, cmp.histories.items()):
        xv = np.nanmean(_stack(runs, xname), axis=0)
        mean, lo, hi = _nan_stats(_stack(runs, key, floor), log_y)
        keep = np.isfinite(xv) & np.isfinite(mean) & ((xv > 0) if log_x else True)
        panel.plot(xv[keep], mean[keep], color=color, ls=ls, lw=1.8, label=_legend_text(label, runs),
                   marker="o" if keep.sum() == 1 else None, ms=4)
        if bands and len(runs) > 1:
            panel.fill_between(xv[keep], lo[keep], hi[keep], color=color, alpha=0.18, lw=0)
        drawn += xv[keep].tolist()
        for h in (h for h in runs if h.diverged):
            # where it stopped: at the curve's end when the blown-up loss was finite, and at the panel's top
            # edge (y None) when it overflowed, since no evaluation shows that loss (the last finite one can
            # be the start). On a log-x axis this is all that is left of a run that diverged before its
            # first evaluation after the start (x = 0).
            x_mark, last = _divergence_x(h, xname), min(_divergence_y(h, key, floor), y_cap)
            if np.isfinite(last) and (x_mark > 0 or not log_x):
                marks.append((x_mark, None if h.overflowed else last, color))
                # the y axis still spans the last value seen, as for a run that stayed finite
                panel.update_datalim([(x_mark, last)])
    _draw_marks(panel, marks)
    return drawn + [x for x, _, _ in marks]


def _draw_marks(panel: Any, marks: list[tuple[float, float | None, str]]) -> None:
    """The ✕ of each diverged run; marks on the same point are spread sideways, a few points apart.

    A mark with y None stands on the panel's top edge (x in data, y in axes coordinates): the loss
    went off the scale. Runs that blow up at once often share a point (same update, same loss): one
    ✕ would hide the others. The spread is a drawing offset only; the data limits use the true point.
    """
    from matplotlib.transforms import offset_copy  # noqa: PLC0415

    groups: dict[tuple[float, float | None], list[str]] = {}
    for x, y, color in marks:
        groups.setdefault((float(f"{x:.9g}"), None if y is None else float(f"{y:.9g}")), []).append(color)
    for (x, y), colors in groups.items():
        # x in data coordinates, y in the panel's (1 = its top edge): the mark moves no y limit
        where = panel.transData if y is not None else panel.get_xaxis_transform()
        for j, color in enumerate(colors):
            (line,) = panel.plot([x], [1.0 if y is None else y], marker="X", ms=10, color=color, mec="black",
                                 mew=0.8, ls="none", clip_on=False, zorder=5, transform=where)
            if len(colors) > 1:
                shift = (j - (len(colors) - 1) / 2) * 8
                line.set_transform(offset_copy(where, fig=panel.figure, x=shift, units="points"))


def _draw_floor(panel: Any, cmp: Any, floor: float) -> None:
    """The dotted precision floor of f - f*, where the curves come near it (call once the y axis is set).

    Its label goes *under* the line: curves are clipped at the floor, so nothing is drawn below it,
    while above it a curve on its way down would run through the text. The log y axis is lowered
    just enough for the label to fit there.
    """
    runs = [h for hs in cmp.histories.values() for h in hs]
    lowest = min((float(np.nanmin(h.evals["suboptimality"])) for h in runs), default=np.inf)
    if lowest > 100 * floor:
        return  # far above every curve: a line there would only squeeze them
    dtype = next((h.dtype for h in runs if h.suboptimality_floor == floor and h.dtype), "float64")
    panel.axhline(floor, color="gray", ls=":", lw=1.2)
    _make_room_below(panel, floor, LABEL_ROOM_PT)
    panel.annotate(f"{dtype} precision of f* (lower f − f* drawn here)", (1, floor), xycoords=("axes fraction", "data"),
                   xytext=(-2, -2), textcoords="offset points", ha="right", va="top", fontsize=8, color="gray")


# Points of height kept free under the floor line for its label (8 pt text and a little air).
LABEL_ROOM_PT = 13


def _make_room_below(panel: Any, y: float, points: float) -> None:
    """Lower a log y axis so that ``points`` of height lie between its bottom and ``y``."""
    height = panel.get_position().height * panel.figure.get_figheight() * 72  # the panel's height in points
    share = min(points / height, 0.3)
    lo, hi = np.log10(panel.get_ylim())
    # solve (log y - bottom) / (hi - bottom) = share for the bottom
    bottom = (np.log10(y) - share * hi) / (1 - share)
    if bottom < lo:
        panel.set_ylim(bottom=10 ** bottom)


def _widen_flat_ylim(panel: Any, log_y: bool) -> None:
    """Runs stopped at their start have one y value (up to rounding): show a factor 2 around it, not 1e-16."""
    lo, hi = panel.get_ylim()
    if log_y and 0 < lo and hi / lo < 1.01:
        panel.set_ylim(np.sqrt(lo * hi) / 2, np.sqrt(lo * hi) * 2)
    elif not log_y and hi - lo < 1e-6 * max(abs(lo), abs(hi)):
        panel.set_ylim(lo - 0.5 * abs(lo), hi + 0.5 * abs(hi))


def plot_comparison(cmp: Any, x: str | Sequence[str] = "epoch", y: str = "auto", ax: Any = None,
                    bands: bool = True, title: str | None = None) -> Any:
    """Full training loss (or f - f*) of every variant against epochs, updates, samples and/or time.

    Every variant shows in every panel: a diverged run's curve stops at its last finite evaluation and
    a ✕ marks where the run stopped (after its last update): at the curve's end when the loss blew up
    but stayed finite, on the panel's top edge when it overflowed to inf or nan.
    Log y axes are not cut: the trainer stops a run whose loss passes ``BLOWUP_FACTOR`` (1e6) times its
    start, so no curve climbs more than six decades plus one update's growth. f - f* is
    clipped at :attr:`Comparison.suboptimality_floor` (one ulp of f* in the parameters' dtype), drawn
    dotted where curves come near it: below it the difference is rounding noise, and it can be <= 0.
    """
    xs = list(X_AXES) if x == "all" else [x] if isinstance(x, str) else list(x)
    bad = [v for v in xs if v not in X_AXES]
    if bad or not xs:
        raise HyperparameterError(f"x must be one of {list(X_AXES)} or 'all', got {x!r}")
    key = {"auto": "suboptimality" if cmp.f_star is not None else "train_loss", "loss": "train_loss",
           "f-f*": "suboptimality"}.get(y, y)
    if key not in Y_LABELS:
        raise HyperparameterError(f"y must be one of {['auto', 'loss', *Y_LABELS]}, got {y!r}")
    runs_all = [h for hs in cmp.histories.values() for h in hs]
    if any(key not in h.evals for h in runs_all):
        raise HyperparameterError(f"y={y!r}: not recorded (no test set or no f* for this dataset?)")
    floor = cmp.suboptimality_floor if key == "suboptimality" else None
    log_y = key == "suboptimality" or (key.endswith("loss") and all(np.nanmin(h.evals[key]) > 0 for h in runs_all))
    if ax is not None:
        if len(xs) != 1:
            raise HyperparameterError("pass ax only with a single x")
        fig, axes = ax.figure, [ax]
    elif len(xs) == 1:
        fig, axes = new_figure(1, 1, (7.0, 4.8))
    else:
        rows = 1 if len(xs) <= 2 else 2
        cols = -(-len(xs) // rows)
        fig, axes = new_figure(rows, cols, (6.2 * cols, 4.3 * rows + 0.9))
    diverged = [h.diverged for h in runs_all]
    starts = [h.evals[key][0] for h in runs_all if len(h.evals[key]) and np.isfinite(h.evals[key][0])]
    # on a linear axis a blown-up loss would squeeze every other curve flat: cut it above the starting values
    cut = any(diverged) and starts and not log_y and key.endswith("loss")
    y_cap = max(starts) + abs(max(starts)) if cut else np.inf
    for panel, xname in zip(axes, xs):
        log_x = _log_x(cmp, xname)
        drawn = _draw_panel(panel, cmp, xname, key, log_y, floor, y_cap, bands, log_x)
        log_x = log_x and any(v > 0 for v in drawn)  # (nothing drawn at x > 0: no log axis to make)
        if log_x:
            panel.set_xscale("log")
        if log_y:
            panel.set_yscale("log")
        if np.isfinite(y_cap):
            panel.set_ylim(top=min(panel.get_ylim()[1], y_cap))
        _widen_flat_ylim(panel, log_y)
        if floor is not None:  # (suboptimality: always a log y axis)
            _draw_floor(panel, cmp, floor)
        panel.set_xlabel(EPOCH_LOG_LABEL if log_x and xname == "epoch" else X_LABELS[xname])
        panel.set_ylabel(Y_LABELS[key] + (" (log scale)" if log_y and key != "suboptimality" else ""))
        panel.set_title(f"{Y_TITLES[key]} {X_TITLES[xname]}", fontsize=11)
        style(panel)
    seeds = len(cmp.seeds)
    band = f"; lines: mean over {seeds} seeds, bands: ±1 std" + (" (in log space)" if log_y else "") \
        if seeds > 1 and bands else ""
    if any(diverged):
        where = "where it stopped, at its last value (on the top edge: inf or nan)"
        band += (f"\nevery run diverged (✕: {where}): lower the learning rate" if all(diverged)
                 else f"\n✕ = diverged: {where}")
    suptitle = title or "Batch vs stochastic vs mini-batch gradient descent"
    if len(axes) > 1:
        handles, labels = axes[0].get_legend_handles_labels()
        fig.suptitle(f"{suptitle}\nN = {cmp.n_train} training samples{band}", fontsize=12)
        fig.tight_layout(rect=(0, legend_below(fig, handles, labels) + 0.01, 1, 1))
    else:
        axes[0].legend(fontsize=9, frameon=False, handlelength=LEGEND_HANDLE_LENGTH)
        if ax is None:
            axes[0].set_title(f"{suptitle}\nN = {cmp.n_train}{band}", fontsize=11)
            fig.tight_layout()
    return fig
