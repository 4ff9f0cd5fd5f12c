"""What the fused recurrent ops (FusedLSTM, FusedGRU, FusedSimpleRNN) share: one float type, packing the
unmasked (step, row) pairs (docs/lstm.md, "Masked steps"), the products of a recurrence with Keras's
recurrent dropout masks (docs/recurrent.md), and running blocks of a batch's rows side by side."""
from __future__ import annotations

import ctypes
import functools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

from . import kernels

# Side by side: a batch's rows never meet in a recurrence, so blocks of rows run in a thread per core, with
# BLAS held to one thread each (why: docs/lstm.md, "The fused LSTM", point 5).
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
ROWS_PER_BLOCK = 16  # at least this many rows per block: smaller products gain nothing from a thread


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, KEPT_FREE_BYTES, MMAP_BYTES = -1, -3, 256 << 20, 32 << 20  # mallopt's (malloc.h)


@functools.cache
def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep up to 256 MB of freed memory for reuse rather than hand it back to the
    system; True when it agreed (False elsewhere: macOS, Windows, musl keep their own allocator's policy, and
    with TINYGRAD_EMBED_KEEP_MEMORY=0). Why: a training step frees its arrays and allocates them again in the
    next step; glibc gave them back each time (its heap's top trimmed past 2x its mmap threshold), so every
    array came back as fresh pages, zeroed by the kernel on first touch: half the Transformer classifier's
    step (100 -> 58 ms), a fifth of a masked LSTM step (3,600 page faults each). Arrays over 32 MB are still
    mapped and unmapped on their own. The cost: a process keeps the memory of its largest step (at most
    256 MB more) while it runs."""
    if os.environ.get("TINYGRAD_EMBED_KEEP_MEMORY") == "0":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, KEPT_FREE_BYTES))


keep_freed_memory()  # on import: every fused recurrence and attention step allocates this way


def one_float_type(op: str, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """The arrays in their common type, float32 or float64, C-ordered: what the kernels (and BLAS in them) read."""
    dtype = np.result_type(*arrays)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"{op} runs in float32 or float64, got inputs of type {dtype}")
    return tuple(np.ascontiguousarray(a, dtype) for a in arrays)


def pack_steps(mask: np.ndarray | None, batch: int, steps: int):
    """(offsets, packed_rows, packed_steps): step t's unmasked rows are packed_rows[offsets[t]:offsets[t + 1]]."""
    active = np.ones((steps, batch), bool) if mask is None else np.asarray(mask, bool).T
    # contiguous copies of nonzero's strided views: numba compiles a kernel once per layout (each loop twice)
    packed_steps, packed_rows = map(np.ascontiguousarray, np.nonzero(active))
    return np.concatenate([[0], np.cumsum(np.count_nonzero(active, axis=1))]), packed_rows, packed_steps


def gates_of(masks: np.ndarray | None, batch: int, width: int, dtype: np.dtype) -> np.ndarray:
    """Dropout masks as the kernels take them: (gates, batch, width), C-ordered; no gates for none."""
    return np.zeros((0, batch, width), dtype) if masks is None else np.ascontiguousarray(masks, dtype)


def joined_masks(input_masks: np.ndarray | None, recurrent_masks: np.ndarray | None, batch: int,
                 widths: tuple[int, int], dtype: np.dtype) -> np.ndarray:
    """Input and recurrent dropout masks side by side, for products on [x_t | h_{t-1}]: (gates, batch, features
    + units), ones where one of the two is None; no gates for none (Keras draws both with the same count)."""
    count = max((len(m) for m in (input_masks, recurrent_masks) if m is not None), default=0)
    joined = np.ones((count, batch, sum(widths)), dtype)
    joined[:, :, :widths[0]] = 1 if input_masks is None else input_masks
    joined[:, :, widths[0]:] = 1 if recurrent_masks is None else recurrent_masks
    return joined


def dropped_matmul_weight_grad(a: np.ndarray, grad: np.ndarray, masks: np.ndarray | None,
                               rows: np.ndarray) -> np.ndarray:
    """d weights for out = kernels.masked_matmul(., a, weights, masks, rows): (a * mask)^T @ grad, block by block."""
    out = np.zeros((a.shape[1], grad.shape[1]), a.dtype)
    masks = np.zeros((0, 1, a.shape[1]), a.dtype) if masks is None else masks
    kernels.masked_matmul_weight_grad(out, a, grad, masks, rows, np.empty_like(a) if len(masks) else a[:0])  # scratch
    return out


def batch_blocks(batch: int, mask: np.ndarray | None = None) -> list[slice]:
    """Contiguous blocks of the batch's rows, one per core (BLAS permitting): equal in rows, or in unmasked steps."""
    count = max(1, min(CORES, batch // ROWS_PER_BLOCK))
    count = count if count == 1 or _blas() is not None else 1
    work = np.ones(batch) if mask is None or not np.any(mask) else np.count_nonzero(mask, axis=1)
    bounds = [0, *np.searchsorted(np.cumsum(work) - work / 2, work.sum() * np.arange(1, count) / count).tolist(), batch]
    return [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo] or [slice(0, batch)]


def batch_rows(rows: slice, *arrays: np.ndarray | None) -> list[np.ndarray | None]:
    """These rows of each array whose second-to-last axis is the batch's ((batch, k) states and dropout
    masks, (batch, steps) masks, (gates, batch, k) per-gate dropout masks); None stays None."""
    return [None if a is None else np.asarray(a)[..., rows, :] for a in arrays]


def side_by_side(tasks: list[Callable[[], object]]) -> list[object]:
    """Each task's result, the tasks run in threads at once, BLAS on one thread each; one task runs here."""
    if len(tasks) == 1:
        return [tasks[0]()]
    with _blas().limit(limits=1, user_api="blas"):
        others = [_pool().submit(task) for task in tasks[1:]]
        try:
            first = tasks[0]()
        finally:
            results = [other.result() for other in others]  # every thread done before BLAS threads return
    return [first, *results]


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=CORES - 1, thread_name_prefix="tinygrad_embed-rows")


@functools.cache
def _blas():
    """threadpoolctl's handle on the BLAS libraries loaded; None when it finds none it can hold to one thread."""
    from threadpoolctl import ThreadpoolController
    controller = ThreadpoolController().select(user_api="blas")
    return controller if controller.lib_controllers else None
