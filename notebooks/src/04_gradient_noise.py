# Source of 04_gradient_noise.ipynb: edit here, then run `python notebooks/_build.py`.
# ruff: noqa: E402
# %% [markdown]
# # 04 · Gradient noise
#
# Notebook 03 showed that small batches make fast but noisy progress. Here we measure that noise:
#
# 1. a mini-batch gradient is an **unbiased** but noisy estimate of the full gradient;
# 2. its noise falls like $1/B$ -- and reaches zero at $B = N$ -- exactly as theory says;
# 3. the **noise scale** $B_\text{simple}$ compares noise with signal and tells which batch sizes are
#    worth their cost, and how that changes during training;
# 4. the paths of the three variants across the contours of a two-parameter loss.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

from tinygrad_mb import gd

# %% [markdown]
# ## 1. Unbiased, but noisy
#
# Write $g_i = \nabla \ell_i(w)$ for the gradient of sample $i$'s loss and
# $G = \nabla f(w) = \frac1N\sum_i g_i$ for the full gradient. A mini-batch gradient averages $B$ of the
# $g_i$: $\;g_B = \frac1B \sum_{i \in \text{batch}} g_i$.
#
# Over one epoch, the batches partition the data, so the size-weighted average of all mini-batch
# gradients of the epoch is *exactly* $G$ (up to float32 rounding). In particular $\mathbb E[g_B] = G$: on
# average, a mini-batch points the right way. We take the linear-regression problem (10 weights and a bias, so
# gradients are vectors of 11 numbers) at its random initial weights and check:

# %%
prob = gd.make_problem("linear")
model = prob.model_fn(0)
G = gd.full_gradient(model, prob.loss_fn, prob.train)
batches = gd.minibatch_gradients(model, prob.loss_fn, prob.train, batch_size=32, seed=0)
average = sum(size * g for size, g in batches) / prob.n_train
print(f"{len(batches)} mini-batches of (up to) 32 samples")
print("full gradient G        :", np.round(G[:4], 4), "...")
print("average of mini-batches:", np.round(average[:4], 4), "...")
print("largest difference:", np.abs(average - G).max())

# %% [markdown]
# Each single $g_B$, though, misses $G$. Here are the first two components of many mini-batch gradients,
# for three batch sizes, around the full gradient:

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), sharex=True, sharey=True)
for ax, b in zip(axes, [1, 8, 64]):
    grads = np.array([g for _, g in gd.minibatch_gradients(model, prob.loss_fn, prob.train, batch_size=b, seed=1)])
    ax.scatter(grads[:300, 0], grads[:300, 1], s=8, alpha=0.4, label=f"g_B, B = {b} ({min(300, len(grads))} batches)")
    ax.plot(*G[:2], "k*", ms=14, label="full gradient G")
    ax.set(title=f"B = {b}", xlabel="gradient component 1 (dL/dw₁)")
    ax.legend(loc="upper left", fontsize=8)
axes[0].set_ylabel("gradient component 2 (dL/dw₂)")
fig.suptitle("Mini-batch gradients scatter around the full gradient; the cloud shrinks as B grows")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 2. How the noise shrinks with the batch size
#
# Measure the noise by the expected squared distance $\mathbb E\,\lVert g_B - G\rVert^2$. With the
# per-sample covariance $\Sigma$ and its trace
# $\operatorname{tr}\Sigma = \frac1N\sum_i \lVert g_i - G\rVert^2$ (the average squared deviation of one sample's
# gradient), the law of averages gives, for $B$ samples drawn independently *with* replacement,
#
# $$\mathbb E\,\lVert g_B - G\rVert^2 = \frac{\operatorname{tr}\Sigma}{B}.$$
#
# A loader draws a batch *without* replacement (no sample twice in one batch), which helps a little: the
# finite-population correction of sampling theory gives
#
# $$\mathbb E\,\lVert g_B - G\rVert^2 = \frac{\operatorname{tr}\Sigma}{B}\cdot\frac{N - B}{N - 1},$$
#
# which is $\operatorname{tr}\Sigma$ at $B = 1$ and exactly $0$ at $B = N$: the "mini-batch" is then the
# whole data set. `gd.gradient_noise` measures the left side by drawing many batches, and computes the
# right side from the $N$ per-sample gradients.

# %%
noise = gd.gradient_noise(model, prob.loss_fn, prob.train, batch_sizes=(1, 4, 16, 64, 256, 512),
                          draws=400, seed=0)
print(noise)
fig = noise.plot(title="Gradient noise at the initial weights (linear regression, N = 1000)")
fig.axes[0].legend(loc="lower left", fontsize=8.5)  # keep the legend off the measured points
plt.show()

# %% [markdown]
# **What to notice.** The measured points sit on the black theory line: the table puts each within 7% of
# it, less than 3 standard errors away -- about what 400 random draws allow. On a
# log-log plot $1/B$ is a straight line of slope $-1$: every 4× larger batch has 4× less noise (2× less
# in standard deviation -- which is why halving the noise in a measurement takes 4× the data). Near
# $B = N$ the without-replacement curve bends down to zero, away from the dashed $\operatorname{tr}\Sigma/B$.
#
# ## 3. The noise scale: when is a bigger batch worth it?
#
# The dotted horizontal line is the *signal*, $\lVert G\rVert^2$. Where the noise crosses it, noise and
# signal are equally big. The dashed $\operatorname{tr}\Sigma/B$ line crosses it at the **simple noise scale**
# (McCandlish et al., 2018), the solid curve a hair to the left of it:
#
# $$B_\text{simple} = \frac{\operatorname{tr}\Sigma}{\lVert G\rVert^2}.$$
#
# * For $B \ll B_\text{simple}$ the step direction is mostly noise. Doubling $B$ halves the noise,
#   so it is almost as good as taking two steps: **perfect scaling**, bigger batches save steps.
# * For $B \gg B_\text{simple}$ the gradient is already accurate. A bigger batch costs more but
#   barely improves the step: **diminishing returns**.
#
# And $B_\text{simple}$ is not a constant. Near an optimum $G \to 0$ while the per-sample gradients still
# disagree, so the noise scale **grows during training**. Compare the initial weights with weights after
# a few epochs of batch gradient descent:

# %%
trained = prob.model_fn(0)
gd.train(trained, prob.loss_fn, prob.train, gd.Batch(0.5), epochs=3)
noise_trained = gd.gradient_noise(trained, prob.loss_fn, prob.train, batch_sizes=(1, 4, 16, 64, 256, 512),
                                  draws=400, seed=0)
for when, result in (("at the initial weights", noise), ("after 3 epochs        ", noise_trained)):
    print(f"{when}: tr(Sigma) = {result.trace_sigma:8.3g}   |G|^2 = {result.grad_norm_sq:8.3g}   "
          f"B_simple = {result.b_simple:8.3g}")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.6), sharey=True)
noise.plot(ax=ax1, title="At the initial weights")
noise_trained.plot(ax=ax2, title="After 3 epochs of batch GD (near the optimum)")
ax1.legend(loc="lower left", fontsize=8)
# on the right the signal line sits low: keep the legend above the curves, left of the B_simple line
ax2.legend(loc="upper right", bbox_to_anchor=(0.92, 1.0), fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# **What to notice.** The noise shrank too -- tr Σ fell by a factor of about 70, as the per-sample errors
# got smaller -- but the signal $\lVert G\rVert^2$ fell by a factor of about $10^5$, so $B_\text{simple}$
# moved from about a dozen to far beyond $N$. Early in training, small batches are efficient; late in training,
# every batch size is "small" and the noise floor of notebook 03 appears. That is the case for *growing* the
# batch size, or *decaying* the learning rate, as training goes on (notebook 05).
#
# ## 4. Paths on the loss landscape
#
# With only two weights the loss $f(w_1, w_2)$ is a landscape we can draw. `gd.trajectories()` trains
# the three variants from the same starting point on a least-squares problem with elongated contours
# (the second feature has a smaller scale, so the loss is flatter along $w_2$), for the same number of
# updates each, and draws each path on the contours.

# %%
paths = gd.trajectories()
fig = paths.plot()
plt.show()

# %% [markdown]
# **What to notice.** Batch GD follows the steepest-descent direction of $f$ itself: a smooth curve, at
# right angles to the contours, that first slides down the steep $w_1$ direction and then creeps along
# the flat valley in $w_2$. SGD follows one sample's gradient per step -- its direction is wrong by as
# much as the gradient itself early on, so it zig-zags, and near the minimum it keeps jittering instead
# of settling (the noise floor). The mini-batch path is the same idea with $\sqrt{16} = 4\times$ less
# scatter: rough, but heading the right way.
#
# ## Exercises
#
# In the notebooks in `notebooks/`, each answer cell below holds a stub -- `raise NotImplementedError(...)`,
# or `...` where a value goes. Replace it with your answer and run the check cell under it: the checker
# prints ✓, or raises an error that says which input failed, what it expected and what it got; until you
# answer, it prints ○ *not attempted yet*, so the notebook still runs top to bottom. The worked answers are
# in `notebooks/solutions/`: the same notebooks, answers filled in (try first!).
#
# ### Exercise 1 — the theory line
#
# Write `noise_theory(trace_sigma, batch_size, n)`: the expected squared error
# $\mathbb E\lVert g_B - G\rVert^2$ of a mini-batch drawn without replacement.

# %%
# Your answer — replace the stub with your code, then run the check cell below
def noise_theory(trace_sigma, batch_size, n):
    """Return E|g_B - G|^2 for a batch of batch_size drawn without replacement from n samples."""
    # BEGIN SOLUTION
    return trace_sigma / batch_size * (n - batch_size) / (n - 1)
    # END SOLUTION

# %%
from tinygrad_mb.exercises import check_noise_theory

check_noise_theory(noise_theory)

# %% [markdown]
# ### Exercise 2 — the noise scale from per-sample gradients
#
# Write `noise_scale(per_sample_grads)`: given an array of shape $(N, P)$ whose row $i$ is $g_i$, return
# $B_\text{simple} = \operatorname{tr}\Sigma / \lVert G\rVert^2$. Then compare with `noise.b_simple` above.

# %%
# Your answer — replace the stub with your code, then run the check cell below
def noise_scale(per_sample_grads):
    """Return B_simple for an (N, P) array whose row i is g_i."""
    # BEGIN SOLUTION
    G = per_sample_grads.mean(axis=0)
    trace_sigma = ((per_sample_grads - G) ** 2).sum(axis=1).mean()
    return trace_sigma / (G @ G)
    # END SOLUTION

# %%
from tinygrad_mb.exercises import check_noise_scale

check_noise_scale(noise_scale)
per_sample = np.array([g for _, g in gd.minibatch_gradients(model, prob.loss_fn, prob.train, batch_size=1,
                                                              shuffle=False)])
try:
    print(f"yours: {noise_scale(per_sample):.4g}   gd.gradient_noise: {noise.b_simple:.4g}")
except NotImplementedError:  # still the stub
    print(f"gd.gradient_noise: {noise.b_simple:.4g}   (write noise_scale above to compare yours)")

# %% [markdown]
# ### Exercise 3 — a batch size for a noise budget
#
# Write `batch_for_noise(trace_sigma, grad_norm_sq, n, ratio)`: the smallest batch size $B$ (an int,
# $1 \le B \le N$) whose noise without replacement is at most `ratio` times the signal $\lVert G\rVert^2$.
# Solve the inequality for $B$ rather than trying every $B$.

# %%
# Your answer — replace the stub with your code, then run the check cell below
def batch_for_noise(trace_sigma, grad_norm_sq, n, ratio):
    """Return the smallest batch size B (an int, 1 <= B <= n) with noise <= ratio * grad_norm_sq."""
    # BEGIN SOLUTION
    # tr/B * (N-B)/(N-1) <= ratio*|G|^2   <=>   B >= tr*N / (ratio*|G|^2*(N-1) + tr)
    return min(n, int(np.ceil(trace_sigma * n / (ratio * grad_norm_sq * (n - 1) + trace_sigma))))
    # END SOLUTION

# %%
from tinygrad_mb.exercises import check_batch_for_noise

check_batch_for_noise(batch_for_noise)
try:
    print("for the linear problem at its initial weights, noise <= 10% of the signal needs B =",
          batch_for_noise(noise.trace_sigma, noise.grad_norm_sq, noise.n, 0.1))
except NotImplementedError:  # still the stub
    print("(write batch_for_noise above to see the batch size the linear problem needs)")
