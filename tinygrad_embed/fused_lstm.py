"""The LSTM as a single op, for speed: the same maths as the reference LSTM composed from Tensor ops
(layers/lstm.py), with backpropagation through time written by hand. docs/lstm.md ("The fused LSTM")
says where the time and the memory go and what is done about each."""
from __future__ import annotations

from functools import partial

import numpy as np

from . import kernels
from .fused_rnn import batch_blocks, batch_rows, joined_masks, one_float_type, pack_steps, side_by_side
from .functions import Function, register


@register()
class FusedLSTM(Function):
    """[h_t | c_t] for each step (or the last), c_t = f c_{t-1} + i g, h_t = o tanh(c_t), i, f, g, o = act(x_t W
    + h_{t-1} U + b); masked steps keep h, c; Keras's dropout masks multiply x_t and h_{t-1}; h0, c0 default 0.
    Backward: BPTT by hand. A batch's rows never meet, so each core runs its own block of rows (_LSTMRows)."""
    arity = 6

    def forward(self, x, kernel, recurrent_kernel, bias, h0=None, c0=None, mask=None, all_steps=True,
                input_masks=None, recurrent_masks=None):
        x, kernel, recurrent_kernel, bias = one_float_type("FusedLSTM", x, kernel, recurrent_kernel, bias)
        blocks = batch_blocks(len(x), mask)
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
        (batch, steps, width), units, dtype = x.shape, recurrent_kernel.shape[0], x.dtype
        offsets, packed_rows, _ = pack_steps(mask, batch, steps)
        # Backward reads the gates and [x_t | h_{t-1}] of every packed row and every c; without it (predict), one
        # step's gates and [x_t | h_{t-1}] are kept, and two states. After step t, a state is in slot (t + 1) % slots
        keep, all_steps, kept = self.keep, self.all_steps, len(packed_rows) if self.keep else batch
        gates, xh = np.empty((kept, 4 * units), dtype), np.empty((kept, width + units), dtype)
        h = np.empty((steps + 1 if all_steps else 2, batch, units), dtype)  # backward reads every c, no h
        c = np.empty((steps + 1 if keep or all_steps else 2, batch, units), dtype)
        h[0], c[0] = (0 if h0 is None else h0), (0 if c0 is None else c0)  # each step writes all of its slot
        masks = joined_masks(input_masks, recurrent_masks, batch, (width, units), dtype)
        weights = np.concatenate([kernel, recurrent_kernel])  # [W; U]: one product per step on [x_t | h_{t-1}]
        kernels.lstm_forward_steps(h, c, gates, xh, x, weights, bias, masks, packed_rows, offsets, keep)
        if keep:
            self.x_shape, self.weights_t, self.masks, self.offsets = x.shape, np.ascontiguousarray(weights.T), masks, offsets
            self.rows, self.gates, self.xh, self.c = packed_rows, gates, xh, c
        if all_steps:
            return np.concatenate([h[1:], c[1:]], axis=2).transpose(1, 0, 2)
        return np.concatenate([h[steps % len(h)], c[steps % len(c)]], axis=1)[:, None]

    def backward(self, grad, retain_graph):  # reads what forward kept and writes none of it: may run again
        dtype, width = self.gates.dtype, self.x_shape[2]  # the compiled loop's products need one type
        upstream = np.ascontiguousarray(grad.transpose(1, 0, 2), dtype)  # time-major: [dh | dc] per step
        dh, dc, dx = np.zeros(self.c.shape[1:], dtype), np.zeros(self.c.shape[1:], dtype), np.zeros(self.x_shape, dtype)
        d_weights, d_bias = np.zeros(self.weights_t.shape[::-1], dtype), np.zeros(len(self.weights_t), dtype)  # [dW; dU], db
        kernels.lstm_backward_steps(d_weights, d_bias, dh, dc, dx, upstream, self.gates, self.xh, self.c, self.weights_t,
                                    self.masks, self.rows, self.offsets, self.all_steps)
        return dx, d_weights[:width], d_weights[width:], d_bias, dh, dc  # dh, dc: what reaches h0, c0
