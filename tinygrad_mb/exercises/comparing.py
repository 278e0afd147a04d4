"""Checkers for notebook 03, batch vs stochastic vs mini-batch gradient descent.

* :func:`check_updates_per_epoch` -- how many updates one pass over N samples makes with batch size B
* :func:`check_axis_reading` -- which variant is ahead at equal updates, and at equal samples seen
* :func:`check_training_loop` -- a hand-written mini-batch loop that matches ``gd.train`` exactly
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from tinygrad_mb.exercises._common import checker, fail, passed, placeholder, returned_none, run


@checker
def check_updates_per_epoch(fn: Callable[..., Any]) -> None:
    """Check ``fn(n, batch_size, drop_last=False)``: the number of updates in one epoch.

    ``batch_size=None`` means the full batch. A last, smaller batch counts as an
    update unless ``drop_last=True``.
    """
    cases = [((1000, None), {}, 1), ((1000, 1000), {}, 1), ((1000, 1), {}, 1000), ((1000, 32), {}, 32),
             ((1000, 32), {"drop_last": True}, 31), ((10, 3), {}, 4), ((10, 3), {"drop_last": True}, 3),
             ((10, 5), {"drop_last": True}, 2), ((10, 20), {}, 1)]
    for args, kwargs, expected in cases:
        got = run(fn, *args, what="your updates_per_epoch", **kwargs)
        returned_none(got, "your updates_per_epoch")
        call = f"updates_per_epoch(n={args[0]}, batch_size={args[1]}" + \
            (f", drop_last={kwargs['drop_last']})" if kwargs else ")")
        if isinstance(got, bool) or not isinstance(got, (int, np.integer)):
            hint = "a whole number of updates: round with math.ceil or math.floor" if isinstance(got, float) else None
            fail(f"{call} returned {got!r} ({type(got).__name__}); expected the int {expected}", hint)
        if got != expected:
            n, b = args
            hint = None
            if b is None:
                hint = "batch_size=None is the full batch: one update per epoch"
            elif not kwargs and got == n // b:
                hint = "the last, smaller batch is still an update unless drop_last=True: round up"
            elif kwargs and got == math.ceil(n / b):
                hint = "with drop_last=True the incomplete last batch is dropped: round down"
            elif not kwargs and got == n // b + 1 and n % b == 0:
                hint = (f"{b} divides {n}: there is no smaller last batch, so n // batch_size + 1 counts one too "
                        "many; round up with math.ceil(n / batch_size)")
            elif b > n:
                hint = "a batch larger than the data set is simply the whole data set"
            fail(f"{call}: expected {expected}, got {got}", hint)
    passed(f"updates per epoch right in all {len(cases)} cases (full batch, SGD, mini-batch, drop_last)")


def _loss_at(runs: list[Any], key: str, budget: float) -> float:
    """Mean over seeds of the last evaluated training loss with ``key`` <= budget."""
    values = []
    for h in runs:
        ok = np.flatnonzero(h.evals[key] <= budget + 1e-9)
        values.append(float(h.evals["train_loss"][ok[-1]]) if ok.size else math.inf)
    return float(np.mean(values))


def _best(cmp: Any, key: str, budget: float) -> tuple[str, dict[str, float]]:
    losses = {v.name: _loss_at(runs, key, budget) for v, runs in zip(cmp.variants, cmp.histories.values())}
    return min(losses, key=losses.get), losses


@checker
def check_axis_reading(cmp: Any, answers: Mapping[str, str]) -> None:
    """Check which variant of the comparison ``cmp`` has the lowest full training loss...

    * ``answers["per_update"]``: after as many updates as the variant that made the
      fewest (the full-batch one: one per epoch);
    * ``answers["per_sample"]``: after one epoch, i.e. N samples seen.

    Answers are variant names (``"batch"``, ``"sgd"``, ``"minibatch"``); the right
    ones are computed from ``cmp`` itself.
    """
    placeholder(answers, "your answers")
    if not hasattr(cmp, "histories") or not hasattr(cmp, "variants"):
        fail(f"the first argument must be the gd.Comparison the notebook computed, got {type(cmp).__name__}")
    if not isinstance(answers, Mapping) or set(answers) != {"per_update", "per_sample"}:
        fail(f"expected a dict with the keys 'per_update' and 'per_sample', got {answers!r}")
    names = [v.name for v in cmp.variants]
    updates = min(min(h.updates for h in runs) for runs in cmp.histories.values())
    questions = {
        "per_update": ("update", updates, f"after {updates} updates"),
        "per_sample": ("samples", cmp.n_train, f"after one epoch ({cmp.n_train} samples)"),
    }
    for key, (axis, budget, when) in questions.items():
        answer = str(answers[key]).strip().lower()
        if answer not in names:
            fail(f"answers[{key!r}] = {answers[key]!r} is not one of the variants {names}")
        best, losses = _best(cmp, axis, budget)
        if answer != best:
            shown = ", ".join(f"{k}: {v:.3g}" for k, v in losses.items())
            hint = ("read the 'per update' panel: compare the curves at the same x" if key == "per_update"
                    else "read the 'per epoch' (or 'per sample seen') panel at 1 epoch")
            fail(f"{key}: {when}, the lowest training loss belongs to {best!r}, not {answer!r} "
                 f"(losses {shown})", hint)
    passed(f"per update, {answers['per_update']!r} is ahead; per sample seen, {answers['per_sample']!r} is ahead")


def _rounded(values: Any) -> list[float]:
    """Values as a short list for a message (float64 first, so float32 noise does not show as 0.013650000095)."""
    return np.round(np.asarray(values, dtype=np.float64).ravel(), 5).tolist()


def _mistaken_loop(model: Any, loss_fn: Any, X: np.ndarray, y: np.ndarray, batch_size: int, lr: float,
                   epochs: int, seed: int, mistake: str) -> None:
    """The right training loop with one typical ``mistake``, to recognise it in a student's result:
    "no zero_grad", "new loader each epoch" or "no shuffle"."""
    from tinygrad_mb import data, optim  # noqa: PLC0415

    def make_loader() -> Any:
        return data.DataLoader(data.TensorDataset(X, y), batch_size=batch_size,
                               shuffle=mistake != "no shuffle", seed=seed)

    loader = make_loader()
    opt = optim.SGD(model.parameters(), lr=lr)
    for _ in range(epochs):
        for xb, yb in make_loader() if mistake == "new loader each epoch" else loader:
            loss = loss_fn(model(xb), yb)
            if mistake != "no zero_grad":
                opt.zero_grad()
            loss.backward()
            opt.step()


#: Typical mistakes in the loop, and what to say when a student's result matches one of them.
LOOP_MISTAKES = {
    "no zero_grad": "without zero_grad() the gradients of all steps add up: call it before every backward()",
    "new loader each epoch": "the DataLoader must be created ONCE, before the epoch loop: each pass over it then "
                             "draws a fresh order, while a new loader with the same seed repeats the first order",
    "no shuffle": "shuffle: DataLoader(TensorDataset(X, y), batch_size, shuffle=True, seed=seed)",
}


def _loop_hint(got: dict[str, Any], ds: Any, loss_fn: Any, batch_size: int, lr: float, epochs: int) -> str:
    """Name the mistake whose result the student's parameters match, or say what to compare."""
    from tinygrad_mb import gd, nn  # noqa: PLC0415

    def same(model: Any) -> bool:
        return all(np.allclose(got[k], v, rtol=1e-5, atol=1e-6) for k, v in model.state_dict().items())

    if same(nn.Linear(3, 1, seed=1)):
        return ("the weights did not move: train the model you were given, in place, and per batch call "
                "zero_grad(), loss.backward(), optimizer.step() in that order (zero_grad() between backward() and "
                "step() wipes the gradients before the step can use them)")
    for mistake, hint in LOOP_MISTAKES.items():
        model = nn.Linear(3, 1, seed=1)
        _mistaken_loop(model, loss_fn, ds.X.copy(), ds.y.copy(), batch_size, lr, epochs, 0, mistake)
        if same(model):
            return hint
    # 1 too: without the epoch loop (or with a `return` inside it) a loop trains one epoch whatever `epochs` is
    for other in sorted({1, epochs - 1, epochs + 1} - {0, epochs}):
        model = nn.Linear(3, 1, seed=1)
        gd.train(model, loss_fn, ds, gd.Variant("mine", batch_size, lr), epochs=other, seed=0)
        if same(model):
            if other == 1:
                return ("that is one pass over the data: repeat it `epochs` times -- `for _ in range(epochs):` "
                        "around the loop over the loader, with no return or break inside")
            return f"that is {other} epochs of training: make exactly `epochs` passes over the loader"
    return ("compare your loop with gd.train line by line: one DataLoader(TensorDataset(X, y), batch_size, "
            "shuffle=True, seed=seed), optim.SGD(model.parameters(), lr=lr), `epochs` passes, and per batch: "
            "loss, zero_grad(), backward(), step()")


@checker
def check_training_loop(fn: Callable[..., Any]) -> None:
    """Check ``fn(model, loss_fn, X, y, batch_size, lr, epochs, seed)``, a hand-written training loop.

    It must train ``model`` in place exactly as ``gd.train`` does with
    ``gd.Variant("mine", batch_size, lr)``: a ``DataLoader`` over
    ``TensorDataset(X, y)`` created once, shuffling with ``seed`` (when the batch
    is smaller than the data), ``optim.SGD(model.parameters(), lr)``, and per
    batch: loss, zero_grad, backward, step. Checked for batch sizes N, 1 and 7.
    """
    from tinygrad_mb import gd, nn  # noqa: PLC0415
    from tinygrad_mb.data import linear_regression  # noqa: PLC0415

    ds = linear_regression(n=20, d=3, noise=0.3, seed=5)
    loss_fn = nn.MSELoss()
    for batch_size, lr, epochs in ((20, 0.2, 3), (1, 0.02, 2), (7, 0.05, 3)):
        mine, ref = nn.Linear(3, 1, seed=1), nn.Linear(3, 1, seed=1)
        run(fn, mine, loss_fn, ds.X.copy(), ds.y.copy(), batch_size, lr, epochs, 0, what="your training loop")
        gd.train(ref, loss_fn, ds, gd.Variant("mine", batch_size, lr), epochs=epochs, seed=0)
        got, want = mine.state_dict(), ref.state_dict()
        for name in want:
            if not np.allclose(got[name], want[name], rtol=1e-5, atol=1e-6):
                fail(f"batch_size={batch_size}, lr={lr}, {epochs} epochs on 20 samples: {name} is "
                     f"{_rounded(got[name])}, gd.train gives {_rounded(want[name])}",
                     _loop_hint(got, ds, loss_fn, batch_size, lr, epochs))
    passed("your loop matches gd.train for batch sizes N = 20, 1 and 7: one loop, three variants")
