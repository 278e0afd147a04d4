"""Neural-network building blocks with PyTorch's names.

    from tinygrad_mb import nn
    import tinygrad_mb.nn.functional as F

    model = nn.Sequential(nn.Linear(64, 32, seed=0), nn.ReLU(), nn.Linear(32, 10, seed=1))
    loss = nn.CrossEntropyLoss()(model(x), y)

* :mod:`~tinygrad_mb.nn.module` -- Module, Parameter, Sequential, ModuleList, ModuleDict
* :mod:`~tinygrad_mb.nn.layers` -- Linear, activations, Flatten, Dropout
* :mod:`~tinygrad_mb.nn.conv` -- Conv2d, MaxPool2d
* :mod:`~tinygrad_mb.nn.normalization` -- BatchNorm1d
* :mod:`~tinygrad_mb.nn.losses` -- MSELoss, CrossEntropyLoss, NLLLoss, BCEWithLogitsLoss
* :mod:`~tinygrad_mb.nn.functional` -- the same as functions; :mod:`~tinygrad_mb.nn.init` -- initialisers
"""

from tinygrad_mb.nn import functional, init
from tinygrad_mb.nn.conv import Conv2d, MaxPool2d
from tinygrad_mb.nn.layers import (
    Dropout, Flatten, Identity, LeakyReLU, Linear, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh,
)
from tinygrad_mb.nn.losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from tinygrad_mb.nn.module import Module, ModuleDict, ModuleList, Parameter, Sequential
from tinygrad_mb.nn.normalization import BatchNorm1d

__all__ = [
    "functional", "init", "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Linear", "ReLU",
    "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Identity", "Flatten", "Dropout", "BatchNorm1d", "Conv2d",
    "MaxPool2d", "MSELoss", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss",
]


def __getattr__(name: str) -> object:
    """PyTorch's name for a loss this package has in another, stable form: say which to use."""
    if name == "BCELoss":
        raise AttributeError(
            "nn has no BCELoss (on probabilities); drop the nn.Sigmoid() at the end of the model and use "
            "nn.BCEWithLogitsLoss(), which is the same loss, computed stably from the logits"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

