"""Figures for the mini-batch story (matplotlib is imported here, and only when a figure is drawn).

Every function returns a matplotlib ``Figure``. Conventions shared by all:
one colour per variant (:func:`variant_colors`: full batch blue, SGD vermillion, a red-orange) and one
line style per kind of variant (:func:`variant_styles`), so the curves differ in more than colour;
legends name the variant, its batch size and its learning rate; axis labels carry units; losses and noise
are drawn on log scales, where exponential convergence is a straight line.
The colours are the Okabe & Ito (2008) palette: they stay distinct for colour-blind readers
(about 1 in 12 men cannot tell red from green, the pair of matplotlib's default colours).
The figure of :func:`~tinygrad_mb.gd.compare.compare` is in :mod:`~tinygrad_mb.gd.compare_plot`,
those of the sweep and the trajectories next to them, in :mod:`~tinygrad_mb.gd.sweep` and
:mod:`~tinygrad_mb.gd.trajectories`.
"""

from __future__ import annotations

import functools
import math
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

#: The Okabe-Ito colours (blue, vermillion, bluish green, orange, sky blue, reddish purple; yellow, faint, last).
COLORS = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#56B4E9", "#CC79A7", "#F0E442")


def variant_kind(batch_size: int, n: int) -> str:
    """``"batch"`` (B >= N), ``"sgd"`` (B = 1) or ``"minibatch"``: what a run of this batch size is."""
    return "batch" if batch_size >= n else "sgd" if batch_size == 1 else "minibatch"


def variant_colors(batch_sizes: Sequence[int], n: int) -> list[str]:
    """One colour per variant, chosen by its batch size rather than its place in the list.

    Full batch (B >= N) is blue and SGD (B = 1) vermillion in every figure, so ``--variants sgd,batch``
    does not swap the colours a class has learnt from the default ``batch,sgd,minibatch:32``.
    Mini-batch variants, and a second variant of a kind, take the other colours in order: bluish green,
    orange, reddish purple, then sky blue (the one easily confused with blue) and yellow.
    """
    reserved = {"batch": COLORS[0], "sgd": COLORS[1]}
    kinds = [variant_kind(b, n) for b in batch_sizes]
    colors = [""] * len(kinds)
    for i, kind in enumerate(kinds):  # the first variant of each of these kinds gets its own colour
        if kind in reserved and reserved[kind] not in colors:
            colors[i] = reserved[kind]
    # sky blue (COLORS[4]) comes late: next to full batch's blue it is the one pair easily confused
    rest = [c for c in (COLORS[2], COLORS[3], COLORS[5], COLORS[4], COLORS[6], *COLORS[:2]) if c not in colors]
    for i in range(len(colors)):
        if not colors[i]:
            colors[i] = rest.pop(0) if rest else COLORS[i % len(COLORS)]  # (more variants than colours)
    return colors


#: Line style per kind of variant, the second cue besides colour (for readers who cannot tell the colours
#: apart, and for grey-scale prints): batch GD's smooth curve solid, mini-batch dashed, and SGD's noisy
#: curve dotted, which stays readable where a dash pattern breaks up on its zig-zags.
KIND_STYLES = {"batch": "-", "sgd": ":", "minibatch": "--"}

#: Line styles of the second, third, ... variant of one kind (two mini-batch sizes, say), in this order
#: dash-dot, dash-dot-dot and long dashes, so that no two curves of a figure differ by colour alone.
MORE_STYLES = ("-.", (0, (5, 1.5, 1, 1.5, 1, 1.5)), (0, (9, 2.5)))


def variant_styles(batch_sizes: Sequence[int], n: int) -> list[Any]:
    """One matplotlib line style per variant, chosen by its kind (:data:`KIND_STYLES`).

    Full batch solid, SGD dotted, mini-batch dashed, whatever the variant's place in the list. A
    second variant of a kind takes the next of :data:`MORE_STYLES` (and a colour of its own, see
    :func:`variant_colors`).
    """
    styles, seen = [], {}
    for b in batch_sizes:
        kind = variant_kind(b, n)
        k = seen[kind] = seen.get(kind, -1) + 1
        styles.append(KIND_STYLES[kind] if k == 0 else MORE_STYLES[(k - 1) % len(MORE_STYLES)])
    return styles


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
    """Light grids, no top/right frame; log axes labelled with plain numbers, not crowded over decades."""
    from matplotlib.ticker import FuncFormatter, LogFormatterSciNotation, LogLocator, NullFormatter  # noqa: PLC0415

    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        if axis.get_scale() != "log" or lo <= 0:
            continue
        if hi / lo <= 20 and isinstance(axis.get_major_formatter(), LogFormatterSciNotation):
            # about a decade: most labels fall on minor ticks; write them plainly (15, not 1.5 x 10^1)
            axis.set_major_formatter(_plain_log_formatter()())
            axis.set_minor_formatter(_plain_log_formatter()(labelOnlyBase=False))
            continue
        if hi / lo < 1000 and isinstance(axis.get_major_formatter(), LogFormatterSciNotation):
            # few decades: label 1, 2 and 5 times each power of ten, not only the powers
            axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())


@functools.cache
def _plain_log_formatter() -> type:
    """A log-axis formatter: matplotlib's choice of ticks to label, as plain numbers (built on first use)."""
    from matplotlib.ticker import LogFormatterSciNotation  # noqa: PLC0415

    class PlainLogFormatter(LogFormatterSciNotation):
        def __call__(self, x: float, pos: Any = None) -> str:
            return f"{x:g}" if super().__call__(x, pos) else ""

    return PlainLogFormatter


#: Length of a legend's line samples in font sizes, long enough to show a dash pattern (matplotlib's is 2).
LEGEND_HANDLE_LENGTH = 3.2


def legend_below(fig: Any, handles: list[Any], labels: list[str], fontsize: float = 10.0) -> float:
    """A legend centred under the panels, in as many columns as fit the figure's width.

    Long labels get fewer columns (the rows balanced), then a smaller font. Returns the
    legend's height as a fraction of the figure's, to keep free below the panels.
    """
    size, n = fontsize, len(labels)
    while n:
        for most in range(min(4, n), 0, -1):
            rows = -(-n // most)
            ncol = -(-n // rows)  # as many rows as `most` columns need, filled as evenly as they go
            legend = fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False, fontsize=size,
                                borderaxespad=0.3, handlelength=LEGEND_HANDLE_LENGTH)
            box = legend.get_window_extent()
            if box.width <= 0.98 * fig.bbox.width or (ncol == 1 and size <= 6):
                return box.height / fig.bbox.height
            legend.remove()
        size -= 1
    return 0.0


#: Tick labels closer than this fraction of the x-axis' decades would overlap ("999" next to "1000").
MIN_LABEL_GAP = 0.07


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
    measured, se = np.asarray(result.measured), np.asarray(result.measured_se)
    zero = measured == 0  # B = N: exactly 0, which a log axis cannot show (marked below instead)
    if (~zero).any():  # no legend entry for points that are not there
        a.errorbar(bs[~zero], measured[~zero], yerr=2 * se[~zero], fmt="o", color=COLORS[1], ms=6, capsize=3,
                   zorder=3, label=f"measured ({result.draws} mini-batches each, ±2 s.e."
                                   + ("; B = 1: all N samples, exact)" if 1 in result.batch_sizes else ")"))
    a.axhline(result.grad_norm_sq, color=COLORS[0], ls=":", lw=1.4, label="signal |∇f|² (squared full gradient)")
    if np.isfinite(result.b_simple) and result.b_simple > 0:
        a.axvline(result.b_simple, color=COLORS[2], ls="-.", lw=1.4,
                  label=f"noise scale B_simple = tr(Σ)/|∇f|² ≈ {result.b_simple:.3g}")
    a.set_xscale("log")
    a.set_yscale("log")
    # The theory curve drops to 0 at B = N; do not let that plunge squeeze the measured range.
    # (At B = N the measured noise is exactly 0 too, off a log axis: the floor comes from the rest.)
    positive = [m for m in result.measured if m > 0] + [result.grad_norm_sq]
    low = min(positive) / 30
    if low > 0:
        a.set_ylim(bottom=low)
    if zero.any() and low > 0:  # mark them on the bottom edge instead of leaving them out silently
        a.plot(bs[zero], np.full(zero.sum(), low), "v", color=COLORS[1], ms=8, ls="none", clip_on=False,
               zorder=4, label="measured exactly 0 (B = N: every batch is the full data set)")
    ticks, labels = _batch_ticks(result.batch_sizes, n)
    a.set_xticks(ticks)
    a.set_xticklabels(labels)
    a.xaxis.set_minor_locator(_null_locator())
    a.set_xlabel("batch size B (samples per gradient, log scale)")
    a.set_ylabel("gradient noise E‖g_B − ∇f‖² (log scale)")
    a.set_title(title or f"Mini-batch gradient noise vs batch size (N = {n})", fontsize=11)
    # "best": the corner the curves leave free (lower left, as the noise falls with B); a fixed
    # upper right sat on the measured point at B = 4
    a.legend(fontsize=8.5, framealpha=0.9, loc="best")
    style(a)
    if ax is None:
        fig.tight_layout()
    return fig


def _batch_ticks(batch_sizes: Sequence[int], n: int) -> tuple[list[int], list[str]]:
    """x ticks for the noise figure: the batch sizes measured, 1 (where the curves start) and N.

    With few of them, the powers of ten in between give the axis a scale. Batch sizes that
    sit too close on the log axis to label apart (999 and 1000) share one label,
    ``"999, 1000"``, under the first; the others keep their tick, unlabelled.
    """
    ticks = sorted({1, *(int(v) for v in batch_sizes), n})
    if len(ticks) < 4:  # e.g. only B = N: one labelled tick would leave the axis without a scale
        ticks = sorted({*ticks, *(10 ** k for k in range(1, int(math.log10(max(n, 1))) + 1) if 10 ** k < n)})
    span = max(math.log10(ticks[-1] / ticks[0]), 1.0)  # in decades; at least one (tiny data sets)
    groups: list[list[int]] = []
    for t in ticks:
        if groups and math.log10(t / groups[-1][0]) < MIN_LABEL_GAP * span:
            groups[-1].append(t)
        else:
            groups.append([t])
    labels = []
    for group in groups:
        text = ", ".join(str(t) for t in group) + ("\n(=N)" if group[-1] == n else "")
        labels += [text] + [""] * (len(group) - 1)
    return ticks, labels


def _null_locator() -> Any:
    from matplotlib.ticker import NullLocator  # noqa: PLC0415

    return NullLocator()
