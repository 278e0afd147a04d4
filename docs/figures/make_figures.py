"""Make the figures of the documentation (PNG files next to this script).

    python docs/figures/make_figures.py            # all of them, ~1 minute on a laptop
    python docs/figures/make_figures.py noise rates   # only some

Every figure is deterministic (fixed seeds), so re-running it changes a PNG only
when the code behind it changed.

============================  ==============================================================
file                          what it shows
============================  ==============================================================
``compare.png``               the main job: batch / SGD / mini-batch on linear regression,
                              f - f* against epochs, updates, samples seen and seconds
``compare_digits.png``        the same comparison on a real problem (8x8 digits, MLP),
                              full training loss and test accuracy
``noise.png``                 measured E|g_B - G|^2 against B with the without-replacement
                              theory and the noise scale B_simple
``trajectories.png``          paths on the loss contours of a two-weight problem
``sweep.png``                 best learning rate and steps-to-target per batch size
``rates.png``                 batch GD under its linear-rate bound; fixed-step SGD stalling
                              at a noise floor that falls with B
============================  ==============================================================
"""

from __future__ import annotations

import os
import sys
import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tinygrad_mb import data, gd, nn  # noqa: E402
from tinygrad_mb.gd.plots import COLORS, style  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DPI = 130


def save(fig, name: str) -> None:
    path = os.path.join(HERE, name)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    print(f"wrote {os.path.relpath(path)}")


def fig_compare() -> None:
    prob = gd.make_problem("linear")
    cmp = gd.compare(prob.model_fn, prob.loss_fn, prob.train, prob.default_variants(), epochs=10,
                     seeds=[0, 1, 2], f_star=prob.f_star)
    print(cmp.summary())
    save(cmp.plot(x="all", title=f"Batch vs stochastic vs mini-batch GD — {prob.description}"), "compare.png")


def fig_compare_digits() -> None:
    prob = gd.make_problem("digits")
    cmp = gd.compare(prob.model_fn, prob.loss_fn, prob.train, prob.default_variants("batch,sgd,minibatch:32"),
                     epochs=15, seeds=[0, 1], test_dataset=prob.test)
    print(cmp.summary())
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.0))
    cmp.plot(x="epoch", y="loss", ax=axes[0])
    cmp.plot(x="time", y="loss", ax=axes[1])
    cmp.plot(x="epoch", y="test_accuracy", ax=axes[2])
    axes[0].set_title("full training loss per epoch", fontsize=11)
    axes[1].set_title("full training loss per second of training", fontsize=11)
    axes[2].set_title("test accuracy per epoch (held-out 20%)", fontsize=11)
    for ax in axes[1:]:
        ax.get_legend().remove()
    fig.suptitle(f"A real problem: {prob.description}; mean ± std over 2 seeds", fontsize=12)
    fig.tight_layout()
    save(fig, "compare_digits.png")


def fig_noise() -> None:
    prob = gd.make_problem("linear")
    result = gd.gradient_noise(prob.model_fn(0), prob.loss_fn, prob.train, batch_sizes=(1, 4, 16, 64, 256),
                               draws=1000, seed=0)
    print(result)
    save(result.plot(title=f"Mini-batch gradient noise vs batch size, at the initial weights\n"
                           f"{prob.description}"), "noise.png")


def fig_trajectories() -> None:
    save(gd.trajectories(updates=80, seed=0).plot(), "trajectories.png")


def fig_sweep() -> None:
    prob = gd.make_problem("linear")
    result = gd.sweep(prob.model_fn, prob.loss_fn, prob.train, seeds=[0])
    print(result)
    save(result.plot(title=f"Learning-rate sweep: perfect scaling for small batches, then diminishing returns\n"
                           f"{prob.description}"), "sweep.png")


def _ill_conditioned(n: int = 1000, d: int = 10):
    """Least squares whose features have scales 1 ... 0.2 (condition number ~30), in float64."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)) * np.geomspace(1.0, 0.2, d)
    y = X @ rng.standard_normal(d) + 0.5 + 0.5 * rng.standard_normal(n)
    A = np.hstack([X, np.ones((n, 1))])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    f_star = float(np.mean((A @ coef - y) ** 2))
    eig = np.linalg.eigvalsh(2 / n * A.T @ A)
    return data.TensorDataset(X, y.reshape(n, 1)), f_star, eig[0], eig[-1]


def _floor_checks(ds, f_star: float, lr: float, batch_sizes, updates: int, every: int) -> None:
    """Print the noise floors that the caption of rates.png quotes next to the measured ones.

    The formula lr tr(Sigma) / 4B, with Sigma the covariance of the per-sample gradients
    at the optimum, predicts the floor for batches drawn *with* replacement. A plain
    NumPy simulation draws them so, and its floor is measured like the loader's runs in
    the figure: same start, rate and updates, an evaluation every ``every`` samples,
    the mean over the second half of the run.
    """
    X, y = np.asarray(ds.tensors[0].data), np.asarray(ds.tensors[1].data).ravel()
    A = np.hstack([X, np.ones((len(y), 1))])
    w_star, *_ = np.linalg.lstsq(A, y, rcond=None)
    per_sample = 2 * (A @ w_star - y)[:, None] * A  # gradients of (a_i . w - y_i)^2 at w*
    trace_sigma = float(np.sum(per_sample.var(axis=0)))
    w0 = np.concatenate([np.asarray(p.data, dtype=np.float64).ravel()
                         for p in nn.Linear(10, 1, seed=0, dtype="float64").parameters()])
    for bsz in batch_sizes:
        rng, w, late = np.random.default_rng(0), w0.copy(), []
        for k in range(1, updates + 1):
            i = rng.integers(0, len(y), bsz)
            w -= lr * 2 * A[i].T @ (A[i] @ w - y[i]) / bsz
            if k >= updates // 2 and k * bsz // every > (k - 1) * bsz // every:  # crossed a grid point
                late.append(np.mean((A @ w - y) ** 2) - f_star)
        print(f"  B = {bsz}: formula lr tr(Sigma)/4B = {lr * trace_sigma / (4 * bsz):.2g}, "
              f"with-replacement simulation {np.mean(late):.2g}")


def fig_rates() -> None:
    ds, f_star, mu, L = _ill_conditioned()
    fig, (a, b) = plt.subplots(1, 2, figsize=(13.5, 5.0))
    # (a) batch GD with lr = 1/L against (1 - mu/L)^k (f0 - f*)
    model = nn.Linear(10, 1, seed=0, dtype="float64")
    h = gd.train(model, nn.MSELoss(), ds, gd.Batch(1 / L), updates=600, f_star=f_star)
    k, gap = h.evals["update"], h.evals["suboptimality"]
    a.semilogy(k, (1 - mu / L) ** k * gap[0], color="black", ls="--", lw=1.5,
               label=f"bound (1 − μ/L)^k (f₀ − f*),  μ/L = {mu / L:.3f}")
    a.semilogy(k, (1 - mu / L) ** (2 * k) * gap[0], color="gray", ls=":", lw=1.5,
               label="for a quadratic, even (1 − μ/L)^2k (f₀ − f*)")
    a.semilogy(k, np.where(gap > 0, gap, np.nan), color=COLORS[0], lw=2, label=f"batch GD, lr = 1/L = {1 / L:.3f}")
    a.axhline(1e-6, color="gray", ls=":", lw=1)
    a.text(k[-1], 1.4e-6, "f − f* = 10⁻⁶", ha="right", va="bottom", fontsize=9, color="gray")
    a.set_ylim(bottom=1e-17)
    a.set_xlabel("updates (= epochs for batch GD)")
    a.set_ylabel("suboptimality f(w) − f* (log scale)")
    a.set_title(f"Batch GD converges linearly (condition number L/μ = {L / mu:.0f})", fontsize=11)
    a.legend(frameon=False, fontsize=9)
    style(a)
    # (b) fixed-step SGD: a noise floor ~ lr / B
    lr, updates = 0.05, 6000
    for i, bsz in enumerate((1, 8, 64)):
        model = nn.Linear(10, 1, seed=0, dtype="float64")
        # evaluate mid-epoch too: at an epoch's end the without-replacement noise has summed to ~0
        # (random reshuffling), and the loss there sits well below the floor seen in between
        h = gd.train(model, nn.MSELoss(), ds, gd.MiniBatch(bsz, lr), updates=updates, seed=0, eval_every=40,
                     f_star=f_star)
        late = h.evals["update"] >= updates // 2
        floor = float(np.mean(h.evals["suboptimality"][late]))
        color = (COLORS[1], COLORS[2], COLORS[5])[i]  # vermillion, green, purple: apart for colour-blind eyes too
        b.semilogy(h.evals["update"][1:], h.evals["suboptimality"][1:], color=color, lw=1.1, alpha=0.85,
                   label=f"mini-batch B = {bsz}, lr = {lr}: floor ≈ {floor:.2g} (dashed)")
        b.axhline(floor, color=color, ls="--", lw=1.2)
        print(f"  B = {bsz}: measured floor (loader, without replacement) {floor:.2g}")
    _floor_checks(ds, f_star, lr, (1, 8, 64), updates, every=40)
    model = nn.Linear(10, 1, seed=0, dtype="float64")
    h = gd.train(model, nn.MSELoss(), ds, gd.Batch(lr), updates=updates, f_star=f_star, eval_every=1000)
    b.semilogy(h.evals["update"][1::20], h.evals["suboptimality"][1::20], color=COLORS[0], lw=2,
               label=f"batch GD, same lr = {lr}: no floor")
    b.set_ylim(bottom=1e-7)
    b.set_xlabel("updates")
    b.set_ylabel("suboptimality f(w) − f* (log scale)")
    b.set_title("Fixed-step SGD stalls at a noise floor that falls as B grows", fontsize=11)
    b.legend(frameon=False, fontsize=9, loc="upper right")
    style(b)
    fig.suptitle("Rates on strongly convex least squares (N = 1000, d = 10, float64)", fontsize=12)
    fig.tight_layout()
    save(fig, "rates.png")


FIGURES = {"compare": fig_compare, "compare_digits": fig_compare_digits, "noise": fig_noise,
           "trajectories": fig_trajectories, "sweep": fig_sweep, "rates": fig_rates}


def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        print(f"unknown figure(s) {unknown}; valid: {list(FIGURES)}", file=sys.stderr)
        return 2
    for name in names or FIGURES:
        start = time.perf_counter()
        FIGURES[name]()
        print(f"  ({name}: {time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
