"""save/load: .npz round trips, atomic writes, clear errors for bad values and bad files."""

import os
import stat

import numpy as np
import pytest

import tinygrad_mb as tg
from tinygrad_mb import nn, optim
from tinygrad_mb.errors import SaveLoadError, StateDictError
from tinygrad_mb.serialization import load, save


def make_model(seed):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(4, 6, seed=rng), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3, seed=rng))


X = tg.Tensor(np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32))


def predictions(model):
    with tg.no_grad():
        return model.eval()(X).data.copy()


def test_save_load_gives_identical_predictions(tmp_path):
    model = make_model(0)
    model(X)  # running statistics move away from their initial values
    path = tmp_path / "model.npz"
    save(model.state_dict(), path)
    state = load(path)
    assert list(state) == list(model.state_dict())  # names and order survive
    for key, value in model.state_dict().items():
        assert state[key].dtype == value.dtype
        np.testing.assert_array_equal(state[key], value)
    other = make_model(1)
    assert not np.array_equal(predictions(other), predictions(model))
    other.load_state_dict(state)
    np.testing.assert_array_equal(predictions(other), predictions(model))


def test_save_accepts_tensors_and_writes_exactly_the_given_path(tmp_path):
    path = tmp_path / "weights.bin"
    save({"w": tg.Tensor(np.arange(3.0)), "step": np.array(7)}, str(path))
    assert os.listdir(tmp_path) == ["weights.bin"]  # no extension added, no temporary file left
    state = load(path)
    np.testing.assert_array_equal(state["w"], [0.0, 1.0, 2.0])
    assert state["step"] == 7


def test_optimizer_state_round_trip(tmp_path):
    p = nn.Parameter(np.ones(3))
    opt = optim.Adam([p], lr=0.01)
    p.grad = tg.backend.to_backend(np.array([1.0, -1.0, 0.5]), p.backend)
    opt.step()
    save(opt.state_dict(), tmp_path / "opt.npz")
    again = optim.Adam([nn.Parameter(np.ones(3))], lr=0.5)
    again.load_state_dict(load(tmp_path / "opt.npz"))
    assert again.lr == 0.01 and again.state[0]["step"] == 1
    np.testing.assert_array_equal(again.state[0]["exp_avg"], opt.state[0]["exp_avg"])


def test_overwrite_is_atomic_and_a_failed_save_keeps_the_old_file(tmp_path):
    path = tmp_path / "model.npz"
    save({"a": np.zeros(2)}, path)
    save({"a": np.ones(2)}, path)
    np.testing.assert_array_equal(load(path)["a"], [1.0, 1.0])
    with pytest.raises(SaveLoadError, match="'b'.*list.*numpy.array"):
        save({"a": np.full(2, 5.0), "b": [1, 2]}, path)  # rejected before anything is written
    np.testing.assert_array_equal(load(path)["a"], [1.0, 1.0])
    assert os.listdir(tmp_path) == ["model.npz"]


@pytest.mark.parametrize(
    ("state", "pattern"),
    [
        ({"a": 3.0}, "'a' is a float, not an array"),
        ({"a": np.array([object()])}, "dtype object"),
        ({1: np.zeros(1)}, "keys must be non-empty strings"),
        ({"": np.zeros(1)}, "keys must be non-empty strings"),  # would be a member named ".npy"
        ([np.zeros(1)], "state dict"),
    ],
)
def test_save_refuses_what_npz_cannot_hold(tmp_path, state, pattern):
    with pytest.raises(SaveLoadError, match=pattern):
        save(state, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


def test_save_to_a_folder_asks_for_a_file_name_and_writes_nothing(tmp_path):
    with pytest.raises(SaveLoadError, match=r"is a folder; give a file name in it, e.g. .*model\.npz"):
        save({"a": np.zeros(1)}, tmp_path)
    assert os.listdir(tmp_path) == [] and not [f for f in os.listdir(tmp_path.parent) if f.endswith(".tmp")]


def test_save_into_a_missing_directory(tmp_path):
    with pytest.raises(SaveLoadError, match=r"save: cannot write .*x\.npz.*the folder .*nope.* does not exist"):
        save({"a": np.zeros(1)}, tmp_path / "nope" / "x.npz")


def _corrupt(path, how):
    raw = path.read_bytes()
    if how == "garbage":
        path.write_bytes(b"this is not a model file" * 10)
    elif how == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif how == "flipped":
        damaged = bytearray(raw)
        damaged[60:80] = b"\x00" * 20  # inside the first member's data: its CRC no longer matches
        path.write_bytes(bytes(damaged))
    elif how == "npy":
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))
    elif how == "empty":
        path.write_bytes(b"")


@pytest.mark.parametrize("how", ["garbage", "truncated", "flipped", "npy", "empty"])
def test_corrupt_file_raises_save_load_error_and_the_model_keeps_its_weights(tmp_path, how):
    path = tmp_path / "model.npz"
    save(make_model(1).state_dict(), path)
    _corrupt(path, how)
    model = make_model(0)
    before = predictions(model)
    with pytest.raises(SaveLoadError, match="model.npz") as info:
        model.load_state_dict(load(path))
    assert "tinygrad_mb.save" in str(info.value)  # says how to fix it
    np.testing.assert_array_equal(predictions(model), before)


def test_missing_file():
    with pytest.raises(SaveLoadError, match="no file at"):
        load("/definitely/not/here.npz")


def test_pickled_data_is_refused(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, a=np.array([{"x": 1}], dtype=object))  # np.savez pickles object arrays
    with pytest.raises(SaveLoadError, match="pickled Python objects.*refused"):
        load(path)


def test_file_from_another_model_raises_state_dict_error_and_keeps_weights(tmp_path):
    path = tmp_path / "other.npz"
    save(nn.Sequential(nn.Linear(4, 7), nn.ReLU(), nn.Linear(7, 3)).state_dict(), path)
    model = make_model(0)
    before = predictions(model)
    with pytest.raises(StateDictError):
        model.load_state_dict(load(path))
    np.testing.assert_array_equal(predictions(model), before)


def test_save_from_backend_and_load_back(tmp_path, backend_name):
    model = make_model(0).to(backend_name)
    save(model.state_dict(), tmp_path / "m.npz")
    other = make_model(1).to(backend_name)
    other.load_state_dict(load(tmp_path / "m.npz"))
    for a, b in zip(model.parameters(), other.parameters()):
        assert b.backend == backend_name
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_any_key_round_trips_even_the_names_of_savez_arguments(tmp_path):
    # np.savez(f, **arrays) would take "file" and "allow_pickle" as its own arguments.
    state = {"file": np.arange(3), "allow_pickle": np.zeros(2), "layer/weight": np.ones((2, 2), np.float32)}
    save(state, tmp_path / "k.npz")
    loaded = load(tmp_path / "k.npz")
    assert list(loaded) == list(state)
    for key, value in state.items():
        np.testing.assert_array_equal(loaded[key], value)
        assert loaded[key].dtype == value.dtype
    assert sorted(np.load(tmp_path / "k.npz").files) == sorted(state)  # still a plain .npz for NumPy


def test_a_zip_that_holds_something_other_than_arrays_is_refused(tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "notes.npz", "w") as archive:
        archive.writestr("a.txt", "hi")
    with pytest.raises(SaveLoadError, match=r"members that are not arrays \(a.txt\)"):
        load(tmp_path / "notes.npz")


def test_an_incomplete_optimizer_state_is_refused_and_changes_nothing():
    p = nn.Parameter(np.ones(3))
    opt = optim.Adam([p], lr=0.1)
    p.grad = tg.backend.to_backend(np.ones(3), p.backend)
    opt.step()
    state = opt.state_dict()
    del state["0.exp_avg_sq"]
    fresh = optim.Adam([nn.Parameter(np.ones(3))], lr=0.2)
    with pytest.raises(StateDictError, match=r"parameter 0 has state .* lacks \['exp_avg_sq'\]"):
        fresh.load_state_dict(state)
    assert fresh.lr == 0.2 and fresh.state == [{}]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    # Catches the temporary file left behind, and the OSError not turned into a SaveLoadError.
    path = tmp_path / "model.npz"
    save({"a": np.ones(2)}, path)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np.lib.format, "write_array", disk_full)
    with pytest.raises(SaveLoadError, match="could not write.*No space left"):
        save({"a": np.zeros(2)}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["model.npz"]
    np.testing.assert_array_equal(load(path)["a"], [1.0, 1.0])


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_a_saved_file_has_a_normal_files_permissions(tmp_path):
    # Catches the temporary file's private mode (0600, from mkstemp) kept after the rename.
    old = os.umask(0o022)
    try:
        save({"a": np.ones(2)}, tmp_path / "m.npz")
    finally:
        os.umask(old)
    assert (tmp_path / "m.npz").stat().st_mode & 0o777 == 0o644


def test_saving_over_a_file_keeps_its_permissions(tmp_path):
    # Catches a private checkpoint (0600) turned readable by all (0644) when saved again.
    path = tmp_path / "m.npz"
    save({"a": np.ones(2)}, path)
    os.chmod(path, 0o600)
    save({"a": np.zeros(2)}, path)
    assert path.stat().st_mode & 0o777 == 0o600
    np.testing.assert_array_equal(load(path)["a"], np.zeros(2))


def test_saving_through_a_symbolic_link_writes_the_file_it_points_to(tmp_path):
    # Catches the rename replacing the link itself, leaving the file it pointed to unchanged.
    real, link = tmp_path / "real.npz", tmp_path / "latest.npz"
    save({"a": np.ones(2)}, real)
    link.symlink_to(real)
    save({"a": np.full(2, 7.0)}, link)
    assert link.is_symlink()
    np.testing.assert_array_equal(load(real)["a"], [7.0, 7.0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.npz", "real.npz"]  # no temporary file left


@pytest.mark.gpu
@pytest.mark.skipif(not tg.backend.cupy_available(), reason="CuPy backend not usable here")
def test_save_copies_cupy_arrays_and_tensors_to_the_host(tmp_path):
    # Catches GPU arrays handed to NumPy as they are: state_dict() copies to the host, a hand-made dict does not.
    w = tg.Tensor(np.arange(3.0), backend="cupy")
    save({"w": w, "twice": w.data * 2}, tmp_path / "g.npz")
    state = load(tmp_path / "g.npz")
    np.testing.assert_array_equal(state["w"], [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(state["twice"], [0.0, 2.0, 4.0])


# --- damaged, foreign and unusual files -------------------------------------------------------------------------


def _central_entry(raw: bytes) -> int:
    """Where the first central-directory entry of a zip archive starts."""
    return raw.index(b"PK\x01\x02")


def _damage(path, how):
    raw = bytearray(path.read_bytes())
    if how == "bad deflate data":  # a compressed member whose first block has the reserved type 3
        start = 30 + int.from_bytes(raw[26:28], "little") + int.from_bytes(raw[28:30], "little")
        raw[start] = 0xFF
    elif how == "encrypted flag":  # the member claims to be encrypted: zipfile wants a password
        entry = _central_entry(raw)
        raw[entry + 8] |= 1
    elif how == "unknown zip version":  # the member needs a zip reader version from the future
        entry = _central_entry(raw)
        raw[entry + 6] = 94
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("how", ["bad deflate data", "encrypted flag", "unknown zip version"])
def test_a_damaged_compressed_file_raises_save_load_error(tmp_path, how):
    # Catches zlib.error, RuntimeError and NotImplementedError from zipfile escaping as they are.
    path = tmp_path / "model.npz"
    np.savez_compressed(path, **make_model(1).state_dict())
    _damage(path, how)
    with pytest.raises(SaveLoadError, match=r"model\.npz.*(corrupt|damaged)"):
        load(path)


def test_a_header_promising_more_data_than_the_file_holds_is_refused_before_allocating(tmp_path):
    # Catches the loader allocating what a damaged header claims (here 80 TB: a MemoryError) before reading.
    import io
    import zipfile

    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False, "shape": (10**13,)})
    member.write(b"\0" * 64)
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as archive:
        archive.writestr("w.npy", member.getvalue())
    with pytest.raises(SaveLoadError, match=r"huge\.npz.*promises 80000000000000 bytes"):
        load(tmp_path / "huge.npz")


def test_a_key_ending_in_npy_gets_its_own_array(tmp_path):
    # Catches NumPy's NpzFile lookup: key "x.npy" is read from the member "x.npy", which holds key "x".
    save({"x": np.zeros(2), "x.npy": np.ones(3)}, tmp_path / "k.npz")
    state = load(tmp_path / "k.npz")
    np.testing.assert_array_equal(state["x"], np.zeros(2))
    np.testing.assert_array_equal(state["x.npy"], np.ones(3))


def test_a_file_from_a_big_endian_machine_loads_into_a_model(tmp_path):
    # Catches '>f4' arrays handed on as they are: load_state_dict then refused them as not float32.
    source = nn.Linear(3, 2, seed=0)
    np.savez(tmp_path / "be.npz", **{k: v.astype(v.dtype.newbyteorder(">")) for k, v in source.state_dict().items()})
    state = load(tmp_path / "be.npz")
    assert all(v.dtype == np.float32 and v.dtype.isnative for v in state.values())
    model = nn.Linear(3, 2, seed=1)
    model.load_state_dict(state)
    for key, value in source.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[key], value)


@pytest.mark.parametrize(
    "array",
    [
        np.array([True, False]), np.arange(6, dtype=np.int8).reshape(2, 3), np.arange(4, dtype=np.uint16),
        np.array([0.5, -1.5], dtype=np.float16), np.array([1 + 2j], dtype=np.complex64), np.array(3.25),
        np.zeros((0, 4), np.float32), np.asfortranarray(np.arange(12.0).reshape(3, 4)),
        np.arange(20.0)[::3],  # not contiguous
        np.zeros(2, dtype=[("ä", "<i4"), ("b", "<f8")]),  # a non-latin-1 field name: .npy format 3.0
    ],
    ids=lambda a: f"{a.dtype.str[:8]}{a.shape}",
)
def test_every_dtype_and_layout_round_trips(tmp_path, array):
    save({"a": array}, tmp_path / "a.npz")
    loaded = load(tmp_path / "a.npz")["a"]
    assert loaded.dtype == array.dtype and loaded.shape == array.shape
    np.testing.assert_array_equal(loaded, array)
    loaded[...] = array  # a writable array of its own


def test_a_compressed_npz_written_by_numpy_loads(tmp_path):
    state = make_model(2).state_dict()
    np.savez_compressed(tmp_path / "c.npz", **state)
    loaded = load(tmp_path / "c.npz")
    assert list(loaded) == list(state)
    for key, value in state.items():
        assert loaded[key].dtype == value.dtype
        np.testing.assert_array_equal(loaded[key], value)


def test_loading_a_folder_says_it_is_a_folder(tmp_path):
    with pytest.raises(SaveLoadError, match="is a folder, not a file"):
        load(tmp_path)


def test_an_unreadable_file_raises_save_load_error(tmp_path, monkeypatch):
    # Catches the PermissionError of open() escaping as it is (simulated: the tests may run as root).
    from tinygrad_mb import serialization

    save({"a": np.ones(2)}, tmp_path / "m.npz")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(serialization, "open", denied, raising=False)
    with pytest.raises(SaveLoadError, match=r"cannot read .*m\.npz.*Permission denied"):
        load(tmp_path / "m.npz")


def test_saving_under_a_long_file_name(tmp_path):
    # Catches the temporary file's name (a dot, the name, 8 letters, ".tmp") going past the 255-byte limit.
    path = tmp_path / ("checkpoint_" + "x" * 235 + ".npz")  # 250 characters
    save({"a": np.ones(2)}, path)
    np.testing.assert_array_equal(load(path)["a"], np.ones(2))
    assert os.listdir(tmp_path) == [path.name]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd to count open files")
def test_a_failed_save_closes_its_temporary_file(tmp_path, monkeypatch):
    # Catches the temporary file's descriptor left open when setting its mode fails.
    def refused(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    before = len(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(os, "chmod", refused)
    with pytest.raises(SaveLoadError, match="Operation not permitted"):
        save({"a": np.ones(2)}, tmp_path / "m.npz")
    monkeypatch.undo()
    assert len(os.listdir("/proc/self/fd")) == before
    assert os.listdir(tmp_path) == []


def test_a_read_only_file_is_not_replaced(tmp_path):
    # Catches save renaming its new file over a checkpoint made read-only to protect it (renaming
    # needs only the folder's permission; checked by mode bits, since os.access says yes to root).
    path = tmp_path / "best.npz"
    tg.save({"w": np.ones(3)}, path)
    os.chmod(path, 0o444)
    with pytest.raises(SaveLoadError, match=r"best.npz' is read-only, so it is not replaced.*chmod u\+w"):
        tg.save({"w": np.zeros(3)}, path)
    np.testing.assert_array_equal(tg.load(path)["w"], np.ones(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.npz"]  # no temporary file left
    os.chmod(path, 0o644)
    tg.save({"w": np.zeros(3)}, path)  # writable again: replaced
    np.testing.assert_array_equal(tg.load(path)["w"], np.zeros(3))


def test_keys_a_npz_member_cannot_be_named_by_are_refused_before_writing(tmp_path):
    """A NUL in a key: zip cut the member name there, so save 'succeeded' and load refused its own file."""
    path = tmp_path / "m.npz"
    tg.save({"w": np.ones(2)}, path)
    for key in ("a\x00b", "k" * 70000):
        with pytest.raises(SaveLoadError, match="cannot name a member of a .npz file"):
            tg.save({key: np.ones(1)}, path)
    np.testing.assert_array_equal(tg.load(path)["w"], np.ones(2))  # the old file is untouched


def test_a_pipe_or_device_is_not_replaced_and_odd_paths_are_named(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(SaveLoadError, match="is not a regular file"):
        tg.save({"w": np.ones(2)}, fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still a pipe: os.replace used to swap in a plain file
    with pytest.raises(SaveLoadError, match="is not a regular file"):
        tg.load(fifo)
    with pytest.raises(SaveLoadError, match="the path is empty"):
        tg.save({"w": np.ones(2)}, "")
    as_bytes = os.fsencode(tmp_path / "b.npz")  # bytes paths work both ways, as for open()
    tg.save({"w": np.ones(2)}, as_bytes)
    np.testing.assert_array_equal(tg.load(as_bytes)["w"], np.ones(2))
