"""The NumPy/CuPy switch: the only module in tinygrad_mb that imports CuPy.

Every op works on raw arrays through the *array module* of its inputs
(``xp = array_module(x)``), which is either ``numpy`` or ``cupy``: the two share
one API, so the same code runs on the CPU and on an NVIDIA GPU. Only code that
*creates* arrays from nothing (factories, initialisers, loaders) has to ask
which backend is current; everything else follows its inputs.

The current backend is ``"numpy"`` unless the environment variable
``TINYGRAD_MB_BACKEND`` says otherwise, :func:`set_backend` changes it, or a
``with use_backend("cupy"):`` block is active.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np

from tinygrad_mb.errors import ArgumentTypeError, BackendError, BackendUnavailableError, HyperparameterError

NUMPY = "numpy"
CUPY = "cupy"
BACKENDS = (NUMPY, CUPY)
ENV_VAR = "TINYGRAD_MB_BACKEND"

_INSTALL_HINT = (
    "Install the GPU extra that matches your CUDA version, e.g. "
    "`pip install '.[cuda12]'` (CUDA 12) or `pip install '.[cuda13]'` (CUDA 13) in the "
    "tinygrad_mb checkout, on a machine with an NVIDIA GPU and driver; CuPy also needs the "
    "CUDA Toolkit of that version, or install it from PyPI with CuPy's [ctk] extra, e.g. "
    "`pip install 'cupy-cuda12x[ctk]'`. Or stay on the CPU with set_backend('numpy')."
)

_cupy: ModuleType | None = None  # the cupy module once imported successfully
_cupy_problem: str | None = None  # why CuPy is not usable, once we know


def _load_cupy() -> ModuleType | None:
    """Import CuPy once and check that a GPU answers; remember why not."""
    global _cupy, _cupy_problem
    if _cupy is not None or _cupy_problem is not None:
        return _cupy
    try:
        import cupy  # noqa: PLC0415  (deliberately lazy: CuPy is optional)
    except Exception as exc:  # ImportError, or a broken CUDA install
        _cupy_problem = f"CuPy could not be imported ({type(exc).__name__}: {exc})"
        return None
    try:
        usable = bool(cupy.is_available())
        if usable:
            # is_available() only asks the driver for a GPU. The CUDA libraries CuPy needs besides
            # (NVRTC compiles the elementwise kernels, cuBLAS the products) may still be missing, e.g.
            # a CuPy wheel without a CUDA Toolkit: use both once, here, rather than fail in the first op.
            a = cupy.arange(4, dtype=cupy.float32).reshape(2, 2)
            float((a @ a + 1).sum())
    except Exception as exc:  # driver errors surface here, and missing libraries in the trial above
        usable, _cupy_problem = False, f"CuPy found no usable GPU or CUDA libraries ({type(exc).__name__}: {exc})"
    if not usable:
        _cupy_problem = _cupy_problem or "CuPy is installed but no usable CUDA GPU was found"
        return None
    _cupy = cupy
    return cupy


def cupy_available() -> bool:
    """True when CuPy imports and at least one CUDA GPU is usable."""
    return _load_cupy() is not None


def cupy_unavailable_reason() -> str:
    """Why the CuPy backend cannot be used here (empty string when it can)."""
    return "" if cupy_available() else str(_cupy_problem)


#: PyTorch's device names, and the backend that plays their part here.
TORCH_DEVICES = {"cpu": NUMPY, "cuda": CUPY, "gpu": CUPY}


def check_name(name: str) -> str:
    """Return the normalised backend name, or raise BackendError listing the valid ones."""
    if not isinstance(name, str) or name.lower() not in BACKENDS:
        device = str(name).split(":")[0].lower()  # "cuda:0", or a torch.device, which prints like that
        if device in TORCH_DEVICES:
            raise BackendError(f"unknown backend {name!r}: {device!r} is a PyTorch device; the backends here are "
                               f"'numpy' (CPU) and 'cupy' (NVIDIA GPU): use {TORCH_DEVICES[device]!r}")
        raise BackendError(f"unknown backend {name!r}; valid backends are {list(BACKENDS)}")
    return name.lower()


def require_cupy() -> ModuleType:
    """Return the cupy module or raise one clear error saying how to get it."""
    cupy = _load_cupy()
    if cupy is None:
        raise BackendUnavailableError(f"the 'cupy' backend is not usable: {_cupy_problem}. {_INSTALL_HINT}")
    return cupy


def get_array_module(name: str) -> ModuleType:
    """The array module (``numpy`` or ``cupy``) of the backend called ``name``."""
    return np if check_name(name) == NUMPY else require_cupy()


# --- the current default backend ---------------------------------------------
def _backend_from_env() -> str:
    value = os.environ.get(ENV_VAR, NUMPY).strip().lower() or NUMPY
    if value not in BACKENDS:
        device = value.split(":")[0]
        fix = f"; set {ENV_VAR}={TORCH_DEVICES[device]} ({device!r} is a PyTorch device)" \
            if device in TORCH_DEVICES else ""
        raise BackendError(f"{ENV_VAR}={value!r} is not a backend; valid values are {list(BACKENDS)}{fix}")
    return value


# Read from the environment on first use, not at import: a bad value then fails where a
# backend is needed, with its message, instead of making ``import tinygrad_mb`` (or
# ``tinygrad-mb --help``) fail.
_current: str | None = None
# What ``use_backend`` chose, for this thread (or asyncio task) only: a block in one
# thread must not move the tensors another thread creates meanwhile.
_chosen_here: contextvars.ContextVar[str | None] = contextvars.ContextVar("tinygrad_mb_backend", default=None)


def get_backend() -> str:
    """Name of the backend new tensors are created on: ``"numpy"`` or ``"cupy"``.

    Inside ``use_backend(...)`` that block's choice, else the process-wide default.

    Raises:
        BackendError: ``$TINYGRAD_MB_BACKEND`` names no backend (only until one is set).
    """
    chosen = _chosen_here.get()
    if chosen is not None:
        return chosen
    global _current
    if _current is None:
        _current = _backend_from_env()
    return _current


def set_backend(name: str) -> None:
    """Make ``name`` the default backend for tensors created from now on.

    Raises:
        BackendError: ``name`` is not ``"numpy"`` or ``"cupy"``.
        BackendUnavailableError: CuPy or a GPU is missing (says how to install).
    """
    global _current
    name = check_name(name)
    if name == CUPY:
        require_cupy()
    _current = name


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[str]:
    """Context manager: ``with use_backend("cupy"): ...`` then back to the previous one.

    The choice holds in this thread (and asyncio task) only, like ``no_grad``;
    other threads keep creating tensors on their own backend meanwhile.
    """
    name = check_name(name)
    if name == CUPY:
        require_cupy()
    token = _chosen_here.set(name)
    try:
        yield name
    finally:
        _chosen_here.reset(token)


# --- which backend does an array live on? --------------------------------------
def _is_cupy_array(array: Any) -> bool:
    """True for a CuPy array, even one made before tinygrad_mb needed CuPy (then CuPy is loaded here)."""
    if type(array) is np.ndarray:  # the common case, answered without looking further
        return False
    # The user may have imported CuPy and made this array before anything here loaded CuPy;
    # an array of a class defined in a cupy module is the sign to load it now.
    if _cupy is None and not (type(array).__module__.startswith("cupy") and _load_cupy() is not None):
        return False
    return isinstance(array, _cupy.ndarray)


def backend_of(array: Any) -> str:
    """``"cupy"`` for a CuPy array, ``"numpy"`` for anything else (NumPy arrays, scalars)."""
    if type(array) is np.ndarray:  # every op asks: answer the common case without a further call
        return NUMPY
    return CUPY if _is_cupy_array(array) else NUMPY


def array_module(array: Any) -> ModuleType:
    """The module (``numpy`` or ``cupy``) whose functions work on ``array``."""
    if type(array) is np.ndarray:  # every op asks: answer the common case without a further call
        return np
    return _cupy if _is_cupy_array(array) else np


# Copies between host and GPU that went through this module, so tests can check
# that training does not copy per batch (see ``count_transfers``).
_transfers = {"host_to_device": 0, "device_to_host": 0}


def to_backend(array: Any, name: str) -> Any:
    """Return ``array`` on backend ``name`` (no copy when it is already there)."""
    name = check_name(name)
    if name == NUMPY:
        return to_numpy(array)
    cupy = require_cupy()
    if not isinstance(array, cupy.ndarray):
        _transfers["host_to_device"] += 1
    return cupy.asarray(array)


def data_address(array: Any) -> int:
    """Where the first element of a NumPy or CuPy array lies in memory (two views alike in shape,
    strides and address are the same memory, element for element)."""
    if type(array) is np.ndarray:
        return array.__array_interface__["data"][0]
    return array.data.ptr


def to_numpy(array: Any) -> np.ndarray:
    """Return ``array`` as a NumPy array, copying from the GPU when needed."""
    if _is_cupy_array(array):
        _transfers["device_to_host"] += 1
        return _cupy.asnumpy(array)
    return np.asarray(array)


def read_only_view(array: Any) -> Any:
    """A read-only view of a NumPy array, so that an in-place edit raises instead of changing ``array``.

    ``array`` itself stays writable. CuPy arrays have no read-only flag: they come back as they are.
    """
    if not isinstance(array, np.ndarray):
        return array
    view = array.view()
    view.flags.writeable = False
    return view


@contextlib.contextmanager
def count_transfers() -> Iterator[dict[str, int]]:
    """Count host<->GPU copies made through this module inside the block.

    Yields a dict whose ``host_to_device`` and ``device_to_host`` entries are
    filled in when the block ends. Copies are always zero on NumPy.
    """
    start = dict(_transfers)
    counts = dict.fromkeys(_transfers, 0)
    try:
        yield counts
    finally:
        for key in counts:
            counts[key] = _transfers[key] - start[key]


# --- checks that would stall the GPU ------------------------------------------------
# Some input checks read a value back from the array (are all labels in range?).
# On NumPy that is free; on a GPU it waits for all queued work, once per call.
# A training loop validates its data once, then turns such checks off.
_sync_checks: contextvars.ContextVar[bool] = contextvars.ContextVar("tinygrad_mb_sync_checks", default=True)


def sync_checks_enabled(array: Any) -> bool:
    """Whether a check that reads ``array`` back to the host should run now."""
    return _sync_checks.get() or backend_of(array) == NUMPY


@contextlib.contextmanager
def skip_sync_checks() -> Iterator[None]:
    """Inside the block, checks that would read GPU arrays back to the host are skipped (this thread only)."""
    token = _sync_checks.set(False)
    try:
        yield
    finally:
        _sync_checks.reset(token)


def as_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A NumPy ``Generator`` from a seed (an int >= 0), a Generator (returned as is) or None (fresh entropy).

    All randomness in tinygrad_mb goes through such generators on the CPU, so
    nothing touches NumPy's global random state and a seed gives the same
    numbers on every backend.

    Raises:
        TypeError: ``seed`` is a bool, a float, a string, ...
        ValueError: ``seed`` is a negative int.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    expected = "seed must be an int >= 0, a numpy.random.Generator or None"
    # bool is an int to Python, but seed=True is a mistake (shuffle=True meant?), not seed 1.
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ArgumentTypeError(f"{expected}, got {seed!r} of type {type(seed).__name__}")
    if seed < 0:  # NumPy's own message ("expected non-negative integer") does not say which argument
        raise HyperparameterError(f"{expected}, got {seed}")
    return np.random.default_rng(seed)


def synchronize(array: Any = None) -> None:
    """Wait for queued GPU work to finish (no-op on NumPy); use before stopping a clock."""
    if _cupy is not None:
        _cupy.cuda.get_current_stream().synchronize()


def scatter_add(target: Any, index: Any, values: Any) -> None:
    """``target[index] += values`` where repeated indices *accumulate* (in place).

    Plain ``target[index] += values`` would count a repeated index once; the
    backward of indexing needs every use counted: ``add.at``, in NumPy and in
    CuPy alike (CuPy 12 deprecated its older ``cupyx.scatter_add`` for it).
    """
    array_module(target).add.at(target, index, values)


# --- BLAS threads -----------------------------------------------------------------
# A matrix product of a small batch is over in microseconds; waking a second
# BLAS thread for it costs more than it saves (on a 2-core machine a batch of 32
# ran twice as fast on one thread). Large batches do gain from every core.
SMALL_BATCH = 512  # below this many rows per step, one BLAS thread is faster
THREADS_ENV_VAR = "TINYGRAD_MB_BLAS_THREADS"


def recommended_blas_threads(batch_size: int) -> int | None:
    """BLAS threads for a training step on ``batch_size`` rows: 1 for small batches, else all (None).

    ``TINYGRAD_MB_BLAS_THREADS`` overrides the choice: an integer fixes the
    count, ``auto`` (the default) applies the rule above.
    """
    setting = os.environ.get(THREADS_ENV_VAR, "auto").strip().lower()
    if setting not in ("", "auto"):
        try:
            threads = int(setting)
        except ValueError:
            threads = 0
        if threads < 1:
            raise BackendError(f"{THREADS_ENV_VAR}={setting!r}: use 'auto' or a positive integer")
        return threads
    return 1 if batch_size < SMALL_BATCH else None


@contextlib.contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """Limit NumPy's BLAS to ``n`` threads inside the block (``None``: leave it alone).

    A thin wrapper over threadpoolctl, so a training loop can pick the thread
    count once per run instead of paying for it on every op. No effect on CuPy.
    """
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits  # noqa: PLC0415  (import cost only when used)

    with threadpool_limits(limits=n, user_api="blas"):
        yield


# --- reusing freed memory -----------------------------------------------------------
# Every training step allocates the same large activations again (at batch 8192 a
# 8192x128 float32 array is 4 MiB). glibc's malloc hands such blocks back to the
# operating system when they are freed, so the next step's allocation faults every
# 4 KiB page back in, zero-filled by the kernel: about 15% of a batch-8192 step on
# the CPU. Keeping freed blocks for reuse (as PyTorch's and CuPy's caching
# allocators do) makes the next step find warm memory. The price: the process keeps
# up to REUSE_TRIM_BYTES of freed memory instead of returning it at once.
REUSE_ENV_VAR = "TINYGRAD_MB_REUSE_MEMORY"
REUSE_MMAP_BYTES = 32 * 2**20  # blocks up to this size come from the reusable heap (glibc's maximum)
REUSE_TRIM_BYTES = 256 * 2**20  # free memory at the heap's top kept for reuse, at most
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameter numbers from glibc's <malloc.h>


def reuse_freed_memory() -> bool:
    """Ask the C allocator to keep freed large blocks for reuse; True if it took effect.

    Done once when tinygrad_mb is imported, unless ``TINYGRAD_MB_REUSE_MEMORY=0``.
    Only glibc (Linux) has the ``mallopt`` setting; elsewhere this returns
    False and changes nothing. It affects the whole process, NumPy code outside
    tinygrad_mb included, and only ever makes freed memory stay longer.
    """
    import ctypes  # noqa: PLC0415  (only here: nothing else needs it)

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # no C library to ask (Windows) or no mallopt (macOS)
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, REUSE_MMAP_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, REUSE_TRIM_BYTES))


if os.environ.get(REUSE_ENV_VAR, "1").strip().lower() not in ("0", "false", "no", "off"):
    reuse_freed_memory()
