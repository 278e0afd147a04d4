# Source of 05_learning_rate_and_batch_size.ipynb: edit here, then run `python notebooks/_build.py`.
# ruff: noqa: E402
# %% [markdown]
# # 05 · Learning rate and batch size
#
# The learning rate $\eta$ and the batch size $B$ are the two knobs of notebook 03, and they are not
# independent. This notebook:
#
# 1. finds the largest learning rate gradient descent survives, $2/L$, and shows what happens just above it;
# 2. scales the learning rate with the batch size (the linear and square-root rules) and shows where that stops;
# 3. sweeps learning rates for many batch sizes and plots the steps needed to reach a target loss;
# 4. changes the learning rate during training: decay schedules, and warm-up.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

from tinygrad_mb import Tensor, gd, optim
from tinygrad_mb.gd.plots import COLORS  # the colours of gd's figures, told apart by colour-blind readers too

blue, vermillion, green, orange, sky_blue, purple = COLORS[:6]

prob = gd.make_problem("linear")  # least squares, N = 1000, d = 10, with known optimum f*
print(prob.description)

# %% [markdown]
# ## 1. The stability limit $2/L$
#
# Near a minimum $w^*$ every smooth loss looks like a quadratic bowl,
# $f(w) \approx f^* + \tfrac12 (w - w^*)^\top H (w - w^*)$, with the Hessian $H$ (for least squares
# it is *exactly* quadratic). One gradient step, $\nabla f = H(w - w^*)$, gives
#
# $$w_{k+1} - w^* = (I - \eta H)\,(w_k - w^*).$$
#
# Along an eigenvector of $H$ with eigenvalue $\lambda$, the error is multiplied by $(1 - \eta\lambda)$ at
# every step. It shrinks exactly when $|1 - \eta\lambda| < 1$, i.e. $0 < \eta < 2/\lambda$. The steepest
# direction, with the largest eigenvalue $L$ (the *smoothness* constant), is the first to fail:
#
# $$\text{gradient descent converges from every start} \iff 0 < \eta < \frac{2}{L}.$$
#
# Between $1/L$ and $2/L$ the factor is negative: the error flips sign every step but still shrinks. Above
# $2/L$ it flips *and grows*. For our loss $f(w, b) = \frac1N\sum_i (x_i^\top w + b - y_i)^2$, the Hessian is
# $H = \frac2N A^\top A$ with $A = [X, \mathbf 1]$ (no factor ½ in this loss).

# %%
X = prob.train.X.astype(np.float64)
A = np.hstack([X, np.ones((len(X), 1))])
H = 2 / len(X) * A.T @ A
eigenvalues, eigenvectors = np.linalg.eigh(H)
L = eigenvalues[-1]
print(f"largest eigenvalue L = {L:.4f}, smallest = {eigenvalues[0]:.4f}; stability limit 2/L = {2 / L:.4f}")

# %%
factors = [0.5, 0.9, 0.99, 1.01, 1.1]
runs = {}
for c in factors:
    model = prob.model_fn(0)
    runs[c] = gd.train(model, prob.loss_fn, prob.train, gd.Batch(c * 2 / L), updates=60, record_params=True)

w_star = np.append(prob.train.w_star, prob.train.b_star)  # parameters in the order of model.parameters()
top = eigenvectors[:, -1]
colors = dict(zip(factors, [blue, green, orange, vermillion, purple]))  # from stable to unstable
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12.5, 4.3))
for c, h in runs.items():
    # f - f* below ~1e-8 is float32 rounding (it can even come out negative): draw it at the floor
    ax1.semilogy(h.evals["update"], np.maximum(h.evals["suboptimality"], 1e-8), color=colors[c],
                 label=f"η = {c:g} · 2/L")
for c in (0.9, 0.99, 1.01):
    along_top = (runs[c].params - w_star) @ top  # error along the steepest direction, after each update
    ax2.plot(along_top[:30], "o-", ms=3, color=colors[c],
             label=f"η = {c:g} · 2/L  (factor 1 − ηL = {1 - c * 2:+.2f})")
ax1.set(xlabel="update (= epoch for batch GD)", ylabel="f(w) − f*  (log scale; 1e-8 = float32 rounding)",
        title="Batch GD on both sides of the stability limit")
ax2.axhline(0, color="gray", lw=0.8)
ax2.set_ylim(-1.4, 2.2)  # room above the points for the legend
ax2.set(xlabel="update", ylabel="(w − w*) along the top eigenvector",
        title="The steepest direction flips sign every step")
ax1.legend()
ax2.legend(loc="upper left", fontsize=8.5)
fig.tight_layout()
plt.show()

# %% [markdown]
# **What to notice.** Below the limit every run converges; at $0.99 \cdot 2/L$ only slowly, because the top
# direction shrinks by just 2% per step while flipping sign (right). Just *above* the limit nothing looks
# wrong at first: the loss falls for about a dozen updates, as every other direction still converges, while the
# top direction grows by 2% per step -- until it dominates and the loss climbs, slowly but without end. A run
# can look healthy for a while and only then go wrong. At $1.1 \cdot 2/L$ the top direction grows by 20% per
# step: the climb starts after a few updates and reaches $10^7$ within 50.
#
# For a neural network $H$ changes as the weights move and $L$ is not known in advance, but the lesson
# carries over: there is a largest usable learning rate, set by the curvature, and exceeding it does not
# announce itself immediately.
#
# ## 2. Scaling the learning rate with the batch size
#
# *Linear rule* (Goyal et al., 2017): $k$ small steps of batch $B$ and rate $\eta$ move the weights about
# as far as one step with batch $kB$ and rate $k\eta$ -- as long as the gradient changes little over those
# $k$ steps. So when $B$ grows $k$-fold, grow $\eta$ $k$-fold: $\eta = \eta_\text{ref}\, B / B_\text{ref}$.
#
# *Square-root rule*: the gradient noise has variance $\propto 1/B$ (notebook 04), so the noise injected per
# step, $\eta^2 \operatorname{tr}\Sigma / B$, stays the same with $\eta = \eta_\text{ref}\sqrt{B / B_\text{ref}}$.
#
# `gd.scale_lr` implements both. Starting from $\eta = 0.1$ at $B = 32$:

# %%
sizes = [8, 32, 128, 512]
colors_b = dict(zip(sizes, [blue, vermillion, green, orange]))
styles_b = dict(zip(sizes, ["-", "--", "-.", ":"]))  # a second cue besides colour
fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), sharey=True)
for ax, rule in zip(axes, ["linear", "sqrt"]):
    for b in sizes:
        lr = gd.scale_lr(0.1, 32, b, rule)
        # evaluate every max(B, ~50) samples (a multiple of B), so the small batches' curves are smooth too
        h = gd.train(prob.model_fn(0), prob.loss_fn, prob.train, gd.MiniBatch(b, lr), epochs=6, seed=0,
                     eval_every=b * max(1, 50 // b))
        gap = np.maximum(h.evals["suboptimality"], 1e-8)
        ax.semilogy(h.evals["epoch"], gap, color=colors_b[b], ls=styles_b[b], label=f"B = {b}, lr = {lr:g}")
        if h.diverged or gap[-1] > 10 * gap[0]:  # mark where it leaves the plot
            off = np.flatnonzero(gap > 1e2)
            x_off = h.evals["epoch"][off[0]] if off.size else h.evals["epoch"][-1]
            ax.plot(x_off, 1e2, "X", ms=11, color=colors_b[b], mec="black", clip_on=False)
    ax.set(xlabel="epochs (passes over the training set)", ylim=(1e-4, 1e2),
           title=f"{rule} rule: lr ∝ {'B' if rule == 'linear' else '√B'}, from lr = 0.1 at B = 32 (2/L = {2 / L:.2f})")
    ax.legend(loc="upper right")
axes[0].set_ylabel("f(w) − f*  (log scale)")
fig.tight_layout()
plt.show()

# %% [markdown]
# **What to notice.** Under the linear rule, $B = 8$ and $32$ make almost the *same progress per epoch*:
# that is its promise -- per sample, the batch size does not matter, so the larger batch needs 4× fewer
# updates for the same result. $B = 128$ ($\eta = 0.4$) even drops a little faster in the first epoch: the
# rule's "one step of $k\eta$ ≈ $k$ steps of $\eta$" assumes small steps, and on a quadratic one step
# shrinks each direction by $1 - k\eta\lambda$, more than $k$ steps do, $(1 - \eta\lambda)^k$, as long as
# $k\eta\lambda < 1$. Then it settles on a floor somewhat *above* the others (see below why). But at $B = 512$
# the rule asks
# for $\eta = 1.6 > 2/L$, and the run blows up (✕, off the top of the plot): the stability limit does not grow
# with the batch size. The square-root
# rule stays safe; its large batches are slower per epoch early on, but end lower. The noise floor is
# proportional to $\eta / B$ (notebook 03) *while the steps are small*, $\eta\lambda \ll 1$: the linear
# rule keeps $\eta / B$ constant, so the floors of $B = 8$ and $32$ nearly coincide, while the square-root rule
# lets it fall like $1/\sqrt B$. Closer to the stability limit each step also overshoots: along a direction of
# curvature $\lambda$ the floor grows like $\eta / \bigl(B\,(2 - \eta\lambda)\bigr)$. At $B = 128$,
# $\eta\lambda \approx 0.94$ along the steepest direction: up to 1.9× the floor $\eta/B$ alone predicts (less
# along flatter directions), the gap you see above $B = 8$ and $32$. In practice: scale linearly while the batch is small, and
# cap the rate well below the stability limit.
#
# ## 3. A sweep: steps to a target against the batch size
#
# For each batch size, `gd.sweep` tries a grid of learning rates and keeps the one that reaches the target loss
# ($f^*$ plus $3 \cdot 10^{-4}$ of the initial gap $f_0 - f^*$, `gd.sweep`'s default) in the fewest updates.
# Plotting those best step counts against $B$ shows how far a bigger batch buys fewer steps.

# %%
sweep = gd.sweep(prob.model_fn(0), prob.loss_fn, prob.train, batch_sizes=(1, 4, 16, 64, 256, 1000),
                 lrs=2.0 ** np.arange(-9, 1), epochs=10)
print(sweep)
fig = sweep.plot()
plt.show()

# %% [markdown]
# **What to notice.** Left: for small $B$ the measured points follow the dashed line of *perfect scaling* --
# 4× the batch, 4× fewer steps -- and the best learning rate (right) grows with $B$: from $B = 4$ to $64$ in
# proportion to it, the linear rule, while from $B = 1$ to $4$ it only doubles, on the square-root line (the
# grid of rates steps by 2×, so one grid step decides that). Past a *critical batch size* the steps stop
# falling in proportion and level off towards $S_\text{min}$, the fit's estimate of the fewest steps any batch
# size could need (a parameter of the fit, not a measured count: full batch here takes 2 updates). More
# samples per step help less and less, and the best rate stops
# growing in proportion: from $B = 64$ on it stays at 0.25--0.5, the largest rates of the grid below the
# stability limit $2/L \approx 0.85$. The fit $S = S_\text{min}(1 + B_\text{noise}/B)$ puts that bend at
# $B_\text{noise}$. It is much larger than the
# $B_\text{simple} \approx 12$ of notebook 04 *at the initial weights*: reaching a target close to $f^*$
# happens mostly late in training, where the noise scale is large.
#
# ## 4. Schedules and warm-up
#
# A learning rate need not stay constant. `tinygrad_mb.optim` has the common schedules; each changes
# `optimizer.lr` every time its `step()` is called (after every epoch, or every update):

# %%
def lr_curve(make_schedule, steps=100, lr=1.0):
    opt = optim.SGD([Tensor(np.zeros(1), requires_grad=True)], lr=lr)
    schedule = make_schedule(opt)
    values = []
    for _ in range(steps):
        values.append(opt.lr)
        schedule.step()
    return values


schedules = {
    "StepLR(step_size=30, gamma=0.3)": lambda o: optim.StepLR(o, step_size=30, gamma=0.3),
    "ExponentialLR(gamma=0.97)": lambda o: optim.ExponentialLR(o, gamma=0.97),
    "CosineAnnealingLR(T_max=100)": lambda o: optim.CosineAnnealingLR(o, T_max=100),
    "LinearWarmup(10) then cosine": lambda o: optim.SequentialLR(
        o, [optim.LinearWarmup(o, warmup_steps=10, start_factor=0.05), optim.CosineAnnealingLR(o, T_max=90)],
        milestones=[10]),
}
fig, ax = plt.subplots(figsize=(7.5, 4))
for name, make in schedules.items():
    ax.plot(lr_curve(make), label=name)
ax.set(xlabel="schedule step (epoch or update)", ylabel="learning rate / initial learning rate",
       title="Learning-rate schedules")
ax.legend()
plt.show()

# %% [markdown]
# ### Decay: getting below the noise floor
#
# Notebook 03 showed constant-rate SGD stalling on a noise floor proportional to $\eta$. Decaying $\eta$
# lowers the floor as training goes on: large steps early, when the gradient is large and reliable, small
# ones late, when it is mostly noise. Here SGD ($B = 1$) on the linear problem, stepping the schedule
# once per epoch:

# %%
decay_variants = [
    gd.Stochastic(0.02, name="constant"),
    gd.Stochastic(0.02, name="exponential 0.6/epoch", schedule=lambda o: optim.ExponentialLR(o, gamma=0.6)),
    gd.Stochastic(0.02, name="cosine over 8 epochs", schedule=lambda o: optim.CosineAnnealingLR(o, T_max=8)),
]
decay = gd.compare(prob.model_fn, prob.loss_fn, prob.train, decay_variants, epochs=8, seeds=[0])
fig = decay.plot(x="epoch", title="SGD (B = 1) with a constant and with decaying learning rates")
plt.show()

# %% [markdown]
# **What to notice.** All three start identically (the schedules begin at the same rate). The constant-rate
# run stays on its noise floor; the decaying ones keep going down, 2 to 3 orders of magnitude lower.
#
# ### Warm-up: starting gently
#
# The opposite problem appears at the *start*. With random weights, the first gradients are large and
# change quickly, and a big rate can throw a network into a bad region (huge logits, saturated units) that
# it takes long to leave. A **warm-up** starts with a small rate and ramps up to the full one over the first
# updates. Here the digits MLP of notebook 03 with mini-batches of 32 and a high peak rate of 1.4,
# annealed by a cosine over 4 epochs, with and without one epoch of linear warm-up (schedules stepped
# every update):

# %%
digits = gd.make_problem("digits")
per_epoch = -(-digits.n_train // 32)  # updates per epoch


def cosine(o):
    return optim.CosineAnnealingLR(o, T_max=4 * per_epoch)


def warmup_then_cosine(o):
    return optim.SequentialLR(o, [optim.LinearWarmup(o, warmup_steps=per_epoch, start_factor=0.01),
                                  optim.CosineAnnealingLR(o, T_max=3 * per_epoch)], milestones=[per_epoch])


warm = gd.compare(digits.model_fn, digits.loss_fn, digits.train,
                  [gd.MiniBatch(32, 1.4, name="cosine only", schedule=cosine, schedule_unit="update"),
                   gd.MiniBatch(32, 1.4, name="1 epoch warm-up, then cosine", schedule=warmup_then_cosine,
                                schedule_unit="update")],
                  epochs=4, seeds=[0, 1], eval_every=6 * 32)  # evaluate every 6 updates: the spikes are early
print(warm.summary(target=0.2))
fig = warm.plot(x="epoch", title="Digits MLP, B = 32, peak lr = 1.4: with and without warm-up")
plt.show()

# %% [markdown]
# **What to notice.** Without warm-up, the loss shoots *up* within the first epoch -- to about ten times its
# starting value -- and much of the run is spent recovering. With warm-up, the same peak rate is
# reached only after the weights have moved into a calmer region: the loss rises far less (to about 3 at worst,
# the top of its band, from a start near 2.3), and the run ends between two and three times lower (0.089
# against 0.234 in the table). (With a peak rate of 1 neither run has a problem, and at 2 both shoot up, to
# about 50 and 60: warm-up widens the range of usable rates, it does not remove the limit. It matters when you
# push the rate, for instance after scaling it up for a large batch with the linear rule.)
#
# ## Exercises
#
# In the notebooks in `notebooks/`, each answer cell below holds a stub -- `raise NotImplementedError(...)`,
# or `...` where a value goes. Replace it with your answer and run the check cell under it: the checker
# prints ✓, or raises an error that says which input failed, what it expected and what it got; until you
# answer, it prints ○ *not attempted yet*, so the notebook still runs top to bottom. The worked answers are
# in `notebooks/solutions/`: the same notebooks, answers filled in (try first!).
#
# ### Exercise 1 — the stability limit
#
# Write `stable_lr(X)`: the stability limit of batch gradient descent on
# $f(w) = \frac1N \sum_i (x_i^\top w - y_i)^2$, the rate $\eta_\text{max}$ such that it converges from every
# start exactly when $0 < \eta < \eta_\text{max}$. `X` has shape $(N, d)$. There is no bias here, so no column
# of ones: unlike section 1, build the Hessian from `X` itself.

# %%
# Your answer — replace the stub with your code, then run the check cell below
def stable_lr(X):
    """Return the largest stable learning rate of batch GD on mean((X w - y)^2), for X of shape (N, d)."""
    # BEGIN SOLUTION
    hessian = 2 / len(X) * X.T @ X
    return 2 / np.linalg.eigvalsh(hessian)[-1]
    # END SOLUTION

# %%
from tinygrad_mb.exercises import check_stable_lr

check_stable_lr(stable_lr)

# %% [markdown]
# ### Exercise 2 — a learning rate for a batch size
#
# Write `lr_for_batch_size(ref_lr, ref_batch, batch, rule, max_lr=None)`: scale `ref_lr`, which works at
# batch size `ref_batch`, to `batch` with `rule` `"linear"` or `"sqrt"`, and never return more than `max_lr`
# when it is given (the stability limit does not grow with the batch).

# %%
# Your answer — replace the stub with your code, then run the check cell below
def lr_for_batch_size(ref_lr, ref_batch, batch, rule, max_lr=None):
    """Return the learning rate for batch, scaled from ref_lr at ref_batch by rule ("linear" or "sqrt")."""
    # BEGIN SOLUTION
    ratio = batch / ref_batch
    lr = ref_lr * (ratio if rule == "linear" else np.sqrt(ratio))
    return lr if max_lr is None else min(lr, max_lr)
    # END SOLUTION

# %%
from tinygrad_mb.exercises import check_lr_for_batch_size

check_lr_for_batch_size(lr_for_batch_size)

# %% [markdown]
# ### Exercise 3 — warm-up then cosine
#
# Write `warmup_cosine(step, base_lr, warmup_steps, total_steps)`, the rate for update `step` (counted
# from 0): during warm-up, `base_lr * (step + 1) / warmup_steps`; from `step = warmup_steps` a cosine from
# `base_lr` down to 0 at `step = total_steps`,
# $\;\eta_\text{base}\,\tfrac12\big(1 + \cos(\pi\,\tfrac{t - w}{T - w})\big)$; and 0 after that.

# %%
# Your answer — replace the stub with your code, then run the check cell below
def warmup_cosine(step, base_lr, warmup_steps, total_steps):
    """Return the learning rate for update number step (counted from 0)."""
    # BEGIN SOLUTION
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if step >= total_steps:
        return 0.0
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return base_lr * 0.5 * (1 + np.cos(np.pi * progress))
    # END SOLUTION

# %%
from tinygrad_mb.exercises import check_warmup_cosine

check_warmup_cosine(warmup_cosine)
