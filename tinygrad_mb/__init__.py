"""tinygrad_mb: a small autograd engine for comparing batch, stochastic and mini-batch gradient descent.

The public surface, re-exported here::

    from tinygrad_mb import Tensor, no_grad, gradcheck
    from tinygrad_mb import nn, optim, data, gd
"""

from tinygrad_mb import backend, ops
from tinygrad_mb.backend import get_backend, set_backend, use_backend
from tinygrad_mb.creation import (
    arange, eye, full, full_like, ones, ones_like, rand, rand_like, randn, randn_like, zeros, zeros_like,
)
from tinygrad_mb.errors import (
    ArgumentTypeError, BackendError, BackendMismatchError, BackendUnavailableError, BackwardError, DataError,
    DTypeError, GradcheckError, GraphReleasedError, HyperparameterError, LabelError, SaveLoadError, ShapeError,
    StateDictError, TinygradMBError,
)
from tinygrad_mb.gradcheck import gradcheck
from tinygrad_mb.ops import concatenate, cross_entropy, linear, mse_loss, stack, where
from tinygrad_mb.tensor import Function, Tensor, is_grad_enabled, no_grad

# The layers above the engine (they import it, never the other way round).
from tinygrad_mb import data, nn, optim  # noqa: E402,I001
from tinygrad_mb import gd  # noqa: E402  (plots import matplotlib only when drawing)
from tinygrad_mb.serialization import load, save  # noqa: E402

#: The version of this package (setup.cfg reads it from here).
__version__ = "0.1.0"


# PyTorch's top-level names a student may reach for, and what to write here.
_TORCH_NAMES = {
    "cat": "tg.concatenate(tensors, axis=0)", "from_numpy": "tg.Tensor(array)",
    "set_grad_enabled": "with tg.no_grad(): ...", "manual_seed": "seed=... of each layer, loader or gd.train",
    "cuda": "tg.set_backend('cupy') (or .to('cupy'))", "device": "a backend name, 'numpy' or 'cupy'",
}


def __getattr__(name: str):
    # ``tinygrad_mb.testing`` needs hypothesis (a test dependency): load it on first use only.
    if name == "testing":
        import importlib  # noqa: PLC0415

        return importlib.import_module("tinygrad_mb.testing")
    # Reached only for names the module does not have, so the hints cost nothing otherwise.
    hint = f" (PyTorch's name); here use {_TORCH_NAMES[name]}" if name in _TORCH_NAMES else ""
    raise AttributeError(f"module 'tinygrad_mb' has no attribute {name!r}{hint}")

__all__ = [
    "Tensor", "Function", "no_grad", "is_grad_enabled", "gradcheck",
    "nn", "optim", "data", "gd", "save", "load",
    "backend", "ops", "get_backend", "set_backend", "use_backend",
    "zeros", "ones", "full", "arange", "eye", "randn", "rand",
    "zeros_like", "ones_like", "full_like", "randn_like", "rand_like",
    "concatenate", "stack", "where", "linear", "cross_entropy", "mse_loss",
    "TinygradMBError", "ArgumentTypeError", "ShapeError", "BackendError", "BackendMismatchError",
    "BackendUnavailableError", "BackwardError", "GraphReleasedError", "GradcheckError",
    "DTypeError", "DataError", "HyperparameterError", "LabelError", "SaveLoadError", "StateDictError",
    "__version__",
]
