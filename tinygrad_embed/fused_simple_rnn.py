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
from .fused_blocks import BLOCK_STEPS, backward_in_blocks, forward_in_blocks
from .fused_rnn import dropped_matmul_weight_grad, gates_of, one_float_type, pack_steps
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
        offsets, packed_rows, packed_steps = pack_steps(mask, batch, steps)
        # Without a backward, one block of pre-activations is kept at a time, as FusedLSTM does
        keep, packed, all_steps = self.keep, len(packed_rows), self.all_steps
        h_all = np.empty((packed if keep else min(packed, BLOCK_STEPS * batch), units), dtype)  # x W + b, then h_t
        h_prev = np.empty((packed if keep else batch, units), dtype)
        h = np.zeros((steps + 1 if all_steps else 2, batch, units), dtype)  # the state after step t: h[(t + 1) % slots]
        h[0] = 0 if h0 is None else h0
        slots, masks = len(h), (gates_of(input_masks, batch, x.shape[2], dtype), gates_of(recurrent_masks, batch, units, dtype))
        for start in range(0, steps, BLOCK_STEPS):  # x W + b for a block of steps, then its compiled loop
            stop = min(start + BLOCK_STEPS, steps)
            block, first = slice(offsets[start], offsets[stop]), 0 if keep else offsets[start]
            block_x, block_pre = x[packed_rows[block], packed_steps[block]], h_all[block.start - first:block.stop - first]
            kernels.masked_matmul(block_pre, block_x, kernel, masks[0], packed_rows[block], np.empty_like(block_x))
            block_pre += bias
            kernels.rnn_forward_steps(False, h, h_all, h_prev, recurrent_kernel, np.zeros(units, dtype), masks[1],
                                      packed_rows, offsets, start, stop, first, keep)
        if keep:
            self.x, self.weights, self.masks = x, (kernel, recurrent_kernel), (input_masks, recurrent_masks)
            self.offsets, self.packed = offsets, (packed_rows, packed_steps)
            self.h_all, self.h_prev = h_all, h_prev
        return (h[1:] if all_steps else h[steps % slots][None]).transpose(1, 0, 2).copy()

    def backward(self, grad, retain_graph):
        """retain_graph changes nothing here: the loop writes only into buffers of its own."""
        x, (kernel, recurrent_kernel), (input_masks, recurrent_masks) = self.x, self.weights, self.masks
        batch, steps, _ = x.shape
        dtype = self.h_all.dtype  # the compiled loop's products need one type
        upstream = np.ascontiguousarray(grad.transpose(1, 0, 2), dtype)  # time-major
        dh, d_all = np.zeros((batch, kernel.shape[1]), dtype), np.empty_like(self.h_all)  # d_all: dL/d pre-activations
        kernels.rnn_backward_steps(False, d_all, dh, upstream, self.h_all, self.h_prev,
                                   np.ascontiguousarray(recurrent_kernel.T),
                                   gates_of(recurrent_masks, batch, kernel.shape[1], dtype), self.packed[0],
                                   self.offsets, self.all_steps)
        packed_rows, packed_steps = self.packed
        dx, dx_packed = np.zeros(x.shape, dh.dtype), np.empty((len(packed_rows), x.shape[2]), dh.dtype)
        kernels.masked_matmul_input_grad(dx_packed, d_all, np.ascontiguousarray(kernel.T),
                                         gates_of(input_masks, batch, x.shape[2], dtype), packed_rows, np.empty_like(dx_packed))
        dx[packed_rows, packed_steps] = dx_packed
        return (dx, dropped_matmul_weight_grad(x[packed_rows, packed_steps], d_all, input_masks, packed_rows),
                dropped_matmul_weight_grad(self.h_prev, d_all, recurrent_masks, packed_rows), d_all.sum(axis=0),
                dh)  # dh: what reaches h0
