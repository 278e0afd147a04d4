"""Edge cases of trajectories(), sweep(), gradient_noise() and the variants: diverging runs, budgets,
targets met at the start, non-finite numbers in JSON, NumPy integers and empty inputs."""

import json
import math

import numpy as np
import pytest

from tinygrad_mb import data, gd, nn
from tinygrad_mb.errors import DataError, HyperparameterError


def _strict_json(text):
    """json.loads that refuses NaN / Infinity (as strict parsers in other languages do)."""
    return json.loads(text, parse_constant=lambda name: pytest.fail(f"non-standard JSON constant {name}"))


def _trajectories(lr, **kw):
    prob = gd.make_problem("linear2d", model="linear")
    variants = [v.with_lr(lr) for v in prob.default_variants("batch,sgd,minibatch:16")]
    kw.setdefault("updates", 30)
    return gd.trajectories(prob.model_fn(0), prob.loss_fn, prob.train, variants, start=prob.start, grid_size=12,
                           **kw)


@pytest.fixture(scope="module")
def pyplot():
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


# --- trajectories: diverged runs are results, not crashes ------------------------------------
@pytest.mark.parametrize("lr", [3.0, 12.0, 1e30])
def test_trajectories_with_diverging_rates_plot_and_say_so(lr, pyplot):
    r = _trajectories(lr)
    assert all(r.diverged_at(label) is not None for label in r.paths)
    W1, W2, F = r.grid
    assert np.all(np.isfinite(W1)) and np.all(np.isfinite(W2))
    assert W1.max() - W1.min() < 10 and W2.max() - W2.min() < 10  # the start and the optimum, not the blow-up
    fig = r.plot()
    for ax, label in zip(fig.axes, r.paths):
        legend = ax.get_legend_handles_labels()[1]
        assert f"diverged after update {r.updates_made(label)} (off the view)" in legend
        assert all(math.isfinite(v) for v in (*ax.get_xlim(), *ax.get_ylim()))
    assert "diverged" in fig._suptitle.get_text()
    pyplot.close(fig)
    _strict_json(r.to_json())  # inf weights and losses become strings


def test_trajectories_report_where_each_run_ended(pyplot):
    r = _trajectories(1.2, updates=80)
    sgd = next(label for label in r.paths if label.startswith("sgd"))
    mini = next(label for label in r.paths if label.startswith("minibatch"))
    at = r.diverged_at(sgd)
    assert at is not None and r.updates_made(sgd) == at - 1 == len(r.paths[sgd]) - 1
    assert r.final_loss(sgd) > 1e3 * r.start_loss(sgd)  # where it ended, not the starting loss
    assert r.diverged_at(mini) is None and r.updates_made(mini) == 80
    lines = dict(zip(r.paths, r.summary_lines()))
    assert lines[sgd].startswith(f"{sgd}: diverged after update {at - 1} (loss ")
    assert lines[mini] == f"{mini}: 80 updates, final loss {r.final_loss(mini):.5g}"
    assert str(r) == "\n".join(r.summary_lines())
    # the view follows the run that did not diverge, not SGD's flight to ~1e10
    W1, W2, _ = r.grid
    assert W1.max() - W1.min() < 1e3
    assert "updates made: batch" in r.budget_text() and "sgd" in r.budget_text() and "(diverged)" in r.budget_text()
    pyplot.close(r.plot())


def test_trajectories_title_says_what_ran_with_two_budgets(pyplot):
    r = gd.trajectories(epochs=1, updates=5, grid_size=10)
    assert [r.updates_made(label) for label in r.paths] == [1, 5, 5]
    text = r.budget_text()
    assert text == "budget: 1 epoch or 5 updates, whichever came first; updates made: batch 1, sgd 5, minibatch 5"
    fig = r.plot()
    title = fig._suptitle.get_text()
    assert text in title and "5 updates each" not in title
    assert "end (1 update)" in fig.axes[0].get_legend_handles_labels()[1]
    pyplot.close(fig)
    assert gd.trajectories(updates=4, grid_size=8).budget_text() == "4 updates each"


def test_trajectories_without_divergence_keep_the_old_view():
    r = _trajectories(0.1, updates=10)
    pts = np.concatenate(list(r.paths.values()) + [np.array([r.optimum])])
    W1, W2, _ = r.grid
    assert W1.min() < pts[:, 0].min() and W1.max() > pts[:, 0].max()
    assert W2.min() < pts[:, 1].min() and W2.max() > pts[:, 1].max()
    assert all(r.diverged_at(label) is None for label in r.paths)
    assert all(r.final_loss(label) == r.histories[label].final_loss for label in r.paths)


# --- sweep: markers that can be seen ------------------------------------------------------
@pytest.fixture(scope="module")
def lin200():
    return data.linear_regression(n=200, d=5, seed=1)


def _markers(ax, marker):
    return [line for line in ax.get_lines() if line.get_marker() == marker]


def test_sweep_not_reached_markers_are_drawn_at_a_finite_height(lin200, pyplot):
    r = gd.sweep(nn.Linear(5, 1, seed=0), nn.MSELoss(), lin200, batch_sizes=(1, 200), lrs=(0.001, 0.5),
                 epochs=0.05, min_updates=20)
    assert math.isinf(r.steps_to_target[0]) and math.isfinite(r.steps_to_target[1])
    fig = r.plot()
    (down,) = _markers(fig.axes[0], "v")
    y = down.get_ydata()
    assert np.all(np.isfinite(y)) and y[0] > r.steps_to_target[1]
    assert fig.axes[0].get_ylim()[0] < y[0] < fig.axes[0].get_ylim()[1]
    # drawn far below the budget it ran out of (to keep the axis on the measured counts): the count says so
    assert [t.get_text() for t in fig.axes[0].texts] == [f"> {r.budgets[0]:,}"]
    pyplot.close(fig)


def test_sweep_table_shows_means_over_seeds_with_their_decimal(lin200):
    r = gd.sweep(nn.Linear(5, 1, seed=0), nn.MSELoss(), lin200, batch_sizes=(4, 16), lrs=(0.05, 0.2), epochs=3,
                 seeds=[0, 1, 2])
    lines = str(r).splitlines()
    assert "means over 3 seeds" in lines[0] and r.seeds == 3 and r.to_dict()["seeds"] == 3
    for line, steps, samples in zip(lines[2:4], r.steps_to_target, r.samples_to_target):
        shown = line.split()[2:4]  # rounded to whole numbers, 2.33 updates read as 2 and samples != updates x B
        assert [float(v) for v in shown] == [round(steps, 1), round(samples, 1)]
    assert "means over" not in str(gd.sweep(nn.Linear(5, 1, seed=0), nn.MSELoss(), lin200, batch_sizes=(16,),
                                            lrs=(0.2,), epochs=3)).splitlines()[0]


def test_sweep_with_the_target_met_at_the_start(lin200, pyplot):
    r = gd.sweep(nn.Linear(5, 1, seed=0), nn.MSELoss(), lin200, batch_sizes=(1, 200), lrs=(0.001, 0.5),
                 target=1e9, epochs=0.05, min_updates=20)
    assert r.met_at_start() and r.steps_to_target == [0.0, 0.0]
    assert all(math.isnan(lr) for lr in r.best_lr) and not any(run["best"] for run in r.runs)
    assert len(r.runs) == 4 and all(run["steps"] == 0 for run in r.runs)
    assert "target met at the start" in str(r)
    fig = r.plot()
    (up,) = _markers(fig.axes[0], "^")
    assert np.all(np.isfinite(up.get_ydata())) and np.all(up.get_ydata() > 0)
    assert any("already met" in t.get_text() for t in fig.axes[0].texts)
    pyplot.close(fig)
    _strict_json(r.to_json())


def test_sweep_with_several_seeds_finds_the_rate_each_rate_alone_would_show():
    # Rates after the first to reach the target are stopped early. With several seeds the bound
    # is on their total: capping each seed at the best *mean* cut off a better rate whose seeds
    # differ (here the sweep reported 40.8 updates at lr 2^-3.5 when 2^-4 needs 34.4).
    prob = gd.make_problem("linear")
    lrs = 2.0 ** np.arange(-5, -1.99, 0.25)
    common = {"batch_sizes": [2], "seeds": (0, 1, 2, 3, 4), "epochs": 2, "min_updates": 100, "target": 0.5}
    together = gd.sweep(prob.model_fn, prob.loss_fn, prob.train, lrs=lrs, **common)
    alone = {lr: gd.sweep(prob.model_fn, prob.loss_fn, prob.train, lrs=[lr], **common).steps_to_target[0]
             for lr in lrs}
    assert together.steps_to_target[0] == min(alone.values())
    assert alone[together.best_lr[0]] == min(alone.values())


def test_sweep_needs_a_seed_and_data(lin200):
    with pytest.raises(HyperparameterError, match="at least one seed"):
        gd.sweep(nn.Linear(5, 1, seed=0), nn.MSELoss(), lin200, seeds=[])
    with pytest.raises(DataError, match="empty"):
        gd.sweep(nn.Linear(5, 1, seed=0), nn.MSELoss(), (np.zeros((0, 5), "float32"), np.zeros((0, 1), "float32")))


# --- gradient noise: valid JSON, a readable B = N row --------------------------------------
def test_noise_json_is_strict_and_b_equal_n_reads_exact():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 3)).astype("float32"), rng.standard_normal((40, 1)).astype("float32")
    r = gd.gradient_noise(nn.Linear(3, 1, seed=0), nn.MSELoss(), (X, y), batch_sizes=[1, 4, 40], draws=20)
    doc = _strict_json(r.to_json())
    assert doc["relative_error"][2] == "nan" and doc["relative_error"][0] == pytest.approx(0.0, abs=1e-9)
    last_row = str(r).splitlines()[-1]
    assert last_row.split()[0] == "40" and last_row.endswith("exact") and "nan" not in last_row


# --- variants and the trainer: NumPy integers, bools, empty data ------------------------------
def test_variants_take_numpy_integers_but_not_bools():
    v = gd.MiniBatch(np.int64(32), np.float32(0.25))
    assert v.batch_size == 32 and type(v.batch_size) is int and v.lr == 0.25
    assert v.label(100) == "minibatch (B=32, lr=0.25)" and json.dumps(v.to_dict(100))
    assert gd.Variant("x", np.int32(8), 0.1).batch_size == 8
    for bad in (True, np.bool_(True), 2.0, 0, np.int64(-1)):
        with pytest.raises(HyperparameterError, match="batch_size must be a positive int"):
            gd.MiniBatch(bad, 0.1)
    with pytest.raises(HyperparameterError, match="lr must be"):
        gd.MiniBatch(8, True)
    assert gd.scale_lr(0.1, np.int64(32), np.int64(64)) == pytest.approx(0.2)


def test_train_on_an_empty_dataset_says_so():
    empty = (np.zeros((0, 2), "float32"), np.zeros((0, 1), "float32"))
    with pytest.raises(DataError, match="dataset is empty"):
        gd.train(nn.Linear(2, 1, seed=0), nn.MSELoss(), empty, gd.Batch(0.1))
    X = np.ones((4, 2), "float32")
    with pytest.raises(DataError, match="test_dataset is empty"):
        gd.train(nn.Linear(2, 1, seed=0), nn.MSELoss(), (X, X[:, :1]), gd.Batch(0.1), test_dataset=empty, updates=1)


# --- sweep: divergence is named, not hidden behind "not reached" ------------------------------
def _legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_sweep_says_when_every_rate_diverged(lin200, pyplot):
    # catches: a grid of rates that all blow up reported as "not reached" / "not reached within
    # budget", which sends the user to the budget instead of the learning rate
    r = gd.sweep(nn.Linear(5, 1, seed=0), nn.MSELoss(), lin200, batch_sizes=(4, 16), lrs=(100, 1000), epochs=1,
                 min_updates=20)
    assert all(run["diverged"] for run in r.runs) and r.all_diverged(4) and r.all_diverged(16)
    rows = str(r).splitlines()[2:4]
    assert all(row.endswith("not reached  (all rates diverged; try smaller --lrs)") for row in rows)
    fig = r.plot()
    left, right = fig.axes[:2]
    assert _legend_texts(left) == ["every rate diverged: try smaller rates (drawn at the update budget)"]
    (crosses,) = _markers(left, "X")
    np.testing.assert_array_equal(crosses.get_ydata(), r.budgets)  # a real height: the updates each run had
    assert r.budgets == [50, 20]  # max(epochs * N / B, min_updates)
    fig.canvas.draw()
    assert [t.get_text() for t in left.get_yticklabels() if t.get_text()], "the left y-axis has no scale"
    assert any("every learning rate diverged" in t.get_text() for t in left.texts)
    assert "every rate diverged" in right.get_title()
    pyplot.close(fig)


def test_sweep_with_some_rates_diverged_says_which_way_to_move(lin200):
    r = gd.sweep(nn.Linear(5, 1, seed=0), nn.MSELoss(), lin200, batch_sizes=(4,), lrs=(1e-6, 1000), epochs=0.5,
                 min_updates=10)
    assert math.isinf(r.steps_to_target[0]) and not r.all_diverged(4)
    assert str(r).splitlines()[2].endswith("(1 of 2 rates diverged, the rest ran out of updates)")


def test_sweep_figure_marks_the_rates_that_diverged(lin200, pyplot):
    # catches: the grid's grey dots drawn alike for rates that worked and rates that blew up
    r = gd.sweep(nn.Linear(5, 1, seed=0), nn.MSELoss(), lin200, batch_sizes=(4, 200), lrs=(0.05, 0.2, 50),
                 epochs=2)
    diverged = {(run["batch_size"], run["lr"]) for run in r.runs if run["diverged"]}
    assert diverged == {(4, 50.0), (200, 50.0)} and all(math.isfinite(s) for s in r.steps_to_target)
    fig = r.plot()
    right = fig.axes[1]
    (crosses,) = _markers(right, "x")
    assert set(zip(crosses.get_xdata(), crosses.get_ydata())) == diverged
    (dots,) = [line for line in right.get_lines() if line.get_label() == "learning rates tried"]
    assert set(zip(dots.get_xdata(), dots.get_ydata())) == {(b, lr) for b in (4, 200) for lr in (0.05, 0.2)}
    assert "learning rates tried: diverged" in _legend_texts(right)
    assert "every rate diverged" not in " ".join(_legend_texts(fig.axes[0]))
    pyplot.close(fig)


# --- trajectories: a path a wider run would hide, labels inside the figure ----------------------
@pytest.fixture(scope="module")
def wide_and_narrow():
    # batch GD diverges, SGD at 0.5 wanders over +-40, the mini-batch run stays within +-2
    prob = gd.make_problem("linear2d", model="linear")
    batch, sgd, mini = prob.default_variants("batch,sgd,minibatch:16")
    variants = [batch.with_lr(1.5), sgd.with_lr(0.5), mini.with_lr(0.3)]
    return gd.trajectories(prob.model_fn(0), prob.loss_fn, prob.train, variants, start=prob.start, updates=60,
                           grid_size=30)


def test_trajectories_zoom_in_on_a_path_the_shared_view_would_hide(wide_and_narrow, pyplot):
    r = wide_and_narrow
    batch, sgd, mini = r.paths
    assert r.diverged_at(batch) is not None and r.diverged_at(mini) is None
    assert list(r.panel_grids) == [mini]  # only the squeezed panel zooms; batch and SGD keep the shared view
    fig = r.plot()
    ax = dict(zip(r.paths, fig.axes))
    width = {label: np.ptp(a.get_xlim()) for label, a in ax.items()}
    assert width[sgd] > 50 and width[mini] < 6  # the mini-batch path fills its panel, not 3% of it
    path = r.paths[mini]
    (x0, x1), (y0, y1) = ax[mini].get_xlim(), ax[mini].get_ylim()
    assert np.all((x0 <= path[:, 0]) & (path[:, 0] <= x1) & (y0 <= path[:, 1]) & (path[:, 1] <= y1))
    assert "zoomed in" in ax[mini].get_title() and "zoomed in" not in ax[sgd].get_title()
    assert f"diverged after update {r.updates_made(batch)} (off the view)" in ax[batch].get_legend_handles_labels()[1]
    pyplot.close(fig)


@pytest.mark.parametrize("diverging", [True, False])
def test_trajectories_axis_labels_lie_inside_the_figure(diverging, wide_and_narrow, pyplot):
    # catches: tight_layout placing the equal-aspect panels so that "w1 = weight[0]" fell off the bottom
    r = wide_and_narrow if diverging else gd.trajectories(updates=20, grid_size=20)
    fig = r.plot()
    fig.canvas.draw()
    box = fig.bbox
    for a in fig.axes:
        for label in (a.xaxis.label, a.yaxis.label, a.title):
            extent = label.get_window_extent()
            if label.get_text():
                assert box.x0 <= extent.x0 and extent.x1 <= box.x1 and box.y0 <= extent.y0 and extent.y1 <= box.y1, \
                    label.get_text()
    pyplot.close(fig)


def test_trajectories_share_one_view_when_every_path_fills_it():
    r = gd.trajectories(updates=20, grid_size=15)
    assert r.panel_grids == {} and all(r.view_of(label) is r.grid for label in r.paths)


def test_a_sweep_of_one_batch_size_draws_no_reference_lines(lin200, pyplot):
    # Through one measured batch size the 1/B line and the scaling rules are single points: they would sit
    # in the legend with nothing to see. With two batch sizes they are drawn.
    def labels(r):
        fig = r.plot()
        found = [text.get_text() for axis in fig.axes for text in axis.get_legend().get_texts()]
        pyplot.close(fig)
        return found

    common = dict(lrs=(0.05, 0.2), epochs=5)
    one = gd.sweep(nn.Linear(5, 1, seed=0), nn.MSELoss(), lin200, batch_sizes=(8,), **common)
    assert math.isfinite(one.steps_to_target[0])
    assert not [t for t in labels(one) if "scaling" in t or "rule" in t]
    assert "measured (best lr per batch size)" in labels(one) and "best learning rate" in labels(one)
    two = gd.sweep(nn.Linear(5, 1, seed=0), nn.MSELoss(), lin200, batch_sizes=(8, 32), **common)
    assert {"perfect scaling: steps ∝ 1/B", "linear scaling rule lr ∝ B", "square-root rule lr ∝ √B"} <= set(
        labels(two))


def test_a_sweep_that_runs_out_of_updates_says_so_and_writes_its_files(lin200, tmp_path):
    # A tiny rate and budget: nothing diverges, nothing arrives. The table says which way to move,
    # the yes/no answers are real bools, and to_json / to_csv write exactly the text they return.
    r = gd.sweep(nn.Linear(5, 1, seed=0), nn.MSELoss(), lin200, batch_sizes=(4,), lrs=(1e-4,), epochs=0.05,
                 min_updates=2)
    assert math.isinf(r.steps_to_target[0])
    assert "(no rate diverged: each ran out of updates; try more --epochs or larger --lrs)" in str(r)
    assert r.met_at_start() is False and r.all_diverged(4) is False and r.all_diverged(8) is False
    text = r.to_json(tmp_path / "s.json")
    assert (tmp_path / "s.json").read_text() == text and text.startswith('{\n "')  # one space per level
    csv = r.to_csv(str(tmp_path / "s.csv"))
    assert (tmp_path / "s.csv").read_text() == csv and csv.splitlines()[0].startswith("batch_size,lr,")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv", "s.json"]
