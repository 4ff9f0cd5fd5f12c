"""The LSTM as a single op, for speed: the same maths as the reference LSTM composed from Tensor ops
(layers/lstm.py), with backpropagation through time written by hand.

Where the time goes, and what is done about it:
- x W for every time step is one matrix product before the loop, and the weight gradients are one
  product each after it; only h_{t-1} U (and dz U^T going back) stay inside the loop.
- The gate nonlinearities and the cell update run in numba kernels (kernels.lstm_step_*), writing
  into buffers allocated once.
- Masked steps cost nothing: only the rows unmasked at a step enter its products and kernels. The
  (step, row) pairs that are unmasked are packed step after step into the rows of `gates`, so that
  step t owns rows offsets[t]:offsets[t + 1]; reviews pre-padded to 500 words do not pay for 500 steps.
"""
from __future__ import annotations

import numpy as np

from . import kernels
from .ops import Function, register


@register()
class FusedLSTM(Function):
    """[h_t | c_t] for each step (or the last), c_t = f c_{t-1} + i g, h_t = o tanh(c_t), with
    i, f, g, o = act(x_t W + h_{t-1} U + b); masked steps keep h, c. Backward: BPTT by hand."""
    arity = 4

    def forward(self, x, kernel, recurrent_kernel, bias, mask=None, all_steps=True):
        dtype = np.result_type(x, kernel, recurrent_kernel, bias)  # the kernels want one float type
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"FusedLSTM runs in float32 or float64, got inputs of type {dtype}")
        x, kernel, recurrent_kernel, bias = (a.astype(dtype, copy=False) for a in (x, kernel, recurrent_kernel, bias))
        batch, steps, _ = x.shape
        units = recurrent_kernel.shape[0]
        active = np.ones((steps, batch), bool) if mask is None else np.asarray(mask, bool).T
        self.rows = [np.flatnonzero(step) for step in active]  # unmasked rows at each step
        self.offsets = np.concatenate([[0], np.cumsum([len(r) for r in self.rows])])
        self.positions = np.flatnonzero(active)  # t * batch + row, for each packed row
        self.x_packed = x.transpose(1, 0, 2).reshape(steps * batch, -1)[self.positions]
        self.gates = self.x_packed @ kernel + bias
        self.h_prev_packed = np.empty((len(self.positions), units), x.dtype)
        self.h = np.zeros((steps + 1, batch, units), x.dtype)  # h[t + 1] is the state after step t
        self.c = np.zeros((steps + 1, batch, units), x.dtype)
        recurrent = np.empty((batch, 4 * units), x.dtype)
        for t, rows in enumerate(self.rows):
            lo, hi = self.offsets[t], self.offsets[t + 1]
            if lo == hi:  # every row masked: the state carries over, nothing to compute
                self.h[t + 1], self.c[t + 1] = self.h[t], self.c[t]
                continue
            kernels.gather(self.h_prev_packed[lo:hi], self.h[t], rows)
            np.matmul(self.h_prev_packed[lo:hi], recurrent_kernel, out=recurrent[:hi - lo])
            kernels.lstm_step_forward(self.h[t + 1], self.c[t + 1], self.gates[lo:hi], recurrent[:hi - lo],
                                      self.h[t], self.c[t], rows)
        self.x_shape, self.weights, self.all_steps = x.shape, (kernel, recurrent_kernel), all_steps
        picked = slice(1, None) if all_steps else slice(steps, None)
        return np.concatenate([self.h[picked], self.c[picked]], axis=2).transpose(1, 0, 2)

    def backward(self, grad):
        (batch, steps, features), (kernel, recurrent_kernel) = self.x_shape, self.weights
        units = recurrent_kernel.shape[0]
        upstream = np.ascontiguousarray(grad.transpose(1, 0, 2))  # time-major: [dh | dc] per step
        dh, dc = np.zeros((batch, units), grad.dtype), np.zeros((batch, units), grad.dtype)
        dz_step, dh_packed = np.empty((batch, 4 * units), grad.dtype), np.empty((batch, units), grad.dtype)
        recurrent_t = np.ascontiguousarray(recurrent_kernel.T)
        for t in reversed(range(steps)):
            if self.all_steps or t == steps - 1:
                step_grad = upstream[t if self.all_steps else 0]
                dh += step_grad[:, :units]
                dc += step_grad[:, units:]
            lo, hi, rows = self.offsets[t], self.offsets[t + 1], self.rows[t]
            if lo == hi:
                continue
            dz = dz_step[:hi - lo]
            kernels.lstm_step_backward(dz, dh, dc, self.gates[lo:hi], self.c[t + 1], self.c[t], rows)
            np.matmul(dz, recurrent_t, out=dh_packed[:hi - lo])
            kernels.scatter_add(dh, rows, dh_packed[:hi - lo])  # the kernel zeroed these rows of dh
            self.gates[lo:hi] = dz  # step t's activations are spent: its rows now hold dL/dz
        dz = self.gates
        dx = np.zeros((steps * batch, features), grad.dtype)
        dx[self.positions] = dz @ kernel.T
        dx = dx.reshape(steps, batch, features).transpose(1, 0, 2)
        return dx, self.x_packed.T @ dz, self.h_prev_packed.T @ dz, dz.sum(axis=0)
