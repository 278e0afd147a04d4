"""What the numbers were measured on: CPU, OS, Python and library versions, BLAS."""

from __future__ import annotations

import datetime
import os
import platform
import re
import sys

import numpy as np


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (Linux), else what platform knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cores() -> str:
    """Logical CPUs, and physical cores when psutil can tell."""
    logical = os.cpu_count()
    try:
        import psutil

        physical = psutil.cpu_count(logical=False)
    except Exception:
        physical = None
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else logical
    text = f"{logical} logical"
    if physical:
        text += f", {physical} physical"
    if usable != logical:
        text += f", {usable} usable by this process"
    return text


def numpy_blas() -> str:
    """NumPy's BLAS as threadpoolctl sees it at run time (library, version, kernel, threads)."""
    try:
        from threadpoolctl import threadpool_info

        libs = [i for i in threadpool_info() if i.get("user_api") == "blas" and "numpy" in i.get("filepath", "")]
        libs = libs or [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if libs:
            i = libs[0]
            return (f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')} kernels, "
                    f"{i.get('num_threads')} threads by default)")
    except Exception:  # fall back to the build-time configuration
        pass
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception:
        return "unknown"


def torch_info() -> str:
    """PyTorch's version and BLAS, or why it is absent."""
    try:
        import torch
    except Exception as exc:
        return f"not available ({type(exc).__name__})"
    found = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    return f"{torch.__version__}" + (f", BLAS {found.group(1)}" if found else "")


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages: runnable threads, this process's own included."""
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def cpu_times(stat: str | None = None) -> list[int] | None:
    """The machine's CPU time so far, by kind, from the ``cpu`` line of /proc/stat (Linux; else None).

    Fields, in clock ticks: user nice system idle iowait irq softirq steal ...
    """
    try:
        if stat is None:
            with open("/proc/stat") as f:
                stat = f.read()
        fields = next(line.split() for line in stat.splitlines() if line.startswith("cpu "))
        return [int(v) for v in fields[1:9]]  # guest time is counted in user already: leave it out
    except (OSError, StopIteration, ValueError):
        return None


def steal_share(before: list[int] | None, after: list[int] | None) -> str:
    """The share of the machine's CPU time the hypervisor gave to other guests between two ``cpu_times``."""
    if not before or not after or len(before) < 8 or len(after) < 8:
        return "unknown"
    delta = [b - a for a, b in zip(before, after)]
    total = sum(delta)
    return f"{100 * delta[7] / total:.1f}% of CPU time (/proc/stat)" if total > 0 else "unknown"


def describe(command: str) -> dict[str, str]:
    """Everything the report's machine table shows, as strings."""
    return {
        "CPU": cpu_model(),
        "cores": cores(),
        "OS": platform.platform(),
        "Python": sys.version.split()[0],
        "NumPy": np.__version__,
        "NumPy BLAS": numpy_blas(),
        "PyTorch": torch_info(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "load average at start (1/5/15 min)": load_average(),
    }
