"""DataLoader and TensorDataset: every sample once per epoch, seeded order, batch counts, errors."""

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_mb.nn.functional as F
from tinygrad_mb import backend, nn, optim
from tinygrad_mb.data import DataLoader, Dataset, Subset, TensorDataset, load_digits, random_split
from tinygrad_mb.errors import BackendError, DataError
from tinygrad_mb.tensor import Tensor

sizes = st.integers(1, 60)
batch_sizes = st.one_of(st.none(), st.integers(1, 70))


def indexed_dataset(n, backend_name="numpy"):
    """Features whose first column is the sample index, so batches reveal which samples they hold."""
    X = np.stack([np.arange(n), np.arange(n) * 10], axis=1).astype(np.float32)
    y = np.arange(n, dtype=np.int64)
    return TensorDataset(X, y, backend=backend_name)


def epoch_indices(loader):
    return [backend.to_numpy(yb.data).tolist() for _, yb in loader]


@given(n=sizes, batch_size=batch_sizes, shuffle=st.booleans(), drop_last=st.booleans(), seed=st.integers(0, 2**32))
def test_one_epoch_visits_every_index_once_and_len_matches(n, batch_size, shuffle, drop_last, seed):
    b = n if batch_size is None else batch_size
    if drop_last and b > n:
        with pytest.raises(DataError, match="no batch"):
            DataLoader(indexed_dataset(n), batch_size=batch_size, drop_last=True)
        return
    loader = DataLoader(indexed_dataset(n), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed)
    batches = epoch_indices(loader)
    assert len(batches) == len(loader) == (n // b if drop_last else math.ceil(n / b))
    seen = [i for batch in batches for i in batch]
    assert len(seen) == (n - n % b if drop_last else n)
    assert len(set(seen)) == len(seen)  # nobody twice
    if not drop_last:
        assert sorted(seen) == list(range(n))  # everybody once
    assert all(len(batch) == b for batch in batches[:-1] if batches)
    if not shuffle:
        assert seen == list(range(len(seen)))


@given(n=st.integers(3, 60), batch_size=batch_sizes, seed=st.integers(0, 2**32))
def test_same_seed_same_order_and_epochs_differ(n, batch_size, seed):
    a = DataLoader(indexed_dataset(n), batch_size=batch_size, shuffle=True, seed=seed)
    b = DataLoader(indexed_dataset(n), batch_size=batch_size, shuffle=True, seed=seed)
    epochs_a = [epoch_indices(a) for _ in range(10)]
    assert epochs_a == [epoch_indices(b) for _ in range(10)]
    orders = [[i for batch in e for i in batch] for e in epochs_a]
    rng = np.random.default_rng(seed)  # epoch k is the k-th permutation of the loader's own generator
    assert orders == [rng.permutation(n).tolist() for _ in range(10)]
    assert len({tuple(o) for o in orders}) > 1  # fresh order each epoch (all 10 equal: chance < 1e-7)
    assert a.epoch == 10


def test_features_and_labels_stay_paired_and_keep_dtypes(backend_name):
    loader = DataLoader(indexed_dataset(23, backend_name), batch_size=5, shuffle=True, seed=0)
    for xb, yb in loader:
        assert isinstance(xb, Tensor) and isinstance(yb, Tensor)
        assert xb.backend == yb.backend == backend_name
        assert xb.dtype == np.float32 and yb.dtype == np.int64
        assert not xb.requires_grad
        np.testing.assert_array_equal(xb.numpy()[:, 0], yb.numpy())
        np.testing.assert_array_equal(xb.numpy()[:, 1], 10 * yb.numpy())


def test_batch_size_none_is_one_full_batch():
    loader = DataLoader(indexed_dataset(17), batch_size=None)
    assert len(loader) == 1 and loader.batch_size == 17
    (xb, yb), = list(loader)
    assert xb.shape == (17, 2) and yb.shape == (17,)


def test_batch_size_larger_than_n_gives_one_batch():
    loader = DataLoader(indexed_dataset(5), batch_size=100)
    assert len(loader) == 1 and [len(b) for b in epoch_indices(loader)] == [5]


def test_data_is_moved_once_and_unshuffled_batches_are_views():
    ds = indexed_dataset(10)
    loader = DataLoader(ds, batch_size=4)
    assert loader._arrays[0] is ds.tensors[0].data  # same backend: not even copied
    xb, _ = next(iter(loader))
    assert np.shares_memory(xb.data, ds.tensors[0].data)



def test_unshuffled_batches_are_read_only_so_the_users_arrays_cannot_change():
    # Catches an in-place edit of an unshuffled batch (a view) silently changing the user's X.
    if backend.get_backend() == "cupy":
        pytest.skip("CuPy arrays have no read-only flag: on CuPy an in-place edit of a batch does change the data")
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = np.arange(6, dtype=np.float32).reshape(6, 1)
    ds = TensorDataset(X, y)
    for batches in (DataLoader(ds, batch_size=4), DataLoader(ds), DataLoader(Subset(ds, [0, 1, 2]))):
        xb, _ = next(iter(batches))
        with pytest.raises(ValueError, match="read-only"):
            xb.data += 0.1
    with pytest.raises(ValueError, match="read-only"):
        ds[1:3][0].data += 0.1  # a slice of the dataset is a view too
    np.testing.assert_array_equal(X, np.arange(12, dtype=np.float32).reshape(6, 2))
    assert X.flags.writeable  # only the views are locked, never the user's own array
    shuffled, _ = next(iter(DataLoader(ds, batch_size=4, shuffle=True, seed=0)))
    shuffled.data += 0.1  # a copy: free to change, and X does not see it
    np.testing.assert_array_equal(X, np.arange(12, dtype=np.float32).reshape(6, 2))
    # Training reads the batches and never writes to them.
    model = nn.Linear(2, 1, seed=0)
    opt = optim.SGD(model.parameters(), lr=0.002)
    losses = []
    for _ in range(20):
        for xb, yb in DataLoader(ds, batch_size=3):
            opt.zero_grad()
            loss = F.mse_loss(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    assert losses[-1] < losses[0]
    loader = DataLoader(indexed_dataset(6), batch_size=2, backend="numpy")
    xb, yb = next(iter(loader))
    assert xb.backend == yb.backend == "numpy"


@pytest.mark.gpu
@pytest.mark.skipif(not backend.cupy_available(), reason="needs CuPy and a GPU")
def test_cupy_loader_moves_data_once():
    ds = indexed_dataset(50)  # on NumPy
    loader = DataLoader(ds, batch_size=8, shuffle=True, seed=1, backend="cupy")
    assert all(backend.backend_of(a) == "cupy" for a in loader._arrays)
    seen = sorted(i for batch in epoch_indices(loader) for i in batch)
    assert seen == list(range(50))


def test_shuffled_order_does_not_depend_on_backend(backend_name):
    reference = epoch_indices(DataLoader(indexed_dataset(30), batch_size=7, shuffle=True, seed=5))
    other = epoch_indices(DataLoader(indexed_dataset(30, backend_name), batch_size=7, shuffle=True, seed=5))
    assert reference == other


def test_generic_dataset_is_collated():
    class Squares(Dataset):
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return np.array([i, i * i], dtype=np.float32), i

    batches = list(DataLoader(Squares(), batch_size=3, shuffle=True, seed=0))
    assert [len(yb) for _, yb in batches] == [3, 3, 1]
    for xb, yb in batches:
        assert xb.dtype == np.float32 and yb.dtype == np.int64
        np.testing.assert_array_equal(xb.numpy()[:, 1], yb.numpy() ** 2)
    order = np.concatenate([yb.numpy() for _, yb in batches])
    assert sorted(order) == list(range(7)) and list(order) != list(range(7))  # shuffled, every sample once
    same = np.concatenate([yb.numpy() for _, yb in DataLoader(Squares(), batch_size=3, shuffle=True, seed=0)])
    np.testing.assert_array_equal(same, order)  # the seed fixes the order


def test_a_tensor_dataset_subclass_with_its_own_getitem_is_asked_for_each_sample():
    class Negated(TensorDataset):  # e.g. a transform or an augmentation
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return -x.numpy(), y.numpy()

    xb, yb = next(iter(DataLoader(Negated(np.arange(4.0).reshape(2, 2), np.array([0, 1])), batch_size=2)))
    np.testing.assert_array_equal(xb.numpy(), [[-0.0, -1.0], [-2.0, -3.0]])
    np.testing.assert_array_equal(yb.numpy(), [0, 1])


def test_samples_that_are_not_numbers_get_a_clear_error():
    class Dicts(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return {"x": i}

    with pytest.raises(DataError, match="hold dict values, which cannot be stacked.*tuple of arrays"):
        next(iter(DataLoader(Dicts(), batch_size=2)))


def test_python_float_samples_become_float32_like_tensor():
    class Halves(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return i / 2, i  # a Python float and a Python int

    xb, yb = next(iter(DataLoader(Halves(), batch_size=4)))
    assert xb.dtype == np.float32 and yb.dtype == np.int64
    np.testing.assert_array_equal(xb.numpy(), [0.0, 0.5, 1.0, 1.5])


def test_tensor_dataset_indexing_and_conversion():
    ds = TensorDataset(Tensor(np.arange(12.0, dtype=np.float32).reshape(6, 2)), np.arange(6))
    assert len(ds) == 6 and ds.backend == backend.get_backend()
    x, y = ds[2]
    np.testing.assert_array_equal(x.numpy(), [4.0, 5.0])
    assert y.item() == 2
    xs, ys = ds[np.array([0, 5])]
    assert xs.shape == (2, 2) and ys.numpy().tolist() == [0, 5]
    assert "TensorDataset" in repr(ds)


@pytest.mark.parametrize(
    ("tensors", "match"),
    [
        ((), "at least one tensor"),
        ((np.zeros((3, 2)), np.zeros(4)), r"same length.*\(3, 2\).*\(4,\)"),
        ((np.float32(1.0),), "scalar"),
    ],
)
def test_tensor_dataset_rejects_bad_input(tensors, match):
    with pytest.raises(DataError, match=match):
        TensorDataset(*tensors)


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True, "4"])
def test_bad_batch_size_is_rejected(batch_size):
    with pytest.raises(DataError, match="batch_size must be a positive int"):
        DataLoader(indexed_dataset(5), batch_size=batch_size)


def test_other_bad_loader_input_is_rejected():
    with pytest.raises(DataError, match="empty dataset"):
        DataLoader(TensorDataset(np.zeros((0, 2))))
    with pytest.raises(DataError, match="needs a Dataset"):
        DataLoader(42)
    with pytest.raises(TypeError, match="seed"):
        DataLoader(indexed_dataset(5), seed="abc")
    with pytest.raises(BackendError, match="unknown backend"):
        DataLoader(indexed_dataset(5), backend="tpu")



@pytest.mark.parametrize("arrays", [
    lambda X: (X, X.copy()),  # same shapes: they used to become a dataset of 2 "samples"
    lambda X: [X, X[:, :1]],  # different shapes: refused before too
    lambda X: (Tensor(X), Tensor(X)),
    lambda X: (X,),
], ids=["same-shapes", "different-shapes", "tensors", "one-array"])
def test_a_tuple_or_list_of_arrays_is_refused_whatever_their_shapes(arrays):
    X = np.zeros((5, 3), np.float32)
    with pytest.raises(DataError, match=r"(tuple|list) of \d arrays?; .*DataLoader\(TensorDataset\(X, y\)"):
        DataLoader(arrays(X), batch_size=2)


def test_a_list_of_sample_pairs_is_still_a_dataset():
    X, y = np.arange(10, dtype=np.float32).reshape(5, 2), np.arange(5)
    xb, yb = next(iter(DataLoader([(x, t) for x, t in zip(X, y)], batch_size=5)))
    np.testing.assert_array_equal(xb.numpy(), X)
    np.testing.assert_array_equal(yb.numpy(), y)
    assert len(DataLoader(indexed_dataset(5), batch_size=2)) == 3


def _epochs(loader, count):
    return [epoch_indices(loader) for _ in range(count)]


def test_state_dict_resumes_the_shuffled_order_in_a_new_loader():
    # Catches a resumed run drawing the permutations of epochs 1, 2 again instead of those of 3, 4.
    straight = _epochs(DataLoader(indexed_dataset(20), batch_size=6, shuffle=True, seed=7), 4)
    first = DataLoader(indexed_dataset(20), batch_size=6, shuffle=True, seed=7)
    before = _epochs(first, 2)
    saved = json.loads(json.dumps(first.state_dict()))  # JSON-able, as in a checkpoint file
    resumed = DataLoader(indexed_dataset(20), batch_size=6, shuffle=True, seed=7)
    resumed.load_state_dict(saved)
    assert resumed.epoch == 2
    assert before + _epochs(resumed, 2) == straight
    assert resumed.epoch == 4


def test_a_bad_loader_state_is_refused_with_what_it_needs():
    loader = DataLoader(indexed_dataset(5), shuffle=True, seed=0)
    with pytest.raises(DataError, match=r"dict of DataLoader\.state_dict\(\), with keys 'rng' and 'epoch'"):
        loader.load_state_dict({"epoch": 3})
    other = np.random.Generator(np.random.MT19937(0)).bit_generator.state
    with pytest.raises(DataError, match="does not fit this loader's PCG64 generator"):
        loader.load_state_dict({"rng": other, "epoch": 1})
    assert loader.epoch == 0  # nothing changed


def test_seed_generator_is_used_as_is():
    rng = np.random.default_rng(3)
    loader = DataLoader(indexed_dataset(10), batch_size=10, shuffle=True, seed=rng)
    first = epoch_indices(loader)[0]
    assert first == np.random.default_rng(3).permutation(10).tolist()


def test_a_list_sample_with_an_array_and_a_label_gets_a_clear_error():
    class ListSamples(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return [np.ones(3), i]  # meant as (input, label)

    with pytest.raises(DataError, match=r"returned a sample as a list.*return a tuple, \(input, label\)"):
        next(iter(DataLoader(ListSamples(), batch_size=2)))

    class ScalarListSamples(Dataset):  # stacked into one (B, 2) float field, the label became a feature
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return [float(i), i]

    with pytest.raises(DataError, match=r"returned a sample as a list \(\[0.0, 0\]\)"):
        next(iter(DataLoader(ScalarListSamples(), batch_size=3)))


def test_a_fraction_of_samples_is_not_rounded_up_by_float_error():
    from tinygrad_mb.data import train_test_split

    X, y = np.arange(100.0)[:, None], np.arange(100) % 3
    assert len(train_test_split(X, y, test_size=0.07, seed=0)[1]) == 7  # 0.07 * 100 = 7.000000000000001
    assert len(train_test_split(X, y, test_size=0.071, seed=0)[1]) == 8  # a real fraction still rounds up


def test_samples_of_different_shapes_name_the_shapes():
    class Ragged(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return np.ones(i + 1)

    with pytest.raises(DataError, match=r"shapes differ: \[\(1,\), \(2,\)\]"):
        next(iter(DataLoader(Ragged(), batch_size=2)))


def test_float64_array_samples_keep_their_dtype():
    # Catches the collate step turning every float64 batch into float32, not only batches of Python floats.
    class Doubles(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return np.full(2, i / 3), np.float64(i)

    xb, yb = next(iter(DataLoader(Doubles(), batch_size=3)))
    assert xb.dtype == yb.dtype == np.float64
    np.testing.assert_array_equal(xb.numpy()[:, 0], np.arange(3) / 3)


def test_drop_last_with_a_batch_just_larger_than_the_data_is_refused():
    # Catches an off-by-one in the check: batch_size = N + 1 with drop_last would give epochs without batches.
    with pytest.raises(DataError, match="no batch"):
        DataLoader(indexed_dataset(5), batch_size=6, drop_last=True)
    assert epoch_indices(DataLoader(indexed_dataset(5), batch_size=5, drop_last=True)) == [[0, 1, 2, 3, 4]]


class Doubled(TensorDataset):
    """A TensorDataset subclass with its own __getitem__, as a transform or augmentation has."""

    def __getitem__(self, i):
        x, y = super().__getitem__(i)
        return x * 2, y


def test_a_dataset_subclass_gives_batches_on_its_own_backend(backend_name, on_backend):
    # Catches a subclass's loader using the default backend: CuPy data gave NumPy batches.
    X, y = on_backend(np.arange(8.0, dtype=np.float32).reshape(4, 2), np.arange(4))
    loader = DataLoader(Doubled(X, y, backend=backend_name), batch_size=2)
    xb, yb = next(iter(loader))
    assert loader.backend == xb.backend == yb.backend == backend_name
    np.testing.assert_array_equal(xb.numpy(), [[0.0, 2.0], [4.0, 6.0]])


def test_the_loader_follows_the_datasets_backend_not_the_default(monkeypatch):
    monkeypatch.setattr(backend, "require_cupy", lambda: None)  # only the names matter here
    on_cpu = Doubled(np.zeros((4, 2)), np.arange(4), backend="numpy")
    with backend.use_backend("cupy"):
        assert DataLoader(on_cpu, batch_size=2).backend == "numpy"


def test_a_tensor_index_selects_rows(backend_name):
    # Catches a Tensor index reaching NumPy/CuPy indexing as an object: a GPU tensor refused it.
    ds = indexed_dataset(6, backend_name)
    for index_backend in backend.BACKENDS if backend.cupy_available() else ("numpy",):  # here, or elsewhere
        index = Tensor(np.array([0, 4]), backend=index_backend)
        xs, ys = ds[index]
        assert xs.backend == ys.backend == backend_name
        assert backend.to_numpy(ys.data).tolist() == [0, 4]


def test_an_array_data_given_to_the_loader_is_pointed_to_its_own_loader():
    # Catches the generic "wrap arrays as TensorDataset(X, y)" hint for an object that has .loader().
    with pytest.raises(DataError, match=r"got ArrayData; .*dataset\.loader\(batch_size=.*dataset\.to_dataset\(\)"):
        DataLoader(load_digits())


# --- Subset and random_split ---------------------------------------------------------------
def test_random_split_partitions_the_samples_reproducibly():
    ds = indexed_dataset(10)
    parts = random_split(ds, [6, 3, 1], seed=4)
    rows = [sorted(int(i) for i in p.indices) for p in parts]
    assert [len(r) for r in rows] == [6, 3, 1]
    assert sorted(sum(rows, [])) == list(range(10))  # every sample in exactly one part
    assert [list(p.indices) for p in random_split(ds, [6, 3, 1], seed=4)] == [list(p.indices) for p in parts]
    assert [list(p.indices) for p in random_split(ds, [6, 3, 1], seed=5)] != [list(p.indices) for p in parts]



def test_random_split_of_array_data_is_refused_at_once_with_the_fix():
    # Catches the split succeeding and the loader over a part failing with "'ArrayData' object is not subscriptable".
    digits = load_digits()
    with pytest.raises(DataError, match=r"random_split needs a Dataset.*got ArrayData; .*random_split\(dataset\."
                                        r"to_dataset\(\), \.\.\.\).*\.loader\(batch_size="):
        random_split(digits, [0.8, 0.2], seed=0)
    train, test = random_split(digits.to_dataset(), [0.8, 0.2], seed=0)  # the fix works
    xb, yb = next(iter(DataLoader(train, batch_size=32)))
    assert xb.shape == (32, 64) and len(train) + len(test) == 1797


@pytest.mark.parametrize("n, fractions, sizes", [(10, [0.8, 0.2], [8, 2]), (5, [0.5, 0.5], [3, 2]),
                                                 (7, [0.3, 0.3, 0.4], [3, 2, 2])])
def test_random_split_by_fractions_hands_out_the_remainder_as_pytorch(n, fractions, sizes):
    assert [len(p) for p in random_split(indexed_dataset(n), fractions, seed=0)] == sizes


def test_a_loader_over_a_subset_gives_its_rows_in_order(backend_name):
    ds = indexed_dataset(12, backend_name)
    subset = Subset(ds, [5, 0, -1, 7])  # -1: the last sample, as in Python
    batches = list(DataLoader(subset, batch_size=3))
    first = [int(i) for xb, _ in batches for i in backend.to_numpy(xb.data)[:, 0]]
    assert first == [5, 0, 11, 7]
    assert batches[0][0].backend == backend_name
    assert subset[1][0].data[0] == 0  # indexing a Subset reads the dataset at its index
    shuffled = [int(i) for xb, _ in DataLoader(subset, batch_size=2, shuffle=True, seed=0)
                for i in backend.to_numpy(xb.data)[:, 0]]
    assert sorted(shuffled) == [0, 5, 7, 11]


def test_bad_splits_and_indices_are_refused_with_the_rule():
    ds = indexed_dataset(10)
    with pytest.raises(DataError, match="adding up to the 10 samples"):
        random_split(ds, [6, 3])
    with pytest.raises(DataError, match="adding up to the 10 samples"):
        random_split(ds, [11, -1])
    with pytest.raises(DataError, match="in \\[-10, 10\\)"):
        Subset(ds, [0, 10])
    with pytest.raises(DataError, match="1-d sequence of ints"):
        Subset(ds, [0.5, 1.0])


def test_batch_size_one_and_negative_subset_indices(backend_name):
    # found by mutation testing: batch_size=1 (SGD's) refused, the index -N refused, Subset's backend
    ds = indexed_dataset(5, backend_name)
    assert epoch_indices(DataLoader(ds, batch_size=1)) == [[0], [1], [2], [3], [4]]
    sub = Subset(ds, [-5, -1])
    assert [backend.to_numpy(sub[i][1].data).item() for i in range(2)] == [0, 4]
    assert sub.backend == backend_name and repr(sub).startswith("Subset(2 of TensorDataset(")
    with pytest.raises(DataError, match=r"indices must lie in \[-5, 5\)"):
        Subset(ds, [-6])


def test_an_index_array_is_moved_to_the_datasets_backend(backend_name):
    # found by mutation testing: a NumPy index array must be moved to where a GPU dataset lives
    ds = indexed_dataset(6, backend_name)
    for index in (np.array([4, 1]), [4, 1], Tensor(np.array([4, 1]))):
        X, y = ds[index]
        assert X.backend == y.backend == backend_name
        assert backend.to_numpy(y.data).tolist() == [4, 1]
