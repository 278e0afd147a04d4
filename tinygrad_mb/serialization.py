"""Saving and loading state dicts as ``.npz`` files (NumPy's zip of arrays).

    tinygrad_mb.save(model.state_dict(), "model.npz")
    model.load_state_dict(tinygrad_mb.load("model.npz"))

Why .npz: it is NumPy's own format, readable anywhere NumPy is, and ``load``
refuses pickled members (as ``np.load(..., allow_pickle=False)`` does), so
loading a file can never execute code (unlike pickle).

Why a temporary file: ``save`` writes to a temporary file in the same
directory and then renames it over the target (``os.replace``, atomic on
POSIX and Windows). A crash or a full disk mid-write leaves the old file
intact instead of half a file.
"""

from __future__ import annotations

import math
import os
import stat
import tempfile
import zipfile
import zlib
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

import numpy as np

from tinygrad_mb import backend
from tinygrad_mb.errors import SaveLoadError
from tinygrad_mb.tensor import Tensor

PathLike = str | os.PathLike


def _as_numpy(key: Any, value: Any) -> np.ndarray:
    if not isinstance(key, str) or not key:
        raise SaveLoadError(f"save: state dict keys must be non-empty strings, got {key!r}")
    # A .npz member is named "<key>.npy": zip names end at a NUL byte and hold at most 65,535 bytes, so such
    # a key would make a file that load() cannot read, or fail inside zipfile.
    if "\x00" in key or len(key.encode("utf-8")) > 65000:
        shown = key if len(key) <= 40 else key[:40] + "..."
        raise SaveLoadError(f"save: the key {shown!r} cannot name a member of a .npz file (it holds a NUL character "
                            "or is over 65,000 bytes long); rename it")
    if isinstance(value, Tensor):
        value = value.data
    if not hasattr(value, "dtype") or not hasattr(value, "shape"):
        raise SaveLoadError(
            f"save: value for {key!r} is a {type(value).__name__}, not an array; a state dict maps names to "
            "arrays (wrap numbers with numpy.array(x))"
        )
    array = backend.to_numpy(value)
    if array.dtype.hasobject:
        raise SaveLoadError(
            f"save: value for {key!r} has dtype object, which .npz cannot store without pickle; "
            "convert it to a numeric array"
        )
    return array


def _umask() -> int:
    mask = os.umask(0)  # the only portable way to read the umask is to set it and put it back
    os.umask(mask)
    return mask


def _write_npz(f: Any, arrays: Mapping[str, np.ndarray]) -> None:
    """What ``np.savez`` writes (an uncompressed zip, one ``<name>.npy`` per array), for any names.

    ``np.savez(f, **arrays)`` would take a state-dict key named ``file`` or
    ``allow_pickle`` as its own argument.
    """
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key, array in arrays.items():
            with archive.open(key + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def write_atomically(path: PathLike, fill: Callable[[BinaryIO], None], who: str, example: str) -> None:
    """Write a file by calling ``fill(f)`` on a temporary file next to it, then renaming it into place.

    A crash, a full disk or an error in ``fill`` leaves any old file at
    ``path`` as it was and no temporary file behind. ``who`` starts the error
    messages (``"save"``), ``example`` is a file name to suggest when ``path``
    is a folder.

    Raises:
        SaveLoadError: ``path`` is a folder, its folder does not exist, or the
            file cannot be written.
    """
    path = os.fsdecode(path)  # str, also from bytes or a pathlib.Path
    if not path:
        raise SaveLoadError(f"{who}: the path is empty; give a file name, e.g. {example!r}")
    if os.path.isdir(path):  # checked first: os.replace would fail only after writing the temporary file
        raise SaveLoadError(f"{who}: {path!r} is a folder; give a file name in it, e.g. "
                            f"{os.path.join(path, example)!r}")
    # Through a symbolic link, replace the file it points to (as writing to it in place would), not the link.
    target = os.path.realpath(path)
    if os.path.exists(target) and not os.path.isfile(target):  # a FIFO or a device: os.replace would swap it out
        raise SaveLoadError(f"{who}: {path!r} is not a regular file (a pipe or a device?), so it is not replaced; "
                            f"give the path of a file, e.g. {example!r}")
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise SaveLoadError(f"{who}: cannot write {path!r}: the folder {directory!r} does not exist; create it "
                            "first (os.makedirs) or give another path")
    # Renaming over a file needs only the folder's permission, so a file made read-only to protect it
    # (chmod a-w) would be replaced without a word; its mode bits say so (os.access does not, for root).
    if os.path.isfile(target) and not stat.S_IMODE(os.stat(target).st_mode) & 0o222:
        raise SaveLoadError(f"{who}: {path!r} is read-only, so it is not replaced; make it writable first "
                            f"(chmod u+w) or give another name")
    try:
        # A file replaced keeps its permissions (a private checkpoint stays private); a new one gets a
        # normal file's mode rather than mkstemp's private 0600.
        mode = stat.S_IMODE(os.stat(target).st_mode) if os.path.isfile(target) else 0o666 & ~_umask()
        # The name's start only: with the dot, mkstemp's 8 random letters and ".tmp" added, a whole name
        # near the file system's limit (255 bytes) would make the temporary name too long to create.
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(target)[:40] + ".", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise SaveLoadError(f"{who}: cannot write in the folder {directory!r}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as f:  # first: from here on, the descriptor is closed whatever fails
            os.chmod(tmp, mode)
            fill(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise SaveLoadError(f"{who}: could not write {path!r}: {exc.strerror or exc}") from exc
        raise


def save(state_dict: Mapping[str, Any], path: PathLike) -> None:
    """Write ``state_dict`` (name -> array or Tensor, NumPy or CuPy) to ``path`` as .npz, atomically.

    The file is written exactly at ``path`` (no extension is added). Arrays on
    the GPU are copied to the CPU first.

    Raises:
        SaveLoadError: a value is not an array, or the file cannot be written.
    """
    if not isinstance(state_dict, Mapping):
        raise SaveLoadError(
            f"save expects a state dict (mapping name -> array), got {type(state_dict).__name__}; "
            "pass model.state_dict()"
        )
    arrays = {key: _as_numpy(key, value) for key, value in state_dict.items()}  # check all before writing
    write_atomically(path, lambda f: _write_npz(f, arrays), "save", "model.npz")


_DAMAGED = (ValueError, OSError, EOFError, KeyError, NotImplementedError, RuntimeError, zipfile.BadZipFile,
            zlib.error)  # what zipfile and NumPy raise on a damaged archive (a bad CRC, bad deflate data, ...)


_CHUNK = 16 * 2**20  # bytes read at a time


class _PickledError(Exception):
    """A member holds Python objects, which only pickle can read (refused)."""


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """The array in one ``<key>.npy`` member, checked against the member's size before anything is allocated.

    A damaged (or hostile) header could claim any shape: NumPy would first try to allocate
    that much memory (terabytes, for one flipped digit in the right place) and only then
    find the data missing.
    """
    fmt = np.lib.format
    with archive.open(info) as member:
        version = fmt.read_magic(member)
        if version == (1, 0):
            shape, fortran_order, dtype = fmt.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, fortran_order, dtype = fmt.read_array_header_2_0(member)
        else:  # 3.0 (non-latin-1 field names) has no public header reader: let NumPy read it all
            member.seek(0)
            try:
                return _native(fmt.read_array(member, allow_pickle=False))
            except ValueError as exc:
                raise (_PickledError() if "pickle" in str(exc) else exc) from None
        if dtype.hasobject:
            raise _PickledError()
        count = math.prod(shape)
        size = count * dtype.itemsize
        left = info.file_size - member.tell()
        if size != left:
            raise ValueError(f"member {info.filename!r}: its header promises {size} bytes of data "
                             f"(shape {shape}, dtype {dtype}) but {left} follow")
        array = np.empty(count, dtype=dtype)
        raw = array.view(np.uint8) if size else None
        for start in range(0, size, _CHUNK):  # in pieces: never a second copy of a large array in memory
            piece = member.read(min(_CHUNK, size - start))
            if len(piece) != min(_CHUNK, size - start):
                raise EOFError(f"member {info.filename!r}: the array data is cut short")
            raw[start:start + len(piece)] = np.frombuffer(piece, dtype=np.uint8)
        if member.read(1):  # also makes zipfile reach the member's end, where it checks the CRC
            raise ValueError(f"member {info.filename!r}: data after the array")
    return _native(array.reshape(shape, order="F" if fortran_order else "C"))


def _native(array: np.ndarray) -> np.ndarray:
    """``array`` in this machine's byte order (the same numbers; a copy only when the order differs).

    Arrays saved on a big-endian machine come as '>f4': ``load_state_dict`` would refuse them
    as not float32, and the GPU computes in little-endian only.
    """
    return array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))


def _read_npz(f: BinaryIO, path: str) -> OrderedDict[str, np.ndarray]:
    """Every ``<key>.npy`` member of the zip archive ``f``, by key, in the order they are stored."""
    with zipfile.ZipFile(f) as archive:
        members = archive.infolist()
        not_arrays = [m.filename for m in members if not m.filename.endswith(".npy")]
        if not_arrays:
            raise SaveLoadError(
                f"load: {path!r} is a zip archive with members that are not arrays ({', '.join(not_arrays)}); "
                "it was not written by save(); save the state dict with tinygrad_mb.save(model.state_dict(), path)"
            )
        keys = [m.filename[: -len(".npy")] for m in members]
        twice = sorted(k for k, n in Counter(keys).items() if n > 1)
        if twice:
            raise ValueError(f"the archive lists {twice} more than once")
        # Each member by its own name: NumPy's NpzFile looks "x.npy" up as the member "x.npy", which
        # holds the key "x", so a state dict with both keys would give x's array for both.
        return OrderedDict((key, _read_member(archive, m)) for key, m in zip(keys, members))


def load(path: PathLike) -> OrderedDict[str, np.ndarray]:
    """Read a state dict written by :func:`~tinygrad_mb.serialization.save`: name -> NumPy array, in the saved order.

    Pickled objects are refused (as ``np.load(..., allow_pickle=False)`` does), so
    loading an untrusted file cannot run code. Arrays come back in this machine's
    byte order. Pass the result to ``load_state_dict``, which checks names, shapes
    and dtypes against the model.

    Raises:
        SaveLoadError: the file is missing, unreadable, not an .npz archive, or corrupt.
    """
    path = os.fsdecode(path)
    if os.path.isdir(path):
        raise SaveLoadError(f"load: {path!r} is a folder, not a file; give the path of the .npz file in it")
    if os.path.exists(path) and not os.path.isfile(path):
        raise SaveLoadError(f"load: {path!r} is not a regular file (a pipe or a device?); give the path of a .npz file")
    if not os.path.isfile(path):
        raise SaveLoadError(f"load: no file at {path!r}; check the path (save() writes exactly the name it is given)")
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
            if magic.startswith(b"\x93NUMPY"):
                raise SaveLoadError(
                    f"load: {path!r} holds a single array (.npy), not a .npz state dict; "
                    "save state dicts with tinygrad_mb.save(model.state_dict(), path)"
                )
            if not magic.startswith(b"PK"):  # every zip archive, hence every .npz, starts with "PK"
                raise SaveLoadError(
                    f"load: {path!r} is not an .npz file (it does not start with the zip signature); it is corrupt "
                    "or in another format; save it again with tinygrad_mb.save(model.state_dict(), path)"
                )
            f.seek(0)
            return _read_npz(f, path)
    except SaveLoadError:
        raise
    except _PickledError:
        raise SaveLoadError(
            f"load: {path!r} contains pickled Python objects, which are refused because loading them can "
            "run arbitrary code; a state dict holds numeric arrays only: save one with "
            "tinygrad_mb.save(model.state_dict(), path)"
        ) from None
    except PermissionError as exc:
        raise SaveLoadError(f"load: cannot read {path!r}: {exc.strerror or exc}; check the file's permissions") \
            from exc
    except _DAMAGED as exc:
        raise SaveLoadError(
            f"load: {path!r} is not a readable .npz state dict ({type(exc).__name__}: {exc}); the file is "
            "corrupt, truncated or in another format; save it again with tinygrad_mb.save(model.state_dict(), path)"
        ) from exc


__all__ = ["save", "load"]
