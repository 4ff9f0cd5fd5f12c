"""SimpleRNN (tanh) as a single op, for speed: the same maths as the reference composed from Tensor ops
(layers/simple_rnn.py), with backpropagation through time written by hand. Built as FusedGRU is (read
fused_lstm.py first): x W + b in blocks of steps, h_{t-1} U and the numba step kernels inside the loop,
masked rows packed away, the weight gradients as one product each after the backward loop.

Composed, each step's slice of the projected inputs costs a full-size gradient on the way back, so the
reference is quadratic in the number of steps; here a step costs one small product and one kernel.
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
class FusedSimpleRNN(Function):
    """h_t for each step (or the last): h_t = tanh(x_t W + b + h_{t-1} U), from h0 (zeros when not given);
    masked steps keep h. Keras's dropout masks, when given, multiply x_t and h_{t-1} before their products.
    Each core runs the recurrence of its own block of rows (_SimpleRNNRows), side by side (fused_blocks.py)."""
    arity = 5

    def forward(self, x, kernel, recurrent_kernel, bias, h0=None, mask=None, all_steps=True, input_masks=None,
                recurrent_masks=None):
        x, kernel, recurrent_kernel, bias = one_float_type("FusedSimpleRNN", x, kernel, recurrent_kernel, bias)
        return forward_in_blocks(self, _SimpleRNNRows, x, (kernel, recurrent_kernel, bias),
                                 (h0, mask, input_masks, recurrent_masks), all_steps)

    def backward(self, grad):
        return backward_in_blocks(self, grad)  # dx, d kernel, d recurrent_kernel, d bias, and what reaches h0


class _SimpleRNNRows:
    """SimpleRNN over one block of a batch's rows: forward keeps what backward reads (when `keep`)."""

    def __init__(self, keep: bool, all_steps: bool) -> None:
        self.keep, self.all_steps = keep, all_steps

    def forward(self, x, kernel, recurrent_kernel, bias, h0, mask, input_masks, recurrent_masks):
        dtype = x.dtype
        batch, steps, _ = x.shape
        units = recurrent_kernel.shape[0]
        step_rows, offsets, packed_rows, packed_steps = pack_steps(mask, batch, steps)
        # Without a backward, one block of pre-activations is kept at a time, as FusedLSTM does
        keep, packed, all_steps = self.keep, len(packed_rows), self.all_steps
        h_all = np.empty((packed if keep else min(packed, BLOCK_STEPS * batch), units), dtype)  # x W + b, then h_t
        h_prev = np.empty((packed if keep else batch, units), dtype)
        h = np.zeros((steps + 1 if all_steps else 2, batch, units), dtype)  # the state after step t: h[(t + 1) % slots]
        h[0] = 0 if h0 is None else h0
        slots, recurrent = len(h), np.empty((batch, units), dtype)
        for t, rows in enumerate(step_rows):
            lo, hi = offsets[t], offsets[t + 1]
            if t % BLOCK_STEPS == 0:
                block, first = slice(lo, offsets[min(t + BLOCK_STEPS, steps)]), 0 if keep else lo
                block_pre = h_all[block.start - first:block.stop - first]
                dropped_matmul(x[packed_rows[block], packed_steps[block]], kernel, input_masks, packed_rows[block],
                               block_pre)
                block_pre += bias
            before, after = t % slots, (t + 1) % slots
            step_h_prev = h_prev[lo:hi] if keep else h_prev[:hi - lo]
            kernels.gather(step_h_prev, h[before], rows)
            dropped_matmul(step_h_prev, recurrent_kernel, recurrent_masks, rows, recurrent[:hi - lo])
            kernels.simple_rnn_step_forward(h[after], h_all[lo - first:hi - first], recurrent[:hi - lo], h[before], rows)
        if keep:
            self.x, self.weights, self.masks = x, (kernel, recurrent_kernel), (input_masks, recurrent_masks)
            self.step_rows, self.offsets, self.packed = step_rows, offsets, (packed_rows, packed_steps)
            self.h_all, self.h_prev = h_all, h_prev
        return (h[1:] if all_steps else h[steps % slots][None]).transpose(1, 0, 2).copy()

    def backward(self, grad, retain_graph):
        """retain_graph changes nothing here: the loop writes only into buffers of its own."""
        x, (kernel, recurrent_kernel), (input_masks, recurrent_masks) = self.x, self.weights, self.masks
        batch, steps, _ = x.shape
        upstream = np.ascontiguousarray(grad.transpose(1, 0, 2))  # time-major
        dh, dh_packed = np.zeros((batch, kernel.shape[1]), grad.dtype), np.empty((batch, kernel.shape[1]), grad.dtype)
        d_all = np.empty_like(self.h_all)  # d of every packed row's pre-activation
        recurrent_t = np.ascontiguousarray(recurrent_kernel.T)
        for t in reversed(range(steps)):
            if self.all_steps or t == steps - 1:
                dh += upstream[t if self.all_steps else 0]
            lo, hi, rows = self.offsets[t], self.offsets[t + 1], self.step_rows[t]
            kernels.simple_rnn_step_backward(d_all[lo:hi], dh, self.h_all[lo:hi], rows)
            dropped_matmul_input_grad(d_all[lo:hi], recurrent_t, recurrent_masks, rows, dh_packed[:hi - lo])
            kernels.scatter_add(dh, rows, dh_packed[:hi - lo])
        packed_rows, packed_steps = self.packed
        dx, dx_packed = np.zeros(x.shape, grad.dtype), np.empty((len(packed_rows), x.shape[2]), grad.dtype)
        dropped_matmul_input_grad(d_all, kernel.T, input_masks, packed_rows, dx_packed)
        dx[packed_rows, packed_steps] = dx_packed
        return (dx, dropped_matmul_weight_grad(x[packed_rows, packed_steps], d_all, input_masks, packed_rows),
                dropped_matmul_weight_grad(self.h_prev, d_all, recurrent_masks, packed_rows), d_all.sum(axis=0),
                dh)  # dh: what reaches h0
