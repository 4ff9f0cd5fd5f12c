"""The GRU (Keras 3's default variant, reset_after=True) as a single op, for speed: the same maths as
the reference GRU composed from Tensor ops (layers/gru.py), with backpropagation through time written
by hand. It is built as FusedLSTM is (read fused_lstm.py first): x W + b_in in blocks of steps before
the loop needs them, h_{t-1} U + b_rec and the numba step kernels inside it, masked rows packed away,
weight gradients as one product each after the backward loop.
"""
from __future__ import annotations

import numpy as np

from . import kernels
from .fused_blocks import BLOCK_STEPS, backward_in_blocks, forward_in_blocks
from .fused_rnn import dropped_matmul_weight_grad, gates_of, one_float_type, pack_steps
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
        offsets, packed_rows, packed_steps = pack_steps(mask, batch, steps)
        # Without a backward, one block of gates is kept at a time, as FusedLSTM does
        keep, packed, all_steps = self.keep, len(packed_rows), self.all_steps
        gates = np.empty((packed if keep else min(packed, BLOCK_STEPS * batch), 4 * units), dtype)
        h_prev = np.empty((packed if keep else batch, units), dtype)
        h = np.zeros((steps + 1 if all_steps else 2, batch, units), dtype)  # the state after step t: h[(t + 1) % slots]
        h[0] = 0 if h0 is None else h0
        slots, masks = len(h), (gates_of(input_masks, batch, x.shape[2], dtype), gates_of(recurrent_masks, batch, units, dtype))
        for start in range(0, steps, BLOCK_STEPS):  # x W + b_in for a block of steps, then its compiled loop
            stop = min(start + BLOCK_STEPS, steps)
            block, first = slice(offsets[start], offsets[stop]), 0 if keep else offsets[start]
            block_x, block_gates = x[packed_rows[block], packed_steps[block]], gates[block.start - first:block.stop - first, :3 * units]
            kernels.masked_matmul(block_gates, block_x, kernel, masks[0], packed_rows[block], np.empty_like(block_x))
            block_gates += bias[0]
            kernels.rnn_forward_steps(True, h, gates, h_prev, recurrent_kernel, bias[1], masks[1], packed_rows, offsets,
                                      start, stop, first, keep)
        if keep:
            self.x, self.weights, self.masks = x, (kernel, recurrent_kernel), (input_masks, recurrent_masks)
            self.offsets, self.packed = offsets, (packed_rows, packed_steps)
            self.gates, self.h_prev = gates, h_prev
        return (h[1:] if all_steps else h[steps % slots][None]).transpose(1, 0, 2).copy()

    def backward(self, grad, retain_graph):
        x, (kernel, recurrent_kernel), (input_masks, recurrent_masks) = self.x, self.weights, self.masks
        batch, steps, _ = x.shape
        units = recurrent_kernel.shape[0]
        upstream = np.ascontiguousarray(grad.transpose(1, 0, 2), self.gates.dtype)  # time-major, the loop's type
        dh = np.zeros((batch, units), self.gates.dtype)
        # d of every packed row: [dz, dr, drh, dhh] (kernels.gru_step_backward); the first three are the
        # gradient of h_{t-1} U + b_rec, and dz, dr, dhh that of x_t W + b_in. The kernel writes over the
        # activations it has just read, unless this backward may run again (retain_graph).
        d_all = np.empty_like(self.gates) if retain_graph else self.gates
        # without masks, [dz, dr, drh, dhh] times U^T with a zero block for dhh; with them, [dz, dr, drh] times U^T
        recurrent_t = _with_zero_block(recurrent_kernel.T, 3 * units, units) if recurrent_masks is None else \
            np.ascontiguousarray(recurrent_kernel.T)
        kernels.rnn_backward_steps(True, d_all, dh, upstream, self.gates, self.h_prev, recurrent_t,
                                   gates_of(recurrent_masks, batch, units, dh.dtype), self.packed[0], self.offsets,
                                   self.all_steps)
        (packed_rows, packed_steps), input_columns = self.packed, np.r_[:2 * units, 3 * units:4 * units]
        dx, dx_packed = np.zeros(x.shape, dh.dtype), np.empty((len(packed_rows), x.shape[2]), dh.dtype)
        x_packed = x[packed_rows, packed_steps]
        if input_masks is None:
            np.matmul(d_all, _with_zero_block(kernel.T, 2 * units, units), out=dx_packed)
            d_kernel = (x_packed.T @ d_all)[:, input_columns]
        else:
            d_input = np.ascontiguousarray(d_all[:, input_columns])  # fancy indexing may leave columns apart
            kernels.masked_matmul_input_grad(dx_packed, d_input, np.ascontiguousarray(kernel.T),
                                             gates_of(input_masks, batch, x.shape[2], dh.dtype), packed_rows,
                                             np.empty_like(dx_packed))
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
