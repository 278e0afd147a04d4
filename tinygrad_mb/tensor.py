"""The Tensor and the autograd engine.

A :class:`Tensor` wraps one NumPy or CuPy array (``.data``). When it is the
result of an op on tensors that require gradients, it remembers the op that
made it (``._ctx``, a :class:`Function` holding its inputs), so the whole
computation forms a graph. ``loss.backward()`` walks that graph from the
output back to the leaves in reverse topological order and applies the chain
rule at every node::

    dL/dx = sum over the ops f that consumed x of  (dL/df) * (df/dx)

Each op's local rule ``df/dx`` lives in its ``backward`` method, right next to
its ``forward``, in :mod:`tinygrad_mb.ops`. Tensor methods such as ``x.exp()``
or ``a + b`` are thin calls into those ops; they are listed in ``ops`` too.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import itertools
from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

import numpy as np

from tinygrad_mb import backend
from tinygrad_mb.errors import (
    ArgumentTypeError,
    BackendError,
    BackendMismatchError,
    BackwardError,
    DTypeError,
    GraphReleasedError,
    ShapeError,
    TinygradMBError,
)

# Whether ops record the graph. A context variable, so each thread has its own
# flag (as in PyTorch): a ``no_grad()`` block in one thread (an evaluation running
# next to training) cannot switch recording off in another. Every op reads it, and
# ``ContextVar.get`` costs about a third of an attribute of a ``threading.local``.
_grad_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("tinygrad_mb_grad_enabled", default=True)


def is_grad_enabled() -> bool:
    """True unless inside a ``no_grad()`` block (of this thread)."""
    return _grad_enabled.get()


class no_grad(contextlib.ContextDecorator):  # noqa: N801  (named like torch.no_grad)
    """Record no graph: use as ``with no_grad():`` or as a ``@no_grad()`` decorator.

    Inside, ops compute values only; results have ``requires_grad=False`` and
    keep no reference to their inputs, so evaluation costs no extra memory.
    Blocks nest, and a decorated function may call itself: each entry saves
    the state it found on a stack, and each exit restores its own entry's state.
    """

    def __init__(self) -> None:
        self._previous: list[bool] = []  # one entry per active ``with`` of this object

    def _recreate_cm(self) -> no_grad:
        return no_grad()  # as a decorator: a fresh object per call, so calls in other threads cannot mix

    def __call__(self, func: Any) -> Any:
        if not inspect.isgeneratorfunction(func):
            return super().__call__(func)

        # A generator runs a piece of its body at each next(); the plain decorator would switch recording
        # off only while the generator object is *created*, which runs none of the body. So every resume
        # runs inside the block, and the caller's own code between items records as usual (as PyTorch).
        @functools.wraps(func)
        def generator(*args: Any, **kwargs: Any) -> Any:
            gen = func(*args, **kwargs)
            resume, value = gen.send, None  # how to resume it next: send a value, or throw an exception in
            while True:
                try:
                    with self._recreate_cm():
                        item = resume(value)
                except StopIteration as stop:
                    return stop.value
                try:
                    value, resume = (yield item), gen.send
                except GeneratorExit:  # the caller closed us: let the generator run its finally blocks
                    with self._recreate_cm():
                        gen.close()
                    raise
                except BaseException as exc:  # thrown in by the caller: pass it on to the generator
                    value, resume = exc, gen.throw

        return generator

    def __enter__(self) -> no_grad:
        self._previous.append(_grad_enabled.get())
        _grad_enabled.set(False)
        return self

    def __exit__(self, *exc: object) -> None:
        # set(), not reset(token): a token fails in another context, e.g. when a notebook
        # enters the block in one cell and leaves it in a later one.
        _grad_enabled.set(self._previous.pop())


_recorded_ops = itertools.count()  # numbers every recorded op, in the order the ops ran

# In-place writes made so far, all tensors together: the clock that versions are read from (see Tensor).
_in_place_writes = 0


def new_version() -> int:
    """The version for an in-place write about to be made: higher than every version so far.

    Whatever writes into a tensor's ``data`` in place (an in-place operator, an
    optimizer step, ``load_state_dict``) sets ``tensor._version = new_version()``
    (one number may serve every tensor of one step), so that ``backward()`` can
    refuse to go through an op that used the old values.
    """
    global _in_place_writes
    _in_place_writes += 1
    return _in_place_writes


def _live_ctx(tensor: Tensor) -> Function:
    """The op that made ``tensor``; GraphReleasedError if an earlier backward() already freed it."""
    fn = tensor._ctx
    if fn.parents is None:
        raise GraphReleasedError(
            "backward() through a graph that was already freed by an earlier backward(); "
            "pass retain_graph=True to the first backward() if you need to go through it twice, "
            "or recompute the forward pass"
        )
    return fn


class Function:
    """One differentiable operation: ``forward`` on arrays, ``backward`` by the chain rule.

    Subclass it, write ``forward(self, *arrays, **params)`` returning an array
    and ``backward(self, grad)`` returning the gradient with respect to each
    positional input (a tuple when there are several; ``None`` for an input
    that needs none). Save what backward needs on ``self``. Then call
    ``MyOp.apply(x, y, **params)`` with tensors or Python numbers.

    ``backward`` may return a gradient with the *broadcast* shape of the
    output; the engine sums it back to each input's shape in one place
    (:func:`unbroadcast`), so no op repeats that bookkeeping.
    """

    # Every recorded op holds its inputs, its place in the recording order and how many in-place writes
    # had been made when it ran (see ``Tensor._version``). Slots make these quick to set; whatever
    # ``forward`` saves goes to the instance dict, which an op that saves nothing (an add) never creates.
    __slots__ = ("parents", "sequence_number", "writes_before", "__dict__")
    chooses_dtype = False  # True for an op whose settings name the result's dtype (Cast)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # PyTorch writes @staticmethod forward(ctx, x); here forward would get x as ctx and the next input
        # as x, computing something else or failing far from the cause. Said once, when the class is made.
        for name in ("forward", "backward"):
            if isinstance(cls.__dict__.get(name), (staticmethod, classmethod)):
                raise ArgumentTypeError(
                    f"{cls.__name__}.{name} is a {type(cls.__dict__[name]).__name__}; write it as a plain method, "
                    f"def {name}(self, {'*arrays' if name == 'forward' else 'grad'}), with no decorator: "
                    "self plays the part of PyTorch's ctx (save what backward needs on self)"
                )
        # An op written outside the library gets its backward checked at every call; the library's own
        # ops are tested instead, and skip the cost.
        if "backward" in cls.__dict__ and not cls.__module__.startswith("tinygrad_mb."):
            cls.backward = _checked_backward(cls.__dict__["backward"])

    def forward(self, *args: Any, **params: Any) -> Any:  # pragma: no cover - abstract
        """Compute the output array from the input arrays (and keyword settings)."""
        raise NotImplementedError(f"{type(self).__name__}.forward is not written")

    def backward(self, grad: Any) -> Any:  # pragma: no cover - abstract
        """Given dL/d(output), return dL/d(input) for each positional input (None: not needed)."""
        raise NotImplementedError(f"{type(self).__name__}.backward is not written")

    def needs_input_grad(self, index: int) -> bool:
        """Whether positional input ``index`` wants a gradient (use it to skip work in backward)."""
        parent = self.parents[index]
        return isinstance(parent, Tensor) and parent._requires_grad

    @classmethod
    def apply(cls, *args: Any, **params: Any) -> Tensor:
        """Run ``forward`` on the inputs' arrays and, if needed, record the graph."""
        fn = cls()
        datas = []
        requires_grad = False
        first_type = None
        for a in args:
            if isinstance(a, Tensor):
                data = a.data
                if first_type is None:
                    first_type = type(data)
                elif type(data) is not first_type:  # numpy vs numpy-scalar is fine, CuPy is not
                    _check_same_backend(cls.__name__, args)
                datas.append(data)
                if a._requires_grad:
                    requires_grad = True
            else:
                datas.append(a)
        try:
            # Without settings, a plain call: unpacking an empty ``**params`` still costs a dict.
            out = fn.forward(*datas, **params) if params else fn.forward(*datas)
            if type(out) is not _NDARRAY:  # NumPy's 0-d results are scalars; CuPy arrays pass
                out = _one_array(out, cls.__name__)
            if out.dtype.type is not _FLOAT32:  # the usual result needs no fix: one comparison
                out, requires_grad = _fixed_result(cls, out, datas, requires_grad)
        except ValueError as exc:  # NumPy's broadcasting/matmul complaints, made readable
            if isinstance(exc, TinygradMBError):  # an op's own message already says what is wrong
                raise
            if "shape" in str(exc) or "broadcast" in str(exc) or "dimension" in str(exc):
                raise ShapeError(_shape_message(cls.__name__, args, exc)) from None
            raise
        # The slots are written directly: the ``requires_grad`` property's checks are for users.
        result = _new_tensor(Tensor)
        result.data = out
        result._grad = None
        result._retains_grad = False
        result._version = 0
        result._borrowed = False  # a new array, the library's own
        if requires_grad and _grad_enabled.get():
            fn.parents = args
            fn.writes_before = _in_place_writes  # an input with a higher version was changed after this op
            fn.sequence_number = next(_recorded_ops)  # the number orders backward
            result._requires_grad = True
            result._ctx = fn
        else:
            result._requires_grad = False
            result._ctx = None
        return result

    def release(self) -> None:
        """Drop the references to inputs and saved arrays (after backward).

        ``parents`` becomes None, which marks the op as released.
        """
        self.parents = None
        self.__dict__.clear()


class ElementCount(int):
    """``Tensor.size``: the number of elements, an int as in NumPy, that says what to write when called.

    In PyTorch ``size`` is a method, and ``x.size(0)`` is the first dimension;
    called here, a plain int would fail with "'int' object is not callable".
    """

    __slots__ = ()

    def __call__(self, dim: Any = None) -> Any:
        instead = "x.shape" if dim is None else f"x.shape[{dim!r}]"
        raise ArgumentTypeError(
            f"x.size is the number of elements, {int(self)}, as in NumPy, not a method: for PyTorch's "
            f"x.size({'' if dim is None else repr(dim)}) write {instead}"
        )


_NDARRAY, _FLOAT32, _FLOAT64 = np.ndarray, np.float32, np.float64  # read on every op: module names, one lookup each
_DOUBLE = (np.float64, np.complex128)  # inputs that ask for float64 results (the .type, for any byte order)


def _fixed_result(cls: type, out: Any, datas: list, requires_grad: bool) -> tuple[Any, bool]:
    """A result that is not float32 as the engine keeps it, and whether it may carry a gradient.

    float64 becomes float32 unless asked for (:func:`_float32_unless_asked`). Only
    float results carry gradients (PyTorch's rule): an integer one, as from
    rounding, is a constant.
    """
    if out.dtype.type is _FLOAT64:
        return (out if cls.chooses_dtype else _float32_unless_asked(out, datas)), requires_grad
    return out, requires_grad and out.dtype.kind in "fc"


def _float32_unless_asked(out: Any, datas: list) -> Any:
    """A float64 result in float32 (float16 for float16 inputs), unless an input asked for float64 (PyTorch's rule).

    NumPy gives float64 for integers divided or exponentiated, for integer
    arrays times a Python float, and for float32 (or float16) combined with
    int64 arrays; PyTorch keeps the inputs' float type, or its default float32
    when there is none, and asking for float64 means giving a float64 input.
    Without this, ``Tensor(uint8_pixels) / 255`` would turn a whole float32
    network into float64, at twice the memory and time.
    As in PyTorch, a 0-d input (a float64 scalar tensor or array) does not ask
    when an input with dimensions already has a float type: ``x * np.array(2.0)``
    stays float32. Over integer arrays it does: ``int_array + np.array(1.5)``
    is float64 in both libraries.
    """
    arrays = [data for data in datas if getattr(data, "dtype", None) is not None]
    dimensioned = [data for data in arrays if data.ndim]
    if not any(data.dtype.kind in "fc" for data in dimensioned):
        dimensioned = arrays  # 0-d inputs decide: alone, or of a higher kind (float) than the arrays (integers)
    widest = None
    for data in dimensioned:
        if data.dtype.type in _DOUBLE:  # .type, not the dtype object: '>f8' is float64 too
            return out
        if data.dtype.kind == "f" and (widest is None or data.dtype.itemsize > widest.itemsize):
            widest = data.dtype
    return out.astype(np.float32 if widest is None else widest)


def _checked_backward(backward: Callable) -> Callable:
    """``backward`` of an op written outside the library, checked at every call.

    It gets g as a read-only view: the engine may pass one g to several ops (an
    add gives it to both inputs), so a backward that edits g in place
    (``g *= 3``) would silently change another op's gradient; read-only, it
    fails at the line that did it. And what it returns must be arrays: a float
    or a Tensor would fail later, far from the cause.
    """

    @functools.wraps(backward)
    def checked(self: Function, g: Any) -> Any:
        try:
            grads = backward(self, backend.read_only_view(g))
        except ValueError as exc:
            if "read-only" not in str(exc) or isinstance(exc, TinygradMBError):
                raise
            raise BackwardError(
                f"{type(self).__name__}.backward wrote into a read-only array ({exc}), most likely its upstream "
                "gradient g: a backward must not modify g in place, since the engine may pass one g to several "
                "ops (an add gives it to both inputs); return a new array (g * 3, not g *= 3)"
            ) from exc
        if grads is None:  # a bare None, most likely a forgotten ``return``: the gradient would vanish unseen
            raise BackwardError(
                f"{type(self).__name__}.backward returned None (is its `return` missing?); return one gradient "
                "per positional input, e.g. `return g * 3`, and for an input that gets none say so in a tuple: "
                "`return (None,)` or `return grad_x, None`"
            )
        for i, grad in enumerate(grads if isinstance(grads, (tuple, list)) else (grads,)):
            if grad is not None and (isinstance(grad, Tensor) or not hasattr(grad, "shape")):
                raise BackwardError(
                    f"{type(self).__name__}.backward returned, for input {i}, {_not_an_array(grad)}; return an "
                    "array with the input's shape, e.g. g * 3 (the chain rule multiplies the op's derivative by "
                    "the upstream gradient g)"
                )
        return grads

    return checked


def _one_array(out: Any, op: str) -> Any:
    """A forward's result as one array: NumPy scalars become 0-d arrays; anything but an array is refused."""
    if isinstance(out, np.generic):
        return np.asarray(out)
    if isinstance(out, (tuple, list)):
        raise ArgumentTypeError(f"{op}.forward returned a {type(out).__name__} of {len(out)}; a Function has one "
                                "output array: write one Function per output")
    if isinstance(out, Tensor) or not hasattr(out, "dtype"):
        raise ArgumentTypeError(f"{op}.forward returned {_not_an_array(out)}; forward gets the inputs' arrays "
                                "and must return one array, e.g. x * 2 or x.sum() (not float(x.sum()))")
    return out


def _not_an_array(value: Any) -> str:
    """What a Function returned instead of an array, for an error message."""
    if value is None:
        return "None (a missing return?)"
    if isinstance(value, Tensor):
        return "a Tensor, not an array (Function.forward and backward work on arrays: use its .data)"
    return f"a {type(value).__name__} ({_short(value)}), not an array"


def _check_inputs_unchanged(fn: Function) -> None:
    """BackwardError if an input of ``fn``, or a tensor it is a view of, was written in place after ``fn`` ran.

    See ``Tensor._version`` and ``Tensor._view_of``.
    """
    op = type(fn).__name__
    for tensor in fn.parents:
        written = tensor
        while isinstance(written, Tensor) and written._version <= fn.writes_before:
            written = getattr(written, "_view_of", None)  # a view: its memory is also the viewed tensor's
        if written is None or not isinstance(written, Tensor):
            continue
        what = f"its input of shape {tuple(tensor.shape)} was modified in place"
        if written is not tensor:
            what = (f"its input of shape {tuple(tensor.shape)} is a view (a slice, reshape or transpose) of a tensor "
                    f"of shape {tuple(written.shape)}, and that memory was modified in place")
        raise BackwardError(
            f"backward through {op}: {what} after {op} used it, so the values {op} needs "
            "for its gradient are gone. Typically optimizer.step() (or p -= ...) ran between the forward pass and "
            "this backward(), e.g. when two losses share a graph (a GAN's generator and discriminator). Call "
            "backward() before step(), or compute the forward pass again after the step"
        )


def _check_same_backend(op: str, args: tuple) -> None:
    names = {t.backend for t in args if isinstance(t, Tensor)}
    if len(names) > 1:
        raise BackendMismatchError(
            f"{op}: inputs live on different backends {sorted(names)}; "
            "move them to one backend first, e.g. x.to('cupy') or x.to('numpy')"
        )


def _shape_message(op: str, args: tuple, exc: Exception) -> str:
    shapes = " and ".join(str(tuple(a.shape)) for a in args if isinstance(a, Tensor))
    return f"{op}: incompatible shapes {shapes} ({exc}); check the operands' shapes or reshape one of them"


def _checked_gradient(tensor: Tensor, grad: Any, where: str = ".grad") -> Any:
    """``grad`` if it can be ``tensor``'s gradient (an array of its backend, shape and dtype), else a clear error.

    ``where`` names the gradient in the message (optimizers check again before a step).
    """
    if not hasattr(grad, "shape") or not hasattr(grad, "dtype") or isinstance(grad, np.generic):
        raise DTypeError(
            f"{where} is a {type(grad).__name__}, not an array of the tensor's shape {tuple(tensor.shape)} and "
            f"dtype {tensor.dtype}; wrap it, e.g. np.asarray(value, dtype=t.dtype), or set None"
        )
    home, given = backend.backend_of(tensor.data), backend.backend_of(grad)
    if given != home:
        raise BackendMismatchError(
            f"{where} is a {given} array for a {home} tensor; move it first, e.g. with "
            f"tinygrad_mb.backend.to_backend(g, {home!r})"
        )
    if grad.shape != tensor.shape:
        raise ShapeError(
            f"{where} has shape {tuple(grad.shape)} but the tensor has shape {tuple(tensor.shape)}; NumPy would "
            "broadcast it into every update without a word"
        )
    if grad.dtype != tensor.dtype:
        raise DTypeError(f"{where} has dtype {grad.dtype} but the tensor has {tensor.dtype}; use g.astype(t.dtype)")
    return grad


def unbroadcast(grad: Any, shape: tuple, out_shape: tuple | None = None) -> Any:
    """Sum ``grad`` down to ``shape``: the backward of NumPy broadcasting.

    If ``x`` of shape ``shape`` was broadcast to a bigger shape, each of its
    elements was used several times, so its gradient is the sum over the
    copies: over the extra leading axes, and over axes where ``shape`` is 1.
    With ``out_shape``, the shape of the op's output, each axis summed over
    must be one that broadcasting gave the output: a gradient bigger than that
    is a mistake in a backward, not something to sum away.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0 or any(n != 1 and n != m for n, m in zip(shape, grad.shape[extra:])):
        # Not a broadcast of ``shape``: a backward that returned the wrong gradient.
        raise BackwardError(f"a gradient of shape {tuple(grad.shape)} for an input of shape {tuple(shape)}")
    if out_shape is not None and not _summed_axes_in_output(grad.shape, shape, out_shape):
        raise BackwardError(f"a gradient of shape {tuple(grad.shape)} for an input of shape {tuple(shape)}, "
                            f"bigger than the op's output, of shape {tuple(out_shape)}")
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def _summed_axes_in_output(grad_shape: tuple, shape: tuple, out_shape: tuple) -> bool:
    """Whether each axis unbroadcast would sum over has the output's length there (right-aligned, as NumPy).

    Those are the axes broadcasting added (leading ones) or stretched (length 1 in
    ``shape``); a matrix product's own last two axes may differ from its output's.
    """
    offset, extra = len(out_shape) - len(grad_shape), len(grad_shape) - len(shape)
    if offset < 0:
        return False
    return all(n == 1 or n == out_shape[offset + i]
               for i, n in enumerate(grad_shape) if i < extra or shape[i - extra] == 1)


_PYTHON_FLOAT = np.dtype(np.float32)  # default dtype for Python floats and lists


def _short(data: Any) -> str:
    text = repr(data)
    return text if len(text) <= 40 else text[:37] + "..."


def _holds_gpu_values(data: Any) -> bool:
    """Whether a (nested) list or tuple holds a CuPy array or a tensor on CuPy."""
    if isinstance(data, (list, tuple)):
        return any(_holds_gpu_values(item) for item in data)
    return backend.backend_of(data.data if isinstance(data, Tensor) else data) == backend.CUPY


def _may_share_memory(array: Any, source: Any) -> bool:
    """Whether ``array`` may use the memory of ``source``, the caller's data (an array, a list, a tensor...).

    ``is`` alone misses an array made a view of the caller's: ``np.asarray`` of an
    ndarray subclass (a ``np.memmap``, a masked array) is a new object on the same memory.
    """
    if array is source:
        return True
    if not hasattr(source, "dtype") or backend.backend_of(source) != backend.backend_of(array):
        return False  # Python numbers and lists were converted; data moved between host and GPU was copied
    return bool(backend.array_module(array).may_share_memory(array, source))


def numpy_dtype(dtype: Any) -> np.dtype:
    """``np.dtype(dtype)``, or a DTypeError naming the NumPy spelling of a PyTorch dtype (torch.float32)."""
    try:
        return np.dtype(dtype)
    except TypeError:  # NumPy's "Cannot interpret 'torch.float32' as a data type" does not say what to write
        name = str(dtype)
        fix = f"dtype='{name[6:]}'" if name.startswith("torch.") else "e.g. dtype='float32' or np.float32"
        raise DTypeError(f"dtype {name} is not a NumPy dtype; tensors here hold NumPy arrays, so use {fix}") from None


def checked_backend(name: Any, call: str, dtype_fix: str) -> str:
    """``backend.check_name(name)``; a dtype given for a backend (PyTorch's ``.to(torch.float64)``) gets the fix.

    ``call`` is how the user called it (``"t.to"``); ``dtype_fix`` says how to set a dtype instead, with
    ``{dtype}`` where the dtype's NumPy name goes. (A device such as 'cuda' is explained by check_name.)
    """
    try:
        return backend.check_name(name)
    except BackendError:
        text = str(name)
        dtype = text[6:] if text.startswith("torch.") else None  # torch.float64 -> 'float64'
        if dtype is None and name is not None and text.split(":")[0].lower() not in backend.TORCH_DEVICES:
            try:
                dtype = np.dtype(name).name
            except TypeError:
                pass
        if dtype is None:  # not a dtype: check_name's message says it all
            raise
        fix = dtype_fix.format(dtype=repr(dtype))
        raise BackendError(f"{call}: {name!r} is a dtype, not a backend; {fix}") from None


def _flag(value: Any) -> bool:
    """``requires_grad`` as a bool; a dtype or a string there is a mistake, not a truthy value.

    ``Tensor(x, np.float32)`` (NumPy's ``np.array(x, dtype)`` habit) gives the dtype as the second
    positional argument, which is requires_grad, and ``requires_grad="False"`` is a non-empty string:
    both would quietly switch gradients on.
    """
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, int) and value in (0, 1)):
        return bool(value)
    if isinstance(value, (str, type, np.dtype)) or str(value).startswith("torch."):
        hint = "the second positional argument is requires_grad; pass a dtype by keyword: Tensor(data, dtype='float32')"
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            hint = f"write requires_grad={value.strip().capitalize()}, without quotes"
        raise ArgumentTypeError(f"requires_grad must be True or False, got {value!r}; {hint}")
    return bool(value)


def _to_array(data: Any, dtype: Any, backend_name: str | None) -> Any:
    """Turn user data into an array of the right dtype on the right backend."""
    if isinstance(data, Tensor):
        data = data.data
    source = backend.backend_of(data)
    if dtype is not None:
        dtype = numpy_dtype(dtype)  # PyTorch's torch.float32 gets a message saying what to write
    target = backend_name or (backend.CUPY if source == backend.CUPY else backend.get_backend())
    xp = backend.get_array_module(target)
    if not hasattr(data, "dtype"):  # Python numbers and lists: checked even with a dtype, which would hide
        try:  # ragged rows behind NumPy's own error, and turn None into NaN and strings into numbers
            probe = np.asarray(data)
        except ValueError:  # NumPy's "inhomogeneous shape": rows of different lengths
            raise DTypeError(
                f"cannot make a tensor of {_short(data)}: its rows differ in length, and a tensor is a "
                "rectangular block of numbers; pad them to one length, or keep them as separate tensors"
            ) from None
        except TypeError:
            if not _holds_gpu_values(data):
                raise
            # CuPy refuses the silent copy to the host that NumPy would need to read them
            raise ArgumentTypeError(
                "cannot make a tensor of a list of GPU arrays or tensors: join them on the GPU with "
                "tg.stack([...]) (tensors keep their gradients) or cupy.stack, or take .item() of each"
            ) from None
        if probe.dtype.kind not in "biufc":  # None, strings, objects...: no number to hold
            raise DTypeError(
                f"cannot make a tensor of {type(data).__name__} data {_short(data)}: give numbers, "
                "a (nested) list of numbers of one shape, or an array"
            )
        if dtype is None and probe.dtype.kind == "f":
            dtype = _PYTHON_FLOAT
        elif dtype is None and probe.dtype.kind in "iu":
            dtype = np.int64
        data = probe
    elif getattr(getattr(data, "dtype", None), "kind", "f") not in "biufc":  # a string or object array
        raise DTypeError(
            f"cannot make a tensor of an array of {data.dtype} values: tensors hold numbers; convert first, "
            "e.g. class names to indices with classes, y = np.unique(y, return_inverse=True)"
        )
    if source != target:
        data = backend.to_backend(data, target)
    return xp.asarray(data, dtype=dtype)


class Tensor:
    """An n-dimensional array that can remember how it was computed.

    Args:
        data: a Python number or (nested) list, a NumPy or a CuPy array.
        requires_grad: track operations on this tensor so ``backward`` can
            fill its ``.grad``. Only floating-point tensors can.
        dtype: NumPy dtype; default float32 for Python floats, int64 for
            Python ints, and the array's own dtype for arrays.
        backend: ``"numpy"`` or ``"cupy"``; default: a CuPy array stays on
            the GPU, everything else goes to the current default backend.

    An array of the right dtype and backend is used as it is, without a copy
    (like ``torch.as_tensor``), except for a tensor that requires gradients:
    optimizers update such a leaf in place, so it gets its own copy, and
    training never writes into the caller's array (like ``torch.tensor``).
    Setting ``requires_grad = True`` later copies it then, for the same reason.

    What you get back is NumPy/CuPy, not tensors: ``.grad`` is an array of the
    tensor's shape and dtype (None until a backward reaches it), and
    ``.numpy()`` is the tensor's own array on NumPy, not a copy (as PyTorch's
    ``.numpy()``): in-place updates, e.g. ``optimizer.step()``, show in it later,
    so keep ``.numpy().copy()`` for a snapshot. On CuPy it is a copy to the host.

    In-place changes raise the tensor's version, ``_version`` (as in PyTorch):
    ``+= -= *= /=`` outside the graph, optimizer steps and ``load_state_dict``
    do. ``backward()`` then refuses to go through an op that used the tensor
    before the change, instead of returning wrong gradients. Versions come from
    one count of the in-place writes to all tensors (the n-th write gives
    version n; PyTorch counts per tensor), so an op needs to remember one
    number, the count when it ran: an input with a higher version changed
    after it. Writes straight into ``.data`` (``t.data[...] = ...``) are not
    tracked, like writes through PyTorch's ``.data``: that is the way around
    the check, for code that knows the graph no longer needs the old values.
    Neither are writes through ``.numpy()`` or through a ``detach()``-ed
    tensor, which share the memory but not the version.

    A slice, reshape or transpose of a tensor is a view: it shares the
    tensor's memory, and remembers the tensor it views (``_view_of``, set by
    those ops only when the memory is shared). A write through the view raises
    the versions of the tensors it views too, and backward looks up that chain
    for each input, so a write through any view of the memory an op used is
    refused like a write to the input itself (PyTorch shares one version
    counter between a tensor and its views to the same end).
    """

    # requires_grad and grad are properties (their setters check); the engine reads and writes the slots directly.
    # ``_view_of`` is set only on views (read it with getattr(t, "_view_of", None)).
    __slots__ = ("data", "_grad", "_requires_grad", "_ctx", "_retains_grad", "_version", "_borrowed", "_view_of",
                 "__weakref__")
    __array_priority__ = 1000  # make ``ndarray + Tensor`` call Tensor.__radd__

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None, backend: str | None = None):
        if type(requires_grad) is not bool:
            requires_grad = _flag(requires_grad)
        self.data = _to_array(data, dtype, backend)
        if requires_grad and self.data.dtype.kind not in "fc":
            raise DTypeError(
                f"only floating-point tensors can require gradients, got dtype {self.data.dtype}; "
                "create it with floats or pass dtype='float32'"
            )
        # True while ``data`` may be the caller's memory: it must be copied before training can write to it.
        self._borrowed = _may_share_memory(self.data, data.data if isinstance(data, Tensor) else data)
        if requires_grad and self._borrowed:
            self.data = self.data.copy(order="K")  # its own memory, in the same layout (see the class docstring)
            self._borrowed = False
        self._requires_grad = bool(requires_grad)
        self._grad = None
        self._ctx: Function | None = None
        self._retains_grad = False
        self._version = 0  # never written in place (see the class docstring)

    @property
    def requires_grad(self) -> bool:
        """Whether ops on this tensor are recorded so that ``backward`` fills its ``.grad``.

        Only a leaf's flag can change, and only a floating-point tensor can
        require gradients. Setting it True on a tensor that uses the memory of
        an array you passed in copies the data first, so training never writes
        into your array.
        """
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        flag = _flag(flag)
        if flag == self._requires_grad:
            return
        if self._ctx is not None:  # its ops' backward passes still count on the gradient it carries
            raise BackwardError(
                f"requires_grad of a non-leaf tensor (the result of {type(self._ctx).__name__}) cannot be changed; "
                "use t.detach() for a tensor cut from the graph"
            )
        if flag and self.data.dtype.kind not in "fc":
            raise DTypeError(
                f"only floating-point tensors can require gradients, got dtype {self.data.dtype}; "
                "convert it first, e.g. t = t.astype('float32')"
            )
        if flag and self._borrowed:  # optimizers will update it in place: not in the caller's array
            self.data = self.data.copy(order="K")
            self._borrowed = False
        self._requires_grad = flag

    def requires_grad_(self, flag: bool = True) -> Tensor:
        """Set ``requires_grad`` (with its checks) and return this tensor, for chaining: ``w = t.requires_grad_()``."""
        self.requires_grad = flag
        return self

    @property
    def grad(self) -> Any:
        """dL/d(this tensor), summed over the ``backward()`` calls since it was last reset; None before any.

        An array of this tensor's backend, shape and dtype. Assigning one is
        checked for exactly that (as in PyTorch): an optimizer trusts ``.grad``
        to match its parameter, and NumPy would broadcast a wrong one without a
        word (``p -= lr * g`` with ``g`` of shape (1,) moves every weight alike).
        A tensor is accepted too; its array is stored, without its graph.
        """
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is not None:
            value = _checked_gradient(self, value.data if isinstance(value, Tensor) else value)
        self._grad = value

    # --- what it is ---------------------------------------------------------
    shape = property(lambda self: self.data.shape, doc="Tuple of dimension sizes.")
    ndim = property(lambda self: self.data.ndim, doc="Number of dimensions.")
    dtype = property(lambda self: self.data.dtype, doc="NumPy dtype of the elements.")
    size = property(lambda self: ElementCount(self.data.size), doc="Number of elements (an int, as in NumPy).")
    backend = property(lambda self: backend.backend_of(self.data), doc='"numpy" or "cupy".')
    xp = property(lambda self: backend.array_module(self.data), doc="The array module of the data, numpy or cupy.")
    is_leaf = property(lambda self: self._ctx is None, doc="True unless made by a tracked op.")

    def __len__(self) -> int:
        if self.ndim == 0:  # NumPy's "len() of unsized object" does not say what to do
            raise ArgumentTypeError("len() of a 0-d tensor; it has no first axis (use .item() for its value)")
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(backend.to_numpy(self.data), separator=", ", precision=4, threshold=20)
        body = body.replace("\n", "\n" + " " * 7)
        extras = [f"dtype={self.dtype}"]
        if self.backend != backend.NUMPY:
            extras.append(f"backend={self.backend!r}")
        if self._ctx is not None:
            extras.append(f"grad_fn={type(self._ctx).__name__}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"Tensor({body}, {', '.join(extras)})"

    def __setitem__(self, index: Any, value: Any) -> None:
        # ``x[i] -= v`` runs as ``x[i] = x[i].__isub__(v)``: outside any graph the in-place op has already written
        # through the view x[i] (see ``_in_place``), and Python then assigns that very view back: nothing is
        # left to do. Refusing here would report an error for a write that had already happened.
        if isinstance(value, Tensor) and getattr(value, "_view_of", None) is self:
            parts = tuple(i.data if isinstance(i, Tensor) else i for i in (index if isinstance(index, tuple)
                                                                          else (index,)))
            # With a trailing ``...``, one element comes out as a 0-d view, not a copied scalar (see GetItem).
            target = self.data[parts if any(p is Ellipsis for p in parts) else (*parts, ...)]
            if (target.shape == value.data.shape and target.strides == value.data.strides
                    and backend.data_address(target) == backend.data_address(value.data)):
                return
        raise ArgumentTypeError(
            "tensors cannot be assigned to by index (x[i] = v); build a new one instead, e.g. "
            "x = tg.where(mask, v, x), or, outside any graph, write into the array: x.data[i] = v "
            "(x[1:3] -= v with slices and single indices works in place inside `with tg.no_grad():`)"
        )

    # Hash by identity (== is elementwise), in C: backward keys its dicts by tensor.
    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        if self.data.size != 1:  # NumPy's message names a.any() and a.all(), which tensors do not have
            raise ShapeError(
                f"the truth value of a tensor with {self.data.size} elements is ambiguous; compare a single "
                "element (e.g. loss.item() < 0.1), or reduce first, e.g. (x > 0).numpy().all()"
            )
        return bool(self.data)

    def __iter__(self):  # Python would otherwise index 0, 1, ... until IndexError: a 0-d tensor looked empty
        if self.ndim == 0:
            raise ArgumentTypeError("iteration over a 0-d tensor; use .item() for its value")
        return (self[i] for i in range(len(self)))

    # Python numbers and NumPy from a tensor: float(loss), int(n), range(k), np.asarray(t)
    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __format__(self, spec: str) -> str:
        # f"{loss:.3f}" formats the number, as in PyTorch (a running total += loss stays a tensor).
        if not spec:
            return str(self)
        if self.data.size != 1:
            raise ShapeError(
                f"format spec {spec!r} needs a tensor with one element, got shape {self.shape}; format "
                "t.item() for one value, or t.numpy() for the array"
            )
        return format(self.item(), spec)

    def __index__(self) -> int:
        if self.dtype.kind not in "iub":
            raise ArgumentTypeError(f"only integer tensors can be used as an index, got dtype {self.dtype}")
        return int(self.item())

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """The values for NumPy functions (np.asarray(t), np.allclose(t, ...)); NumPy-backed tensors only.

        A CuPy tensor refuses, as CuPy arrays do, so that no GPU-to-host copy happens
        unnoticed (in a loop it would be slow): call ``.numpy()`` for an explicit one.
        A tensor that requires grad refuses too (as PyTorch's): ``np.log(x)`` would
        compute on the bare values, and the gradient would silently stop there.
        """
        if self._requires_grad:
            raise ArgumentTypeError(
                "NumPy was given a tensor that requires grad; NumPy functions cannot record the graph, so the "
                "gradient would stop here. Use the tensor ops (x.log(), x.exp(), x.sum(), tg.stack([...]) to join "
                "tensors), or x.detach() / x.numpy() where you want the values only"
            )
        if backend.backend_of(self.data) != backend.NUMPY:
            raise ArgumentTypeError("implicit conversion of a GPU tensor to a NumPy array; call .numpy() to copy it")
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return np.asarray(self.data, dtype=dtype)

    # --- leaving the graph / changing representation ------------------------
    def numpy(self) -> np.ndarray:
        """The values as a NumPy array: the tensor's own array on NumPy (not a copy), a copy from the GPU for CuPy.

        Being the same memory, it changes when the tensor is updated in place
        (``optimizer.step()``): call ``.numpy().copy()`` to keep the values of now.
        """
        return backend.to_numpy(self.data)

    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number."""
        if self.size != 1:
            raise ShapeError(f"item() needs a tensor with one element, got shape {self.shape}; index it first")
        return self.data.item()

    def tolist(self) -> Any:
        """The values as (nested) Python lists."""
        return self.numpy().tolist()

    def detach(self) -> Tensor:
        """A new tensor sharing the data but cut from the graph (requires_grad False)."""
        out = Tensor._wrap(self.data)
        out._borrowed = self._borrowed  # the same memory: still the caller's, if it was
        return out

    def to(self, backend_name: str) -> Tensor:
        """This tensor on ``"numpy"`` or ``"cupy"`` (itself when already there).

        The copy is a new leaf: it keeps ``requires_grad`` but not the graph.
        """
        if checked_backend(backend_name, "t.to", "use t.astype({dtype})") == self.backend:
            return self
        out = Tensor._wrap(backend.to_backend(self.data, backend_name))
        out.requires_grad = self.requires_grad
        return out

    def astype(self, dtype: Any) -> Tensor:
        """A copy with another dtype; differentiable to float dtypes (the gradient is cast back).

        A cast to an integer or boolean dtype leaves the graph (like PyTorch): rounding
        has slope 0 almost everywhere, and only float tensors can require gradients.
        """
        from tinygrad_mb.ops import Cast  # noqa: PLC0415

        dtype = numpy_dtype(dtype)
        if dtype.kind not in "fc":
            return Tensor._wrap(self.data.astype(dtype))
        return Cast.apply(self, dtype=dtype)

    def retain_grad(self) -> Tensor:
        """Also store ``.grad`` on this non-leaf tensor during backward (like PyTorch).

        A leaf keeps its gradient anyway; a tensor that does not require grad has
        none to keep, so asking for it is a mistake and raises (as in PyTorch).
        """
        if not self._requires_grad:
            raise BackwardError(
                "retain_grad() on a tensor that does not require grad: backward never reaches it; make the "
                "inputs it is computed from require grad (and compute it outside no_grad())"
            )
        self._retains_grad = True
        return self

    @staticmethod
    def _wrap(data: Any) -> Tensor:
        """A leaf tensor around an existing array, without copying or checks (internal)."""
        t = Tensor.__new__(Tensor)
        t.data, t._grad, t._requires_grad, t._ctx, t._retains_grad = data, None, False, None, False
        t._version, t._borrowed = 0, False
        return t

    def __getstate__(self) -> Any:
        # What copy and pickle keep (slots, as Python's default would), less ``_view_of``: a copy has memory
        # of its own, and would otherwise take the viewed tensor along.
        # A subclass without __slots__ (a user's) keeps its own attributes in __dict__: kept too.
        return getattr(self, "__dict__", None) or None, {
            name: getattr(self, name) for name in Tensor.__slots__
            if name not in ("_view_of", "__weakref__") and hasattr(self, name)}

    def __reduce_ex__(self, protocol: int) -> Any:
        # What copy, deepcopy and pickle call. A tensor made by an op would take its whole graph along
        # (every input, every saved array), and the copy's nodes would carry the same op numbers as
        # the originals. PyTorch, too, copies leaves only.
        if self._ctx is not None:
            raise BackwardError(
                f"cannot copy or pickle a tensor made by an op (here {type(self._ctx).__name__}), which would copy "
                "its whole graph; copy t.detach() for its values (t.detach().requires_grad_() for a new leaf)"
            )
        return super().__reduce_ex__(protocol)

    # --- the engine ---------------------------------------------------------
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Fill ``.grad`` of every leaf this tensor depends on, by the chain rule.

        Args:
            grad: dL/d(self), with self's shape. May be omitted for a
                one-element tensor (it is then 1, i.e. self is the loss).
            retain_graph: keep the graph so backward can run through it
                again; by default it is freed to release memory.

        Gradients *accumulate* into ``.grad`` (like PyTorch), so call
        ``zero_grad()`` (or set ``.grad = None``) between steps. They are
        written only once the whole walk has succeeded: if an op's backward
        fails half-way, every ``.grad`` keeps the value it had.
        """
        if not self._requires_grad:
            if self.data.dtype.kind not in "fc":
                raise BackwardError(
                    f"backward() on a tensor of dtype {self.dtype}: only float results carry gradients, and an "
                    "integer one (rounding, a cast, argmax) is a constant; compute the loss in floats"
                )
            raise BackwardError(
                "backward() on a tensor that does not require grad: create the inputs with "
                "requires_grad=True (and not inside no_grad())"
            )
        data = self.data
        xp = backend.array_module(data)
        if grad is None:
            if data.size != 1:
                raise BackwardError(
                    f"backward() without a gradient needs a one-element output, got shape {data.shape}; "
                    "reduce it to a scalar (e.g. .sum() or .mean()) or pass grad= of the same shape"
                )
            # dL/dL = 1. For the usual 0-d loss, array(1) is several times cheaper than ones().
            grad = xp.array(1, data.dtype) if data.ndim == 0 else xp.ones(data.shape, data.dtype)
        else:
            # A copy, in this tensor's dtype: .grad must own its memory, so that changing
            # the caller's array afterwards cannot change the gradients (PyTorch copies too).
            grad = xp.array(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ShapeError(f"backward(): grad has shape {grad.shape} but the tensor has shape {self.shape}")

        if self._ctx is None:  # backward on a leaf: its gradient is the one given
            self._accumulate_grad(grad, set())
            return
        # Reverse topological order without a separate search: every recorded op got a
        # sequence number when it ran, and an op's inputs always ran before it, so taking
        # the pending node with the highest number first runs each node only after all
        # of its consumers (PyTorch's engine orders its ready queue the same way).
        # ``pending`` is a heap of (-number, pushed, node): heapq pops the smallest, i.e. the newest.
        # ``pushed`` counts the pushes: it breaks ties, so the tuples never compare two tensors (whose < is
        # elementwise). Numbers are unique, but the engine must not depend on that.
        grads = {self: grad}  # dL/d(node) for op results not yet processed
        pushed = 0
        pending = [(-_live_ctx(self).sequence_number, pushed, self)]
        writes = _in_place_writes  # in-place writes made so far (see Tensor._version)
        # tensor -> summed gradient, for the leaves (and retain_grad() results): written to .grad
        # only at the end, so an error half-way leaves every .grad as it was. Summed as they arrive, so a
        # weight used many times (an unrolled RNN) holds one gradient array here, not one per use.
        leaf_grads: dict[Tensor, Any] = {}
        while pending:
            node = heappop(pending)[2]
            g = grads.pop(node)
            if node._retains_grad:
                leaf_grads[node] = g
            fn = node._ctx
            # An input overwritten in place since the op ran (an optimizer step in between) means the op's
            # saved arrays are not the values it computed with: refuse, rather than return wrong gradients.
            # While no write at all has happened since, one comparison says so.
            if fn.writes_before != writes:
                _check_inputs_unchanged(fn)
            in_grads = fn.backward(g)
            parents = fn.parents
            if type(in_grads) is not tuple:  # one gradient, or several in a list (taken as a tuple)
                in_grads = tuple(in_grads) if type(in_grads) is list else (in_grads,)
            if len(in_grads) != len(parents):  # zip would silently drop the missing ones
                raise BackwardError(
                    f"{type(fn).__name__}.backward returned {len(in_grads)} gradient(s) for {len(parents)} "
                    "input(s); return one per positional input, in order (None for an input that needs none)"
                )
            for parent, pg in zip(parents, in_grads):
                if pg is None or not isinstance(parent, Tensor) or not parent._requires_grad:
                    continue
                data = parent.data
                if pg.shape != data.shape:  # the ONE place broadcasting is undone
                    try:
                        pg = unbroadcast(pg, data.shape, out_shape=g.shape)
                    except BackwardError as exc:
                        raise BackwardError(
                            f"{type(fn).__name__}.backward returned {exc}; a gradient must have its input's "
                            "shape (or the op's broadcast output shape, which the engine sums back)"
                        ) from None
                if pg.dtype != data.dtype:
                    pg = pg.astype(data.dtype)
                if parent._ctx is None:  # a leaf (a parameter, an input): its .grad, once all went well
                    previous = leaf_grads.get(parent)
                    leaf_grads[parent] = pg if previous is None else previous + pg
                    continue
                previous = grads.get(parent)
                if previous is None:  # the first contribution: the node now waits its turn
                    grads[parent] = pg
                    pushed += 1
                    heappush(pending, (-_live_ctx(parent).sequence_number, pushed, parent))
                else:
                    grads[parent] = previous + pg
            if not retain_graph:
                fn.release()
        handed_out: set[int] = set()  # ids of arrays already stored in some .grad
        for tensor, g in leaf_grads.items():
            tensor._accumulate_grad(g, handed_out)

    def _accumulate_grad(self, g: Any, handed_out: set[int]) -> None:
        # A gradient array may be shared (an add passes the same array to both
        # inputs) or be a read-only broadcast view; a leaf gets its own copy then.
        if g.ndim == 0:  # NumPy hands back scalars for 0-d results; store a real array
            g = backend.array_module(g).array(g)
        elif g.base is not None or id(g) in handed_out:  # a view, or an array a leaf already holds
            g = g.copy(order="K")  # keep the layout of the parameter (see nn.Linear)
        handed_out.add(id(g))
        if self._grad is None:
            self._grad = g
        else:  # an out-of-place sum: the old .grad may be an array the caller still holds
            total = self._grad + g
            self._grad = np.asarray(total) if isinstance(total, np.generic) else total  # 0-d + 0-d: a scalar

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``.grad = None``)."""
        self._grad = None


_new_tensor = Tensor.__new__  # an empty Tensor, its slots filled by the caller (Function.apply)

# Operators and methods (x + y, x.exp(), ...) are attached in tinygrad_mb.ops,
# next to the ops they call; importing it here completes the Tensor class.
from tinygrad_mb import ops as _ops  # noqa: E402,F401
