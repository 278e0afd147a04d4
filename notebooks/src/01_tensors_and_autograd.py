# Source of 01_tensors_and_autograd.ipynb: edit here, then run `python notebooks/_build.py`.
# ruff: noqa: E402
# %% [markdown]
# # 01 · Tensors and autograd
#
# Training a model means changing its weights so that a loss goes down, and the
# direction "down" is given by the **gradient** of the loss with respect to every weight.
# This notebook builds up how `tinygrad_mb` computes gradients:
#
# 1. derivatives by hand, and checked with finite differences;
# 2. tensors, and the **computational graph** they record;
# 3. the chain rule run backwards through that graph: `backward()`;
# 4. checking any gradient numerically with `gradcheck`.
#
# Most sections end with *what to notice*. Three exercises at the end have checker
# functions that tell you what is wrong with an attempt.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_mb as tg
from tinygrad_mb import Tensor, gradcheck
from tinygrad_mb.viz import draw_graph

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## 1. Derivatives by hand
#
# The derivative of $f$ at $x$ is the slope of the tangent line,
#
# $$f'(x) = \lim_{h \to 0} \frac{f(x + h) - f(x)}{h}.$$
#
# For $f(x) = x^3 - 2x$ the usual rules give $f'(x) = 3x^2 - 2$. A computer can also
# *estimate* it with a small but finite $h$. The **central difference**
#
# $$f'(x) \approx \frac{f(x + h) - f(x - h)}{2h}$$
#
# is much better than the one-sided version: its error shrinks like $h^2$ instead of $h$
# (the $f''$ terms of the two Taylor expansions cancel).

# %%
def f(x):
    return x**3 - 2 * x


def f_prime(x):  # by hand
    return 3 * x**2 - 2


x0 = 1.5
h = 1e-4
print("by hand          ", f_prime(x0))
print("forward diff.    ", (f(x0 + h) - f(x0)) / h)
print("central diff.    ", (f(x0 + h) - f(x0 - h)) / (2 * h))
print("central, float32 ", (f(np.float32(x0 + h)) - f(np.float32(x0 - h))) / np.float32(2 * h))

# %%
xs = np.linspace(-2, 2, 200)
hs = np.logspace(-12, -1, 60)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
ax1.plot(xs, f(xs), label="$f(x) = x^3 - 2x$")
ax1.plot(xs, f(x0) + f_prime(x0) * (xs - x0), "--", label=f"tangent at $x_0 = {x0}$, slope $f'(x_0) = {f_prime(x0):g}$")
ax1.plot([x0], [f(x0)], "ko")
ax1.set(xlabel="x", ylabel="f(x)", ylim=(-4, 4), title="The derivative is the slope of the tangent")
ax1.legend()
ax2.loglog(hs, np.abs((f(x0 + hs) - f(x0)) / hs - f_prime(x0)), label="forward difference (error ~ h)")
ax2.loglog(hs, np.abs((f(x0 + hs) - f(x0 - hs)) / (2 * hs) - f_prime(x0)), label="central difference (error ~ h²)")
ax2.set(xlabel="step h (log scale)", ylabel="|estimate − f'(x₀)| (log scale)",
        title="Finite differences in float64: error against step")
ax2.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# **What to notice.** On the right, going left from $h = 0.1$ the error first falls
# (the slope of each line is the order of the method: 1 and 2) and then *rises* again: for tiny
# $h$, $x \pm h$ and $f(x \pm h)$ are rounded to about 16 digits, $f(x+h) - f(x-h)$ subtracts two
# nearly equal numbers, and those rounding errors, of order $10^{-16}$, are divided by $h$. The
# central difference is best around $h \approx 10^{-5}$ to $10^{-6}$, with about 10 correct digits
# -- in float64. Float32 keeps only about 7 digits: the last line printed above, the same central
# difference in float32, has only about 4 correct digits (4.7505 for 4.75). A larger $h$ helps only
# until the $h^2$ error takes over; no step gives more than about 5 digits. That is too few to tell a
# slightly wrong gradient from rounding, which is why gradient checks always run in float64.
#
# Finite differences cost two evaluations of $f$ *per input number*. A network with a
# million weights would need two million forward passes for one gradient. Backpropagation gets
# all of them for the price of about one forward and one backward pass.

# %% [markdown]
# ## 2. Tensors
#
# A `Tensor` wraps a NumPy array (`.data`). Python floats become float32, the default for
# training; ask for float64 where precision matters. `requires_grad=True` marks the tensors
# whose gradients we want: the inputs we will differentiate with respect to.

# %%
v = Tensor([1.0, 2.0, 3.0])
w = Tensor(np.array([[1.0, 0.5], [0.0, -1.0]]), requires_grad=True)  # a float64 array stays float64
print(v, v.shape, v.dtype)
print(w, w.dtype)
print("v * 2 + 1 =", v * 2 + 1)
print("w @ w     =", (w @ w).numpy())

# %% [markdown]
# ## 3. The computational graph
#
# Take three numbers and the expression
#
# $$e = a\,b, \qquad d = e + c, \qquad L = \tanh(d).$$
#
# Every operation on tensors that require gradients creates a new tensor that remembers
# **which op made it and from which inputs** (`L._ctx` and `L._ctx.parents`). Together these
# links form a graph from the inputs to the output. `draw_graph` walks the links back from
# `L` and draws them.

# %%
a = Tensor(2.0, requires_grad=True)
b = Tensor(-3.0, requires_grad=True)
c = Tensor(6.5, requires_grad=True)
e = a * b
d = e + c
L = d.tanh()
print("L =", L)
print("L was made by", type(L._ctx).__name__, "from", L._ctx.parents)
draw_graph(L, names={"a": a, "b": b, "c": c, "e": e, "d": d, "L": L})
plt.show()

# %% [markdown]
# **What to notice.** Tensors are boxes with their value, ops are the round nodes, and arrows
# show how values flow in the *forward* pass. `a`, `b` and `c` are *leaves*: nothing made them.
# The gradient flows the other way, from `L` back to the leaves.
#
# ### The chain rule, backwards
#
# Walk the graph from the output. At every op, multiply the gradient arriving from above by the
# op's *local* derivative (for tanh, $\tanh'(d) = 1 - \tanh^2(d)$):
#
# $$\frac{\partial L}{\partial d} = 1 - \tanh^2(d), \qquad
# \frac{\partial L}{\partial c} = \frac{\partial L}{\partial d}
#   \cdot\underbrace{\frac{\partial d}{\partial c}}_{1}, \qquad
# \frac{\partial L}{\partial e} = \frac{\partial L}{\partial d}\cdot 1, \qquad
# \frac{\partial L}{\partial a} = \frac{\partial L}{\partial e}
#   \cdot\underbrace{\frac{\partial e}{\partial a}}_{b}, \qquad
# \frac{\partial L}{\partial b} = \frac{\partial L}{\partial e}\cdot a.$$
#
# By hand, with plain Python numbers:

# %%
# g_x stands for dL/dx
d_val = 2.0 * -3.0 + 6.5
g_d = 1 - np.tanh(d_val) ** 2
g_c = g_d * 1.0
g_e = g_d * 1.0
g_a = g_e * -3.0  # de/da = b
g_b = g_e * 2.0  # de/db = a
print(f"by hand:  dL/da = {g_a:.6f}   dL/db = {g_b:.6f}   dL/dc = {g_c:.6f}")

# %% [markdown]
# ## 4. `backward()` does exactly this
#
# `L.backward()` orders the graph so that every node comes after everything that uses it, then
# applies each op's local rule (its `backward` method, written next to its `forward` in
# `tinygrad_mb/ops/`). The results land in the leaves' `.grad`. Intermediate tensors keep their
# gradient only if asked with `.retain_grad()`; and `retain_graph=True` keeps the graph after the
# backward pass, so we can draw it again, now with gradients.

# %%
e.retain_grad()
d.retain_grad()
L.retain_grad()  # the output too: dL/dL = 1, where the chain rule starts
L.backward(retain_graph=True)
print(f"autograd: dL/da = {a.grad:.6f}   dL/db = {b.grad:.6f}   dL/dc = {c.grad:.6f}")
draw_graph(L, names={"a": a, "b": b, "c": c, "e": e, "d": d, "L": L},
           title="The same graph after L.backward(): every box also shows dL/d(box)")
plt.show()

# %% [markdown]
# **What to notice.** The numbers agree with the hand computation to float32 precision. Every
# edge into a `+` passes the gradient through unchanged; a `×` hands each input the gradient
# times the *other* input. That is all backpropagation is: local rules and multiplication.
#
# ### Gradients accumulate
#
# A second `backward()` *adds* to `.grad` instead of replacing it (as in PyTorch), because a
# tensor used in two places must receive the sum of both contributions. That is why training
# loops call `zero_grad()` before each backward pass.

# %%
x = Tensor(3.0, requires_grad=True)
y = x * x + x  # x is used twice: dy/dx = 2x + 1 = 7
y.backward()
print("after one backward:", x.grad)
(x * x + x).backward()  # a new graph, same leaf
print("after a second one:", x.grad, " <- accumulated 7 + 7")
x.zero_grad()
print("after zero_grad():", x.grad)

with tg.no_grad():  # evaluation: no graph is recorded, nothing to free
    z = x * x
print("inside no_grad, requires_grad =", z.requires_grad)

# %% [markdown]
# ### Vectors, and broadcasting
#
# With vectors nothing changes in principle. For a linear model with squared error,
#
# $$L(\mathbf w, b) = \big(\mathbf w^\top \mathbf x + b - y\big)^2, \qquad
# \nabla_{\mathbf w} L = 2 r\,\mathbf x, \qquad \frac{\partial L}{\partial b} = 2r, \qquad
# r = \mathbf w^\top \mathbf x + b - y.$$
#
# When a tensor is *broadcast* (a scalar added to a vector uses that scalar several times), its
# gradient is the *sum* over the copies. The engine does that in one place for every op.

# %%
xv = Tensor([1.0, -2.0, 0.5])
wv = Tensor([0.3, 0.1, -0.4], requires_grad=True)
bias = Tensor(0.2, requires_grad=True)
yv = 1.0
loss = ((wv * xv).sum() + bias - yv) ** 2
loss.backward()
r = float((wv.numpy() * xv.numpy()).sum() + 0.2 - yv)
print("autograd dL/dw:", wv.grad, "  by hand 2 r x:", 2 * r * xv.numpy())
print(f"autograd dL/db: {float(bias.grad):.4f}   by hand 2 r:   {2 * r:.4f}")

s = Tensor(2.0, requires_grad=True)
(s + Tensor([1.0, 2.0, 3.0])).sum().backward()  # s is broadcast to 3 copies
print("gradient of a scalar broadcast 3 times:", s.grad)

# %% [markdown]
# ## 5. Checking gradients with `gradcheck`
#
# How do we know a `backward` rule is right? Compare it with central differences. For an
# output of any shape, `gradcheck` picks a random vector $v$ of the output's shape and checks
# the scalar $S(x) = \sum_i f(x)_i\, v_i$: its analytic gradient (one backward pass) against
#
# $$\frac{\partial S}{\partial x_j} \approx \frac{S(x + \varepsilon e_j) - S(x - \varepsilon e_j)}{2\varepsilon}
# \qquad\text{for every element } j,$$
#
# elementwise within `atol + rtol * |numeric|`. The inputs must be **float64** (section 1 showed why).

# %%
x64 = Tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)  # float64
w64 = Tensor(np.random.default_rng(1).standard_normal((4, 2)), requires_grad=True)
print(gradcheck(lambda x, w: (x @ w).tanh().sum(axis=0), x64, w64))

# %% [markdown]
# And when a rule is wrong, `gradcheck` says where. Here is an op that squares its input, with a
# planted bug: its backward forgets the factor 2 of $\frac{d}{dx}x^2 = 2x$. An op is a subclass of
# `tg.Function`: `forward` gets the inputs' NumPy arrays and saves on `self` what `backward` needs;
# `backward(g)` gets the gradient arriving from above, $g = \partial L/\partial(\text{output})$, and
# returns $\partial L/\partial(\text{input})$. (Notebook 06 is all about writing your own ops like this
# and testing them thoroughly.)

# %%
class BadSquare(tg.Function):
    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, g):
        return g * self.x  # wrong: should be g * 2 * x


try:
    gradcheck(BadSquare.apply, Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True))
except tg.GradcheckError as err:
    print("GradcheckError:", err)

# %% [markdown]
# **What to notice.** The message names the input, the element, the analytic and the numeric
# value: the analytic one is half the numeric one -- exactly the missing factor 2.
#
# ## Exercises
#
# In the notebooks in `notebooks/`, each answer cell below holds a stub -- `raise NotImplementedError(...)`,
# or `...` where a value goes. Replace it with your answer and run the check cell under it: the checker
# prints ✓, or raises an error that says which input failed, what it expected and what it got; until you
# answer, it prints ○ *not attempted yet*, so the notebook still runs top to bottom. The worked answers are
# in `notebooks/solutions/`: the same notebooks, answers filled in (try first!).

# %% [markdown]
# ### Exercise 1 — the derivative of the sigmoid, by hand
#
# $\sigma(x) = \dfrac{1}{1 + e^{-x}}$. Derive $\sigma'(x)$ and write it as a NumPy function of an array
# `x` of any shape. (Hint: the result can be written using $\sigma(x)$ itself.)

# %%
# Your answer — replace the stub with your code, then run the check cell below
def sigmoid_derivative(x):
    """Return sigma'(x) for every element of the NumPy array x."""
    # BEGIN SOLUTION
    s = 1 / (1 + np.exp(-x))
    return s * (1 - s)
    # END SOLUTION

# %%
from tinygrad_mb.exercises import check_sigmoid_derivative

check_sigmoid_derivative(sigmoid_derivative)

# %% [markdown]
# ### Exercise 2 — the chain rule on paper
#
# For $L = (a b + c)^2$ at $a = 2,\ b = -3,\ c = 10$, compute $\partial L/\partial a$,
# $\partial L/\partial b$ and $\partial L/\partial c$ **by hand** (write $d = ab + c$ first) and
# give the three numbers. Do not use autograd for the answer -- use it afterwards to convince yourself.

# %%
# Your answer — replace the stub with your code, then run the check cell below
# BEGIN SOLUTION
chain_rule_answer = {"a": -24.0, "b": 16.0, "c": 8.0}
# END SOLUTION
# STUB: chain_rule_answer = {"a": ..., "b": ..., "c": ...}  # your numbers: dL/da, dL/db, dL/dc

# %%
from tinygrad_mb.exercises import check_chain_rule

check_chain_rule(chain_rule_answer)

# %% [markdown]
# ### Exercise 3 — let autograd do it
#
# Write `softplus(x)` $= \log(1 + e^x)$ for a `Tensor` `x` using tensor operations only
# (`.exp()`, `.log()`, `+`). You write no derivative: the checker verifies that autograd finds
# $\frac{d}{dx}\,\text{softplus}(x) = \sigma(x)$ by itself.

# %%
# Your answer — replace the stub with your code, then run the check cell below
def softplus(x):
    """Return log(1 + e^x) for the Tensor x, built from tensor operations only."""
    # BEGIN SOLUTION
    return (x.exp() + 1).log()
    # END SOLUTION

# %%
from tinygrad_mb.exercises import check_softplus

check_softplus(softplus)
