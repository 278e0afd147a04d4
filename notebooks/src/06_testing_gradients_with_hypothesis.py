# Source of 06_testing_gradients_with_hypothesis.ipynb: edit here, then run `python notebooks/_build.py`.
# ruff: noqa: E402
# %% [markdown]
# # 06 · Testing gradients with hypothesis
#
# Every op in `tinygrad_mb` has a `backward` written by hand. A wrong one does not crash: the
# model still trains, just worse, and nobody notices. So every backward rule must be *tested*.
# This notebook:
#
# 1. writes a new op, SiLU, with its forward and backward side by side;
# 2. checks its gradient with `gradcheck` at one input;
# 3. turns that check into a **property** that must hold for *every* input, and lets
#    [hypothesis](https://hypothesis.readthedocs.io) search for a counterexample, using the
#    strategies in `tinygrad_mb.testing`;
# 4. watches hypothesis find a planted bug that a hand-picked test misses, and **shrink** the
#    failing input to a minimal example.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
from hypothesis import given, settings

from tinygrad_mb import Function, GradcheckError, Tensor, gradcheck
from tinygrad_mb.backend import array_module
from tinygrad_mb.testing import shapes, tensors

# Deterministic searches (the same examples on every run) that leave no database behind.
quick = settings(max_examples=40, deadline=None, database=None, derandomize=True)

# %% [markdown]
# ## 1. Write your own op: SiLU
#
# The SiLU (or "swish") activation is $\text{silu}(x) = x\,\sigma(x)$ with $\sigma(x) = 1/(1+e^{-x})$.
# By the product rule and $\sigma' = \sigma(1 - \sigma)$,
#
# $$\frac{d}{dx}\,\text{silu}(x) = \sigma(x) + x\,\sigma(x)\big(1 - \sigma(x)\big)
#   = \sigma(x)\,\big(1 + x\,(1 - \sigma(x))\big).$$
#
# An op is a `Function` subclass. `forward` gets raw arrays and returns an array; it saves on
# `self` what `backward` needs. `backward(g)` gets $g = \partial L/\partial\,\text{out}$ and returns
# $\partial L/\partial x = g \cdot \frac{d\,\text{out}}{dx}$. `array_module(x)` is NumPy or CuPy,
# whichever `x` lives on, so the same op runs on the GPU.

# %%
class SiLU(Function):
    """silu(x) = x * sigmoid(x);   d/dx = s * (1 + x * (1 - s)),  s = sigmoid(x)."""

    def forward(self, x):
        xp = array_module(x)
        self.x = x
        self.s = 1 / (1 + xp.exp(-x))
        return x * self.s

    def backward(self, g):
        s = self.s
        return g * s * (1 + self.x * (1 - s))


def silu(x):
    return SiLU.apply(x)


x = Tensor(np.linspace(-6, 6, 121), requires_grad=True)
y = silu(x)
y.sum().backward()  # d(sum)/dx_i = silu'(x_i): the whole derivative curve in one backward pass
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(x.numpy(), y.numpy(), label="silu(x) = x σ(x)")
ax.plot(x.numpy(), x.grad, label="silu'(x) from SiLU.backward")
ax.axhline(0, color="gray", lw=0.8)
ax.set(xlabel="x", ylabel="value", title="Our new op and its hand-written derivative")
ax.legend()
plt.show()

# %% [markdown]
# **What to notice.** The derivative goes from 0 (far left) to 1 (far right), with a small
# overshoot above 1 and a dip below 0: a smooth version of the ReLU's step. The picture looks
# plausible -- but "looks plausible" is not a test.
#
# ## 2. One gradcheck
#
# `gradcheck` compares the backward pass with central differences in float64 (notebook 01):

# %%
print(gradcheck(silu, Tensor(np.array([-2.0, 0.5, 3.0]), requires_grad=True)))

# %% [markdown]
# ## 3. From one example to a property
#
# A hand-picked input tests what its author thought of. A **property-based test** states what must
# hold for *all* inputs -- "the analytic gradient equals the numeric one" -- and hypothesis
# generates inputs to try to break it. `tinygrad_mb.testing` provides strategies for what ops
# care about:
#
# | strategy | generates |
# |---|---|
# | `shapes(min_dims, max_dims, max_side)` | shapes such as `()`, `(3,)`, `(2, 1, 4)` |
# | `arrays(shape, positive=..., avoid=...)` | bounded float64 arrays, optionally away from kinks |
# | `tensors(shape, ...)` | float64 tensors with `requires_grad=True`, ready for gradcheck |
# | `broadcastable_shapes(n)`, `axes(ndim)` | shapes that broadcast together; valid `axis` arguments |
#
# Here are a few of the tensors hypothesis draws:

# %%
drawn = []


@quick
@given(tensors(shapes(max_dims=2, max_side=3)))
def collect(t):
    drawn.append(t)


collect()
print(f"{len(drawn)} tensors drawn; a few of them (shape, values):")
for t in drawn[8:40:6]:
    print(t.shape, np.round(t.numpy(), 3).tolist())

# %% [markdown]
# **What to notice.** Besides random values, hypothesis deliberately tries *edge cases*: zeros,
# repeated values, 0-d and size-1 shapes -- the places where broadcasting and reduction bugs hide.
#
# Now the property. `@given` turns the function into a test that runs it on many generated
# inputs; calling it runs the search and raises if any input fails.

# %%
@quick
@given(tensors(shapes(max_dims=3)))
def test_silu_gradient(x):
    assert gradcheck(silu, x)


test_silu_gradient()
print("gradcheck passed on 40 generated tensors of different shapes and values")

# %% [markdown]
# Properties need not be about gradients. Since $\sigma(x) + \sigma(-x) = 1$, SiLU satisfies
# $\text{silu}(x) - \text{silu}(-x) = x\,\sigma(x) + x\,\sigma(-x) = x$ for every $x$:

# %%
@quick
@given(tensors(shapes(max_dims=2), requires_grad=False, min_value=-30, max_value=30))
def test_silu_identity(x):
    np.testing.assert_allclose((silu(x) - silu(-x)).numpy(), x.numpy(), atol=1e-12)


test_silu_identity()
print("silu(x) - silu(-x) == x held on 40 generated tensors")

# %% [markdown]
# ## 4. A planted bug, found and shrunk
#
# $\log\cosh(x)$ is a smooth version of $|x|$, used as a robust loss. Computed naively,
# $\cosh(x)$ overflows for $|x| > 710$, so the forward pass uses the stable form
#
# $$\log\cosh x = |x| + \log\big(1 + e^{-2|x|}\big) - \log 2 .$$
#
# Its derivative is $\tanh(x)$. But differentiating the stable form term by term, it is easy to
# forget that $\frac{d}{dx}|x| = \operatorname{sign}(x)$ -- and write $\tanh(|x|)$. That is the bug
# planted below.

# %%
class LogCosh(Function):
    """log(cosh(x)), computed stably;  d/dx = tanh(x)."""

    def forward(self, x):
        xp = array_module(x)
        self.x = x
        ax = xp.abs(x)
        return ax + xp.log1p(xp.exp(-2 * ax)) - np.log(2.0)

    def backward(self, g):
        xp = array_module(self.x)
        return g * xp.tanh(xp.abs(self.x))  # BUG: should be tanh(x)

# %% [markdown]
# A hand-written test with a few "typical" values passes -- they happen to be positive:

# %%
print(gradcheck(LogCosh.apply, Tensor(np.array([0.5, 1.0, 2.0]), requires_grad=True)))

# %% [markdown]
# The property test does not pass. We record every input on which the check failed, so we can
# watch the search:

# %%
failures = []


@settings(max_examples=100, deadline=None, database=None, derandomize=True)
@given(tensors(shapes(max_dims=3)))
def test_logcosh_gradient(x):
    try:
        gradcheck(LogCosh.apply, x)
    except GradcheckError:
        failures.append(x)
        raise


try:
    test_logcosh_gradient()
except GradcheckError as err:
    print("hypothesis reports:", err.__notes__[0] if getattr(err, "__notes__", None) else "")
    print("\nthe error:", err)

first, last = failures[0], failures[-1]
print(f"\n{len(failures)} failing inputs seen. The first one found has shape {first.shape} "
      f"({first.size} numbers, from {first.numpy().min():.4g} to {first.numpy().max():.4g}).")
print(f"The last one, after shrinking: {last}")

# %% [markdown]
# **What to notice.** The first failing input is whatever the search happened to draw: its shape and the
# range of its values are printed above. Hypothesis often fills a whole array with one repeated value, so
# when the range printed is a single number, every element of it is that number. Even so, that value is an
# arbitrary one, and with several elements it is not clear that the shape plays no part.
# Hypothesis then **shrank** it: it tried smaller shapes and simpler values, keeping each change that still
# failed, until nothing simpler failed. The result, a single $x = -1$, is a *minimal example*: it says at a
# glance that the bug is about negative inputs -- exactly the missing $\operatorname{sign}(x)$. Put that
# example in a regular unit test, fix the op, and the bug can never return silently.

# %%
fig, ax = plt.subplots(figsize=(7, 4))
xs = np.linspace(-4, 4, 161)
xt = Tensor(xs, requires_grad=True)
LogCosh.apply(xt).sum().backward()
ax.plot(xs, np.tanh(xs), lw=3, alpha=0.5, label="true derivative tanh(x)")
ax.plot(xs, xt.grad, "--", label="LogCosh.backward (the bug: tanh(|x|))")
ax.axvline(-1, color="gray", ls=":", label="hypothesis's minimal example x = −1")
ax.set(xlabel="x", ylabel="d/dx log cosh(x)", ylim=(-1.5, 1.1),
       title="The planted bug: right for x > 0, wrong for x < 0")
ax.legend(loc="lower right", fontsize=9)  # the empty corner: both curves are positive for x > 0
plt.show()

# %% [markdown]
# ## Exercises
#
# In the notebooks in `notebooks/`, each answer cell below holds a stub -- `raise NotImplementedError(...)`,
# or `...` where a value goes. Replace it with your answer and run the check cell under it: the checker
# prints ✓, or raises an error that says which input failed, what it expected and what it got; until you
# answer, it prints ○ *not attempted yet*, so the notebook still runs top to bottom. The worked answers are
# in `notebooks/solutions/`: the same notebooks, answers filled in (try first!).
#
# ### Exercise 1 — your own op
#
# Write `Softsign`, $\text{softsign}(x) = \dfrac{x}{1 + |x|}$, as a `Function` subclass.
# Work out its derivative first (quotient rule; $\frac{d}{dx}|x| = \operatorname{sign}(x)$).

# %%
# Your answer — replace the stub with your code, then run the check cell below
class Softsign(Function):
    def forward(self, x):
        """Return softsign(x) for the array x; keep on self what backward needs."""
        # BEGIN SOLUTION
        xp = array_module(x)
        self.denominator = 1 + xp.abs(x)
        return x / self.denominator
        # END SOLUTION

    def backward(self, g):
        """Return g times the derivative of softsign at the x of forward."""
        # BEGIN SOLUTION
        return g / self.denominator**2
        # END SOLUTION

# %%
from tinygrad_mb.exercises import check_softsign_op

check_softsign_op(Softsign)

# %% [markdown]
# ### Exercise 2 — a property test with teeth
#
# Write `make_test(op)`: it gets a function `op(x: Tensor) -> Tensor` and returns a hypothesis test
# (decorated with `@given`) that checks `op`'s gradient. The checker runs your test on a correct
# softsign -- it must pass -- and on three versions with planted bugs in different places -- it must
# fail on each.

# %%
# Your answer — replace the stub with your code, then run the check cell below
def make_test(op):
    """Return a hypothesis test (a function decorated with @given) that checks op's gradient."""
    # BEGIN SOLUTION
    @settings(max_examples=30, deadline=None, database=None, derandomize=True)
    @given(tensors(shapes(max_dims=2)))
    def test_gradient(x):
        assert gradcheck(op, x)

    return test_gradient
    # END SOLUTION

# %%
from tinygrad_mb.exercises import check_property_test

check_property_test(make_test)

# %% [markdown]
# ### Exercise 3 — fix the planted bug
#
# Write `FixedLogCosh`: the same stable forward as `LogCosh` above, with a correct backward.

# %%
# Your answer — replace the stub with your code, then run the check cell below
class FixedLogCosh(LogCosh):
    def backward(self, g):
        """Return g times the derivative of log(cosh(x)), right for every sign of x."""
        # BEGIN SOLUTION
        return g * array_module(self.x).tanh(self.x)
        # END SOLUTION

# %%
from tinygrad_mb.exercises import check_fixed_logcosh

check_fixed_logcosh(FixedLogCosh)
