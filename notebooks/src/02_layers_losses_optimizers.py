# Source of 02_layers_losses_optimizers.ipynb: edit here, then run `python notebooks/_build.py`.
# ruff: noqa: E402
# %% [markdown]
# # 02 · Layers, losses and optimizers
#
# Notebook 01 computed gradients of small expressions. A neural network is a bigger expression
# with many weights, organised in **layers**; a **loss** measures how wrong its outputs are; an
# **optimizer** moves the weights against the gradient. Here we build each piece by hand, check
# it against the library's version, and train a small network to read handwritten digits:
#
# 1. the data: 1797 grey 8×8 images of digits, bundled with the package;
# 2. a `Linear` layer and a multi-layer perceptron (MLP);
# 3. the cross-entropy loss, computed stably;
# 4. stochastic gradient descent, and the training loop;
# 5. the mistakes the trained network makes;
# 6. five optimizers compared, each at its own learning rate.

# %%
# %matplotlib inline
import math
import time

import matplotlib.pyplot as plt
import numpy as np

import tinygrad_mb as tg
from tinygrad_mb import Tensor, data, nn, optim
from tinygrad_mb.nn import functional as F

# %% [markdown]
# ## 1. The data
#
# `data.load_digits(scale=True)` gives `X` of shape (1797, 64) -- each row an 8×8 image flattened,
# pixel values in $[0, 1]$ -- and integer labels `y` from 0 to 9. We keep 20% aside as a **test set**
# that training never sees (stratified: every digit in the same proportion in both parts).

# %%
digits = data.load_digits(scale=True)
train, test = digits.split(test_size=0.2, seed=0, stratify=True)
print(digits)
print("train:", train.X.shape, " test:", test.X.shape)

fig, axes = plt.subplots(2, 8, figsize=(10, 3))
for ax, image, label in zip(axes.ravel(), train.X, train.y):
    ax.imshow(image.reshape(8, 8), cmap="gray_r")
    ax.set_title(f"label {label}", fontsize=9)
    ax.axis("off")
fig.suptitle("The first 16 training images (8×8 pixels, darker = more ink)")
plt.show()

# %% [markdown]
# ## 2. A Linear layer
#
# A fully connected (linear) layer maps an input row $\mathbf x \in \mathbb R^{d_\text{in}}$ to
# $\mathbf y = W \mathbf x + \mathbf b$ with a weight matrix $W$ of shape $(d_\text{out}, d_\text{in})$ and
# a bias $\mathbf b \in \mathbb R^{d_\text{out}}$. For a batch $X$ of $N$ rows at once,
#
# $$Y = X W^\top + \mathbf b \qquad
# (N \times d_\text{in}) \cdot (d_\text{in} \times d_\text{out}) \to N \times d_\text{out},$$
#
# the bias broadcast to every row. Weights start **random** -- if they were all equal, every output
# unit would compute the same thing and get the same gradient forever -- with a scale of about
# $1/\sqrt{d_\text{in}}$: each output sums $d_\text{in}$ terms, so this keeps outputs of order one however
# wide the layer is.
#
# A `Module` remembers every `Parameter` assigned to it; `model.parameters()` hands them to the optimizer.

# %%
class MyLinear(nn.Module):
    def __init__(self, in_features, out_features, seed=None):
        super().__init__()
        rng = np.random.default_rng(seed)
        bound = 1 / math.sqrt(in_features)
        self.weight = nn.Parameter(rng.uniform(-bound, bound, (out_features, in_features)).astype(np.float32))
        self.bias = nn.Parameter(np.zeros(out_features, dtype=np.float32))

    def forward(self, x):
        return x @ self.weight.T + self.bias


layer = MyLinear(64, 10, seed=0)
print([(name, p.shape) for name, p in layer.named_parameters()])

# The library's nn.Linear computes the same function (with a fused, faster op): copy our weights in and compare.
ref = nn.Linear(64, 10)
ref.load_state_dict(layer.state_dict())
xb = Tensor(train.X[:5])
print("max difference to nn.Linear:", np.abs(layer(xb).numpy() - ref(xb).numpy()).max())

# %% [markdown]
# ## 3. A multi-layer perceptron
#
# Two linear layers in a row are still one linear map: $W_2(W_1\mathbf x + \mathbf b_1) + \mathbf b_2
# = (W_2W_1)\mathbf x + (W_2\mathbf b_1 + \mathbf b_2)$. A **non-linearity** between them, such as
# $\text{ReLU}(z) = \max(z, 0)$ applied elementwise, is what lets a network bend its decision
# boundaries. The MLP below maps 64 pixels to 64 hidden units to 10 scores (*logits*), one per digit.

# %%
def make_mlp(seed=0):
    rng = np.random.default_rng(seed)
    return nn.Sequential(MyLinear(64, 64, seed=rng), nn.ReLU(), MyLinear(64, 10, seed=rng))


model = make_mlp()
print(model)
print("parameters:", model.num_parameters())

# %% [markdown]
# ## 4. Cross-entropy
#
# The logits $\mathbf z \in \mathbb R^{10}$ become probabilities with the **softmax**
# $p_k = e^{z_k} / \sum_j e^{z_j}$. The loss of a sample with label $y$ is the negative log-probability
# of the right class, averaged over the batch:
#
# $$\ell(\mathbf z, y) = -\log p_y = -z_y + \log\sum_j e^{z_j}, \qquad
# L = \frac1N \sum_{i=1}^N \ell(\mathbf z_i, y_i).$$
#
# Its gradient is remarkably simple: $\partial L / \partial \mathbf z_i = (\mathbf p_i - \text{onehot}(y_i))/N$ --
# push up the right class, push down the others in proportion to their probability.
#
# Computed literally, $e^{z}$ overflows for $z \gtrsim 89$ in float32. Since softmax does not change
# when a constant is subtracted from every logit, subtract each row's maximum first (the
# *log-sum-exp trick*): the largest exponent is then $e^0 = 1$.

# %%
def naive_cross_entropy(logits, labels):
    p = logits.exp() / logits.exp().sum(axis=1, keepdims=True)
    return -p.log()[np.arange(len(labels)), labels].mean()


def stable_cross_entropy(logits, labels):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - shifted.exp().sum(axis=1, keepdims=True).log()
    return -log_p[np.arange(len(labels)), labels].mean()


logits = Tensor([[2.0, 1.0, -1.0], [0.5, 3.0, 0.0]])
labels = np.array([0, 2])
print("naive :", naive_cross_entropy(logits, labels).item())
print("stable:", stable_cross_entropy(logits, labels).item())
print("library F.cross_entropy:", F.cross_entropy(logits, labels).item())
with np.errstate(over="ignore", invalid="ignore"):
    print("logits + 100, naive :", naive_cross_entropy(logits + 100, labels).item(), " <- overflow")
print("logits + 100, stable:", stable_cross_entropy(logits + 100, labels).item())

# %% [markdown]
# ## 5. Stochastic gradient descent
#
# Gradient descent moves every parameter a small step against its gradient,
#
# $$\theta \leftarrow \theta - \eta\, \nabla_\theta L_B(\theta),$$
#
# where $L_B$ is the loss on a **mini-batch** $B$ of samples and $\eta$ is the learning rate. The
# optimizer updates `p.data` in place (the update itself must not be recorded in the graph) and
# `zero_grad()` clears the gradients, which would otherwise accumulate across steps (notebook 01).

# %%
class MySGD:
    def __init__(self, params, lr):
        self.params = list(params)
        self.lr = lr

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        for p in self.params:
            if p.grad is not None:
                p.data -= self.lr * p.grad

# %% [markdown]
# ## 6. The training loop
#
# One **epoch** is one pass over the training set in shuffled mini-batches of 32. After every epoch
# we evaluate the loss on the whole training set and the accuracy on both sets, under `no_grad()`
# since no gradient is needed there.

# %%
def evaluate(model, split):
    with tg.no_grad():
        logits = model(Tensor(split.X))
        loss = F.cross_entropy(logits, split.y).item()
    accuracy = float((logits.numpy().argmax(axis=1) == split.y).mean())
    return loss, accuracy


model = make_mlp(seed=0)
opt = MySGD(model.parameters(), lr=0.2)
loader = train.loader(batch_size=32, shuffle=True, seed=0)
history = {"epoch": [0], "train_loss": [evaluate(model, train)[0]], "train_acc": [evaluate(model, train)[1]],
           "test_acc": [evaluate(model, test)[1]]}
start = time.perf_counter()
for epoch in range(1, 31):
    for xb, yb in loader:
        loss = stable_cross_entropy(model(xb), yb.numpy())
        opt.zero_grad()
        loss.backward()
        opt.step()
    train_loss, train_acc = evaluate(model, train)
    history["epoch"].append(epoch)
    history["train_loss"].append(train_loss)
    history["train_acc"].append(train_acc)
    history["test_acc"].append(evaluate(model, test)[1])
print(f"30 epochs of {len(loader)} updates in {time.perf_counter() - start:.1f} s; "
      f"final test accuracy {history['test_acc'][-1]:.1%}")

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
ax1.plot(history["epoch"], history["train_loss"], "o-", ms=3)
ax1.set(xlabel="epoch", ylabel="cross-entropy on the full training set (log scale)", yscale="log",
        title="Training loss")
ax2.plot(history["epoch"], history["train_acc"], "o-", ms=3, label="training set")
ax2.plot(history["epoch"], history["test_acc"], "s-", ms=3, label="test set (never trained on)")
ax2.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02), title="Accuracy")
ax2.legend()
fig.suptitle("MLP 64-64-10 on 8×8 digits, SGD with mini-batches of 32, lr = 0.2")
fig.tight_layout()
plt.show()

# %% [markdown]
# **What to notice.** The loss falls fast in the first epochs and then keeps creeping down on the log
# scale. Training accuracy approaches 100%; test accuracy levels off a little below it -- the gap is
# what the network memorised about its particular training images rather than learned about digits.
#
# ## 7. The mistakes
#
# Which test images does the network get wrong? Showing them is the quickest sanity check of a
# classifier: the errors should look like understandable confusions, not random failures.

# %%
with tg.no_grad():
    probs = model(Tensor(test.X)).softmax(axis=1).numpy()
pred = probs.argmax(axis=1)
wrong = np.flatnonzero(pred != test.y)
print(f"{len(wrong)} of {len(test.y)} test images misclassified")

n_show = min(len(wrong), 16)
fig, axes = plt.subplots(2, 8, figsize=(11, 4.6))
for ax in axes.ravel():
    ax.axis("off")
for ax, i in zip(axes.ravel(), wrong[:n_show]):
    ax.imshow(test.X[i].reshape(8, 8), cmap="gray_r")
    ax.set_title(f"true {test.y[i]}, said {pred[i]}\n(p = {probs[i, pred[i]]:.2f})", fontsize=8.5)
fig.suptitle("Misclassified test digits: the true label, the network's answer and its confidence")
fig.tight_layout()
plt.show()

# %%
confusion = np.zeros((10, 10), dtype=int)
np.add.at(confusion, (test.y, pred), 1)
fig, ax = plt.subplots(figsize=(5.5, 4.8))
im = ax.imshow(np.log1p(confusion), cmap="Blues")
for t in range(10):
    for p in range(10):
        if confusion[t, p]:
            ax.text(p, t, confusion[t, p], ha="center", va="center", fontsize=8,
                    color="white" if t == p else "black")
ax.set(xticks=range(10), yticks=range(10), xlabel="predicted digit", ylabel="true digit",
       title="Confusion matrix on the test set\n(numbers: counts; shading: log scale)")
plt.show()

# %% [markdown]
# **What to notice.** Almost all counts sit on the diagonal. Many of the few errors off it are
# confusions among digits that share strokes at 8×8 resolution, such as 1, 8 and 9 (8 is the most
# common wrong answer), and several are made with low confidence $p$ -- the network "knows" it is
# unsure. Some of the misclassified images above would puzzle a person too.
#
# ## Exercises
#
# In the notebooks in `notebooks/`, each answer cell below holds a stub -- `raise NotImplementedError(...)`,
# or `...` where a value goes. Replace it with your answer and run the check cell under it: the checker
# prints ✓, or raises an error that says which input failed, what it expected and what it got; until you
# answer, it prints ○ *not attempted yet*, so the notebook still runs top to bottom. The worked answers are
# in `notebooks/solutions/`: the same notebooks, answers filled in (try first!).
#
# ### Exercise 1 — a Linear layer
#
# Write a class `Linear(in_features, out_features)`: an `nn.Module` with a weight Parameter of shape
# `(out_features, in_features)`, random with scale about $1/\sqrt{\text{in\_features}}$, a bias Parameter
# of shape `(out_features,)`, and `forward(x)` returning $xW^\top + b$. (Without peeking at `MyLinear`!)

# %%
# Your answer — replace the stub with your code, then run the check cell below
class Linear(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        # self.weight and self.bias: nn.Parameter(...) of the shapes above
        # BEGIN SOLUTION
        std = 1 / math.sqrt(in_features)
        self.weight = nn.Parameter((np.random.default_rng().standard_normal((out_features, in_features)) * std)
                                   .astype(np.float32))
        self.bias = nn.Parameter(np.zeros(out_features, dtype=np.float32))
        # END SOLUTION

    def forward(self, x):
        """Return x W^T + b for a Tensor x of shape (N, in_features)."""
        # BEGIN SOLUTION
        return x @ self.weight.T + self.bias
        # END SOLUTION

# %%
from tinygrad_mb.exercises import check_linear_layer

check_linear_layer(Linear)

# %% [markdown]
# ### Exercise 2 — an MLP
#
# Build `mlp`: 64 inputs → 32 hidden units → 10 logits, with a non-linearity in between
# (use `nn.Sequential`, `nn.Linear` or your `Linear`, and an activation module).

# %%
# Your answer — replace the stub with your code, then run the check cell below
# BEGIN SOLUTION
mlp = nn.Sequential(nn.Linear(64, 32, seed=0), nn.Tanh(), nn.Linear(32, 10, seed=1))
# END SOLUTION
# STUB: mlp = ...  # your model here: nn.Sequential(...)

# %%
from tinygrad_mb.exercises import check_mlp

check_mlp(mlp)

# %% [markdown]
# ### Exercise 3 — cross-entropy
#
# Write `cross_entropy(logits, labels)`: `logits` a Tensor of shape (N, C), `labels` a NumPy integer array
# of shape (N,); return the mean loss as a one-element Tensor. It must stay finite for logits around 1000.

# %%
# Your answer — replace the stub with your code, then run the check cell below
def cross_entropy(logits, labels):
    """Return the mean cross-entropy over the batch, a one-element Tensor."""
    # BEGIN SOLUTION
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - shifted.exp().sum(axis=1, keepdims=True).log()
    return -log_p[np.arange(len(labels)), labels].mean()
    # END SOLUTION

# %%
from tinygrad_mb.exercises import check_cross_entropy

check_cross_entropy(cross_entropy)

# %% [markdown]
# ### Exercise 4 — SGD with momentum
#
# Momentum keeps a running sum of past gradients per parameter, so steps build up speed along directions
# where the gradients agree:
#
# $$\mathbf v \leftarrow \mu\,\mathbf v + \mathbf g \quad(\mathbf v = \mathbf g \text{ on the first step}), \qquad
# \theta \leftarrow \theta - \eta\,\mathbf v.$$
#
# Write `MomentumSGD(params, lr, momentum)` with `step()` and `zero_grad()`. It must not modify `p.grad`.

# %%
# Your answer — replace the stub with your code, then run the check cell below
class MomentumSGD:
    def __init__(self, params, lr, momentum):
        # BEGIN SOLUTION
        self.params = list(params)
        self.lr, self.momentum = lr, momentum
        self.velocity = [None] * len(self.params)
        # END SOLUTION

    def zero_grad(self):
        """Clear every parameter's gradient."""
        # BEGIN SOLUTION
        for p in self.params:
            p.grad = None
        # END SOLUTION

    def step(self):
        """Update every parameter that has a gradient, as in the formula above."""
        # BEGIN SOLUTION
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            v = self.velocity[i]
            self.velocity[i] = p.grad.copy() if v is None else self.momentum * v + p.grad
            p.data -= self.lr * self.velocity[i]
        # END SOLUTION

# %%
from tinygrad_mb.exercises import check_sgd_momentum

check_sgd_momentum(MomentumSGD)

# %% [markdown]
# The library's versions of everything built here: `nn.Linear`, `nn.Sequential`, `nn.ReLU`,
# `nn.CrossEntropyLoss` / `F.cross_entropy` (fused and stable) and `optim.SGD(params, lr, momentum=...)`
# (also with Nesterov momentum and weight decay), plus the adaptive optimizers `optim.Adagrad`,
# `optim.RMSprop` and `optim.Adam`. Notebook 03 uses them to compare batch, stochastic and mini-batch
# gradient descent.

# %%
print(optim.SGD(model.parameters(), lr=0.1, momentum=0.9))

# %% [markdown]
# ## 8. Five optimizers, each at its own learning rate
#
# The **adaptive** optimizers divide each weight's step by a running measure of that weight's gradient
# size: Adagrad by the root of the sum of all its squared gradients so far, RMSprop by the root of a
# running mean of them, Adam like RMSprop with momentum on top. Their steps are therefore of the order of
# `lr` per weight whatever the scale of the gradient (Adagrad's shrink as its sum grows), while plain SGD's
# step is `lr` times the gradient. So the
# same number means very different things to different optimizers, and comparing them at one shared
# learning rate compares nothing. Below, each one trains the same network from the same initial weights
# on the same shuffled batches for 10 epochs, at every rate of a grid from 0.001 to 3.

# %%
OPTIMIZERS = {
    "SGD": lambda params, lr: optim.SGD(params, lr=lr),
    "SGD + momentum 0.9": lambda params, lr: optim.SGD(params, lr=lr, momentum=0.9),
    "Adagrad": lambda params, lr: optim.Adagrad(params, lr=lr),
    "RMSprop": lambda params, lr: optim.RMSprop(params, lr=lr),
    "Adam": lambda params, lr: optim.Adam(params, lr=lr),
}
RATES = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]


def train_curve(make_optimizer, lr, epochs=10):
    """Training loss after each epoch (index 0: before training); NaN once the loss is no longer finite."""
    model = make_mlp(seed=0)
    opt = make_optimizer(model.parameters(), lr)
    loader = train.loader(batch_size=32, shuffle=True, seed=0)
    curve = [evaluate(model, train)[0]]
    for _ in range(epochs):
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        curve.append(evaluate(model, train)[0])
        if not math.isfinite(curve[-1]):  # diverged: the rest would be NaN too
            curve += [math.nan] * (epochs + 1 - len(curve))
            break
    return curve


curves = {name: {lr: train_curve(make, lr) for lr in RATES} for name, make in OPTIMIZERS.items()}
best_rate = {name: min(RATES, key=lambda lr: c[lr][-1] if math.isfinite(c[lr][-1]) else math.inf)
             for name, c in curves.items()}
for name, lr in best_rate.items():
    print(f"{name:20s} best rate {lr:<6g} final training loss {curves[name][lr][-1]:.4f}")

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.4))
for name, by_rate in curves.items():
    finals = [by_rate[lr][-1] if math.isfinite(by_rate[lr][-1]) else np.nan for lr in RATES]
    line, = ax1.plot(RATES, finals, "o-", ms=4, label=name)
    ax2.plot(range(len(by_rate[best_rate[name]])), by_rate[best_rate[name]], "o-", ms=3, color=line.get_color(),
             label=f"{name}, lr = {best_rate[name]:g}")
ax1.set(xscale="log", yscale="log", xlabel="learning rate (log scale)",
        ylabel="training loss after 10 epochs (log scale)",
        title="Each optimizer has its own good rates\n(colours as on the right; a missing point: diverged)")
ax2.set(yscale="log", xlabel="epoch", ylabel="cross-entropy on the full training set (log scale)",
        title="Each at its best rate from the grid")
ax2.legend(fontsize=8.5)
fig.suptitle("MLP 64-64-10 on 8×8 digits, mini-batches of 32, same initial weights and batches")
fig.tight_layout()
plt.show()

# %% [markdown]
# **What to notice.** Every curve on the left is U-shaped: too small a rate barely moves in 10 epochs,
# too large a rate makes the loss bounce or diverge. The good rates of the adaptive optimizers sit far
# to the left of plain SGD's, and momentum 0.9 moves SGD's about ten times to the left, since a
# momentum step adds up to 1 / (1 - 0.9) = 10 past gradients. On the right, at their own best rates,
# the five end much closer together than a shared rate would suggest. Compare optimizers (or batch
# sizes, as notebook 05 does) only after giving each its own rate.
