"""Batch, stochastic and mini-batch gradient descent: one idea, three presets.

All three take the same step on the parameters ``w``::

    w  <-  w - lr * g_B(w),        g_B(w) = (1/|B|) * sum_{i in B} grad loss_i(w)

and differ only in *how many* samples ``|B|`` the gradient averages over:

======================  ==========  ================================================
preset                  batch size  what ``g_B`` is
======================  ==========  ================================================
``Batch(lr)``           N (all)     the exact gradient of the training loss
``Stochastic(lr)``      1           one sample's gradient: cheap, very noisy
``MiniBatch(B, lr)``    B           an unbiased estimate whose noise shrinks like 1/B
======================  ==========  ================================================

So there is ONE class, :class:`Variant`, holding a batch size and a learning
rate (plus, optionally, which optimizer and schedule to use); the presets are
three small functions that fill in the batch size. The training loop in
:mod:`tinygrad_mb.gd.trainer` never asks which preset it got.

Learning rates and batch size go together: a larger batch has a less noisy
gradient and tolerates a larger step. :func:`scale_lr` derives a rate for a new
batch size from a reference one (the *linear* rule of Goyal et al., 2017, and
the *square-root* rule that keeps the gradient noise per step constant).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from tinygrad_mb.errors import HyperparameterError

#: Optimizer names a :class:`Variant` understands (or pass a factory ``(params, lr) -> Optimizer``).
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "rmsprop", "adagrad")

#: When a schedule's ``step()`` is called: after every epoch (the fair choice when
#: batch sizes differ, since all variants then decay at the same sample count) or
#: after every update.
SCHEDULE_UNITS = ("epoch", "update")

#: Learning rates that converge on the default problems (checked by tests/gd/test_gd_defaults.py).
#: Keyed by problem, then by preset name. Rates for other mini-batch sizes are
#: derived from the ``minibatch`` one (reference batch size 32) by :func:`scale_lr`
#: with the square-root rule, capped at the ``batch`` rate.
DEFAULT_LRS: dict[str, dict[str, float]] = {
    "linear": {"batch": 0.5, "sgd": 0.01, "minibatch": 0.1},
    "logistic": {"batch": 2.0, "sgd": 0.01, "minibatch": 0.2},
    "moons": {"batch": 1.0, "sgd": 0.05, "minibatch": 0.5},  # batch at 2.0 climbed 0.76 -> 1.92 (seed 2)
    "digits": {"batch": 1.0, "sgd": 0.02, "minibatch": 0.2},
    "linear2d": {"batch": 0.1, "sgd": 0.1, "minibatch": 0.1},  # one rate: the paths differ by noise alone
}
DEFAULT_REFERENCE_BATCH = 32


@dataclass(frozen=True)
class Variant:
    """One way of running gradient descent: a batch size and a learning rate.

    Args:
        name: what plots and tables call it (``"batch"``, ``"sgd"``, ``"minibatch"``, ...).
        batch_size: samples per update; ``None`` means the whole training set (N).
            A value >= N is also a full batch.
        lr: the step size (learning rate), > 0.
        optimizer: ``"sgd"`` (plain steps, the default), ``"momentum"`` (SGD with
            momentum 0.9), ``"nesterov"``, ``"adam"``, ``"rmsprop"``, ``"adagrad"``
            (PyTorch's defaults apart from the rate), or a factory ``(params, lr) -> Optimizer``.
        schedule: ``None`` (constant rate) or a factory ``(optimizer) -> scheduler``
            whose ``step()`` changes ``optimizer.lr`` (e.g. ``lambda o: optim.StepLR(o, 10)``).
        schedule_unit: call the scheduler's ``step()`` after every ``"epoch"`` or every ``"update"``.
    """

    name: str
    batch_size: int | None
    lr: float
    optimizer: str | Callable[..., Any] = "sgd"
    schedule: Callable[[Any], Any] | None = None
    schedule_unit: str = "epoch"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise HyperparameterError(f"a variant needs a non-empty name, got {self.name!r}")
        if self.batch_size is not None:
            if not _is_int(self.batch_size) or self.batch_size < 1:
                # MiniBatch(0.1, 32): the rate first, as in SGD(params, lr), and the size second
                swapped = isinstance(self.batch_size, float) and _is_int(self.lr) and self.lr >= 1
                hint = (f"; the batch size comes before the learning rate: MiniBatch(batch_size={self.lr!r}, "
                        f"lr={self.batch_size!r})") if swapped else ""
                raise HyperparameterError(
                    f"variant {self.name!r}: batch_size must be a positive int or None (full batch), "
                    f"got {self.batch_size!r}{hint}"
                )
            object.__setattr__(self, "batch_size", int(self.batch_size))  # np.int64(32) -> 32: plain in labels, JSON
        if isinstance(self.lr, bool) or not isinstance(self.lr, numbers.Real) or not math.isfinite(self.lr) \
                or self.lr <= 0:
            raise HyperparameterError(f"variant {self.name!r}: lr must be a finite number > 0, got {self.lr!r}")
        object.__setattr__(self, "lr", float(self.lr))
        if isinstance(self.optimizer, str):
            if self.optimizer not in OPTIMIZERS:
                raise HyperparameterError(
                    f"variant {self.name!r}: unknown optimizer {self.optimizer!r}; valid: {list(OPTIMIZERS)} "
                    "or a factory (params, lr) -> Optimizer"
                )
        elif not callable(self.optimizer):
            raise HyperparameterError(f"variant {self.name!r}: optimizer must be a name or a callable")
        if self.schedule is not None and not callable(self.schedule):
            raise HyperparameterError(f"variant {self.name!r}: schedule must be None or a callable")
        if self.schedule_unit not in SCHEDULE_UNITS:
            raise HyperparameterError(
                f"variant {self.name!r}: schedule_unit must be one of {list(SCHEDULE_UNITS)}, "
                f"got {self.schedule_unit!r}"
            )

    def resolve_batch_size(self, n: int) -> int:
        """The batch size on a training set of ``n`` samples: ``min(batch_size, n)``, or ``n`` for None."""
        return n if self.batch_size is None else min(self.batch_size, n)

    def is_full_batch(self, n: int) -> bool:
        """True when every update uses all ``n`` samples (batch gradient descent)."""
        return self.resolve_batch_size(n) == n

    def label(self, n: int | None = None) -> str:
        """Name, batch size and learning rate, e.g. ``"minibatch (B=32, lr=0.1)"``.

        With ``n`` given, a full batch reads ``B=N=1000``; without, ``B=N``.
        """
        if self.batch_size is None or (n is not None and self.batch_size >= n):
            b = "N" if n is None else f"N={n}"
        else:
            b = str(self.batch_size)
        opt = "" if self.optimizer == "sgd" else f", {getattr(self.optimizer, '__name__', self.optimizer)}"
        return f"{self.name} (B={b}, lr={self.lr:g}{opt})"

    def with_lr(self, lr: float) -> Variant:
        """A copy of this variant with another learning rate."""
        return replace(self, lr=lr)

    def to_dict(self, n: int | None = None) -> dict[str, Any]:
        """JSON-friendly description (callables by name)."""
        return {
            "name": self.name,
            "batch_size": self.batch_size if n is None else self.resolve_batch_size(n),
            "lr": self.lr,
            "optimizer": self.optimizer if isinstance(self.optimizer, str) else _callable_name(self.optimizer),
            "schedule": None if self.schedule is None else _callable_name(self.schedule),
            "schedule_unit": self.schedule_unit,
            "label": self.label(n),
        }


def _is_int(value: Any) -> bool:
    """An integer, Python's or NumPy's (``np.int64(32)`` from an array), but not a bool (True is not a size)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _callable_name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__


# --- the three presets -------------------------------------------------------------------
# Without a rate, a preset gets what the command line gives the same spelling on its default
# problem, ``linear``, so ``gd.MiniBatch(128)`` and ``--variants minibatch:128`` are the same run.
def Batch(lr: float = DEFAULT_LRS["linear"]["batch"], **kwargs: Any) -> Variant:  # noqa: N802
    """Batch (full-batch) gradient descent: every update uses all N samples.

    The default rate is the ``linear`` problem's, as ``batch`` on the command line; for another
    problem, ``prob.default_variants("batch")`` gives its rate (what ``--dataset NAME`` runs).
    """
    return Variant(kwargs.pop("name", "batch"), None, lr, **kwargs)


def Stochastic(lr: float = DEFAULT_LRS["linear"]["sgd"], **kwargs: Any) -> Variant:  # noqa: N802
    """Stochastic gradient descent: every update uses one sample (batch size 1).

    The default rate is the ``linear`` problem's, as ``sgd`` on the command line; for another
    problem, ``prob.default_variants("sgd")`` gives its rate (what ``--dataset NAME`` runs).
    """
    return Variant(kwargs.pop("name", "sgd"), 1, lr, **kwargs)


def MiniBatch(batch_size: int = DEFAULT_REFERENCE_BATCH, lr: float | None = None,  # noqa: N802
              **kwargs: Any) -> Variant:
    """Mini-batch gradient descent: every update uses ``batch_size`` samples.

    Without ``lr``: the ``linear`` problem's rate for this batch size, ``default_lr("linear", B)``
    (0.1 at B = 32, scaled by the square-root rule otherwise), as ``minibatch:B`` on the command
    line; for another problem, ``prob.default_variants("minibatch:B")`` gives its rate.
    """
    if lr is None and (batch_size is None or _is_int(batch_size) and batch_size >= 1):  # else Variant says why
        lr = default_lr("linear", None if batch_size is None else int(batch_size))
    return Variant(kwargs.pop("name", "minibatch"), batch_size, math.nan if lr is None else lr, **kwargs)


# --- learning rate for a batch size ----------------------------------------------------
LR_RULES = ("linear", "sqrt", "none")


def scale_lr(ref_lr: float, ref_batch_size: int, batch_size: int, rule: str = "linear",
             max_lr: float | None = None) -> float:
    """Learning rate for ``batch_size`` from a rate ``ref_lr`` that works at ``ref_batch_size``.

    * ``"linear"``: ``lr = ref_lr * B / B_ref``. k small steps on k batches move
      the weights about as far as one step of k times the size on their union,
      as long as the gradient changes little over those steps (Goyal et al., 2017).
    * ``"sqrt"``: ``lr = ref_lr * sqrt(B / B_ref)``. The gradient's noise has
      standard deviation ~ 1/sqrt(B); scaling the step with sqrt(B) keeps the
      noise injected per step the same (Krizhevsky, 2014; Hoffer et al., 2017).
    * ``"none"``: the same rate for every batch size.

    Both rules only hold while the noise dominates: past the critical batch size a
    bigger batch buys nothing and the rate is capped by the curvature (lr < 2/L for
    gradient descent). Pass ``max_lr`` to cap the result.
    """
    for what, value in (("ref_batch_size", ref_batch_size), ("batch_size", batch_size)):
        if not _is_int(value) or value < 1:
            raise HyperparameterError(f"scale_lr: {what} must be a positive int, got {value!r}")
    if isinstance(ref_lr, bool) or not (isinstance(ref_lr, numbers.Real) and math.isfinite(ref_lr) and ref_lr > 0):
        raise HyperparameterError(f"scale_lr: ref_lr must be a finite number > 0, got {ref_lr!r}")
    ratio = batch_size / ref_batch_size
    if rule == "linear":
        lr = ref_lr * ratio
    elif rule == "sqrt":
        lr = ref_lr * math.sqrt(ratio)
    elif rule == "none":
        lr = float(ref_lr)
    else:
        raise HyperparameterError(f"scale_lr: unknown rule {rule!r}; valid rules are {list(LR_RULES)}")
    return lr if max_lr is None else min(lr, max_lr)


def default_lr(problem: str, batch_size: int | None, n: int | None = None) -> float:
    """The documented default learning rate for a preset on one of the default problems.

    ``batch_size=None`` (or >= n) gives the ``batch`` rate, 1 the ``sgd`` rate,
    32 the ``minibatch`` rate; other sizes are scaled from 32 by the square-root
    rule and capped at the batch rate.
    """
    if problem not in DEFAULT_LRS:
        raise HyperparameterError(f"no default learning rates for {problem!r}; known: {sorted(DEFAULT_LRS)}")
    rates = DEFAULT_LRS[problem]
    if len(set(rates.values())) == 1:  # one rate for every batch size (linear2d: compare noise alone)
        return rates["batch"]
    if batch_size is None or (n is not None and batch_size >= n):
        return rates["batch"]
    if batch_size == 1:
        return rates["sgd"]
    return scale_lr(rates["minibatch"], DEFAULT_REFERENCE_BATCH, batch_size, "sqrt", max_lr=rates["batch"])


# --- text specs, as the command line writes them -------------------------------------------
VARIANT_SPEC_HELP = (
    "comma-separated list of: batch | sgd | minibatch:B (B a positive int), each optionally "
    "followed by @LR, e.g. 'batch,sgd,minibatch:32@0.05'"
)


def parse_variants(spec: str, problem: str = "linear", n: int | None = None) -> list[Variant]:
    """Parse ``"batch,sgd,minibatch:32@0.05"`` into variants (default rates from :data:`DEFAULT_LRS`).

    Raises:
        HyperparameterError: with the valid forms, on anything it cannot read.
    """
    variants: list[Variant] = []
    parts = [p.strip() for p in str(spec).split(",")]
    if not spec or not any(parts):
        raise HyperparameterError(f"no variants given; expected {VARIANT_SPEC_HELP}")
    for part in parts:
        if not part:  # 'batch,,sgd' or a trailing comma
            raise HyperparameterError(f"empty entry in the variants {spec!r} (two commas in a row, or a comma at "
                                      "an end); give one variant between each pair of commas")
        head, at, lr_text = part.partition("@")
        kind, _, b_text = head.partition(":")
        kind = kind.strip().lower()
        if at and not lr_text.strip():  # 'minibatch:32@': a rate was meant but is missing
            raise HyperparameterError(f"no learning rate after '@' in {part!r}; give one (e.g. "
                                      f"{head.strip()}@0.05) or drop the '@' for the default rate")
        try:
            lr = float(lr_text) if lr_text else None
        except ValueError:
            raise HyperparameterError(f"bad learning rate {lr_text!r} in {part!r}; expected {VARIANT_SPEC_HELP}") \
                from None
        if kind in ("batch", "gd", "full") and not b_text:
            batch_size = None
        elif kind in ("sgd", "stochastic") and not b_text:
            batch_size = 1
        elif kind in ("minibatch", "mb") and b_text.strip().isdigit() and int(b_text) >= 1:
            batch_size = int(b_text)
        elif kind in ("batch", "gd", "full", "sgd", "stochastic") and b_text:
            size = "N, the whole training set" if kind in ("batch", "gd", "full") else "1"
            raise HyperparameterError(f"{part!r}: {kind} takes no batch size (its B is {size}); for B = "
                                      f"{b_text.strip()} write minibatch:{b_text.strip()}")
        elif kind in ("minibatch", "mb") and b_text.strip().lstrip("-").isdigit():
            raise HyperparameterError(f"{part!r}: the batch size must be a whole number >= 1, e.g. minibatch:32")
        else:
            raise HyperparameterError(f"cannot read variant {part!r}; expected {VARIANT_SPEC_HELP}")
        if lr is None:
            lr = default_lr(problem, batch_size, n)
        name = {None: "batch", 1: "sgd"}.get(batch_size, "minibatch") if kind not in ("minibatch", "mb") \
            else "minibatch"
        try:
            variants.append(Variant(name, batch_size, lr))
        except HyperparameterError as exc:
            raise HyperparameterError(f"{exc}; expected {VARIANT_SPEC_HELP}") from None
    return variants
