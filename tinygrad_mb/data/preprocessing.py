"""Train/test splitting and feature standardisation, on NumPy arrays.

Standardising features (zero mean, unit variance per feature) matters a lot
for gradient descent: with features on very different scales the loss surface
is a long narrow valley, and one learning rate cannot suit every direction.
The mean and standard deviation come from the *training* data only and are
then applied to the test data, so no information leaks from test to train.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from tinygrad_mb.backend import CUPY, as_rng, backend_of
from tinygrad_mb.errors import DataError
from tinygrad_mb.tensor import Tensor


def train_test_split(X: Any, y: Any, test_size: float | int = 0.2, seed: int | np.random.Generator | None = None,
                     stratify: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Randomly divide samples into a training and a test part.

    Args:
        X: features, one row per sample.
        y: targets, same length as ``X``.
        test_size: a fraction in ``(0, 1)`` (rounded up to whole samples) or a
            number of test samples in ``[1, n - 1]``.
        seed: int or ``numpy.random.Generator``; same seed, same split.
        stratify: keep the class proportions of ``y`` in both parts, as far
            as whole samples allow. ``y`` must hold integer class indices,
            shape ``(n,)`` or ``(n, 1)``; every class needs at least 2
            samples, and each part at least one sample per class.

    Returns:
        ``(X_train, X_test, y_train, y_test)``, in random order, as in scikit-learn.

    Raises:
        DataError: lengths differ, fewer than 2 samples, a bad ``test_size``,
            arrays on the GPU, or ``stratify`` with labels that are not class
            indices or with too few samples for some class or part.
    """
    X, y = _host_array(X, "X", "train_test_split"), _host_array(y, "y", "train_test_split")
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y):
        raise DataError(f"train_test_split: X and y need the same length along axis 0, got shapes {X.shape} "
                        f"and {y.shape}")
    n = len(X)
    n_test = _test_count(test_size, n)
    rng = as_rng(seed)
    if stratify:
        test_idx = _stratified_test_indices(_class_indices(y), n_test, rng)
    else:
        test_idx = rng.permutation(n)[:n_test]
    is_test = np.zeros(n, dtype=bool)
    is_test[test_idx] = True
    train_idx = rng.permutation(np.flatnonzero(~is_test))
    test_idx = rng.permutation(test_idx)
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


def _test_count(test_size: float | int, n: int) -> int:
    if n < 2:
        raise DataError(f"train_test_split needs at least 2 samples, got {n}")
    if isinstance(test_size, bool):
        raise DataError(f"test_size must be a fraction in (0, 1) or a count in [1, {n - 1}], got {test_size!r}")
    if isinstance(test_size, (int, np.integer)):
        if not 1 <= test_size <= n - 1:
            raise DataError(f"test_size={test_size} samples leaves no train or no test data; use 1..{n - 1}")
        return int(test_size)
    if isinstance(test_size, (float, np.floating)) and 0.0 < test_size < 1.0:
        # Rounded to 9 places first: 0.07 * 100 is 7.000000000000001 in floats, and ceil would make it 8.
        return min(max(math.ceil(round(test_size * n, 9)), 1), n - 1)
    raise DataError(f"test_size must be a fraction in (0, 1) or a count in [1, {n - 1}], got {test_size!r}")


def _host_array(a: Any, name: str, caller: str) -> np.ndarray:
    """``a`` as a NumPy array; GPU data gets a DataError saying how to copy it, not CuPy's TypeError."""
    if backend_of(a.data if isinstance(a, Tensor) else a) == CUPY:
        raise DataError(f"{caller}: {name} is a CuPy array (on the GPU), but {caller} works on NumPy arrays; "
                        f"pass tinygrad_mb.backend.to_numpy({name}) (for a Tensor: {name}.numpy())")
    return np.asarray(a)


def _class_indices(y: np.ndarray) -> np.ndarray:
    """The labels of a stratified split as a 1-D array of class indices."""
    if y.dtype.kind not in "iub":
        raise DataError(f"train_test_split(stratify=True) needs integer class labels, got dtype {y.dtype}")
    # A one-hot (n, k) array would otherwise be stratified on its first column only.
    if y.ndim > 2 or (y.ndim == 2 and y.shape[1] != 1):
        raise DataError(f"train_test_split(stratify=True) needs one class index per sample, y of shape "
                        f"({len(y)},) or ({len(y)}, 1), got {y.shape}; pass class indices, e.g. y.argmax(axis=1) "
                        "for one-hot labels")
    return y.reshape(len(y))


def _stratified_test_indices(labels: np.ndarray, n_test: int, rng: np.random.Generator) -> np.ndarray:
    """Pick ``n_test`` indices with each class represented in proportion to its size.

    Class ``c`` with ``n_c`` of ``n`` samples ideally gets ``n_test * n_c / n``
    test samples; rounding down and handing the remaining places to the
    largest remainders makes the counts add up to exactly ``n_test``. Each
    class keeps at least one sample in each part, though: a class of 2 in 100
    would round to 0 test samples in a test part of 10, and be missing from it.
    """
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    _check_every_class_fits(classes, counts, n_test)
    ideal = n_test * counts / len(labels)
    take = np.clip(np.floor(ideal).astype(np.int64), 1, counts - 1)  # possible: checked just above
    # One place at a time, to the class furthest below its ideal share that has a sample to spare
    # (the largest remainder), or, when the lower bound of 1 took too many, from the one furthest above.
    while (short := n_test - int(take.sum())) != 0:
        gap = ideal - take
        if short > 0:
            take[np.argmax(np.where(take < counts - 1, gap, -np.inf))] += 1
        else:
            take[np.argmin(np.where(take > 1, gap, np.inf))] -= 1
    picked = [rng.permutation(np.flatnonzero(inverse == k))[: take[k]] for k in range(len(classes))]
    return np.concatenate(picked)


def _check_every_class_fits(classes: np.ndarray, counts: np.ndarray, n_test: int) -> None:
    """Refuse a stratified split that would leave some class out of the train or the test part (as scikit-learn)."""
    rarest = int(np.argmin(counts))
    if counts[rarest] < 2:
        raise DataError(f"train_test_split(stratify=True): class {classes[rarest]} has only 1 sample, too few to "
                        "be in both the train and the test part (each class needs >= 2); remove or merge that "
                        "class, or use stratify=False")
    n, n_classes = int(counts.sum()), len(classes)
    for part, size in (("test", n_test), ("train", n - n_test)):
        if size < n_classes:
            raise DataError(f"train_test_split(stratify=True): the {part} part gets {size} samples for "
                            f"{n_classes} classes, so some class would be missing from it; use a test_size that "
                            f"leaves at least {n_classes} samples in each part (a count in "
                            f"[{n_classes}, {n - n_classes}]), or stratify=False")


class Standardized(NamedTuple):
    """What :func:`standardize` returns; unpack as ``train, test, mean, std = ...``."""

    #: The training inputs, standardized (every column has mean 0 and standard deviation 1).
    train: np.ndarray
    #: The test inputs scaled with the *training* mean and std (None when no test set was given).
    test: np.ndarray | None
    #: The training mean of each feature (column), to scale new inputs the same way.
    mean: np.ndarray
    #: The training standard deviation of each feature (1 where a feature is constant).
    std: np.ndarray


def standardize(X_train: Any, X_test: Any = None) -> Standardized:
    """Scale every feature to mean 0 and standard deviation 1, using training statistics.

    ``x' = (x - mean) / std`` per feature (column), with ``mean`` and ``std``
    of ``X_train``, applied to both arrays. A constant feature (all its values equal,
    e.g. an always-blank pixel) is only centred: its ``std`` is reported as 1.

    Returns:
        ``Standardized(train, test, mean, std)``; ``test`` is ``None`` when no
        ``X_test`` was given. Floating inputs keep their dtype, integer inputs
        become float32; the statistics are computed in float64.

    Raises:
        DataError: ``X_train`` is not (n, d), holds NaN or inf, lives on the GPU, or
            ``X_test`` has other features.
    """
    X_train = _host_array(X_train, "X_train", "standardize")
    if X_train.ndim < 2 or len(X_train) == 0:
        raise DataError(f"standardize needs X_train of shape (n, d) with n >= 1, got {X_train.shape}")
    if X_train.dtype.kind in "fc" and not np.isfinite(X_train).all():
        # One NaN would make its whole column NaN, in the training and the test data alike.
        bad = np.argwhere(~np.isfinite(X_train))[0]
        raise DataError(f"standardize: X_train holds NaN or inf values (the first at row {bad[0]}, column "
                        f"{bad[1] if len(bad) > 1 else 0}); remove or fill them (e.g. with the column mean) first")
    dtype = X_train.dtype if X_train.dtype.kind == "f" else np.dtype(np.float32)
    mean = X_train.mean(axis=0, dtype=np.float64)
    std = X_train.std(axis=0, dtype=np.float64)
    # Constant features found exactly (all values equal), not by std > 0: the computed mean of
    # n copies of 0.1 is off by a rounding error, which would leave a std of 1e-17 to divide by.
    constant = (X_train == X_train[0]).all(axis=0)
    mean = np.where(constant, X_train[0], mean)
    std = np.where(constant, 1.0, std)

    def apply(X: np.ndarray) -> np.ndarray:
        return ((X.astype(np.float64) - mean) / std).astype(dtype)

    test = None
    if X_test is not None:
        X_test = _host_array(X_test, "X_test", "standardize")
        if X_test.shape[1:] != X_train.shape[1:]:
            raise DataError(f"standardize: X_test has features of shape {X_test.shape[1:]} but X_train has "
                            f"{X_train.shape[1:]}")
        test = apply(X_test)
    return Standardized(apply(X_train), test, mean, std)
