"""MNIST from IDX files you already have (tinygrad_mb downloads nothing).

The IDX format (http://yann.lecun.com/exdb/mnist/) is a tiny header and then
the raw numbers, big-endian::

    bytes 0-1   zero
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
    byte  3     number of dimensions k
    k x 4 bytes the size of each dimension (unsigned 32-bit, big-endian)
    then        prod(sizes) elements, row-major

MNIST is four such files: ``train-images-idx3-ubyte`` (60000 x 28 x 28),
``train-labels-idx1-ubyte`` (60000), and ``t10k-...`` (10000) for the test
set, usually gzipped (``.gz``). Gzip is recognised by its content, not its name.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from tinygrad_mb.data.datasets import ArrayData
from tinygrad_mb.errors import DataError

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"
KINDS = ("train", "t10k")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (raw or gzipped) into a NumPy array in native byte order.

    Raises:
        DataError: the file is missing, not gzip-readable, has a bad magic
            number or element type, or holds more or fewer bytes than its
            header promises (each message names the file and the numbers).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read IDX file {path}: {exc}") from None
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: looks gzipped but cannot be decompressed ({exc}); the file is corrupt or "
                            "truncated, download it again") from None
    if len(raw) < 4:
        raise DataError(f"{path}: {len(raw)} bytes is too short for an IDX header (4 bytes at least)")
    zero, type_code, ndim = int.from_bytes(raw[:2], "big"), raw[2], raw[3]
    if zero != 0 or type_code not in _IDX_DTYPES:
        raise DataError(f"{path}: not an IDX file (magic number 0x{raw[:4].hex()}; expected 0x0000 then an "
                        f"element type in {[hex(c) for c in _IDX_DTYPES]} and the number of dimensions)")
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path}: IDX header announces {ndim} dimensions but the file has only {len(raw)} bytes")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[type_code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(f"{path}: header says shape {shape} of {dtype.name} = {expected} bytes of data, but the "
                        f"file holds {len(raw) - header}; it is truncated or corrupt, download it again")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find(directory: Path, kind: str, what: str, idx: str) -> Path:
    names = [f"{kind}-{what}-{idx}-ubyte", f"{kind}-{what}.{idx}-ubyte"]
    for name in names:
        for candidate in (directory / name, directory / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    raise DataError(f"no MNIST {what} file for kind={kind!r} in {directory}; expected one of "
                    f"{[n + s for n in names for s in ('', '.gz')]}")


def load_mnist(path: str | os.PathLike, kind: str = "train", scale: bool = False) -> ArrayData:
    """Load MNIST (or Fashion-MNIST, same format) from a directory of IDX files.

    Args:
        path: directory holding ``{kind}-images-idx3-ubyte[.gz]`` and
            ``{kind}-labels-idx1-ubyte[.gz]`` (``-images.idx3-ubyte`` also works).
        kind: ``"train"`` (60000 images) or ``"t10k"`` (the 10000 test images).
        scale: divide pixels by 255, giving ``[0, 1]`` instead of ``[0, 255]``.

    Returns:
        :class:`ArrayData` with ``X`` float32 ``(n, rows * cols)``, ``y`` int64
        ``(n,)``, ``n_classes=10``, and ``meta["image_shape"] = (rows, cols)``.

    Raises:
        DataError: missing or corrupt files, images that are not a uint8
            ``(n, rows, cols)`` array, labels that are not uint8 ``(n,)`` in
            0..9, or image and label counts that differ.
    """
    if kind not in KINDS:
        raise DataError(f"kind must be one of {KINDS}, got {kind!r}")
    directory = Path(path)
    if not directory.is_dir():
        raise DataError(f"load_mnist: {directory} is not a directory; pass the folder holding the IDX files")
    image_file = _find(directory, kind, "images", "idx3")
    label_file = _find(directory, kind, "labels", "idx1")
    images, labels = read_idx(image_file), read_idx(label_file)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(f"{image_file}: expected uint8 images of shape (n, rows, cols), got {images.dtype} "
                        f"{images.shape}")
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise DataError(f"{label_file}: expected uint8 labels of shape (n,), got {labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{image_file.name} holds {len(images)} images but {label_file.name} holds {len(labels)} "
                        "labels; the two files do not belong together")
    if len(labels) and labels.max() > 9:
        raise DataError(f"{label_file}: labels must be digits 0..9, found {int(labels.max())}")
    X = images.reshape(len(images), -1).astype(np.float32)
    if scale:
        X /= 255.0
    return ArrayData(X=X, y=labels.astype(np.int64), task="classification", name=f"mnist-{kind}", n_classes=10,
                     meta={"image_shape": images.shape[1:], "max_pixel": 255, "files": (str(image_file),
                                                                                         str(label_file))})
