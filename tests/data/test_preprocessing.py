"""train_test_split and standardize."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mb import backend
from tinygrad_mb.data import standardize, train_test_split
from tinygrad_mb.errors import DataError
from tinygrad_mb.tensor import Tensor


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


@given(counts=st.lists(st.integers(2, 40), min_size=2, max_size=6), fraction=st.floats(0.1, 0.9),
       seed=st.integers(0, 2**32))
def test_stratified_split_keeps_class_proportions(counts, fraction, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    n = len(y)
    X = np.arange(n).reshape(n, 1)
    n_test = min(max(int(np.ceil(fraction * n)), 1), n - 1)
    if min(n_test, n - n_test) < len(counts):  # some class could not be in both parts
        with pytest.raises(DataError, match="part gets"):
            train_test_split(X, y, test_size=fraction, seed=seed, stratify=True)
        return
    _, X_te, _, y_te = train_test_split(X, y, test_size=fraction, seed=seed, stratify=True)
    assert len(y_te) == n_test
    got = np.bincount(y_te, minlength=len(counts))
    ideal = n_test * np.array(counts) / n
    assert got.sum() == n_test
    assert np.all(got >= 1) and np.all(got <= np.array(counts) - 1)  # every class in both parts
    if np.all(ideal >= 1) and np.all(ideal <= np.array(counts) - 1):  # then nothing pushes a count off its share
        assert np.all(np.abs(got - ideal) < 1)
    np.testing.assert_array_equal(y[X_te[:, 0]], y_te)


def test_stratified_split_gives_the_spare_places_to_the_largest_remainders():
    # Catches the leftover test places going to the first classes: ideal counts 1.5, 0.9, 0.6 must give 1, 1, 1.
    y = np.repeat([0, 1, 2], [5, 3, 2])
    _, _, _, y_te = train_test_split(np.zeros((10, 1)), y, test_size=3, seed=0, stratify=True)
    assert np.bincount(y_te, minlength=3).tolist() == [1, 1, 1]


def test_a_stratified_split_keeps_every_class_in_both_parts_when_rounding_would_drop_one():
    # Ideal test counts 9.6, 0.2, 0.2 round to 10, 0, 0: the two small classes would be missing from the test part.
    y = np.repeat([0, 1, 2], [96, 2, 2])
    _, _, y_tr, y_te = train_test_split(np.zeros((100, 1)), y, test_size=10, seed=0, stratify=True)
    assert np.bincount(y_te, minlength=3).tolist() == [8, 1, 1]
    assert np.bincount(y_tr, minlength=3).tolist() == [88, 1, 1]
    # and the other way round: a test part of 90 would take both samples of each small class
    _, _, y_tr, y_te = train_test_split(np.zeros((100, 1)), y, test_size=90, seed=0, stratify=True)
    assert np.bincount(y_tr, minlength=3).tolist() == [8, 1, 1]


@given(st.lists(st.integers(2, 30), min_size=2, max_size=6), st.integers(0, 10_000))
def test_a_stratified_split_of_any_feasible_size_has_every_class_in_both_parts(counts, draw):
    y = np.repeat(np.arange(len(counts)), counts)
    n, k = len(y), len(counts)
    n_test = k + draw % (n - 2 * k + 1)  # anything in [k, n - k]
    _, _, y_tr, y_te = train_test_split(np.zeros((n, 1)), y, test_size=n_test, seed=0, stratify=True)
    assert len(y_te) == n_test
    assert (np.bincount(y_te, minlength=k) >= 1).all() and (np.bincount(y_tr, minlength=k) >= 1).all()


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


def test_stratify_takes_class_indices_of_shape_n_or_n_1():
    # Catches one-hot labels being stratified on their first column only (class 0 against the rest).
    y = np.repeat([0, 1, 2], [50, 30, 20])
    one_hot = np.eye(3, dtype=np.int64)[y]
    with pytest.raises(DataError, match=r"shape \(100,\) or \(100, 1\), got \(100, 3\).*y\.argmax\(axis=1\)"):
        train_test_split(np.zeros((100, 1)), one_hot, test_size=0.2, seed=0, stratify=True)
    column = train_test_split(np.zeros((100, 1)), y.reshape(-1, 1), test_size=0.2, seed=0, stratify=True)[3]
    flat = train_test_split(np.zeros((100, 1)), y, test_size=0.2, seed=0, stratify=True)[3]
    np.testing.assert_array_equal(column[:, 0], flat)
    assert np.bincount(flat).tolist() == [10, 6, 4]


@pytest.mark.parametrize(
    ("y", "test_size", "match"),
    [
        (np.array([0] * 9 + [1]), 0.5, "class 1 has only 1 sample.*stratify=False"),
        (np.arange(30) % 3, 2, r"the test part gets 2 samples for 3 classes.*count in \[3, 27\]"),
        (np.arange(30) % 3, 28, r"the train part gets 2 samples for 3 classes.*count in \[3, 27\]"),
        (np.array([0, 0, 1, 1, 1, 1, 1, 1, 1, 1]), 0.9, "the train part gets 1 samples for 2 classes"),
    ],
)
def test_a_stratified_split_that_would_leave_a_class_out_is_refused(y, test_size, match):
    # Catches a class silently missing from the train or the test part, as scikit-learn refuses it too.
    with pytest.raises(DataError, match=match):
        train_test_split(np.zeros((len(y), 1)), y, test_size=test_size, seed=0, stratify=True)


@pytest.mark.gpu
@pytest.mark.skipif(not backend.cupy_available(), reason="needs CuPy and a GPU")
def test_gpu_arrays_are_refused_with_how_to_copy_them():
    # Catches CuPy's "Implicit conversion to a NumPy array" TypeError reaching the user.
    X = backend.to_backend(np.zeros((4, 2), np.float32), "cupy")
    y = np.arange(4)
    for call in (lambda: train_test_split(X, y), lambda: train_test_split(Tensor(X), y),
                 lambda: standardize(X), lambda: standardize(np.zeros((4, 2)), X)):
        with pytest.raises(DataError, match=r"CuPy array.*NumPy arrays.*tinygrad_mb\.backend\.to_numpy\("):
            call()


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


def test_standardize_refuses_nan_and_inf_in_the_training_data():
    X = np.array([[1.0, 2.0], [3.0, np.nan], [5.0, 6.0]])
    with pytest.raises(DataError, match="NaN or inf values \\(the first at row 1, column 1\\)"):
        standardize(X)
    with pytest.raises(DataError, match="NaN or inf"):
        standardize(np.array([[1.0], [np.inf]], dtype=np.float32))
