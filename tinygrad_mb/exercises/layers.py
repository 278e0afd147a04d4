"""Checkers for notebook 02, layers, losses and optimizers.

* :func:`check_linear_layer` -- a Linear layer class: y = x W^T + b, W of shape (out, in)
* :func:`check_mlp` -- a 64 -> 32 -> 10 multi-layer perceptron with a non-linearity
* :func:`check_cross_entropy` -- mean cross-entropy of logits and integer labels, numerically stable
* :func:`check_sgd_momentum` -- an optimizer class doing SGD with momentum
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_mb.backend import backend_of, to_backend, to_numpy
from tinygrad_mb.exercises._common import (ExerciseError, NotAttemptedError, as_array, backward_of, checker, compare,
                                           fail, passed, placeholder, returned_none, rtol_for, run, show_both)


def _module_parameters(model: Any, what: str) -> list[Any]:
    from tinygrad_mb.nn import Module  # noqa: PLC0415

    if isinstance(model, type) and issubclass(model, Module):  # check_mlp(MLP) for check_mlp(MLP())
        fail(f"{what} is the class {model.__name__}, not a model made from it",
             f"create one and pass that: {model.__name__}()")
    if not isinstance(model, Module):
        fail(f"{what} is a {type(model).__name__}, not an nn.Module",
             "subclass tinygrad_mb.nn.Module, call super().__init__() first, and assign Parameters as attributes")
    return list(model.parameters())


@checker
def check_linear_layer(cls: Any) -> None:
    """Check a class ``cls(in_features, out_features)`` that computes ``y = x W^T + b``.

    Requirements: a :class:`~tinygrad_mb.nn.Module` with two parameters, a weight
    of shape ``(out_features, in_features)`` (PyTorch's layout) and a bias of shape
    ``(out_features,)``; random weights of scale about ``1/sqrt(in_features)``
    (not all equal, not all zero); the right outputs and gradients for any batch size.
    """
    from tinygrad_mb.nn import Module  # noqa: PLC0415
    from tinygrad_mb.tensor import Tensor  # noqa: PLC0415

    if isinstance(cls, Module):  # check_linear_layer(Linear(5, 3)) for check_linear_layer(Linear)
        fail(f"got a layer, {type(cls).__name__}(...), where the checker wants the class itself",
             f"pass the class, check_linear_layer({type(cls).__name__}): the checker creates layers of several sizes")
    layer = run(cls, 5, 3, what="creating your layer as cls(5, 3)")
    params = _module_parameters(layer, "your layer")
    if len(params) != 2:
        fail(f"your layer has {len(params)} parameters; expected 2 (a weight and a bias)",
             "assign them as nn.Parameter attributes, e.g. self.weight = nn.Parameter(...)")
    weight = next((p for p in params if p.ndim == 2), None)
    bias = next((p for p in params if p.ndim == 1), None)
    if weight is None or bias is None:
        fail(f"expected a 2-D weight and a 1-D bias, got parameter shapes {[tuple(p.shape) for p in params]}")
    if tuple(weight.shape) != (3, 5):
        hint = "store W as (out_features, in_features), as PyTorch does" if tuple(weight.shape) == (5, 3) else None
        fail(f"for Linear(in_features=5, out_features=3) the weight has shape {tuple(weight.shape)}; "
             "expected (3, 5)", hint)
    if tuple(bias.shape) != (3,):
        fail(f"the bias has shape {tuple(bias.shape)}; expected (3,) (one per output)")

    wide = run(cls, 400, 50, what="creating your layer as cls(400, 50)")
    w = next(p for p in _module_parameters(wide, "your layer") if p.ndim == 2).numpy()
    std, target = float(w.std()), 1 / math.sqrt(400)
    if std == 0 or np.unique(w).size < w.size // 2:
        fail("the weights are all equal (or mostly repeated): every output unit would compute the same thing "
             "and receive the same gradient forever", "draw them at random, e.g. uniform in ±1/sqrt(in_features)")
    if not 0.2 * target <= std <= 3 * target:
        fail(f"for in_features=400 the weights have standard deviation {std:.3g}; expected about "
             f"1/sqrt(400) = {target:.3g}",
             "scale the random weights by 1/sqrt(in_features), so the outputs neither explode nor vanish "
             "as layers get wider")

    rng = np.random.default_rng(0)
    W = rng.standard_normal((3, 5)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    # on the parameters' backend: CuPy refuses a NumPy array written into its arrays
    weight.data[...] = to_backend(W, backend_of(weight.data))
    bias.data[...] = to_backend(b, backend_of(bias.data))
    for n in (1, 4):
        xs = rng.standard_normal((n, 5)).astype(np.float32)
        out = run(layer, Tensor(xs), what="your layer's forward")
        _not_a_tensor(out, "your layer's forward")
        if tuple(out.shape) != (n, 3):
            fail(f"for a batch of shape ({n}, 5) your layer returned shape {tuple(out.shape)}; expected ({n}, 3)",
                 "y = x @ W.T + b maps (N, in_features) to (N, out_features): one row of outputs per input row")
        compare(out.numpy(), xs @ W.T + b, f"output for a batch of {n}", rtol=1e-5, atol=1e-5,
                hint="y = x @ W.T + b")
    weight.grad = bias.grad = None
    xs = rng.standard_normal((4, 5)).astype(np.float32)
    backward_of(layer(Tensor(xs)), "your layer's output")
    if weight.grad is None or bias.grad is None:
        fail("after out.sum().backward() a parameter has no gradient: is the output computed from the "
             "Parameter tensors themselves (not copies of their .data)?")
    compare(weight.grad, np.ones((4, 3)).T @ xs, "weight gradient of out.sum()", rtol=1e-5, atol=1e-5)
    compare(bias.grad, np.full(3, 4.0), "bias gradient of out.sum() over a batch of 4", rtol=1e-5, atol=1e-5)
    passed("Linear layer: shapes (out, in) and (out,), initial scale ~1/sqrt(in), outputs and gradients right")


def _not_a_tensor(value: Any, what: str) -> None:
    """Fail when ``value`` is not a Tensor, saying why a Tensor is needed: gradients flow only through Tensors."""
    from tinygrad_mb.tensor import Tensor  # noqa: PLC0415

    returned_none(value, what)
    if not isinstance(value, Tensor):
        fail(f"{what} returned {type(value).__name__} ({_kind(value)}), not a Tensor",
             "keep the result a Tensor (no .numpy(), float() or NumPy functions): autograd records only Tensor "
             "operations, and loss.backward() needs them to compute the gradients that train the model")


def _kind(value: Any) -> str:
    shape = getattr(value, "shape", None)
    return f"shape {tuple(shape)}" if shape is not None else repr(value)[:40]


LOGITS_HINT = ("the model must output logits: the raw output of the last Linear (cross_entropy applies the "
               "softmax itself); the non-linearity goes between the layers")


def _check_outputs_are_logits(model: Any, params: list[Any]) -> None:
    """Fail unless the model's output is the raw output of its last Linear layer (logits).

    The test does not depend on the random initialisation: adding a vector
    delta to the bias of the last Linear adds exactly delta to logits, while a
    ReLU, softmax or tanh after that layer bends the shift.
    """
    from tinygrad_mb.backend import array_module  # noqa: PLC0415
    from tinygrad_mb.tensor import Tensor  # noqa: PLC0415

    x = Tensor(np.random.default_rng(5).standard_normal((64, 64)).astype(np.float32))
    out = as_array(run(model, x, what="your model's forward on a batch of shape (64, 64)"), "your model's output")
    if np.all(out >= 0) and np.allclose(out.sum(axis=1), 1.0, atol=1e-4):
        fail("your model outputs probabilities (every row is >= 0 and sums to 1): it ends with a softmax",
             LOGITS_HINT)
    biases = [p for p in params if p.size == 10]  # the bias of the Linear(32, 10): the only 10-number parameter
    if len(biases) != 1:
        return  # an unusual layout: the value checks above are all we can do
    bias = biases[0]
    saved = bias.data.copy()
    delta = np.linspace(-20.0, 20.0, 10)
    try:
        bias.data[...] = saved + array_module(saved).asarray(delta.reshape(bias.shape), dtype=saved.dtype)
        shifted = as_array(run(model, x, what="your model's forward"), "your model's output")
    finally:
        bias.data[...] = saved  # leave the student's model as it was
    if not np.allclose(shifted - out, delta, atol=1e-3):
        what = ("your model's outputs are never negative: something (a ReLU?) comes after the last Linear"
                if np.all(out >= 0) else
                "your model's output is not the raw output of its last Linear: adding delta to that layer's bias "
                "does not add delta to the outputs, so something is applied after it")
        fail(what, LOGITS_HINT)


@checker
def check_mlp(model: Any) -> None:
    """Check a model mapping (N, 64) digit images to (N, 10) logits through one hidden layer of 32 units.

    Requirements: an :class:`~tinygrad_mb.nn.Module`; 64*32 + 32 + 32*10 + 10 = 2410
    parameters; the output is the raw output of the last Linear (logits: no
    ReLU or softmax after it); not an affine map (there is a non-linearity
    between the layers); every parameter receives a gradient.
    """
    placeholder(model, "your model")
    params = _module_parameters(model, "your model")
    # A Dropout layer is random in training mode, which the value checks below would mistake for a wrong
    # model: check the function the model computes in eval mode, and leave every layer's mode as it was.
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        _check_mlp_in_eval_mode(model, params)
    finally:
        for module, mode in modes:
            module.training = mode


def _check_mlp_in_eval_mode(model: Any, params: list[Any]) -> None:
    from tinygrad_mb.tensor import Tensor  # noqa: PLC0415

    count = sum(int(p.size) for p in params)
    expected = 64 * 32 + 32 + 32 * 10 + 10
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (6, 64)).astype(np.float32)
    out = run(model, Tensor(x), what="your model's forward on a batch of shape (6, 64)")
    _not_a_tensor(out, "your model's forward")
    if tuple(out.shape) != (6, 10):
        fail(f"for input of shape (6, 64) your model returned shape {tuple(out.shape)}; "
             "expected a Tensor of shape (6, 10): one score (logit) per class")
    if count != expected:
        fail(f"your model has {count} parameters; a 64 -> 32 -> 10 MLP with biases has "
             f"64*32 + 32 + 32*10 + 10 = {expected}",
             "use exactly two Linear layers: Linear(64, 32) and Linear(32, 10)")
    _check_outputs_are_logits(model, params)
    x1, x2 = rng.uniform(0, 1, (2, 6, 64)).astype(np.float32)
    f = [model(Tensor(v)).numpy().astype(np.float64) for v in (x1, x2, x1 + x2, np.zeros_like(x1))]
    if np.allclose(f[2], f[0] + f[1] - f[3], rtol=1e-4, atol=1e-4):
        fail("your model is an affine map: f(a + b) = f(a) + f(b) - f(0) for all inputs, so two Linear layers "
             "are no better than one", "put a non-linearity such as nn.ReLU() or nn.Tanh() between the layers")
    for p in params:
        p.grad = None
    backward_of(model(Tensor(x)), "your model's output")
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    if missing:
        fail(f"parameters {missing} got no gradient from model(x).sum().backward()",
             "is every layer used in forward(), and built from Parameters (not copies of their .data)?")
    passed(f"MLP: (N, 64) -> (N, 10) logits, {expected} parameters, non-linear, gradients reach every parameter")


def _log_softmax(z: np.ndarray, axis: int) -> np.ndarray:
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _reference_cross_entropy(z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    logp = _log_softmax(z, axis=1)
    n = len(y)
    p = np.exp(logp)
    onehot = np.eye(z.shape[1])[y]
    return float(-logp[np.arange(n), y].mean()), (p - onehot) / n


@checker
def check_cross_entropy(fn: Callable[[Any, np.ndarray], Any]) -> None:
    """Check ``fn(logits, labels)``: the mean over the batch of ``-log softmax(logits)[label]``.

    ``logits`` is a float Tensor of shape (N, C), ``labels`` a NumPy int array of
    shape (N,). The result must be a one-element Tensor with the right value and
    gradient ``(softmax(logits) - onehot(labels)) / N``, also for logits in the
    thousands (where a naive ``exp`` overflows). A float32 result may be off in
    the 6th digit.
    """
    from tinygrad_mb.tensor import Tensor  # noqa: PLC0415

    rng = np.random.default_rng(2)
    cases = [("random logits of shape (5, 4)", rng.standard_normal((5, 4)) * 2, rng.integers(0, 4, 5)),
             ("a batch of one sample, 3 classes", np.array([[0.5, -1.0, 2.0]]), np.array([2])),
             ("large logits (around 1000)", rng.standard_normal((4, 3)) + np.array([1000.0, 990.0, 1005.0]),
              np.array([0, 1, 2, 0]))]
    for what, z, y in cases:
        logits = Tensor(z.copy(), requires_grad=True)
        out = run(fn, logits, y.copy(), what="your cross_entropy")
        _not_a_tensor(out, f"{what}: your cross_entropy")
        if out.size != 1:
            fail(f"{what}: expected a one-element Tensor (the mean loss), got shape {tuple(out.shape)}",
                 "average over the batch with .mean()")
        value, grad = _reference_cross_entropy(z, y)
        got = float(out.numpy().reshape(-1)[0])
        if not math.isfinite(got):
            fail(f"{what}: the loss is {got}", "exp(1000) overflows: subtract each row's maximum from the logits "
                 "before exponentiating (log-sum-exp trick); the result does not change")
        in_float32 = rtol_for(out, 0.0) > 0  # float32 (or float16): about 7 digits, fewer for the gradient
        rtol = rtol_for(out, 1e-6)
        if not np.isclose(got, value, rtol=rtol, atol=1e-9):
            wrong_axis = -_log_softmax(z, axis=0)[np.arange(len(y)), y].mean()
            every_pair = -_log_softmax(z, axis=1)[:, y].mean()  # logp[:, labels]: N x N values, not N
            hint = ("each sample's loss is log(sum_j exp(z_j)) - z_label: its row's log-sum-exp minus the logit "
                    "of its label; return the mean over the batch")
            if np.isclose(got, value * len(y), rtol=rtol):
                hint = "that is the sum over the batch; take the mean"
            elif np.isclose(got, -value, rtol=rtol):
                hint = "the sign: the loss is MINUS the log-probability of the right class"
            elif np.isclose(got, wrong_axis, rtol=rtol):
                hint = ("that normalises over the batch (axis=0); the softmax runs over the classes of each "
                        "sample: axis=1, along each row")
            elif np.isclose(got, every_pair, rtol=rtol):
                hint = ("log_p[:, labels] takes every sample's value at every label (an N x N block); take one "
                        "per sample, row i at column labels[i]: log_p[np.arange(N), labels]")
            shown_want, shown_got = show_both(value, got)
            fail(f"{what}: expected loss {shown_want}, got {shown_got}", hint)
        backward_of(out, f"the loss ({what})")
        if logits.grad is None:
            fail(f"{what}: logits.grad is None after backward: the loss is not computed from the logits Tensor")
        compare(logits.grad, grad, f"{what}: gradient with respect to the logits", rtol=rtol_for(out, 1e-5),
                atol=1e-6 if in_float32 else 1e-8, hint="it should be (softmax(logits) - onehot(labels)) / N")
    passed("cross-entropy: right values, right gradients, and stable for logits around 1000")


# --- check_sgd_momentum ---------------------------------------------------------------------------
#: Two parameters of different shapes, minimised on f = sum over them of 0.5 * sum(c * p^2) (gradient c * p).
_MOMENTUM_STARTS = (np.array([1.0, -2.0, 3.0]), np.array([[-1.0, 0.5], [2.0, -0.5]]))
_MOMENTUM_CURVATURES = (np.array([1.0, 4.0, 0.5]), np.array([[2.0, 0.25], [1.0, 3.0]]))
_MOMENTUM_STEPS = 5


def _momentum_trajectory(lr: float, mu: float, kind: str = "right") -> list[list[np.ndarray]]:
    """The parameters after each step of a right optimizer -- or of a typical wrong one, named by ``kind``:
    "plain" (no buffer) or "uphill" (p += lr * buf). (A moving average, buf = mu * buf + (1 - mu) * g, is
    the right optimizer with lr * (1 - mu).)"""
    params = [s.copy() for s in _MOMENTUM_STARTS]
    buffers: list[Any] = [None] * len(params)
    after_each_step = []
    for _ in range(_MOMENTUM_STEPS):
        for i, (p, c) in enumerate(zip(params, _MOMENTUM_CURVATURES)):
            g = c * p
            if kind == "plain":
                p -= lr * g
                continue
            buffers[i] = g.copy() if buffers[i] is None else mu * buffers[i] + g
            p += lr * buffers[i] if kind == "uphill" else -lr * buffers[i]
        after_each_step.append([p.copy() for p in params])
    return after_each_step


def _same_trajectory(got: list[list[np.ndarray]], want: list[list[np.ndarray]]) -> bool:
    return all(np.allclose(g, w, rtol=1e-5, atol=1e-6) for gs, ws in zip(got, want) for g, w in zip(gs, ws))


def _works_with_a_list(cls: Any, lr: float, mu: float) -> bool:
    """Does a fresh optimizer, given a list instead of an iterator, move the parameters on its first step and
    clear their gradients in the next zero_grad()? (If so, and not with an iterator, it kept the iterator.)"""
    from tinygrad_mb.tensor import Tensor  # noqa: PLC0415

    params = [Tensor(s.copy(), requires_grad=True) for s in _MOMENTUM_STARTS]
    try:
        opt = cls(list(params), lr, mu)
        opt.zero_grad()
        sum(0.5 * (p * p * Tensor(c)).sum() for p, c in zip(params, _MOMENTUM_CURVATURES)).backward()
        opt.step()
        moved = any(not np.allclose(p.numpy(), s) for p, s in zip(params, _MOMENTUM_STARTS))
        opt.zero_grad()
    except Exception:  # noqa: BLE001 -- only a probe for a hint
        return False
    return moved and all(p.grad is None or not np.any(to_numpy(p.grad)) for p in params)


def _constructs_from_a_list(cls: Any, lr: float, mu: float) -> bool:
    """Can ``cls`` be created from a list of parameters? (A probe for a hint: it failed with an iterator.)"""
    from tinygrad_mb.tensor import Tensor  # noqa: PLC0415

    try:
        cls([Tensor(s.copy(), requires_grad=True) for s in _MOMENTUM_STARTS], lr, mu)
    except Exception:  # noqa: BLE001 -- only a probe for a hint
        return False
    return True


#: The hint for an optimizer that stored the iterator it was given and so sees the parameters only once.
KEPT_ITERATOR_HINT = ("it works when given a list, but model.parameters() gives an iterator, which is used up "
                      "after one loop: keep self.params = list(params) in __init__")


def _momentum_hint(cls: Any, got: list[list[np.ndarray]], lr: float, mu: float) -> str:
    """Name the mistake when the student's whole trajectory matches a typical wrong optimizer's."""
    if all(np.allclose(g, s) for g, s in zip(got[0], _MOMENTUM_STARTS)):
        if _works_with_a_list(cls, lr, mu):
            return f"the parameters did not move on step 1; {KEPT_ITERATOR_HINT}"
        return "the parameters did not move on step 1: the first step already moves them, with buf = g"
    if _same_trajectory(got, _momentum_trajectory(lr, mu, "plain")):
        return "that is a plain SGD step: keep a momentum buffer per parameter and update it every step"
    if _same_trajectory(got, _momentum_trajectory(lr, mu, "uphill")):
        return "the parameters went uphill: subtract the step, p -= lr * buf"
    first_step = np.concatenate([(g - s).ravel() for g, s in zip(got[0], _MOMENTUM_STARTS)])
    right_step = np.concatenate([(w - s).ravel() for w, s in zip(_momentum_trajectory(lr, mu)[0], _MOMENTUM_STARTS)])
    scale = float(first_step @ right_step / (right_step @ right_step))
    if scale > 0 and _same_trajectory(got, _momentum_trajectory(lr * scale, mu)):
        if np.isclose(scale, 1 - mu):  # a moving average of the gradients: the same as a smaller lr
            return (f"every step is 1 - momentum = {scale:.3g} times the right size: buf = momentum * buf + g "
                    "adds the whole gradient (with (1 - momentum) * g it is a moving average); use the lr given")
        return f"every step is {scale:.3g} times the right size: use the lr given to the constructor"
    return "the update, per parameter: buf = g on the first step, then buf = momentum * buf + g; p -= lr * buf"


@checker
def check_sgd_momentum(cls: Any) -> None:
    """Check an optimizer class ``cls(params, lr, momentum)`` with ``step()`` and ``zero_grad()``.

    The update (PyTorch's), for each parameter with its own buffer: ``buf = g``
    on the first step, then ``buf = momentum * buf + g``; and ``p = p - lr * buf``.
    ``params`` may be an iterator (``model.parameters()`` is one); ``step`` must
    not change ``p.grad``; ``zero_grad`` must clear it (to None or zeros).
    Checked on two parameters of different shapes over 5 steps.
    """
    from tinygrad_mb.tensor import Tensor  # noqa: PLC0415

    lr, mu = 0.1, 0.9
    params = [Tensor(s.copy(), requires_grad=True) for s in _MOMENTUM_STARTS]
    # An iterator, as model.parameters() gives: the optimizer must keep its own list.
    try:
        opt = run(cls, iter(params), lr, mu,
                  what="creating your optimizer as cls(iter([w, M]), lr=0.1, momentum=0.9)")
    except NotAttemptedError:
        raise
    except ExerciseError as exc:
        if not _constructs_from_a_list(cls, lr, mu):
            raise
        fail(str(exc).removeprefix("✗ "), "it works when given a list, but model.parameters() gives an iterator, "
             "which has no len() and is used up after one loop: start __init__ with self.params = list(params)")
    for name in ("zero_grad", "step"):
        if not callable(getattr(opt, name, None)):
            fail(f"your optimizer has no method {name}()")
    got = []
    for _ in range(_MOMENTUM_STEPS):
        run(opt.zero_grad, what="zero_grad()")
        for p in params:
            if p.grad is not None and np.any(to_numpy(p.grad) != 0):
                fail(f"after zero_grad() the gradient is still {to_numpy(p.grad)} (parameter of shape {p.shape})",
                     KEPT_ITERATOR_HINT if _works_with_a_list(cls, lr, mu)
                     else "set p.grad = None (or zeros) for every p")
        sum(0.5 * (p * p * Tensor(c)).sum() for p, c in zip(params, _MOMENTUM_CURVATURES)).backward()
        grads_before = [to_numpy(p.grad).copy() for p in params]  # on the host: works on either backend
        try:
            run(opt.step, what="step()")
        except NotAttemptedError:
            raise
        except ExerciseError as exc:
            shapes = "shape" in str(exc) or "broadcast" in str(exc)
            fail(str(exc).removeprefix("✗ "), "each parameter needs its own momentum buffer, of its own shape "
                 "(e.g. a list with one buffer per parameter)" if shapes else None)
        for p, before in zip(params, grads_before):
            if p.grad is None or not np.array_equal(to_numpy(p.grad), before):
                fail("step() changed p.grad", "read the gradient, never modify it in place (e.g. no p.grad *= ...)")
        got.append([np.array(p.numpy(), dtype=np.float64) for p in params])  # a copy: step() works in place
    want = _momentum_trajectory(lr, mu)
    for k, (got_k, want_k) in enumerate(zip(got, want), start=1):
        for i, (g, w) in enumerate(zip(got_k, want_k)):
            if not np.allclose(g, w, rtol=1e-5, atol=1e-6):
                shown_w, shown_g = show_both(np.where(abs(w) < 1e-12, 0.0, w), g)  # 0, not 2.2e-16
                fail(f"after step {k} on f = 0.5 * sum(c * p^2) over two parameters, parameter {i + 1} of shape "
                     f"{w.shape} (starting at {_MOMENTUM_STARTS[i].tolist()}): expected {shown_w}, got {shown_g}",
                     _momentum_hint(cls, got, lr, mu))
    passed("SGD with momentum: 5 steps on two parameters match buf = momentum * buf + g, p -= lr * buf; "
           "p.grad left untouched")
