"""Adagrad and RMSprop: a step size for each weight, from the size of its own past gradients.

Both divide the gradient by a running measure of its magnitude, so a weight
whose gradients are large takes small steps and one whose gradients are small
takes large ones. They differ in how long they remember. With g = p.grad,
exactly as PyTorch's ``torch.optim.Adagrad`` and ``torch.optim.RMSprop``:

Adagrad (Duchi, Hazan & Singer, 2011) sums every squared gradient so far::

    g = g + wd * p                      (L2 weight decay)
    s = s + g^2                         (s starts at initial_accumulator_value)
    p = p - lr * g / (sqrt(s) + eps)

The sum only grows, so the steps only shrink: fine for a convex problem or
rare features, too cautious for a long non-convex run.

RMSprop (Hinton's lecture notes, 2012) forgets: a running mean instead of a sum::

    g = g + wd * p
    v = alpha * v + (1 - alpha) * g^2   (v starts at 0)
    d = g / (sqrt(v) + eps)
    buf = momentum * buf + d;  d = buf  (only when momentum > 0; buf starts at 0)
    p = p - lr * d

Adam (:mod:`tinygrad_mb.optim.adam`) is RMSprop's denominator with momentum's
numerator, plus a correction for both averages starting at zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tinygrad_mb.backend import array_module
from tinygrad_mb.optim.optimizer import Optimizer, check_range
from tinygrad_mb.optim.update import add_scaled_
from tinygrad_mb.tensor import Tensor, new_version


def _with_weight_decay(g: Any, p: Tensor, wd: float) -> Any:
    """g + wd * p in a new array (the L2 penalty's gradient); g itself when wd is 0."""
    return g + wd * p.data if wd else g


class Adagrad(Optimizer):
    """Adagrad: steps divided by the root of all squared gradients so far (equations in the module docstring).

    Args:
        params: the parameters to update.
        lr: step size >= 0 (default 1e-2, PyTorch's).
        eps: > 0, keeps the division safe while the sum is 0 (default 1e-10).
        weight_decay: L2 penalty wd >= 0.
        initial_accumulator_value: >= 0, the sum's starting value, read at the
            parameter's first step (PyTorch reads it in the constructor).

    PyTorch's ``lr_decay`` (lr / (1 + (t - 1) * lr_decay); a schedule does the
    same job here), ``maximize`` and speed options are not offered.

    Raises:
        HyperparameterError: a value is outside its valid range.
    """

    state_names = ("step", "sum")

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-2, eps: float = 1e-10, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0):
        hyper = {"lr": lr, "eps": eps, "weight_decay": weight_decay,
                 "initial_accumulator_value": initial_accumulator_value}
        self._validate(**hyper)
        super().__init__(params, hyper)

    def _validate(self, **hyper: Any) -> None:
        check_range("lr", hyper["lr"], owner="Adagrad")
        check_range("eps", hyper["eps"], 0.0, low_open=True, owner="Adagrad")
        check_range("weight_decay", hyper["weight_decay"], owner="Adagrad")
        check_range("initial_accumulator_value", hyper["initial_accumulator_value"], owner="Adagrad")

    def step(self) -> None:
        """One Adagrad update of every parameter that has a gradient, in place on ``p.data``."""
        self._check_grads()  # everything checked before anything is written
        version = new_version()  # for every parameter written: graphs that used the old values refuse backward
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue
            xp = array_module(p.data)
            if not state:
                state["step"] = 0
                state["sum"] = xp.full_like(p.data, self.initial_accumulator_value)
            state["step"] += 1
            g, total = _with_weight_decay(p.grad, p, self.weight_decay), state["sum"]
            # One scratch array (out=: a 0-d product would be a NumPy scalar, not writable in place).
            work = xp.multiply(g, g, out=xp.empty_like(total))
            total += work
            xp.sqrt(total, out=work)
            work += self.eps
            xp.divide(g, work, out=work)
            add_scaled_(p.data, -self._lr, work)
            p._version = version


class RMSprop(Optimizer):
    """RMSprop: steps divided by the root of a running mean of squared gradients (equations in the module docstring).

    Args:
        params: the parameters to update.
        lr: step size >= 0 (default 1e-2, PyTorch's).
        alpha: in [0, 1), how much of the running mean is kept each step (default 0.99).
        eps: > 0, added to the root so the division is safe (default 1e-8).
        weight_decay: L2 penalty wd >= 0.
        momentum: in [0, 1); momentum on the divided step (default 0: none).

    PyTorch's ``centered`` variant (dividing by the root of the running
    variance instead), ``maximize`` and speed options are not offered.

    Raises:
        HyperparameterError: a value is outside its valid range.
    """

    state_names = ("step", "square_avg", "momentum_buffer")
    optional_state = ("momentum_buffer",)  # made on the first step with momentum > 0

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0):
        hyper = {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay, "momentum": momentum}
        self._validate(**hyper)
        super().__init__(params, hyper)

    def _validate(self, **hyper: Any) -> None:
        check_range("lr", hyper["lr"], owner="RMSprop")
        check_range("alpha", hyper["alpha"], 0.0, 1.0, owner="RMSprop")
        check_range("eps", hyper["eps"], 0.0, low_open=True, owner="RMSprop")
        check_range("weight_decay", hyper["weight_decay"], owner="RMSprop")
        check_range("momentum", hyper["momentum"], 0.0, 1.0, owner="RMSprop")

    def step(self) -> None:
        """One RMSprop update of every parameter that has a gradient, in place on ``p.data``."""
        self._check_grads()  # everything checked before anything is written
        alpha, mu = self.alpha, self.momentum
        version = new_version()  # for every parameter written: graphs that used the old values refuse backward
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue
            xp = array_module(p.data)
            if not state:
                state["step"] = 0
                state["square_avg"] = xp.zeros_like(p.data)
            state["step"] += 1
            g, v = _with_weight_decay(p.grad, p, self.weight_decay), state["square_avg"]
            work = xp.multiply(g, g, out=xp.empty_like(v))
            v *= alpha
            add_scaled_(v, 1.0 - alpha, work)  # v += (1 - alpha) g^2
            xp.sqrt(v, out=work)
            work += self.eps
            xp.divide(g, work, out=work)  # d = g / (sqrt(v) + eps)
            if mu:
                buf = state.get("momentum_buffer")
                if buf is None:  # made on first use: momentum may also be switched on later
                    buf = state["momentum_buffer"] = xp.zeros_like(p.data)
                buf *= mu
                buf += work
                work = buf
            add_scaled_(p.data, -self._lr, work)
            p._version = version
