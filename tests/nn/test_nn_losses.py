"""Losses: values against NumPy, gradcheck, reductions, stability, and the label checks."""

import numpy as np
import pytest

import tinygrad_mb as tg
import tinygrad_mb.nn.functional as F
from tinygrad_mb import nn
from tinygrad_mb.errors import HyperparameterError, LabelError, ShapeError

RNG = np.random.default_rng(5)


def reduce(losses, reduction):
    return {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]


REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse(reduction):
    pred = tg.Tensor(RNG.standard_normal((4, 3)), requires_grad=True)
    target = RNG.standard_normal((4, 3))
    out = F.mse_loss(pred, target, reduction)
    np.testing.assert_allclose(out.data, reduce((pred.numpy() - target) ** 2, reduction), rtol=1e-12)
    np.testing.assert_allclose(nn.MSELoss(reduction)(pred, target).data, out.data)
    assert tg.gradcheck(lambda p: F.mse_loss(p, target, reduction), pred)
    t = tg.Tensor(target, requires_grad=True)
    assert tg.gradcheck(lambda p, t: F.mse_loss(p, t, reduction), pred, t)


def test_mse_rejects_shapes_that_would_broadcast():
    with pytest.raises(ShapeError, match="reshape"):
        F.mse_loss(tg.Tensor(np.zeros((5, 1))), np.zeros(5))


def test_mse_shape_errors_say_what_is_probably_wrong():
    with pytest.raises(ShapeError, match="gives 2 output.*targets have 1; give the last layer out_features=1"):
        F.mse_loss(tg.Tensor(np.zeros((5, 2))), np.zeros((5, 1)))
    with pytest.raises(ShapeError, match="integer class labels: for classification use nn.functional.cross_entropy"):
        F.mse_loss(tg.Tensor(np.zeros((5, 3))), np.array([0, 1, 2, 0, 1]))
    with pytest.raises(ShapeError, match="reshape one of them"):  # float targets of another length: no guess
        F.mse_loss(tg.Tensor(np.zeros((5, 3))), np.zeros(5))


def test_cross_entropy_on_a_one_output_model_with_real_targets_points_to_mse():
    with pytest.raises(LabelError, match=r"must be integers; got float32.*regression\) use mse_loss"):
        F.cross_entropy(tg.Tensor(np.zeros((3, 1))), np.zeros((3, 1), np.float32))


def test_mse_casts_integer_targets_to_the_prediction_dtype():
    pred = tg.Tensor(np.zeros(3, np.float32))
    assert F.mse_loss(pred, np.array([1, 2, 3])).dtype == np.float32


def ce_reference(z, y):
    m = z.max(axis=1, keepdims=True)
    logsumexp = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
    return logsumexp - z[np.arange(len(y)), y]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy(reduction):
    z = tg.Tensor(RNG.standard_normal((6, 4)), requires_grad=True)
    y = np.array([0, 3, 1, 1, 2, 3])
    out = F.cross_entropy(z, y, reduction)
    np.testing.assert_allclose(out.data, reduce(ce_reference(z.numpy(), y), reduction), rtol=1e-12)
    np.testing.assert_allclose(nn.CrossEntropyLoss(reduction)(z, y).data, out.data)
    assert tg.gradcheck(lambda z: F.cross_entropy(z, y, reduction), z)


@pytest.mark.parametrize("layout", ["column-major", "transposed view"])
def test_cross_entropy_of_logits_in_any_memory_layout(layout):
    # The loss picks z_i[y_i] with flat indices; they must count elements row by row
    # even when the logits (and so the softmax in backward) are not stored that way.
    values = RNG.standard_normal((5, 3))
    y = np.array([2, 0, 1, 2, 0])
    if layout == "column-major":
        leaf = tg.Tensor(np.asfortranarray(values), requires_grad=True)
        z = leaf
    else:
        leaf = tg.Tensor(np.ascontiguousarray(values.T), requires_grad=True)
        z = leaf.T  # a (5, 3) view of a (3, 5) array
    assert not z.data.flags.c_contiguous
    loss = F.cross_entropy(z, y)
    loss.backward()
    reference = tg.Tensor(np.ascontiguousarray(values), requires_grad=True)
    F.cross_entropy(reference, y).backward()
    np.testing.assert_allclose(loss.data, ce_reference(values, y).mean(), rtol=1e-12)
    grad = leaf.grad if layout == "column-major" else leaf.grad.T
    np.testing.assert_allclose(grad, reference.grad, rtol=1e-12)
    assert tg.gradcheck(lambda z: F.cross_entropy(z, y), tg.Tensor(np.asfortranarray(values), requires_grad=True))


def test_cross_entropy_accepts_tensors_lists_and_small_int_types_and_is_stable():
    z = tg.Tensor(np.array([[1000.0, 0.0], [0.0, -1000.0]]))
    for y in ([0, 1], np.array([0, 1], np.uint8), np.array([0, 1], np.uint64), np.array([0, 1], np.int8),
              tg.Tensor(np.array([0, 1]))):
        loss = F.cross_entropy(z, y, "none")
        np.testing.assert_allclose(loss.data, [0.0, 1000.0])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_of_log_softmax_is_cross_entropy_with_the_same_gradient(reduction):
    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, 4)) * 3
    y = np.array([0, 3, 1, 1, 2, 0])
    two_ops = tg.Tensor(z, requires_grad=True)
    fused = tg.Tensor(z, requires_grad=True)
    a = F.nll_loss(F.log_softmax(two_ops, dim=1), y, reduction)
    b = F.cross_entropy(fused, y, reduction)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    a.sum().backward()
    b.sum().backward()
    np.testing.assert_allclose(two_ops.grad, fused.grad, rtol=1e-10, atol=1e-15)
    module = nn.Sequential(nn.LogSoftmax(dim=1))
    np.testing.assert_allclose(nn.NLLLoss(reduction)(module(tg.Tensor(z)), y).numpy(), b.numpy(), rtol=1e-12)


def test_nll_loss_checks_its_labels_and_input_under_its_own_name():
    logp = tg.Tensor(np.log(np.full((3, 4), 0.25)))
    with pytest.raises(LabelError, match=r"nll_loss: labels must lie in \[0, 4\).*subtract 1"):
        F.nll_loss(logp, np.array([1, 4, 2]))
    for bad in (np.zeros(4), np.float64(0.0)):  # 1-D and 0-d: said before any indexing
        with pytest.raises(ShapeError, match=r"nll_loss: log-probabilities must be \(N, C\)"):
            F.nll_loss(tg.Tensor(bad), np.array([1]))
        with pytest.raises(ShapeError, match=r"cross_entropy: logits must be \(N, C\)"):
            F.cross_entropy(tg.Tensor(bad), np.array([1]))
    with pytest.raises(HyperparameterError, match="NLLLoss: reduction"):
        nn.NLLLoss("avg")


def test_cross_entropy_of_uniform_logits_is_log_c():
    assert F.cross_entropy(tg.Tensor(np.zeros((3, 10))), [1, 2, 3]).item() == pytest.approx(np.log(10))


@pytest.mark.parametrize(
    ("labels", "pattern"),
    [
        (np.array([0.0, 1.0, 2.0]), "labels must be integers; got float64 — use y.astype\\(int\\)"),
        (np.array([True, False, True]), "labels must be integers; got bool"),
        (np.eye(3, 4), "one-hot.*argmax"),
        (np.zeros((3, 1)), "labels must be integers; got float64"),  # one column: regression targets, not one-hot
        (np.array([[0], [1], [2]]), "shape \\(N,\\) = \\(3,\\).*\\(3, 1\\).*reshape"),
        (np.array([0, 1]), "shape \\(N,\\) = \\(3,\\)"),
        (np.array([0, 4, 1]), "\\[0, 4\\).*from 0 to 4"),
        (np.array([1, 4, 2]), "subtract 1"),
        (np.array([-1, 0, 1]), "from -1 to 1"),
        (np.array([0, -128, 1], np.int8), "from -128 to 1"),  # the range check reads labels as unsigned:
        (np.array([0, 2, -1], np.int32), "from -1 to 2"),  # every integer width must still catch negatives
        (np.array([0, 1, 2**40], np.int64), "from 0 to 1099511627776"),
        (np.array([0, 1, 200], np.uint8), "from 0 to 200"),
        (np.array([0, 9, -3, 9, 1, 9], np.int16)[::2], "from -3 to 1"),  # a strided view
    ],
)
@pytest.mark.parametrize("loss", [F.cross_entropy, tg.cross_entropy], ids=["F", "ops"])
def test_cross_entropy_label_errors(labels, pattern, loss):
    # The fused op checks too: ops.cross_entropy picks z[i, y_i] by the flat index
    # i * C + y_i, where a bad label would silently pick an entry of another row.
    z = tg.Tensor(np.zeros((3, 4)), requires_grad=True)
    with pytest.raises(LabelError, match=pattern):
        loss(z, labels)


@pytest.mark.parametrize("dtype", [np.int8, np.int16])
def test_cross_entropy_catches_negative_labels_when_there_are_more_classes_than_the_type_counts(dtype):
    # Read as unsigned, int8's -1 is 255: a valid class when there are 300.
    classes = int(np.iinfo(dtype).max) + 172
    z = tg.Tensor(np.zeros((3, classes)))
    with pytest.raises(LabelError, match="from -1 to 5"):
        F.cross_entropy(z, np.array([0, -1, 5], dtype))
    top = np.array([0, np.iinfo(dtype).max, 5], dtype)  # the largest label the type holds is fine
    assert F.cross_entropy(z, top).item() == pytest.approx(np.log(classes))


def test_cross_entropy_needs_2d_logits_and_a_valid_reduction():
    with pytest.raises(ShapeError, match="\\(N, C\\)"):
        F.cross_entropy(tg.Tensor(np.zeros(4)), np.array([0]))
    with pytest.raises(HyperparameterError, match="reduction"):
        F.cross_entropy(tg.Tensor(np.zeros((1, 4))), np.array([0]), reduction="avg")
    with pytest.raises(HyperparameterError, match="reduction"):
        nn.CrossEntropyLoss(reduction="avg")
    # the fused ops themselves check as well (they used to take any other string for "mean")
    with pytest.raises(ShapeError, match="\\(N, C\\)"):
        tg.cross_entropy(tg.Tensor(np.zeros((2, 2, 4))), np.array([0, 1]))
    with pytest.raises(HyperparameterError, match="reduction"):
        tg.cross_entropy(tg.Tensor(np.zeros((1, 4))), np.array([0]), reduction="avg")
    with pytest.raises(HyperparameterError, match="reduction"):
        tg.mse_loss(tg.Tensor(np.zeros(4)), np.zeros(4), reduction="avg")


def bce_reference(x, y):
    p = 1 / (1 + np.exp(-x))
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits(reduction):
    x = tg.Tensor(RNG.standard_normal((5, 2)) * 3, requires_grad=True)
    y = RNG.random((5, 2))  # soft targets are allowed
    out = F.binary_cross_entropy_with_logits(x, y, reduction)
    np.testing.assert_allclose(out.data, reduce(bce_reference(x.numpy(), y), reduction), rtol=1e-10)
    np.testing.assert_allclose(nn.BCEWithLogitsLoss(reduction)(x, y).data, out.data)
    assert tg.gradcheck(lambda x: F.binary_cross_entropy_with_logits(x, y, reduction), x)
    t = tg.Tensor(y, requires_grad=True)
    assert tg.gradcheck(lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction), x, t)


def test_bce_with_logits_is_stable_and_exact_at_zero():
    x = tg.Tensor(np.array([-1000.0, 1000.0, 0.0]), requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, np.array([1, 0, 1]), "none")  # integer labels are fine
    np.testing.assert_allclose(loss.data, [1000.0, 1000.0, np.log(2)])
    loss.sum().backward()
    np.testing.assert_allclose(x.grad, [-1.0, 1.0, -0.5])  # sigmoid(x) - y, also at x = 0


def test_bce_errors():
    with pytest.raises(ShapeError, match="reshape"):
        F.binary_cross_entropy_with_logits(tg.Tensor(np.zeros((4, 1))), np.zeros(4))
    with pytest.raises(LabelError, match="\\[0, 1\\].*\\(y \\+ 1\\) / 2"):
        F.binary_cross_entropy_with_logits(tg.Tensor(np.zeros(3)), np.array([-1.0, 1.0, 1.0]))
    with pytest.raises(LabelError, match="\\[0, 1\\]"):  # above 1 too, not only below 0
        F.binary_cross_entropy_with_logits(tg.Tensor(np.zeros(3)), np.array([0.0, 1.0, 2.0]))


def test_losses_on_backend(backend_name, on_backend):
    z = tg.Tensor(on_backend(RNG.standard_normal((4, 3))), requires_grad=True, backend=backend_name)
    y = np.array([0, 2, 1, 2])  # NumPy labels are moved to the logits' backend
    loss = F.cross_entropy(z, y)
    loss.backward()
    assert loss.backend == backend_name and z.grad is not None
    np.testing.assert_allclose(float(loss.item()), ce_reference(z.numpy(), y).mean(), rtol=1e-12)
    bce = F.binary_cross_entropy_with_logits(z, (z.numpy() > 0).astype(float))
    mse = F.mse_loss(z, np.zeros((4, 3)))
    assert bce.backend == mse.backend == backend_name


# --- found by mutation testing ------------------------------------------------------------------
def test_mse_casts_float64_targets_to_a_float32_prediction_and_keeps_the_target_gradient_float64():
    pred = tg.Tensor(np.array([1.0, 2.0, 3.0], np.float32), requires_grad=True)
    assert F.mse_loss(pred, np.array([0.0, 0.0, 1.0])).dtype == np.float32  # a float64 array
    t = tg.Tensor(np.array([0.0, 0.0, 1.0]), requires_grad=True)  # a float64 tensor that learns
    loss = F.mse_loss(pred, t, "sum")
    assert loss.dtype == np.float32 and float(loss.item()) == 9.0
    loss.backward()
    assert pred.grad.dtype == np.float32 and t.grad.dtype == np.float64
    np.testing.assert_allclose(t.grad, [-2.0, -4.0, -4.0])  # -2 (p - t)


def test_mse_hint_for_integer_targets_depends_on_the_number_of_outputs():
    # (N, 1) predictions with N integer targets: a reshape, not a classification problem
    with pytest.raises(ShapeError, match="reshape") as info:
        F.mse_loss(tg.Tensor(np.zeros((4, 1))), np.array([0, 1, 0, 1]))
    assert "cross_entropy" not in str(info.value)
    # (1, 3) predictions with one integer label: class scores, so point to cross_entropy
    with pytest.raises(ShapeError, match="cross_entropy"):
        F.mse_loss(tg.Tensor(np.zeros((1, 3))), np.array([2]))


def test_bce_casts_a_learnable_float64_target_to_float32_logits():
    x = tg.Tensor(np.array([0.5, -1.0], np.float32), requires_grad=True)
    t = tg.Tensor(np.array([1.0, 0.25]), requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, t, "sum")
    assert loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == np.float32 and t.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad, 1 / (1 + np.exp(-np.array([0.5, -1.0]))) - [1.0, 0.25], rtol=1e-6)
    np.testing.assert_allclose(t.grad, [-0.5, 1.0])  # dL/dy = -x


def test_a_loss_module_shows_its_reduction():
    # found by mutation testing: extra_repr was not checked
    assert repr(nn.MSELoss("sum")) == "MSELoss(reduction='sum')"


def test_class_weights_given_as_third_positional_argument_get_a_message_not_numpys():
    """F.cross_entropy(z, y, w) is PyTorch's weight=; here the third argument is the reduction."""
    z, y = tg.Tensor(np.zeros((2, 3), np.float32)), np.array([0, 2])
    for loss in (F.cross_entropy, F.nll_loss):
        with pytest.raises(HyperparameterError, match=r"got an object of type ndarray; the third positional"):
            loss(z, y, np.ones(3, np.float32))
