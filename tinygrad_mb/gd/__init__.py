"""Batch, stochastic and mini-batch gradient descent, side by side.

    from tinygrad_mb import gd

    prob = gd.make_problem("linear")                 # data, model, loss, f*
    variants = [gd.Batch(0.5), gd.Stochastic(0.01), gd.MiniBatch(32, 0.1)]
    cmp = gd.compare(prob.model_fn, prob.loss_fn, prob.train, variants, epochs=10, seeds=[0, 1, 2])
    print(cmp.summary())
    cmp.plot(x="all")                                # loss vs epochs, updates, samples, seconds

* :mod:`~tinygrad_mb.gd.variants`  -- ``Variant`` and its presets ``Batch``, ``Stochastic``, ``MiniBatch``;
  ``scale_lr`` (linear / square-root rules)
* :mod:`~tinygrad_mb.gd.trainer`   -- ``train``: the ONE loop, returning a ``History``
* :mod:`~tinygrad_mb.gd.compare`   -- ``compare``: same start, same data, same evaluation grid
* :mod:`~tinygrad_mb.gd.noise`     -- ``gradient_noise``: variance of g_B vs B, noise scale
* :mod:`~tinygrad_mb.gd.trajectories` -- paths on the loss contours of a 2-parameter problem
* :mod:`~tinygrad_mb.gd.sweep`     -- best learning rate and steps-to-target per batch size
* :mod:`~tinygrad_mb.gd.problems`  -- the default datasets and models
* :mod:`~tinygrad_mb.gd.compare_plot` -- the comparison figure (four x-axes, divergence marks)
* :mod:`~tinygrad_mb.gd.plots`     -- shared figure helpers and the noise figure (matplotlib only when drawing)
"""

from tinygrad_mb.gd.compare import Comparison, Summary, compare
from tinygrad_mb.gd.history import History
from tinygrad_mb.gd.noise import NoiseResult, full_gradient, gradient_noise, minibatch_gradients
from tinygrad_mb.gd.problems import DATASETS, MODELS, Problem, make_model, make_problem
from tinygrad_mb.gd.sweep import SweepResult, sweep
from tinygrad_mb.gd.trainer import make_optimizer, train
from tinygrad_mb.gd.trajectories import TrajectoryResult, trajectories
from tinygrad_mb.gd.variants import (
    DEFAULT_LRS, Batch, MiniBatch, Stochastic, Variant, default_lr, parse_variants, scale_lr,
)

__all__ = [
    "Variant", "Batch", "Stochastic", "MiniBatch", "scale_lr", "default_lr", "parse_variants", "DEFAULT_LRS",
    "train", "History", "make_optimizer", "compare", "Comparison", "Summary",
    "gradient_noise", "NoiseResult", "full_gradient", "minibatch_gradients",
    "trajectories", "TrajectoryResult", "sweep", "SweepResult",
    "make_problem", "make_model", "Problem", "DATASETS", "MODELS",
]
