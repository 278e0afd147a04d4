"""What every exercise checker shares: the error it raises, the stub it recognises, comparison helpers.

A checker runs the student's answer on inputs where the right result is known.
When everything agrees it prints one line starting with ✓ (and returns None).
Otherwise it raises :class:`ExerciseError`, whose message says which input
failed, what was expected and what came back, and usually a hint.

An answer that is still the notebook's stub -- it raises ``NotImplementedError``,
or it is (or returns) the placeholder ``...`` -- is not wrong, only not
written yet: the checker prints one line starting with ○ and returns None, so a
notebook without answers still runs top to bottom. Every checker is wrapped in
:func:`checker`, which turns the internal :class:`NotAttemptedError` into that line.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np

from tinygrad_mb.errors import TinygradMBError


class ExerciseError(TinygradMBError, AssertionError):
    """An exercise answer is not right yet; the message says what is wrong."""


class NotAttemptedError(ExerciseError):
    """Internal: the answer is still the stub; :func:`checker` reports it instead of raising."""


#: The message of the stub in the notebooks' answer cells: ``raise NotImplementedError("your answer here")``.
STUB_MESSAGE = "your answer here"
NOT_ATTEMPTED = "○ not attempted yet"
_F = TypeVar("_F", bound=Callable[..., Any])


def checker(check: _F) -> _F:
    """Decorate a checker so that an answer that is still the stub prints a ○ line instead of raising."""

    @functools.wraps(check)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            check(*args, **kwargs)
        except NotAttemptedError as exc:
            detail = f" ({exc})" if str(exc) else ""
            print(f"{NOT_ATTEMPTED}{detail}: write your answer in the cell above and rerun this cell")

    return wrapper  # type: ignore[return-value]


def stub_raised(exc: BaseException, what: str) -> None:
    """Raise :class:`NotAttemptedError` if ``exc``, raised by the student's code, says the answer is a stub.

    A NotImplementedError from the library's own placeholders (``Module.forward``,
    ``Function.backward``) is not a stub: the student's class has no method of that
    name, usually a misspelling (``def foward``), and the checker fails it.
    """
    if isinstance(exc, NotImplementedError) and not _raised_by_library_placeholder(exc):
        message = str(exc)
        if not message or message == STUB_MESSAGE:
            raise NotAttemptedError() from None
        raise NotAttemptedError(f"{what} raised NotImplementedError: {message}") from None


def _raised_by_library_placeholder(exc: BaseException) -> bool:
    """Whether ``exc`` came from tinygrad_mb's own code (outside the exercises): its base-class placeholders."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    module = tb.tb_frame.f_globals.get("__name__", "")
    return module.startswith("tinygrad_mb.") and not module.startswith("tinygrad_mb.exercises")


def placeholder(value: Any, what: str) -> None:
    """Raise :class:`NotAttemptedError` if ``value`` is the placeholder ``...`` or a dict with ``...`` values."""
    if value is Ellipsis:
        raise NotAttemptedError()
    if isinstance(value, Mapping):
        open_keys = [key for key, item in value.items() if item is Ellipsis]
        if len(open_keys) == len(value):
            raise NotAttemptedError()
        if open_keys:
            raise NotAttemptedError(f"{what}: {', '.join(map(repr, open_keys))} still ...")


def passed(message: str) -> None:
    """Print the ✓ line of a checker that found nothing wrong."""
    print(f"✓ {message}")


def fail(message: str, hint: str | None = None) -> None:
    """Raise :class:`ExerciseError` with ``message`` (and a hint on its own line)."""
    text = f"✗ {message}"
    if hint:
        text += f"\n  Hint: {hint}"
    raise ExerciseError(text)


def run(fn: Any, *args: Any, what: str, **kwargs: Any) -> Any:
    """Call the student's ``fn``; turn a crash into an ExerciseError that names the input.

    A stub -- ``fn`` is ``...``, raises ``NotImplementedError`` or returns ``...`` --
    raises :class:`NotAttemptedError` instead.
    """
    placeholder(fn, what)
    if not callable(fn):
        fail(f"{what}: expected a function, got {type(fn).__name__} ({fn!r})")
    try:
        result = fn(*args, **kwargs)
    except ExerciseError:
        raise
    except Exception as exc:  # the student's code may raise anything
        stub_raised(exc, what)
        shown = ", ".join([_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()])
        fail(f"{what} raised {type(exc).__name__}: {exc}\n  when called with ({shown})")
    if result is Ellipsis:
        raise NotAttemptedError(f"{what} returned the placeholder ...")
    return result


def backward_of(out: Any, what: str) -> None:
    """``out.sum().backward()``, failing with advice when ``out`` is not connected to the graph."""
    if not getattr(out, "requires_grad", False):
        fail(f"{what} does not require grad: it is not connected to the parameters/inputs in the graph",
             "compute it with tensor ops on the Parameters/inputs; going through NumPy (.numpy(), .data, "
             "Tensor(...)) cuts the graph")
    run(lambda: out.sum().backward(), what=f"backward() through {what}")


def _short(value: Any) -> str:
    """A one-line description of an argument, for error messages."""
    if isinstance(value, np.ndarray):
        if value.size <= 8:
            return np.array2string(value, precision=4, separator=", ").replace("\n", "")
        return f"array of shape {value.shape}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def returned_none(value: Any, what: str) -> None:
    """Fail when the answer is None: almost always a function that computes its result but never returns it."""
    if value is None:
        fail(f"{what} returned None: did you forget `return`?",
             "a function without a `return` statement gives back None, whatever it computed")


def as_array(value: Any, what: str) -> np.ndarray:
    """``value`` as a float64 NumPy array (Tensors and CuPy arrays included), or fail saying why."""
    from tinygrad_mb.backend import to_numpy  # noqa: PLC0415
    from tinygrad_mb.tensor import Tensor  # noqa: PLC0415

    returned_none(value, what)
    if isinstance(value, Tensor):
        value = value.numpy()
    if isinstance(value, (str, bytes)) or getattr(value, "dtype", None) is not None and value.dtype.kind in "SU":
        # np.asarray("-24", dtype=float) reads the text as a number: an answer in quotes would pass
        fail(f"{what}: expected numbers, got text ({_short(value)}); write the number without quotes")
    try:
        return np.asarray(to_numpy(value) if hasattr(value, "__cuda_array_interface__") else value,
                          dtype=np.float64)
    except (TypeError, ValueError):
        fail(f"{what}: expected numbers, got {type(value).__name__} ({_short(value)})")
    return np.empty(0)  # unreachable


def as_number(value: Any, what: str, hint: str | None = None) -> float:
    """``value`` -- a number, or a one-element array, list or Tensor -- as a float, or fail saying why.

    ``hint`` replaces the general advice when the answer has several elements
    (a checker often knows which mistake produces an array).
    """
    array = as_array(value, what)
    if array.size != 1:
        fail(f"{what}: expected one number, got {type(value).__name__} of shape {array.shape} ({_short(array)})",
             hint or "return a single number: pick the element you mean (e.g. [-1]) or reduce the array "
             "(e.g. .sum(), .max())")
    return float(array.reshape(-1)[0])


#: Relative tolerances that an answer computed in float32 (about 7 significant digits, a few of them lost
#: to rounding on the way) or float16 (about 3) can meet.
FLOAT32_RTOL = 1e-5
FLOAT16_RTOL = 2e-3


def rtol_for(value: Any, rtol: float) -> float:
    """``rtol``, loosened to what ``value``'s dtype can hold when it is a float32/float16 array, scalar or Tensor."""
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        return rtol
    if np.dtype(dtype) == np.float16:
        return max(rtol, FLOAT16_RTOL)
    if np.dtype(dtype) == np.float32:
        return max(rtol, FLOAT32_RTOL)
    return rtol


def show_both(expected: Any, got: Any, digits: int = 6) -> tuple[str, str]:
    """``expected`` and ``got`` (numbers or arrays) as text, with more digits than ``digits`` if needed to
    show that they differ -- so a message never reads "expected 0.4, got 0.4"."""
    def text(value: Any, d: int) -> str:
        array = np.asarray(value, dtype=np.float64)
        if array.ndim == 0:
            return f"{float(array):.{d}g}"
        return np.array2string(array, separator=", ", formatter={"float_kind": lambda v: f"{v:.{d}g}"},
                               max_line_width=200).replace("\n", "")

    for d in range(digits, 18):
        e, g = text(expected, d), text(got, d)
        if e != g:
            break
    return e, g


def compare(got: Any, expected: Any, what: str, rtol: float = 1e-6, atol: float = 1e-9,
            hint: str | Callable[[np.ndarray, np.ndarray], str | None] | None = None,
            inputs: np.ndarray | None = None) -> None:
    """Fail unless ``got`` has ``expected``'s shape and values (within ``atol + rtol * |expected|``).

    The message names the first element that differs (by its input value when
    ``inputs``, of the same shape, is given). ``hint`` may be a function of
    ``(got, expected)`` that recognises a typical mistake.
    """
    g = as_array(got, what)
    e = np.asarray(expected, dtype=np.float64)
    if g.shape != e.shape:
        fail(f"{what}: expected shape {e.shape}, got shape {g.shape}",
             "return one value per input element, with the input's shape")
    if not np.all(np.isfinite(g)) and np.all(np.isfinite(e)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(g))[0])
        fail(f"{what}: got a non-finite value {g[bad]} at index {bad} (expected {e[bad]:.6g})",
             "look for an overflow (exp of a large number) or a division by zero")
    wrong = ~np.isclose(g, e, rtol=rtol, atol=atol)
    if wrong.any():
        idx = tuple(int(i) for i in np.argwhere(wrong)[0])
        at = f" at index {idx}" if idx else ""
        if inputs is not None and np.shape(inputs) == e.shape:
            at = f" at x = {np.asarray(inputs)[idx]:g}"
        text = hint(g, e) if callable(hint) else hint
        shown_e, shown_g = show_both(e[idx], g[idx])
        fail(f"{what}{at}: expected {shown_e}, got {shown_g}", text)
