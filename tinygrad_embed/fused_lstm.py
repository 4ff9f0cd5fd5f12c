"""The LSTM as a single op, for speed: the same maths as the reference LSTM composed from Tensor ops
(layers/lstm.py), with backpropagation through time written by hand. docs/lstm.md ("The fused LSTM")
says where the time and the memory go and what is done about each."""
from __future__ import annotations

from functools import partial

import numpy as np

from . import kernels
from .fused_rnn import (batch_blocks, batch_rows, dropped_matmul, dropped_matmul_input_grad,
                        dropped_matmul_weight_grad, one_float_type, pack_steps, side_by_side)
from .functions import Function, register

BLOCK_STEPS = 32  # x W + b is computed this many steps at a time: large products, small buffers


@register()
class FusedLSTM(Function):
    """[h_t | c_t] for each step (or the last), c_t = f c_{t-1} + i g, h_t = o tanh(c_t), with
    i, f, g, o = act(x_t W + h_{t-1} U + b); masked steps keep h, c. Backward: BPTT by hand. Keras's
    dropout masks, when given, multiply x_t and h_{t-1} before their products (see fused_rnn.py).
    h0, c0: the initial state (zeros when not given). The rows of a batch never meet, so each core
    runs the recurrence of its own block of rows (_LSTMRows), side by side."""
    arity = 6

    def forward(self, x, kernel, recurrent_kernel, bias, h0=None, c0=None, mask=None, all_steps=True,
                input_masks=None, recurrent_masks=None):
        x, kernel, recurrent_kernel, bias = one_float_type("FusedLSTM", x, kernel, recurrent_kernel, bias)
        blocks = batch_blocks(len(x))
        parts = [_LSTMRows(self.needs_backward, all_steps) for _ in blocks]
        outputs = side_by_side([partial(part.forward, x[rows], kernel, recurrent_kernel, bias,
                                        *batch_rows(rows, h0, c0, mask, input_masks, recurrent_masks))
                                for part, rows in zip(parts, blocks)])
        if self.needs_backward:
            self.parts, self.blocks = parts, blocks
        return outputs[0] if len(outputs) == 1 else np.concatenate(outputs)

    def backward(self, grad):
        grads = side_by_side([partial(part.backward, grad[rows], self.retain_graph)
                              for part, rows in zip(self.parts, self.blocks)])
        dx, d_kernel, d_recurrent, d_bias, dh0, dc0 = zip(*grads)  # per block: rows of dx, dh0, dc0; sums of the rest
        return (np.concatenate(dx), sum(d_kernel), sum(d_recurrent), sum(d_bias), np.concatenate(dh0),
                np.concatenate(dc0))


class _LSTMRows:
    """The LSTM over one block of a batch's rows: forward keeps what backward reads (when `keep`)."""

    def __init__(self, keep: bool, all_steps: bool) -> None:
        self.keep, self.all_steps = keep, all_steps

    def forward(self, x, kernel, recurrent_kernel, bias, h0, c0, mask, input_masks, recurrent_masks):
        dtype = x.dtype
        batch, steps, _ = x.shape
        units = recurrent_kernel.shape[0]
        step_rows, offsets, packed_rows, packed_steps = pack_steps(mask, batch, steps)
        # Backward reads the gate activations and h_{t-1} of every packed row and c after every step,
        # so with a backward to come all of them are kept. Without one (no_grad: predict, evaluate) the
        # loop holds only what the next step reads: the gates of one block of steps, h_{t-1} of one
        # step, and when only the last step is returned two states, before and after the step. The
        # state after step t sits in slot (t + 1) % slots.
        keep, all_steps = self.keep, self.all_steps
        packed = len(packed_rows)
        gates = np.empty((packed if keep else min(packed, BLOCK_STEPS * batch), 4 * units), dtype)
        h_prev = np.empty((packed if keep else batch, units), dtype)
        slots = steps + 1 if keep or all_steps else 2
        h, c = np.zeros((slots, batch, units), dtype), np.zeros((slots, batch, units), dtype)
        h[0], c[0] = (0 if h0 is None else h0), (0 if c0 is None else c0)
        recurrent = np.empty((batch, 4 * units), dtype)
        for t, rows in enumerate(step_rows):
            lo, hi = offsets[t], offsets[t + 1]
            if t % BLOCK_STEPS == 0:  # x W + b for the next block of steps, in one product
                block = slice(lo, offsets[min(t + BLOCK_STEPS, steps)])
                first = 0 if keep else lo  # the packed row that row 0 of gates holds
                block_gates = gates[block.start - first:block.stop - first]
                dropped_matmul(x[packed_rows[block], packed_steps[block]], kernel, input_masks, packed_rows[block],
                               block_gates)
                block_gates += bias
            before, after = t % slots, (t + 1) % slots
            if lo == hi:  # every row masked: the state carries over, nothing to compute
                h[after], c[after] = h[before], c[before]
                continue
            step_h_prev = h_prev[lo:hi] if keep else h_prev[:hi - lo]
            kernels.gather(step_h_prev, h[before], rows)
            dropped_matmul(step_h_prev, recurrent_kernel, recurrent_masks, rows, recurrent[:hi - lo])
            kernels.lstm_step_forward(h[after], c[after], gates[lo - first:hi - first], recurrent[:hi - lo],
                                      h[before], c[before], rows)
        if keep:
            self.x, self.weights = x, (kernel, recurrent_kernel)
            self.masks = input_masks, recurrent_masks
            self.step_rows, self.offsets = step_rows, offsets
            self.packed_rows, self.packed_steps = packed_rows, packed_steps
            self.gates, self.h_prev, self.c = gates, h_prev, c
        picked = slice(1, None) if all_steps else slice(steps % slots, steps % slots + 1)
        return np.concatenate([h[picked], c[picked]], axis=2).transpose(1, 0, 2)

    def backward(self, grad, retain_graph):
        x, (kernel, recurrent_kernel), (input_masks, recurrent_masks) = self.x, self.weights, self.masks
        batch, steps, _ = x.shape
        units = recurrent_kernel.shape[0]
        upstream = np.ascontiguousarray(grad.transpose(1, 0, 2))  # time-major: [dh | dc] per step
        dh, dc = np.zeros((batch, units), grad.dtype), np.zeros((batch, units), grad.dtype)
        dz_step, dh_packed = np.empty((batch, 4 * units), grad.dtype), np.empty((batch, units), grad.dtype)
        recurrent_t = np.ascontiguousarray(recurrent_kernel.T)
        # dL/dz of every packed row. Once step t's dz is known its activations are spent, so dz
        # overwrites them, saving a buffer as large as gates; but after backward(retain_graph=True)
        # this backward may run again, and then the activations must stay.
        dz_all = np.empty_like(self.gates) if retain_graph else self.gates
        for t in reversed(range(steps)):
            if self.all_steps or t == steps - 1:
                step_grad = upstream[t if self.all_steps else 0]
                dh += step_grad[:, :units]
                dc += step_grad[:, units:]
            lo, hi, rows = self.offsets[t], self.offsets[t + 1], self.step_rows[t]
            if lo == hi:
                continue
            dz = dz_step[:hi - lo]
            kernels.lstm_step_backward(dz, dh, dc, self.gates[lo:hi], self.c[t + 1], self.c[t], rows)
            dropped_matmul_input_grad(dz, recurrent_t, recurrent_masks, rows, dh_packed[:hi - lo])
            kernels.scatter_add(dh, rows, dh_packed[:hi - lo])  # the kernel zeroed these rows of dh
            dz_all[lo:hi] = dz
        where, rows = (self.packed_rows, self.packed_steps), self.packed_rows
        dx, dx_packed = np.zeros(x.shape, grad.dtype), np.empty((len(rows), x.shape[2]), grad.dtype)
        dropped_matmul_input_grad(dz_all, kernel.T, input_masks, rows, dx_packed)
        dx[where] = dx_packed
        return (dx, dropped_matmul_weight_grad(x[where], dz_all, input_masks, rows),
                dropped_matmul_weight_grad(self.h_prev, dz_all, recurrent_masks, rows), dz_all.sum(axis=0),
                dh, dc)  # what reaches the initial state
