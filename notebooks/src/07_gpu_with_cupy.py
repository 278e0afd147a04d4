# Source of 07_gpu_with_cupy.ipynb: edit here, then run `python notebooks/_build.py`.
# ruff: noqa: E402
# %% [markdown]
# # 07 · The GPU with CuPy
#
# Everything so far ran on NumPy, on the CPU. [CuPy](https://cupy.dev) offers the same array API on an
# NVIDIA GPU, and `tinygrad_mb` can use either: its ops never call NumPy or CuPy by name, they ask
# each input array which module it belongs to (`array_module(x)`) and call that. This notebook:
#
# 1. checks whether a GPU is usable here, and switches the backend;
# 2. explains how to time GPU code correctly (it runs *asynchronously*);
# 3. times one training step against the batch size on the CPU and, where there is one, on the GPU.
#
# **No GPU? Every cell still runs.** The GPU parts then print that they were skipped, and why; the CPU
# measurements and the exercises work everywhere.

# %%
# %matplotlib inline
import statistics
import time

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker

import tinygrad_mb as tg
from tinygrad_mb import Tensor, backend, gd, nn, optim
from tinygrad_mb.nn import functional as F

GPU = backend.cupy_available()
if GPU:
    import cupy

    print("GPU available:", cupy.cuda.runtime.getDeviceProperties(0)["name"].decode())
else:
    print("No usable GPU here -- the GPU parts of this notebook will be SKIPPED.")
    print("Reason:", backend.cupy_unavailable_reason())

# %% [markdown]
# ## 1. Switching the backend
#
# A tensor lives on one backend, `"numpy"` or `"cupy"`. New tensors go to the *current* backend
# (`tg.get_backend()`), which `tg.set_backend(...)`, a `with tg.use_backend(...):` block or the environment
# variable `TINYGRAD_MB_BACKEND` choose. Existing tensors and whole models move with `.to(...)`.

# %%
x = Tensor([1.0, 2.0, 3.0])
print("current backend:", tg.get_backend(), "| x lives on:", x.backend, "| its array module:", x.xp.__name__)

if GPU:
    x_gpu = x.to("cupy")  # a copy on the GPU
    print("x_gpu lives on:", x_gpu.backend, type(x_gpu.data))
    with tg.use_backend("cupy"):
        y = tg.randn(2, 3, seed=0)  # drawn on the CPU, then moved: identical on both backends
    print("randn on cupy equals randn on numpy:", np.allclose(y.numpy(), tg.randn(2, 3, seed=0).numpy()))
else:
    print("GPU part skipped. Asking for CuPy anyway gives one clear error:")
    try:
        x.to("cupy")
    except tg.BackendUnavailableError as err:
        print("  BackendUnavailableError:", err)

# %% [markdown]
# Mixing backends in one operation is an error too (a GPU array cannot be added to a CPU array without an
# explicit copy): move the model *and* the data to the same backend. `gd.train(..., backend="cupy")` and
# `gd.compare(..., backend="cupy")` do that for you; they move the data set to the GPU once and cut the
# batches there, so no batch is copied from the CPU during training.

# %%
if GPU:
    digits = gd.make_problem("digits")
    results = {}
    for name in ("numpy", "cupy"):
        h = gd.train(digits.model_fn(0), digits.loss_fn, digits.train, gd.MiniBatch(32, 0.1), epochs=2,
                     backend=name)
        results[name] = h.final_loss
        print(f"{name:5s}: final training loss {h.final_loss:.6f}  ({h.wall_time:.2f} s of training)")
    print("same start, same batches: the two agree to float32 rounding:",
          abs(results["numpy"] - results["cupy"]) < 1e-3)
else:
    print("GPU part skipped: no usable GPU, so there is no CuPy run to compare with.")

# %% [markdown]
# ## 2. Timing GPU code
#
# A CuPy operation does not wait for the GPU: it *queues* the work (a kernel launch) and returns at once,
# so Python can queue the next one while the GPU computes. A clock read right after `loss.backward()` would
# measure only the queueing. Correct timing therefore:
#
# 1. **warms up**: the first calls are slow (CuPy compiles its kernels, the memory pool grows) and are not
#    what a long training run sees;
# 2. **synchronises** -- waits for the queued work, `backend.synchronize()` -- before reading the clock;
# 3. repeats and takes the **median**, which one slow outlier (another process, the OS) does not move.
#
# On NumPy `backend.synchronize()` does nothing, so the same timer works for both.

# %%
def time_it(step, sync, repeats=5, warmup=1):
    """Median seconds of one call of step(), after warm-up, synchronising before every clock reading."""
    for _ in range(warmup):
        step()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)

# %% [markdown]
# ## 3. One training step against the batch size
#
# The step: forward pass of an MLP 256 → 128 → 10, cross-entropy, backward pass, SGD update -- on a batch
# of random data of size $B$. The model and the batch are created on the CPU and moved to the backend
# being timed.
#
# On the CPU, the matrix products run in NumPy's BLAS library, which splits a product across all cores
# unless told otherwise. For a small batch the split can cost more than it saves: the other threads must be
# woken and waited for, for a product that takes microseconds. So the CPU is timed with the thread count
# that `gd.train` uses, `backend.recommended_blas_threads(B)`: one thread below 512 samples, all cores from
# there on (where the split starts to pay depends on the machine and on how busy it is; the environment
# variable `TINYGRAD_MB_BLAS_THREADS` overrides the choice). Use the same `with` block around a training
# loop of your own.

# %%
def training_step(backend_name, batch_size, seed=0):
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Linear(256, 128, seed=rng), nn.ReLU(), nn.Linear(128, 10, seed=rng)).to(backend_name)
    xb = Tensor(rng.standard_normal((batch_size, 256)).astype(np.float32)).to(backend_name)
    yb = Tensor(rng.integers(0, 10, batch_size)).to(backend_name)
    opt = optim.SGD(model.parameters(), lr=0.01)

    def step():
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


batch_sizes = [1, 4, 16, 64, 256, 1024, 4096]
timings = {"numpy": []}
for b in batch_sizes:
    with backend.blas_threads(backend.recommended_blas_threads(b)):  # as gd.train does (no effect on CuPy)
        timings["numpy"].append(time_it(training_step("numpy", b), backend.synchronize, repeats=7))
if GPU:
    timings["cupy"] = [time_it(training_step("cupy", b), backend.synchronize, repeats=7, warmup=3)
                       for b in batch_sizes]
else:
    print("GPU part skipped: timing the CPU (NumPy) only.")

print(f"{'B':>6}" + "".join(f"{name + ' [ms/step]':>18}" for name in timings))
for i, b in enumerate(batch_sizes):
    print(f"{b:>6}" + "".join(f"{timings[name][i] * 1e3:>18.3f}" for name in timings))

# %%
# Tick labels as plain numbers (1, 10, 0.5), where a log axis would write 10^0, 10^1, 5x10^-1.
plain_numbers = ticker.FuncFormatter(lambda value, _position: f"{value:g}")
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12.5, 4.5))
style = {"numpy": dict(color="#1f77b4", marker="o", label="CPU (NumPy)"),
         "cupy": dict(color="#2ca02c", marker="s", label="GPU (CuPy)")}
for name, seconds in timings.items():
    seconds = np.array(seconds)
    ax1.loglog(batch_sizes, seconds * 1e3, **style[name])
    ax2.loglog(batch_sizes, np.array(batch_sizes) / seconds, **style[name])
ax1.set(xlabel="batch size B (log scale)", ylabel="milliseconds per training step (log scale)",
        title="Cost of one update")
ax2.set(xlabel="batch size B (log scale)", ylabel="samples per second (log scale)",
        title="Throughput")
for ax in (ax1, ax2):
    ax.legend()
    ax.grid(True, which="major", alpha=0.3)
    ax.xaxis.set_major_formatter(plain_numbers)
# Milliseconds labelled at 0.2, 0.5, 1, 2, 5, ...: the range is too short for powers of ten alone.
ax1.yaxis.set_major_formatter(plain_numbers)
ax1.yaxis.set_minor_locator(ticker.LogLocator(subs=(2, 5)))
ax1.yaxis.set_minor_formatter(plain_numbers)
note = "" if GPU else "  (GPU part skipped: no usable GPU here)"
fig.suptitle("One training step of an MLP 256-128-10 against the batch size" + note)
fig.tight_layout()
plt.show()

# %% [markdown]
# **What to notice.** On the CPU, small batches cost almost the same per step -- the time goes into Python
# and per-operation overhead, not arithmetic -- so throughput (right) grows nearly in proportion to $B$.
# From a few hundred samples on, the arithmetic dominates: time grows like $B$ and throughput levels off
# (or drops, once the arrays no longer fit in the CPU's caches). Timings on a shared or busy machine are
# noisy, most of all from 512 samples on, where BLAS splits each product across every core and waits for the
# slowest: if one point looks odd, rerun the cell.
#
# On a real GPU (if one was found above), the overhead per step is typically larger still -- every operation
# is a kernel launch -- so the GPU tends to lose at small batches. But its thousands of cores keep the time
# per step almost flat over a wide range of $B$, so at large batches it usually wins. From which $B$ on, and
# by how much, depends on the GPU, the CPU and the model: Exercise 2 reads it off your table. This is the
# hardware side of notebook 03: the GPU makes **time per update** nearly independent of the batch size up to
# a point, which moves the best batch size up -- until the critical batch size of notebook 05 says more
# samples per step no longer save steps.
#
# ## Exercises
#
# In the notebooks in `notebooks/`, each answer cell below holds a stub -- `raise NotImplementedError(...)`,
# or `...` where a value goes. Replace it with your answer and run the check cell under it: the checker
# prints ✓, or raises an error that says which input failed, what it expected and what it got; until you
# answer, it prints ○ *not attempted yet*, so the notebook still runs top to bottom. The worked answers are
# in `notebooks/solutions/`: the same notebooks, answers filled in (try first!).
#
# ### Exercise 1 — a correct timer
#
# Write `my_time_it(step, sync, repeats=5, warmup=1)` without looking at `time_it` above: the median time of
# one `step()` in seconds (over `repeats` timed calls), after `warmup` untimed calls, calling `sync()` before
# every clock reading: after the warm-up calls, before the clock starts, and after each timed `step()`, before
# the clock stops. The checker runs it on a *simulated* asynchronous device (so it works without a GPU): its
# `step()` returns immediately and `sync()` waits for the queued work, like CuPy; its timed calls take
# different times, one of them very long, so only the median gives the number it expects.

# %%
# Your answer — replace the stub with your code, then run the check cell below
def my_time_it(step, sync, repeats=5, warmup=1):
    """Return the median time of one step() in seconds (see above)."""
    # BEGIN SOLUTION
    for _ in range(warmup):
        step()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    return float(np.median(times))
    # END SOLUTION

# %%
from tinygrad_mb.exercises import check_timer

check_timer(my_time_it)

# %% [markdown]
# ### Exercise 2 — where the GPU starts to pay off
#
# Write `crossover(batch_sizes, cpu_seconds, gpu_seconds)`: `batch_sizes` is increasing, and the two lists
# hold the seconds per step at each batch size. Return the smallest batch size from which on the GPU is
# faster -- for that batch size *and every larger one* -- or `None` if it is not faster at the largest.
# Faster means strictly less time: a tie does not count.

# %%
# Your answer — replace the stub with your code, then run the check cell below
def crossover(batch_sizes, cpu_seconds, gpu_seconds):
    """Return the smallest batch size from which on the GPU is faster, or None."""
    # BEGIN SOLUTION
    answer = None
    for b, cpu, gpu in reversed(list(zip(batch_sizes, cpu_seconds, gpu_seconds))):
        if gpu >= cpu:
            break
        answer = b
    return answer
    # END SOLUTION

# %%
from tinygrad_mb.exercises import check_crossover

check_crossover(crossover)
if not GPU:
    print("GPU part skipped: no GPU timings to find the crossover of on this machine.")
else:
    try:
        b_gpu = crossover(batch_sizes, timings["numpy"], timings["cupy"])
        if b_gpu is None:
            print(f"on this machine the GPU is not faster at the largest batch size timed, B = {batch_sizes[-1]}")
        else:
            print("on this machine the GPU is faster from B =", b_gpu, "on")
    except NotImplementedError:  # still the stub
        print("(write crossover above to find where the GPU starts to pay off on this machine)")
