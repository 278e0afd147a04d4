"""Initialisers: formulas for the scale, seeding, and in-place filling on any dtype/backend."""

import math

import numpy as np
import pytest

import tinygrad_mb as tg
from tinygrad_mb import nn
from tinygrad_mb.errors import HyperparameterError
from tinygrad_mb.nn import init


def empty(*shape, dtype="float32", backend=None):
    return nn.Parameter(np.zeros(shape, dtype=dtype), backend=backend)


def test_fans():
    assert init.calculate_fan_in_and_fan_out((30, 20)) == (20, 30)
    assert init.calculate_fan_in_and_fan_out((8, 3, 5, 5)) == (75, 200)
    with pytest.raises(HyperparameterError, match="at least 2"):
        init.calculate_fan_in_and_fan_out((5,))


def test_gains():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("selu") == 0.75  # PyTorch's value (self-normalising networks)
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))  # slope 0.01, not 0
    for name in ("identity", "conv1d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"):
        assert init.calculate_gain(name) == 1  # as PyTorch
    with pytest.raises(HyperparameterError, match="unknown nonlinearity.*valid: linear, identity, .*conv2d.*selu"):
        init.calculate_gain("swish")


def test_constant_fills():
    t = empty(3, 4)
    assert init.ones_(t) is t and np.all(t.data == 1)
    assert np.all(init.zeros_(t).data == 0)
    assert np.all(init.constant_(t, 2.5).data == 2.5)


@pytest.mark.parametrize(
    ("fill", "expected_std"),
    [
        (lambda t, s: init.uniform_(t, -2, 2, seed=s), 4 / math.sqrt(12)),
        (lambda t, s: init.normal_(t, 0, 0.3, seed=s), 0.3),
        (lambda t, s: init.xavier_uniform_(t, seed=s), math.sqrt(2 / (200 + 300))),
        (lambda t, s: init.xavier_normal_(t, gain=2.0, seed=s), 2 * math.sqrt(2 / (200 + 300))),
        (lambda t, s: init.kaiming_uniform_(t, nonlinearity="relu", seed=s), math.sqrt(2 / 200)),
        (lambda t, s: init.kaiming_normal_(t, nonlinearity="relu", seed=s), math.sqrt(2 / 200)),
        (lambda t, s: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu", seed=s), math.sqrt(2 / 300)),
        (lambda t, s: init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu", seed=s), math.sqrt(2 / 300)),
        (lambda t, s: init.kaiming_uniform_(t, a=math.sqrt(5), seed=s), 1 / math.sqrt(200) / math.sqrt(3)),
    ],
)
def test_random_initialisers_have_the_right_scale_and_are_seeded(fill, expected_std):
    t = empty(300, 200)  # (fan_out, fan_in) = (300, 200)
    fill(t, 0)
    assert t.numpy().std() == pytest.approx(expected_std, rel=0.02)
    assert t.data.dtype == np.float32
    again = empty(300, 200)
    fill(again, 0)
    np.testing.assert_array_equal(t.data, again.data)
    fill(again, 1)
    assert not np.array_equal(t.data, again.data)


def test_uniform_bounds_and_generator_argument():
    t = init.kaiming_uniform_(empty(50, 40, dtype="float64"), a=math.sqrt(5), seed=np.random.default_rng(3))
    assert np.abs(t.data).max() <= 1 / math.sqrt(40)
    assert t.data.dtype == np.float64


def test_init_does_not_touch_global_numpy_state():
    np.random.seed(0)
    expected = np.random.random()
    np.random.seed(0)
    init.normal_(empty(10, 10), seed=None)
    nn.Linear(5, 5)
    assert np.random.random() == expected


def test_bad_arguments():
    with pytest.raises(HyperparameterError, match="mode"):
        init.kaiming_normal_(empty(3, 3), mode="fan_middle")
    with pytest.raises(HyperparameterError, match="std"):
        init.normal_(empty(3, 3), std=-1)


def test_same_values_on_every_backend(backend_name):
    t = init.xavier_normal_(empty(6, 5, backend=backend_name), seed=4)
    ref = init.xavier_normal_(empty(6, 5), seed=4)
    assert t.backend == backend_name
    np.testing.assert_array_equal(tg.backend.to_numpy(t.data), ref.data)
