"""Section ``overhead``: what one tracked op costs on a tiny tensor.

On a 1-element tensor the arithmetic is free, so the time of ``a + b`` is
pure bookkeeping: creating the output Tensor, recording the op in the graph
(``requires_grad=True``), dispatching to NumPy. The bare NumPy call on the
same arrays is the floor. At batch size 1 a training step is dozens of such
ops, which is why small batches cannot use the hardware well.
"""

from __future__ import annotations

import numpy as np

from benchmarks import torch_mlp
from benchmarks.timing import time_statements

# op -> (statement on 1-element a, b / 2x2 A, B), the same text for every library
OPS = {
    "add": "a + b",
    "mul": "a * b",
    "matmul (2x2)": "A @ B",
    "relu": "a.relu()",
}
NUMPY_OPS = {
    "add": "np.add(a, b)",
    "mul": "np.multiply(a, b)",
    "matmul (2x2)": "np.matmul(A, B)",
    "relu": "np.maximum(a, 0)",
}
TORCH_OPS = {**OPS, "relu": "torch.relu(a)"}


def _arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "a": rng.standard_normal(1).astype(np.float32),
        "b": rng.standard_normal(1).astype(np.float32),
        "A": rng.standard_normal((2, 2)).astype(np.float32),
        "B": rng.standard_normal((2, 2)).astype(np.float32),
    }


def measure(repeats: int, target_s: float) -> dict:
    """``{"per_call_s": {library: {op: [seconds per call, ...]}}, "notes": {...}}``."""
    arrays = _arrays()
    statements: dict[str, tuple[str, dict]] = {}
    notes: dict[str, str] = {}
    np_ns = {"np": np, **arrays}
    for op, stmt in NUMPY_OPS.items():
        statements[f"numpy|{op}"] = (stmt, np_ns)
    try:
        from tinygrad_mb.tensor import Tensor

        tg_ns = {k: Tensor(v.copy(), requires_grad=True) for k, v in arrays.items()}
    except Exception as exc:  # the library may not exist yet
        notes["tinygrad_mb"] = f"not available: {type(exc).__name__}: {exc}"
        tg_ns = None
    for op, stmt in OPS.items() if tg_ns is not None else ():
        try:
            eval(stmt, {}, dict(tg_ns))  # our own fixed statement; fail before timing
            statements[f"tinygrad_mb|{op}"] = (stmt, tg_ns)
        except Exception as exc:
            notes[f"tinygrad_mb {op}"] = f"not available: {type(exc).__name__}: {exc}"
    reason = torch_mlp.unavailable()
    if reason is None:
        import torch

        torch_ns = {"torch": torch, **{k: torch.from_numpy(v.copy()).requires_grad_() for k, v in arrays.items()}}
        for op, stmt in TORCH_OPS.items():
            statements[f"PyTorch|{op}"] = (stmt, torch_ns)
        with torch_mlp.torch_threads(1):
            timings = time_statements(statements, repeats, target_s)
    else:
        notes["PyTorch"] = f"not available: {reason}"
        timings = time_statements(statements, repeats, target_s)
    per_call: dict[str, dict[str, list[float]]] = {}
    for key, values in timings.items():
        lib, op = key.split("|")
        per_call.setdefault(lib, {})[op] = values
    return {"per_call_s": per_call, "notes": notes, "statements": {
        "numpy": NUMPY_OPS, "tinygrad_mb": OPS, "PyTorch": TORCH_OPS}}
