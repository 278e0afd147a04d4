"""The benchmark problem, shared by every implementation.

One MLP, 784 -> 128 -> ReLU -> 10, trained by plain SGD (lr 0.01) on the mean
softmax cross-entropy. Every implementation starts from the *same* initial
weights (drawn once here with a seeded ``numpy.random.Generator``) and sees
the *same* random batch, so they compute the same numbers and differ only in
how fast they compute them.
"""

from __future__ import annotations

import numpy as np

N_IN, N_HIDDEN, N_OUT = 784, 128, 10
LR = 0.01
BATCH_SIZES = (1, 8, 32, 128, 1024, 8192)
WEIGHT_SEED = 0
DATA_SEED = 1


def initial_weights(seed: int = WEIGHT_SEED, sizes: tuple[int, int, int] = (N_IN, N_HIDDEN, N_OUT)
                    ) -> dict[str, np.ndarray]:
    """Float32 weights in PyTorch's layout and naming for ``Sequential(Linear, ReLU, Linear)``.

    ``Linear(in, out).weight`` has shape ``(out, in)``; values follow PyTorch's
    default init ``U(-1/sqrt(fan_in), +1/sqrt(fan_in))``. ``sizes`` = (in, hidden,
    out); other sizes than the benchmark's serve :mod:`benchmarks.gap`.
    """
    rng = np.random.default_rng(seed)
    n_in, n_hidden, n_out = sizes

    def uniform(shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        bound = 1.0 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, size=shape).astype(np.float32)

    return {
        "0.weight": uniform((n_hidden, n_in), n_in),
        "0.bias": uniform((n_hidden,), n_in),
        "2.weight": uniform((n_out, n_hidden), n_hidden),
        "2.bias": uniform((n_out,), n_hidden),
    }


def random_batch(batch_size: int, seed: int = DATA_SEED) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random batch: float32 features ~ N(0, 1) and int64 labels in [0, 10)."""
    rng = np.random.default_rng([seed, batch_size])
    x = rng.standard_normal((batch_size, N_IN), dtype=np.float32)
    y = rng.integers(0, N_OUT, size=batch_size, dtype=np.int64)
    return x, y
