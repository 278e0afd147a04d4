"""Section ``gpu``: the throughput curve on a GPU, when CuPy and a GPU are usable.

Same problem, same weights, batch sizes 1 to 65,536. Implementations:
tinygrad_mb on CuPy, the hand-written MLP of :mod:`benchmarks.numpy_mlp` run on
CuPy (the practical GPU limit for an array-library engine), tinygrad_mb on
NumPy for contrast, and PyTorch CUDA when available. GPU calls return before
the GPU has finished, so every timing synchronises before the clock stops.

On a machine without CuPy or a GPU the section is skipped with the reason.
"""

from __future__ import annotations

from functools import partial

from benchmarks import numpy_mlp, tinygrad_mlp, torch_mlp
from benchmarks.throughput import TINYGRAD, TORCH, Impl, agreement, measure

HANDWRITTEN_CUPY = "hand-written CuPy"
GPU_BATCH_SIZES = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536)


def gpu_unavailable() -> str | None:
    """None when CuPy imports and can run a kernel on a GPU, else why not."""
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return "CuPy found no GPU"
        (cupy.arange(4) * 2).sum().item()  # compiles and runs a kernel: the real test
    except Exception as exc:  # any failure means "skip"
        return f"CuPy/GPU not usable: {type(exc).__name__}: {exc}"
    return None


def device_name() -> str:
    """The GPU's name, as CUDA reports it."""
    import cupy

    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def gpu_impls() -> tuple[list[Impl], dict[str, str]]:
    """The implementations of this section that can run here, and notes on the others."""
    import cupy

    impls = [Impl(HANDWRITTEN_CUPY, None, partial(numpy_mlp.NumpyMLP, xp=cupy), sync=True)]
    skipped = {}
    reason = tinygrad_mlp.unavailable()
    if reason is None:
        impls.insert(0, Impl(TINYGRAD, None, partial(tinygrad_mlp.TinygradMLP, backend="cupy"),
                             sync=True, device="CuPy"))
        impls.append(Impl(TINYGRAD, None, tinygrad_mlp.TinygradMLP, device="NumPy"))
    else:
        skipped[TINYGRAD] = f"not available: {reason}"
    reason = torch_mlp.unavailable()
    if reason is None:
        import torch

        if torch.cuda.is_available():
            impls.append(Impl(TORCH, None, partial(torch_mlp.TorchMLP, device="cuda"), sync=True, device="CUDA"))
        else:
            skipped[TORCH] = "installed without CUDA support (CPU build), or no CUDA device"
    else:
        skipped[TORCH] = f"not available: {reason}"
    return impls, skipped


def run(batch_sizes: tuple[int, ...], repeats: int, target_s: float, settle_s: float = 0.0) -> dict:
    """Measure the section, or return ``{"skipped": reason}``."""
    reason = gpu_unavailable()
    if reason is not None:
        print(f"  gpu: skipped ({reason})", flush=True)
        return {"skipped": reason}
    impls, skipped = gpu_impls()
    return {
        "device": device_name(),
        "batch_sizes": list(batch_sizes),
        "labels": [i.label for i in impls],
        "results": measure(impls, batch_sizes, repeats, target_s, settle_s),
        "skipped": skipped,
        "agreement": agreement(impls),
    }
