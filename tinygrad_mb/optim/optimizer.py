"""The Optimizer base class: a list of parameters, hyper-parameters and per-parameter state.

An optimizer turns gradients into weight changes. The loop is always::

    optimizer.zero_grad()     # forget last step's gradients
    loss = loss_fn(model(x), y)
    loss.backward()           # fill p.grad for every parameter
    optimizer.step()          # p.data <- p.data - (something computed from p.grad)

Updates are made IN PLACE on ``p.data``, so the model and the optimizer keep
sharing the same Parameter objects; ``p.grad`` is only read. Parameters whose
``grad`` is None (not used in this loss) are skipped. Each step gives every
parameter it updates a new version (``p._version = new_version()``), so a graph
recorded before the step refuses backward() instead of returning gradients
computed from the new weights (see :class:`~tinygrad_mb.tensor.Tensor`):
compute the loss again after ``step()``.

Subclasses list their hyper-parameters in ``defaults`` (each becomes an
attribute, e.g. ``optimizer.momentum``) and their per-parameter state names in
``state_names``; the base class handles validation messages, ``zero_grad`` and
saving/loading.

Where PyTorch differs, on purpose:

* One set of hyper-parameters for all parameters: there are no
  ``param_groups``. For a different lr per layer, make one optimizer per group
  of parameters and call ``step()`` on each.
* Some ranges are checked more strictly: momentum and RMSprop's alpha must be
  below 1, eps above 0, dampening in [0, 1]. PyTorch accepts those values, and
  they make the update diverge or divide by zero.
* Parameters none of which requires grad are refused; PyTorch accepts them,
  and its step then never moves anything. (Frozen parameters among trained ones
  are accepted and skipped, as in PyTorch.)
* ``step()`` checks every gradient against its parameter (backend, shape,
  dtype) before it writes anything: ``.grad`` is checked when assigned, but
  ``p.data`` may have been replaced since. PyTorch's step would move the
  parameters before the bad one and then fail.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from numbers import Real
from typing import Any

import numpy as np

from tinygrad_mb import backend
from tinygrad_mb.errors import HyperparameterError, StateDictError, TinygradMBError
from tinygrad_mb.tensor import Tensor, _checked_gradient


def check_range(name: str, value: Any, low: float = 0.0, high: float = math.inf, low_open: bool = False,
                high_open: bool = True, owner: str = "optimizer") -> float:
    """Return ``value`` as a float, or raise HyperparameterError naming it, its value and the valid range."""
    ok = isinstance(value, Real) and not isinstance(value, bool) and not math.isnan(value)
    if ok:
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        ok = above and below
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise HyperparameterError(f"{owner}: invalid {name}={value!r}; it must be a number in {interval}")
    return float(value)


class Optimizer:
    """Base class: holds ``params`` (a list), ``lr`` and per-parameter ``state`` dicts.

    Args:
        params: an iterable of Parameters (e.g. ``model.parameters()``): leaf
            tensors, each once, at least one of them requiring grad. Frozen ones
            (``requires_grad=False``) are kept and skipped, as in PyTorch.
        defaults: the hyper-parameters by name; each becomes an attribute.

    Raises:
        HyperparameterError: ``params`` is empty (or a used-up iterator), holds
            something other than a Tensor, a tensor twice, a non-leaf tensor, or
            no tensor that requires grad.
    """

    state_names: tuple[str, ...] = ()  # per-parameter state saved by state_dict (subclasses set it)
    optional_state: tuple[str, ...] = ()  # those of state_names made only when needed (may be absent)

    def __init__(self, params: Iterable[Tensor], defaults: Mapping[str, Any]):
        owner = type(self).__name__
        if callable(params) and not isinstance(params, Iterable):  # model.parameters without the ()
            raise HyperparameterError(f"{owner}: params is the method itself; call it: model.parameters()")
        if isinstance(params, Tensor):  # iterating it would hand over its rows, each a new non-leaf tensor
            raise HyperparameterError(f"{owner}: params is one Tensor; pass an iterable of them, e.g. [w]")
        if isinstance(params, Mapping):  # iterating it would give the names
            raise HyperparameterError(f"{owner}: params is a dict; pass its tensors, params.values()")
        self.params: list[Tensor] = list(params)
        if not self.params:
            used_up = "" if isinstance(params, (list, tuple)) else (
                ". An iterator (model.parameters(), a generator) is used up by the first optimizer given it: "
                "call model.parameters() again for a second optimizer, or keep list(model.parameters())")
            raise HyperparameterError(
                f"{owner} got an empty parameter list; pass model.parameters() of a model that has weights{used_up}"
            )
        seen: dict[int, int] = {}
        for i, p in enumerate(self.params):
            if isinstance(p, Mapping):
                raise HyperparameterError(
                    f"{owner}: params[{i}] is a dict: parameter groups are not supported; make one optimizer "
                    "per group (each with its own lr) and call step() on each"
                )
            if not isinstance(p, Tensor):
                raise HyperparameterError(
                    f"{owner}: params[{i}] is a {type(p).__name__}, not a Tensor; pass model.parameters()"
                )
            if id(p) in seen:  # it would be updated twice per step
                raise HyperparameterError(
                    f"{owner}: params[{i}] is the same tensor as params[{seen[id(p)]}]; pass each parameter once "
                    "(model.parameters() does: a weight shared by two layers appears once)"
                )
            seen[id(p)] = i
            if not p.is_leaf and not p._retains_grad:  # as PyTorch: its .grad stays None, it never moves
                raise HyperparameterError(
                    f"{owner}: params[{i}] is not a leaf tensor (it is the result of {type(p._ctx).__name__}); "
                    "an optimizer updates the tensors a model is computed from: pass those, or "
                    "t.detach().requires_grad_() for a new leaf with t's values"
                )
        if not any(p.requires_grad for p in self.params):  # frozen ones among others are fine (fine-tuning)
            raise HyperparameterError(
                f"{owner}: none of the {len(self.params)} parameters requires grad, so none would ever get a "
                "gradient or move; create them with requires_grad=True (nn.Parameter does) or call "
                "t.requires_grad_()"
            )
        self.initial_lr: float | None = None  # set by the first LR schedule attached
        self._set_checked(defaults)
        self.defaults = dict(defaults)
        self.state: list[dict[str, Any]] = [{} for _ in self.params]

    def __setattr__(self, name: str, value: Any) -> None:
        # ``optimizer.momentum = 5`` after construction gets the same check as the constructor's
        # (lr has its own property); otherwise a bad value would only show as a diverging run.
        defaults = self.__dict__.get("defaults")
        if defaults is not None and name in defaults and name != "lr":
            self._validate(**{**self.hyperparameters(), name: value})
        object.__setattr__(self, name, value)

    def _set_checked(self, hyper: Mapping[str, Any]) -> None:
        """Set hyper-parameters already checked together (one at a time, a valid set could fail half-way)."""
        for name, value in hyper.items():
            if name == "lr":
                self.lr = value
            else:
                object.__setattr__(self, name, value)

    @property
    def lr(self) -> float:
        """The learning rate; schedules change it between steps."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = check_range("lr", value, owner=type(self).__name__)

    def hyperparameters(self) -> dict[str, Any]:
        """The current hyper-parameters by name (lr included)."""
        return {name: getattr(self, name) for name in self.defaults}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``p.grad = None`` (cheaper), or zeros in place with ``set_to_none=False``.

        In place keeps the gradient arrays (and any reference to them) alive and
        filled with zeros, as PyTorch's ``zero_grad(set_to_none=False)`` does.
        """
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad[...] = 0

    def step(self) -> None:  # pragma: no cover - abstract
        """Update every parameter with a gradient, in place, and give it a new ``_version``.

        Subclasses call ``_check_grads()`` first, so that a bad gradient stops
        the step before any parameter or state has changed.
        """
        raise NotImplementedError(f"{type(self).__name__}.step is not written")

    def _check_grads(self) -> None:
        """Raise, before anything is written, if some ``p.grad`` cannot update ``p``.

        A gradient must be an array of its parameter's backend, shape and dtype.
        Otherwise NumPy would broadcast a (1,)- or (n,)-shaped gradient into every
        row without a word, cast another dtype into the state (a float64 momentum
        buffer for a float32 weight), or fail on a later parameter, after the
        earlier ones had moved. Run at every step, so kept to a few comparisons
        per parameter (about 0.2 us; one more for a parameter with state, whose
        buffers must have followed it through model.to); the message is built
        only on failure.
        """
        for p, state in zip(self.params, self.state):
            g = p.grad
            if g is not None:
                data = p.data
                if type(g) is not type(data) or g.shape != data.shape or (
                        g.dtype is not data.dtype and g.dtype != data.dtype):
                    self._refuse_grad(p, g)
                for value in state.values():  # (plain SGD keeps no state: nothing to compare)
                    if hasattr(value, "dtype"):  # its buffers are made and moved together: one tells for all
                        if type(value) is not type(data) or value.dtype != data.dtype:
                            self._follow_parameter(data, state)
                        break

    @staticmethod
    def _follow_parameter(data: Any, state: dict[str, Any]) -> None:
        """Move a parameter's state to its dtype and backend, which ``model.to(...)`` changed after some steps.

        Otherwise a float32 momentum buffer would keep rounding a float64 weight's updates (NumPy casts
        in-place results down without a word), and a NumPy buffer could not update a CuPy weight.
        """
        for name, value in state.items():
            if hasattr(value, "dtype") and (type(value) is not type(data) or value.dtype != data.dtype):
                state[name] = backend.to_backend(value, backend.backend_of(data)).astype(data.dtype, order="K")

    def _refuse_grad(self, p: Tensor, g: Any) -> None:
        """The error for a gradient ``_check_grads`` flagged (returns if it is fine after all)."""
        i = next(k for k, q in enumerate(self.params) if q is p)
        try:
            _checked_gradient(p, g, f"{type(self).__name__}.step: params[{i}].grad")  # the checks of .grad's setter
        except TinygradMBError as exc:
            raise type(exc)(f"{exc}; nothing was updated (was p.data replaced after backward()?)") from None

    # --- saving and loading ---------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """A flat name -> NumPy array dict, savable with :func:`tinygrad_mb.save`.

        Hyper-parameters appear as 0-d arrays under their names (``"lr"``,
        ``"momentum"``, ...); per-parameter state as ``"<index>.<name>"``, e.g.
        ``"0.momentum_buffer"`` for ``params[0]``. Arrays are copies.
        """
        out: OrderedDict[str, np.ndarray] = OrderedDict()
        for name, value in self.hyperparameters().items():
            out[name] = np.array(value)
        for i, state in enumerate(self.state):
            for name in self.state_names:
                if name in state:
                    value = state[name]
                    array = backend.to_numpy(value) if hasattr(value, "dtype") else np.array(value)
                    # order="K": the parameter's memory layout (nn.Linear's weights are column-major), so a
                    # loaded state is updated by the same BLAS path, and a resumed run matches bit for bit
                    out[f"{i}.{name}"] = array.copy(order="K") if array is value else array
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore hyper-parameters and per-parameter state, after checking all of it.

        Raises:
            StateDictError: a hyper-parameter is missing, a key is unknown, or a
                state array's shape does not match its parameter or it holds
                something other than numbers. Nothing is changed in that case.
            HyperparameterError: a saved hyper-parameter value is invalid.
        """
        owner = type(self).__name__
        if not isinstance(state, Mapping):
            raise StateDictError(f"{owner}.load_state_dict expects a mapping, got {type(state).__name__}")
        missing = [name for name in self.defaults if name not in state]
        if missing:
            raise StateDictError(
                f"{owner}.load_state_dict: missing hyper-parameters {missing}; was it saved from another optimizer?"
            )
        per_param: list[dict[str, Any]] = [{} for _ in self.params]
        for key, value in state.items():
            if key in self.defaults:
                continue
            index, _, name = key.partition(".")
            if not index.isdigit() or int(index) >= len(self.params) or name not in self.state_names:
                raise StateDictError(
                    f"{owner}.load_state_dict: unexpected key {key!r}; expected hyper-parameters "
                    f"{list(self.defaults)} and '<i>.<state>' with i < {len(self.params)} and state in "
                    f"{list(self.state_names)}"
                )
            p = self.params[int(index)]
            value = np.asarray(backend.to_numpy(value.data if isinstance(value, Tensor) else value))
            expected = () if name == "step" else tuple(p.shape)
            if tuple(value.shape) != expected:
                raise StateDictError(
                    f"{owner}.load_state_dict: shape mismatch for {key!r}: the parameter needs {expected}, "
                    f"the state dict has {tuple(value.shape)}; was it saved for a different model?"
                )
            if value.dtype.kind not in "biuf":  # converted here, so that a bad value fails before any change
                raise StateDictError(
                    f"{owner}.load_state_dict: {key!r} holds {value.dtype} values, not numbers; "
                    "was the state dict edited or saved by another program?"
                )
            if name == "step":  # a count: t <= 0 would divide by 1 - b1^t = 0 in Adam's next step
                if value.dtype.kind == "b" or not np.isfinite(value) or value < 0 or value != np.floor(value):
                    raise StateDictError(
                        f"{owner}.load_state_dict: {key!r} is {value.item()!r}; a step count must be a whole number "
                        ">= 0. Was the state dict edited or saved by another program?"
                    )
                value = int(value)
            # a copy in the parameter's dtype and memory layout (see state_dict)
            layout = "F" if p.data.flags.f_contiguous and not p.data.flags.c_contiguous else "C"
            per_param[int(index)][name] = value if name == "step" else np.array(value, dtype=p.dtype, order=layout)
        required = [name for name in self.state_names if name not in self.optional_state]
        for i, new in enumerate(per_param):  # a parameter's state is all there or absent (never stepped)
            missing_state = [name for name in required if name not in new]
            if new and missing_state:
                raise StateDictError(
                    f"{owner}.load_state_dict: parameter {i} has state {sorted(new)} but lacks "
                    f"{missing_state}; the state dict is incomplete: save it again with optimizer.state_dict()"
                )
        hyper = {name: state[name] for name in self.defaults}
        for name, value in hyper.items():  # saved as 0-d arrays (np.savez keeps no Python numbers)
            if hasattr(value, "shape"):
                value = backend.to_numpy(value.data if isinstance(value, Tensor) else value)
                if value.size != 1:
                    raise StateDictError(
                        f"{owner}.load_state_dict: {name!r} holds {value.size} values of shape {value.shape}; a "
                        "hyper-parameter is one number. Was the state dict edited or saved by another program?"
                    )
                hyper[name] = value.item()
        self._validate(**hyper)
        # All checked: now assign.
        self._set_checked(hyper)
        for p, new, old in zip(self.params, per_param, self.state):
            old.clear()
            for name, value in new.items():
                old[name] = value if name == "step" else backend.to_backend(value, p.backend)

    def _validate(self, **hyper: Any) -> None:
        """Raise HyperparameterError for invalid values (subclasses check their own)."""
        check_range("lr", hyper["lr"], owner=type(self).__name__)

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({len(self.params)} parameters, {settings})"
