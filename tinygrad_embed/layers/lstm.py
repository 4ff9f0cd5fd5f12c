"""LSTM, exactly Keras's layer, written twice (tests/test_lstm.py proves the two equal): `lstm_reference`,
one step at a time from Tensor ops so that autograd does backpropagation through time (the one to read),
and the fused op of fused_lstm.py (the one that runs by default, for speed). docs/lstm.md explains both."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import activations
from ..fused_lstm import FusedLSTM
from ..functions import concatenate, stack
from ..tensor import Tensor
from .recurrent import _Recurrent, dropped_product, kept_where_masked


def lstm_reference(x: Tensor, kernel: Tensor, recurrent_kernel: Tensor, bias: Tensor, h0: Tensor | None = None,
                   c0: Tensor | None = None, mask: np.ndarray | None = None, all_steps: bool = True,
                   activation: Callable = activations.tanh, recurrent_activation: Callable = activations.sigmoid,
                   input_masks: np.ndarray | None = None, recurrent_masks: np.ndarray | None = None) -> Tensor:
    """The LSTM written out one step at a time. Returns [h_t | c_t] for every step, shape
    (batch, steps, 2 units), or for the last step only, shape (batch, 1, 2 units), as FusedLSTM. h0, c0: the
    initial state, zeros when not given."""
    batch, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    zeros = Tensor(np.zeros((batch, units), x.dtype))
    h, c = (zeros if h0 is None else h0), (zeros if c0 is None else c0)
    outputs = []
    for t in range(steps):
        z = dropped_product(x[:, t, :], kernel, input_masks) + dropped_product(h, recurrent_kernel, recurrent_masks) + bias
        i = recurrent_activation(z[:, :units])
        f = recurrent_activation(z[:, units:2 * units])
        g = activation(z[:, 2 * units:3 * units])
        o = recurrent_activation(z[:, 3 * units:])
        c_new = f * c + i * g
        h_new = o * activation(c_new)
        h, c = kept_where_masked(h_new, h, mask, t), kept_where_masked(c_new, c, mask, t)
        if all_steps or t == steps - 1:
            outputs.append(concatenate([h, c], axis=1))
    return stack(outputs, axis=1)


class LSTM(_Recurrent):
    """Long short-term memory over (batch, time, features), gates i, f, c, o: output (batch, units), or with
    return_sequences (batch, time, units); return_state adds the final h and c. Weights: kernel (features, 4u),
    recurrent_kernel (u, 4u), bias (4u,); a mask (batch, time) comes as `mask=` or from an Embedding."""
    gates, state_count = 4, 2
    fused_op, reference = FusedLSTM, staticmethod(lstm_reference)

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, fused: bool = True, **kwargs: Any) -> None:
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, dropout, recurrent_dropout, seed, return_sequences, return_state,
                         go_backwards, fused=fused, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def initialize_bias(self, shape: tuple, dtype: Any) -> np.ndarray:
        """bias_initializer's values, and with unit_forget_bias the forget gate's block at one."""
        bias = super().initialize_bias(shape, dtype)
        if self.unit_forget_bias:  # start by remembering: forget gate open, as Keras
            bias[self.units:2 * self.units] = 1
        return bias

    def split_result(self, hc: Tensor) -> tuple[Tensor, list[Tensor]]:
        """[h_t | c_t] of each step as (h of each step, the final [h, c])."""
        u = self.units
        return hc[:, :, :u], [hc[:, -1, :u], hc[:, -1, u:]]
