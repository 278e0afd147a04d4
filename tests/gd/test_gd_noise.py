"""gradient_noise: measured mini-batch gradient variance against the without-replacement theory."""

import csv
import io

import numpy as np
import pytest

from tinygrad_mb import data, gd, nn
from tinygrad_mb.errors import HyperparameterError


@pytest.fixture(scope="module")
def linear_noise():
    lin = data.linear_regression(n=1000, d=10, seed=0)
    model = nn.Linear(10, 1, seed=0)
    return gd.gradient_noise(model, nn.MSELoss(), lin, batch_sizes=(1, 4, 16, 64, 256), draws=1000, seed=0)


def test_measurements_match_theory_within_15_percent(linear_noise):
    r = linear_noise
    assert r.n == 1000 and r.batch_sizes == [1, 4, 16, 64, 256]
    for b, m, t in zip(r.batch_sizes, r.measured, r.theory):
        assert abs(m / t - 1) < 0.15, (b, m, t)
    # the theory itself: tr(Sigma)/B * (N - B)/(N - 1)
    for b, t in zip(r.batch_sizes, r.theory):
        assert t == pytest.approx(r.trace_sigma / b * (1000 - b) / 999)


def test_noise_scale_and_quantities(linear_noise):
    r = linear_noise
    assert r.b_simple == pytest.approx(r.trace_sigma / r.grad_norm_sq)
    assert r.measured == sorted(r.measured, reverse=True)  # noise falls with B
    assert all(s > 0 for s in r.measured_se[1:])
    assert "B_simple" in str(r)
    assert r.to_csv().splitlines()[0] == "batch_size,measured,measured_se,theory,relative_error"
    assert '"b_simple"' in r.to_json()


def test_trace_sigma_from_per_sample_gradients():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((50, 3)), rng.standard_normal((50, 1))
    model = nn.Linear(3, 1, seed=1, dtype="float64")
    r = gd.gradient_noise(model, nn.MSELoss(), (X, y), batch_sizes=[1, 50], draws=10)
    A = np.hstack([X, np.ones((50, 1))])
    w = np.concatenate([model.weight.numpy().ravel(), model.bias.numpy()])
    g = 2 * (A @ w - y[:, 0])[:, None] * A  # per-sample gradients of (a.w - y)^2
    G = g.mean(0)
    assert r.trace_sigma == pytest.approx(np.mean(np.sum((g - G) ** 2, axis=1)), rel=1e-10)
    assert r.grad_norm_sq == pytest.approx(G @ G, rel=1e-10)
    assert r.measured[1] == 0.0 and r.theory[1] == 0.0  # B = N: no noise


def test_noise_plot(linear_noise):
    import matplotlib.pyplot as plt

    fig = linear_noise.plot()
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "batch size" in ax.get_xlabel() and ax.get_title()
    assert any("theory" in t for t in ax.get_legend_handles_labels()[1])
    plt.close(fig)


def test_bad_batch_sizes():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 2)).astype("float32"), rng.standard_normal((20, 1)).astype("float32")
    with pytest.raises(HyperparameterError, match="between 1 and N=20"):
        gd.gradient_noise(nn.Linear(2, 1, seed=0), nn.MSELoss(), (X, y), batch_sizes=[0, 4])
    with pytest.raises(HyperparameterError):
        gd.gradient_noise(nn.Linear(2, 1, seed=0), nn.MSELoss(), (X, y), batch_sizes=[40])


def test_draws_are_independent_and_b1_is_exact(monkeypatch):
    # Batches of one shuffle are not independent: with B = N/2 the two halves' gradients
    # average to G exactly. Each draw must come from a fresh shuffle, or std/sqrt(draws)
    # is not the standard error the plot's error bars claim.
    from tinygrad_mb.gd import noise

    seen = []
    real = noise.batch_gradient

    def recording(*args):
        g = real(*args)
        seen.append(g)
        return g

    monkeypatch.setattr(noise, "batch_gradient", recording)
    lin = data.linear_regression(n=4, d=2, seed=0)
    result = gd.gradient_noise(nn.Linear(2, 1, seed=0), nn.MSELoss(), lin, batch_sizes=[1, 2], draws=40, seed=0)
    assert result.measured_se[0] == 0.0  # B = 1 averages all N per-sample gradients: exact
    G = noise.full_gradient(nn.Linear(2, 1, seed=0), nn.MSELoss(), lin)  # on the model's backend
    halves = sum(np.allclose((seen[k] + seen[k + 1]) / 2, G) for k in range(0, 40, 2))
    assert halves < 12  # about 20/6 by chance; all 20 when consecutive draws split one shuffle


@pytest.mark.parametrize("dataset", ["linear", "moons", "linear2d"])
def test_noise_plot_legend_hides_no_measured_point(dataset):
    import matplotlib.pyplot as plt

    prob = gd.make_problem(dataset)
    sizes = [b for b in (1, 4, 16, 64, 256) if b <= prob.n_train]
    result = gd.gradient_noise(prob.model_fn(0), prob.loss_fn, prob.train, batch_sizes=sizes, draws=50, seed=0)
    fig = result.plot()
    fig.canvas.draw()  # places the legend
    ax = fig.axes[0]
    box = ax.get_legend().get_window_extent()
    points = ax.transData.transform(np.column_stack([result.batch_sizes, result.measured]))
    # in the top right corner the legend used to cover the point at B = 4 (moons, linear2d)
    hidden = [b for b, (x, y) in zip(result.batch_sizes, points) if box.x0 <= x <= box.x1 and box.y0 <= y <= box.y1]
    assert hidden == [], f"the legend covers the measured noise at B = {hidden}"
    plt.close(fig)


def test_measured_noise_is_the_mean_over_the_draws_with_its_standard_error(monkeypatch):
    # catches: the mean or the standard error divided by the wrong count (draws - 1, draws not sqrt(draws))
    from tinygrad_mb.gd import noise

    lin = data.linear_regression(n=50, d=2, seed=0)
    G = noise.full_gradient(nn.Linear(2, 1, seed=0), nn.MSELoss(), lin)  # on the model's backend
    seen = []
    real = noise.batch_gradient

    def recording(*args):
        seen.append(real(*args))
        return seen[-1]

    monkeypatch.setattr(noise, "batch_gradient", recording)
    r = gd.gradient_noise(nn.Linear(2, 1, seed=0), nn.MSELoss(), lin, batch_sizes=[1, 5], draws=30, seed=0)
    sq = np.array([(g - G) @ (g - G) for g in seen[-30:]])  # the last 30 gradients: the B = 5 draws
    assert r.measured[1] == pytest.approx(sq.mean(), rel=1e-9)
    assert r.measured_se[1] == pytest.approx(sq.std(ddof=1) / np.sqrt(30), rel=1e-9)


def test_relative_errors_and_csv_columns(linear_noise):
    # catches: the relative error as theory / measured, CSV values under the wrong headers
    r = linear_noise
    assert r.relative_error() == pytest.approx([m / t - 1 for m, t in zip(r.measured, r.theory)])
    rows = list(csv.DictReader(io.StringIO(r.to_csv())))
    assert [float(row["measured"]) for row in rows] == r.measured
    assert [float(row["measured_se"]) for row in rows] == r.measured_se
    assert [float(row["theory"]) for row in rows] == r.theory


def test_noise_plot_draws_the_finite_population_theory_and_two_standard_error_bars(linear_noise):
    import matplotlib.pyplot as plt

    # catches: the drawn theory curve missing the (N - B)/(N - 1) factor, bars of 1 s.e. under a "±2 s.e." label
    r = linear_noise
    fig = r.plot()
    ax = fig.axes[0]
    (theory,) = [line for line in ax.get_lines() if line.get_label().startswith("theory")]
    b, y = theory.get_data()
    np.testing.assert_allclose(y, r.trace_sigma / b * (r.n - b) / (r.n - 1))
    (bars,) = ax.containers[0].lines[2]
    np.testing.assert_allclose([top[1] - bottom[1] for bottom, top in bars.get_segments()],
                               4 * np.asarray(r.measured_se))
    plt.close(fig)


def _small_noise(batch_sizes):
    lin = data.linear_regression(n=1000, d=3, seed=0)
    return gd.gradient_noise(nn.Linear(3, 1, seed=0), nn.MSELoss(), lin, batch_sizes=batch_sizes, draws=5, seed=0)


def _labelled_ticks(ax):
    ax.figure.canvas.draw()
    return [t for t in ax.get_xticklabels() if t.get_text()]


def test_noise_plot_tick_labels_of_near_batch_sizes_do_not_overlap():
    import matplotlib.pyplot as plt

    # catches: "999" and "1000" written on top of each other
    fig = _small_noise([999, 1000]).plot()
    ticks = _labelled_ticks(fig.axes[0])
    boxes = [t.get_window_extent() for t in ticks]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert "999, 1000\n(=N)" in [t.get_text() for t in ticks]  # both still named
    plt.close(fig)


def test_noise_plot_with_only_b_equal_n_has_no_empty_legend_entry_and_an_x_scale():
    import matplotlib.pyplot as plt

    # catches: a "measured" legend entry with no point to show (B = N is exactly 0, off the log axis),
    # and a lone x tick at 1000 that gives the axis no scale
    fig = _small_noise([1000]).plot()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert not any(text.startswith("measured (") for text in labels)
    assert any(text.startswith("measured exactly 0") for text in labels)
    assert [t.get_text() for t in _labelled_ticks(ax)] == ["1", "10", "100", "1000\n(=N)"]
    plt.close(fig)


def test_noise_plot_default_ticks_stay_the_batch_sizes():
    from tinygrad_mb.gd.plots import _batch_ticks

    assert _batch_ticks([1, 4, 16, 64, 256], 1000) == ([1, 4, 16, 64, 256, 1000],
                                                       ["1", "4", "16", "64", "256", "1000\n(=N)"])


def test_measured_noise_matches_the_exact_expectation_over_every_batch():
    # An independent check: on 8 samples every batch of B can be listed, so E|g_B - G|^2 without
    # replacement is an exact average over all C(8, B) batches, with the per-sample gradients of
    # the squared error in closed form. The theory must equal it, the measurement must lie within
    # its sampling error. (With replacement, tr(Sigma)/B, is 2.3x too large at B = 5.)
    # catches: batches drawn with replacement, a wrong finite-population factor, a biased mean
    import itertools

    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((8, 2)), rng.standard_normal((8, 1))
    model = nn.Linear(2, 1, seed=1, dtype="float64")
    r = gd.gradient_noise(model, nn.MSELoss(), (X, y), batch_sizes=[1, 2, 3, 5, 8], draws=1500, seed=0)
    A = np.hstack([X, np.ones((8, 1))])
    w = np.concatenate([model.weight.numpy().ravel(), model.bias.numpy()])
    g = 2 * (A @ w - y[:, 0])[:, None] * A
    G = g.mean(0)
    for b, m, se, t in zip(r.batch_sizes, r.measured, r.measured_se, r.theory):
        exact = np.mean([np.sum((g[list(c)].mean(0) - G) ** 2) for c in itertools.combinations(range(8), b)])
        assert t == pytest.approx(exact, rel=1e-9, abs=1e-12), b
        assert abs(m - exact) <= 4 * se + 1e-12 * exact, (b, m, se, exact)
