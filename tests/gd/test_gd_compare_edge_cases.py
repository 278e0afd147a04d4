"""compare() at its edges: runs that diverge at once, long labels, seeds that miss the target,
runs that never improve, and f - f* below float32 precision."""

import io
import math
import warnings

import numpy as np
import pytest

from tinygrad_mb import gd
from tinygrad_mb.gd.evaluation import precision_floor
from tinygrad_mb.gd.history import X_AXES
from tinygrad_mb.gd.plots import COLORS

plt = pytest.importorskip("matplotlib.pyplot")


@pytest.fixture(scope="module")
def prob():
    return gd.make_problem("linear")


def _draw(fig):
    """Render the figure (where layout errors surface) with every warning an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.savefig(io.BytesIO(), format="png", dpi=40)


def _visible(panel, line):
    """The points of a line inside the panel, its edges included (a ✕ is one point, maybe on the top edge).

    Compared where they are drawn, in pixels: a ✕ on the top edge has its y in the panel's coordinates.
    """
    xy = line.get_transform().transform(np.column_stack([np.asarray(v, dtype=float) for v in line.get_data()]))
    box, px = panel.bbox, 0.5  # half a pixel of rounding
    x, y = xy[:, 0], xy[:, 1]
    inside = (x >= box.x0 - px) & (x <= box.x1 + px) & (y >= box.y0 - px) & (y <= box.y1 + px)
    return np.flatnonzero(inside)


def _on_top_edge(panel, mark):
    """Whether a ✕ stands on the panel's top edge."""
    return abs(mark.get_transform().transform(np.column_stack(mark.get_data()))[0, 1] - panel.bbox.y1) < 0.5


def _marks(panel):
    return [line for line in panel.get_lines() if line.get_marker() == "X"]


def _curves(panel):
    return [line for line in panel.get_lines() if line.get_marker() != "X" and line.get_label()[:1] != "_"]


def test_plot_draws_when_every_run_diverges_before_its_first_evaluation(prob):
    c = gd.compare(prob.model_fn, prob.loss_fn, prob.train, [gd.Batch(1e30), gd.Stochastic(1e30),
                   gd.MiniBatch(32, 1e30)], epochs=1, seeds=[0])
    assert all(h.diverged and len(h.evals["train_loss"]) == 1 for hs in c.histories.values() for h in hs)
    for y in ("auto", "loss"):
        fig = c.plot(x="all", y=y)
        _draw(fig)  # used to raise "Data cannot be log-scaled" in tight_layout
        assert "every run diverged" in fig.texts[0].get_text()  # the suptitle says so
        for panel in fig.axes:
            lo, hi = panel.get_ylim()
            assert 0 < lo < hi < 100 * lo, panel.get_title()
            marks = _marks(panel)
            assert {m.get_color() for m in marks} == set(COLORS[:3]), panel.get_title()
            assert all(len(_visible(panel, m)) == 1 for m in marks)
            # the three runs fail at update 2, from the same start: the marks are spread, not stacked
            spots = {tuple(np.round(m.get_transform().transform(np.column_stack(m.get_data()))[0])) for m in marks}
            assert len(spots) == 3, panel.get_title()
        plt.close(fig)


def test_every_variant_is_visible_in_every_panel(prob):
    variants = [gd.Batch(1.5), gd.Stochastic(0.5), gd.MiniBatch(32, 2.0)]
    c = gd.compare(prob.model_fn, prob.loss_fn, prob.train, variants, epochs=10, seeds=[0])
    sgd = c.histories["sgd (B=1, lr=0.5)"][0]
    assert sgd.diverged and len(sgd.evals["train_loss"]) == 1  # diverged before its first evaluation
    fig = c.plot(x="all")
    _draw(fig)
    for panel in fig.axes:
        marks = {m.get_color(): m for m in _marks(panel)}
        assert set(marks) == set(COLORS[:3]), panel.get_title()
        assert all(len(_visible(panel, m)) == 1 for m in marks.values()), panel.get_title()
        curves = {line.get_color(): line for line in _curves(panel)}
        for color in (COLORS[0], COLORS[2]):  # batch and mini-batch were evaluated on their way up
            assert len(_visible(panel, curves[color])) == len(curves[color].get_xdata()) > 0, panel.get_title()
    plt.close(fig)


@pytest.mark.parametrize("k", [1, 4, 6])
def test_the_figure_legend_fits_with_long_labels(k):
    moons = gd.make_problem("moons")
    variants = [gd.MiniBatch(2 ** (i + 2), 0.0123456789, name=f"a_rather_long_variant_name_{i}") for i in range(k)]
    c = gd.compare(moons.model_fn, moons.loss_fn, moons.train, variants, updates=2, seeds=[0])
    fig = c.plot(x="all")
    fig.canvas.draw()
    (legend,) = fig.legends
    box = legend.get_window_extent()
    assert len(legend.get_texts()) == k
    assert 0 <= box.x0 and box.x1 <= fig.bbox.width and box.y0 >= 0
    assert box.y1 < min(panel.xaxis.label.get_window_extent().y0 for panel in fig.axes)  # below the axis labels
    plt.close(fig)


def test_the_summary_says_how_many_seeds_reached_the_target(prob):
    c = gd.compare(prob.model_fn, prob.loss_fn, prob.train, [gd.Stochastic(0.01)], epochs=1, seeds=[0, 1, 2])
    bests = sorted(h.best_loss for h in c.histories["sgd (B=1, lr=0.01)"])
    some = c.summary(target=bests[1])  # the two seeds with the lowest best losses get there
    row = some["sgd"]
    assert row["reached_target"] == 2 and row["updates_to_target"] is not None
    text = str(some)
    assert "reached" in text.splitlines()[1] and " 2/3 " in text.splitlines()[3]
    assert "over the seeds that reached it" in text.splitlines()[0]
    none = c.summary(target=bests[0] - 1.0)
    assert none["sgd"]["reached_target"] == 0 and none["sgd"]["time_to_target"] is None
    assert " 0/3 " in str(none).splitlines()[3] and str(none).splitlines()[3].count(" - ") >= 3


def test_the_default_target_is_below_every_start_when_no_run_improves(prob):
    data = (prob.train.X, prob.train.y)  # plain arrays: f* unknown
    c = gd.compare(prob.model_fn, prob.loss_fn, data, [gd.Batch(1.5)], epochs=3, seeds=[0, 1])
    runs = c.histories["batch (B=N=1000, lr=1.5)"]
    assert c.f_star is None and all(h.best_loss == h.initial_loss for h in runs)  # the loss only rises
    f0 = min(h.initial_loss for h in runs)
    assert c.target == pytest.approx(0.9 * f0)
    s = c.summary()
    assert s["batch"]["reached_target"] == 0 and s["batch"]["updates_to_target"] is None
    assert "no run got far below the start" in str(s).splitlines()[0]


def test_the_default_target_without_f_star_is_unchanged_when_runs_improve(prob):
    c = gd.compare(prob.model_fn, prob.loss_fn, (prob.train.X, prob.train.y), [gd.Batch(0.5)], epochs=3, seeds=[0])
    (h,) = c.histories["batch (B=N=1000, lr=0.5)"]
    assert c.target == pytest.approx(h.best_loss + 0.1 * (h.initial_loss - h.best_loss))
    assert "best loss seen + 10%" in str(c.summary()).splitlines()[0]


def test_precision_floor():
    assert precision_floor(0.25, "float32") == float(np.spacing(np.float32(0.25)))
    assert precision_floor(0.25, "float64") == precision_floor(0.25) == float(np.spacing(0.25))
    assert precision_floor(-3.0, "float32") == float(np.spacing(np.float32(3.0)))
    assert precision_floor(0.0, "float32") == float(np.finfo(np.float32).tiny)


def test_f_minus_f_star_below_float32_precision_is_clipped_not_dropped(prob):
    c = gd.compare(prob.model_fn, prob.loss_fn, prob.train, [gd.Batch(0.5)], epochs=10, seeds=[0, 1, 2])
    runs = c.histories["batch (B=N=1000, lr=0.5)"]
    assert all(h.dtype == "float32" for h in runs) and any((h.evals["suboptimality"] <= 0).any() for h in runs)
    floor = c.suboptimality_floor
    assert floor == pytest.approx(np.spacing(np.float32(prob.f_star)))
    fig = c.plot(x="epoch")
    _draw(fig)
    panel = fig.axes[0]
    (curve,) = _curves(panel)
    x, y = curve.get_data()
    assert x[-1] == 10 and len(x) == 11  # every evaluation, to the end of the run
    assert np.all(y >= floor * (1 - 1e-9)) and y[-1] == pytest.approx(floor)
    assert any(line.get_linestyle() == ":" and line.get_ydata()[0] == floor for line in panel.get_lines())
    assert any("float32 precision" in t.get_text() for t in panel.texts)
    plt.close(fig)
    s = c.summary()
    assert s["batch"]["final_suboptimality"] == pytest.approx(floor)  # clipped per seed, as in the plot
    text = str(s)
    assert f"<={floor:.2g}" in text.splitlines()[3] and "ulp" in text.splitlines()[-1]


def test_summary_says_what_a_diverged_runs_final_loss_is(prob):
    c = gd.compare(prob.model_fn, prob.loss_fn, prob.train, [gd.Batch(0.5), gd.MiniBatch(32, 1e30)], epochs=1,
                   seeds=[0])
    text = str(c.summary())
    # without a word, a blown-up run's 'final loss' would read as where training settled
    assert "diverged runs stopped after the update named" in text
    assert "final loss and f-f* are the loss where they stopped" in text and "inf where the loss overflowed" in text
    calm = gd.compare(prob.model_fn, prob.loss_fn, prob.train, [gd.Batch(0.5)], epochs=1, seeds=[0])
    assert "diverged runs:" not in str(calm.summary())


def test_a_run_that_ends_above_its_start_without_blowing_up_is_not_a_plain_no(prob):
    # Catches "diverged: no" for a run whose loss grew x1600 (below the 1e6 blow-up rule): read as trained fine.
    c = gd.compare(prob.model_fn, prob.loss_fn, prob.train, [gd.Batch(0.5), gd.Batch(1.5, name="fast")], epochs=5,
                   seeds=[0])
    s = c.summary()
    (h,) = c.histories["fast (B=N=1000, lr=1.5)"]
    assert not h.diverged and h.final_loss > 1000 * h.initial_loss
    assert s["fast"]["diverged"] == f"no (final loss x{h.final_loss / h.initial_loss:,.0f} the start: lr too large?)"
    assert s["batch"]["diverged"] == "no"
    assert "lr too large?" in str(s) and "lr too large?" in c.to_csv(table="summary")
    seeds = gd.compare(prob.model_fn, prob.loss_fn, prob.train, [gd.Batch(1.5)], epochs=5, seeds=[0, 1])
    assert seeds.summary().rows[0]["diverged"] == "no (2/2 seeds end above their start: lr too large?)"


def test_summary_times_keep_three_significant_digits():
    from tinygrad_mb.gd.compare import _fmt

    # batch GD's sub-millisecond times printed as 0.000 with a fixed 3 decimals: "took no time"
    assert _fmt(0.000733, "seconds") == "0.000733"
    assert _fmt(0.35063, "seconds") == "0.351"
    assert _fmt(12.34, "seconds") == "12.3"
    assert _fmt(1234.5, "seconds") == "1234"  # plain, not 1.23e+03
    assert _fmt(0.0, "seconds") == "0" and _fmt(None, "seconds") == "-"


def test_each_panel_draws_the_mean_over_seeds_against_its_own_axis():
    # catches: a panel drawn against another axis's numbers (updates at epochs, seconds at samples),
    # or a linear-scale curve that is not the mean over the seeds
    moons = gd.make_problem("moons")
    c = gd.compare(moons.model_fn, moons.loss_fn, moons.train, [gd.MiniBatch(80, 0.5)], epochs=2, seeds=[0, 1, 2])
    runs = c.histories["minibatch (B=80, lr=0.5)"]
    fig = c.plot(x="all", y="train_accuracy")
    for panel, axis in zip(fig.axes, X_AXES):
        (curve,) = _curves(panel)
        x = np.mean([h.evals[axis] for h in runs], axis=0)
        keep = x > 0 if panel.get_xscale() == "log" else x >= 0  # x = 0 has no place on a log axis
        np.testing.assert_allclose(curve.get_xdata(), x[keep], err_msg=axis)
        np.testing.assert_allclose(curve.get_ydata(), np.mean([h.evals["train_accuracy"] for h in runs], axis=0)[keep])
    plt.close(fig)


def test_the_divergence_mark_stands_where_the_run_stopped_at_the_last_finite_value(prob):
    # catches: the ✕ at updates / N on the epoch axis (not samples / N), or at the starting loss
    c = gd.compare(prob.model_fn, prob.loss_fn, prob.train, [gd.MiniBatch(32, 2.0)], epochs=10, seeds=[0])
    (h,) = c.histories["minibatch (B=32, lr=2)"]
    assert h.diverged and len(h.evals["train_loss"]) > 2  # evaluated on its way up
    fig = c.plot(x="all", y="loss")
    where = {"epoch": h.diverged_samples / h.n_train, "update": h.updates, "samples": h.diverged_samples,
             "time": h.diverged_time}
    for panel, axis in zip(fig.axes, X_AXES):
        (mark,) = _marks(panel)
        assert mark.get_xdata()[0] == pytest.approx(where[axis]), axis
        assert mark.get_ydata()[0] == pytest.approx(h.evals["train_loss"][-1])
    plt.close(fig)


def test_a_blown_up_run_agrees_in_table_csv_and_figure(prob):
    # catches: the evaluation that blew up (finite, past 1e6 x the start) dropped, so the table said
    # "updates 4 ... diverged at update 5" beside the loss after update 3, and the curve ended at 3
    # with its ✕ at 5
    c = gd.compare(prob.model_fn, prob.loss_fn, prob.train, [gd.Batch(5.0)], epochs=10, seeds=[0])
    (h,) = c.histories["batch (B=N=1000, lr=5)"]
    assert h.diverged and np.isfinite(h.diverged_loss) and h.updates == h.diverged_at - 1
    row = c.summary()["batch"]
    assert row["final_loss"] == h.diverged_loss and row["updates"] == h.updates
    assert row["diverged"] == f"yes, after update {h.updates} (loss={h.diverged_loss:.4g})"
    last_csv = [r for r in c.rows("evals")][-1]
    assert (last_csv["update"], last_csv["train_loss"]) == (h.updates, h.diverged_loss)
    fig = c.plot(x="all", y="loss")
    for panel, axis in zip(fig.axes, X_AXES):
        (curve,) = _curves(panel)
        (mark,) = _marks(panel)
        end = (curve.get_xdata()[-1], curve.get_ydata()[-1])
        assert (mark.get_xdata()[0], mark.get_ydata()[0]) == pytest.approx(end), axis
        assert end[0] == pytest.approx(h.evals[axis][-1]), axis
    assert _curves(fig.axes[0])[0].get_label().endswith(f"diverged after update {h.updates}")
    plt.close(fig)


def test_the_precision_label_sits_under_the_floor_line_where_no_curve_goes(prob):
    # catches: the label above the dotted floor, where batch GD's curve runs down through it
    c = gd.compare(prob.model_fn, prob.loss_fn, prob.train, [gd.Batch(0.5), gd.MiniBatch(32, 0.1)],
                   epochs=10, seeds=[0])
    fig = c.plot(x="all")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    floor = c.suboptimality_floor
    for panel in fig.axes:
        (label,) = [t for t in panel.texts if "precision of f*" in t.get_text()]
        box = label.get_window_extent(renderer)
        floor_y = panel.transData.transform((1, floor))[1]
        bottom_y = panel.get_window_extent(renderer).y0
        # curves are clipped at the floor: the strip between it and the axis is free for the text
        assert bottom_y <= box.y0 and box.y1 <= floor_y, panel.get_title()
        for curve in _curves(panel):
            assert np.all(np.asarray(curve.get_ydata(), dtype=float) >= floor * (1 - 1e-9))
    plt.close(fig)


def test_summary_of_a_classification_run_with_a_test_set():
    # The final test numbers are each seed's LAST evaluation, averaged; the table shows the test accuracy
    # and, with f* unknown, no f - f* column; the target line says how the target was chosen; names and
    # the diverged column read left-aligned, the numbers right-aligned.
    prob = gd.make_problem("logistic")
    variants = [gd.MiniBatch(16, 0.5), gd.Batch(2.0)]
    cmp = gd.compare(prob.model_fn, prob.loss_fn, prob.train, variants, epochs=2, seeds=[0, 1],
                     test_dataset=prob.test)
    assert cmp.f_star is None
    summary = cmp.summary()
    for row, runs in zip(summary.rows, cmp.histories.values()):
        for key in ("test_loss", "test_accuracy"):
            assert row[f"final_{key}"] == pytest.approx(np.mean([h.evals[key][-1] for h in runs]))
            assert all(h.evals[key][-1] != h.evals[key][0] for h in runs)  # the last differs from the first
    lines = str(summary).splitlines()
    assert "(best loss seen + 10% of (f0 - best))" in lines[0] or "(f0 - 10% of |f0|" in lines[0]
    header, rows = lines[1], lines[3:3 + len(variants)]
    assert "test acc" in header and "final f-f*" not in header
    where = header.rindex("diverged")
    for line, label in zip(rows, cmp.labels):
        assert line.startswith(label) and line[where:where + 2] == "no"
        assert line[header.index("updates") + len("updates") - 1] != " "  # right-aligned under its title
    assert "(given)" in str(cmp.summary(target=0.5)).splitlines()[0]
    lin = gd.make_problem("linear")
    for target, rule in ((None, "(f* + 1% of (f0 - f*))"), (0.5, "(given)")):
        known = gd.compare(lin.model_fn, lin.loss_fn, lin.train, [gd.Batch(0.5)], updates=3, target=target)
        assert known.f_star is not None and rule in str(known.summary()).splitlines()[0]
        assert "test acc" not in str(known.summary()) and "final f-f*" in str(known.summary())  # no test set
    assert "steps" in cmp.to_dict()["histories"][cmp.labels[0]][0]
    assert repr(cmp) == f"Comparison({cmp.labels}, seeds=[0, 1])"
    assert '"steps"' in cmp.to_json() and '"steps"' not in cmp.to_json(steps=False)  # per-update tables by default
    assert cmp.to_json().startswith('{\n "')  # one space per level


def test_a_run_at_the_precision_floor_reads_at_most_the_floor_in_its_own_cell_only():
    # Batch GD on least squares reaches f* to float32 rounding: its f-f* cell says "<=floor" and a footnote
    # explains it; the other cells and the run still above the floor keep their numbers. The rule under the
    # header is as long as the header.
    lin = gd.make_problem("linear")
    cmp = gd.compare(lin.model_fn, lin.loss_fn, lin.train, [gd.Batch(0.5), gd.Stochastic(0.01)], epochs=10)
    summary = cmp.summary()
    floor = summary.suboptimality_floor
    batch_row, sgd_row = summary.rows
    assert batch_row["final_suboptimality"] <= floor * (1 + 1e-9) < sgd_row["final_suboptimality"]
    lines = str(summary).splitlines()
    header, rule, batch_line, sgd_line = lines[1:5]
    assert rule == "-" * len(header)
    assert f"<={floor:.2g}" in batch_line and batch_line.count("<=") == 1 and "<=" not in sgd_line
    assert f"{batch_row['final_loss']:.4g}" in batch_line
    assert any(line.startswith(f"final f-f* <={floor:.2g}: within one rounding step") for line in lines)
    assert not any("every run started at or below the target" in line for line in lines)


def test_a_run_that_overflowed_reads_inf_in_the_table_and_stands_on_the_top_edge(prob):
    # Catches SGD at lr 5 reported and drawn at its starting loss (its last full evaluation, 17 updates
    # before it overflowed), below every other curve: read as the best run of the comparison.
    c = gd.compare(prob.model_fn, prob.loss_fn, prob.train, [gd.Batch(0.5), gd.Stochastic(5.0)], epochs=1,
                   seeds=[0])
    (h,) = c.histories["sgd (B=1, lr=5)"]
    assert h.overflowed and h.final_loss == h.initial_loss  # evaluated only at the start
    row = c.summary()["sgd"]
    assert row["final_loss"] == math.inf and row["final_suboptimality"] == math.inf
    assert row["best_loss"] == h.initial_loss  # the lowest loss it was measured at: honest
    assert str(c.summary()).splitlines()[4].split(")")[1].split()[2:4] == ["inf", f"{h.initial_loss:.4g}"]
    (calm,) = c.histories["batch (B=N=1000, lr=0.5)"]
    assert not calm.overflowed and c.summary()["batch"]["final_loss"] == calm.final_loss
    fig = c.plot(x="all")
    _draw(fig)
    for panel in fig.axes:
        (mark,) = _marks(panel)
        assert _on_top_edge(panel, mark) and len(_visible(panel, mark)) == 1, panel.get_title()
    assert "on the top edge: inf or nan" in fig.texts[0].get_text()
    plt.close(fig)


def test_the_summary_says_the_target_columns_are_read_on_the_evaluation_grid(prob):
    # Catches SGD's updates->target shown as exact when it is read every 64 samples: up to 63 updates late.
    c = gd.compare(prob.model_fn, prob.loss_fn, prob.train, [gd.Batch(0.5), gd.Stochastic(0.01),
                   gd.MiniBatch(32, 0.1)], epochs=2, seeds=[0])
    s = c.summary()
    (sgd,) = c.histories["sgd (B=1, lr=0.01)"]
    assert s.eval_every == sgd.eval_every == 64 and s["sgd"]["reached_target"] == 1
    assert ("->target columns are read at the evaluations, every 64 samples (and at each epoch's end): rounded "
            "up to that grid, by up to 63 updates at B = 1") in str(s)
    whole = gd.compare(prob.model_fn, prob.loss_fn, prob.train, [gd.Batch(0.5)], epochs=3, seeds=[0])
    assert "read at the evaluations" not in str(whole.summary())  # evaluated after every update
