"""Learning-rate schedules: change ``optimizer.lr`` as training goes on.

Every schedule is a closed-form function of the step count t (how many times
``schedule.step()`` was called) and the base learning rate lr0 (the
optimizer's lr when the first schedule was attached)::

    StepLR             lr0 * gamma^(t // step_size)
    ExponentialLR      lr0 * gamma^t
    CosineAnnealingLR  eta_min + (lr0 - eta_min) * (1 + cos(pi * min(t, T_max) / T_max)) / 2
    LinearWarmup       lr0 * (f + (1 - f) * min(t, warmup_steps) / warmup_steps),  f = start_factor

and two ways to combine them:

    SequentialLR([warmup, cosine], milestones=[k])   warmup for t < k, then cosine at t - k
    ChainedScheduler([warmup, decay])                 each one applied to the previous one's output

Use: ``schedule = StepLR(opt, step_size=10)``, then call ``schedule.step()``
once per epoch (or per update: the unit is yours) after ``opt.step()``.
Creating a schedule already sets ``optimizer.lr`` to its value at t = 0.

Where PyTorch differs, on purpose:

* Its CosineAnnealingLR rises again after ``T_max``; this one stays at ``eta_min``.
* Its StepLR, ExponentialLR and LinearLR multiply the optimizer's *current* lr
  at each step, so an lr set by hand carries on into later epochs. Here the
  schedule is a formula of t, and ``schedule.step()`` overwrites a hand-set lr.
* There is no ``last_epoch`` argument: to resume, create the schedule as before
  and call ``load_state_dict`` with what ``state_dict()`` saved.
* ``LinearWarmup`` is PyTorch's ``LinearLR`` with ``end_factor=1`` under a
  clearer name (``warmup_steps`` is its ``total_iters``; default start 0.1, not 1/3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral

import numpy as np

from tinygrad_mb.errors import HyperparameterError, StateDictError
from tinygrad_mb.optim.optimizer import Optimizer, check_range


def _is_count(value: object) -> bool:
    """An integer (Python's or NumPy's), not a bool: for step counts and milestones."""
    return isinstance(value, Integral) and not isinstance(value, bool)


class LRScheduler:
    """Base class: subclasses write ``lr_at(t, base_lr)``, the learning rate after t steps."""

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise HyperparameterError(
                f"{type(self).__name__}: expected an Optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        if optimizer.initial_lr is None:  # the first schedule remembers the lr it started from
            optimizer.initial_lr = optimizer.lr
        self.base_lr = optimizer.initial_lr
        self.last_step = 0
        optimizer.lr = self.get_lr()

    def lr_at(self, t: int, base_lr: float) -> float:  # pragma: no cover - abstract
        """The learning rate after ``t`` calls of ``step()``, starting from ``base_lr`` (closed form)."""
        raise NotImplementedError(f"{type(self).__name__}.lr_at is not written")

    def get_lr(self) -> float:
        """The learning rate for the current step count."""
        return self.lr_at(self.last_step, self.base_lr)

    @property
    def lr(self) -> float:
        """The optimizer's current learning rate."""
        return self.optimizer.lr

    def step(self) -> float:
        """Advance one step and set ``optimizer.lr``; returns the new learning rate."""
        self.last_step += 1
        self.optimizer.lr = lr = self.get_lr()
        return lr

    def state_dict(self) -> dict[str, np.ndarray]:
        """The step count and base learning rate (all a closed-form schedule needs).

        As 0-d arrays, like :meth:`Optimizer.state_dict`, so that
        :func:`tinygrad_mb.save` can write them. The settings (``gamma``,
        ``T_max``, ...) are not saved, unlike PyTorch's: they come from the code
        that creates the schedule again.
        """
        return {"last_step": np.array(self.last_step), "base_lr": np.array(self.base_lr)}

    def load_state_dict(self, state: dict) -> None:
        """Restore the step count and base lr, and set ``optimizer.lr`` accordingly.

        Everything is checked before anything changes: a bad state leaves the
        schedule and the optimizer as they were. The optimizer's ``initial_lr``
        becomes the saved base too, so a schedule attached after resuming
        starts from the same lr as in the uninterrupted run.
        """
        owner = f"{type(self).__name__}.load_state_dict"
        missing = [key for key in ("last_step", "base_lr") if key not in state]
        if missing:
            raise StateDictError(f"{owner}: missing {missing}; pass what {type(self).__name__}.state_dict() returned")
        # np.savez / np.load give 0-d arrays back for plain numbers: take their values
        last_step, base_lr = (v.item() if np.ndim(v) == 0 and hasattr(v, "item") else v
                              for v in (state["last_step"], state["base_lr"]))
        if not _is_count(last_step) or last_step < 0:
            raise StateDictError(f"{owner}: last_step must be an int >= 0, got {last_step!r}")
        base_lr = check_range("base_lr", base_lr, owner=owner)
        lr = check_range("lr", self.lr_at(int(last_step), base_lr), owner=owner)
        self.last_step, self.base_lr = int(last_step), base_lr
        self.optimizer.initial_lr = base_lr
        self.optimizer.lr = lr

    def __repr__(self) -> str:
        return f"{type(self).__name__}(step={self.last_step}, lr={self.lr:.6g})"


class StepLR(LRScheduler):
    """lr0 * gamma^(t // step_size): multiply by ``gamma`` every ``step_size`` steps."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        if not _is_count(step_size) or step_size < 1:
            raise HyperparameterError(f"StepLR: invalid step_size={step_size!r}; it must be an int >= 1")
        self.step_size = int(step_size)
        self.gamma = check_range("gamma", gamma, 0.0, low_open=True, owner="StepLR")
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float) -> float:
        return base_lr * self.gamma ** (t // self.step_size)


class ExponentialLR(LRScheduler):
    """lr0 * gamma^t: multiply by ``gamma`` every step."""

    def __init__(self, optimizer: Optimizer, gamma: float):
        self.gamma = check_range("gamma", gamma, 0.0, low_open=True, owner="ExponentialLR")
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float) -> float:
        return base_lr * self.gamma**t


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from lr0 down to ``eta_min`` over ``T_max`` steps, then constant at eta_min."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):  # noqa: N803 (PyTorch's name)
        if not _is_count(T_max) or T_max < 1:
            raise HyperparameterError(f"CosineAnnealingLR: invalid T_max={T_max!r}; it must be an int >= 1")
        self.T_max = int(T_max)
        self.eta_min = check_range("eta_min", eta_min, owner="CosineAnnealingLR")
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float) -> float:
        progress = min(t, self.T_max) / self.T_max
        return self.eta_min + (base_lr - self.eta_min) * (1.0 + math.cos(math.pi * progress)) / 2.0


class LinearWarmup(LRScheduler):
    """Ramp linearly from start_factor * lr0 to lr0 over ``warmup_steps`` steps, then stay at lr0.

    Large learning rates can blow up the first steps, while the weights are
    random and the gradients large; warming up avoids that.
    """

    def __init__(self, optimizer: Optimizer, warmup_steps: int, start_factor: float = 0.1):
        if not _is_count(warmup_steps) or warmup_steps < 1:
            raise HyperparameterError(
                f"LinearWarmup: invalid warmup_steps={warmup_steps!r}; it must be an int >= 1"
            )
        self.warmup_steps = int(warmup_steps)
        self.start_factor = check_range("start_factor", start_factor, 0.0, 1.0, low_open=True, high_open=False,
                                        owner="LinearWarmup")
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float) -> float:
        f = self.start_factor
        return base_lr * (f + (1.0 - f) * min(t, self.warmup_steps) / self.warmup_steps)


def _check_children(owner: str, optimizer: Optimizer, schedulers: Sequence[LRScheduler]) -> list[LRScheduler]:
    schedulers = list(schedulers)
    if not schedulers:
        raise HyperparameterError(f"{owner}: needs at least one schedule")
    for s in schedulers:
        if not isinstance(s, LRScheduler) or s.optimizer is not optimizer:
            raise HyperparameterError(f"{owner}: every schedule must be an LRScheduler of the same optimizer")
    return schedulers


class SequentialLR(LRScheduler):
    """One schedule after another: ``schedulers[i]`` runs from ``milestones[i-1]`` on, restarted at 0.

    ``SequentialLR(opt, [LinearWarmup(opt, 5), CosineAnnealingLR(opt, 95)], milestones=[5])``
    warms up for 5 steps, then anneals over the next 95.
    """

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int]):
        self.schedulers = _check_children("SequentialLR", optimizer, schedulers)
        self.milestones = list(milestones)
        if len(self.milestones) != len(self.schedulers) - 1:
            raise HyperparameterError(
                f"SequentialLR: {len(self.schedulers)} schedules need {len(self.schedulers) - 1} milestones, "
                f"got {self.milestones}"
            )
        if any(not _is_count(m) or m < 1 for m in self.milestones) or self.milestones != sorted(
                set(self.milestones)):
            raise HyperparameterError(
                f"SequentialLR: milestones must be increasing ints >= 1, got {self.milestones}"
            )
        self.milestones = [int(m) for m in self.milestones]
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float) -> float:
        start = 0
        active = self.schedulers[0]
        for milestone, schedule in zip(self.milestones, self.schedulers[1:]):
            if t >= milestone:
                start, active = milestone, schedule
        return active.lr_at(t - start, base_lr)


class ChainedScheduler(LRScheduler):
    """All schedules at once, each applied to the previous one's output.

    For multiplicative schedules this multiplies their factors:
    ``ChainedScheduler(opt, [LinearWarmup(opt, 5), ExponentialLR(opt, 0.99)])``
    decays exponentially while the first 5 steps also ramp up, exactly as
    PyTorch's ChainedScheduler does. A cosine with ``eta_min > 0`` is not a pure
    factor: after another schedule it gives ``eta_min + (lr - eta_min) * c(t)``
    of that schedule's lr, while PyTorch's (a recursion on the current lr)
    drifts slightly from that.
    """

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler]):
        self.schedulers = _check_children("ChainedScheduler", optimizer, schedulers)
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float) -> float:
        lr = base_lr
        for schedule in self.schedulers:
            lr = schedule.lr_at(t, lr)
        return lr
