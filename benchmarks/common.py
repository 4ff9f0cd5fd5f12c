"""Timing helpers shared by the benchmarks: interleaved runs, medians, because these machines are
shared and noisy and only ratios taken in one run mean much."""
from __future__ import annotations

import platform
import time
from typing import Callable

import numpy as np


def interleaved_medians(candidates: dict[str, Callable[[], object]], repeats: int = 15,
                        warmup: int = 2) -> dict[str, float]:
    """Run each candidate once per round, A B C A B C ..., and return each one's median seconds."""
    for _ in range(warmup):
        for run in candidates.values():
            run()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, run in candidates.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def torch_or_none():
    try:
        import torch
    except ImportError:
        return None
    return torch


def cpu_name() -> str:
    """The CPU's model name: ratios differ between machines of the same kind (AVX2, AVX-512)."""
    try:
        with open("/proc/cpuinfo") as info:
            return next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"
