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

from tinygrad_mb.backend import as_rng
from tinygrad_mb.errors import DataError


def train_test_split(X: Any, y: Any, test_size: float | int = 0.2, seed: int | np.random.Generator | None = None,
                     stratify: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Randomly divide samples into a training and a test part.

    Args:
        X: features, one row per sample.
        y: targets, same length as ``X``.
        test_size: a fraction in ``(0, 1)`` (rounded up to whole samples) or a
            number of test samples in ``[1, n - 1]``.
        seed: int or ``numpy.random.Generator``; same seed, same split.
        stratify: keep the class proportions of ``y`` (integer labels) in
            both parts, as far as whole samples allow.

    Returns:
        ``(X_train, X_test, y_train, y_test)``, in random order, as in scikit-learn.

    Raises:
        DataError: lengths differ, fewer than 2 samples, a bad ``test_size``,
            or ``stratify`` with non-integer labels.
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y):
        raise DataError(f"train_test_split: X and y need the same length along axis 0, got shapes {X.shape} "
                        f"and {y.shape}")
    n = len(X)
    n_test = _test_count(test_size, n)
    rng = as_rng(seed)
    if stratify:
        if y.dtype.kind not in "iub":
            raise DataError(f"train_test_split(stratify=True) needs integer class labels, got dtype {y.dtype}")
        test_idx = _stratified_test_indices(y.reshape(n, -1)[:, 0], n_test, rng)
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
        return min(max(math.ceil(test_size * n), 1), n - 1)
    raise DataError(f"test_size must be a fraction in (0, 1) or a count in [1, {n - 1}], got {test_size!r}")


def _stratified_test_indices(labels: np.ndarray, n_test: int, rng: np.random.Generator) -> np.ndarray:
    """Pick ``n_test`` indices with each class represented in proportion to its size.

    Class ``c`` with ``n_c`` of ``n`` samples ideally gets ``n_test * n_c / n``
    test samples; rounding down and handing the remaining places to the
    largest remainders makes the counts add up to exactly ``n_test``.
    """
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    ideal = n_test * counts / len(labels)
    take = np.floor(ideal).astype(np.int64)
    short = n_test - int(take.sum())
    take[np.argsort(-(ideal - take), kind="stable")[:short]] += 1
    picked = [rng.permutation(np.flatnonzero(inverse == k))[: take[k]] for k in range(len(classes))]
    return np.concatenate(picked)


class Standardized(NamedTuple):
    """What :func:`standardize` returns; unpack as ``train, test, mean, std = ...``."""

    train: np.ndarray
    test: np.ndarray | None
    mean: np.ndarray
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
    """
    X_train = np.asarray(X_train)
    if X_train.ndim < 2 or len(X_train) == 0:
        raise DataError(f"standardize needs X_train of shape (n, d) with n >= 1, got {X_train.shape}")
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
        X_test = np.asarray(X_test)
        if X_test.shape[1:] != X_train.shape[1:]:
            raise DataError(f"standardize: X_test has features of shape {X_test.shape[1:]} but X_train has "
                            f"{X_train.shape[1:]}")
        test = apply(X_test)
    return Standardized(apply(X_train), test, mean, std)
