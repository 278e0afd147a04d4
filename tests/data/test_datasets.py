"""Synthetic datasets and the bundled digits: shapes, dtypes, seeding, and the exact regression optimum."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mb import backend, data
from tinygrad_mb.errors import DataError
from tinygrad_mb.tensor import Tensor

CLASSIFICATION = [
    (data.logistic_regression, {"n": 120, "d": 3}, 2, 3),
    (data.two_moons, {"n": 101}, 2, 2),
    (data.spirals, {"n": 150, "n_classes": 4}, 4, 2),
    (data.blobs, {"n": 90, "n_classes": 5, "d": 7}, 5, 7),
]


@pytest.mark.parametrize(("make", "kwargs", "n_classes", "d"), CLASSIFICATION)
def test_classification_sets_have_the_promised_shapes_and_dtypes(make, kwargs, n_classes, d):
    ds = make(**kwargs, seed=0)
    n = kwargs["n"]
    assert ds.task == "classification" and ds.n_classes == n_classes
    assert ds.X.shape == (n, d) and ds.X.dtype == np.float32
    assert ds.y.shape == (n,) and ds.y.dtype == np.int64
    assert set(np.unique(ds.y)) <= set(range(n_classes))
    assert len(ds) == ds.n_samples == n and ds.n_features == d
    assert np.isfinite(ds.X).all()


@pytest.mark.parametrize(("make", "kwargs", "n_classes", "d"), CLASSIFICATION)
def test_same_seed_same_data_other_seed_other_data(make, kwargs, n_classes, d):
    a, b, c = make(**kwargs, seed=7), make(**kwargs, seed=7), make(**kwargs, seed=8)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)


def test_generators_do_not_touch_the_global_random_state():
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    data.linear_regression(seed=1), data.two_moons(seed=1), data.spirals(seed=1), data.blobs(seed=1)
    assert np.random.random() == expected


def test_balanced_sets_are_shuffled_and_balanced():
    ds = data.spirals(n=300, n_classes=3, seed=0)
    assert np.bincount(ds.y).tolist() == [100, 100, 100]
    assert len(set(ds.y[:20].tolist())) > 1  # not one class after the other


def test_shuffling_keeps_each_sample_with_its_label():
    # Catches X and y being shuffled with different permutations: without noise every point sits on its centre.
    ds = data.blobs(n=60, n_classes=4, std=0.0, seed=0)
    np.testing.assert_allclose(ds.X, ds.meta["centers"][ds.y], rtol=1e-6)


@given(n=st.integers(3, 300), d=st.integers(1, 12), noise=st.floats(0.0, 3.0), seed=st.integers(0, 2**32))
def test_linear_regression_optimum_is_exact(n, d, noise, seed):
    ds = data.linear_regression(n=n, d=d, noise=noise, seed=seed)
    assert ds.X.shape == (n, d) and ds.X.dtype == np.float32
    assert ds.y.shape == (n, 1) and ds.y.dtype == np.float32
    assert ds.w_star.shape == (d,) and isinstance(ds.b_star, float)
    X, y = ds.X.astype(np.float64), ds.y[:, 0].astype(np.float64)
    residual = X @ ds.w_star + ds.b_star - y
    # L = mean(r^2): dL/dw = 2/n X^T r, dL/db = 2/n sum(r); zero at the optimum.
    grad_w, grad_b = 2 / n * X.T @ residual, 2 / n * residual.sum()
    scale = 1 + np.abs(X).max() * (1 + np.abs(y).max())
    assert np.abs(grad_w).max() < 1e-8 * scale and abs(grad_b) < 1e-8 * scale
    assert ds.min_loss == pytest.approx(np.mean(residual**2), rel=1e-12, abs=1e-15)
    assert ds.loss(ds.w_star, ds.b_star) == pytest.approx(ds.min_loss, rel=1e-9, abs=1e-12)
    # Any other point is no better.
    rng = np.random.default_rng(0)
    assert ds.loss(ds.w_star + 0.01 * rng.standard_normal(d), ds.b_star) >= ds.min_loss


def test_linear_regression_recovers_the_truth_with_little_noise():
    ds = data.linear_regression(n=2000, d=5, noise=0.01, seed=3)
    np.testing.assert_allclose(ds.w_star, ds.w_true, atol=1e-2)
    assert ds.b_star == pytest.approx(ds.b_true, abs=1e-2)
    assert ds.min_loss == pytest.approx(0.01**2, rel=0.2)
    assert ds.loss(ds.w_true.reshape(1, -1), np.array([ds.b_true])) >= ds.min_loss


def test_the_parts_of_a_split_have_their_own_meta():
    whole = data.linear_regression(n=50, seed=0)
    train, test = whole.split(test_size=10, seed=0)
    train.meta["note"] = "train only"
    assert "note" not in test.meta and "note" not in whole.meta


def test_a_split_keeps_the_meta_data():
    # Catches split() giving its parts an empty meta dict instead of a copy of the original's.
    whole = data.blobs(n=30, seed=0)
    train, test = whole.split(test_size=10, seed=0)
    for part in (train, test):
        np.testing.assert_array_equal(part.meta["centers"], whole.meta["centers"])
        assert part.meta["std"] == whole.meta["std"] and part.n_classes == whole.n_classes


def test_linear_regression_split_gives_plain_arrays():
    train, test = data.linear_regression(n=50, seed=0).split(test_size=10, seed=0)
    assert type(train) is data.ArrayData and train.task == "regression"
    assert len(train) == 40 and len(test) == 10


def test_generator_settings_may_be_numpy_numbers():
    assert len(data.linear_regression(n=20, noise=np.array(0.1), seed=0)) == 20
    assert len(data.blobs(n=30, std=np.float32(0.5), seed=0)) == 30


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: data.linear_regression(n=0), "n must be an int >= 1"),
        (lambda: data.linear_regression(d=2.5), "d must be an int"),
        (lambda: data.linear_regression(noise=-1), "noise must be a finite number >= 0"),
        (lambda: data.spirals(n_classes=1), "n_classes must be an int >= 2"),
        (lambda: data.blobs(n=2, n_classes=3), "n must be an int >= 3"),
        (lambda: data.two_moons(noise=float("nan")), "noise"),
        (lambda: data.linear_regression(noise="0.5"), "noise must be a finite number >= 0, got '0.5'"),
        (lambda: data.two_moons(noise=None), "noise must be a finite number >= 0, got None"),
        (lambda: data.blobs(std=[1, 2]), "std must be a finite number >= 0, got \\[1, 2\\]"),
        (lambda: data.spirals(n_classes="3"), "n_classes must be an int >= 2, got '3'"),
    ],
)
def test_bad_generator_arguments_are_rejected(call, match):
    with pytest.raises(DataError, match=match):
        call()


def test_array_data_validates_itself():
    with pytest.raises(DataError, match="one row per target"):
        data.ArrayData(X=np.zeros((3, 2)), y=np.zeros(4, np.int64), task="classification", name="x", n_classes=2)
    with pytest.raises(DataError, match=r"labels must lie in \[0, 2\)"):
        data.ArrayData(X=np.zeros((2, 2)), y=np.array([0, 2]), task="classification", name="x", n_classes=2)
    with pytest.raises(DataError, match="task must be one of"):
        data.ArrayData(X=np.zeros((2, 2)), y=np.zeros(2), task="clustering", name="x")
    # found by mutation testing: a 1-d X, float labels with n_classes given, int labels without it
    with pytest.raises(DataError, match=r"X must be \(n, d\)"):
        data.ArrayData(X=np.zeros(3), y=np.zeros(3), task="regression", name="x")
    for y, n_classes in ((np.zeros(2), 2), (np.zeros(2, np.int64), None)):
        with pytest.raises(DataError, match="integer labels and n_classes"):
            data.ArrayData(X=np.zeros((2, 2)), y=y, task="classification", name="x", n_classes=n_classes)


def test_loader_keeps_the_order_unless_asked_and_loss_takes_every_weight_layout():
    # found by mutation testing: the loader's default shuffle, loss()'s default bias and the (d, 1) layout
    ds = data.linear_regression(n=10, d=3, seed=0)
    _, yb = next(iter(ds.loader(batch_size=10)))
    np.testing.assert_array_equal(yb.numpy(), ds.y)
    w = np.array([0.5, -1.0, 2.0])
    assert ds.loss(w) == ds.loss(w, 0.0) != ds.loss(w, 1.0)
    assert ds.loss(w.reshape(3, 1), 0.3) == ds.loss(w.reshape(1, 3), 0.3) == ds.loss(w, 0.3)


def test_array_data_to_dataset_and_loader():
    ds = data.blobs(n=40, seed=0)
    td = ds.to_dataset()
    assert len(td) == 40 and td.tensors[0].dtype == np.float32 and td.tensors[1].dtype == np.int64
    loader = ds.loader(batch_size=16, shuffle=True, seed=0)
    assert len(loader) == 3
    assert sum(len(yb) for _, yb in loader) == 40


def test_array_data_loader_batches_cannot_change_the_data():
    # Catches an unshuffled batch being a writable view: xb.data += 0.1 changed ds.X for every later epoch.
    if backend.get_backend() == "cupy":
        pytest.skip("CuPy arrays have no read-only flag: on CuPy an in-place edit of a batch does change the data")
    ds = data.blobs(n=40, seed=0)
    X = ds.X.copy()
    xb, yb = next(iter(ds.loader(batch_size=16)))
    with pytest.raises(ValueError, match="read-only"):
        xb.data += 0.1
    with pytest.raises(ValueError, match="read-only"):
        yb.data[:] = 0
    np.testing.assert_array_equal(ds.X, X)


def test_array_data_loader_uses_its_seed():
    # Catches ArrayData.loader dropping the seed: the order would then change from run to run.
    ds = data.blobs(n=40, seed=0)
    orders = [[yb.numpy().tolist() for _, yb in ds.loader(batch_size=40, shuffle=True, seed=5)] for _ in range(2)]
    expected = data.DataLoader(ds.to_dataset(), batch_size=40, shuffle=True, seed=5)
    assert orders[0] == orders[1] == [yb.numpy().tolist() for _, yb in expected]


def test_digits_are_the_uci_test_set():
    ds = data.load_digits()
    assert ds.name == "digits" and ds.n_classes == 10
    assert ds.X.shape == (1797, 64) and ds.X.dtype == np.float32
    assert ds.y.shape == (1797,) and ds.y.dtype == np.int64
    assert ds.X.min() == 0 and ds.X.max() == 16 and np.array_equal(ds.X, np.round(ds.X))
    assert np.bincount(ds.y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert ds.y[:10].tolist() == list(range(10))
    assert ds.meta["image_shape"] == (8, 8)
    scaled = data.load_digits(scale=True)
    np.testing.assert_allclose(scaled.X, ds.X / 16)


def test_digits_calls_are_independent_copies():
    a = data.load_digits()
    a.X[:] = -1
    assert data.load_digits().X.min() == 0


def test_digits_licence_ships_with_the_data():
    from importlib import resources

    text = (resources.files("tinygrad_mb.data") / "DIGITS_LICENSE.txt").read_text()
    assert "CC BY 4.0" in text and "Alpaydin" in text


def test_linear_regression_loss_takes_tensors_on_any_backend(backend_name, on_backend):
    # Catches loss() calling np.asarray on a GPU tensor: the weights of a model trained on CuPy were refused.
    ds = data.linear_regression(n=50, d=3, seed=0)
    w = Tensor(on_backend(ds.w_star.reshape(1, 3).astype(np.float32)))  # shaped like Linear(3, 1).weight
    b = Tensor(on_backend(np.array([ds.b_star], dtype=np.float32)))  # and like its bias
    assert ds.loss(w, b) == pytest.approx(ds.min_loss, rel=1e-5)
    assert ds.loss(on_backend(ds.w_star), ds.b_star) == pytest.approx(ds.min_loss, rel=1e-9)


@pytest.mark.parametrize(
    ("w", "b", "match"),
    [
        (np.zeros(4), 0.0, r"w needs one weight per feature, shape \(3,\), \(3, 1\) or \(1, 3\), got shape \(4,\)"),
        (np.zeros((3, 2)), 0.0, r"got shape \(3, 2\)"),
        (np.zeros(3), np.array([1.0, 2.0]), r"b must be one number .*got shape \(2,\)"),
    ],
)
def test_linear_regression_loss_checks_the_shapes(w, b, match):
    # Catches a wrong w failing inside matmul, and a b of two numbers silently using the first.
    with pytest.raises(DataError, match=match):
        data.linear_regression(n=20, d=3, seed=0).loss(w, b)


def test_array_data_turns_lists_into_arrays():
    ds = data.ArrayData(X=[[1.0, 2.0], [3.0, 4.0]], y=[0, 1], task="classification", name="t", n_classes=2)
    assert isinstance(ds.X, np.ndarray) and isinstance(ds.y, np.ndarray) and ds.X.shape == (2, 2)
    whole = data.linear_regression(n=20, d=2, seed=0)
    listed = data.LinearRegressionData(**{**vars(whole), "w_true": whole.w_true.tolist(),
                                          "w_star": whole.w_star.tolist()})
    assert isinstance(listed.w_true, np.ndarray) and isinstance(listed.w_star, np.ndarray)


@pytest.mark.parametrize("n_classes", [3.5, 0, True, "3"])
def test_array_data_needs_a_positive_int_n_classes(n_classes):
    # Catches n_classes=3.5 being accepted because the labels happen to lie below it.
    with pytest.raises(DataError, match="n_classes must be an int >= 1"):
        data.ArrayData(X=np.zeros((3, 2)), y=np.array([0, 1, 2]), task="classification", name="t",
                       n_classes=n_classes)
