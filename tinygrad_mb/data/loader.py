"""Datasets and the DataLoader: how a training loop gets its mini-batches.

Batch, stochastic and mini-batch gradient descent differ only in how many
samples each update looks at. The :class:`DataLoader` is where that number
lives: ``batch_size=None`` gives one batch of all ``N`` samples (batch GD),
``batch_size=1`` gives ``N`` batches of one sample (SGD), anything in between
is mini-batch GD. One epoch is one pass over the data, so a loader yields
``ceil(N / B)`` batches per epoch (``N // B`` with ``drop_last=True``).

With ``shuffle=True`` every epoch visits the samples in a fresh random order,
drawn from the loader's own ``numpy.random.Generator`` (seeded by ``seed``),
so the same seed gives the same sequence of batches and nothing touches
NumPy's global random state.

For speed, a :class:`TensorDataset` is moved to the loader's backend *once*;
batches are then cut out of it where it lives: contiguous slices (views, no
copy, read-only on NumPy so that an in-place edit cannot change the dataset)
without shuffling, or a gather with an index array that lives on the same
backend with shuffling. The permutation is drawn on the CPU and moved to the
GPU once per epoch, never once per batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from tinygrad_mb import backend as _backend
from tinygrad_mb.errors import DataError
from tinygrad_mb.tensor import Tensor


class Dataset:
    """Anything with a length and samples: subclass it and write both methods.

    ``__getitem__(i)`` returns one sample, usually a tuple ``(features, label)``
    of arrays, tensors or numbers. A :class:`DataLoader` over a plain Dataset
    stacks the samples of a batch on the CPU and moves the batch to the
    backend; a :class:`TensorDataset` is much faster, because it is cut into
    batches directly on its backend.
    """

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.__len__ is not written")

    def __getitem__(self, index: int) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.__getitem__ is not written")


class TensorDataset(Dataset):
    """Samples are the rows of some tensors of equal length, e.g. ``TensorDataset(X, y)``.

    Args:
        *tensors: arrays (NumPy or CuPy) or :class:`Tensor` objects, each with
            at least one dimension and the same length ``N`` along axis 0.
            Dtypes are kept as given.
        backend: ``"numpy"`` or ``"cupy"``; default: the backend of the first
            argument that is a Tensor or a CuPy array, else the current default
            backend. All tensors are moved there.

    Raises:
        DataError: no tensors, a 0-d tensor, or lengths that differ.
    """

    def __init__(self, *tensors: Any, backend: str | None = None):
        if not tensors:
            raise DataError("TensorDataset needs at least one tensor, e.g. TensorDataset(X, y)")
        target = backend or _backend_of_first(tensors)
        converted = []
        for i, t in enumerate(tensors):
            if getattr(getattr(t, "dtype", None), "kind", "f") not in "biufc":  # strings, objects: no numbers
                raise DataError(
                    f"TensorDataset: tensor {i} holds {t.dtype} values, not numbers; encode labels as class "
                    f"indices 0..C-1, e.g. classes, y = np.unique(y, return_inverse=True)"
                )
            try:
                t = t.to(target) if isinstance(t, Tensor) else Tensor(t, backend=target)
            except (TypeError, ValueError) as exc:  # e.g. a list of (x, y) pairs: ragged, not one array
                raise DataError(
                    f"TensorDataset: tensor {i} is not an array of numbers ({exc}); it takes one whole array per "
                    "field, TensorDataset(X, y). From a list of (x, y) samples: X = np.stack([x for x, _ in "
                    "samples]), y = np.array([y for _, y in samples])"
                ) from None
            if t.ndim == 0:
                raise DataError(f"TensorDataset: tensor {i} is a scalar (shape ()); every tensor needs "
                                "one row per sample along axis 0")
            converted.append(t)
        lengths = [len(t) for t in converted]
        if len(set(lengths)) > 1:
            shapes = ", ".join(str(tuple(t.shape)) for t in converted)
            raise DataError(f"TensorDataset: all tensors need the same length along axis 0, got shapes {shapes}")
        self.tensors: tuple[Tensor, ...] = tuple(converted)

    @property
    def backend(self) -> str:
        """The backend the tensors live on, ``"numpy"`` or ``"cupy"``."""
        return self.tensors[0].backend

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        """Row(s) ``index`` of every tensor: an int, a slice, or an index array or Tensor.

        An int or a slice gives views into the dataset's arrays, read-only on NumPy (see DataLoader).
        """
        if isinstance(index, Tensor):  # its array, wherever it lives (a GPU tensor refuses np.asarray)
            index = index.data
        if isinstance(index, list):
            index = np.asarray(index)
        if isinstance(index, np.ndarray) or _backend.backend_of(index) == _backend.CUPY:
            index = _move(index, self.backend)  # an index array must live where the data lives
        rows = [t.data[index] for t in self.tensors]
        if isinstance(index, (int, np.integer, slice)):  # basic indexing: views into the dataset's arrays
            rows = [_backend.read_only_view(r) for r in rows]
        return tuple(Tensor(r, backend=self.backend) for r in rows)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{tuple(t.shape)} {t.dtype}" for t in self.tensors)
        return f"TensorDataset({shapes}, backend={self.backend!r})"


def _backend_of_first(tensors: Sequence[Any]) -> str:
    for t in tensors:
        if isinstance(t, Tensor):
            return t.backend
        if _backend.backend_of(t) == _backend.CUPY:
            return _backend.CUPY
    return _backend.get_backend()


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order (as PyTorch's ``Subset``).

    Args:
        dataset: any Dataset (a :class:`TensorDataset` gets the loader's fast path:
            its rows are gathered once, when a DataLoader is made).
        indices: a sequence or 1-d array of ints in ``[-N, N)``.

    Raises:
        DataError: ``dataset`` is not a Dataset (arrays, an ArrayData), or indices
            that are not 1-d integers, or out of range.
    """

    def __init__(self, dataset: Any, indices: Any):
        _require_dataset(dataset, "Subset")
        indices = np.asarray(_backend.to_numpy(indices.data if isinstance(indices, Tensor) else indices))
        if indices.ndim != 1 or (indices.size and indices.dtype.kind not in "iu"):
            raise DataError(f"Subset: indices must be a 1-d sequence of ints, got {indices.dtype} of shape "
                            f"{indices.shape}")
        n = len(dataset)
        if indices.size and not (-n <= indices.min() and indices.max() < n):
            raise DataError(f"Subset: indices must lie in [-{n}, {n}) for a dataset of {n} samples, got "
                            f"{indices.min()} .. {indices.max()}")
        self.dataset, self.indices = dataset, indices.astype(np.int64) % max(n, 1)

    @property
    def backend(self) -> str | None:
        """The backend of the underlying dataset, if it has one."""
        return getattr(self.dataset, "backend", None)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: Any) -> Any:
        return self.dataset[self.indices[index]]

    def __repr__(self) -> str:
        return f"Subset({len(self)} of {self.dataset!r})"


def random_split(dataset: Any, lengths: Sequence[int | float],
                 seed: int | np.random.Generator | None = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random :class:`Subset` s (as PyTorch's ``random_split``).

    Args:
        dataset: any Dataset of N samples.
        lengths: sizes that add up to N, e.g. ``[800, 200]``, or fractions that
            add up to 1, e.g. ``[0.8, 0.2]`` (each part gets ``floor(f * N)``; the
            samples left over go one each to the first parts, as in PyTorch).
        seed: an int or a ``numpy.random.Generator``; same seed, same split.

    Raises:
        DataError: ``dataset`` is not a Dataset (e.g. an ArrayData: split it with
            ``random_split(data.to_dataset(), ...)`` or ``data.split(...)``), or
            lengths that are negative or do not add up to N (or to 1).
    """
    _require_dataset(dataset, "random_split")  # now, not at the first batch of a loader over a part
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths) and math.isclose(sum(lengths), 1.0):
        if any(not 0 <= x <= 1 for x in lengths):
            raise DataError(f"random_split: fractions must lie in [0, 1], got {lengths}")
        counts = [math.floor(x * n) for x in lengths]
        for i in range(n - sum(counts)):  # the remainder, one sample each, round robin
            counts[i % len(counts)] += 1
        lengths = counts
    if any(isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < 0 for x in lengths) \
            or sum(lengths) != n:
        raise DataError(f"random_split: lengths must be counts >= 0 adding up to the {n} samples, or fractions "
                        f"adding up to 1, got {lengths}")
    order = _backend.as_rng(seed).permutation(n)
    ends = np.cumsum(lengths)
    return [Subset(dataset, order[end - size:end]) for size, end in zip(lengths, ends)]


class DataLoader:
    """Iterate over a dataset in batches; one ``for`` loop over it is one epoch.

    Args:
        dataset: a :class:`TensorDataset` (fast path) or any :class:`Dataset`.
        batch_size: samples per batch ``B``; ``None`` means all ``N`` samples
            in one batch (full-batch gradient descent).
        shuffle: visit the samples in a fresh random order every epoch.
        drop_last: skip the last batch when it would have fewer than ``B``
            samples (then every update sees exactly ``B`` samples).
        seed: an int or a ``numpy.random.Generator`` for the shuffling order;
            the same seed gives the same sequence of epochs, each in its own order.
        backend: where the batches live; default: the dataset's backend when
            it has one (``dataset.backend``, as every TensorDataset and its
            subclasses do), else the current default backend. A TensorDataset
            is moved there once, here, not batch by batch.

    Yields:
        Tuples of :class:`Tensor` (one per dataset tensor, e.g. ``(xb, yb)``),
        which do not require gradients. Without shuffling a TensorDataset's
        batches are views into its arrays (often your own ``X`` and ``y``), so
        on NumPy they are read-only: ``xb.data += 0.1`` raises a ``ValueError``
        (read-only) instead of changing the dataset; work on a copy,
        ``xb.data.copy()``. (CuPy arrays cannot be made read-only:
        there an in-place edit does change the dataset.) Shuffled batches are copies.

    Attributes:
        batch_size: the resolved batch size (``N`` for ``batch_size=None``).
        epoch: how many epochs have been started (incremented by ``iter()``).

    Resuming: ``state_dict()`` holds the shuffling generator's state and
    ``epoch`` (a JSON-able dict), so a run resumed from a checkpoint sees the
    same batches as one that never stopped. Save it with the model and optimizer::

        checkpoint = {"model": model.state_dict(), "optim": opt.state_dict(), "loader": loader.state_dict()}
        ...  # later, with a new model, optimizer and loader made as before:
        loader.load_state_dict(checkpoint["loader"])

    Raises:
        DataError: empty dataset, a batch size that is not a positive int, or
            ``drop_last=True`` with ``batch_size > N`` (no batch at all).
    """

    def __init__(self, dataset: Dataset, batch_size: int | None = None, shuffle: bool = False,
                 drop_last: bool = False, seed: int | np.random.Generator | None = None,
                 backend: str | None = None):
        _require_dataset(dataset, "DataLoader")
        n = len(dataset)
        if n == 0:
            raise DataError("DataLoader got an empty dataset (0 samples)")
        if batch_size is None:
            batch_size = n
        elif isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise DataError(f"batch_size must be a positive int or None (all {n} samples in one batch), "
                            f"got {batch_size!r}")
        if drop_last and batch_size > n:
            raise DataError(f"drop_last=True with batch_size={batch_size} > {n} samples would yield no batch at "
                            "all; use a smaller batch_size or drop_last=False")
        self._rng = _backend.as_rng(seed)  # before any state is stored: a bad seed changes nothing
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.num_samples = n
        self.epoch = 0
        # Batches stay where the data is unless asked otherwise: a subclass of TensorDataset
        # holding CuPy arrays must not give NumPy batches because the default backend is NumPy.
        self.backend = _check_backend(backend or getattr(dataset, "backend", None) or _backend.get_backend())
        # The fast path slices the arrays directly; a subclass with its own __getitem__
        # (a transform, augmentation) must be asked for each sample, as PyTorch's loader does.
        if _is_plain_tensor_dataset(dataset):
            # The one move to the target backend; later batches are cut out where the data lives.
            self._arrays: list[Any] | None = [_move(t.data, self.backend) for t in dataset.tensors]
        elif type(dataset) is Subset and _is_plain_tensor_dataset(dataset.dataset):
            # A split of a TensorDataset: its rows gathered once, then the same fast path.
            self._arrays = [_move(t.data, self.backend)[_move(dataset.indices, self.backend)]
                            for t in dataset.dataset.tensors]
        else:
            self._arrays = None

    def state_dict(self) -> dict[str, Any]:
        """What resuming needs: the shuffling generator's state and ``epoch``, as a JSON-able dict."""
        return {"rng": self._rng.bit_generator.state, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state``, a :meth:`state_dict` of a loader made with the same arguments.

        Raises:
            DataError: ``state`` is not such a dict, or its generator is of another kind.
        """
        if not isinstance(state, dict) or not isinstance(state.get("rng"), dict) or "epoch" not in state:
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise DataError(f"DataLoader.load_state_dict needs the dict of DataLoader.state_dict(), with keys "
                            f"'rng' and 'epoch', got {got}")
        try:
            self._rng.bit_generator.state = state["rng"]
        except (TypeError, ValueError, KeyError) as exc:  # another bit generator, or a damaged state
            raise DataError(f"DataLoader.load_state_dict: the saved generator state does not fit this loader's "
                            f"{type(self._rng.bit_generator).__name__} generator ({exc}); save it with "
                            "loader.state_dict() of a loader made the same way") from None
        self.epoch = int(state["epoch"])

    def __len__(self) -> int:
        """Batches per epoch: ``N // B`` with ``drop_last``, else ``ceil(N / B)``."""
        full, rest = divmod(self.num_samples, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        self.epoch += 1
        order = self._rng.permutation(self.num_samples) if self.shuffle else None
        return self._batches(order)

    def _batches(self, order: np.ndarray | None) -> Iterator[tuple[Tensor, ...]]:
        n, size = self.num_samples, self.batch_size
        stops = [min(start + size, n) for start in range(0, n, size)][: len(self)]
        if self._arrays is None:  # a general Dataset: collect samples, stack on the CPU, move the batch
            indices = np.arange(n) if order is None else order
            for start, stop in zip(range(0, n, size), stops):
                yield self._collate([self.dataset[int(i)] for i in indices[start:stop]])
            return
        if order is None:  # contiguous slices are views: no copy, and read-only (see the class docstring)
            for start, stop in zip(range(0, n, size), stops):
                yield tuple(Tensor(_backend.read_only_view(a[start:stop]), backend=self.backend) for a in self._arrays)
            return
        order = _backend.to_backend(order, self.backend)  # once per epoch, then sliced where the data is
        for start, stop in zip(range(0, n, size), stops):
            index = order[start:stop]
            yield tuple(Tensor(a[index], backend=self.backend) for a in self._arrays)

    def _collate(self, samples: list[Any]) -> tuple[Tensor, ...]:
        if isinstance(samples[0], list):
            # PyTorch reads a list as fields, (input, label); stacked here as one field it would turn the
            # label into a feature column. Neither reading is safe to guess.
            raise DataError(f"{type(self.dataset).__name__} returned a sample as a list ({_short_repr(samples[0])}); "
                            "return a tuple, (input, label), for a sample with several fields, or an array for "
                            "one field of features")
        samples = [s if isinstance(s, tuple) else (s,) for s in samples]
        widths = {len(s) for s in samples}
        if len(widths) > 1:
            raise DataError(f"{type(self.dataset).__name__} returned samples with different numbers of fields "
                            f"{sorted(widths)}; every sample must have the same structure")
        fields = []
        for parts in zip(*samples):
            try:
                arrays = [_backend.to_numpy(p.data if isinstance(p, Tensor) else p) for p in parts]
                stacked = np.stack(arrays)
            except ValueError as exc:  # ragged shapes, or a list mixing an array and a label
                if any(isinstance(p, list) for p in parts):
                    hint = "; a sample with several fields (input, label) must be a tuple, not a list"
                else:
                    hint = f"; their shapes differ: {sorted({tuple(getattr(p, 'shape', ())) for p in parts})}"
                raise DataError(f"samples of {type(self.dataset).__name__} cannot be stacked into a batch "
                                f"({exc}){hint}") from None
            if stacked.dtype == object:  # dicts, strings, None...: not numbers a Tensor can hold
                kinds = sorted({type(p).__name__ for p in parts})
                raise DataError(f"samples of {type(self.dataset).__name__} hold {', '.join(kinds)} values, which "
                                "cannot be stacked into a batch; return a tuple of arrays or numbers, "
                                "e.g. (input, label)")
            if stacked.dtype == np.float64 and all(not hasattr(p, "dtype") for p in parts):
                stacked = stacked.astype(np.float32)  # Python floats become float32, as in Tensor()
            fields.append(Tensor(stacked, backend=self.backend))
        return tuple(fields)

    def __repr__(self) -> str:
        return (f"DataLoader({type(self.dataset).__name__} of {self.num_samples}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, backend={self.backend!r}, "
                f"batches_per_epoch={len(self)})")


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_plain_tensor_dataset(dataset: Any) -> bool:
    """A TensorDataset whose rows are its samples (a subclass with its own __getitem__ is not)."""
    return isinstance(dataset, TensorDataset) and type(dataset).__getitem__ is TensorDataset.__getitem__


def _require_dataset(obj: Any, caller: str) -> None:
    """Refuse what is not a dataset of samples, with the fix suited to what ``obj`` is."""
    if not hasattr(obj, "__len__") or not hasattr(obj, "__getitem__") or _is_arrays(obj):
        raise DataError(f"{caller} needs a Dataset (with __len__ and __getitem__), got "
                        f"{_what(obj)}; {_how_to_make_a_dataset(obj, caller)}")


def _is_array(obj: Any) -> bool:
    return isinstance(obj, (Tensor, np.ndarray)) or _backend.backend_of(obj) == _backend.CUPY


def _is_arrays(obj: Any) -> bool:
    """An array, or arrays (X, y) in a tuple or list: data for a TensorDataset, not a dataset of samples.

    Both have a length and items, but a loader over an array yields its rows without labels, in
    1-tuples, and one over (X, y) treats X and y as two samples, whatever their shapes. (A list of
    samples is a dataset: its items are tuples (x, y), not arrays.)
    """
    if isinstance(obj, (tuple, list)):
        return len(obj) > 0 and all(_is_array(t) for t in obj)
    return _is_array(obj)


def _what(obj: Any) -> str:
    if isinstance(obj, (tuple, list)):
        return f"a {type(obj).__name__} of {len(obj)} array{'' if len(obj) == 1 else 's'}"
    if _is_arrays(obj):
        name = "NumPy array" if isinstance(obj, np.ndarray) else type(obj).__name__
        return f"a {name} of shape {tuple(obj.shape)}"
    return type(obj).__name__


def _how_to_make_a_dataset(obj: Any, caller: str = "DataLoader") -> str:
    """The fix for handing ``caller`` something that is not a Dataset, suited to what ``obj`` offers."""
    if hasattr(obj, "loader") and hasattr(obj, "to_dataset"):  # ArrayData (load_digits(), blobs(), ...)
        if caller == "DataLoader":
            return ("it makes its own loader: use dataset.loader(batch_size=32, shuffle=True, seed=0) instead, "
                    "or DataLoader(dataset.to_dataset(), ...)")
        return (f"it makes its own loader and split: use {caller}(dataset.to_dataset(), ...), or "
                "train, test = dataset.split(test_size=0.2, seed=0) and train.loader(batch_size=32, shuffle=True, "
                "seed=0)")
    return f"wrap the arrays as {caller}(TensorDataset(X, y), ...) (TensorDataset(X) for inputs alone)"


def _move(array: Any, name: str) -> Any:
    """``array`` on backend ``name``; no copy when it is already there."""
    return array if _backend.backend_of(array) == name else _backend.to_backend(array, name)


def _check_backend(name: str) -> str:
    name = _backend.check_name(name)
    if name == _backend.CUPY:
        _backend.require_cupy()  # says how to install the GPU extra
    return name
