"""Seeded toy datasets, and :class:`ArrayData`, the object every loader returns.

Every generator takes a ``seed`` (an int or a ``numpy.random.Generator``), so
the same call gives the same data on every machine, and none of them touches
NumPy's global random state. Samples are shuffled, so a loader without
``shuffle`` does not see one class after the other.

Conventions (all datasets, also :func:`~tinygrad_mb.data.load_digits` and
:func:`~tinygrad_mb.data.load_mnist`):

- ``X`` is float32 with one row per sample, shape ``(n, d)``.
- classification: ``y`` is int64 class indices in ``[0, n_classes)``, shape ``(n,)``;
  ready for ``cross_entropy`` (for ``BCEWithLogitsLoss`` use
  ``y.astype("float32").reshape(-1, 1)``).
- regression: ``y`` is float32 of shape ``(n, 1)``, like the output of ``Linear(d, 1)``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_mb.backend import as_rng, to_numpy
from tinygrad_mb.data.loader import DataLoader, TensorDataset
from tinygrad_mb.data.preprocessing import train_test_split
from tinygrad_mb.errors import DataError
from tinygrad_mb.tensor import Tensor

TASKS = ("classification", "regression")


@dataclass(kw_only=True, eq=False)
class ArrayData:
    """A dataset held as NumPy arrays, plus what is known about it.

    Attributes:
        X: features, float32, shape ``(n, d)``.
        y: int64 labels ``(n,)`` for classification, float32 targets ``(n, 1)`` for regression.
        task: ``"classification"`` or ``"regression"``.
        name: short name for plots and logs, e.g. ``"digits"``.
        n_classes: number of classes (classification only, else ``None``).
        meta: anything else (image shape, generating parameters, licence...).

    ``to_dataset()`` / ``loader(...)`` turn it into a TensorDataset / DataLoader;
    ``split(...)`` makes a train/test pair. ``X`` and ``y`` given as lists
    become NumPy arrays.
    """

    X: np.ndarray
    y: np.ndarray
    task: str
    name: str
    n_classes: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.X, self.y = _array_if_list(self.X), _array_if_list(self.y)
        if self.task not in TASKS:
            raise DataError(f"{self.name}: task must be one of {TASKS}, got {self.task!r}")
        if self.X.ndim < 2 or len(self.X) != len(self.y):
            raise DataError(f"{self.name}: X must be (n, d) with one row per target, got X {self.X.shape} "
                            f"and y {self.y.shape}")
        if self.n_classes is not None:  # checked before it is compared with the labels
            _check_counts(n_classes=self.n_classes, min_classes=1)
        if self.task == "classification":
            if self.y.dtype.kind not in "iu" or self.n_classes is None:
                raise DataError(f"{self.name}: classification needs integer labels and n_classes, got "
                                f"y dtype {self.y.dtype}, n_classes={self.n_classes}")
            if len(self.y) and (self.y.min() < 0 or self.y.max() >= self.n_classes):
                raise DataError(f"{self.name}: labels must lie in [0, {self.n_classes}), got "
                                f"[{self.y.min()}, {self.y.max()}]")

    @property
    def n_samples(self) -> int:
        """Number of samples ``n``."""
        return len(self.X)

    @property
    def n_features(self) -> int:
        """Number of features per sample ``d`` (product of the non-batch dimensions)."""
        return int(np.prod(self.X.shape[1:]))

    def __len__(self) -> int:
        return self.n_samples

    def to_dataset(self, backend: str | None = None) -> TensorDataset:
        """A :class:`TensorDataset` ``(X, y)`` on ``backend`` (default: the current one)."""
        return TensorDataset(self.X, self.y, backend=backend)

    def loader(self, batch_size: int | None = None, shuffle: bool = False, drop_last: bool = False,
               seed: int | np.random.Generator | None = None, backend: str | None = None) -> DataLoader:
        """A :class:`DataLoader` over this data; arguments as for DataLoader."""
        return DataLoader(self.to_dataset(backend), batch_size=batch_size, shuffle=shuffle,
                          drop_last=drop_last, seed=seed)

    def split(self, test_size: float | int = 0.2, seed: int | np.random.Generator | None = None,
              stratify: bool = False) -> tuple[ArrayData, ArrayData]:
        """``(train, test)`` copies with the samples divided as by :func:`train_test_split`."""
        X_tr, X_te, y_tr, y_te = train_test_split(self.X, self.y, test_size=test_size, seed=seed,
                                                  stratify=stratify)
        def kept() -> dict:  # each part gets its own meta dict: editing one must not edit the others
            return {k: dict(v) if isinstance(v, dict) else v for k, v in vars(self).items()
                    if k not in ("X", "y", "name")}

        return (ArrayData(X=X_tr, y=y_tr, name=f"{self.name}[train]", **kept()),
                ArrayData(X=X_te, y=y_te, name=f"{self.name}[test]", **kept()))

    def __repr__(self) -> str:
        extra = f", n_classes={self.n_classes}" if self.n_classes is not None else ""
        return (f"{type(self).__name__}(name={self.name!r}, task={self.task!r}, X={self.X.shape} {self.X.dtype}, "
                f"y={self.y.shape} {self.y.dtype}{extra})")


@dataclass(kw_only=True, eq=False, repr=False)
class LinearRegressionData(ArrayData):
    """Data from ``y = X w_true + b_true + noise``, with its exact least-squares optimum.

    The loss is the mean squared error over all ``n`` samples, exactly what
    ``mse_loss(pred, y)`` computes::

        L(w, b) = (1/n) * sum_i (x_i . w + b - y_i)^2

    (no factor 1/2). Its minimiser ``(w_star, b_star)`` and minimum ``min_loss``
    (= f*) are computed in float64 from the stored float32 ``X`` and ``y`` with
    ``numpy.linalg.lstsq`` on ``[X, 1]``, so ``L(w) - min_loss`` is the true
    suboptimality of a trained model. ``w_*`` have shape ``(d,)``; ``b_*`` are floats.
    """

    w_true: np.ndarray
    b_true: float
    noise: float
    w_star: np.ndarray
    b_star: float
    min_loss: float

    def __post_init__(self) -> None:
        super().__post_init__()
        self.w_true, self.w_star = _array_if_list(self.w_true), _array_if_list(self.w_star)

    def loss(self, w: Any, b: Any = 0.0) -> float:
        """``L(w, b)`` in float64 for weights ``w`` of shape ``(d,)``, ``(d, 1)`` or ``(1, d)`` and one bias ``b``.

        ``w`` and ``b`` may be numbers, lists, NumPy or CuPy arrays, or Tensors on
        either backend, e.g. ``loss(model.weight, model.bias)`` for a trained
        ``Linear(d, 1)``; GPU values are copied to the host.

        Raises:
            DataError: ``w`` does not have one weight per feature, or ``b`` is not one number.
        """
        w, b = _host_float64(w), _host_float64(b)
        d = self.n_features
        if w.shape not in ((d,), (d, 1), (1, d)):
            raise DataError(f"{self.name}.loss: w needs one weight per feature, shape ({d},), ({d}, 1) or "
                            f"(1, {d}), got shape {w.shape}")
        if b.size != 1:
            raise DataError(f"{self.name}.loss: b must be one number (a float or a 1-element array such as "
                            f"Linear({d}, 1).bias), got shape {b.shape}")
        residual = self.X.astype(np.float64) @ w.reshape(d) + b.item() - self.y[:, 0]
        return float(np.mean(residual**2))

    def split(self, *args: Any, **kwargs: Any) -> tuple[ArrayData, ArrayData]:
        """Split into plain :class:`ArrayData` (the optimum belongs to the full data only)."""
        plain = ArrayData(X=self.X, y=self.y, task=self.task, name=self.name, meta=self.meta)
        return plain.split(*args, **kwargs)


def linear_regression(n: int = 1000, d: int = 10, noise: float = 0.5,
                      seed: int | np.random.Generator | None = 0) -> LinearRegressionData:
    """Linear regression with Gaussian features, ``y = X w_true + b_true + noise * eps``.

    ``X, w_true, b_true, eps`` are standard normal. The result knows its exact
    optimum (``w_star``, ``b_star``, ``min_loss``); see :class:`LinearRegressionData`.
    """
    _check_counts(n=n, d=d)
    _check_nonnegative(noise=noise)
    rng = as_rng(seed)
    X = rng.standard_normal((n, d))
    w_true = rng.standard_normal(d)
    b_true = float(rng.standard_normal())
    y = X @ w_true + b_true + noise * rng.standard_normal(n)
    X32, y32 = X.astype(np.float32), y.astype(np.float32).reshape(n, 1)
    # The optimum of the data as stored (float32), computed in float64.
    A = np.hstack([X32.astype(np.float64), np.ones((n, 1))])
    coef, *_ = np.linalg.lstsq(A, y32[:, 0].astype(np.float64), rcond=None)
    min_loss = float(np.mean((A @ coef - y32[:, 0]) ** 2))
    return LinearRegressionData(X=X32, y=y32, task="regression", name="linear_regression",
                                w_true=w_true, b_true=b_true, noise=float(noise),
                                w_star=coef[:d], b_star=float(coef[d]), min_loss=min_loss)


def logistic_regression(n: int = 1000, d: int = 2, scale: float = 2.0,
                        seed: int | np.random.Generator | None = 0) -> ArrayData:
    """Two classes drawn from a logistic model: ``P(y=1 | x) = sigmoid(x @ w_true + b_true)``.

    ``x ~ N(0, I)``; ``w_true`` is a random direction times ``scale`` (larger
    means cleaner classes), ``b_true ~ N(0, 0.25)``. Both are in ``meta``.
    """
    _check_counts(n=n, d=d)
    _check_nonnegative(scale=scale)
    rng = as_rng(seed)
    X = rng.standard_normal((n, d))
    direction = rng.standard_normal(d)
    w_true = scale * direction / max(np.linalg.norm(direction), 1e-12)
    b_true = float(0.5 * rng.standard_normal())
    p = 1.0 / (1.0 + np.exp(-(X @ w_true + b_true)))
    y = (rng.random(n) < p).astype(np.int64)
    return ArrayData(X=X.astype(np.float32), y=y, task="classification", name="logistic_regression",
                     n_classes=2, meta={"w_true": w_true, "b_true": b_true})


def two_moons(n: int = 500, noise: float = 0.1, seed: int | np.random.Generator | None = 0) -> ArrayData:
    """Two interleaving half circles in 2-D (not linearly separable).

    Class 0 is the upper arc ``(cos t, sin t)``, class 1 the lower arc
    ``(1 - cos t, 0.5 - sin t)``, ``t`` evenly spaced in ``[0, pi]``, plus
    Gaussian noise of standard deviation ``noise``.
    """
    _check_counts(n=n, min_n=2)
    _check_nonnegative(noise=noise)
    rng = as_rng(seed)
    n0 = n // 2
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n - n0)
    X = np.concatenate([np.stack([np.cos(t0), np.sin(t0)], 1), np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], 1)])
    y = np.concatenate([np.zeros(n0, np.int64), np.ones(n - n0, np.int64)])
    X = X + noise * rng.standard_normal(X.shape)
    return _shuffled("two_moons", X, y, 2, rng, {"noise": noise})


def spirals(n: int = 600, n_classes: int = 3, noise: float = 0.2,
            seed: int | np.random.Generator | None = 0) -> ArrayData:
    """``n_classes`` interleaved spiral arms in 2-D (the CS231n toy problem).

    Arm ``k`` has radius ``r`` from 0 to 1 and angle ``4 r + 2 pi k / n_classes``
    plus Gaussian angle noise of standard deviation ``noise``.
    """
    _check_counts(n=n, n_classes=n_classes, min_n=n_classes)
    _check_nonnegative(noise=noise)
    rng = as_rng(seed)
    sizes = [n // n_classes + (1 if k < n % n_classes else 0) for k in range(n_classes)]
    parts, labels = [], []
    for k, m in enumerate(sizes):
        r = np.linspace(0.0, 1.0, m)
        theta = 4.0 * r + 2 * np.pi * k / n_classes + noise * rng.standard_normal(m)
        parts.append(np.stack([r * np.sin(theta), r * np.cos(theta)], 1))
        labels.append(np.full(m, k, np.int64))
    return _shuffled("spirals", np.concatenate(parts), np.concatenate(labels), n_classes, rng, {"noise": noise})


def blobs(n: int = 500, n_classes: int = 3, d: int = 2, std: float = 1.0, box: float = 5.0,
          seed: int | np.random.Generator | None = 0) -> ArrayData:
    """Gaussian blobs: class ``k`` is ``N(c_k, std^2 I)``, centres ``c_k`` uniform in ``[-box, box]^d``.

    The centres are stored in ``meta["centers"]``.
    """
    _check_counts(n=n, d=d, n_classes=n_classes, min_n=n_classes)
    _check_nonnegative(std=std, box=box)
    rng = as_rng(seed)
    centers = rng.uniform(-box, box, (n_classes, d))
    y = np.arange(n, dtype=np.int64) % n_classes
    X = centers[y] + std * rng.standard_normal((n, d))
    return _shuffled("blobs", X, y, n_classes, rng, {"centers": centers, "std": std})


def _shuffled(name: str, X: np.ndarray, y: np.ndarray, n_classes: int, rng: np.random.Generator,
              meta: dict[str, Any]) -> ArrayData:
    order = rng.permutation(len(X))
    return ArrayData(X=X[order].astype(np.float32), y=y[order], task="classification", name=name,
                     n_classes=n_classes, meta=meta)


def _array_if_list(value: Any) -> Any:
    """Lists and tuples become NumPy arrays; arrays are kept as they are."""
    return np.asarray(value) if isinstance(value, (list, tuple)) else value


def _host_float64(value: Any) -> np.ndarray:
    """A number, list, array or Tensor (NumPy or CuPy) as a float64 NumPy array."""
    return to_numpy(value.data if isinstance(value, Tensor) else value).astype(np.float64)


def _check_counts(min_n: int = 1, min_classes: int = 2, **counts: Any) -> None:
    for key in sorted(counts, key=lambda k: k != "n_classes"):  # n_classes first: n's minimum may be it
        value = counts[key]
        low = min_n if key == "n" else (min_classes if key == "n_classes" else 1)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise DataError(f"{key} must be an int >= {low}, got {value!r}")


def _check_nonnegative(**values: Any) -> None:
    for key, value in values.items():
        if isinstance(value, np.ndarray) and value.ndim == 0:  # np.array(0.1) is a number too
            value = value.item()
        # A number first: np.isfinite of a string or None raises a TypeError that names neither.
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not np.isfinite(value) or value < 0:
            raise DataError(f"{key} must be a finite number >= 0, got {value!r}")
