"""The documented default learning rates converge on every default problem."""

import pytest

from tinygrad_mb import gd
from tinygrad_mb.errors import HyperparameterError


@pytest.mark.parametrize("name", ["linear", "logistic", "moons", "digits"])
def test_default_rates_converge(name):
    prob = gd.make_problem(name)
    variants = prob.default_variants("batch,sgd,minibatch:32,minibatch:128")
    cmp = gd.compare(prob.model_fn, prob.loss_fn, prob.train, variants, epochs=8, test_dataset=prob.test)
    for label, (h,) in cmp.histories.items():
        assert not h.diverged, label
        assert h.final_loss < 0.9 * h.initial_loss, (label, h.initial_loss, h.final_loss)
    if prob.f_star is not None:  # linear: from ~60 f* down to within 20% of f* (SGD: its noise floor)
        for (h,) in cmp.histories.values():
            assert h.evals["suboptimality"][-5:].mean() < 0.2 * prob.f_star
    else:  # classification: better than chance on held-out data
        for (h,) in cmp.histories.values():
            assert h.evals["test_accuracy"][-1] > 1.2 / prob.train.n_classes


def test_problems_and_models():
    for name in gd.DATASETS:
        prob = gd.make_problem(name)
        model = prob.model_fn(0)
        assert prob.n_train == len(prob.train.X) and prob.description
        assert model(gd.evaluation.as_dataset(prob.train).tensors[0]).shape[0] == prob.n_train
    assert gd.make_problem("linear").f_star == pytest.approx(gd.make_problem("linear").train.min_loss)
    mlp = gd.make_problem("linear", model="mlp")
    # the least-squares minimum is the linear model's optimum only (an MLP can go below it):
    # no f*, neither on the problem nor on its data, where compare() would find it
    assert mlp.model_name == "mlp" and mlp.f_star is None
    assert gd.evaluation.dataset_f_star(mlp.train) is None and len(mlp.train) == 1000
    with pytest.raises(HyperparameterError, match="valid datasets"):
        gd.make_problem("cifar")
    with pytest.raises(HyperparameterError, match="two weights"):
        gd.make_problem("linear2d", model="mlp")


def test_a_preset_without_a_rate_runs_what_the_command_line_runs_for_the_same_spelling(tmp_path):
    # Catches gd.MiniBatch(128) at 0.1 while `--variants minibatch:128` ran at 0.2 (the rate at B=32,
    # scaled by the square-root rule): the same spelling gave two different runs.
    from tinygrad_mb import cli

    def cli_variants(*argv):
        args = cli.build_parser().parse_args(["compare", *argv, "--out", str(tmp_path / "o")])
        return cli._validate(args.subparser, args)["variants"]

    spec = "batch,sgd,minibatch:8,minibatch:32,minibatch:128,minibatch:999"
    presets = [gd.Batch(), gd.Stochastic(), gd.MiniBatch(8), gd.MiniBatch(), gd.MiniBatch(128), gd.MiniBatch(999)]
    assert [v.lr for v in presets] == [v.lr for v in cli_variants("--variants", spec)]
    assert gd.MiniBatch(128).lr == 0.2 and gd.MiniBatch(None).lr == gd.MiniBatch(1000).lr == gd.Batch().lr
    # on another dataset the problem gives its rates, as --dataset does
    digits = gd.make_problem("digits")
    assert digits.default_variants(spec) == cli_variants("--dataset", "digits", "--variants", spec)
    assert [v.lr for v in digits.default_variants("batch,minibatch:128")] == [1.0, 0.4]
