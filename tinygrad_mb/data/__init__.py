"""Data for the experiments: loaders that cut batches, and seeded datasets.

- :mod:`~tinygrad_mb.data.loader`: ``Dataset``, ``TensorDataset``, ``DataLoader``
  (``batch_size`` = N, 1 or B: batch, stochastic or mini-batch GD), ``Subset``
  and ``random_split`` (as in PyTorch).
- :mod:`~tinygrad_mb.data.datasets`: ``ArrayData`` (what every dataset function
  returns) and the synthetic sets ``linear_regression`` (knows its exact
  optimum), ``logistic_regression``, ``two_moons``, ``spirals``, ``blobs``.
- :mod:`~tinygrad_mb.data.digits`: the bundled 8x8 UCI digits, ``load_digits``.
- :mod:`~tinygrad_mb.data.mnist`: ``load_mnist`` / ``read_idx`` for IDX files you have.
- :mod:`~tinygrad_mb.data.preprocessing`: ``train_test_split``, ``standardize``.

Example::

    from tinygrad_mb import data
    digits = data.load_digits(scale=True)
    train, test = digits.split(test_size=0.2, seed=0)
    for xb, yb in train.loader(batch_size=32, shuffle=True, seed=0):
        ...
"""

from tinygrad_mb.data.datasets import (
    ArrayData,
    LinearRegressionData,
    blobs,
    linear_regression,
    logistic_regression,
    spirals,
    two_moons,
)
from tinygrad_mb.data.digits import load_digits
from tinygrad_mb.data.loader import DataLoader, Dataset, Subset, TensorDataset, random_split
from tinygrad_mb.data.mnist import load_mnist, read_idx
from tinygrad_mb.data.preprocessing import Standardized, standardize, train_test_split

__all__ = [
    "Dataset", "TensorDataset", "DataLoader", "Subset", "random_split",
    "ArrayData", "LinearRegressionData",
    "linear_regression", "logistic_regression", "two_moons", "spirals", "blobs",
    "load_digits", "load_mnist", "read_idx",
    "train_test_split", "standardize", "Standardized",
]
