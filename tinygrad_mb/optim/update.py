"""The in-place update ``p += alpha * d``, in one sweep of memory where the BLAS allows it.

Every optimizer ends its step with some ``p = p - lr * d``, and Adam's running
averages are updated the same way (``m += (1 - beta1) * g``). Written in NumPy,
``p -= lr * d`` is two loops over memory: one writes the temporary ``lr * d``,
the next reads it back and subtracts. For a 784x128 float32 weight (392 KiB)
the arithmetic is trivial and the time is all memory traffic, so the second
sweep about doubles the cost against a plain ``p -= d`` (figures below), paid
after every sample in stochastic gradient descent.

BLAS has had a one-sweep routine for this since 1979, ``axpy``
(y <- a*x + y), and NumPy already carries a BLAS library; NumPy just does not
expose axpy. :func:`add_scaled_` calls it through ``ctypes`` when it can
(NumPy's OpenBLAS, float32/float64 arrays with the same memory layout) and
falls back to the two-sweep NumPy expression otherwise, so the result is the
same either way (up to float rounding: axpy may use a fused multiply-add).
Measured by ``python -m benchmarks.gap`` on one thread (the table is in the
benchmarks page of the docs), this function takes about two thirds of the
time of ``p -= lr * d`` and about 1.5 times that of a plain ``p -= d``
(e.g. 14.9, 22.8 and 10.2 us in one run). The BLAS call alone is as fast as
``p -= d`` in a tight loop; the checks, the address lookups and the ``ctypes``
call below add about 4 us.

``tinygrad_mb.optim.update.BLAS_AXPY = False`` switches the BLAS path off,
for comparing the two.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

BLAS_AXPY = True  # use BLAS axpy for large float arrays; set False to compare with plain NumPy
MIN_SIZE = 16384  # below this many elements the ctypes call costs more than the sweep it saves

_UNSET = object()
_axpy: Any = _UNSET  # {dtype: C function} once looked up, None if this NumPy's BLAS offers none


def add_scaled_(target: Any, alpha: float, x: Any) -> None:
    """``target += alpha * x`` in place (NumPy or CuPy arrays of ``target``'s shape).

    SGD's step is ``add_scaled_(p, -lr, d)``, as PyTorch's ``p.add_(d, alpha=-lr)``.

    One pass through memory with BLAS axpy for large contiguous float NumPy
    arrays of one dtype and layout; the plain NumPy expression otherwise (also
    for ``alpha == 0``, where BLAS skips the work but NumPy turns ``0 * inf``
    into NaN: both paths must give the same answer).
    """
    if (target.size >= MIN_SIZE and BLAS_AXPY and alpha and type(target) is np.ndarray and type(x) is np.ndarray
            and x.dtype is target.dtype and x.shape == target.shape):
        # Each ``.flags`` builds a new object: read them once.
        target_flags, x_flags = target.flags, x.flags
        if (target_flags.writeable
                and ((target_flags.c_contiguous and x_flags.c_contiguous)
                     or (target_flags.f_contiguous and x_flags.f_contiguous))
                and (x is target or not np.may_share_memory(x, target))):
            routines = _axpy if _axpy is not _UNSET else _find_axpy()
            routine = routines.get(target.dtype) if routines else None
            if routine is not None:
                # y <- a*x + y; both arrays walked as one flat vector (stride 1).
                routine(target.size, float(alpha), _address(x, x_flags), 1, _address(target, target_flags), 1)
                return
    target += alpha * x


def _address(a: np.ndarray, flags: Any) -> int:
    """Where the data of a contiguous array starts in memory, for passing it to C.

    ``a.ctypes.data`` gives the same number but builds a helper object in
    Python on every call, which cost more (1-3 us) than the rest of the update's
    bookkeeping; borrowing the array's buffer with ctypes is several times cheaper. That
    needs a writable buffer in C order; the transpose of a column-major array is
    one, and it starts at the same address.
    """
    if not flags.writeable:  # a read-only gradient (rare): the slow way works for any array
        return a.ctypes.data
    return ctypes.addressof(ctypes.c_char.from_buffer(a if flags.c_contiguous else a.T))


def _find_axpy() -> dict | None:
    """Look up saxpy/daxpy (once) in an OpenBLAS this process has loaded, checking them on a small case.

    That is NumPy's own unless another library brought an OpenBLAS first: any
    correct axpy will do, and the check below makes sure this one is.
    """
    global _axpy
    _axpy = None
    try:
        routines = _load_openblas_axpy()
    except (ImportError, OSError, AttributeError, ValueError):  # no such library or symbol: stay on NumPy
        return None
    for dtype, routine in routines.items():  # trust, but verify: a wrong binding must never write garbage
        y, x = np.arange(3, dtype=dtype), np.ones(3, dtype=dtype)
        routine(3, 2.0, x.ctypes.data, 1, y.ctypes.data, 1)
        if not np.array_equal(y, [2, 3, 4]):
            return None
    _axpy = routines
    return _axpy


def _load_openblas_axpy() -> dict:
    """{float32: saxpy, float64: daxpy} from NumPy's OpenBLAS, with the integer width it was built with.

    NumPy's wheels rename OpenBLAS's symbols (``scipy_cblas_saxpy64_``) so they
    cannot clash with another copy in the process; ``64_`` marks a build with
    64-bit integers, which ``openblas_get_config`` confirms.
    """
    from threadpoolctl import threadpool_info  # noqa: PLC0415  (also finds the library file for us)

    for info in threadpool_info():
        if info.get("internal_api") != "openblas":
            continue
        lib = ctypes.CDLL(info["filepath"])
        for prefix, suffix in (("scipy_", "64_"), ("scipy_", ""), ("", "64_"), ("", "")):
            if not hasattr(lib, f"{prefix}cblas_saxpy{suffix}"):
                continue
            get_config = getattr(lib, f"{prefix}openblas_get_config{suffix}")
            get_config.restype = ctypes.c_char_p
            index = ctypes.c_int64 if b"USE64BITINT" in get_config() else ctypes.c_int32
            routines = {}
            for dtype, letter, real in ((np.dtype(np.float32), "s", ctypes.c_float),
                                        (np.dtype(np.float64), "d", ctypes.c_double)):
                routine = getattr(lib, f"{prefix}cblas_{letter}axpy{suffix}")
                routine.argtypes = [index, real, ctypes.c_void_p, index, ctypes.c_void_p, index]
                routine.restype = None
                routines[dtype] = routine
            return routines
    raise ValueError("NumPy's BLAS is not OpenBLAS")
