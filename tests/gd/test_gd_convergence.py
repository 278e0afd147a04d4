"""Textbook rates: batch GD converges linearly; fixed-step SGD stalls at a noise floor ~ lr/B."""

import numpy as np
import pytest

from tinygrad_mb import data, gd, nn

N, D = 1000, 10


@pytest.fixture(scope="module")
def least_squares():
    """Strongly convex least squares with condition number ~30 (features on different scales), float64."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D)) * np.geomspace(1.0, 0.2, D)
    y = X @ rng.standard_normal(D) + 0.5 + 0.5 * rng.standard_normal(N)
    A = np.hstack([X, np.ones((N, 1))])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    f_star = float(np.mean((A @ coef - y) ** 2))
    eig = np.linalg.eigvalsh(2 / N * A.T @ A)  # Hessian of f(w) = (1/N) |A w - y|^2
    return X, y.reshape(N, 1), f_star, eig[0], eig[-1]


def test_batch_gd_with_lr_one_over_l_stays_under_the_linear_rate_bound(least_squares):
    X, y, f_star, mu, L = least_squares
    assert L / mu > 20  # a problem where the rate matters
    model = nn.Linear(D, 1, seed=0, dtype="float64")
    h = gd.train(model, nn.MSELoss(), data.TensorDataset(X, y), gd.Batch(1 / L), updates=600, f_star=f_star)
    k = h.evals["update"]
    gap = h.evals["suboptimality"]
    bound = (1 - mu / L) ** k * gap[0]
    assert list(k) == list(range(601))  # evaluated after every update
    assert np.all(gap <= bound * (1 + 1e-9) + 1e-13)
    assert gap[-1] < 1e-6
    assert np.all(np.diff(gap) <= 1e-13)  # and it never goes up


def test_fixed_step_sgd_plateaus_at_a_noise_floor_that_falls_with_the_batch_size(least_squares):
    X, y, f_star, mu, L = least_squares
    ds = data.TensorDataset(X, y)
    lr, updates = 0.05, 6000
    floors = {}
    for b in (1, 8, 64):
        model = nn.Linear(D, 1, seed=0, dtype="float64")
        # evaluate mid-epoch as well: at an epoch's end the sampling noise of one pass without
        # replacement has summed to ~0 and the loss dips far below the floor (random reshuffling)
        h = gd.train(model, nn.MSELoss(), ds, gd.MiniBatch(b, lr), updates=updates, seed=0, eval_every=40,
                     f_star=f_star)
        late = h.evals["update"] >= updates // 2  # long after the transient: (1 - lr mu)^3000 < 1e-5
        floors[b] = float(np.mean(h.evals["suboptimality"][late]))
    # theory: floor ~ lr tr(H Sigma) / (4 B), so each 8x larger batch lowers it about 8x
    assert floors[1] > 3 * floors[8] > 9 * floors[64] > 0
    # it is a plateau, not slow convergence: batch GD with the same step and updates goes far below it
    model = nn.Linear(D, 1, seed=0, dtype="float64")
    h = gd.train(model, nn.MSELoss(), ds, gd.Batch(lr), updates=updates, f_star=f_star)
    assert h.evals["suboptimality"][-1] < floors[64] / 100
