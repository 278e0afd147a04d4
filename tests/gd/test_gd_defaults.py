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
