"""What the fused recurrent ops (FusedLSTM, FusedGRU, FusedSimpleRNN) share: one float type, packing the unmasked (step, row) pairs,
and the matrix products of a recurrence with Keras's recurrent dropout masks.

Packing: only the rows unmasked at a step enter its products and kernels. Those (step, row) pairs are
laid out step after step, so that step t owns packed rows offsets[t]:offsets[t + 1].

Dropout: Keras draws a dropout mask once per batch, of shape (batch, features) for the input and
(batch, units) for the state, and multiplies it in before the products, the same mask at every step.
With recurrent_dropout set, each gate gets masks of its own (Keras's `implementation=1`): a product
with `masks` of shape (gates, batch, k) is then one product per gate block of the weights.
"""
from __future__ import annotations

import numpy as np


def one_float_type(op: str, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """The arrays in their common type, which the step kernels need to be float32 or float64."""
    dtype = np.result_type(*arrays)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"{op} runs in float32 or float64, got inputs of type {dtype}")
    return tuple(a.astype(dtype, copy=False) for a in arrays)


def pack_steps(mask: np.ndarray | None, batch: int, steps: int):
    """(rows unmasked at each step, offsets, packed_rows, packed_steps)."""
    active = np.ones((steps, batch), bool) if mask is None else np.asarray(mask, bool).T
    step_rows = [np.flatnonzero(step) for step in active]
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in step_rows])])
    packed_steps, packed_rows = np.nonzero(active)
    return step_rows, offsets, packed_rows, packed_steps


def _blocks(masks: np.ndarray, width: int):
    """(gate, its column slice) for each mask: one block of the weights per mask."""
    size = width // len(masks)
    return [(g, slice(g * size, (g + 1) * size)) for g in range(len(masks))]


def dropped_matmul(a: np.ndarray, weights: np.ndarray, masks: np.ndarray | None, rows: np.ndarray,
                   out: np.ndarray) -> None:
    """out = (a * mask[rows]) @ weights, block by block when each gate has its own mask."""
    if masks is None:
        np.matmul(a, weights, out=out)
        return
    for g, block in _blocks(masks, weights.shape[1]):
        out[:, block] = (a * masks[g][rows]) @ weights[:, block]


def dropped_matmul_input_grad(grad: np.ndarray, weights_t: np.ndarray, masks: np.ndarray | None,
                              rows: np.ndarray, out: np.ndarray) -> None:
    """out = d a for dropped_matmul(a, weights, masks, rows): grad @ weights^T, each block times its mask
    (weights_t: the weights transposed)."""
    if masks is None:
        np.matmul(grad, weights_t, out=out)
        return
    out[:] = 0
    for g, block in _blocks(masks, weights_t.shape[0]):
        out += (grad[:, block] @ weights_t[block]) * masks[g][rows]


def dropped_matmul_weight_grad(a: np.ndarray, grad: np.ndarray, masks: np.ndarray | None,
                               rows: np.ndarray) -> np.ndarray:
    """d weights for out = dropped_matmul(a, weights, masks, rows): (a * mask)^T @ grad, block by block."""
    if masks is None:
        return a.T @ grad
    return np.concatenate([(a * masks[g][rows]).T @ grad[:, block] for g, block in _blocks(masks, grad.shape[1])],
                          axis=1)
