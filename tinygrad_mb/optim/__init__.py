"""Optimizers and learning-rate schedules, with PyTorch's names and update equations.

    from tinygrad_mb import optim

    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = optim.StepLR(opt, step_size=10, gamma=0.5)

* :mod:`~tinygrad_mb.optim.optimizer` -- the Optimizer base class
* :mod:`~tinygrad_mb.optim.sgd` -- SGD (momentum, Nesterov, weight decay)
* :mod:`~tinygrad_mb.optim.adam` -- Adam, AdamW
* :mod:`~tinygrad_mb.optim.adaptive` -- Adagrad, RMSprop
* :mod:`~tinygrad_mb.optim.schedules` -- StepLR, ExponentialLR, CosineAnnealingLR, LinearWarmup,
  SequentialLR, ChainedScheduler
"""

from tinygrad_mb.optim.adam import Adam, AdamW
from tinygrad_mb.optim.adaptive import Adagrad, RMSprop
from tinygrad_mb.optim.optimizer import Optimizer
from tinygrad_mb.optim.schedules import (
    ChainedScheduler, CosineAnnealingLR, ExponentialLR, LinearWarmup, LRScheduler, SequentialLR, StepLR,
)
from tinygrad_mb.optim.sgd import SGD

__all__ = [
    "Optimizer", "SGD", "Adam", "AdamW", "Adagrad", "RMSprop", "LRScheduler", "StepLR", "ExponentialLR",
    "CosineAnnealingLR", "LinearWarmup", "SequentialLR", "ChainedScheduler",
]
