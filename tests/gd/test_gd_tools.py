"""trajectories() and sweep(): small runs, shapes, the expected orderings, figures."""

import csv
import io
import json
import math

import numpy as np
import pytest

from tinygrad_mb import data, gd, nn
from tinygrad_mb.errors import HyperparameterError


@pytest.fixture(scope="module")
def traj():
    return gd.trajectories(updates=30, grid_size=25)


def test_trajectories_start_together_and_batch_gd_is_smoothest(traj):
    assert len(traj.paths) == 3 and traj.names == ("weight[0]", "weight[1]")
    starts = {tuple(p[0]) for p in traj.paths.values()}
    assert len(starts) == 1 and np.allclose(next(iter(starts)), (-1.5, 2.0))
    assert all(p.shape == (31, 2) for p in traj.paths.values())

    def wiggle(path):  # mean turning of the path: 0 for a straight line, large for a zig-zag
        d = np.diff(path, axis=0)
        cos = np.sum(d[1:] * d[:-1], axis=1) / (np.linalg.norm(d[1:], axis=1) * np.linalg.norm(d[:-1], axis=1))
        return float(np.mean(1 - cos))

    w = {label.split(" ")[0]: wiggle(p) for label, p in traj.paths.items()}
    assert w["batch"] < w["minibatch"] < w["sgd"]
    # batch GD on a quadratic never goes uphill
    batch = traj.histories["batch (B=N=200, lr=0.1)"]
    assert np.all(np.diff(batch.evals["train_loss"]) <= 1e-7)
    W1, W2, F = traj.grid
    assert W1.shape == W2.shape == F.shape == (25, 25) and np.all(np.isfinite(F))


def test_trajectories_exports_and_plot(traj, tmp_path):
    import matplotlib.pyplot as plt

    lines = traj.to_csv(tmp_path / "t.csv").splitlines()
    assert lines[0] == "variant,update,weight[0],weight[1]" and len(lines) == 1 + 3 * 31
    doc = json.loads(traj.to_json())
    assert set(doc["paths"]) == set(traj.paths)
    fig = traj.plot()
    assert len(fig.axes) >= 3 and all("B=" in ax.get_title() and "lr=" in ax.get_title() for ax in fig.axes[:3])
    plt.close(fig)


def test_trajectory_colours_follow_the_variant_not_its_place():
    # Catches colours given by position: `trajectories --variants sgd` drew SGD in full batch's blue
    import matplotlib.pyplot as plt

    from tinygrad_mb.gd.plots import COLORS

    r = gd.trajectories(variants=[gd.Stochastic(0.05), gd.Batch(0.1)], updates=5, grid_size=10)
    fig = r.plot()
    paths = [next(line for line in ax.get_lines() if line.get_marker() in (".", "None")) for ax in fig.axes[:2]]
    # as in the comparison figure: SGD dotted vermillion, full batch solid blue
    assert [p.get_color() for p in paths] == [COLORS[1], COLORS[0]]
    assert [p.get_linestyle() for p in paths] == [":", "-"]
    for ax, path in zip(fig.axes[:2], paths):  # the legend shows the path's style
        legend = ax.get_legend()
        (handle,) = [h for h, t in zip(legend.legend_handles, legend.get_texts()) if t.get_text() == "path"]
        assert handle.get_linestyle() == path.get_linestyle()
    # the title tells the story of what is drawn: there is no mini-batch run to lie in between
    assert "batch GD is smooth, SGD zig-zags\n" in fig._suptitle.get_text()
    plt.close(fig)


def test_trajectories_needs_two_weights():
    with pytest.raises(HyperparameterError, match="exactly two"):
        gd.trajectories(nn.Linear(3, 1, seed=0), nn.MSELoss(), (np.zeros((4, 3), "float32"),
                                                                np.zeros((4, 1), "float32")), [gd.Batch(0.1)])
    # a 1-D regression with a bias has two weights too
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 1)).astype("float32")
    r = gd.trajectories(nn.Linear(1, 1, seed=0), nn.MSELoss(), (X, 2 * X + 1), [gd.Batch(0.3)], updates=5,
                        grid_size=10)
    assert r.names == ("weight", "bias")


def test_sweep_perfect_scaling_then_diminishing_returns():
    lin = data.linear_regression(n=200, d=5, seed=1)
    model = nn.Linear(5, 1, seed=0)
    r = gd.sweep(model, nn.MSELoss(), lin, batch_sizes=(1, 4, 16, 200), lrs=2.0 ** np.arange(-8, 1.0, 1.0),
                 epochs=5)
    assert r.batch_sizes == [1, 4, 16, 200] and all(math.isfinite(s) for s in r.steps_to_target)
    s = r.steps_to_target
    assert s[0] > s[1] > s[2] >= s[3]
    assert s[0] / s[1] > 2  # small batches: close to 1/B
    assert s[2] / s[3] < (200 / 16) / 1.5  # large ones: well short of 1/B (diminishing returns)
    assert r.best_lr[0] <= r.best_lr[1] <= r.best_lr[2]
    assert sum(run["best"] for run in r.runs) == 4
    assert r.fit is not None and r.fit[0] > 0
    assert "best lr" in str(r) and r.to_csv().startswith("batch_size,lr,")
    assert json.loads(r.to_json())["batch_sizes"] == [1, 4, 16, 200]
    import matplotlib.pyplot as plt

    fig = r.plot()
    assert fig.axes[0].get_xscale() == "log" and fig.axes[0].get_yscale() == "log"
    # the 1/B reference stops at half the fewest steps: drawn on to B = 200 it pulled the axis far below
    perfect = next(line for line in fig.axes[0].get_lines() if line.get_label().startswith("perfect"))
    drawn = np.asarray(perfect.get_ydata(), dtype=float)
    assert s[0] * 1 / 200 < 0.5 * min(s)  # (so the full line would have gone lower)
    assert np.nanmin(drawn) >= 0.5 * min(s) and fig.axes[0].get_ylim()[0] > 0.25 * min(s)
    plt.close(fig)


def test_trajectory_csv_rows_are_the_path_points(traj):
    # catches: w1 and w2 written under each other's headers
    rows = list(csv.DictReader(io.StringIO(traj.to_csv())))
    for label, path in traj.paths.items():
        points = [(float(r["weight[0]"]), float(r["weight[1]"])) for r in rows if r["variant"] == label]
        np.testing.assert_array_equal(points, path)


def test_fit_steps_recovers_s_min_and_b_noise():
    # catches: B_noise returned as the fitted coefficient S_min * B_noise, not divided by S_min
    from tinygrad_mb.gd.sweep import fit_steps

    b = np.array([1, 4, 16, 64, 256])
    assert fit_steps(b, 50 * (1 + 20 / b)) == pytest.approx((50, 20))


def test_sweep_counts_samples_and_exports_them_under_their_headers():
    # catches: samples-to-target filled with update counts, the CSV's steps and samples columns swapped
    lin = data.linear_regression(n=200, d=5, seed=1)
    r = gd.sweep(nn.Linear(5, 1, seed=0), nn.MSELoss(), lin, batch_sizes=(4, 200), lrs=(0.05, 0.2), epochs=5)
    assert all(math.isfinite(s) for s in r.steps_to_target)
    assert r.samples_to_target == [s * b for s, b in zip(r.steps_to_target, r.batch_sizes)]  # B divides N
    rows = list(csv.DictReader(io.StringIO(r.to_csv())))
    assert [float(row["steps_to_target"]) for row in rows] == [run["steps"] for run in r.runs]
    assert [float(row["samples_to_target"]) for row in rows] == [run["samples"] for run in r.runs]


def test_sweep_runs_do_not_share_a_layers_random_generator(monkeypatch):
    # Catches sweep() reloading only the weights between learning rates: a Dropout layer's generator
    # carried on from the previous run, so the same (B, lr, seed) gave another run the second time.
    import importlib

    sweep_module = importlib.import_module("tinygrad_mb.gd.sweep")
    moons = gd.make_problem("moons")

    def net(seed):
        rng = np.random.default_rng(seed)
        return nn.Sequential(nn.Linear(2, 16, seed=rng), nn.Tanh(), nn.Dropout(0.2, seed=seed),
                             nn.Linear(16, 2, seed=rng))

    losses = []

    def recording_train(*args, **kwargs):
        h = train(*args, **kwargs)
        losses.append(h.steps["loss"])
        return h

    train = sweep_module.train
    monkeypatch.setattr(sweep_module, "train", recording_train)
    gd.sweep(net, moons.loss_fn, moons.train, batch_sizes=[16], lrs=[0.5, 0.5], target=0.3, epochs=1, min_updates=10)
    assert len(losses) == 2 and len(losses[1]) > 5
    np.testing.assert_array_equal(losses[0][: len(losses[1])], losses[1])


def _numpy_sgd_count(A, y, w0, b, lr, seed, target, budget):
    """Updates a plain NumPy SGD on the mean squared error needs, counted on the sweep's evaluation grid.

    Written apart from train(): the loader's order (a fresh ``default_rng(seed).permutation`` every
    epoch, the last batch kept), the full loss after an update when it reaches a multiple of
    ``max(B, N // 200)`` samples counted from the epoch's start, or ends the epoch, or the budget.
    """
    n = len(A)
    every = max(b, n // 200)
    order_rng = np.random.default_rng(seed)
    w, k, seen = w0.copy(), 0, 0
    while True:
        order = order_rng.permutation(n) if b < n else np.arange(n)
        start, next_eval = seen, seen + every
        for i in range(0, n, b):
            idx = order[i:i + b]
            w = w - lr * 2 * A[idx].T @ (A[idx] @ w - y[idx]) / len(idx)
            k, seen = k + 1, seen + len(idx)
            if seen >= next_eval or i + b >= n or k == budget:
                if np.mean((A @ w - y) ** 2) <= target:
                    return k
                next_eval = start + ((seen - start) // every + 1) * every
            if k == budget:
                return math.inf


def test_sweep_counts_match_a_plain_numpy_sgd_on_the_evaluation_grid():
    # catches: an off-by-one in the count (the update after the hit, or update 0 as 1), a budget of
    # epochs * N / B rounded down, ties won by the smaller rate, another evaluation grid than the
    # docstring's every max(B, N // 200) samples (here 5: B = 1 and 2 are evaluated every few updates)
    rng = np.random.default_rng(7)
    X = rng.standard_normal((1000, 3)) * [1.0, 0.5, 2.0]
    y = X @ [1.0, -2.0, 0.5] + 0.3 + 0.5 * rng.standard_normal(1000)
    model = nn.Linear(3, 1, seed=0, dtype="float64")
    A = np.hstack([X, np.ones((1000, 1))])
    w0 = np.concatenate([model.weight.numpy().ravel(), model.bias.numpy()])
    f0 = np.mean((A @ w0 - y) ** 2)
    f_star = np.mean((A @ np.linalg.lstsq(A, y, rcond=None)[0] - y) ** 2)
    target = f_star + 0.01 * (f0 - f_star)
    lrs = [0.4, 0.2, 0.1, 0.05]
    r = gd.sweep(model, nn.MSELoss(), (X, y[:, None]), batch_sizes=[1, 2, 3, 7, 1000, 5000], lrs=lrs,
                 target=target, epochs=0.5, min_updates=60)
    assert r.batch_sizes == [1, 2, 3, 7, 1000] and r.budgets == [500, 250, 167, 72, 60]
    for b, budget, best_steps, best_lr in zip(r.batch_sizes, r.budgets, r.steps_to_target, r.best_lr):
        with np.errstate(over="ignore", invalid="ignore"):  # the diverging rates overflow
            counts = {lr: _numpy_sgd_count(A, y, w0, b, lr, 0, target, budget) for lr in lrs}
        mine = min(lrs, key=lambda lr: counts[lr])  # min() keeps the first of equals: the largest rate
        assert (best_steps, best_lr) == (counts[mine], mine), (b, counts)
        for run in r.runs_at(b):
            if not run["capped"]:  # a capped run stopped early, by design
                assert run["steps"] == counts[run["lr"]], (b, run, counts)


def test_fit_steps_minimises_the_relative_errors_and_skips_what_was_not_measured():
    # Noisy counts, where the weighting matters: the fit minimises sum ((S_min (1 + B_noise/B) - s) / s)^2.
    # Here it is solved apart, by the normal equations of that sum in (S_min, S_min * B_noise).
    # catches: plain (absolute) least squares, which the exact counts of the test above cannot tell
    # apart; a batch size never reached (inf) or met at the start (0) let into the fit
    from tinygrad_mb.gd.sweep import fit_steps

    b = np.array([1.0, 4, 16, 64, 256, 1024])
    s = np.array([1000.0, 300, 60, 20, 14, 9])
    M = np.stack([1 / s, 1 / (b * s)], axis=1)
    a, c = np.linalg.solve(M.T @ M, M.sum(axis=0))
    assert fit_steps(b, s) == pytest.approx((a, c / a), rel=1e-9)
    absolute = np.linalg.lstsq(np.stack([np.ones(6), 1 / b], axis=1), s, rcond=None)[0]
    assert abs(absolute[0] - a) > 0.2 * a  # (so the test can tell the two fits apart)
    assert fit_steps([*b, 2, 3], [*s, math.inf, 0.0]) == pytest.approx(fit_steps(b, s), rel=1e-12)


def test_sweep_ties_go_to_the_larger_rate():
    # With mean(x) = 0 and mean(x^2) = 1 the Hessian of the squared error is 2 I: batch GD shrinks the
    # error by |1 - 2 lr| per update, so lr = 0.75 and 0.25 (factors -1/2 and +1/2) lose the same loss
    # at every update and reach the target together, after 4 updates (the gap falls 4x per update).
    # catches: a tie won by the rate tried later (the smaller), against the docstring
    x = np.array([[-1.5], [-0.5], [0.5], [1.5]]) / np.sqrt(1.25)
    y = 2 * x + 1 + np.array([[0.1], [-0.1], [-0.1], [0.1]])
    model = nn.Linear(1, 1, seed=0, dtype="float64")
    A = np.hstack([x, np.ones((4, 1))])
    w0 = np.concatenate([model.weight.numpy().ravel(), model.bias.numpy()])
    f0 = np.mean((A @ w0 - y[:, 0]) ** 2)
    f_star = np.mean((A @ np.linalg.lstsq(A, y[:, 0], rcond=None)[0] - y[:, 0]) ** 2)
    r = gd.sweep(model, nn.MSELoss(), (x, y), batch_sizes=[4], lrs=[0.25, 0.75],
                 target=f_star + 0.25 ** 3.5 * (f0 - f_star), min_updates=10)
    assert [run["steps"] for run in r.runs] == [4, 4]
    assert r.best_lr == [0.75] and r.steps_to_target == [4]


def test_sweep_marks_one_best_run_per_batch_size_and_wants_a_finite_target():
    # catches: a rate listed twice in lrs marked best twice (matched by value), a nan target that no
    # run can reach, reported as "ran out of updates: try more epochs"
    lin = data.linear_regression(n=200, d=5, seed=1)
    r = gd.sweep(nn.Linear(5, 1, seed=0), nn.MSELoss(), lin, batch_sizes=[200], lrs=[0.2, 0.2], min_updates=50)
    assert math.isfinite(r.steps_to_target[0]) and [run["best"] for run in r.runs] == [True, False]
    with pytest.raises(HyperparameterError, match="finite"):
        gd.sweep(nn.Linear(5, 1, seed=0), nn.MSELoss(), lin, batch_sizes=[200], lrs=[0.2], target=math.nan)


def test_trajectory_losses_read_the_path_or_the_histories_and_the_json_is_written(traj, tmp_path):
    # start_loss/final_loss read the losses along the path; a result built without them (a user's own
    # TrajectoryResult) falls back to each History. to_json writes exactly the text it returns.
    import dataclasses

    bare = dataclasses.replace(traj, losses={})
    for label, h in traj.histories.items():
        assert traj.start_loss(label) == pytest.approx(h.initial_loss) == bare.start_loss(label)
        assert traj.start_loss(label) > 0 and traj.final_loss(label) < traj.start_loss(label)
        assert bare.final_loss(label) == h.final_loss and traj.final_loss(label) == pytest.approx(h.final_loss)
        assert traj.diverged_at(label) is None
    text = traj.to_json(tmp_path / "t.json")
    assert (tmp_path / "t.json").read_text() == text and text.startswith('{\n "names"')
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]


def test_more_than_three_trajectory_panels_wrap_into_two_rows_with_every_axis_labelled():
    # Catches five variants drawn in one 24-inch row, each panel and its text a fifth of the figure.
    import matplotlib.pyplot as plt

    variants = [gd.Batch(0.1), gd.Stochastic(0.1), gd.MiniBatch(8, 0.1), gd.MiniBatch(32, 0.1), gd.MiniBatch(64, 0.1)]
    fig = gd.trajectories(variants=variants, updates=5, grid_size=10).plot()
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 5 and len(fig.axes) == 6
    rows = sorted({round(ax.get_position().y0, 3) for ax in shown})
    assert len(rows) == 2 and fig.get_figwidth() == pytest.approx(3 * 4.8)
    fig.canvas.draw()
    for ax in shown:  # each column's last panel carries the w1 numbers and label; the first column the w2 label
        below = [o for o in shown if o is not ax and abs(o.get_position().x0 - ax.get_position().x0) < 1e-3
                 and o.get_position().y0 < ax.get_position().y0]
        numbers = [t.get_text() for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
        assert bool(numbers) == bool(ax.get_xlabel()) == (not below), ax.get_title()
    plt.close(fig)


def test_trajectories_refuse_two_variants_with_one_label():
    """The second path replaced the first in the result, the CSV and the figure, without a word."""
    with pytest.raises(HyperparameterError, match=r"two variants have the same label, minibatch \(B=8, lr=0.1\)"):
        gd.trajectories(variants=[gd.MiniBatch(8, 0.1), gd.MiniBatch(8, 0.1000001)], updates=3, grid_size=10)
