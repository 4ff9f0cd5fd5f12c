"""GRU, exactly Keras 3's layer: weights [kernel (features, 3u), recurrent_kernel (u, 3u), bias], gate
order z, r, h; masked steps keep their state. Two variants, as Keras: reset_after=True (the default,
cuDNN's) applies the reset gate to h_{t-1} U_h + b_rec_h and has bias (2, 3u) = [input bias; recurrent
bias]; reset_after=False applies it to h_{t-1} before the product and has bias (3u,).

As for the LSTM, `gru_reference` writes the maths out step by step with Tensor ops (the one to read,
and the one that runs for reset_after=False or other activations); the fused op in fused_gru.py runs
by default, and tests/test_gru.py proves the two equal.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import activations
from ..fused_gru import FusedGRU
from ..functions import stack
from ..tensor import Tensor
from .recurrent import _Recurrent, dropped_product, kept_where_masked


def gru_reference(x: Tensor, kernel: Tensor, recurrent_kernel: Tensor, bias: Tensor, h0: Tensor | None = None,
                  mask: np.ndarray | None = None, all_steps: bool = True, reset_after: bool = True,
                  activation: Callable = activations.tanh, recurrent_activation: Callable = activations.sigmoid,
                  input_masks: np.ndarray | None = None, recurrent_masks: np.ndarray | None = None) -> Tensor:
    """The GRU one step at a time: h_t for every step (batch, steps, u), or the last (batch, 1, u). h0: the
    initial state, zeros when not given."""
    batch, steps, _ = x.shape
    u = recurrent_kernel.shape[0]
    input_bias, recurrent_bias = (bias[0], bias[1]) if reset_after else (bias, None)
    h = Tensor(np.zeros((batch, u), x.dtype)) if h0 is None else h0
    outputs = []
    for t in range(steps):
        x_zrh = dropped_product(x[:, t, :], kernel, input_masks) + input_bias
        if reset_after:  # the reset gate scales the candidate's recurrent part, bias included
            rec = dropped_product(h, recurrent_kernel, recurrent_masks) + recurrent_bias
            z = recurrent_activation(x_zrh[:, :u] + rec[:, :u])
            r = recurrent_activation(x_zrh[:, u:2 * u] + rec[:, u:2 * u])
            hh = activation(x_zrh[:, 2 * u:] + r * rec[:, 2 * u:])
        else:  # the reset gate scales h_{t-1} before its product
            h_dropped = [h * m for m in recurrent_masks] if recurrent_masks is not None else [h] * 3
            z = recurrent_activation(x_zrh[:, :u] + h_dropped[0] @ recurrent_kernel[:, :u])
            r = recurrent_activation(x_zrh[:, u:2 * u] + h_dropped[1] @ recurrent_kernel[:, u:2 * u])
            hh = activation(x_zrh[:, 2 * u:] + (r * h_dropped[2]) @ recurrent_kernel[:, 2 * u:])
        h_new = z * h + (1 - z) * hh
        h = kept_where_masked(h_new, h, mask, t)
        if all_steps or t == steps - 1:
            outputs.append(h)
    return stack(outputs, axis=1)


class GRU(_Recurrent):
    """Gated recurrent unit over (batch, time, features). Output (batch, units), or with return_sequences
    (batch, time, units); return_state adds the final h. A mask comes as `mask=` or from an Embedding."""
    gates = 3
    fused_op, reference = FusedGRU, staticmethod(gru_reference)
    reference_keywords = ("activation", "recurrent_activation", "reset_after")

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros", dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: int | None = None, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, reset_after: bool = True,
                 fused: bool = True, **kwargs: Any) -> None:
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, dropout, recurrent_dropout, seed, return_sequences, return_state,
                         go_backwards, fused=fused, **kwargs)
        self.reset_after = bool(reset_after)
        self.fused = self.fused and self.reset_after  # the fused op is reset_after's

    bias_shape = property(lambda self: (2, 3 * self.units) if self.reset_after else (3 * self.units,))
