"""A strict CPU stand-in for CuPy: NOT CuPy, a check that code is written against ``xp``.

tinygrad_mb runs on NumPy or CuPy through one code path. Where a GPU is
missing (CI, most machines) that path's CuPy side would go untested; this
package, put first on ``sys.path``, plays ``cupy`` on the CPU and refuses what
CuPy refuses, as its documentation describes
(https://docs.cupy.dev/en/stable/user_guide/difference.html):

* implicit conversion to NumPy (``np.asarray(device_array)``, ``__array__``): TypeError;
* NumPy arrays and lists as operands of ufuncs, routines and operators: TypeError;
* reductions and scalar indexing give 0-d device arrays, never NumPy scalars;
* ``flags`` has only ``c_contiguous``, ``f_contiguous`` and ``owndata``;
* ``where(cond, x, y)`` calls ``cond.astype`` (a Python bool condition fails);
* NumPy functions on device arrays dispatch here (``__array_ufunc__``, ``__array_function__``);
* ``ndarray.scatter_add`` warns that it is deprecated (CuPy >= 12);
* no ``__index__`` (a 0-d array is not a Python int: ``range(a)``, ``lst[a]`` fail;
  left out on purpose, as it would copy to the host: https://github.com/cupy/cupy/issues/5784);
* ``a[basic_index] = value`` with a non-scalar NumPy array or a list as the value fails (CuPy
  fills the view with a scalar there: ``ndarray.fill`` raises ValueError for a non-scalar
  ``numpy.ndarray``); with an integer or boolean array index it is copied to the device;
* NumPy-only methods CuPy does not implement (``byteswap``, ``itemset``, ``resize``, ...) are missing;
* ``clip`` with neither bound raises ValueError (NumPy >= 2.1 returns a copy).

The data live in NumPy arrays inside; speed, memory, streams and numerical
details of the real GPU are not modelled. tests/test_cupy_standin.py runs the
GPU tests against it; the real check is `.ci/gpu` on a machine with a GPU.
"""

from __future__ import annotations

import sys
import types
import warnings

import numpy as _np


class _Flags:
    def __init__(self, c: bool, f: bool, own: bool) -> None:
        self.c_contiguous, self.f_contiguous, self.owndata = c, f, own

    @property
    def fnc(self):
        return self.f_contiguous and not self.c_contiguous

    @property
    def forc(self):
        return self.f_contiguous or self.c_contiguous

    def __getitem__(self, name):
        return {"C_CONTIGUOUS": self.c_contiguous, "F_CONTIGUOUS": self.f_contiguous,
                "OWNDATA": self.owndata}[name]


def _reject(obj, where):
    raise TypeError(f"Unsupported type {type(obj)} ({where}); CuPy refuses NumPy arrays/lists here")


def _unwrap(x, where="routine", strict=True):
    """Device arrays -> their numpy payload; refuse raw numpy arrays and lists when strict."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, _np.ndarray):
        if strict:
            _reject(x, where)
        return x
    if isinstance(x, (list, tuple)):
        if strict and isinstance(x, list) and where.startswith("ufunc"):
            _reject(x, where)
        return type(x)(_unwrap(v, where, strict) for v in x)
    return x


def _wrap(x):
    if isinstance(x, _np.ndarray):
        return ndarray._from(x)
    if isinstance(x, _np.generic):
        return ndarray._from(_np.asarray(x))
    if isinstance(x, tuple):
        return tuple(_wrap(v) for v in x)
    if isinstance(x, list):
        return [_wrap(v) for v in x]
    return x


def _convert_index(idx):
    """Index arrays as NumPy sees them (CuPy copies list and NumPy indices to the device itself)."""
    parts = idx if isinstance(idx, tuple) else (idx,)
    out = []
    for p in parts:
        if isinstance(p, ndarray):
            out.append(p._a)
        elif isinstance(p, (list, _np.ndarray)):
            a = _np.asarray(p)
            out.append(a)
        else:
            out.append(p)
    return tuple(out) if isinstance(idx, tuple) else out[0]


def _has_array_index(idx):
    """Whether ``idx`` holds an index array (advanced indexing), not only ints, slices, None and ``...``."""
    parts = idx if isinstance(idx, tuple) else (idx,)
    return any(isinstance(p, (ndarray, _np.ndarray, list)) for p in parts)


# numpy.ndarray methods that cupy.ndarray does not have ("TODO(okuta): Implement ..." in cupy/_core/core.pyx).
_NUMPY_ONLY_METHODS = frozenset({"byteswap", "newbyteorder", "itemset", "setflags", "resize", "getfield",
                                 "setfield", "tostring"})

_NOT_AN_OPERAND = object()


def _operand(other, name):
    """The NumPy payload of a device array or a Python/NumPy scalar; NumPy arrays are refused."""
    if isinstance(other, ndarray):
        return other._a
    if isinstance(other, (int, float, bool, complex, _np.generic)):
        return other
    if isinstance(other, _np.ndarray):
        _reject(other, f"operator {name}")
    return _NOT_AN_OPERAND


def _binop(name):
    def op(self, other):
        o = _operand(other, name)
        return NotImplemented if o is _NOT_AN_OPERAND else _wrap(getattr(self._a, name)(o))
    op.__name__ = name
    return op


def _iop(name):
    def op(self, other):
        o = _operand(other, name)
        if o is _NOT_AN_OPERAND:
            return NotImplemented
        getattr(self._a, name)(o)
        return self
    op.__name__ = name
    return op


class _MemoryPointer:
    def __init__(self, ptr):
        self.ptr = ptr


class ndarray:  # noqa: N801
    __array_priority__ = 100

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        self._a = _np.empty(shape, dtype=dtype, order=order)

    @classmethod
    def _from(cls, a):
        obj = cls.__new__(cls)
        obj._a = a
        return obj

    # ---- the things CuPy refuses or syncs on
    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def get(self, *args, **kwargs):
        return self._a.copy()

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __bool__(self):
        return bool(self._a)

    def __complex__(self):
        return complex(self._a)

    def item(self, *args):
        return self._a.item(*args)

    def tolist(self):
        return self._a.tolist()

    def __repr__(self):
        return "standin_" + repr(self._a)

    __str__ = __repr__

    def __format__(self, spec):
        return format(self._a.item() if self._a.ndim == 0 else self._a, spec)

    # ---- attributes
    shape = property(lambda self: self._a.shape)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    dtype = property(lambda self: self._a.dtype)
    strides = property(lambda self: self._a.strides)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    T = property(lambda self: _wrap(self._a.T))
    base = property(lambda self: None if self._a.base is None else _wrap(self._a.base))

    @property
    def data(self):  # CuPy's MemoryPointer; only its address, .ptr, is read (tinygrad_mb.backend.data_address)
        return _MemoryPointer(self._a.__array_interface__["data"][0])

    @property
    def __cuda_array_interface__(self):
        return {"shape": self._a.shape, "typestr": self._a.dtype.str, "data": (0, False), "version": 3}

    @property
    def flags(self):
        f = self._a.flags
        return _Flags(f.c_contiguous, f.f_contiguous, self._a.base is None)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        for i in range(len(self._a)):
            yield _wrap(self._a[i])

    def __getitem__(self, idx):
        idx = _convert_index(idx)
        result = self._a[idx]
        if isinstance(result, _np.generic):  # one element: CuPy gives a 0-d view of it, NumPy a copied scalar
            result = self._a[(*idx, ...) if isinstance(idx, tuple) else (idx, ...)]
        return _wrap(result)

    def __setitem__(self, idx, value):
        # Without an array in the index, CuPy's __setitem__ copies a device array or fills with a
        # scalar (cupy/_core/_routines_indexing.pyx, _scatter_op -> ndarray.fill), and fill takes
        # no NumPy array with dimensions and no list. With an index array, any array-like is copied over.
        if not _has_array_index(idx):
            if isinstance(value, _np.ndarray) and value.ndim:
                raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
            if isinstance(value, (list, tuple)):
                raise TypeError(f"Unsupported type {type(value)}")
        self._a[_convert_index(idx)] = _unwrap(value, strict=False)

    def __getattr__(self, name):
        if name.startswith("__") or name == "ctypes" or name in _NUMPY_ONLY_METHODS:
            raise AttributeError(f"cupy.ndarray has no attribute {name!r} here")
        attr = getattr(self._a, name)
        if not callable(attr):
            return attr

        def method(*args, **kwargs):
            args = _unwrap(args, f"method {name}", strict=True)
            kwargs = {k: _unwrap(v, f"method {name}", strict=True) for k, v in kwargs.items()}
            return _wrap(getattr(self._a, name)(*args, **kwargs))
        return method

    def clip(self, min=None, max=None, out=None):  # noqa: A002  (NumPy's and CuPy's names)
        return clip(self, min, max, out=out)

    def scatter_add(self, slices, value):
        warnings.warn("`ndarray.scatter_add` is deprecated. Please use `cupy.add.at` instead.", DeprecationWarning,
                      stacklevel=2)
        _np.add.at(self._a, _convert_index(slices), _unwrap(value, strict=False))

    # ---- NumPy protocols
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        for x in inputs:
            if isinstance(x, (_np.ndarray, list)):
                _reject(x, f"np.{ufunc.__name__} on a device array")
        fn = _lookup(ufunc.__name__)
        if method == "__call__" and fn is not None:
            return fn(*inputs, **kwargs)
        if method == "at":
            return _lookup("add").at(*inputs) if ufunc is _np.add else NotImplemented  # cupy.add (made lazily)
        args = _unwrap(inputs, "ufunc", strict=True)
        if "out" in kwargs:
            kwargs["out"] = _unwrap(kwargs["out"], "ufunc", strict=True)
        return _wrap(getattr(ufunc, method)(*args, **kwargs))

    def __array_function__(self, func, types, args, kwargs):
        fn = _lookup(func.__name__)
        if fn is None or func.__name__.startswith("_"):
            return NotImplemented
        return fn(*args, **kwargs)

    # ---- operators
    __add__, __radd__ = _binop("__add__"), _binop("__radd__")
    __sub__, __rsub__ = _binop("__sub__"), _binop("__rsub__")
    __mul__, __rmul__ = _binop("__mul__"), _binop("__rmul__")
    __truediv__, __rtruediv__ = _binop("__truediv__"), _binop("__rtruediv__")
    __floordiv__, __rfloordiv__ = _binop("__floordiv__"), _binop("__rfloordiv__")
    __mod__, __rmod__ = _binop("__mod__"), _binop("__rmod__")
    __pow__, __rpow__ = _binop("__pow__"), _binop("__rpow__")
    __matmul__, __rmatmul__ = _binop("__matmul__"), _binop("__rmatmul__")
    __and__, __rand__ = _binop("__and__"), _binop("__rand__")
    __or__, __ror__ = _binop("__or__"), _binop("__ror__")
    __xor__, __rxor__ = _binop("__xor__"), _binop("__rxor__")
    __lt__, __le__, __gt__, __ge__ = _binop("__lt__"), _binop("__le__"), _binop("__gt__"), _binop("__ge__")
    __eq__, __ne__ = _binop("__eq__"), _binop("__ne__")
    __iadd__, __isub__, __imul__ = _iop("__iadd__"), _iop("__isub__"), _iop("__imul__")
    __itruediv__, __ipow__ = _iop("__itruediv__"), _iop("__ipow__")
    __iand__, __ior__ = _iop("__iand__"), _iop("__ior__")
    __hash__ = None

    def __neg__(self):
        return _wrap(-self._a)

    def __pos__(self):
        return _wrap(+self._a)

    def __abs__(self):
        return _wrap(abs(self._a))

    def __invert__(self):
        return _wrap(~self._a)


# ---------------------------------------------------------------- module functions
def _lookup(name):
    try:
        return getattr(sys.modules[__name__], name)
    except AttributeError:
        return None


class _Ufunc:
    def __init__(self, np_ufunc):
        self._u = np_ufunc
        self.__name__ = np_ufunc.__name__

    def __call__(self, *args, **kwargs):
        for x in args:
            if isinstance(x, (_np.ndarray, list)):
                _reject(x, f"ufunc cupy.{self.__name__}")
        args = _unwrap(args, f"ufunc {self.__name__}", strict=True)
        if "out" in kwargs:
            kwargs["out"] = _unwrap(kwargs["out"], "ufunc out", strict=True)
        return _wrap(self._u(*args, **kwargs))

    def at(self, a, indices, b=None):
        if not isinstance(a, ndarray):
            _reject(a, f"cupy.{self.__name__}.at target")
        args = () if b is None else (_unwrap(b, "ufunc.at", strict=False),)
        self._u.at(a._a, _convert_index(indices), *args)

    def reduce(self, *args, **kwargs):
        return _wrap(self._u.reduce(*_unwrap(args, "ufunc.reduce"), **kwargs))


def asarray(a, dtype=None, order=None, **kwargs):
    if isinstance(a, ndarray):
        return a if dtype is None or _np.dtype(dtype) == a.dtype else a.astype(dtype)
    if isinstance(a, (list, tuple)) and any(isinstance(v, ndarray) for v in a):
        return _wrap(_np.asarray([_unwrap(v, strict=False) for v in a], dtype=dtype))
    return _wrap(_np.array(a, dtype=dtype, order="K" if order is None else order, copy=True))  # H2D: a copy


def array(obj, dtype=None, copy=True, order="K", ndmin=0, **kwargs):
    if isinstance(obj, ndarray):
        out = obj._a.astype(dtype if dtype is not None else obj.dtype, order=order, copy=copy)
        return _wrap(out if ndmin <= out.ndim else _np.array(out, ndmin=ndmin))
    return asarray(_np.array(obj, dtype=dtype, ndmin=ndmin))


def asnumpy(a, *args, **kwargs):
    if isinstance(a, ndarray):
        return a._a.copy()
    return _np.asarray(a)


def clip(a, a_min=None, a_max=None, out=None):
    # NumPy >= 2.1 returns a copy when both bounds are None; CuPy raises (cupy/_core/_routines_math.pyx).
    if a_min is None and a_max is None:
        raise ValueError("array_clip: must set either max or min")
    args = _unwrap((a, a_min, a_max), "ufunc clip", strict=True)
    kwargs = {} if out is None else {"out": _unwrap(out, "ufunc out", strict=True)}
    return _wrap(_np.clip(*args, **kwargs))


def is_available():
    return True


def where(condition, x=None, y=None):
    if x is None and y is None:
        return _wrap(_np.nonzero(_unwrap(condition)))
    cond = condition.astype("?")  # exactly what cupy/_sorting/search.py does
    return _wrap(_np.where(_unwrap(cond, "ufunc where"), _unwrap(x, "ufunc where"), _unwrap(y, "ufunc where")))


_CREATION = {"zeros", "ones", "empty", "full", "eye", "arange", "linspace", "identity", "tri"}


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    obj = getattr(_np, name)  # AttributeError for things neither has
    if isinstance(obj, _np.ufunc):
        u = _Ufunc(obj)
        globals()[name] = u
        return u
    if isinstance(obj, type) or not callable(obj):
        return obj  # dtypes (float32, float64, ...), constants (inf, pi, newaxis)

    def fn(*args, **kwargs):
        strict = name not in _CREATION
        args = _unwrap(args, f"cupy.{name}", strict=strict)
        kwargs = {k: _unwrap(v, f"cupy.{name}", strict=strict) for k, v in kwargs.items()}
        return _wrap(obj(*args, **kwargs))
    fn.__name__ = name
    globals()[name] = fn
    return fn


# ---------------------------------------------------------------- submodules
def _as_strided(x, shape=None, strides=None):
    return _wrap(_np.lib.stride_tricks.as_strided(_unwrap(x), shape=shape, strides=strides))


lib = types.ModuleType("cupy.lib")
lib.stride_tricks = types.ModuleType("cupy.lib.stride_tricks")
lib.stride_tricks.as_strided = _as_strided
sys.modules["cupy.lib"] = lib
sys.modules["cupy.lib.stride_tricks"] = lib.stride_tricks


class _Stream:
    def synchronize(self):
        pass


cuda = types.ModuleType("cupy.cuda")
cuda.get_current_stream = _Stream
cuda.runtime = types.SimpleNamespace(getDeviceProperties=lambda i: {"name": b"CPU stand-in", "totalGlobalMem": 0})
sys.modules["cupy.cuda"] = cuda
__version__ = "0.0+cpu-stand-in"
