"""Every error tinygrad_mb raises on purpose.

All of them derive from :class:`TinygradMBError`, so ``except TinygradMBError``
catches anything the library itself rejected. Each also derives from the
built-in exception a Python programmer would expect (``ValueError`` for a bad
value, ``TypeError`` for a wrong kind of object, ...), so existing code that
catches those keeps working.

A message should say three things: what went wrong, the offending values
(shapes, dtypes, names), and what to do about it.
"""

from __future__ import annotations

import os
import sys
import warnings


class TinygradMBError(Exception):
    """Base class of every error raised by tinygrad_mb."""


# --- arrays and backends ----------------------------------------------------
class ShapeError(TinygradMBError, ValueError):
    """Operands have shapes the operation cannot combine."""


class DTypeError(TinygradMBError, TypeError):
    """A dtype is not allowed here (e.g. integer tensor asked to require grad)."""


class ArgumentTypeError(TinygradMBError, TypeError):
    """Something of the wrong kind was given (a list where layers go, a 0-d tensor to iterate, ...)."""


class BackendError(TinygradMBError, ValueError):
    """Unknown backend name or an array of an unsupported type."""


class BackendUnavailableError(BackendError, RuntimeError):
    """CuPy was requested but CuPy or a usable GPU is missing."""


class BackendMismatchError(BackendError, TypeError):
    """One operation received NumPy and CuPy tensors together."""


# --- autograd ---------------------------------------------------------------
class BackwardError(TinygradMBError, RuntimeError):
    """``backward()`` cannot run (non-scalar output, no graph, ...)."""


class GraphReleasedError(BackwardError):
    """A second backward pass went through a graph that was already freed."""


class GradcheckError(TinygradMBError, AssertionError):
    """Analytic and numeric gradients disagree (raised by ``gradcheck``)."""


# --- models, training and data ----------------------------------------------
class StateDictError(TinygradMBError, KeyError):
    """A state dict or saved file does not match the model or optimizer."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class LabelError(TinygradMBError, ValueError):
    """Targets given to a loss are out of range, of the wrong shape or dtype."""


class HyperparameterError(TinygradMBError, ValueError):
    """An optimizer, schedule, layer or variant got an invalid setting."""


class DataError(TinygradMBError, ValueError):
    """A dataset, loader or data file is malformed or inconsistent."""


class SaveLoadError(TinygradMBError, OSError):
    """A model file could not be written or read (corrupt, not .npz, ...)."""


class LossInputWarning(UserWarning):
    """A loss got the output of an activation it applies itself, e.g. softmax's output in cross_entropy."""


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn_user(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` pointed at the first line outside tinygrad_mb: the user's own line.

    Python shows a warning once per line it points at, so pointing at the
    user's line (not at the library's) shows it once for each place in the
    user's code, however many times a training loop runs through it.
    """
    level, frame = 2, sys._getframe(1)  # stacklevel 2 is the caller of this function
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
