"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay.

The update, exactly as PyTorch's ``torch.optim.SGD`` (g = p.grad, lr = eta):

    d = g + wd * p                           (L2 weight decay)
    buf = d                                  (first step)
    buf = mu * buf + (1 - dampening) * d     (later steps)
    d = d + mu * buf    if nesterov   else   d = buf        (only when mu > 0)
    p = p - lr * d

Momentum keeps a running, exponentially weighted sum of past gradients: along
a direction where gradients agree it builds up speed (up to 1/(1 - mu) times
the plain step), across directions where they alternate it averages them out.
Nesterov's variant takes the step from the point momentum is about to carry
the weights to, which damps oscillation a little more.

"Stochastic" refers to where ``g`` comes from (one sample, a mini-batch, or the
full batch): the optimizer is the same for all three; only the data loader's
batch size changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tinygrad_mb.backend import array_module
from tinygrad_mb.errors import HyperparameterError
from tinygrad_mb.optim.optimizer import Optimizer, check_range
from tinygrad_mb.optim.update import add_scaled_
from tinygrad_mb.tensor import Tensor, new_version


class SGD(Optimizer):
    """Stochastic gradient descent (see the module docstring for the equations).

    Args:
        params: the parameters to update (e.g. ``model.parameters()``).
        lr: learning rate eta >= 0.
        momentum: mu in [0, 1); 0 is plain gradient descent.
        dampening: in [0, 1]; scales the new gradient's share of the momentum buffer.
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening = 0).
        weight_decay: L2 penalty wd >= 0, added to the gradient as wd * p.

    PyTorch's ``maximize`` and its speed options (``foreach``, ``fused``,
    ``differentiable``) are not offered.

    Raises:
        HyperparameterError: a value is outside its valid range.
    """

    state_names = ("momentum_buffer",)

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0):
        hyper = {"lr": lr, "momentum": momentum, "dampening": dampening, "nesterov": nesterov,
                 "weight_decay": weight_decay}
        self._validate(**hyper)
        super().__init__(params, hyper)

    def _validate(self, **hyper: Any) -> None:
        check_range("lr", hyper["lr"], owner="SGD")
        check_range("momentum", hyper["momentum"], 0.0, 1.0, owner="SGD")
        check_range("dampening", hyper["dampening"], 0.0, 1.0, high_open=False, owner="SGD")
        check_range("weight_decay", hyper["weight_decay"], owner="SGD")
        if hyper["nesterov"] not in (True, False):
            raise HyperparameterError(f"SGD: nesterov must be True or False, got {hyper['nesterov']!r}")
        if hyper["nesterov"] and (hyper["momentum"] <= 0 or hyper["dampening"] != 0):
            raise HyperparameterError(
                f"SGD: nesterov=True needs momentum > 0 and dampening = 0, got momentum={hyper['momentum']}, "
                f"dampening={hyper['dampening']}; set momentum (e.g. 0.9) or nesterov=False"
            )

    def step(self) -> None:
        """One update of every parameter that has a gradient, in place on ``p.data``.

        Written to allocate as little as possible, since it runs after every
        sample in pure SGD: at most two temporary arrays per parameter, and
        ``p.grad`` is only read (``fresh`` tracks whether ``d`` is a temporary
        we may overwrite). The last line is one sweep through memory, not two
        (see :mod:`tinygrad_mb.optim.update`).
        """
        self._check_grads()  # everything checked before anything is written
        lr, mu, wd = self._lr, self.momentum, self.weight_decay
        # One version for every parameter this step writes: graphs that used the old values refuse backward.
        version = new_version()
        if not (mu or wd):  # plain gradient descent: p -= lr * g, and nothing else to compute
            for p in self.params:
                if p.grad is not None:
                    add_scaled_(p.data, -lr, p.grad)
                    p._version = version
            return
        damp, nesterov = self.dampening, self.nesterov
        for p, state in zip(self.params, self.state):
            g = p.grad
            if g is None:
                continue
            if wd:  # d = g + wd * p, in a new array (out=: NumPy makes a scalar of a 0-d product,
                # and the in-place edits below would then change a copy)
                xp = array_module(g)
                d = xp.multiply(p.data, wd, out=xp.empty_like(p.data))
                d += g
                fresh = True
            else:
                d, fresh = g, False
            if mu:
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = d.copy(order="K")  # same memory layout as p
                else:
                    buf *= mu
                    add_scaled_(buf, 1.0 - damp, d)
                if nesterov:  # d = d + mu * buf
                    if fresh:
                        add_scaled_(d, mu, buf)
                    else:
                        d = buf * mu
                        d += g
                else:
                    d = buf
            add_scaled_(p.data, -lr, d)  # p -= lr * d, in one sweep where BLAS allows
            p._version = version
