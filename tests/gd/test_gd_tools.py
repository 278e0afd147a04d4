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
    path_colors = [next(line.get_color() for line in ax.get_lines() if line.get_marker() in (".", "None"))
                   for ax in fig.axes[:2]]
    assert path_colors == [COLORS[1], COLORS[0]]  # SGD red, full batch blue, as in the comparison figure
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
