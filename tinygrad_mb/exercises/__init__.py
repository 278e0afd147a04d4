"""Checkers for the notebooks' exercises: run one on your answer to see what is wrong.

Every checker runs your answer on inputs where the right result is known. It
prints a line starting with ✓ when all is well; otherwise it raises
:class:`ExerciseError` saying which input failed, what was expected and what
came back, often with a hint. For example::

    from tinygrad_mb.exercises import check_sigmoid_derivative
    check_sigmoid_derivative(lambda x: 1 / (1 + np.exp(-x)))
    # ExerciseError: ✗ at x = -8: expected sigma'(x) = 0.000335238, got 0.00033535
    #   Hint: that is sigma(x) itself; the derivative is sigma(x) * (1 - sigma(x))

In the notebooks in ``notebooks/``, every answer cell starts as a stub: a
function or method that raises ``NotImplementedError``, or the placeholder
``...`` where a value goes. A checker given a stub does not raise; it prints a
line starting with ○ and returns, so a notebook runs top to bottom before any
answer is written::

    check_sigmoid_derivative(sigmoid_derivative)  # still raises NotImplementedError
    # ○ not attempted yet: write your answer in the cell above and rerun this cell

Worked answers are in ``notebooks/solutions/``: the same notebooks with every
answer filled in, where every checker prints ✓.

=====================================  ===================================================
notebook                               checkers
=====================================  ===================================================
01 tensors and autograd                check_sigmoid_derivative, check_chain_rule, check_softplus
02 layers, losses and optimizers       check_linear_layer, check_mlp, check_cross_entropy, check_sgd_momentum
03 batch vs stochastic vs mini-batch   check_updates_per_epoch, check_axis_reading, check_training_loop
04 gradient noise                      check_noise_theory, check_noise_scale, check_batch_for_noise
05 learning rate and batch size        check_stable_lr, check_lr_for_batch_size, check_warmup_cosine
06 testing gradients with hypothesis   check_softsign_op, check_property_test, check_fixed_logcosh
07 the GPU with CuPy                   check_timer, check_crossover
=====================================  ===================================================
"""

from tinygrad_mb.exercises._common import ExerciseError
from tinygrad_mb.exercises.autograd import check_chain_rule, check_sigmoid_derivative, check_softplus
from tinygrad_mb.exercises.comparing import check_axis_reading, check_training_loop, check_updates_per_epoch
from tinygrad_mb.exercises.gpu import check_crossover, check_timer
from tinygrad_mb.exercises.layers import check_cross_entropy, check_linear_layer, check_mlp, check_sgd_momentum
from tinygrad_mb.exercises.learning_rate import check_lr_for_batch_size, check_stable_lr, check_warmup_cosine
from tinygrad_mb.exercises.noise import check_batch_for_noise, check_noise_scale, check_noise_theory
from tinygrad_mb.exercises.testing_ops import check_fixed_logcosh, check_property_test, check_softsign_op

__all__ = [
    "ExerciseError",
    "check_sigmoid_derivative", "check_chain_rule", "check_softplus",
    "check_linear_layer", "check_mlp", "check_cross_entropy", "check_sgd_momentum",
    "check_updates_per_epoch", "check_axis_reading", "check_training_loop",
    "check_noise_theory", "check_noise_scale", "check_batch_for_noise",
    "check_stable_lr", "check_lr_for_batch_size", "check_warmup_cosine",
    "check_softsign_op", "check_property_test", "check_fixed_logcosh",
    "check_timer", "check_crossover",
]
