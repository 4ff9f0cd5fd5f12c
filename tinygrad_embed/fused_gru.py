"""The GRU (Keras 3's default variant, reset_after=True) as a single op, for speed: the same maths as
the reference GRU composed from Tensor ops (layers/gru.py), with backpropagation through time written
by hand. It is built as FusedLSTM is (read fused_lstm.py first): x W + b_in in blocks of steps before
the loop needs them, h_{t-1} U + b_rec and the numba step kernels inside it, masked rows packed away,
weight gradients as one product each after the backward loop.
"""
from __future__ import annotations

import numpy as np

from . import kernels
from .fused_blocks import backward_in_blocks, forward_in_blocks
from .fused_lstm import BLOCK_STEPS
from .fused_rnn import (dropped_matmul, dropped_matmul_input_grad, dropped_matmul_weight_grad, one_float_type,
                        pack_steps)
from .functions import Function, register


@register()
class FusedGRU(Function):
    """h_t for each step (or the last): z, r = sigmoid(x_t W + h_{t-1} U + b), hh = tanh(x_t W_h + b_in_h
    + r (h_{t-1} U_h + b_rec_h)), h_t = z h_{t-1} + (1 - z) hh; bias (2, 3u) = [b_in; b_rec]; masked steps
    keep h. Keras's dropout masks, when given, multiply x_t and h_{t-1} before their products. h0: the
    initial state (zeros when not given). Each core runs the recurrence of its own block of rows (_GRURows),
    side by side (fused_blocks.py)."""
    arity = 5

    def forward(self, x, kernel, recurrent_kernel, bias, h0=None, mask=None, all_steps=True, input_masks=None,
                recurrent_masks=None):
        x, kernel, recurrent_kernel, bias = one_float_type("FusedGRU", x, kernel, recurrent_kernel, bias)
        return forward_in_blocks(self, _GRURows, x, (kernel, recurrent_kernel, bias),
                                 (h0, mask, input_masks, recurrent_masks), all_steps)

    def backward(self, grad):
        return backward_in_blocks(self, grad)  # dx, d kernel, d recurrent_kernel, d bias, and what reaches h0


class _GRURows:
    """The GRU over one block of a batch's rows: forward keeps what backward reads (when `keep`)."""

    def __init__(self, keep: bool, all_steps: bool) -> None:
        self.keep, self.all_steps = keep, all_steps

    def forward(self, x, kernel, recurrent_kernel, bias, h0, mask, input_masks, recurrent_masks):
        dtype = x.dtype
        batch, steps, _ = x.shape
        units = recurrent_kernel.shape[0]
        step_rows, offsets, packed_rows, packed_steps = pack_steps(mask, batch, steps)
        # Without a backward, one block of gates is kept at a time, as FusedLSTM does
        keep, packed, all_steps = self.keep, len(packed_rows), self.all_steps
        gates = np.empty((packed if keep else min(packed, BLOCK_STEPS * batch), 4 * units), dtype)
        h_prev = np.empty((packed if keep else batch, units), dtype)
        h = np.zeros((steps + 1 if all_steps else 2, batch, units), dtype)  # the state after step t: h[(t + 1) % slots]
        h[0] = 0 if h0 is None else h0
        slots, recurrent = len(h), np.empty((batch, 3 * units), dtype)
        for t, rows in enumerate(step_rows):
            lo, hi = offsets[t], offsets[t + 1]
            if t % BLOCK_STEPS == 0:
                block, first = slice(lo, offsets[min(t + BLOCK_STEPS, steps)]), 0 if keep else lo
                block_gates = gates[block.start - first:block.stop - first, :3 * units]
                dropped_matmul(x[packed_rows[block], packed_steps[block]], kernel, input_masks, packed_rows[block],
                               block_gates)
                block_gates += bias[0]
            before, after = t % slots, (t + 1) % slots
            step_h_prev = h_prev[lo:hi] if keep else h_prev[:hi - lo]
            kernels.gather(step_h_prev, h[before], rows)
            dropped_matmul(step_h_prev, recurrent_kernel, recurrent_masks, rows, recurrent[:hi - lo])
            recurrent[:hi - lo] += bias[1]
            kernels.gru_step_forward(h[after], gates[lo - first:hi - first], recurrent[:hi - lo], h[before], rows)
        if keep:
            self.x, self.weights, self.masks = x, (kernel, recurrent_kernel), (input_masks, recurrent_masks)
            self.step_rows, self.offsets, self.packed = step_rows, offsets, (packed_rows, packed_steps)
            self.gates, self.h_prev = gates, h_prev
        return (h[1:] if all_steps else h[steps % slots][None]).transpose(1, 0, 2).copy()

    def backward(self, grad, retain_graph):
        x, (kernel, recurrent_kernel), (input_masks, recurrent_masks) = self.x, self.weights, self.masks
        batch, steps, _ = x.shape
        units = recurrent_kernel.shape[0]
        upstream = np.ascontiguousarray(grad.transpose(1, 0, 2))  # time-major
        dh, dh_packed = np.zeros((batch, units), grad.dtype), np.empty((batch, units), grad.dtype)
        # d of every packed row: [dz, dr, drh, dhh] (kernels.gru_step_backward); the first three are the
        # gradient of h_{t-1} U + b_rec, and dz, dr, dhh that of x_t W + b_in. The kernel writes over the
        # activations it has just read, unless this backward may run again (retain_graph).
        d_all = np.empty_like(self.gates) if retain_graph else self.gates
        recurrent_t = _with_zero_block(recurrent_kernel.T, 3 * units, units)  # for [dz, dr, drh, dhh]
        for t in reversed(range(steps)):
            if self.all_steps or t == steps - 1:
                dh += upstream[t if self.all_steps else 0]
            lo, hi, rows = self.offsets[t], self.offsets[t + 1], self.step_rows[t]
            kernels.gru_step_backward(d_all[lo:hi], dh, self.gates[lo:hi], self.h_prev[lo:hi], rows)
            if recurrent_masks is None:
                np.matmul(d_all[lo:hi], recurrent_t, out=dh_packed[:hi - lo])
            else:
                dropped_matmul_input_grad(d_all[lo:hi, :3 * units], recurrent_t[:3 * units], recurrent_masks, rows,
                                          dh_packed[:hi - lo])
            kernels.scatter_add(dh, rows, dh_packed[:hi - lo])
        (packed_rows, packed_steps), input_columns = self.packed, np.r_[:2 * units, 3 * units:4 * units]
        dx, dx_packed = np.zeros(x.shape, grad.dtype), np.empty((len(packed_rows), x.shape[2]), grad.dtype)
        x_packed = x[packed_rows, packed_steps]
        if input_masks is None:
            np.matmul(d_all, _with_zero_block(kernel.T, 2 * units, units), out=dx_packed)
            d_kernel = (x_packed.T @ d_all)[:, input_columns]
        else:
            d_input = d_all[:, input_columns]
            dropped_matmul_input_grad(d_input, kernel.T, input_masks, packed_rows, dx_packed)
            d_kernel = dropped_matmul_weight_grad(x_packed, d_input, input_masks, packed_rows)
        dx[packed_rows, packed_steps] = dx_packed
        d_recurrent = (self.h_prev.T @ d_all)[:, :3 * units] if recurrent_masks is None else \
            dropped_matmul_weight_grad(self.h_prev, d_all[:, :3 * units], recurrent_masks, packed_rows)
        d_bias = d_all.sum(axis=0)
        return dx, d_kernel, d_recurrent, np.stack([d_bias[input_columns], d_bias[:3 * units]]), dh  # dh: to h0


def _with_zero_block(weights_t: np.ndarray, at: int, units: int) -> np.ndarray:
    """weights_t (3u, k) with u zero rows inserted at row `at`: a product of all four gradient blocks
    with it leaves one block out. OpenBLAS (0.3.31, its Haswell kernels, on this project's AMD EPYC)
    multiplies 64 x 4u by 4u x u about twice as fast as 64 x 3u by 3u x u for u = 100, so the wider
    product, a third more arithmetic, takes less time (benchmarks/RESULTS.md)."""
    return np.ascontiguousarray(np.insert(weights_t, [at] * units, 0, axis=0))
