"""Variants are one class with presets; learning-rate scaling rules; text specs."""

import math

import pytest

from tinygrad_mb import gd
from tinygrad_mb.errors import HyperparameterError


def test_presets_are_one_class_differing_only_in_batch_size():
    b, s, m = gd.Batch(0.5), gd.Stochastic(0.01), gd.MiniBatch(32, 0.1)
    assert all(type(v) is gd.Variant for v in (b, s, m))
    assert (b.batch_size, s.batch_size, m.batch_size) == (None, 1, 32)
    assert (b.resolve_batch_size(1000), s.resolve_batch_size(1000), m.resolve_batch_size(1000)) == (1000, 1, 32)
    assert gd.MiniBatch(5000, 0.1).resolve_batch_size(1000) == 1000
    assert b.is_full_batch(7) and not m.is_full_batch(1000)


def test_labels_name_variant_batch_size_and_lr():
    assert gd.Batch(0.5).label(1000) == "batch (B=N=1000, lr=0.5)"
    assert gd.Stochastic(0.01).label() == "sgd (B=1, lr=0.01)"
    assert gd.MiniBatch(32, 0.1).label(1000) == "minibatch (B=32, lr=0.1)"
    assert "adam" in gd.MiniBatch(32, 0.01, optimizer="adam").label(1000)


@pytest.mark.parametrize("kwargs", [
    {"batch_size": 0, "lr": 0.1}, {"batch_size": 2.5, "lr": 0.1}, {"batch_size": True, "lr": 0.1},
    {"batch_size": 4, "lr": 0.0}, {"batch_size": 4, "lr": -1.0}, {"batch_size": 4, "lr": math.inf},
    {"batch_size": 4, "lr": 0.1, "optimizer": "lbfgs"}, {"batch_size": 4, "lr": 0.1, "schedule_unit": "week"},
    {"batch_size": 4, "lr": True}, {"batch_size": 4, "lr": "0.1"},
])
def test_bad_settings_are_rejected_with_the_valid_ones(kwargs):
    with pytest.raises(HyperparameterError):
        gd.Variant("x", **kwargs)


def test_scale_lr_linear_and_sqrt_rules():
    assert gd.scale_lr(0.1, 32, 128, "linear") == pytest.approx(0.4)
    assert gd.scale_lr(0.1, 32, 128, "sqrt") == pytest.approx(0.2)
    assert gd.scale_lr(0.1, 32, 8, "sqrt") == pytest.approx(0.05)
    assert gd.scale_lr(0.1, 32, 1024, "linear", max_lr=0.5) == 0.5
    assert gd.scale_lr(0.1, 32, 1, "none") == 0.1
    with pytest.raises(HyperparameterError, match="linear"):
        gd.scale_lr(0.1, 32, 64, "cubic")
    with pytest.raises(HyperparameterError):
        gd.scale_lr(0.1, 0, 64)


def test_parse_variants_reads_specs_and_uses_documented_rates():
    vs = gd.parse_variants("batch,sgd,minibatch:32@0.05,minibatch:64", "linear", 1000)
    assert [v.batch_size for v in vs] == [None, 1, 32, 64]
    assert vs[0].lr == gd.DEFAULT_LRS["linear"]["batch"]
    assert vs[1].lr == gd.DEFAULT_LRS["linear"]["sgd"]
    assert vs[2].lr == 0.05
    assert vs[3].lr == pytest.approx(gd.DEFAULT_LRS["linear"]["minibatch"] * math.sqrt(2))
    for bad in ["", "adamw", "minibatch", "minibatch:x", "batch@fast", "batch@-1"]:
        with pytest.raises(HyperparameterError, match="minibatch:B"):
            gd.parse_variants(bad)
    # the two that read as almost right get the fix named, not the whole grammar
    for bad, said in [("minibatch:0", r"'minibatch:0': the batch size must be a whole number >= 1"),
                      ("mb:-3", "must be a whole number >= 1, e.g. minibatch:32"),
                      ("sgd:4", r"'sgd:4': sgd takes no batch size \(its B is 1\); for B = 4 write minibatch:4"),
                      ("batch:64@0.1", "batch takes no batch size .*N, the whole training set.*write minibatch:64")]:
        with pytest.raises(HyperparameterError, match=said):
            gd.parse_variants(bad)
    for bad in ["batch,,sgd", "batch,sgd,"]:  # it said "cannot read variant ''"
        with pytest.raises(HyperparameterError, match="empty entry in the variants.*two commas in a row"):
            gd.parse_variants(bad)


def test_default_lr_covers_every_problem():
    for problem in gd.DATASETS:
        for b in (None, 1, 16, 32, 256):
            assert 0 < gd.default_lr(problem, b, 1000) <= gd.DEFAULT_LRS[problem]["batch"]


def test_a_batch_of_exactly_n_is_the_full_batch():
    # B = N is batch gradient descent: its label and its default rate say so (B > N is too).
    assert gd.MiniBatch(32, 0.1).label(32) == "minibatch (B=N=32, lr=0.1)"
    assert gd.MiniBatch(32, 0.1).label(33) == "minibatch (B=32, lr=0.1)"
    batch_rate = gd.variants.DEFAULT_LRS["digits"]["batch"]
    assert gd.variants.default_lr("digits", 40, 40) == batch_rate
    assert gd.variants.default_lr("digits", 39, 40) < batch_rate  # a true mini-batch: the sqrt-scaled rate


def test_default_rates_of_big_mini_batches_stop_at_the_batch_rate():
    # catches: the sqrt-scaled rate left uncapped near B = N (0.1 * sqrt(999 / 32) = 0.56 > batch GD's 0.5)
    assert gd.default_lr("linear", 999, 1000) == gd.DEFAULT_LRS["linear"]["batch"]


def test_to_dict_gives_the_batch_size_on_n_samples():
    # catches: batch GD exported with batch_size None (as given) instead of N
    assert gd.Batch(0.5).to_dict(1000)["batch_size"] == 1000 and gd.Batch(0.5).to_dict()["batch_size"] is None
    assert gd.MiniBatch(32, 0.1).to_dict(1000)["batch_size"] == 32


def test_a_variant_needs_a_name_and_with_lr_changes_only_the_rate():
    for name in ("", None):
        with pytest.raises(HyperparameterError, match="non-empty name"):
            gd.Variant(name, 4, 0.1)
    m = gd.MiniBatch(32, 0.1, optimizer="adam")
    faster = m.with_lr(0.4)
    assert (faster.lr, faster.batch_size, faster.optimizer, faster.name) == (0.4, 32, "adam", "minibatch")
    assert m.lr == 0.1  # a copy: the original keeps its rate
    assert gd.Batch(0.5).is_full_batch(7) is True and gd.MiniBatch(8, 0.1).is_full_batch(9) is False


@pytest.mark.parametrize("batch_size, lr, hinted", [(0.1, 32, True), (0.5, 1, True), (0.5, 2.5, False),
                                                    (0.5, 0, False)])
def test_the_swapped_arguments_hint_only_when_a_whole_number_rate_could_be_the_batch_size(batch_size, lr, hinted):
    with pytest.raises(HyperparameterError) as info:
        gd.Variant("minibatch", batch_size, lr)
    assert ("comes before the learning rate" in str(info.value)) == hinted
