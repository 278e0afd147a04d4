"""IDX reading and load_mnist, on small files written here (nothing is downloaded)."""

import gzip

import numpy as np
import pytest

from tinygrad_mb.data import load_mnist, read_idx
from tinygrad_mb.errors import DataError

TYPE_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(array):
    header = bytes([0, 0, TYPE_CODES[array.dtype.type], array.ndim])
    header += b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_mnist(directory, kind="train", n=5, rows=4, cols=3, gz=True, dotted=False):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, rows, cols), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    sep = "." if dotted else "-"
    for what, idx, array in (("images", "idx3", images), ("labels", "idx1", labels)):
        name = f"{kind}-{what}{sep}{idx}-ubyte"
        payload = idx_bytes(array)
        if gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(payload))
        else:
            (directory / name).write_bytes(payload)
    return images, labels


@pytest.mark.parametrize("dtype", list(TYPE_CODES))
def test_read_idx_round_trips_every_element_type(tmp_path, dtype):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    (tmp_path / "a.idx").write_bytes(idx_bytes(array))
    back = read_idx(tmp_path / "a.idx")
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, array)
    back[0] = 0  # a writable copy, not a view of the file's bytes


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("kind", ["train", "t10k"])
def test_load_mnist_reads_gzip_and_raw(tmp_path, gz, kind):
    images, labels = write_mnist(tmp_path, kind=kind, gz=gz)
    ds = load_mnist(tmp_path, kind=kind)
    assert ds.X.shape == (5, 12) and ds.X.dtype == np.float32
    assert ds.y.dtype == np.int64 and ds.n_classes == 10 and ds.meta["image_shape"] == (4, 3)
    np.testing.assert_array_equal(ds.X, images.reshape(5, 12))
    np.testing.assert_array_equal(ds.y, labels)
    np.testing.assert_allclose(load_mnist(tmp_path, kind=kind, scale=True).X, images.reshape(5, 12) / 255)


def test_load_mnist_accepts_dotted_names(tmp_path):
    write_mnist(tmp_path, dotted=True, gz=False)
    assert load_mnist(tmp_path).X.shape == (5, 12)


def test_corrupt_gzip_is_a_data_error(tmp_path):
    write_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:20])  # truncated download
    with pytest.raises(DataError, match="cannot be decompressed"):
        load_mnist(tmp_path)


def test_truncated_data_is_a_data_error(tmp_path):
    write_mnist(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(DataError, match=r"header says shape \(5, 4, 3\).*60 bytes.*53"):
        load_mnist(tmp_path)


def test_trailing_bytes_are_a_data_error(tmp_path):
    (tmp_path / "x").write_bytes(idx_bytes(np.zeros(3, np.uint8)) + b"junk")
    with pytest.raises(DataError, match="holds 7"):
        read_idx(tmp_path / "x")


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"\x00\x00", "too short"),
        (b"PK\x03\x04rest", "not an IDX file"),
        (b"\x00\x00\x42\x01\x00\x00\x00\x01\x00", "not an IDX file"),
        (b"\x00\x00\x08\x03\x00\x00", "announces 3 dimensions"),
    ],
)
def test_bad_headers_are_data_errors(tmp_path, payload, match):
    (tmp_path / "bad").write_bytes(payload)
    with pytest.raises(DataError, match=match):
        read_idx(tmp_path / "bad")


def test_mismatched_counts_and_bad_labels(tmp_path):
    write_mnist(tmp_path, gz=False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(DataError, match="5 images but .* 4 labels"):
        load_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.full(5, 12, np.uint8)))
    with pytest.raises(DataError, match="digits 0..9, found 12"):
        load_mnist(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((5, 12), np.uint8)))
    with pytest.raises(DataError, match=r"shape \(n, rows, cols\)"):
        load_mnist(tmp_path)


def test_missing_files_and_bad_arguments(tmp_path):
    with pytest.raises(DataError, match="no MNIST images file"):
        load_mnist(tmp_path)
    with pytest.raises(DataError, match="kind must be one of"):
        load_mnist(tmp_path, kind="test")
    with pytest.raises(DataError, match="not a directory"):
        load_mnist(tmp_path / "nowhere")
    with pytest.raises(DataError, match="cannot read IDX file"):
        read_idx(tmp_path / "nowhere")
