"""History and NoiseResult details that mutation testing found unpinned (gd/history.py, gd/noise.py)."""

import json
import math

import numpy as np
import pytest

from tinygrad_mb import gd, nn
from tinygrad_mb.gd.noise import NoiseResult

LABEL = "minibatch (B=10, lr=0.1)"


def _history(**kw):
    """A History of B = 10 on N = 100 samples, filled by hand the way train() fills it."""
    return gd.History(gd.MiniBatch(10, 0.1), seed=0, n_train=100, batch_size=10, **kw)


def _add_steps(h, losses, first=1):
    for k, loss in enumerate(losses, start=first):
        h.add_step(k, 10 * k, 0.1 * k, np.float64(loss), np.float64(2.0), 0.1)


# --- History ------------------------------------------------------------------------------------------------------


def test_a_history_made_by_hand_has_drop_last_off_and_says_so():
    # drop_last defaults to train()'s default (False); it is reported in to_dict()
    h = _history()
    assert h.drop_last is False and h.to_dict()["drop_last"] is False
    assert _history(drop_last=True).to_dict()["drop_last"] is True


def test_initial_and_last_eval_read_the_first_and_latest_evaluation_while_running():
    h = _history(f_star=0.5)
    for k, loss in enumerate([2.0, 1.5, 1.25]):
        h.add_eval(k, 10 * k, 0.1 * k, {"train_loss": loss}, 0.1)
    assert h.initial_eval("train_loss") == 2.0 and h.last_eval("train_loss") == 1.25
    assert h.initial_eval("suboptimality") == 1.5 and h.initial_eval("samples") == 0.0


def test_flush_says_true_while_every_loss_is_finite():
    # flush() is False only when a pending loss is not finite (then the run has diverged)
    h = _history()
    assert h.flush() is True  # nothing pending
    _add_steps(h, [1.0])  # a single pending step is read back too
    assert h.flush() is True and not h.diverged
    h.finish("updates")
    assert h.steps["loss"].tolist() == [1.0] and h.steps["grad_norm"].tolist() == [2.0]
    assert (h.updates, h.samples) == (1, 10)


def test_a_non_finite_loss_in_a_later_flush_stops_the_run_after_the_update_before_it():
    # the losses of the first flush are already read back: the NaN of the second batch is counted after them
    h = _history()
    _add_steps(h, [1.0, 0.5])
    assert h.flush()
    _add_steps(h, [0.25, math.nan, 0.1], first=3)
    assert h.flush() is False
    # update 4 met the NaN at the weights after update 3 (30 samples, 0.3 s): it was not taken
    assert (h.diverged_at, h.diverged_samples, h.diverged_time) == (4, 30, pytest.approx(0.3))
    h.finish("diverged")
    assert h.steps["update"].tolist() == [1, 2, 3] and h.steps["loss"].tolist() == [1.0, 0.5, 0.25]
    assert (h.updates, h.samples) == (3, 30)


def test_a_non_finite_first_loss_stops_the_run_at_the_start():
    # the initial weights gave a NaN mini-batch loss: no update taken, no sample seen, no training time
    h = _history()
    _add_steps(h, [math.nan, 1.0])
    assert h.flush() is False
    assert (h.diverged_at, h.diverged_samples, h.diverged_time) == (1, 0, 0.0)
    assert math.isnan(h.diverged_loss)
    h.finish("diverged")
    assert (h.updates, h.samples) == (0, 0) and len(h.steps["update"]) == 0
    assert h.to_dict()["diverged_loss"] == "nan"  # JSON has no NaN


def test_a_run_whose_first_mini_batch_loss_is_nan_took_no_update_and_saw_no_sample():
    # the same through train(): updates and samples are 0, not 1, when no update was taken
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 3)), rng.standard_normal((40, 1))

    def nan_on_mini_batches(out, target):
        loss = nn.MSELoss()(out, target)
        return loss * math.nan if target.shape[0] < 40 else loss  # the full-data evaluation stays finite

    h = gd.train(nn.Linear(3, 1, seed=0, dtype="float64"), nan_on_mini_batches, (X, y), gd.MiniBatch(8, 0.1),
                 epochs=1)
    assert h.diverged and h.stop_reason == "diverged"
    assert (h.updates, h.samples, h.diverged_at, h.diverged_samples) == (0, 0, 1, 0)
    assert h.evals["update"].tolist() == [0]


class _OnDevice:
    """A stand-in for a CuPy array: NumPy refuses to convert it implicitly, as it refuses a real one."""

    def __init__(self, host):
        self.host = np.asarray(host)

    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed")


class _DeviceModule:
    """The stand-in for the ``cupy`` module: it takes device arrays and host numbers alike."""

    float64 = np.float64

    @staticmethod
    def asarray(v, dtype=None):
        return _OnDevice(np.asarray(v.host if isinstance(v, _OnDevice) else v, dtype=dtype))

    @staticmethod
    def stack(arrays):
        return _OnDevice(np.stack([a.host for a in arrays]))


def test_flush_reads_losses_back_from_the_device_they_live_on(monkeypatch):
    # On a GPU the losses are device arrays, while a gradient norm can be a host number (np.float32(0.0)
    # when no parameter has a gradient): the read-back must use the losses' module, not the norm's.
    from tinygrad_mb import backend

    monkeypatch.setattr(backend, "array_module", lambda a: _DeviceModule if isinstance(a, _OnDevice) else np)
    monkeypatch.setattr(backend, "to_numpy", lambda a: a.host.copy() if isinstance(a, _OnDevice) else np.asarray(a))
    h = _history()
    for k, loss in enumerate([1.0, 0.5], start=1):
        h.add_step(k, 10 * k, 0.1 * k, _OnDevice(loss), np.float32(0.0), 0.1)
    assert h.flush()
    h.finish("updates")
    assert h.steps["loss"].tolist() == [1.0, 0.5] and h.steps["grad_norm"].tolist() == [0.0, 0.0]


def test_mark_diverged_from_eval_without_any_evaluation_does_nothing():
    h = _history()
    h.mark_diverged_from_eval()
    assert not h.diverged and h.diverged_at is None


def test_the_label_and_repr_name_the_variant():
    h = _history()
    assert h.label == LABEL
    h.add_eval(0, 0, 0.0, {"train_loss": 2.0}, 0.1)
    h.finish("updates")
    assert repr(h) == f"History({LABEL}, seed=0, 0 updates, final loss 2)"


def test_an_empty_history_has_no_updates_no_samples_and_no_time():
    h = _history()
    assert (h.updates, h.samples, h.wall_time) == (0, 0, 0.0)  # before finish(): no tables yet
    h.finish("updates")
    assert (h.updates, h.samples, h.wall_time) == (0, 0, 0.0)


def test_best_loss_is_the_lowest_evaluated_training_loss():
    h = _history()
    for k, loss in enumerate([2.0, 0.5, 0.8]):
        h.add_eval(k, 10 * k, 0.1 * k, {"train_loss": loss}, 0.1)
    h.finish("updates")
    assert (h.initial_loss, h.best_loss, h.final_loss) == (2.0, 0.5, 0.8)


def test_the_suboptimality_floor_is_one_ulp_of_f_star_in_the_parameters_dtype():
    assert _history(f_star=0.25, dtype="float32").suboptimality_floor == float(np.spacing(np.float32(0.25)))
    assert _history(f_star=0.25, dtype="float64").suboptimality_floor == float(np.spacing(0.25))
    assert _history(dtype="float32").suboptimality_floor is None  # f* unknown


def test_to_dict_includes_the_per_update_table_unless_told_not_to():
    h = _history()
    _add_steps(h, [1.0, 0.5])
    h.add_eval(0, 0, 0.0, {"train_loss": 2.0}, 0.1)
    h.add_eval(2, 20, 0.2, {"train_loss": math.inf}, 0.1)
    h.finish("updates")
    d = h.to_dict()
    assert d["steps"]["update"] == [1, 2] and d["steps"]["loss"] == [1.0, 0.5]
    assert d["steps"]["samples"] == [10, 20] and d["steps"]["epoch"] == [0.1, 0.2]
    assert d["evals"]["train_loss"] == [2.0, "inf"]  # JSON has no inf
    json.dumps(d, allow_nan=False)
    assert "steps" not in h.to_dict(steps=False) and h.to_dict(steps=False)["evals"] == d["evals"]


# --- NoiseResult --------------------------------------------------------------------------------------------------


def _noise():
    """N = 4, tr(Sigma) = 0.6: theory 0.6, 0.2, 0 at B = 1, 2, 4 (all below 1), B = 2 measured 25% high."""
    return NoiseResult(n=4, batch_sizes=[1, 2, 4], measured=[0.6, 0.25, 0.0], measured_se=[0.0, 0.05, 0.0],
                       theory=[0.6, 0.2, 0.0], draws=10, trace_sigma=0.6, grad_norm_sq=0.3, b_simple=2.0)


def test_relative_error_is_defined_for_any_positive_theory_and_nan_at_b_equal_n():
    errors = _noise().relative_error()
    assert errors[:2] == pytest.approx([0.0, 0.25]) and math.isnan(errors[2])
    assert str(_noise()).splitlines()[-1].endswith("exact")  # B = N: both 0


def test_noise_json_is_indented_one_space_per_level():
    text = _noise().to_json()
    lines = text.splitlines()
    assert lines[:3] == ["{", ' "n": 4,', ' "batch_sizes": [']
    assert lines[3] == "  1,"  # a list's items one level deeper
    assert json.loads(text) == _noise().to_dict() and json.loads(text)["relative_error"][2] == "nan"


def test_noise_to_json_and_to_csv_write_their_text_to_the_path(tmp_path):
    r = _noise()
    for write, name in [(r.to_json, "noise.json"), (r.to_csv, "noise.csv")]:
        path = tmp_path / name
        text = write(path)
        assert text == write() and path.read_text(encoding="utf-8") == text
        assert write(str(tmp_path / f"str_{name}")) == text  # a str path works too
        assert (tmp_path / f"str_{name}").read_text(encoding="utf-8") == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["noise.csv", "noise.json", "str_noise.csv",
                                                          "str_noise.json"]
