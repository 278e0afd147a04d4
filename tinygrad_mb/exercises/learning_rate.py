"""Checkers for notebook 05, learning rate and batch size.

* :func:`check_stable_lr` -- the largest stable learning rate 2/L of batch GD on a least-squares loss
* :func:`check_lr_for_batch_size` -- scale a learning rate to a new batch size (linear / square-root rule, capped)
* :func:`check_warmup_cosine` -- a linear warm-up followed by a cosine decay to zero
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_mb.exercises._common import as_number, checker, fail, passed, rtol_for, run, show_both

#: Float32 answers are right to about 7 digits; every mistake the hints look for is off by far more.
RTOL = 1e-5


@checker
def check_stable_lr(fn: Callable[[np.ndarray], Any]) -> None:
    """Check ``fn(X)``: the stability limit 2/L of gradient descent on f(w) = mean((X w - y)^2).

    The Hessian is ``H = (2/N) X^T X`` (no factor 1/2 in this loss), ``L`` its
    largest eigenvalue, and gradient descent converges for every start exactly
    when ``0 < lr < 2/L``.
    """
    rng = np.random.default_rng(3)
    cases = [rng.standard_normal((200, 3)), rng.standard_normal((50, 4)) * np.array([1.0, 3.0, 0.2, 1.0]),
             np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])]
    for X in cases:
        answer = run(fn, X.copy(), what="your stable_lr")
        got = as_number(answer, "your stable_lr", "np.linalg.eigvalsh(H) returns all the eigenvalues, in "
                        "ascending order: L is the largest one, eigvalsh(H)[-1]")
        rtol = rtol_for(answer, RTOL)
        n = len(X)
        eig = np.linalg.eigvalsh(X.T @ X / n)
        want = 2 / (2 * eig[-1])
        if not math.isclose(got, want, rel_tol=rtol):
            hint = None
            if math.isclose(got, 2 * want, rel_tol=rtol):
                hint = "the Hessian of mean((Xw - y)^2) is (2/N) X^T X: this loss has no factor 1/2"
            elif math.isclose(got, want / 2, rel_tol=rtol):
                hint = "that is 1/L, the best step for the top direction; the limit of stability is 2/L"
            elif math.isclose(got, 2 * eig[-1], rel_tol=rtol):
                hint = "that is L itself, the largest eigenvalue of H; the learning rate limit is 2/L"
            elif math.isclose(got, 1 / (2 * eig[0]), rel_tol=rtol) or math.isclose(got, 1 / eig[0], rel_tol=rtol):
                hint = "use the LARGEST eigenvalue: the steepest direction is the first to blow up"
            elif math.isclose(got * n, want, rel_tol=rtol):
                hint = "the loss is a MEAN over the N samples: the Hessian is (2/N) X^T X, not 2 X^T X"
            elif math.isclose(got, 2 / (2 * eig.sum()), rel_tol=rtol):
                hint = "the trace sums all eigenvalues; L is the largest one (np.linalg.eigvalsh(H)[-1])"
            elif math.isclose(got, 1 / np.linalg.eigvalsh(_with_ones(X).T @ _with_ones(X) / n)[-1], rel_tol=rtol):
                hint = ("that is the limit for X with a column of ones added (a bias, as in section 1); this f "
                        "has no bias: build H from X itself")
            shown_want, shown_got = show_both(want, got)
            fail(f"X of shape {X.shape}: expected 2/L = {shown_want}, got {shown_got}", hint)
    passed("2/L with L = largest eigenvalue of (2/N) X^T X: right on all 3 data sets")


def _with_ones(X: np.ndarray) -> np.ndarray:
    """X with a column of ones appended: the design matrix of a model with a bias."""
    return np.column_stack([X, np.ones(len(X))])


#: What to say when the answer is max_lr whatever the batch size.
CAP_ONLY = "max_lr is only a cap: return the rate scaled to the batch size, and max_lr only when that is larger " \
           "-- min(scaled, max_lr)"


def _returns_max_lr(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` gives max_lr (0.85) where the scaled rate, 0.2, is below it. A ``return max_lr`` gives
    None when no cap is passed, which would otherwise read as a missing ``return``."""
    try:
        capped = float(np.asarray(fn(0.1, 32, 64, "linear", max_lr=0.85), dtype=np.float64).reshape(-1)[0])
    except Exception:  # the student's code may raise anything, or return something that is not a number
        return False
    return math.isclose(capped, 0.85, rel_tol=RTOL)


@checker
def check_lr_for_batch_size(fn: Callable[..., Any]) -> None:
    """Check ``fn(ref_lr, ref_batch, batch, rule, max_lr=None)``.

    ``rule="linear"``: ``ref_lr * batch / ref_batch``; ``rule="sqrt"``:
    ``ref_lr * sqrt(batch / ref_batch)``; either way at most ``max_lr`` when given
    (the stability limit does not grow with the batch).
    """
    cases = [((0.1, 32, 128, "linear"), {}, 0.4), ((0.1, 32, 8, "linear"), {}, 0.025),
             ((0.1, 32, 128, "sqrt"), {}, 0.2), ((0.1, 32, 8, "sqrt"), {}, 0.05),
             ((0.1, 32, 32, "sqrt"), {}, 0.1), ((0.1, 32, 512, "linear"), {"max_lr": 0.85}, 0.85),
             ((0.1, 32, 64, "linear"), {"max_lr": 0.85}, 0.2), ((0.01, 1, 100, "sqrt"), {"max_lr": 1.0}, 0.1)]
    for args, kwargs, want in cases:
        answer = run(fn, *args, what="your lr_for_batch_size", **kwargs)
        call = f"lr_for_batch_size({', '.join(map(repr, args))}" + \
            (f", max_lr={kwargs['max_lr']})" if kwargs else ")")
        if answer is None and not kwargs and _returns_max_lr(fn):
            fail(f"{call} returned None, and with max_lr=0.85 it returns 0.85: it returns max_lr, which is None "
                 "when no cap is given", CAP_ONLY)
        got = as_number(answer, "your lr_for_batch_size")
        rtol = rtol_for(answer, RTOL)
        if not math.isclose(got, want, rel_tol=rtol):
            ref_lr, ref_b, b, rule = args
            hint = None
            if math.isclose(got, ref_lr * b / ref_b, rel_tol=rtol) and rule == "sqrt":
                hint = "that is the linear rule; the square-root rule scales by sqrt(B / B_ref)"
            elif math.isclose(got, ref_lr * math.sqrt(b / ref_b), rel_tol=rtol) and rule == "linear":
                hint = "that is the square-root rule; the linear rule scales by B / B_ref"
            elif math.isclose(got, ref_lr * ref_b / b, rel_tol=rtol):
                hint = "upside down: a BIGGER batch gets a BIGGER rate (B / B_ref)"
            elif kwargs and math.isclose(got, kwargs["max_lr"], rel_tol=rtol):  # the right answer is below the cap
                hint = CAP_ONLY
            elif kwargs and got > kwargs["max_lr"]:
                hint = "cap the result at max_lr: min(scaled, max_lr)"
            shown_want, shown_got = show_both(want, got)
            fail(f"{call}: expected {shown_want}, got {shown_got}", hint)
    passed(f"linear and square-root scaling, with the cap, right in all {len(cases)} cases")


def _warmup_cosine(t: int, base: float, w: int, total: int) -> float:
    if t < w:
        return base * (t + 1) / w
    if t >= total:
        return 0.0
    return base * 0.5 * (1 + math.cos(math.pi * (t - w) / (total - w)))


@checker
def check_warmup_cosine(fn: Callable[[int, float, int, int], Any]) -> None:
    """Check ``fn(step, base_lr, warmup_steps, total_steps)``, the learning rate at update ``step`` (from 0).

    * warm-up, ``step < warmup_steps``: ``base_lr * (step + 1) / warmup_steps`` (rising to base_lr);
    * then a cosine from ``base_lr`` at ``step = warmup_steps`` down to 0 at ``step = total_steps``:
      ``base_lr * (1 + cos(pi * (step - warmup_steps) / (total_steps - warmup_steps))) / 2``;
    * 0 after ``total_steps``.
    """
    settings = [(0.4, 10, 100), (1.0, 1, 20), (2.0, 5, 6)]
    for base, w, total in settings:
        for t in sorted({0, 1, w // 2, w - 1, w, w + 1, (w + total) // 2, total - 1, total, total + 5}):
            answer = run(fn, t, base, w, total, what="your warmup_cosine")
            got = as_number(answer, "your warmup_cosine")
            want = _warmup_cosine(t, base, w, total)
            # abs_tol: near the end, 1 + cos(...) cancels to a few digits in float32
            rtol, atol = rtol_for(answer, RTOL), 1e-7 * base
            if not math.isclose(got, want, rel_tol=rtol, abs_tol=atol):
                hint = None
                if t < w and math.isclose(got, base * t / w, rel_tol=rtol, abs_tol=atol):
                    hint = "count from step 0: the first update should already use base_lr / warmup_steps, " \
                           "so lr = base_lr * (step + 1) / warmup_steps"
                elif t == w and math.isclose(got, base * (t + 1) / w, rel_tol=rtol, abs_tol=atol):
                    hint = "the warm-up ends before step = warmup_steps: there the cosine starts, at base_lr " \
                           "(warm up while step < warmup_steps, not <=)"
                elif w <= t < total and math.isclose(got, 2 * want, rel_tol=rtol, abs_tol=atol):
                    hint = "you dropped the factor 1/2: (1 + cos) runs from 2 down to 0, so halve it to start " \
                           "the cosine at base_lr"
                elif t >= w and t <= total and math.isclose(
                        got, base * 0.5 * (1 + math.cos(math.pi * t / total)), rel_tol=rtol, abs_tol=atol):
                    hint = "start the cosine where the warm-up ends: use (step - warmup_steps) / " \
                           "(total_steps - warmup_steps)"
                elif t > total:
                    hint = "after total_steps the rate stays at 0"
                shown_want, shown_got = show_both(want, got)
                fail(f"step {t} (base_lr={base}, warmup_steps={w}, total_steps={total}): expected {shown_want}, "
                     f"got {shown_got}", hint)
    passed("linear warm-up then cosine decay to 0: right at every step tested, edges included")
