"""Section ``memory``: does a long batch-size-1 training run leak?

A worker subprocess (clean: nothing else loaded) trains the 784-128-10 MLP
with the real tinygrad_mb loop -- ``model(x)``, ``F.cross_entropy``,
``loss.backward()``, ``optim.SGD.step()`` -- for 100,000 updates at batch
size 1, reading its resident set size (VmRSS in ``/proc/self/status``) every
1,000 updates, together with its peak (VmHWM), so that a peak between two
samples is seen too. Each step builds a fresh graph; if the engine kept any of
them alive, RSS would climb steadily. The hand-written NumPy MLP runs the same
loop as a control (it allocates nothing per step after the first). Both run on
one BLAS thread, as ``gd.train`` does at batch size 1. A run that hits the
time cap before its last update is reported as incomplete, not as a result.

Run one worker by hand: ``python -m benchmarks.memory --worker tinygrad_mb``.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import time
from collections.abc import Iterator

import numpy as np

from benchmarks.endtoend import REPO, subprocess_env, tail

N_SAMPLES = 1024  # a small random dataset, cycled through one sample at a time


def _status(key: str) -> int:
    """A ``/proc/self/status`` memory field in bytes (0 where there is no /proc)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _tinygrad_loop(weights: dict, x: np.ndarray, y: np.ndarray) -> Iterator:
    """Yields once per update: the user's loop, fed batches of one from a DataLoader if there is one."""
    import tinygrad_mb.nn.functional as F
    from tinygrad_mb import optim
    from tinygrad_mb.tensor import Tensor

    from benchmarks.tinygrad_mlp import build_model

    model = build_model(weights)
    opt = optim.SGD(model.parameters(), lr=0.01)
    try:
        from tinygrad_mb.data import DataLoader, TensorDataset

        loader = DataLoader(TensorDataset(x, y), batch_size=1, shuffle=True, seed=0)
        batches = (b for _ in iter(int, 1) for b in loader)  # endless epochs
        yield "DataLoader(TensorDataset(X, y), batch_size=1, shuffle=True)"
    except Exception:  # no DataLoader yet: slice by hand
        batches = ((Tensor(x[i:i + 1]), Tensor(y[i:i + 1])) for _ in iter(int, 1) for i in range(len(x)))
        yield "Tensor(X[i:i+1]), Tensor(y[i:i+1]) (no DataLoader available)"
    for xb, yb in batches:
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        yield loss


def _numpy_loop(weights: dict, x: np.ndarray, y: np.ndarray) -> Iterator:
    from benchmarks.numpy_mlp import NumpyMLP

    model = NumpyMLP(weights)
    yield "x[i:i+1], y[i:i+1] slices"
    while True:
        for i in range(len(x)):
            yield model.step(x[i:i + 1], y[i:i + 1])


def worker(kind: str, updates: int, every: int, time_cap_s: float) -> dict:
    """Train ``updates`` steps (or until ``time_cap_s``), sampling RSS every ``every`` updates."""
    from benchmarks.problem import initial_weights, random_batch

    from threadpoolctl import threadpool_limits

    x, y = random_batch(N_SAMPLES, seed=7)
    rss_start = _status("VmRSS:")
    loop = (_tinygrad_loop if kind == "tinygrad_mb" else _numpy_loop)(initial_weights(), x, y)
    feed = next(loop)
    samples, peaks, start, done = [], [], time.perf_counter(), 0
    with threadpool_limits(limits=1, user_api="blas"):  # as gd.train at batch size 1
        for done in range(1, updates + 1):
            next(loop)
            if done % every == 0:
                samples.append((done, _status("VmRSS:")))
                peaks.append((done, _status("VmHWM:")))
                if time.perf_counter() - start > time_cap_s:
                    break
    seconds = time.perf_counter() - start
    return {"kind": kind, "feed": feed, "updates": done, "requested": updates, "seconds": seconds,
            "rss_start": rss_start, "samples": samples, "peaks": peaks, "peak_rss": _status("VmHWM:")}


TIME_CAP_S = 600.0  # a safety net: a full run takes under a minute at batch size 1 on one thread


def measure(updates: int = 100_000, every: int = 1_000, time_cap_s: float = TIME_CAP_S) -> dict:
    """Run the tinygrad_mb worker and the NumPy control, each in its own fresh process."""
    out = {}
    for kind in ("tinygrad_mb", "numpy"):
        cmd = [sys.executable, "-m", "benchmarks.memory", "--worker", kind, "--updates", str(updates),
               "--every", str(every), "--time-cap", str(time_cap_s)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=subprocess_env(),
                              timeout=time_cap_s * 3 + 60)
        if proc.returncode != 0:
            out[kind] = {"error": f"not available: {tail(proc.stderr)}"}
            continue
        r = ast.literal_eval(proc.stdout.strip().splitlines()[-1])
        rss = [v for _, v in r["samples"]]
        if rss:
            r["rss_first_sample"] = rss[0]
            r["rss_max_after"] = max(rss)
            r["growth"] = max(rss) - rss[0]
            r["peak_growth"] = r["peak_rss"] - r["peaks"][0][1]  # the peak since the first sample
        r["complete"] = r["updates"] >= r.get("requested", updates)
        out[kind] = r
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=("tinygrad_mb", "numpy"), required=True)
    parser.add_argument("--updates", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=1_000)
    parser.add_argument("--time-cap", type=float, default=TIME_CAP_S)
    a = parser.parse_args()
    print(repr(worker(a.worker, a.updates, a.every, a.time_cap)))
