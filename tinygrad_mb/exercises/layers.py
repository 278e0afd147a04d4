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

from tinygrad_mb.backend import to_numpy
from tinygrad_mb.exercises._common import backward_of, checker, compare, fail, passed, placeholder, run


def _module_parameters(model: Any, what: str) -> list[Any]:
    from tinygrad_mb.nn import Module  # noqa: PLC0415

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
    from tinygrad_mb.tensor import Tensor  # noqa: PLC0415

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
    weight.data[...] = W
    bias.data[...] = b
    for n in (1, 4):
        xs = rng.standard_normal((n, 5)).astype(np.float32)
        out = run(layer, Tensor(xs), what="your layer's forward")
        if not isinstance(out, Tensor):
            fail(f"the forward pass returned {type(out).__name__}, not a Tensor")
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


@checker
def check_mlp(model: Any) -> None:
    """Check a model mapping (N, 64) digit images to (N, 10) logits through one hidden layer of 32 units.

    Requirements: an :class:`~tinygrad_mb.nn.Module`; 64*32 + 32 + 32*10 + 10 = 2410
    parameters; not an affine map (there is a non-linearity between the layers);
    every parameter receives a gradient.
    """
    from tinygrad_mb.tensor import Tensor  # noqa: PLC0415

    placeholder(model, "your model")
    params = _module_parameters(model, "your model")
    count = sum(int(p.size) for p in params)
    expected = 64 * 32 + 32 + 32 * 10 + 10
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (6, 64)).astype(np.float32)
    out = run(model, Tensor(x), what="your model's forward on a batch of shape (6, 64)")
    if not isinstance(out, Tensor) or tuple(out.shape) != (6, 10):
        fail(f"for input of shape (6, 64) your model returned {getattr(out, 'shape', type(out).__name__)}; "
             "expected a Tensor of shape (6, 10): one score (logit) per class")
    if count != expected:
        fail(f"your model has {count} parameters; a 64 -> 32 -> 10 MLP with biases has "
             f"64*32 + 32 + 32*10 + 10 = {expected}",
             "use exactly two Linear layers: Linear(64, 32) and Linear(32, 10)")
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
    passed(f"MLP: (N, 64) -> (N, 10), {expected} parameters, non-linear, gradients reach every parameter")


def _reference_cross_entropy(z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    shifted = z - z.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
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
    thousands (where a naive ``exp`` overflows).
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
        if not isinstance(out, Tensor) or out.size != 1:
            fail(f"{what}: expected a one-element Tensor (the mean loss), got "
                 f"{getattr(out, 'shape', type(out).__name__)}", "average over the batch with .mean()")
        value, grad = _reference_cross_entropy(z, y)
        got = float(out.numpy().reshape(-1)[0])
        if not math.isfinite(got):
            fail(f"{what}: the loss is {got}", "exp(1000) overflows: subtract each row's maximum from the logits "
                 "before exponentiating (log-sum-exp trick); the result does not change")
        if not np.isclose(got, value, rtol=1e-6, atol=1e-9):
            hint = None
            if np.isclose(got, value * len(y), rtol=1e-6):
                hint = "that is the sum over the batch; take the mean"
            elif np.isclose(got, -value, rtol=1e-6):
                hint = "the sign: the loss is MINUS the log-probability of the right class"
            fail(f"{what}: expected loss {value:.6g}, got {got:.6g}", hint)
        backward_of(out, f"the loss ({what})")
        if logits.grad is None:
            fail(f"{what}: logits.grad is None after backward: the loss is not computed from the logits Tensor")
        compare(logits.grad, grad, f"{what}: gradient with respect to the logits", rtol=1e-5, atol=1e-8,
                hint="it should be (softmax(logits) - onehot(labels)) / N")
    passed("cross-entropy: right values, right gradients, and stable for logits around 1000")


@checker
def check_sgd_momentum(cls: Any) -> None:
    """Check an optimizer class ``cls(params, lr, momentum)`` with ``step()`` and ``zero_grad()``.

    The update (PyTorch's): ``buf = g`` on the first step, then
    ``buf = momentum * buf + g``; and ``p = p - lr * buf``. ``step`` must not
    change ``p.grad``; ``zero_grad`` must clear it (to None or zeros).
    """
    from tinygrad_mb.tensor import Tensor  # noqa: PLC0415

    curvature = np.array([1.0, 4.0, 0.5])
    start = np.array([1.0, -2.0, 3.0])
    lr, mu = 0.1, 0.9
    w = Tensor(start.copy(), requires_grad=True)
    opt = run(cls, [w], lr, mu, what="creating your optimizer as cls([w], lr=0.1, momentum=0.9)")
    ref_w, buf = start.copy(), None
    for k in range(1, 6):
        for name in ("zero_grad", "step"):
            if not callable(getattr(opt, name, None)):
                fail(f"your optimizer has no method {name}()")
        run(opt.zero_grad, what="zero_grad()")
        if w.grad is not None and np.any(w.grad != 0):
            fail(f"after zero_grad() the gradient is still {w.grad}", "set p.grad = None (or zeros) for every p")
        (0.5 * (w * w * Tensor(curvature)).sum()).backward()
        g = curvature * ref_w
        grad_before = to_numpy(w.grad).copy()  # on the host: the check works on either backend
        run(opt.step, what="step()")
        if w.grad is None or not np.array_equal(to_numpy(w.grad), grad_before):
            fail("step() changed p.grad", "read the gradient, never modify it in place (e.g. no p.grad *= ...)")
        buf = g.copy() if buf is None else mu * buf + g
        plain = ref_w - lr * g
        ref_w = ref_w - lr * buf
        got = np.asarray(w.numpy(), dtype=np.float64)
        if not np.allclose(got, ref_w, rtol=1e-7, atol=1e-9):
            hint = None
            if np.allclose(got, plain):
                hint = "that is a plain SGD step: keep a momentum buffer per parameter and update it every step"
            elif k == 1:
                hint = "on the first step the buffer is just the gradient: buf = g, then p -= lr * buf"
            fail(f"after step {k} on f(w) = 0.5 * sum(c * w^2), c = {curvature.tolist()}, starting at "
                 f"{start.tolist()}: expected w = {np.round(ref_w, 6).tolist()}, got {np.round(got, 6).tolist()}",
                 hint)
    passed("SGD with momentum: 5 steps match buf = momentum * buf + g, p -= lr * buf; p.grad left untouched")
