"""Adam and AdamW: momentum plus a per-weight step size from the gradient's running scale.

At step t (counted from 1 for each parameter), with g = p.grad:

    g = g + wd * p                          (Adam only: L2 weight decay inside the gradient)
    m = b1 * m + (1 - b1) * g               first moment: running mean of g
    v = b2 * v + (1 - b2) * g^2             second moment: running mean of g^2
    m_hat = m / (1 - b1^t)                  bias correction: m and v start at 0,
    v_hat = v / (1 - b2^t)                  so early averages are too small
    p = p - lr * m_hat / (sqrt(v_hat) + eps)

AdamW (Loshchilov & Hutter) *decouples* weight decay from the gradient: it
shrinks the weights directly, p = p - lr * wd * p, before the Adam step, so the
decay is not rescaled by 1/sqrt(v_hat) like the gradient is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from tinygrad_mb.backend import array_module
from tinygrad_mb.errors import HyperparameterError
from tinygrad_mb.optim.optimizer import Optimizer, check_range
from tinygrad_mb.optim.update import add_scaled_
from tinygrad_mb.tensor import Tensor, new_version


class Adam(Optimizer):
    """Adam with bias correction (equations in the module docstring; PyTorch's defaults).

    Args:
        params: the parameters to update.
        lr: step size >= 0 (default 1e-3).
        betas: (b1, b2), each in [0, 1) (default (0.9, 0.999)).
        eps: > 0, added to sqrt(v_hat) so the division is safe (default 1e-8).
        weight_decay: >= 0; L2 penalty for Adam, decoupled decay for AdamW.

    PyTorch's ``amsgrad``, ``maximize`` and its speed options (``foreach``,
    ``fused``, ``capturable``, ``differentiable``) are not offered.

    Raises:
        HyperparameterError: a value is outside its valid range.
    """

    state_names = ("step", "exp_avg", "exp_avg_sq")
    decoupled = False  # AdamW sets True

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        b1, b2 = self._pair(betas)
        hyper = {"lr": lr, "beta1": b1, "beta2": b2, "eps": eps, "weight_decay": weight_decay}
        self._validate(**hyper)
        super().__init__(params, hyper)

    def _pair(self, betas: Any) -> tuple[Any, Any]:
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise HyperparameterError(f"{type(self).__name__}: betas must be a pair (b1, b2), got {betas!r}")
        return betas[0], betas[1]

    @property
    def betas(self) -> tuple[float, float]:
        """(beta1, beta2); settable as a pair, checked like the constructor's."""
        return (self.beta1, self.beta2)

    @betas.setter
    def betas(self, value: tuple[float, float]) -> None:
        b1, b2 = self._pair(value)
        self._validate(**{**self.hyperparameters(), "beta1": b1, "beta2": b2})
        self._set_checked({"beta1": b1, "beta2": b2})

    def _validate(self, **hyper: Any) -> None:
        owner = type(self).__name__
        check_range("lr", hyper["lr"], owner=owner)
        check_range("beta1", hyper["beta1"], 0.0, 1.0, owner=owner)
        check_range("beta2", hyper["beta2"], 0.0, 1.0, owner=owner)
        check_range("eps", hyper["eps"], 0.0, low_open=True, owner=owner)
        check_range("weight_decay", hyper["weight_decay"], owner=owner)

    def step(self) -> None:
        """One Adam update of every parameter that has a gradient, in place on ``p.data``."""
        self._check_grads()  # everything checked before anything is written
        lr, b1, b2, eps, wd = self._lr, self.beta1, self.beta2, self.eps, self.weight_decay
        version = new_version()  # for every parameter written: graphs that used the old values refuse backward
        for p, state in zip(self.params, self.state):
            g = p.grad
            if g is None:
                continue
            if not state:
                xp = array_module(p.data)
                state["step"] = 0
                state["exp_avg"] = xp.zeros_like(p.data)
                state["exp_avg_sq"] = xp.zeros_like(p.data)
            state["step"] = t = state["step"] + 1
            m, v = state["exp_avg"], state["exp_avg_sq"]
            if wd:
                if self.decoupled:
                    p.data *= 1.0 - lr * wd
                else:
                    g = g + wd * p.data
            m *= b1
            add_scaled_(m, 1.0 - b1, g)  # m += (1 - b1) g, one sweep (see optim.update)
            # The one scratch array of this step, reused below (out=: for a 0-d parameter
            # g * g would be a NumPy scalar, which the out= calls below cannot write into).
            xp = array_module(m)
            work = xp.multiply(g, g, out=xp.empty_like(m))
            v *= b2
            add_scaled_(v, 1.0 - b2, work)
            # p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)  ==  the m_hat / v_hat form
            xp.sqrt(v, out=work)
            work *= 1.0 / math.sqrt(1.0 - b2**t)
            work += eps
            xp.divide(m, work, out=work)
            add_scaled_(p.data, -lr / (1.0 - b1**t), work)
            p._version = version


class AdamW(Adam):
    """Adam with decoupled weight decay: p = p - lr * wd * p before each Adam step (default wd 1e-2)."""

    decoupled = True

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
