# Source of 03_batch_vs_stochastic_vs_minibatch.ipynb: edit here, then run `python notebooks/_build.py`.
# ruff: noqa: E402
# %% [markdown]
# # 03 · Batch vs stochastic vs mini-batch gradient descent
#
# This is the question `tinygrad_mb` was built to answer: **how many samples should each gradient
# step look at?** All of the whole training set (*batch* gradient descent), one (*stochastic*
# gradient descent, SGD), or something in between (*mini-batch*)? We run the three side by side,
# fairly, and look at the result along four different x-axes -- each one answers a different question.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

from tinygrad_mb import data, gd, optim

# %% [markdown]
# ## 1. One update rule, three batch sizes
#
# We minimise the average loss over $N$ training samples, $f(w) = \frac1N \sum_{i=1}^N \ell_i(w)$.
# Every variant takes the same step
#
# $$w \leftarrow w - \eta\, g_B(w), \qquad g_B(w) = \frac{1}{|B|} \sum_{i \in B} \nabla \ell_i(w),$$
#
# and they differ only in the size of the batch $B$:
#
# | variant | $\lvert B\rvert$ | updates per epoch | $g_B$ is... | cost per update |
# |---|---|---|---|---|
# | batch GD | $N$ | 1 | the exact gradient $\nabla f$ | $N$ sample-gradients |
# | SGD | 1 | $N$ | one sample's gradient: very noisy | 1 |
# | mini-batch | $B$ | $\lceil N/B \rceil$ | an average of $B$: less noisy | $B$ |
#
# A random batch gives an *unbiased* estimate, $\mathbb E[g_B] = \nabla f$: on average every variant
# walks downhill. What changes is the noise (notebook 04) and how many steps one pass over the data buys.
#
# ## 2. The problem
#
# The bundled 8×8 digits (notebook 02), with an MLP 64 → 64 → 10 and cross-entropy loss.
# `gd.make_problem` bundles the data split, a model factory (`model_fn(seed)` returns fresh weights)
# and the loss.

# %%
prob = gd.make_problem("digits")
print(prob.description)
print("N =", prob.n_train, "training samples;", len(prob.test.X), "test samples")
print(prob.model_fn(0))

# %% [markdown]
# ## 3. One loop, not three
#
# The three variants are presets of **one** training loop: `gd.Batch(lr)`, `gd.Stochastic(lr)` and
# `gd.MiniBatch(B, lr)` only fill in the batch size. To make that concrete, here is the loop written
# out by hand. It gives *bit-for-bit* the same weights as `gd.train` with the same seed.

# %%
def hand_written_loop(model, loss_fn, X, y, batch_size, lr, epochs, seed):
    loader = data.DataLoader(data.TensorDataset(X, y), batch_size=batch_size, shuffle=True, seed=seed)
    opt = optim.SGD(model.parameters(), lr=lr)
    for _ in range(epochs):
        for xb, yb in loader:  # ceil(N / B) batches, in a fresh random order every epoch
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()


by_hand, by_library = prob.model_fn(0), prob.model_fn(0)
hand_written_loop(by_hand, prob.loss_fn, prob.train.X, prob.train.y, batch_size=32, lr=0.1, epochs=2, seed=0)
gd.train(by_library, prob.loss_fn, prob.train, gd.MiniBatch(32, lr=0.1), epochs=2, seed=0)
difference = max(np.abs(a - b).max() for a, b in zip(by_hand.state_dict().values(),
                                                      by_library.state_dict().values()))
print("largest weight difference, hand-written loop vs gd.train:", difference)

# %% [markdown]
# ## 4. A fair race
#
# `gd.compare` runs every variant **from the same initial weights**, on **the same data in the same
# shuffled order**, and evaluates the loss on the **full training set at the same sample counts**, so
# the curves share their x-axes. It repeats this for three seeds (different initial weights and orders)
# to show how much is luck: lines are means, bands ±1 standard deviation.
#
# Each variant has its own learning rate -- a bigger batch has a less noisy gradient and tolerates a
# bigger step. These rates are cautious choices, half of the library's defaults for this problem
# (`prob.default_lr(B)`: 1.0, 0.02 and 0.2); notebook 05 searches for the best rate per batch size.

# %%
variants = [gd.Batch(lr=0.5), gd.Stochastic(lr=0.01), gd.MiniBatch(32, lr=0.1)]
cmp = gd.compare(prob.model_fn, prob.loss_fn, prob.train, variants, epochs=5, seeds=[0, 1, 2],
                 test_dataset=prob.test, eval_every=160)  # evaluate on the full data every 160 samples
fig = cmp.plot(x="all")
plt.show()

# %% [markdown]
# ## 5. What each axis tells you
#
# The same nine runs (three variants, three seeds each), four stories:
#
# * **Per epoch** (top left) -- progress per pass over the data, i.e. per sample-gradient computed. If
#   computing gradients is what costs (one sample at a time on a CPU), this is the bill. SGD wins by far:
#   it makes $N = 1437$ updates per epoch, batch GD makes one. Most training data is *redundant* --
#   many samples say nearly the same thing -- so looking at all of them before every step is wasteful.
# * **Per update** (top right) -- progress per step. Batch GD wins: each of its steps uses the exact
#   gradient. This is the right axis when a step costs the same whatever its batch, as on a GPU
#   whose thousands of cores are idle at small batches, or in distributed training where every step
#   means communication.
# * **Per sample seen** (bottom left) -- the per-epoch story on a log scale, where the first few hundred
#   samples are visible. SGD is ahead from the very start: per sample, its rate of 0.01 moves the weights
#   further than the mini-batch's 0.1 shared among 32 samples ($\approx 0.003$ per sample; notebook 05 is
#   about scaling the rate with the batch size). Batch GD has no point before $N$ samples: its first
#   update needs all of them.
# * **Per second** (bottom right) -- what you actually wait for, training only (evaluation time is
#   excluded). Here mini-batches win: NumPy processes 32 samples in one vectorised operation almost as
#   fast as one, so a mini-batch update costs far less than 32 SGD updates, while it still makes
#   $\lceil N/32 \rceil = 45$ updates per epoch. The position of this curve depends on the hardware
#   (notebook 07 times it on a GPU).
#
# ## 6. The summary table
#
# `cmp.summary(target)` condenses the runs: the final and best full training loss, the work done,
# and how long each variant took to first reach a target loss -- in seconds, updates and samples.
# A `-` means never reached within the budget.

# %%
summary = cmp.summary(target=0.5)
print(summary)

# %% [markdown]
# **What to notice.** The columns repeat the four axes as numbers. All variants processed the same
# number of samples (5 epochs), but in very different numbers of updates. Batch GD, with its one update
# per epoch, never got close to the target; SGD needed the fewest samples to reach it, the mini-batch
# run the fewest seconds. There is no single winner -- the winner depends on what you pay for.
#
# The same runs also recorded the accuracy on the held-out test set:

# %%
fig = cmp.plot(x="epoch", y="test_accuracy", title="Accuracy on the 360 held-out test digits")
plt.show()

# %% [markdown]
# ## 7. The noise floor of constant-step SGD
#
# On the digits, the noisy variants simply win per epoch. Run them long enough on a problem whose
# optimum we know exactly, and a limitation shows. `gd.make_problem("linear")` is a linear regression
# with $N = 1000$ samples whose optimal loss $f^*$ is computed in closed form, so we can plot the
# suboptimality $f(w) - f^*$ on a log scale. We add a second SGD run with a 4× smaller learning rate.

# %%
lin = gd.make_problem("linear")
lin_variants = [gd.Batch(lr=0.5), gd.Stochastic(lr=0.01), gd.MiniBatch(32, lr=0.1),  # the colours of section 4
                gd.Stochastic(lr=0.0025, name="sgd, small lr")]
lin_cmp = gd.compare(lin.model_fn, lin.loss_fn, lin.train, lin_variants, epochs=6, seeds=[0, 1])
fig = lin_cmp.plot(x="epoch", title="Linear regression: suboptimality per epoch")
plt.show()

# %% [markdown]
# **What to notice.** Batch GD converges *linearly* -- a straight line on the log scale -- until, after
# its 6 updates, it reaches float32 rounding near $10^{-8}$ (the grey dotted line). SGD and mini-batch drop fast
# and then stall on a **noise floor**: with a constant step, the noise in $g_B$ keeps kicking the weights
# around the optimum. The floor is roughly proportional to $\eta / B$: the SGD run with a 4× smaller rate
# settles several times lower (theory: 4×), but takes longer to get there, and the mini-batch run
# ($\eta/B \approx 0.003$) sits lower than SGD too.
# Getting below the floor needs a decaying learning rate or a growing batch (notebook 05).
#
# ## Exercises
#
# In the notebooks in `notebooks/`, each answer cell below holds a stub -- `raise NotImplementedError(...)`,
# or `...` where a value goes. Replace it with your answer and run the check cell under it: the checker
# prints ✓, or raises an error that says which input failed, what it expected and what it got; until you
# answer, it prints ○ *not attempted yet*, so the notebook still runs top to bottom. The worked answers are
# in `notebooks/solutions/`: the same notebooks, answers filled in (try first!).
#
# ### Exercise 1 — updates per epoch
#
# Write `updates_per_epoch(n, batch_size, drop_last=False)`: the number of updates one epoch over
# `n` samples makes. `batch_size=None` means the full batch; a last, smaller batch is an update too,
# unless `drop_last=True` (then it is skipped).

# %%
# Your answer — replace the stub with your code, then run the check cell below
def updates_per_epoch(n, batch_size, drop_last=False):
    """Return the number of updates (an int) in one epoch over n samples."""
    # BEGIN SOLUTION
    if batch_size is None:
        return 1
    return n // batch_size if drop_last else int(np.ceil(n / batch_size))  # (a batch over n: ceil gives 1)
    # END SOLUTION

# %%
from tinygrad_mb.exercises import check_updates_per_epoch

check_updates_per_epoch(updates_per_epoch)

# %% [markdown]
# ### Exercise 2 — reading the axes
#
# From the four-panel figure of section 4 (not from code!), which variant has the lowest training loss
# (a) after the same number of *updates* as batch GD made in total (key `"per_update"`), and (b) after one
# *epoch*, i.e. $N$ samples seen (key `"per_sample"`)? Read each curve's last point at or before that $x$;
# a curve that starts further right (SGD's first evaluation comes after 160 updates) still has its starting
# loss there. Answer with the variant names `"batch"`, `"sgd"` or `"minibatch"`. The checker works out the
# truth from `cmp`.

# %%
# Your answer — replace the stub with your code, then run the check cell below
# BEGIN SOLUTION
axis_answers = {"per_update": "batch", "per_sample": "sgd"}
# END SOLUTION
# STUB: axis_answers = {"per_update": ..., "per_sample": ...}  # (a), (b): "batch", "sgd" or "minibatch"

# %%
from tinygrad_mb.exercises import check_axis_reading

check_axis_reading(cmp, axis_answers)

# %% [markdown]
# ### Exercise 3 — write the loop yourself
#
# Write `my_train(model, loss_fn, X, y, batch_size, lr, epochs, seed)` that trains `model` in place with
# mini-batch SGD and gives exactly what `gd.train(model, loss_fn, (X, y), gd.Variant("mine", batch_size, lr),
# epochs=epochs, seed=seed)` gives. Use `data.DataLoader(data.TensorDataset(X, y), batch_size, shuffle=True,
# seed=seed)` and `optim.SGD`. The checker tries batch sizes $N$, 1 and 7 on a small regression.

# %%
# Your answer — replace the stub with your code, then run the check cell below
def my_train(model, loss_fn, X, y, batch_size, lr, epochs, seed):
    """Train model in place with mini-batch SGD, exactly as gd.train does (returns nothing)."""
    # BEGIN SOLUTION
    loader = data.DataLoader(data.TensorDataset(X, y), batch_size=batch_size, shuffle=True, seed=seed)
    opt = optim.SGD(model.parameters(), lr=lr)
    for _ in range(epochs):
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    # END SOLUTION

# %%
from tinygrad_mb.exercises import check_training_loop

check_training_loop(my_train)
