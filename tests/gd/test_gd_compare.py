"""compare(): same start, same data, same grid; summary, export and plots."""

import csv
import io
import json
import math
import warnings

import numpy as np
import pytest

from tinygrad_mb import gd, nn
from tinygrad_mb.errors import HyperparameterError, SaveLoadError
from tinygrad_mb.gd.trainer import BLOWUP_FACTOR


@pytest.fixture(scope="module")
def prob():
    return gd.make_problem("linear")


@pytest.fixture(scope="module")
def cmp(prob):
    variants = [gd.Batch(0.5), gd.Stochastic(0.01), gd.MiniBatch(32, 0.1), gd.MiniBatch(16, 5.0, name="too_fast")]
    return gd.compare(prob.model_fn, prob.loss_fn, prob.train, variants, epochs=2, seeds=[0, 1])


def test_all_variants_start_from_the_same_full_loss(cmp):
    for s in range(2):
        starts = {label: runs[s].evals["train_loss"][0] for label, runs in cmp.histories.items()}
        assert len(set(starts.values())) == 1, starts
    # different seeds -> different initial weights (a factory was given)
    first = next(iter(cmp.histories.values()))
    assert first[0].initial_loss != first[1].initial_loss


def test_shared_evaluation_grid(cmp):
    grids = {label: tuple(runs[0].evals["samples"]) for label, runs in cmp.histories.items()
             if not runs[0].diverged}
    batch = grids.pop("batch (B=N=1000, lr=0.5)")
    assert len(set(grids.values())) == 1
    assert set(batch) <= set(next(iter(grids.values())))


def test_an_eval_grid_some_batch_size_does_not_divide_is_refused(prob):
    # B = 32 would be evaluated after 64, 128, ... samples, B = 1 after 50, 100, ...: no shared points
    variants = [gd.Stochastic(0.01), gd.MiniBatch(32, 0.1)]
    with pytest.raises(HyperparameterError, match=r"eval_every=50 .* use a multiple of 32, e.g. 64"):
        gd.compare(prob.model_fn, prob.loss_fn, prob.train, variants, epochs=1, eval_every=50)
    with pytest.raises(HyperparameterError, match=r"multiple of 63"):  # lcm(7, 9)
        gd.compare(prob.model_fn, prob.loss_fn, prob.train, [gd.MiniBatch(7, 0.1), gd.MiniBatch(9, 0.1)],
                   epochs=1, eval_every=50)
    # a multiple of every batch size, or a whole epoch, is fine: the grid is shared
    for every in (96, 1000):
        cmp = gd.compare(prob.model_fn, prob.loss_fn, prob.train, variants, epochs=1, eval_every=every)
        grids = [tuple(runs[0].evals["samples"]) for runs in cmp.histories.values()]
        assert grids[0] == grids[1]


def test_diverging_variant_is_reported_while_the_others_finish(cmp):
    summary = cmp.summary()
    bad = summary["too_fast"]
    assert bad["diverged"].startswith("2/2 seeds, after update") and len(bad["diverged_after"]) == 2
    for label in ("batch", "sgd", "minibatch"):
        row = summary[label]
        assert row["diverged"] == "no" and row["samples"] == 2000
    for h in cmp.histories[bad["variant"]]:
        assert h.diverged and h.updates == h.diverged_at - 1 and h.updates in bad["diverged_after"]
        # stopped either by overflow or by a loss that ran past BLOWUP_FACTOR x its start
        assert not math.isfinite(h.diverged_loss) or h.diverged_loss > BLOWUP_FACTOR * h.initial_loss
    text = str(summary)
    assert "diverged" in text and "too_fast" in text and "yes" not in text.split("\n")[2]


def test_summary_table(cmp, prob):
    s = cmp.summary()
    assert s.target == pytest.approx(prob.f_star + 0.01 * (cmp.histories["sgd (B=1, lr=0.01)"][0].initial_loss
                                                          + cmp.histories["sgd (B=1, lr=0.01)"][1].initial_loss
                                                          - 2 * prob.f_star) / 2, rel=1e-6)
    row = s["batch"]
    assert row["batch_size"] == 1000 and row["updates"] == 2 and row["samples"] == 2000
    assert row["final_loss"] >= row["best_loss"] - 1e-12
    assert s["sgd"]["updates"] == 2000 and s["minibatch"]["updates"] == 2 * 32
    assert s["sgd"]["samples_to_target"] < s["batch"]["samples_to_target"]
    for key in ("time_to_target", "updates_to_target", "samples_to_target", "final_suboptimality", "time"):
        assert key in row
    text = str(s)
    for header in ("variant", "final loss", "best loss", "updates", "samples", "time [s]", "time->target [s]",
                   "updates->target", "samples->target", "diverged"):
        assert header in text


def test_same_seed_gives_identical_comparisons(prob):
    def run():
        return gd.compare(prob.model_fn, prob.loss_fn, prob.train, [gd.Stochastic(0.01), gd.MiniBatch(8, 0.05)],
                          epochs=1, seeds=[3])

    a, b = run(), run()
    for label in a.histories:
        ha, hb = a.histories[label][0], b.histories[label][0]
        np.testing.assert_array_equal(ha.steps["loss"], hb.steps["loss"])
        np.testing.assert_array_equal(ha.evals["train_loss"], hb.evals["train_loss"])


def test_an_explicit_backend_wins_over_the_default_for_data_and_models(prob, monkeypatch):
    # Catches the (X, y) arrays and model(seed) being made on the default backend before moving to
    # backend=: with $TINYGRAD_MB_BACKEND=cupy and no CuPy, that failed although backend="numpy" was asked for.
    from tinygrad_mb import backend

    monkeypatch.setenv(backend.ENV_VAR, "cupy")
    monkeypatch.setattr(backend, "_current", None)  # read the variable again
    result = gd.compare(prob.model_fn, prob.loss_fn, prob.train, [gd.Batch(0.5), gd.Stochastic(0.01)],
                        updates=3, seeds=[0], backend="numpy")
    assert all(len(runs[0].evals["train_loss"]) > 1 for runs in result.histories.values())


def test_the_progress_bar_moves_through_each_run_not_only_between_runs(prob, monkeypatch):
    # Catches a bar that stood at 0/1 for the whole of a one-run comparison.
    import importlib

    compare_module = importlib.import_module("tinygrad_mb.gd.compare")
    shown = []

    class Bar:  # records what a tqdm bar would show
        n = 0

        def refresh(self):
            shown.append(self.n)

        def set_description(self, text):
            pass

        def close(self):
            pass

    monkeypatch.setattr(compare_module, "_progress_bar", lambda enabled, total: Bar())
    gd.compare(prob.model_fn, prob.loss_fn, prob.train, [gd.Stochastic(0.01)], epochs=1, seeds=[0], progress=True)
    assert shown == sorted(shown) and shown[-1] == 1
    assert len([v for v in shown if 0 < v < 1]) >= 10  # evaluations along the run move it
    np.testing.assert_allclose(shown[len(shown) // 2], 0.5, atol=0.1)  # in proportion to the budget


def test_a_module_is_left_at_its_initial_weights(prob):
    model = prob.model_fn(0)
    before = model.state_dict()
    c = gd.compare(model, prob.loss_fn, prob.train, [gd.Batch(0.5), gd.MiniBatch(50, 0.1)], epochs=1, seeds=[0, 1])
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    # with a Module, every seed starts from the same weights
    starts = [h.initial_loss for runs in c.histories.values() for h in runs]
    assert len(set(starts)) == 1


def _dropout_net(seed):
    """An MLP with a Dropout layer that draws its masks from its own generator."""
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(2, 16, seed=rng), nn.Tanh(), nn.Dropout(0.2, seed=seed), nn.Linear(16, 2, seed=rng))


@pytest.mark.parametrize("as_module", [False, True])
def test_a_layer_with_its_own_rng_starts_every_run_in_the_same_state(as_module):
    # Catches compare() reloading only the weights between variants: Dropout's generator carried on
    # from the previous run, so two identical variants differed and results depended on variant order.
    moons = gd.make_problem("moons")
    model = _dropout_net(0) if as_module else _dropout_net
    a, same = gd.MiniBatch(32, 0.5), gd.MiniBatch(32, 0.5, name="same-again")

    def run(variants):
        c = gd.compare(model, moons.loss_fn, moons.train, variants, epochs=1, seeds=[0])
        return c.histories[a.label(moons.n_train)][0]

    twins = gd.compare(model, moons.loss_fn, moons.train, [a, same], epochs=1, seeds=[0])
    ha, hb = (twins.histories[label][0] for label in twins.labels)
    np.testing.assert_array_equal(ha.steps["loss"], hb.steps["loss"])
    np.testing.assert_array_equal(ha.evals["train_loss"], hb.evals["train_loss"])
    alone, after_batch = run([a]), run([gd.Batch(2.0), a])  # what ran before does not matter
    np.testing.assert_array_equal(alone.steps["loss"], after_batch.steps["loss"])
    np.testing.assert_array_equal(alone.steps["loss"], ha.steps["loss"])


def test_export(cmp, tmp_path):
    text = cmp.to_csv(tmp_path / "evals.csv")
    header = text.splitlines()[0].split(",")
    assert header[:4] == ["variant", "batch_size", "lr", "seed"] and "train_loss" in header
    assert (tmp_path / "evals.csv").read_text() == text
    steps = cmp.to_csv(table="steps")
    assert len(steps.splitlines()) == 1 + sum(h.updates for runs in cmp.histories.values() for h in runs)
    assert "diverged" in cmp.to_csv(table="summary").splitlines()[0]
    doc = json.loads(cmp.to_json(tmp_path / "c.json"))
    assert set(doc) >= {"summary", "histories", "target", "f_star", "variants"}
    assert doc["histories"]["too_fast (B=16, lr=5)"][0]["diverged"] is True
    with pytest.raises(HyperparameterError):
        cmp.to_csv(table="nope")


def test_export_to_a_path_that_cannot_be_written_says_why_and_leaves_nothing(cmp, tmp_path, monkeypatch):
    with pytest.raises(SaveLoadError, match=r"is a folder; give a file name in it, e.g. .*results\.csv"):
        cmp.to_csv(tmp_path)
    with pytest.raises(SaveLoadError, match=r"the folder .*nope.* does not exist; create it first"):
        cmp.to_json(tmp_path / "nope" / "c.json")
    (tmp_path / "c.json").write_text("old")

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("os.replace", refuse)
    with pytest.raises(SaveLoadError, match="could not write .*c.json.*Permission denied"):
        cmp.to_json(tmp_path / "c.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json"]  # no temporary file left behind
    assert (tmp_path / "c.json").read_text() == "old"


@pytest.mark.parametrize("x", ["epoch", "update", "samples", "time", "all"])
def test_plot_returns_a_figure(cmp, x):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    fig = cmp.plot(x=x)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and "f*" in ax.get_ylabel()
    assert ax.get_xlabel()
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert any("B=32, lr=0.1" in label for label in labels) and any("diverged" in label for label in labels)
    plt.close(fig)


def test_plot_loss_without_f_star_and_bad_axes(prob):
    import matplotlib.pyplot as plt

    c = gd.compare(prob.model_fn, prob.loss_fn, (prob.train.X, prob.train.y), [gd.Batch(0.5)], epochs=1)
    assert c.f_star is None
    fig = c.plot(x="update")
    assert "training loss" in fig.axes[0].get_ylabel()
    plt.close(fig)
    with pytest.raises(ValueError, match="epoch"):
        c.plot(x="minutes")
    with pytest.raises(ValueError):
        c.plot(y="suboptimality")


def test_bad_variant_lists(prob):
    with pytest.raises(HyperparameterError):
        gd.compare(prob.model_fn, prob.loss_fn, prob.train, [], epochs=1)
    with pytest.raises(HyperparameterError, match="same label"):
        gd.compare(prob.model_fn, prob.loss_fn, prob.train, [gd.Batch(0.5), gd.Batch(0.5)], epochs=1)
    with pytest.raises(HyperparameterError):
        gd.compare(prob.model_fn, prob.loss_fn, prob.train, [gd.Batch(0.5)], epochs=1, seeds=[])


def test_mse_loss_module_and_functional_both_work(prob):
    c = gd.compare(prob.model_fn, nn.functional.mse_loss if hasattr(nn.functional, "mse_loss") else prob.loss_fn,
                   prob.train, [gd.MiniBatch(100, 0.3)], epochs=1)
    assert c.summary()["minibatch"]["final_loss"] < c.histories["minibatch (B=100, lr=0.3)"][0].initial_loss


def test_summary_counts_show_a_fraction_only_when_the_seeds_disagree():
    """A mean over seeds of 1 and 2 updates is 1.5, not a rounded 2 beside an exact sample count."""
    from tinygrad_mb.gd.compare import _fmt

    assert _fmt(12.0, "count") == "12"
    assert _fmt(5 / 3, "count") == "1.7"
    assert _fmt(5000 / 3, "count") == "1666.7"
    assert _fmt(None, "count") == "-"


def test_each_run_is_the_run_train_gives_with_that_seed(prob):
    # catches: compare() seeding the variants' loaders differently, so SGD and mini-batch no longer
    # walk through the samples in the same order (nor as gd.train with that seed does)
    variants = [gd.Stochastic(0.01), gd.MiniBatch(8, 0.05)]
    c = gd.compare(prob.model_fn, prob.loss_fn, prob.train, variants, updates=40, seeds=[3])
    for v in variants:
        alone = gd.train(prob.model_fn(3), prob.loss_fn, prob.train, v, updates=40, seed=3)
        np.testing.assert_array_equal(c.histories[v.label(1000)][0].steps["loss"], alone.steps["loss"])


def test_summary_rows_are_means_over_seeds(cmp):
    # catches: a column taken from one seed, or a ->target column read from the wrong axis of reach()
    s = cmp.summary()
    assert any(row["reached_target"] for row in s.rows)
    for label, runs in cmp.histories.items():
        row = s[label]
        assert row["final_loss"] == pytest.approx(np.mean([h.final_loss for h in runs]))
        assert row["time"] == pytest.approx(np.mean([h.wall_time for h in runs]))
        hits = [hit for hit in (h.reach(s.target) for h in runs) if hit]
        for axis, column in (("time", "time_to_target"), ("update", "updates_to_target"),
                             ("samples", "samples_to_target")):
            expected = pytest.approx(np.mean([hit[axis] for hit in hits])) if hits else None
            assert row[column] == expected, (label, column)


def test_a_given_target_and_f_star_are_used(prob):
    # catches: compare() dropping its target= (the default one is used) or its f_star= (runs on plain
    # arrays then record no f - f*)
    c = gd.compare(prob.model_fn, prob.loss_fn, (prob.train.X, prob.train.y), [gd.Batch(0.5)], epochs=1,
                   target=2.0, f_star=prob.f_star)
    assert c.target == 2.0 and c.summary().target == 2.0
    (h,) = c.histories["batch (B=N=1000, lr=0.5)"]
    np.testing.assert_allclose(h.evals["suboptimality"], h.evals["train_loss"] - prob.f_star)


def test_exported_columns_hold_what_their_headers_say(cmp):
    # catches: the CSV's seed or batch_size column filled from another field (None for batch GD),
    # the JSON's target or diverged_at mislabelled
    rows = list(csv.DictReader(io.StringIO(cmp.to_csv())))
    assert {r["seed"] for r in rows} == {"0", "1"}
    assert {r["batch_size"] for r in rows if r["variant"].startswith("batch")} == {"1000"}
    doc = json.loads(cmp.to_json(steps=False))
    assert doc["target"] == cmp.summary().target
    label = "too_fast (B=16, lr=5)"
    assert [h["diverged_at"] for h in doc["histories"][label]] == [h.diverged_at for h in cmp.histories[label]]


def test_the_time_column_ends_where_the_time_axis_ends(prob):
    # Catches 'time' read from the per-update clock (no wait for the device) while time-to-target and
    # the figure's time axis use the evaluations' clock: 't->target' could then exceed 'time'.
    batch = gd.Batch(0.5)
    c = gd.compare(prob.model_fn, prob.loss_fn, prob.train, [batch, gd.MiniBatch(32, 0.1)], epochs=1, seeds=[0])
    (h,) = c.histories[batch.label(1000)]
    s = c.summary(target=h.final_loss)  # batch GD descends monotonically: met at its last evaluation only
    assert s[batch.label(1000)]["time_to_target"] == s[batch.label(1000)]["time"] == h.evals["time"][-1]
    for label, runs in c.histories.items():
        row = s[label]
        assert row["time"] == runs[0].wall_time == runs[0].evals["time"][-1]
        assert row["time_to_target"] is None or row["time_to_target"] <= row["time"]
    # the exports agree with the table: summary CSV and JSON, and the last time of the evals CSV
    evals = [r for r in csv.DictReader(io.StringIO(c.to_csv())) if r["variant"] == batch.label(1000)]
    summary = {r["variant"]: r for r in csv.DictReader(io.StringIO(c.to_csv(table="summary")))}
    doc = {r["variant"]: r for r in json.loads(c.to_json(steps=False))["summary"]}
    assert float(evals[-1]["time"]) == float(summary[batch.label(1000)]["time"]) == doc[batch.label(1000)]["time"]


def test_a_target_above_every_starting_loss_is_pointed_out(cmp):
    # catches: a table of ->target columns that are all 0 shown as if the variants tied
    start = max(h.initial_loss for runs in cmp.histories.values() for h in runs)
    text = str(cmp.summary(target=start * 10))
    assert "started at or below the target loss" in text
    assert "started at or below" not in str(cmp.summary())  # the default target is below the start


def test_spread_over_seeds_that_all_diverged_is_nan_without_a_numpy_warning():
    """Two runs ending at inf: np.std computed inf - inf and warned; the user saw a RuntimeWarning."""
    p = gd.make_problem("linear")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = gd.compare(p.model_fn, p.loss_fn, p.train, [gd.Stochastic(5.0)], epochs=1, seeds=[0, 1])
        row = c.summary().rows[0]
    assert row["final_loss"] == math.inf and math.isnan(row["final_loss_std"])
