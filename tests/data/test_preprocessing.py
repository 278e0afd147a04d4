"""train_test_split and standardize."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mb.data import standardize, train_test_split
from tinygrad_mb.errors import DataError


@given(n=st.integers(2, 200), fraction=st.floats(0.01, 0.99), seed=st.integers(0, 2**32))
def test_split_partitions_the_samples(n, fraction, seed):
    X = np.arange(n * 2).reshape(n, 2)
    y = np.arange(n)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=fraction, seed=seed)
    assert 1 <= len(y_te) <= n - 1 and len(y_tr) + len(y_te) == n
    assert sorted(np.concatenate([y_tr, y_te]).tolist()) == list(range(n))
    np.testing.assert_array_equal(X_tr[:, 0], 2 * y_tr)  # rows stay paired
    np.testing.assert_array_equal(X_te[:, 0], 2 * y_te)
    again = train_test_split(X, y, test_size=fraction, seed=seed)
    np.testing.assert_array_equal(again[3], y_te)


def test_split_sizes():
    X, y = np.zeros((10, 3)), np.zeros(10)
    assert len(train_test_split(X, y, test_size=0.25, seed=0)[1]) == 3  # ceil(2.5)
    assert len(train_test_split(X, y, test_size=4, seed=0)[1]) == 4
    assert len(train_test_split(X, y, test_size=np.int64(1), seed=0)[1]) == 1


@given(counts=st.lists(st.integers(1, 40), min_size=2, max_size=6), fraction=st.floats(0.1, 0.9),
       seed=st.integers(0, 2**32))
def test_stratified_split_keeps_class_proportions(counts, fraction, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    n = len(y)
    X = np.arange(n).reshape(n, 1)
    _, X_te, _, y_te = train_test_split(X, y, test_size=fraction, seed=seed, stratify=True)
    n_test = len(y_te)
    assert n_test == min(max(int(np.ceil(fraction * n)), 1), n - 1)
    got = np.bincount(y_te, minlength=len(counts))
    ideal = n_test * np.array(counts) / n
    assert np.all(np.abs(got - ideal) < 1) and got.sum() == n_test
    np.testing.assert_array_equal(y[X_te[:, 0]], y_te)


def test_stratified_split_gives_the_spare_places_to_the_largest_remainders():
    # Catches the leftover test places going to the first classes: ideal counts 1.5, 0.9, 0.6 must give 1, 1, 1.
    y = np.repeat([0, 1, 2], [5, 3, 2])
    _, _, _, y_te = train_test_split(np.zeros((10, 1)), y, test_size=3, seed=0, stratify=True)
    assert np.bincount(y_te, minlength=3).tolist() == [1, 1, 1]


def test_stratified_test_part_is_shuffled_too():
    # Catches the stratified test part coming out sorted by class (picked class after class).
    y = np.repeat([0, 1], 50)
    _, _, y_tr, y_te = train_test_split(np.zeros((100, 1)), y, test_size=0.5, seed=0, stratify=True)
    for part in (y_tr, y_te):
        assert np.any(np.diff(part) < 0)  # a 1 comes before a 0 somewhere


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((np.zeros((3, 2)), np.zeros(4)), {}, "same length"),
        ((np.zeros((1, 2)), np.zeros(1)), {}, "at least 2 samples"),
        ((np.zeros((5, 2)), np.zeros(5)), {"test_size": 0.0}, "test_size"),
        ((np.zeros((5, 2)), np.zeros(5)), {"test_size": 5}, "leaves no train"),
        ((np.zeros((5, 2)), np.zeros(5)), {"test_size": True}, "test_size"),
        ((np.zeros((5, 2)), np.zeros(5)), {"stratify": True}, "integer class labels"),
    ],
)
def test_split_rejects_bad_input(args, kwargs, match):
    with pytest.raises(DataError, match=match):
        train_test_split(*args, **kwargs)


def test_standardize_uses_training_statistics():
    rng = np.random.default_rng(0)
    X_train = (rng.standard_normal((500, 4)) * [1, 10, 100, 0] + [5, -3, 0, 7]).astype(np.float32)
    X_test = rng.standard_normal((50, 4)).astype(np.float32)
    train, test, mean, std = standardize(X_train, X_test)
    assert train.dtype == test.dtype == np.float32
    np.testing.assert_allclose(train[:, :3].mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(train[:, :3].std(0), 1, atol=1e-5)
    assert std[3] == 1 and np.all(train[:, 3] == 0)  # constant feature: centred only, no division by 0
    np.testing.assert_allclose(test, (X_test - mean) / std, rtol=1e-5, atol=1e-5)


def test_standardize_without_test_and_with_integers():
    result = standardize(np.arange(12).reshape(6, 2))
    assert result.test is None and result.train.dtype == np.float32
    assert standardize(np.ones((3, 2), dtype=np.float64)).train.dtype == np.float64


def test_standardize_rejects_bad_shapes():
    with pytest.raises(DataError, match=r"\(n, d\)"):
        standardize(np.zeros(5))
    with pytest.raises(DataError, match="X_test has features of shape"):
        standardize(np.zeros((5, 3)), np.zeros((2, 4)))


def test_a_constant_float64_feature_is_centred_exactly():
    # The computed mean of ten copies of 0.1 is off by a rounding error; std > 0 would then
    # divide by about 1e-17 and blow the test values up to 1e15.
    X_train = np.column_stack([np.full(10, 0.1), np.arange(10.0)])
    train, test, mean, std = standardize(X_train, np.array([[0.2, 3.0]]))
    assert std[0] == 1 and mean[0] == 0.1
    assert np.all(train[:, 0] == 0)
    assert test[0, 0] == pytest.approx(0.1)
