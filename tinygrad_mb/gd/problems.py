"""The default problems: a dataset, a model, a loss and (where known) the optimal loss f*.

============  =======================================================  ==========  =============
name          data                                                     model       loss
============  =======================================================  ==========  =============
``linear``    synthetic linear regression, N = 1000, d = 10, known f*  ``linear``  MSE
``logistic``  two classes from a logistic model, d = 10 (80% train)    ``linear``  cross-entropy
``moons``     two interleaving half-moons, 2-D (80% train)             ``mlp``     cross-entropy
``digits``    the bundled 8x8 handwritten digits, 64-D (80% train)     ``mlp``     cross-entropy
``linear2d``  least squares in two weights, elongated contours         ``linear``  MSE
============  =======================================================  ==========  =============

The data never depends on the run's seed (``data_seed`` fixes it), so runs
with different seeds differ only in initial weights and sample order.
``linear`` is the default everywhere: its exact optimum lets plots show the
suboptimality f - f* on a log scale, where convergence rates are straight lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from tinygrad_mb.errors import HyperparameterError
from tinygrad_mb.gd.variants import Variant, default_lr, parse_variants

#: The names :func:`make_problem` (and ``tinygrad-mb --dataset``) accepts for the data.
DATASETS = ("linear", "logistic", "moons", "digits", "linear2d")
#: The models it can build, ``"linear"`` (one Linear layer) or ``"mlp"`` (Linear - Tanh - Linear).
MODELS = ("linear", "mlp")
DEFAULT_MODEL = {"linear": "linear", "logistic": "linear", "moons": "mlp", "digits": "mlp", "linear2d": "linear"}
HIDDEN = {"moons": 32, "digits": 64}


@dataclass
class Problem:
    """Everything a comparison needs; ``model_fn(seed)`` builds freshly initialised weights."""

    name: str
    description: str
    train: Any  # data.ArrayData (or LinearRegressionData, which knows f*)
    test: Any | None
    model_name: str
    model_fn: Callable[[int], Any]
    loss_fn: Callable[[Any, Any], Any]
    f_star: float | None = None
    start: tuple[float, float] | None = None  # linear2d: where the trajectories begin
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_train(self) -> int:
        """Number of training samples N."""
        return len(self.train.X)

    def default_lr(self, batch_size: int | None) -> float:
        """The documented default rate for this problem and batch size (see ``variants.DEFAULT_LRS``)."""
        return default_lr(self.name, batch_size, self.n_train)

    def default_variants(self, spec: str = "batch,sgd,minibatch:32") -> list[Variant]:
        """Variants from a spec like ``"batch,sgd,minibatch:32"`` at this problem's default rates."""
        return parse_variants(spec, self.name, self.n_train)


def _linear2d(seed: int = 0, n: int = 200, noise: float = 0.5) -> Any:
    """y = x . w_true + noise with x1 ~ N(0, 1), x2 ~ N(0, 0.5^2): contours twice as long in w2 as in w1."""
    from tinygrad_mb.data import ArrayData  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2)) * np.array([1.0, 0.5])
    w_true = np.array([1.0, -1.0])
    y = X @ w_true + noise * rng.standard_normal(n)
    X32, y32 = X.astype(np.float32), y.astype(np.float32).reshape(n, 1)
    A = X32.astype(np.float64)
    w_star, *_ = np.linalg.lstsq(A, y32[:, 0].astype(np.float64), rcond=None)
    data = ArrayData(X=X32, y=y32, task="regression", name="linear2d", meta={"w_true": w_true})
    data.w_star = w_star  # the exact minimiser and minimum of the stored float32 data
    data.min_loss = float(np.mean((A @ w_star - y32[:, 0]) ** 2))
    return data


def make_model(kind: str, d_in: int, d_out: int, seed: int, hidden: int = 32, bias: bool = True) -> Any:
    """``"linear"``: one Linear layer; ``"mlp"``: Linear - Tanh - Linear. Weights drawn from ``seed``."""
    from tinygrad_mb import nn  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    if kind == "linear":
        return nn.Linear(d_in, d_out, bias=bias, seed=rng)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(d_in, hidden, seed=rng), nn.Tanh(), nn.Linear(hidden, d_out, seed=rng))
    raise HyperparameterError(f"unknown model {kind!r}; valid models are {list(MODELS)}")


def make_problem(name: str = "linear", model: str | None = None, data_seed: int = 0) -> Problem:
    """Build one of the default problems (see the module docstring)."""
    from tinygrad_mb import data, nn  # noqa: PLC0415

    if name not in DATASETS:
        raise HyperparameterError(f"unknown dataset {name!r}; valid datasets are {list(DATASETS)}")
    model = model or DEFAULT_MODEL[name]
    if model not in MODELS:
        raise HyperparameterError(f"unknown model {model!r}; valid models are {list(MODELS)}")
    if name == "linear2d" and model != "linear":
        raise HyperparameterError("the linear2d problem has exactly two weights: use model 'linear'")
    start = None
    if name == "linear":
        full = data.linear_regression(n=1000, d=10, noise=0.5, seed=data_seed)
        train, test, loss, f_star = full, None, nn.MSELoss(), float(full.min_loss)
        if model != "linear":
            # The least-squares minimum is the optimum of the linear model only: an MLP can fit
            # the noise below it, and f - f* would go negative. Plain data, no f*.
            train, f_star = data.ArrayData(**{f.name: getattr(full, f.name) for f in fields(data.ArrayData)}), None
        desc = "linear regression (N = 1000, d = 10, MSE)"
    elif name == "linear2d":
        full = _linear2d(data_seed)
        train, test, loss, f_star = full, None, nn.MSELoss(), float(full.min_loss)
        desc = "least squares in two weights (N = 200, MSE)"
        start = (-1.5, 2.0)
    else:
        if name == "logistic":
            full = data.logistic_regression(n=1000, d=10, scale=3.0, seed=data_seed)
            desc = "logistic regression (N = 800 train, d = 10, cross-entropy)"
        elif name == "moons":
            full = data.two_moons(n=1000, noise=0.2, seed=data_seed)
            desc = "two moons (N = 800 train, 2-D, cross-entropy)"
        else:
            full = data.load_digits(scale=True)
            desc = "8x8 digits (N = 1437 train, 64-D, 10 classes, cross-entropy)"
        train, test = full.split(test_size=0.2, seed=data_seed, stratify=True)
        loss, f_star = nn.CrossEntropyLoss(), None
    d_in = train.X.shape[1]
    d_out = train.n_classes if train.task == "classification" else 1
    hidden = HIDDEN.get(name, 32)
    bias = name != "linear2d"  # exactly two weights there, so the loss is a 2-D landscape

    def model_fn(seed: int) -> Any:
        return make_model(model, d_in, d_out, seed, hidden=hidden, bias=bias)

    return Problem(name=name, description=f"{desc}, model {model}", train=train, test=test, model_name=model,
                   model_fn=model_fn, loss_fn=loss, f_star=f_star, start=start)
