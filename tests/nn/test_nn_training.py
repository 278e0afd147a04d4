"""End to end: networks built from these layers learn the bundled 8x8 digits.

These train real models, so they are marked ``slow``; they still take only a
few seconds and run in CI (``python -m pytest`` runs every marker).
"""

import time

import numpy as np
import pytest

import tinygrad_mb as tg
import tinygrad_mb.nn.functional as F
from tinygrad_mb import data, nn, optim


@pytest.fixture(scope="module")
def digits():
    train, test = data.load_digits(scale=True).split(test_size=0.25, seed=0, stratify=True)
    scaled = data.standardize(train.X, test.X)
    return scaled.train, train.y, scaled.test, test.y


def train_mlp(digits, seed, epochs=20):
    X, y, _, _ = digits
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Linear(64, 128, seed=rng), nn.ReLU(), nn.Linear(128, 10, seed=rng))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loader = data.DataLoader(data.TensorDataset(X, y), batch_size=32, shuffle=True, seed=seed)
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
    return model


def accuracy(model, X, y):
    with tg.no_grad():
        return float((model(tg.Tensor(X)).numpy().argmax(axis=1) == y).mean())


@pytest.mark.slow
def test_mlp_with_sgd_momentum_reaches_95_percent_on_digits_deterministically(digits):
    start = time.perf_counter()
    model = train_mlp(digits, seed=0)
    elapsed = time.perf_counter() - start
    _, _, X_test, y_test = digits
    acc = accuracy(model, X_test, y_test)
    assert acc >= 0.95, f"test accuracy {acc:.4f}"
    assert elapsed < 30, f"training took {elapsed:.1f} s"
    again = train_mlp(digits, seed=0)  # same seed: bit-identical weights
    for a, b in zip(model.parameters(), again.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.slow
def test_small_cnn_on_digits_trains(digits):
    X, y, X_test, y_test = digits
    images = X.reshape(-1, 1, 8, 8)
    rng = np.random.default_rng(0)
    cnn = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, seed=rng), nn.ReLU(), nn.MaxPool2d(2),  # (N, 8, 4, 4)
        nn.Flatten(), nn.Linear(8 * 4 * 4, 10, seed=rng),
    )
    opt = optim.Adam(cnn.parameters(), lr=3e-3)

    def full_loss():
        with tg.no_grad():
            return F.cross_entropy(cnn(tg.Tensor(images)), y).item()

    start_loss = full_loss()
    start = time.perf_counter()
    loader = data.DataLoader(data.TensorDataset(images, y), batch_size=32, shuffle=True, seed=0)
    for _ in range(3):
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(cnn(xb), yb).backward()
            opt.step()
    assert time.perf_counter() - start < 10
    end_loss = full_loss()
    assert end_loss < 0.25 * start_loss, (start_loss, end_loss)
    assert accuracy(cnn, X_test.reshape(-1, 1, 8, 8), y_test) > 0.9
