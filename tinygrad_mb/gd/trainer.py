"""The one training loop behind batch, stochastic and mini-batch gradient descent.

::

    for each epoch:                            # one pass over the N training samples
        for each batch (x_B, y_B) of B samples:   # B = N, 1 or anything in between
            loss = loss_fn(model(x_B), y_B)        # mini-batch loss at the current weights
            grads = d loss / d weights             # backward()
            weights -= lr * grads                  # optimizer.step()

The loop is written once; a :class:`~tinygrad_mb.gd.variants.Variant` only
chooses ``B`` and ``lr``. Around it, :func:`train` keeps a :class:`History`:

* **per update** (cheap): update index, fractional epoch, samples seen,
  wall-clock seconds, the mini-batch loss and the gradient norm ``|g_B|``;
* **per evaluation**: the loss on the *whole* training set (and test loss and
  metrics), measured at sample counts on a fixed grid (every ``eval_every``
  samples within each epoch, and at every epoch's end; with ``drop_last``,
  every ``eval_every`` samples from the start and at every pass's end), so
  runs with different batch sizes are measured at the same points. A
  full-batch run reaches an epoch's end at every update and is therefore
  evaluated after every update.

Evaluation runs under ``no_grad`` with the clock paused, so ``time`` is the
cost of training alone. A run *diverges* when the weights after update k give a
non-finite mini-batch loss (met by update k + 1, which is then not taken) or a
full-data loss that is non-finite or past ``BLOWUP_FACTOR`` times its starting
value (still finite, but going nowhere): it stops after update k.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_mb import backend as _backend
from tinygrad_mb.errors import DataError, HyperparameterError
from tinygrad_mb.gd.evaluation import EvalData, as_dataset, dataset_f_star, default_metrics
from tinygrad_mb.gd.history import History
from tinygrad_mb.gd.variants import Variant

Metric = Callable[[Any, Any], float]


class Stopwatch:
    """Wall-clock seconds that can be paused (for evaluation) and resumed.

    ``elapsed()`` reads the host clock; on the GPU, queued work may still be
    running, so :meth:`pause` first waits for the device (``synchronize``) and
    the times at evaluation points are exact.
    """

    def __init__(self) -> None:
        self._total = 0.0
        self._since: float | None = None

    def start(self) -> None:
        """Start (or resume) counting."""
        self._since = time.perf_counter()

    def pause(self) -> float:
        """Stop counting (after waiting for the GPU); return the seconds counted so far."""
        _backend.synchronize()
        if self._since is not None:
            self._total += time.perf_counter() - self._since
            self._since = None
        return self._total

    def elapsed(self) -> float:
        """Seconds counted so far (without waiting for the GPU)."""
        if self._since is None:
            return self._total
        return self._total + (time.perf_counter() - self._since)


def make_optimizer(variant: Variant, params: list[Any]) -> Any:
    """The optimizer a variant asks for, on ``params``, with the variant's learning rate."""
    from tinygrad_mb import optim  # noqa: PLC0415  (optim sits above gd's imports only at call time)

    if callable(variant.optimizer):
        return variant.optimizer(params, variant.lr)
    if variant.optimizer == "sgd":
        return optim.SGD(params, lr=variant.lr)
    if variant.optimizer == "momentum":
        return optim.SGD(params, lr=variant.lr, momentum=0.9)
    if variant.optimizer == "nesterov":
        return optim.SGD(params, lr=variant.lr, momentum=0.9, nesterov=True)
    if variant.optimizer == "rmsprop":
        return optim.RMSprop(params, lr=variant.lr)
    if variant.optimizer == "adagrad":
        return optim.Adagrad(params, lr=variant.lr)
    return optim.Adam(params, lr=variant.lr)


def resolve_budget(n: int, batch_size: int, epochs: float | None, updates: int | None,
                   samples: int | None, seconds: float | None) -> dict[str, float]:
    """Check the budgets and return the ones given; with none given, 10 epochs.

    A run stops as soon as ANY given budget is used up.
    """
    budget = {k: v for k, v in (("epochs", epochs), ("updates", updates), ("samples", samples),
                                ("seconds", seconds)) if v is not None}
    for key, value in budget.items():
        # numbers.Real: NumPy numbers count too (a budget computed from an array's shape is one)
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
            raise HyperparameterError(f"budget {key}={value!r} must be a finite number > 0")
        budget[key] = int(value) if isinstance(value, numbers.Integral) else float(value)  # plain, for JSON
    if not budget:
        budget = {"epochs": 10}
    return budget


def samples_at_stop(n: int, batch_size: int, budget: float, drop_last: bool = False) -> int:
    """The samples a run sees under a budget of ``budget`` samples (``epochs * N`` for an epochs budget).

    Budgets are checked between updates, so a run ends after the update that reaches or
    crosses its budget: up to B - 1 samples past it when B does not land on it exactly.
    A pass over the data is N samples (its last batch may be smaller), N - N % B with ``drop_last``.
    """
    per_pass = n - n % batch_size if drop_last else n
    passes, rest = divmod(budget, per_pass)
    return int(passes * per_pass + min(math.ceil(rest / batch_size) * batch_size, per_pass))


def updates_at_stop(n: int, batch_size: int, budget: float, drop_last: bool = False) -> int:
    """The updates a run makes under a budget of ``budget`` samples (as :func:`samples_at_stop` counts them).

    A pass over the data is ceil(N / B) updates, its last batch smaller, or floor(N / B) with ``drop_last``.
    """
    per_pass = n - n % batch_size if drop_last else n
    updates_per_pass = per_pass // batch_size if drop_last else math.ceil(n / batch_size)
    passes, rest = divmod(budget, per_pass)
    return int(passes * updates_per_pass + min(math.ceil(rest / batch_size), updates_per_pass))


def _common_step(n: int, batch_sizes: list[int]) -> int:
    """The least common multiple of the batch sizes below ``n``: the sample counts every variant stops at.

    Batch sizes >= n (full batch) are left out: they are evaluated at every update anyway.
    """
    return math.lcm(*(b for b in batch_sizes if b < n))  # 1 when there are none


def default_eval_every(n: int, batch_sizes: list[int], points_per_epoch: int = 20) -> int:
    """A grid spacing (in samples) near ``n / points_per_epoch`` that every batch size divides."""
    step = _common_step(n, batch_sizes)
    target = max(1, round(n / points_per_epoch))
    return max(step, round(target / step) * step) if step < n else n


def check_eval_grid(eval_every: Any, n: int, batch_sizes: list[int]) -> None:
    """HyperparameterError unless every batch size lands on every point of the grid ``eval_every``.

    A run is evaluated after the update that reaches a grid point; when a batch
    size does not divide the spacing, that update overshoots it, and variants
    compared side by side would be evaluated after different numbers of samples.
    (Epoch ends are evaluated anyway, so a spacing of N or more always works.)
    """
    if isinstance(eval_every, bool) or not isinstance(eval_every, (int, np.integer)) or eval_every >= n:
        return  # a wrong type or value is reported by train(); >= n means epoch ends only
    step = _common_step(n, batch_sizes)
    if eval_every % step:
        minibatch_sizes = sorted({b for b in batch_sizes if b < n})
        fix = f"a multiple of {step}, e.g. {max(step, round(eval_every / step) * step)}" if step < n else f"{n} (N)"
        raise HyperparameterError(
            f"eval_every={eval_every} is not a multiple of every batch size {minibatch_sizes}, so the "
            f"variants would be evaluated after different numbers of samples; use {fix}, or leave it to the default"
        )


def check_model_and_loss(model: Any, loss_fn: Any) -> None:
    """HyperparameterError unless ``model`` is a module and ``loss_fn`` a callable loss (not a loss class)."""
    if isinstance(model, type) or not (callable(model) and hasattr(model, "parameters")):
        what = f"the class {model.__name__}" if isinstance(model, type) else f"a {type(model).__name__}"
        if callable(model) and not isinstance(model, type):  # a factory seed -> model, or a forward function
            fix = ("if it builds the model, call it and pass the model (gd.compare takes such a factory); "
                   "a forward function goes in the forward() method of a Module subclass")
        else:
            fix = "wrap a function in a Module subclass with a forward() method"
        raise HyperparameterError(f"model must be an nn.Module instance such as nn.Linear(10, 1), got {what}; {fix}")
    if isinstance(loss_fn, type):  # nn.MSELoss instead of nn.MSELoss()
        raise HyperparameterError(f"loss_fn is the class {loss_fn.__name__}; pass an instance, "
                                  f"{loss_fn.__name__}(), or a function such as nn.functional.mse_loss")
    if not callable(loss_fn):
        raise HyperparameterError(f"loss_fn must be callable as loss_fn(outputs, targets), got {loss_fn!r}")


def train(model: Any, loss_fn: Callable[[Any, Any], Any], dataset: Any, variant: Variant, *,
          epochs: float | None = None, updates: int | None = None, samples: int | None = None,
          seconds: float | None = None, seed: int | None = 0, test_dataset: Any = None,
          eval_every: int | None = None, stop_loss: float | None = None, f_star: float | None = None,
          metrics: dict[str, Metric] | None = None, backend: str | None = None, drop_last: bool = False,
          record_params: bool = False, callback: Callable[[dict[str, Any]], None] | None = None) -> History:
    """Train ``model`` in place with one gradient-descent variant and record what happened.

    Args:
        model: a :class:`tinygrad_mb.nn.Module` (trained in place).
        loss_fn: ``loss_fn(outputs, targets) -> scalar Tensor``, a *mean* over the batch
            (e.g. ``nn.MSELoss()`` or ``F.cross_entropy``).
        dataset: a ``data.Dataset`` / ``TensorDataset``, an object with ``.X`` and ``.y``
            arrays (the bundled datasets), or a tuple ``(X, y)``.
        variant: batch size, learning rate and optimizer (:class:`Variant`).
        epochs, updates, samples, seconds: budgets; the run stops at the first one
            used up (``seconds`` counts training time only). Default: 10 epochs.
            An epoch is N samples (``epochs=2`` means ``samples=2 * N``). Budgets are
            checked between updates, so a run ends after the update that reaches or
            crosses its budget: it may see up to B - 1 samples more than
            ``samples`` (``History.samples`` says how many it saw).
        seed: seeds the loader's shuffling (the only randomness here).
        test_dataset: optional held-out data, evaluated with the training set.
        eval_every: grid spacing in samples within an epoch, or from the start with
            ``drop_last`` (default: about N/20, a multiple of the batch size). Every
            epoch's (pass's) end is also evaluated.
        stop_loss: stop early once the full training loss is <= this value.
        f_star: the optimal training loss, if known (read from the dataset otherwise).
        metrics: ``{name: fn(outputs_array, targets_array) -> float}``, evaluated on
            train and test data (default: accuracy for integer labels).
        backend: ``"numpy"`` or ``"cupy"``; the data is moved there once.
        drop_last: skip the last, smaller batch of every pass when B does not divide N
            (as PyTorch's ``DataLoader``, default False: it is kept). Kept, that batch
            of N mod B samples gets a full-rate step on a noisier gradient, which can
            derail a large-batch run (B = 999, N = 1000: one update on 1 sample per
            pass). Dropped, a pass is N - N mod B samples, a little under one epoch;
            the epoch column stays samples / N, and a schedule's ``"epoch"`` step
            comes after every pass.
        record_params: also keep the flattened parameters after every update (for
            trajectory plots; copies to the host every update).
        callback: called with a dict after every evaluation (progress bars, logging).

    Returns:
        The run's :class:`History`.
    """
    from tinygrad_mb.data import DataLoader  # noqa: PLC0415
    from tinygrad_mb.tensor import no_grad  # noqa: PLC0415

    if not isinstance(variant, Variant):
        raise HyperparameterError(f"variant must be a gd.Variant (e.g. gd.MiniBatch(32, 0.1)), got {variant!r}")
    check_model_and_loss(model, loss_fn)
    params = list(model.parameters())
    move_model = backend is not None
    if backend is None:  # train where the model lives
        backend = _backend.backend_of(params[0].data) if params else _backend.get_backend()
    backend = _backend.check_name(backend)
    with _backend.use_backend(backend):  # host data becomes tensors there, whatever the default backend
        train_ds = as_dataset(dataset, "dataset")
        test_ds = None if test_dataset is None else as_dataset(test_dataset, "test_dataset")
    n = len(train_ds)
    if n == 0:
        raise DataError("dataset is empty (0 samples): there is nothing to train on")
    if test_ds is not None and len(test_ds) == 0:
        raise DataError("test_dataset is empty (0 samples): pass None to train without one")
    batch_size = variant.resolve_batch_size(n)
    budget = resolve_budget(n, batch_size, epochs, updates, samples, seconds)
    if eval_every is None:
        eval_every = default_eval_every(n, [batch_size])
    if isinstance(eval_every, bool) or not isinstance(eval_every, (int, np.integer)) or eval_every < 1:
        raise HyperparameterError(f"eval_every must be a positive number of samples, got {eval_every!r}")
    f_star = dataset_f_star(dataset) if f_star is None else float(f_star)
    if move_model:
        model.to(backend)
    # A full batch is never shuffled: the order of a sum does not change the
    # gradient mathematically, and keeping it fixed makes batch GD reproducible
    # bit for bit by a hand-written loop.
    loader = DataLoader(train_ds, batch_size=batch_size, shuffle=batch_size < n, drop_last=bool(drop_last),
                        seed=seed, backend=backend)
    batches_per_pass = len(loader)  # ceil(N / B), or N // B with drop_last
    evaluator = EvalData(train_ds, test_ds, backend, default_metrics(train_ds) if metrics is None else metrics)
    optimizer = make_optimizer(variant, params)
    scheduler = None if variant.schedule is None else variant.schedule(optimizer)
    history = History(variant, seed=seed, n_train=n, batch_size=batch_size, f_star=f_star,
                      budget=budget, eval_every=int(eval_every), dtype=str(params[0].dtype) if params else "",
                      drop_last=bool(drop_last))

    max_samples = min(budget.get("samples", math.inf), budget.get("epochs", math.inf) * n)
    max_updates = budget.get("updates", math.inf)
    max_seconds = budget.get("seconds", math.inf)
    # Checking a loss for NaN reads it back from the device; on the GPU do that
    # only at evaluation points and every 64 updates, not after every update.
    check_every = 1 if backend == _backend.NUMPY else 64
    clock = Stopwatch()

    def evaluate(k: int, seen: int, resume: bool = True) -> bool:
        """Full-data evaluation at update k with the clock paused; False if it diverged.

        ``resume=False`` leaves the clock stopped afterwards (the caller starts it).
        """
        t = clock.pause()
        model.eval()
        with no_grad():
            record = evaluator.evaluate(model, loss_fn)
        model.train()
        history.add_eval(k, seen, t, record, optimizer_lr(optimizer))
        if callback is not None:
            callback({"update": k, "samples": seen, "time": t, **record, "variant": variant.label(n)})
        if resume:
            clock.start()  # resume: training time only
        loss, start = record["train_loss"], history.initial_eval("train_loss")
        return math.isfinite(loss) and (k == 0 or abs(loss) <= BLOWUP_FACTOR * max(abs(start), 1e-12))

    def next_grid_point(seen: int, epoch_start: int) -> float:
        """The sample count of the next evaluation on the grid (pass ends are evaluated anyway)."""
        if eval_every >= n:
            return math.inf  # epoch ends only
        if drop_last:
            # A pass then ends on a multiple of B, not of N, so the grid counts from the start of the
            # run: eval_every is a multiple of every B, and every variant lands on the same points.
            return (seen // eval_every + 1) * eval_every
        # Every epoch ends at a multiple of N (its last batch may be smaller): the grid restarts there.
        return epoch_start + min(n, ((seen - epoch_start) // eval_every + 1) * eval_every)

    model.train()
    if record_params:
        history.add_params(0, params)
    evaluate(0, 0, resume=False)
    k = seen = 0
    epoch_start = 0  # samples seen when the current pass over the loader began
    next_eval = next_grid_point(0, 0)
    stop = ""
    # The first evaluation above has checked the labels; from here on, checks that
    # would stall a GPU are off, and BLAS gets the thread count that suits this batch.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), _backend.skip_sync_checks(), \
            _backend.blas_threads(_backend.recommended_blas_threads(batch_size)):
        # Started only now: setting the thread count (and importing threadpoolctl the first
        # time) is setup, not training, and counted would make update 1 look ~100x slower.
        clock.start()
        while not stop:
            for i, (xb, yb) in enumerate(loader, 1):
                loss = loss_fn(model(xb), yb)
                if check_every == 1 and not math.isfinite(float(loss.data)):
                    # the weights after update k give this loss: stop there, without stepping on it
                    history.mark_diverged(k, seen, clock.elapsed(), float(loss.data))
                    stop = "diverged"
                    break
                optimizer.zero_grad()
                loss.backward()
                gnorm = _grad_norm(params)
                optimizer.step()
                k += 1
                seen += int(xb.shape[0])
                now = clock.elapsed()
                history.add_step(k, seen, now, loss.data, gnorm, optimizer_lr(optimizer))
                if record_params:
                    history.add_params(k, params)
                # by the loader's batch count, not samples: with drop_last a pass is short of N samples
                at_epoch_end = i == batches_per_pass
                if check_every > 1 and k % check_every == 0 and not history.flush():  # (NumPy: checked above)
                    stop = "diverged"
                    break
                if seen >= max_samples:
                    stop = "samples" if budget.get("samples", math.inf) <= budget.get("epochs", math.inf) * n \
                        else "epochs"
                elif k >= max_updates:
                    stop = "updates"
                elif now >= max_seconds:
                    stop = "seconds"
                if seen >= next_eval or at_epoch_end or stop:
                    if not history.flush() or not evaluate(k, seen):
                        history.mark_diverged_from_eval()
                        stop = "diverged"
                        break
                    if stop_loss is not None and history.last_eval("train_loss") <= stop_loss:
                        stop = stop or "stop_loss"
                    next_eval = next_grid_point(seen, epoch_start)
                if stop:
                    break
                # After the evaluation, as for the epoch unit below: its lr is then the rate update k used.
                if scheduler is not None and variant.schedule_unit == "update":
                    scheduler.step()
            else:
                # a full pass over the data: the next epoch starts here
                epoch_start = seen
                next_eval = next_grid_point(seen, epoch_start)
                if scheduler is not None and variant.schedule_unit == "epoch":
                    scheduler.step()
                continue
            break
    clock.pause()
    history.finish(stop)
    return history


# A full-data loss this many times its starting value counts as diverged: the
# iterates are running away, even if float arithmetic has not overflowed yet.
BLOWUP_FACTOR = 1e6


def optimizer_lr(optimizer: Any) -> float:
    """The optimizer's current learning rate (``.lr``, or the first param group's)."""
    lr = getattr(optimizer, "lr", None)
    if lr is None and getattr(optimizer, "param_groups", None):
        lr = optimizer.param_groups[0].get("lr")
    return float(lr) if lr is not None else math.nan


def _grad_norm(params: list[Any]) -> Any:
    """``|g| = sqrt(sum over parameters of sum(g**2))``, computed on the device (no sync)."""
    total = None
    for p in params:
        g = p.grad
        if g is None:
            continue
        xp = _backend.array_module(g)
        sq = xp.vdot(g, g)
        total = sq if total is None else total + sq
    if total is None:
        return np.float32(0.0)
    return _backend.array_module(total).sqrt(total)
