"""The command line, run as a user would: ``python -m tinygrad_mb ...`` in a subprocess."""

import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


def run(args, cwd, timeout=120, exe=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("MPLBACKEND", None)  # the command must pick a non-interactive backend itself
    cmd = (exe or [sys.executable, "-m", "tinygrad_mb"]) + list(args)
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def assert_png(path):
    assert path.is_file() and path.read_bytes()[:8] == PNG and path.stat().st_size > 10_000, path


def test_default_compare_runs_fast_and_writes_everything(tmp_path):
    start = time.perf_counter()
    r = run(["compare"], cwd=tmp_path)
    elapsed = time.perf_counter() - start
    assert r.returncode == 0, r.stderr
    assert elapsed < 30, f"default comparison took {elapsed:.1f} s"
    out = tmp_path / "tinygrad_mb_out"
    assert_png(out / "compare.png")
    for name in ("compare_evals.csv", "compare_steps.csv", "compare_summary.csv", "compare.json"):
        assert (out / name).stat().st_size > 0
    for words in ("batch (B=N=1000, lr=0.5)", "sgd (B=1, lr=0.01)", "minibatch (B=32, lr=0.1)", "final loss",
                  "time [s]", "diverged"):
        assert words in r.stdout
    doc = json.loads((out / "compare.json").read_text())
    assert len(doc["summary"]) == 3 and doc["seeds"] == [0, 1, 2]
    assert r.stderr == ""  # no progress bar when stderr is not a terminal


def test_compare_options(tmp_path):
    r = run(["compare", "--dataset", "moons", "--variants", "batch,minibatch:16@0.3,sgd", "--lr", "1.0",
             "--epochs", "1", "--seeds", "0", "--out", "o", "--optimizer", "momentum"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "minibatch (B=16, lr=0.3, momentum)" in r.stdout and "batch (B=N=800, lr=1, momentum)" in r.stdout
    assert "test acc" in r.stdout  # moons has a held-out set
    assert_png(tmp_path / "o" / "compare.png")
    summary = (tmp_path / "o" / "compare_summary.csv").read_text()
    assert summary.count("\n") == 4
    r = run(["compare", "--variants", "minibatch:8,minibatch:64", "--lr", "0.05", "--lr-rule", "linear",
             "--ref-batch-size", "8", "--updates", "20", "--seeds", "1", "--out", "o2", "--quiet"], cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "", r.stderr
    rows = json.loads((tmp_path / "o2" / "compare.json").read_text())["summary"]
    assert [row["lr"] for row in rows] == [0.05, 0.4] and all(row["updates"] == 20 for row in rows)
    # the JSON says what produced it, so the run can be repeated from its own output
    run_block = json.loads((tmp_path / "o" / "compare.json").read_text())["run"]
    assert run_block["command"].startswith("tinygrad-mb compare --dataset moons --variants batch,minibatch:16@0.3")
    assert run_block["backend"] == "numpy" and "moons" in run_block["problem"]
    assert run_block["options"]["optimizer"] == "momentum" and run_block["options"]["seeds"] == [0]


def test_the_recorded_command_is_quoted_so_it_pastes_back(tmp_path):
    """Arguments with spaces were joined bare: pasted back, 'batch, sgd' and 'my runs' split into two words each."""
    r = run(["compare", "--variants", "batch, sgd", "--updates", "2", "--seeds", "0", "--out", "my runs", "--quiet"],
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    command = json.loads((tmp_path / "my runs" / "compare.json").read_text())["run"]["command"]
    assert command == "tinygrad-mb compare --variants 'batch, sgd' --updates 2 --seeds 0 --out 'my runs' --quiet"


@pytest.mark.parametrize("command, extra, files", [
    ("noise", ["--draws", "50"], ["noise.png", "noise.csv", "noise.json"]),
    ("sweep", ["--batch-sizes", "4,64,1000", "--lrs", "0.5,0.1,0.02", "--epochs", "2"],
     ["sweep.png", "sweep.csv", "sweep.json"]),
    ("trajectories", ["--updates", "20"], ["trajectories.png", "trajectories.csv", "trajectories.json"]),
])
def test_tools_write_their_files(tmp_path, command, extra, files):
    r = run([command, "--out", str(tmp_path / "out"), *extra], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(files)
    assert_png(tmp_path / "out" / files[0])
    assert "wrote" in r.stdout
    run_block = json.loads((tmp_path / "out" / files[2]).read_text())["run"]
    assert run_block["command"].startswith(f"tinygrad-mb {command} ") and run_block["options"]["dataset"]


@pytest.mark.parametrize("args, expected", [
    (["compare", "--dataset", "cifar"], "choose from 'linear', 'logistic', 'moons', 'digits', 'linear2d'"),
    (["compare", "--model", "resnet"], "choose from 'linear', 'mlp'"),
    (["compare", "--variants", "batch,sgdd"], "batch | sgd | minibatch:B"),
    (["compare", "--variants", "minibatch:0"], "the batch size must be a whole number >= 1, e.g. minibatch:32"),
    (["compare", "--backend", "tpu"], "choose from 'numpy', 'cupy'"),
    (["compare", "--optimizer", "lbfgs"], "choose from 'sgd', 'momentum', 'nesterov', 'adam'"),
    (["compare", "--epochs", "0"], "positive"),
    (["compare", "--epochs", "ten"], "positive number"),
    (["compare", "--seeds", "a,b"], "non-negative integers"),
    (["compare", "--lr", "0.1,0.2"], "one rate or one per variant"),
    (["compare", "--lr-rule", "sqrt"], "--lr-rule needs --lr"),
    (["noise", "--batch-sizes", "1,99999"], "valid batch sizes are 1..1000"),
    (["sweep", "--lrs", "0.1,-1"], "positive"),
    (["trajectories", "--dataset", "digits"], "choose from 'linear2d'"),
    (["noise", "--draws", "1"], "expected an integer >= 2"),
    (["compare", "--target", "nan"], "not a finite loss"),
    (["sweep", "--target", "inf"], "not a finite loss"),
    (["compare", "--variants", "batch,minibatch:1000"], "identical runs"),
    (["compare", "--variants", "sgd,minibatch:1"], "identical runs"),
    (["compare", "--variants", "batch,minibatch:5000,minibatch:1000,minibatch:999"],  # only the three that are
     "batch, minibatch:5000 and minibatch:1000 would make identical runs, batch (B=N=1000, lr=0.5)"),
    (["compare", "--seeds", "0,"], "expected comma-separated non-negative integers"),
    (["sweep", "--lrs", ","], "a comma-separated list of positive numbers, e.g. 0.01,0.1,1"),
    (["compare", "--ref-batch-size", "8"], "--ref-batch-size only matters with --lr-rule"),
    (["compare", "--lr-rule", "none", "--lr", "0.05", "--ref-batch-size", "8"],  # none scales nothing: was ignored
     "--ref-batch-size only matters with --lr-rule"),
    (["compare", "--variants", "minibatch:64@0.1,minibatch:64@0.1000001"],  # one label: exit 1, from inside the run
     "two variants would be labelled minibatch (B=64, lr=0.1)"),
    (["trajectories", "--variants", "minibatch:8@0.1,minibatch:8@0.1000001"],  # one path silently replaced the other
     "two variants would be labelled minibatch (B=8, lr=0.1)"),
    (["compare", "--eval-every", "50"], "use a multiple of 32, e.g. 64"),
    (["compare", "--variants", "minibatch:32@"], "no learning rate after '@' in 'minibatch:32@'"),
    (["compare", "--variants", "minibatch:32@0.1,sgd@0.01", "--lr", "0.5"], "--lr has no effect"),
    (["compare", "--variants", "batch,sgd@0.01", "--lr", "0.5,0.1"], "give the rates one way, not both"),
    (["compare", "--target", "-5"], "below 0"),
    (["compare", "--target", "0"], "0 is below f* = 0.247849"),  # linear regression's f*: it used to run, 0/N reached
    (["compare", "--seeds", "1,1"], "--seeds: repeated values in [1, 1]"),
    (["sweep", "--seeds", "0,0"], "--seeds: repeated values"),
    (["sweep", "--lrs", "0.1,0.1"], "--lrs: repeated values"),
    (["noise", "--batch-sizes", "4,4,16"], "--batch-sizes: repeated values"),
    # options that do not exist: the error says where the setting goes instead
    (["compare", "--batch-size", "4"], "the batch size is part of each variant: --variants batch,sgd,minibatch:64"),
    (["compare", "--learning-rate", "0.1"], "the learning rate is --lr"),
    (["compare", "digits"], "did you mean --dataset digits?"),
    (["noise", "--seeds", "0,1"], "did you mean --seed?"),
    (["frobnicate"], "choose from 'compare', 'noise', 'sweep', 'trajectories'"),
    ([], "COMMAND"),
])
def test_bad_arguments_exit_2_list_the_choices_and_write_nothing(tmp_path, args, expected):
    r = run([*args, "--out", "out"] if args and args[0] != "frobnicate" else args, cwd=tmp_path, timeout=60)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert expected in r.stderr and "usage:" in r.stderr
    assert list(tmp_path.iterdir()) == []  # no output folder, no files


def test_out_that_is_a_file_is_rejected(tmp_path):
    (tmp_path / "taken").write_text("x")
    r = run(["compare", "--out", "taken"], cwd=tmp_path)
    assert r.returncode == 2 and "not a folder" in r.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]


def test_help_and_version(tmp_path):
    r = run(["--help"], cwd=tmp_path)
    assert r.returncode == 0 and all(c in r.stdout for c in ("compare", "noise", "sweep", "trajectories"))
    r = run(["compare", "--help"], cwd=tmp_path)
    assert r.returncode == 0 and "--variants" in r.stdout and "tinygrad_mb_out" in r.stdout
    r = run(["--version"], cwd=tmp_path)
    assert r.returncode == 0 and "tinygrad_mb" in r.stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(shutil.which("tinygrad-mb") is None, reason="package not installed (no tinygrad-mb script)")
def test_console_script(tmp_path):
    r = run(["trajectories", "--updates", "5", "--out", "o"], cwd=tmp_path, exe=[shutil.which("tinygrad-mb")])
    assert r.returncode == 0, r.stderr
    assert_png(tmp_path / "o" / "trajectories.png")


@pytest.mark.parametrize("out, message", [("taken/sub", "taken' is a file, not a folder"), ("", "--out is empty")])
def test_an_unusable_out_folder_is_rejected_before_anything_runs(tmp_path, out, message):
    (tmp_path / "taken").write_text("x")  # a file where a folder would have to be
    r = run(["compare", "--out", out], cwd=tmp_path, timeout=60)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]


@pytest.mark.skipif(not os.path.isdir("/proc/sys"), reason="no /proc/sys (not Linux)")
def test_out_in_a_kernel_folder_names_the_folder_that_refuses(tmp_path):
    # Catches "--out '/proc/sys/x': cannot write files there (No such file or directory)": /proc/sys
    # is there; it takes no new folders.
    r = run(["compare", "--out", "/proc/sys/tinygrad-mb-test"], cwd=tmp_path, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.splitlines()[-1] == ("tinygrad-mb compare: error: --out '/proc/sys/tinygrad-mb-test': cannot "
                                         "create a folder in '/proc/sys' (it takes no new folders); give a folder "
                                         "you can write to, e.g. --out ./results")


@pytest.mark.parametrize("fail, expected", [
    ("makedirs", "cannot create a folder in {parent!r} (it takes no new folders)"),  # e.g. in /proc/sys
    ("mkstemp", "cannot write files in it (Read-only file system)"),  # the folder is there, its disk is not writable
])
def test_an_out_folder_that_cannot_be_made_or_written_says_which_and_why(tmp_path, monkeypatch, capsys, fail,
                                                                          expected):
    import errno
    import tempfile

    from tinygrad_mb import cli

    parent = tmp_path / "system"
    parent.mkdir()
    out = parent / "x"
    if fail == "makedirs":
        def refuse(path, *args, **kwargs):  # what the kernel answers for a new entry in /proc/sys
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))

        monkeypatch.setattr(os, "makedirs", refuse)
    else:
        out.mkdir()

        def refuse(*args, **kwargs):
            raise OSError(errno.EROFS, "Read-only file system")

        monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(SystemExit) as stop:
        cli.main(["compare", "--out", str(out)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in err
    assert f"--out {str(out)!r}: {expected.format(parent=str(parent))}; give a folder you can write to" in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == (["system"] if fail == "makedirs" else ["system", "x"])


def test_a_bad_backend_variable_is_a_usage_error_not_an_import_crash(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_MB_BACKEND", "foo")
    r = run(["--version"], cwd=tmp_path, timeout=60)
    assert r.returncode == 0 and "tinygrad_mb" in r.stdout
    r = run(["compare", "--out", "o"], cwd=tmp_path, timeout=60)
    assert r.returncode == 2 and "TINYGRAD_MB_BACKEND='foo' is not a backend" in r.stderr
    assert "Traceback" not in r.stderr and list(tmp_path.iterdir()) == []


def test_the_backend_option_wins_over_the_environment_variable(tmp_path, monkeypatch):
    # Catches the data being made on $TINYGRAD_MB_BACKEND's backend whatever --backend said.
    monkeypatch.setenv("TINYGRAD_MB_BACKEND", "cupy")  # not usable in CI (no CuPy); --backend numpy must not care
    r = run(["noise", "--backend", "numpy", "--draws", "5", "--batch-sizes", "1,4", "--out", "o"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "o" / "noise.json").read_text())["run"]["backend"] == "numpy"


def test_an_unusual_mplbackend_does_not_stop_the_command(tmp_path):
    # Catches `import matplotlib` failing on a value it does not know; the command draws files only.
    # In a fresh process: matplotlib must not be imported yet (run() would drop the variable).
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="weird")
    r = subprocess.run([sys.executable, "-m", "tinygrad_mb", "noise", "--draws", "5", "--batch-sizes", "1,4",
                        "--out", "o"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert_png(tmp_path / "o" / "noise.png")


def test_a_full_disk_is_an_error_message_and_the_folder_is_left_as_it_was(tmp_path, monkeypatch, capsys):
    from tinygrad_mb import cli

    def disk_full(fig, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli, "_save_figure", disk_full)
    out = tmp_path / "o"
    out.mkdir()
    (out / "mine.txt").write_text("kept")
    assert cli.main(["noise", "--draws", "5", "--batch-sizes", "1,4", "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"could not write the results into {str(out)!r} (No space left on device); no files were written" in err
    assert "Traceback" not in err and [p.name for p in out.iterdir()] == ["mine.txt"]


def test_sigterm_is_handled_like_ctrl_c(tmp_path):
    # Catches SIGTERM (kill, timeout) ending the process at once, leaving the staging folder behind.
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "tinygrad_mb", "compare", "--epochs", "500", "--out", "o"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir()):  # the run has begun
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "interrupted; no files were written" in err
    assert not (tmp_path / "o").exists()  # the folder it created, with its staging folder, is gone


def test_notes_for_settings_that_do_less_than_they_seem_to(tmp_path):
    from tinygrad_mb import cli

    def notes(*argv):  # what the command says before its run, from the checked arguments alone
        args = cli.build_parser().parse_args([*argv, "--out", str(tmp_path / "o")])
        return " | ".join(cli._validate(args.subparser, args)["notes"])

    assert "budget of 5 samples (--samples 5), so batch (B=N=1000, lr=0.5) sees 1000, minibatch (B=32, lr=0.1) " \
           "sees 32; the table's samples column" in notes("compare", "--samples", "5")
    assert "tuned for plain SGD" in notes("compare", "--optimizer", "adam")
    assert "tuned for plain SGD" not in notes("compare", "--optimizer", "adam", "--lr", "0.01")
    assert "[5000] are larger than the 1000 training samples" in notes("sweep", "--batch-sizes", "4,5000")
    assert "share few sample counts" in notes("compare", "--variants", "minibatch:31,minibatch:37")
    assert "share few sample counts" not in notes("compare", "--variants", "batch,sgd,minibatch:32")
    # one coarse batch size: no "share" and no "divide one another" (it was said of a list of one)
    one = notes("compare", "--variants", "batch,minibatch:600", "--drop-last", "--epochs", "1")
    assert "with B=600 the curves have a point only every 600 samples and at each epoch's end" in one
    assert "share" not in one and "budget of 1000 samples" in one
    assert "budget of 1 sample (--samples 1)" in notes("compare", "--samples", "1")
    # a second budget used to silence the note, also one that never stops the runs
    assert "(--epochs 1.5 = 1.5 x N), so batch (B=N=1000, lr=0.5) sees 2000, minibatch (B=32, lr=0.1) sees 1512" \
        in notes("compare", "--epochs", "1.5", "--updates", "100000")
    assert "sees 1512" not in notes("compare", "--epochs", "1.5", "--updates", "40")  # 40 updates end B=32 first
    assert "(--samples 1500), unless --seconds stops it first, so" in notes("compare", "--samples", "1500",
                                                                           "--seconds", "60")
    assert "budget of" not in notes("compare", "--updates", "7")  # no samples budget at all


def test_noise_defaults_fit_a_dataset_smaller_than_the_largest_default_batch(tmp_path):
    r = run(["noise", "--dataset", "linear2d", "--draws", "20", "--out", "o"], cwd=tmp_path)  # N = 200 < 256
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "o" / "noise.json").read_text())
    assert doc["batch_sizes"] == [1, 4, 16, 64]
    assert doc["run"]["options"]["batch_sizes"] is None  # left unset: recorded as null, as the docs say (was filled in)


def test_noise_json_is_strict_json_even_where_the_noise_is_exactly_zero(tmp_path):
    def strict(constant):  # NaN and Infinity are not JSON: strict parsers (JavaScript's) reject them
        raise AssertionError(f"noise.json holds {constant}")

    r = run(["noise", "--dataset", "linear2d", "--draws", "20", "--batch-sizes", "1,200", "--out", "o"],
            cwd=tmp_path)  # at B = N every batch is the full batch: zero noise, no relative error
    assert r.returncode == 0, r.stderr
    assert "exact" in r.stdout
    json.loads((tmp_path / "o" / "noise.json").read_text(), parse_constant=strict)


@pytest.mark.parametrize("failure, status", [(KeyboardInterrupt, 130), ("library error", 1)])
def test_a_failed_or_interrupted_run_leaves_the_output_folder_as_it_was(tmp_path, monkeypatch, capsys,
                                                                        failure, status):
    from tinygrad_mb import cli
    from tinygrad_mb.errors import TinygradMBError

    def half_done(args, prep, staging):  # writes part of its files, then stops
        (Path(staging) / "noise.png").write_bytes(b"half a figure")
        raise KeyboardInterrupt if failure is KeyboardInterrupt else TinygradMBError("the run failed")

    monkeypatch.setattr(cli, "_run_noise", half_done)
    old = tmp_path / "old"
    old.mkdir()
    (old / "noise.png").write_bytes(b"the previous figure")
    assert cli.main(["noise", "--out", str(old), "--draws", "5"]) == status
    assert [p.name for p in old.iterdir()] == ["noise.png"]  # no staging folder, no new file
    assert (old / "noise.png").read_bytes() == b"the previous figure"
    fresh = tmp_path / "new" / "deeper"
    assert cli.main(["noise", "--out", str(fresh), "--draws", "5"]) == status
    assert not (tmp_path / "new").exists()  # the folders the run created are gone again
    err = capsys.readouterr().err
    assert ("interrupted; no files were written" if status == 130 else "error: the run failed") in err


def test_an_interruption_while_moving_the_results_in_says_which_files_arrived(tmp_path, monkeypatch, capsys):
    from tinygrad_mb import cli, output_folder

    real_move_in = output_folder.move_in

    def first_then_ctrl_c(written, out):
        real_move_in(written[:1], out)
        raise KeyboardInterrupt

    monkeypatch.setattr(output_folder, "move_in", first_then_ctrl_c)
    assert cli.main(["noise", "--out", str(tmp_path / "o"), "--draws", "5", "--batch-sizes", "1,4"]) == 130
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["noise.png"]
    assert "interrupted; only noise.png moved in before it stopped" in capsys.readouterr().err


def test_an_earlier_runs_files_are_replaced_with_a_notice_first(tmp_path, capsys):
    from tinygrad_mb import cli

    args = ["noise", "--out", str(tmp_path / "o"), "--draws", "5", "--batch-sizes", "1,4"]
    assert cli.main(args) == 0
    first = capsys.readouterr().out
    assert "note:" not in first and "replaced" not in first
    (tmp_path / "o" / "notes.txt").write_text("mine")  # not one of noise's files: not mentioned, kept
    assert cli.main(args) == 0
    second = capsys.readouterr().out
    # said before the run starts, while Ctrl-C can still keep the old files, and again at the end
    assert second.startswith(f"note: {tmp_path / 'o'} holds noise.png, noise.csv, noise.json from an earlier run; "
                             "this run replaces them when it finishes (use another --out to keep them)")
    assert "replaced 3 earlier file(s))" in second and "notes.txt" not in second
    assert (tmp_path / "o" / "notes.txt").read_text() == "mine"


def test_a_minibatch_larger_than_the_dataset_runs_as_full_batch_with_a_note(tmp_path, capsys):
    from tinygrad_mb import cli

    args = ["compare", "--out", str(tmp_path / "o"), "--variants", "sgd,minibatch:5000", "--epochs", "1",
            "--seeds", "0"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("note: minibatch with B=5000 is larger than the 1000 training samples of 'linear', "
                          "so it runs as full batch (B=N=1000)\n")
    assert "minibatch (B=N=1000, lr=0.5)" in out  # the summary row says so too, at the full-batch rate
    exact = ["compare", "--out", str(tmp_path / "p"), "--variants", "sgd,minibatch:1000", *args[5:]]
    assert cli.main(exact) == 0
    assert "note:" not in capsys.readouterr().out  # B = N exactly: nothing to point out


def test_a_budget_off_a_batch_boundary_and_a_short_last_batch_are_pointed_out(tmp_path):
    # Catches budgets silently overshot by up to a batch (batch GD with --samples 1500 sees 2000), and the
    # small last batch of every epoch (N % B samples at the full rate) going unmentioned, with no way to drop it.
    from tinygrad_mb import cli

    def notes(*argv):
        args = cli.build_parser().parse_args(["compare", *argv, "--out", str(tmp_path / "o")])
        return " | ".join(cli._validate(args.subparser, args)["notes"])

    said = notes("--samples", "1500")
    assert "ends after the update that reaches or crosses its budget of 1500 samples (--samples 1500), so " \
           "batch (B=N=1000, lr=0.5) sees 2000, minibatch (B=32, lr=0.1) sees 1512;" in said
    assert "sgd (B=1" not in said  # B = 1 lands on every budget
    assert "budget" not in notes()  # 10 epochs of 1000: on every batch boundary when the last batch is kept
    assert "(--epochs 10 = 10 x N), so minibatch (B=32, lr=0.1) sees 10016;" in notes("--drop-last")
    with_updates = notes("--samples", "1500", "--updates", "3")  # 3 updates stop B=32 first, not batch GD (2)
    assert "so batch (B=N=1000, lr=0.5) sees 2000;" in with_updates and "1512" not in with_updates
    short = "note: minibatch (B=32, lr=0.1): N=1000 is not a multiple of B=32, so the last batch of every epoch " \
            "has 8 samples and still gets a full-rate update; --drop-last skips it"
    assert short in notes() and "not a multiple of B" not in notes("--drop-last")
    assert "N=1000 is not a multiple" not in notes("--variants", "batch,sgd,minibatch:40")


def test_drop_last_reaches_the_runs(tmp_path):
    r = run(["compare", "--variants", "minibatch:999", "--drop-last", "--epochs", "2", "--seeds", "0", "--quiet",
             "--out", "o"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "o" / "compare.json").read_text())
    (h,) = doc["histories"]["minibatch (B=999, lr=0.5)"]
    assert doc["run"]["options"]["drop_last"] is True and h["drop_last"] is True
    assert h["evals"]["samples"] == [0, 999, 1998, 2997]  # one sample dropped per pass; each pass end evaluated


def test_sweep_help_says_how_steps_to_target_are_counted_and_suggests_seeds():
    # The count is the first evaluation at or below the target, which a noisy run can reach by luck
    from tinygrad_mb import cli, gd

    text = cli.build_parser()._subparsers._group_actions[0].choices["sweep"].format_help()
    assert "first evaluation at or below the target" in " ".join(text.split()) and "0,1,2" in text
    assert "first** evaluation at or below" in gd.sweep.__doc__ and "seeds=[0, 1, 2]" in gd.sweep.__doc__


def test_the_sweep_headline_claims_perfect_scaling_only_where_the_measurements_show_it(tmp_path, monkeypatch):
    # Catches "perfect scaling for small batches, then diminishing returns" over a single point,
    # or over counts that rise with B.
    from tinygrad_mb import cli

    titles = []
    save = cli._save_figure

    def save_and_note_the_title(fig, path):
        titles.append(fig.get_suptitle())
        save(fig, path)

    monkeypatch.setattr(cli, "_save_figure", save_and_note_the_title)
    common = ["sweep", "--epochs", "2", "--quiet"]
    assert cli.main([*common, "--batch-sizes", "1000", "--lrs", "0.1", "--out", str(tmp_path / "one")]) == 0
    assert cli.main([*common, "--batch-sizes", "1,8,64,1000", "--lrs", "0.008,0.04,0.25,0.5",
                     "--out", str(tmp_path / "four")]) == 0
    one, four = titles
    assert one.startswith("Learning-rate sweep\n") and "perfect scaling" not in one
    assert four.startswith("Learning-rate sweep: perfect scaling for small batches, then diminishing returns\n")


def test_the_sweep_headline_needs_near_equal_samples_at_small_batches_and_more_at_the_largest():
    # Catches the headline over 8 -> 64 costing 2.3x the samples (640 -> 1472): not perfect scaling,
    # though the fitted knee lay between the batch sizes (the earlier rule).
    from types import SimpleNamespace

    from tinygrad_mb.cli import _textbook_shape

    def shape(steps, samples):
        return _textbook_shape(SimpleNamespace(steps_to_target=steps, samples_to_target=samples))

    inf = math.inf
    assert shape([inf, 80, 23, 2], [inf, 640, 1472, 2000]) is False  # the first two measured: 2.3x apart
    assert shape([656, 82, 12, 2], [656, 656, 768, 2000]) is True
    assert shape([656, 70, 12, 1], [656, 560, 768, 1000]) is False  # the largest not 2x the smallest
    assert shape([656, 82], [656, 656]) is False  # two points tell no such story
    assert shape([0, 82, 2], [0, 656, 2000]) is False  # 0 (met at the start) is no measurement: two points


def test_text_wider_than_the_figure_is_kept_in_the_png(tmp_path):
    # Catches `trajectories --variants sgd`: one 4.8-inch panel under a longer title, cut off at both edges.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tinygrad_mb import cli

    fig, ax = plt.subplots(figsize=(3, 2))
    fig.suptitle("a title much, much wider than this small figure of three inches, as a single panel gets")
    cli._save_figure(fig, str(tmp_path / "f.png"))
    width = int.from_bytes((tmp_path / "f.png").read_bytes()[16:20], "big")  # from the PNG header
    assert width > 3 * 150 * 1.5


def test_help_says_when_the_default_budgets_apply_and_the_sweeps_default_batch_sizes():
    # Catches "--epochs (default 10)" while --seconds 5 alone runs thousands of epochs, and a sweep
    # --batch-sizes with no default shown.
    from tinygrad_mb import cli

    choices = cli.build_parser()._subparsers._group_actions[0].choices
    text = {name: " ".join(p.format_help().split()) for name, p in choices.items()}
    assert "(default 10 when no other budget is given)" in text["compare"]
    assert "budget (per variant; the first one used up stops it)" in text["trajectories"]
    assert "(default 80 when --epochs is not given)" in text["trajectories"]
    assert "(default 1,2,4,8,16,32,64,128,256,1000; those above the number of training samples run as full batch)" \
        in text["sweep"]
