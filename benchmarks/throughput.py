"""Section ``mlp``: training-step throughput against batch size.

For every batch size, every implementation gets a fresh model with the same
initial weights and the same random batch, already in its own format (as data
on the device would be). Then all of them are timed interleaved, many steps
per timing, in round orders shuffled with a seed of their own for each batch
size (see :mod:`benchmarks.timing`). Throughput = batch size / seconds per
step.

Before any timing, :func:`agreement` checks that every implementation computes
the same training steps as the hand-written one; a run in which one does not
is reported as such, and its speed targets are not judged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from benchmarks import numpy_mlp, tinygrad_mlp, torch_mlp
from benchmarks.problem import initial_weights, random_batch
from benchmarks.timing import Case, blas_threads, run_interleaved

NUMPY, TORCH, TINYGRAD = "hand-written NumPy", "PyTorch", "tinygrad_mb"


@dataclass
class Impl:
    """One implementation at one thread setting."""

    name: str
    threads: int | None
    build: Callable[[dict], Any]  # weights -> model with prepare / step / synchronize / weights
    context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    sync: bool = False  # GPU work is asynchronous: synchronise before stopping the clock
    device: str = ""  # shown in the label when set, e.g. "CuPy"

    @property
    def kind(self) -> str:
        """The label without the thread count."""
        return f"{self.name} ({self.device})" if self.device else self.name

    @property
    def label(self) -> str:
        if self.threads is None:
            return self.kind
        return f"{self.kind}, {self.threads} thread{'s' if self.threads > 1 else ''}"


def cpu_impls(threads: tuple[int, ...] = (1, 2)) -> tuple[list[Impl], dict[str, str]]:
    """The CPU implementations that can run here, and a note for each one that cannot."""
    impls, skipped = [], {}
    for t in threads:
        impls.append(Impl(NUMPY, t, numpy_mlp.NumpyMLP, partial(blas_threads, t)))
    reason = torch_mlp.unavailable()
    if reason is None:
        impls += [Impl(TORCH, t, torch_mlp.TorchMLP, partial(torch_mlp.torch_threads, t)) for t in threads]
    else:
        skipped[TORCH] = f"not available: {reason}"
    reason = tinygrad_mlp.unavailable()
    if reason is None:
        impls += [Impl(TINYGRAD, t, tinygrad_mlp.TinygradMLP, partial(blas_threads, t)) for t in threads]
    else:
        skipped[TINYGRAD] = f"not available: {reason}"
    return impls, skipped


def measure(impls: list[Impl], batch_sizes: tuple[int, ...], repeats: int, target_s: float,
            settle_s: float = 0.0) -> dict:
    """``{label: {batch_size: {"seconds": [...], "steps_per_timing": n} or {"error": msg}}}``."""
    weights = initial_weights()
    results: dict[str, dict[int, dict]] = {impl.label: {} for impl in impls}
    for bs in batch_sizes:
        x, y = random_batch(bs)
        cases = []
        for impl in impls:
            try:
                model = impl.build(weights)
                xb, yb = model.prepare(x, y)
            except Exception as exc:  # report it, measure the rest
                results[impl.label][bs] = {"error": f"not available: {type(exc).__name__}: {exc}"}
                continue
            sync = model.synchronize if impl.sync else None
            cases.append(Case(impl.label, partial(model.step, xb, yb), impl.context, sync))
        run_interleaved(cases, repeats, target_s, settle_s, seed=bs)  # each size its own sequence of orders
        for case in cases:
            if case.error is not None:
                results[case.label][bs] = {"error": case.error}
            else:
                results[case.label][bs] = {"seconds": case.seconds_per_step, "cpu_seconds": case.cpu_seconds_per_step,
                                           "steps_per_timing": case.steps_per_timing}
        print(f"  batch {bs:>6}: " + ", ".join(
            f"{c.label} {bs / np.median(c.seconds_per_step):,.0f}/s" if c.error is None else f"{c.label} FAILED"
            for c in cases), flush=True)
    return results


AGREE_MAX_ABS_DIFF = 1e-5  # float32 rounding leaves ~1e-7 after a few steps; a wrong gradient leaves far more


def _train(impl: Impl, weights: dict, batch_size: int, steps: int) -> tuple[float, dict]:
    """The first step's loss and the weights after ``steps`` steps on one fixed batch."""
    model = impl.build(weights)
    xb, yb = model.prepare(*random_batch(batch_size))
    loss = float(model.step(xb, yb).item())
    for _ in range(steps - 1):
        model.step(xb, yb)
    return loss, model.weights()


def agreement(impls: list[Impl], batch_sizes: tuple[int, ...] = (1, 32), steps: int = 3) -> dict[str, dict]:
    """``steps`` steps from the same start on the same batch: does everyone land on the same weights?

    Done at each of ``batch_sizes`` (a small one and a large one take different
    code paths in BLAS and in the engine). Returns, per implementation (without
    thread count), the loss of the first step at the first batch size and the
    largest absolute weight difference from the hand-written step's weights,
    over all the batch sizes; or the error raised.
    """
    weights = initial_weights()
    out: dict[str, dict] = {}
    reference: dict[int, dict] = {}
    kinds = {impl.kind: impl for impl in impls}  # one per kind: threads change no numbers
    for kind in sorted(kinds, key=lambda k: not k.startswith("hand-written")):
        try:
            trained = {bs: _train(kinds[kind], weights, bs, steps) for bs in batch_sizes}
        except Exception as exc:
            out[kind] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        diff = 0.0
        for bs, (_, after) in trained.items():
            ref = reference.setdefault(bs, after)
            diff = max(diff, *(float(np.max(np.abs(after[k] - ref[k]))) for k in ref))
        out[kind] = {"loss": trained[batch_sizes[0]][0], "max_abs_weight_diff": diff,
                     "batch_sizes": list(batch_sizes), "steps": steps}
    return out


def disagreements(agree: dict[str, dict]) -> list[str]:
    """Each implementation whose weights left the hand-written ones by more than the tolerance, or that failed."""
    return [f"{kind}: {entry['error']}" if "error" in entry
            else f"{kind}: max |Δw| {entry['max_abs_weight_diff']:.1e} > {AGREE_MAX_ABS_DIFF:.0e}"
            for kind, entry in agree.items()
            if "error" in entry or not entry["max_abs_weight_diff"] <= AGREE_MAX_ABS_DIFF]
