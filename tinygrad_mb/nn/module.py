"""Module, Parameter and Sequential: how a network keeps track of its weights.

A :class:`Module` is a box of named *parameters* (tensors an optimizer
updates), *buffers* (tensors it keeps but does not train, such as BatchNorm's
running statistics) and *child modules*. Assigning an attribute registers it::

    class MLP(Module):
        def __init__(self):
            super().__init__()
            self.fc1 = Linear(64, 32)      # a child module
            self.fc2 = Linear(32, 10)

        def forward(self, x):
            return self.fc2(self.fc1(x).relu())

    MLP().named_parameters()  ->  fc1.weight, fc1.bias, fc2.weight, fc2.bias

Values live in the instance ``__dict__`` as usual (so ``self.weight`` is a
plain, fast attribute read); the module only remembers *which names* are
parameters, buffers and children, in the order they were assigned.
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from tinygrad_mb import backend
from tinygrad_mb.errors import ArgumentTypeError, DTypeError, StateDictError
from tinygrad_mb.tensor import Tensor, checked_backend, new_version, numpy_dtype


class Parameter(Tensor):
    """A Tensor that is a trainable weight of a Module: ``requires_grad=True`` by default.

    It is an ordinary :class:`Tensor` in every other respect (no extra slots,
    so it costs nothing more); assigning one to a Module attribute registers it.
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None, backend: str | None = None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, backend=backend)

    def __repr__(self) -> str:
        return "Parameter" + super().__repr__()[len("Tensor"):]


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(..., strict=False)`` returns: the names it could not match (as in PyTorch)."""

    #: Names the model has but the state dict lacks (those parameters and buffers kept their values).
    missing_keys: list[str]
    #: Names in the state dict that the model does not have (ignored).
    unexpected_keys: list[str]


def _holds_layers(container: list | tuple | dict, seen: set[int] | None = None) -> bool:
    """Whether a plain list, tuple or dict holds a Module or Parameter, at any depth of nesting."""
    seen = set() if seen is None else seen
    if id(container) in seen:  # a list inside itself
        return False
    seen.add(id(container))
    for item in container.values() if isinstance(container, dict) else container:
        if isinstance(item, (Module, Parameter)):
            return True
        if isinstance(item, (list, tuple, dict)) and _holds_layers(item, seen):
            return True
    return False


def _copy_to_numpy(array: Any) -> np.ndarray:
    """A NumPy copy of ``array`` that shares no memory with it."""
    out = backend.to_numpy(array)
    return out.copy() if out is array else out


class Module:
    """Base class of every layer and model.

    Subclasses call ``super().__init__()`` first, assign parameters, buffers
    (:meth:`register_buffer`) and child modules as attributes, and write
    ``forward``. Calling the module calls ``forward``.

    Attributes:
        training: True in training mode (the default), False after ``eval()``;
            Dropout and BatchNorm1d behave differently in the two.
    """

    # Buffers a layer gained after state dicts without them were saved (BatchNorm1d's
    # num_batches_tracked): such a state dict still loads, and the buffer keeps its value.
    keys_added_later: tuple[str, ...] = ()

    def __init__(self) -> None:
        d = self.__dict__
        d["training"] = True
        d["_parameter_names"] = {}  # dicts used as ordered sets of names
        d["_buffer_names"] = {}
        d["_module_names"] = {}

    # --- registration --------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameter_names" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() ran; call super().__init__() first in "
                f"{type(self).__name__}.__init__"
            )
        params, buffers, modules = self._parameter_names, self._buffer_names, self._module_names
        if isinstance(value, (Parameter, Module)):
            # An instance attribute may be replaced by assignment, as in PyTorch; methods and `training` may not.
            self._check_registry_name(name, value, instance_attributes=name == "training")
        # A name belongs to one registry at a time; re-assigning may move it.
        if isinstance(value, Parameter):
            buffers.pop(name, None)
            modules.pop(name, None)
            params[name] = None
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = None
        elif name in buffers and (value is None or isinstance(value, Tensor)):
            pass  # replacing a buffer's tensor keeps it a buffer
        elif name in params and value is None:
            pass  # e.g. ``self.bias = None``: stays listed, skipped while iterating
        elif name in modules and value is None:
            pass  # a sub-module slot left empty: stays listed, skipped while iterating (as in PyTorch)
        elif name in modules:
            raise ArgumentTypeError(
                f"cannot assign a {type(value).__name__} as sub-module {name!r} of {type(self).__name__}: it must "
                f"be a Module or None (a plain function can be wrapped in a Module's forward); to remove the "
                f"sub-module, use del self.{name} first"
            )
        elif name in params or name in buffers:
            # Silently dropping the name would leave a layer whose weight is not trained or saved.
            kind, needed = ("parameter", "a Parameter (nn.Parameter(...))") if name in params else (
                "buffer", "a Tensor (or use register_buffer)")
            raise ArgumentTypeError(
                f"cannot assign a {type(value).__name__} as {kind} {name!r} of {type(self).__name__}: it must be "
                f"{needed} or None; to change its values in place, assign to {name}.data; to remove it, "
                f"use del self.{name} first"
            )
        elif isinstance(value, (list, tuple, dict)) and _holds_layers(value):
            # parameters() only walks registered names, so layers inside a plain container are lost.
            if isinstance(value, dict):
                fix = "use nn.ModuleDict({...}) for layers by name"
            elif any(isinstance(v, (list, tuple, dict)) for v in value):
                fix = "use nn.ModuleList([...]) for layers, and for nested lists a ModuleList of ModuleLists"
            else:
                fix = "use nn.ModuleList([...]) for layers"
            raise ArgumentTypeError(
                f"cannot assign a {type(value).__name__} of layers or parameters as {name!r} of "
                f"{type(self).__name__}: the model would not see them, so they would never be trained or saved; "
                f"{fix} (or register each Parameter as its own attribute)"
            )
        else:
            for registry in (params, buffers, modules):
                registry.pop(name, None)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameter_names, self._buffer_names, self._module_names):
            registry.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor: Tensor | None) -> None:
        """Keep ``tensor`` as state that is saved and moved with the module but not trained.

        Buffers appear in :meth:`state_dict` and move with :meth:`to`, but not
        in :meth:`parameters`. BatchNorm's running mean and variance are buffers.
        """
        self._check_registry_name(name, tensor)
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(tensor)
        self._parameter_names.pop(name, None)
        self._module_names.pop(name, None)
        self._buffer_names[name] = None
        object.__setattr__(self, name, tensor)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Same as ``setattr(self, name, param)`` (``None`` reserves the name, e.g. no bias)."""
        if param is not None and not isinstance(param, Parameter):
            raise ArgumentTypeError(
                f"register_parameter({name!r}, ...) needs a Parameter or None, got a {type(param).__name__}; "
                f"wrap the values: nn.Parameter(...) (or use register_buffer for state that is not trained)"
            )
        self._check_registry_name(name, param)
        self._buffer_names.pop(name, None)
        self._module_names.pop(name, None)
        self._parameter_names[name] = None
        object.__setattr__(self, name, param)

    def _check_registry_name(self, name: Any, value: Any, instance_attributes: bool = True) -> None:
        """ArgumentTypeError for a name a parameter, buffer or sub-module cannot have.

        A dot would make a state-dict key that reads as a path into a sub-module; a name the class
        or (with ``instance_attributes``) the instance already uses otherwise (``forward``, ``eval``,
        ``training``) would be overwritten, and the model would fail far from here (PyTorch refuses
        them too).
        """
        if not isinstance(name, str) or not name or "." in name:
            raise ArgumentTypeError(f"{type(self).__name__}: {name!r} cannot name a parameter, buffer or sub-module: "
                                    "use a non-empty name without dots, e.g. 'weight' or 'layer_1'")
        registered = name in self._parameter_names or name in self._buffer_names or name in self._module_names
        if not registered and (hasattr(type(self), name) or (instance_attributes and name in self.__dict__)):
            raise ArgumentTypeError(
                f"{type(self).__name__}: cannot register a {type(value).__name__} as {name!r}: the module already "
                f"has an attribute of that name ({type(getattr(self, name)).__name__}); choose another name"
            )

    # --- walking the tree -------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules with their attribute names."""
        for name in self._module_names:
            module = self.__dict__.get(name)
            if module is not None:
                yield name, module

    def children(self) -> Iterator[Module]:
        """The direct sub-modules."""
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "", remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """This module and all below it, depth first, with dotted names ("" for itself).

        A module used in several places is listed once, unless ``remove_duplicate``
        is False (as in PyTorch): then under each of its names, which is what
        :meth:`state_dict` lists. A module inside itself is never entered twice.
        """
        seen: set[int] = set()
        stack = [(prefix, self, frozenset())]
        while stack:
            name, module, above = stack.pop()
            if id(module) in above or (remove_duplicate and id(module) in seen):
                continue
            seen.add(id(module))
            yield name, module
            inside = above | {id(module)}
            below = [(f"{name}.{child_name}" if name else child_name, child, inside)
                     for child_name, child in module.named_children()]
            stack.extend(reversed(below))

    def modules(self) -> Iterator[Module]:
        """This module and all below it, depth first."""
        seen: set[int] = set()
        stack = [self]
        while stack:
            module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield module
            children = module.__dict__
            stack.extend(children[name] for name in reversed(module._module_names) if children.get(name) is not None)

    def _named_tensors(self, registry: str) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()  # a tensor shared by two layers is listed once, like PyTorch
        for prefix, module in self.named_modules():
            for name in getattr(module, registry):
                tensor = module.__dict__.get(name)
                if tensor is None or id(tensor) in seen:
                    continue
                seen.add(id(tensor))
                yield (f"{prefix}.{name}" if prefix else name), tensor

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """All parameters with dotted names such as ``"0.weight"`` or ``"fc1.bias"``."""
        return self._named_tensors("_parameter_names")

    def parameters(self) -> Iterator[Parameter]:
        """All parameters (what you hand to an optimizer), each once, in ``named_parameters`` order."""
        return iter(self._tensor_list("_parameter_names"))

    def _tensor_list(self, registry: str) -> list[Tensor]:
        # The same walk as _named_tensors without building names: zero_grad() and
        # parameters() may run once per training step, so keep them cheap.
        out: list[Tensor] = []
        seen: set[int] = set()
        for module in self.modules():
            values = module.__dict__
            for name in getattr(module, registry):
                tensor = values.get(name)
                if tensor is not None and id(tensor) not in seen:
                    seen.add(id(tensor))
                    out.append(tensor)
        return out

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        """All buffers (saved, not trained) with dotted names."""
        return self._named_tensors("_buffer_names")

    def buffers(self) -> Iterator[Tensor]:
        """All buffers."""
        return iter(self._tensor_list("_buffer_names"))

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Total number of scalar weights (only those with requires_grad if asked)."""
        return sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only)

    # --- modes and gradients ------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Switch this module and every sub-module to training mode (or eval with mode=False)."""
        if mode not in (True, False):  # train("no") would read as True
            raise ArgumentTypeError(f"train(mode) takes True or False, got {mode!r}; for evaluation use .eval()")
        for module in self.modules():
            module.__dict__["training"] = bool(mode)
        return self

    def eval(self) -> Module:
        """Switch to evaluation mode: Dropout passes inputs through, BatchNorm uses running stats."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (``False``) or unfreeze every parameter of this module and its sub-modules; returns self.

        A frozen parameter gets no gradient, so the optimizer leaves it as it is:
        ``model.features.requires_grad_(False)`` trains only the rest (fine-tuning).
        """
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def apply(self, fn: Any) -> Module:
        """Call ``fn(module)`` on every sub-module, then on this one (children first, as PyTorch); returns self.

        The usual use is initialisation: ``model.apply(init_weights)`` with a
        function that re-draws the weights of the ``Linear`` layers it is given.
        """
        self._apply_once(fn, set())
        return self

    def _apply_once(self, fn: Any, entered: set[int]) -> None:
        # Each module once, also one shared by several parents (tied layers): fn often scales or counts.
        entered.add(id(self))
        for child in self.children():
            if id(child) not in entered:
                child._apply_once(fn, entered)
        fn(self)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget all accumulated gradients: ``p.grad = None``, or zeros in place with ``set_to_none=False``."""
        for p in self._tensor_list("_parameter_names"):
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad[...] = 0

    def to(self, backend_name: str | None = None, dtype: Any = None) -> Module:
        """Move every parameter and buffer (and gradient) to a backend and/or dtype, in place.

        The Parameter objects stay the same, so an optimizer created before
        still updates them; create it *after* moving if it already has state
        (momentum buffers stay where they were made).
        """
        if backend_name is not None:  # model.to(torch.float64) or model.to("cuda") get the fix named
            backend_name = checked_backend(backend_name, "model.to", "pass it by keyword: model.to(dtype={dtype})")
        if dtype is not None:  # checked before any tensor changes
            dtype = numpy_dtype(dtype)
            if dtype.kind not in "fc":
                raise DTypeError(
                    f"{type(self).__name__}.to: dtype must be floating point or complex (e.g. 'float32'), got "
                    f"{dtype}; parameters need floating-point values to have gradients"
                )
        for t in list(self.parameters()) + list(self.buffers()):
            for attr in ("data", "grad"):
                array = getattr(t, attr)
                if array is None:
                    continue
                if backend_name is not None and backend.backend_of(array) != backend_name:
                    array = backend.to_backend(array, backend_name)
                if dtype is not None and array.dtype.kind == "f":  # integer buffers keep their type
                    array = array.astype(dtype)
                setattr(t, attr, array)
        return self

    # --- saving and loading ---------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Every parameter and buffer as a NumPy *copy*, by dotted name (the order of ``named_*``).

        The copies are independent of the model: training further does not
        change a state dict taken earlier.
        """
        state: OrderedDict[str, np.ndarray] = OrderedDict()
        for name, tensor in self._state_tensors().items():
            state[name] = _copy_to_numpy(tensor.data)
        return state

    def _state_tensors(self) -> OrderedDict[str, Tensor]:
        """Parameters and buffers by dotted name, module by module (PyTorch's order).

        A tensor or sub-module used in two places (tied weights) is listed under
        both names, as PyTorch's ``state_dict`` does, so state dicts keep the same
        keys in both libraries; loading writes it once per name.
        """
        tensors: OrderedDict[str, Tensor] = OrderedDict()
        for prefix, module in self.named_modules(remove_duplicate=False):
            for name in (*module._parameter_names, *module._buffer_names):
                tensor = module.__dict__.get(name)
                if tensor is not None:
                    tensors[f"{prefix}.{name}" if prefix else name] = tensor
        return tensors

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy values from ``state`` into the parameters and buffers, after checking *everything*.

        Every key, shape and dtype is checked before anything is written, so a
        failed load leaves the model exactly as it was.

        Args:
            state: name -> array (NumPy or CuPy) or Tensor, e.g. from :meth:`state_dict`
                or :func:`tinygrad_mb.load`.
            strict: if True (default), the keys must match exactly; if False,
                keys missing from ``state`` keep their current values and extra keys
                are ignored. Shapes and dtypes of the keys that are loaded must match
                either way.

        Returns:
            ``IncompatibleKeys(missing_keys, unexpected_keys)``, both empty when strict.

        Raises:
            StateDictError: naming the offending key with both shapes or dtypes.
        """
        if not isinstance(state, Mapping):
            raise StateDictError(
                f"load_state_dict expects a mapping name -> array, got {type(state).__name__}; "
                "pass model.state_dict() or tinygrad_mb.load(path)"
            )
        targets = self._state_tensors()
        # A tied tensor is listed under each of its names; a state dict that has it under
        # one of them (as state dicts saved before 2026-12-02 do) has loaded it.
        present = {id(targets[k]) for k in targets if k in state}
        missing = [k for k in targets if k not in state and id(targets[k]) not in present]
        if missing:  # not missing: buffers that older state dicts of their layer cannot have
            owners = dict(self.named_modules(remove_duplicate=False))  # every name of a shared layer
            missing = [k for k in missing
                       if k.rpartition(".")[2] not in owners[k.rpartition(".")[0]].keys_added_later]
        unexpected = [k for k in state if k not in targets]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing keys {missing} (in the model, not in the state dict)")
            if unexpected:
                parts.append(f"unexpected keys {unexpected} (in the state dict, not in the model)")
            raise StateDictError(
                f"load_state_dict into {type(self).__name__}: " + "; ".join(parts)
                + ". Was it saved from a model with a different architecture? Build the same model, "
                "or pass strict=False to load only the matching keys."
            )
        arrays = {}
        for key, tensor in targets.items():
            if key not in state:
                continue
            value = state[key]
            value = value.data if isinstance(value, Tensor) else value
            if not (hasattr(value, "shape") and hasattr(value, "dtype")):
                raise StateDictError(
                    f"load_state_dict: value for {key!r} is a {type(value).__name__}, not an array; "
                    "state dicts map names to NumPy/CuPy arrays"
                )
            if not isinstance(value, (np.ndarray, np.generic)) and backend.backend_of(value) != "cupy":
                # A PyTorch tensor has a shape and a dtype too, but NumPy cannot read torch's dtype.
                raise StateDictError(
                    f"load_state_dict: value for {key!r} is a {type(value).__module__}.{type(value).__name__}, "
                    "not a NumPy/CuPy array; for a PyTorch state dict pass {k: v.detach().cpu().numpy() for k, v "
                    "in state.items()}"
                )
            if tuple(value.shape) != tuple(tensor.shape):
                raise StateDictError(
                    f"load_state_dict: shape mismatch for {key!r}: the model has {tuple(tensor.shape)}, "
                    f"the state dict has {tuple(value.shape)}; the layer sizes differ from the saved model's"
                )
            if np.dtype(value.dtype) != np.dtype(tensor.dtype):
                raise StateDictError(
                    f"load_state_dict: dtype mismatch for {key!r}: the model has {tensor.dtype}, "
                    f"the state dict has {value.dtype}; convert one of them, e.g. model.to(dtype='{value.dtype}')"
                )
            arrays[key] = value
        # Everything checked: now write, in place, so the Parameter objects (and
        # any optimizer holding them) stay the same.
        version = new_version()
        for key, value in arrays.items():
            tensor = targets[key]
            tensor.data[...] = backend.to_backend(value, tensor.backend)
            tensor._version = version  # graphs recorded before the load refuse backward (see Tensor)
        return IncompatibleKeys(missing if not strict else [], unexpected if not strict else [])

    # --- calling and printing ---------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation of this module; subclasses define it (calling the module calls it)."""
        raise NotImplementedError(f"{type(self).__name__} has no forward(); define forward(self, x)")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        """The settings shown inside the parentheses of this module's repr, e.g. ``in_features=4``."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, child in self.named_children():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}({extra}" if extra else f"{type(self).__name__}("
        return head + "\n" + "\n".join(lines) + "\n)"


class ModuleList(Module):
    """A list of layers whose parameters belong to the model: ``ModuleList([Linear(8, 8) for _ in range(3)])``.

    A plain Python list of layers is invisible to ``parameters()``, so they
    would never be trained or saved; a ModuleList registers each one (named
    ``"0"``, ``"1"``, ...). It has no ``forward``: the model that holds it
    decides how its layers are used. Supports ``len``, iteration, ``lst[i]``,
    ``lst[i:j]`` (a new list sharing the same layers), ``append`` and ``extend``.
    """

    def __init__(self, modules: Iterable[Module] = ()):
        super().__init__()
        self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        """Add a layer at the end, named by the next number not taken.

        That is ``str(len(self))`` unless a slice kept its old names (``seq[1:]``
        holds "1" and "2"): then the next free number, never an existing name,
        which would silently replace that layer.
        """
        number = len(self)
        while str(number) in self._module_names:
            number += 1
        self._add(str(number), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Add several layers at the end, in order."""
        for module in modules:
            self.append(module)
        return self

    def _add(self, name: str, module: Any) -> None:
        if not isinstance(module, Module):
            if isinstance(module, type) and issubclass(module, Module):  # nn.ReLU for nn.ReLU()
                layer = module.__name__
                fix = f"{layer} is a layer class, not a layer: call it, {layer}(), with its arguments"
            elif isinstance(module, (list, tuple)):  # Sequential([a, b]) for Sequential(a, b)
                fix = f"pass the layers themselves, not a {type(module).__name__}: {type(self).__name__}(*layers)"
            else:
                fix = "wrap functions in a Module or use layers such as ReLU()"
            raise ArgumentTypeError(
                f"{type(self).__name__}: item {name!r} is a {type(module).__name__}, not a Module; {fix}"
            )
        setattr(self, name, module)

    def __len__(self) -> int:
        return len(self._module_names)

    def __iter__(self) -> Iterator[Module]:
        return self.children()

    def __getitem__(self, index: int | slice) -> Module:
        layers = list(self.named_children())
        if isinstance(index, slice):
            return self._sliced(layers[index])
        if not isinstance(index, int):
            index = self._checked_index(index, [name for name, _ in layers])
        if not -len(layers) <= index < len(layers):
            raise IndexError(f"{type(self).__name__} index {index} out of range for {len(layers)} layers")
        return layers[index][1]

    def _checked_index(self, index: Any, names: list[str]) -> int:
        """An index that is not an int, as an int (NumPy integers), or a clear error saying what to use."""
        kind = type(self).__name__
        if isinstance(index, str):
            if index in names:  # e.g. seq["fc"] on Sequential(OrderedDict(fc=...)), or seq["0"]
                position = names.index(index)
                fix = f"this one has a layer named {index!r}: use [{position}]"
                fix += f" or the attribute .{index}" if index.isidentifier() else ""
            else:
                fix = "get a layer by its position, e.g. [0] or [-1]"
                if isinstance(self, Sequential):
                    fix += ("; a Sequential built from a dict, Sequential(OrderedDict(fc=...)), "
                            "also has each layer as an attribute, e.g. .fc")
            raise ArgumentTypeError(f"{kind} layers are numbered, not looked up by a string like {index!r}; {fix}")
        try:
            position = operator.index(index)  # NumPy integers are fine
        except TypeError:
            example = f"[{int(index)}]" if isinstance(index, float) and index.is_integer() else "[int(i)]"
            raise ArgumentTypeError(
                f"{kind} index must be an int or a slice, got a {type(index).__name__} ({index!r}); "
                f"use an int, e.g. {example}"
            ) from None
        return position

    def _sliced(self, named: list[tuple[str, Module]]) -> Module:
        return ModuleList(module for _, module in named)  # renumbered from "0", as PyTorch does


class Sequential(ModuleList):
    """Layers applied one after the other: ``Sequential(Linear(4, 8), ReLU(), Linear(8, 1))``.

    A :class:`ModuleList` with a ``forward`` that feeds each layer's output to
    the next. Children are named ``"0"``, ``"1"``, ... (or by the keys of a dict
    passed as the only argument). ``seq[i:j]`` is a new Sequential sharing the
    same layers, under the same names.
    """

    def __init__(self, *layers: Module | Mapping[str, Module]):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], Mapping):
            named = list(layers[0].items())
        else:
            named = [(str(i), layer) for i, layer in enumerate(layers)]
        for name, layer in named:
            self._add(name, layer)

    def _sliced(self, named: list[tuple[str, Module]]) -> Module:
        return Sequential(OrderedDict(named))

    def forward(self, x: Any) -> Any:
        modules = self.__dict__
        for name in self._module_names:
            x = modules[name](x)
        return x


class ModuleDict(Module):
    """Layers by name whose parameters belong to the model: ``ModuleDict({"age": Linear(8, 1), "sex": Linear(8, 2)})``.

    A plain Python dict of layers is invisible to ``parameters()``, so they
    would never be trained or saved; a ModuleDict registers each one under its
    key, so its weights are named ``"<attribute>.<key>.weight"`` as in PyTorch.
    It has no ``forward``: the model that holds it decides how its layers are
    used (e.g. one head per target). Supports ``d[key]``, ``d[key] = layer``,
    ``del d[key]``, ``len``, ``key in d``, iteration over the keys (in the order
    they were added), ``keys()``, ``values()`` and ``items()``.
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] = ()):
        super().__init__()
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for pair in pairs:
            if not (isinstance(pair, tuple) and len(pair) == 2):  # ModuleDict([a, b]): a list needs names
                raise ArgumentTypeError(
                    f"ModuleDict needs a dict {{key: layer}} or (key, layer) pairs, got a {type(pair).__name__} "
                    f"item; for layers without names use nn.ModuleList"
                )
            self[pair[0]] = pair[1]

    def _checked_key(self, key: Any) -> str:
        # Keys become parts of dotted state-dict names and attributes of this module.
        if not isinstance(key, str):
            raise ArgumentTypeError(
                f"ModuleDict keys must be strings, got a {type(key).__name__} ({key!r}); "
                f"use str(key), e.g. {str(key)!r}"
            )
        if not key or "." in key:
            raise ArgumentTypeError(
                f"ModuleDict key {key!r} cannot be used: keys become parts of state-dict names such as "
                f"'heads.<key>.weight', so they must be non-empty and contain no '.'; use e.g. "
                f"{(key.replace('.', '_') or 'head')!r}"
            )
        if key not in self._module_names and hasattr(self, key):
            raise ArgumentTypeError(
                f"ModuleDict key {key!r} is already the name of a ModuleDict attribute or method, so the layer "
                f"would hide it; choose another key, e.g. {key + '_head'!r}"
            )
        return key

    def __setitem__(self, key: str, module: Module) -> None:
        key = self._checked_key(key)
        if not isinstance(module, Module):
            if isinstance(module, type) and issubclass(module, Module):  # nn.ReLU for nn.ReLU()
                layer = module.__name__
                fix = f"{layer} is a layer class, not a layer: call it, {layer}(), with its arguments"
            else:
                fix = "wrap functions in a Module or use layers such as ReLU()"
            raise ArgumentTypeError(f"ModuleDict: item {key!r} is a {type(module).__name__}, not a Module; {fix}")
        setattr(self, key, module)

    def __getitem__(self, key: str) -> Module:
        if key not in self:
            raise KeyError(f"ModuleDict has no layer {key!r}; its keys are {list(self.keys())}")
        return self.__dict__[key]

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(f"ModuleDict has no layer {key!r}; its keys are {list(self.keys())}")
        delattr(self, key)

    def __len__(self) -> int:
        return sum(1 for _ in self.named_children())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._module_names and self.__dict__.get(key) is not None

    def __iter__(self) -> Iterator[str]:
        return self.keys()

    def keys(self) -> Iterator[str]:
        """The keys, in the order they were added."""
        for key, _ in self.named_children():
            yield key

    def values(self) -> Iterator[Module]:
        """The layers, in the order their keys were added."""
        return self.children()

    def items(self) -> Iterator[tuple[str, Module]]:
        """``(key, layer)`` pairs, in the order the keys were added."""
        return self.named_children()
