"""Checkers for notebook 04, gradient noise.

* :func:`check_noise_theory` -- E|g_B - G|^2 for a batch drawn without replacement
* :func:`check_noise_scale` -- the simple noise scale B_simple = tr(Sigma) / |G|^2 from per-sample gradients
* :func:`check_batch_for_noise` -- the smallest batch whose noise is at most a fraction of the signal |G|^2
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_mb.exercises._common import (as_number, checker, fail, passed, returned_none, rtol_for, run,
                                           show_both)

#: Float32 answers are right to about 7 digits; every mistake the hints look for is off by far more.
RTOL = 1e-5


def _theory(trace_sigma: float, b: int, n: int) -> float:
    return trace_sigma / b * (n - b) / (n - 1)


@checker
def check_noise_theory(fn: Callable[[float, int, int], Any]) -> None:
    """Check ``fn(trace_sigma, batch_size, n)`` = tr(Sigma) / B * (N - B) / (N - 1)."""
    cases = [(10.0, 1, 100), (10.0, 4, 100), (3.5, 50, 100), (3.5, 100, 100), (696.6, 32, 1000), (1.0, 999, 1000)]
    for tr, b, n in cases:
        answer = run(fn, tr, b, n, what="your noise formula")
        got = as_number(answer, "your noise formula")
        rtol = rtol_for(answer, RTOL)
        want = _theory(tr, b, n)
        if not math.isclose(got, want, rel_tol=rtol, abs_tol=1e-12):
            hint = None
            if math.isclose(got, tr / b, rel_tol=rtol):
                hint = ("tr(Sigma)/B is the with-replacement variance; a batch drawn without replacement has "
                        "the extra factor (N - B) / (N - 1)")
            elif math.isclose(got, tr / b * (n - b) / n, rel_tol=rtol):
                hint = "the finite-population factor is (N - B) / (N - 1), not (N - B) / N"
            elif b == n:
                hint = "a 'mini-batch' of all N samples IS the full gradient: no noise at all"
            shown_want, shown_got = show_both(want, got)
            fail(f"trace_sigma={tr}, B={b}, N={n}: expected {shown_want}, got {shown_got}", hint)
    passed("E|g_B - G|^2 = tr(Sigma)/B * (N-B)/(N-1): right for B = 1, B = N and in between")


def _noise_scale(g: np.ndarray) -> float:
    G = g.mean(axis=0)
    return float(((g - G) ** 2).sum(axis=1).mean() / (G @ G))


@checker
def check_noise_scale(fn: Callable[[np.ndarray], Any]) -> None:
    """Check ``fn(per_sample_grads)`` = B_simple = tr(Sigma) / |G|^2 for an (N, P) array of gradients.

    ``G`` is the mean row, ``tr(Sigma) = (1/N) sum_i |g_i - G|^2`` (dividing by N:
    the N samples are the whole population).
    """
    rng = np.random.default_rng(4)
    cases = [rng.standard_normal((50, 3)) + np.array([1.0, -2.0, 0.5]),
             rng.standard_normal((8, 5)) * 0.1 + 1.0,
             np.array([[1.0, 0.0], [3.0, 0.0]])]
    for g in cases:
        answer = run(fn, g.copy(), what="your noise scale")
        got = as_number(answer, "your noise scale", "B_simple is one number: tr(Sigma) is the SUM of the variances "
                        "of the P components (.sum()), divided by |G|^2")
        rtol = rtol_for(answer, RTOL)
        want = _noise_scale(g)
        if not math.isclose(got, want, rel_tol=rtol):
            G = g.mean(axis=0)
            tr = ((g - G) ** 2).sum(axis=1).mean()
            hint = None
            if math.isclose(got, tr * len(g) / (len(g) - 1) / (G @ G), rel_tol=rtol):
                hint = "divide by N, not N - 1: the N samples are the whole population here"
            elif math.isclose(got, tr / math.sqrt(G @ G), rel_tol=rtol):
                hint = "divide by the SQUARED norm |G|^2"
            elif math.isclose(got, tr, rel_tol=rtol):
                hint = "that is tr(Sigma); divide it by |G|^2"
            elif math.isclose(got * g.shape[1], want, rel_tol=rtol):
                hint = ("tr(Sigma) is the SUM of the variances of the P components (a mean over the samples, "
                        "a sum over the components), not their mean")
            shown_want, shown_got = show_both(want, got)
            fail(f"per-sample gradients of shape {g.shape}: expected B_simple = {shown_want}, got {shown_got}", hint)
    passed("B_simple = tr(Sigma) / |G|^2: right on all 3 test sets of per-sample gradients")


@checker
def check_batch_for_noise(fn: Callable[[float, float, int, float], Any]) -> None:
    """Check ``fn(trace_sigma, grad_norm_sq, n, ratio)``: the smallest int B with noise <= ratio * |G|^2.

    The noise of a batch drawn without replacement is tr(Sigma)/B * (N-B)/(N-1)
    (see :func:`check_noise_theory`); B must lie in 1..N.
    """
    # The last case has an exact whole-number solution, B = 32 (every step of the computation is exact in
    # floating point): it tells math.ceil(x) from int(x) + 1, which rounds a whole number up one too far.
    cases = [(100.0, 1.0, 1000, 1.0), (100.0, 1.0, 1000, 0.1), (696.6, 56.83, 1000, 0.1), (5.0, 10.0, 50, 1.0),
             (8.894, 0.1318, 1437, 0.5), (1e6, 1.0, 500, 0.01), (63.0, 1.0, 64, 1.0)]
    wants = [next(b for b in range(1, n + 1) if _theory(tr, b, n) <= ratio * g2 * (1 + 1e-12))
             for tr, g2, n, ratio in cases]
    answers = []
    for (tr, g2, n, ratio), want in zip(cases, wants):
        got = run(fn, tr, g2, n, ratio, what="your batch size")
        returned_none(got, "your batch size")
        if isinstance(got, bool) or not isinstance(got, (int, np.integer)):
            whole_float = isinstance(got, (float, np.floating)) and float(got).is_integer()
            fail(f"trace_sigma={tr}, |G|^2={g2}, N={n}, ratio={ratio}: expected the int {want}, got {got!r}",
                 "that is a whole number, but a float (np.ceil returns floats): wrap it in int(...)" if whole_float
                 else "a batch size is a whole number: round UP, since a smaller batch would be too noisy")
        answers.append(got)
    # The smallest B for a factor (N - B)/N instead of (N - B)/(N - 1): right in some cases, off by one in others.
    over_n = [min(n, math.ceil(tr * n / (ratio * g2 * n + tr))) for tr, g2, n, ratio in cases]
    for (tr, g2, n, ratio), want, got in zip(cases, wants, answers):
        if got != want:
            exact = tr * n / (ratio * g2 * (n - 1) + tr)  # the B at which the noise is exactly ratio * |G|^2
            hint = None
            if answers == over_n:
                hint = "the finite-population factor is (N - B) / (N - 1), not (N - B) / N"
            elif got == math.ceil(tr / (ratio * g2)):
                hint = "that ignores sampling without replacement; solve with the (N - B)/(N - 1) factor"
            elif got == want - 1 and got in (math.floor(exact), round(exact)):
                hint = f"round up: B = {got} is still too noisy"
            elif got == want + 1 and exact == want:
                hint = (f"at B = {want} the noise is exactly ratio * |G|^2, which is allowed (at most): int(x) + 1 "
                        "rounds a whole number up one too far, and so does a strict < -- use math.ceil(x), or <=")
            fail(f"trace_sigma={tr}, |G|^2={g2}, N={n}, ratio={ratio}: expected B = {want}, got {got}", hint)
    passed(f"the smallest batch with noise <= ratio * |G|^2 is right in all {len(cases)} cases")
