"""SimpleRNN, Keras's layer: h_t = activation(x_t W + b + h_{t-1} U), weights [kernel (features, u),
recurrent_kernel (u, u), bias (u,)]; masked steps keep their state.

As for the LSTM and the GRU, `simple_rnn_reference` writes the recurrence out step by step with Tensor
ops (the one to read, and the one that runs for an activation other than tanh); the fused op in
fused_simple_rnn.py runs by default, and tests/test_gru.py proves the two equal.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import activations
from ..functions import stack
from ..fused_simple_rnn import FusedSimpleRNN
from ..tensor import Tensor
from .recurrent import _Recurrent, dropped_product, kept_where_masked


def simple_rnn_reference(x: Tensor, kernel: Tensor, recurrent_kernel: Tensor, bias: Tensor,
                         h0: Tensor | None = None, mask: np.ndarray | None = None, all_steps: bool = True,
                         activation: Callable = activations.tanh, input_masks: np.ndarray | None = None,
                         recurrent_masks: np.ndarray | None = None) -> Tensor:
    """The recurrence one step at a time: h_t for every step (batch, steps, u), or the last (batch, 1, u).
    h0: the initial state, zeros when not given."""
    batch, steps, _ = x.shape
    h = Tensor(np.zeros((batch, recurrent_kernel.shape[0]), x.dtype)) if h0 is None else h0
    outputs = []
    for t in range(steps):
        h_new = activation(dropped_product(x[:, t], kernel, input_masks) + bias +
                           dropped_product(h, recurrent_kernel, recurrent_masks))
        h = kept_where_masked(h_new, h, mask, t)
        if all_steps or t == steps - 1:
            outputs.append(h)
    return stack(outputs, axis=1)


class SimpleRNN(_Recurrent):
    """A fully connected recurrence over (batch, time, features): output (batch, units), or with
    return_sequences (batch, time, units); return_state adds the final h."""
    fused_op, reference = FusedSimpleRNN, staticmethod(simple_rnn_reference)
    reference_keywords = ("activation",)  # a SimpleRNN has no recurrent activation

    def __init__(self, units: int, activation: Any = "tanh", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, fused: bool = True, **kwargs: Any) -> None:
        super().__init__(units, activation, "sigmoid", use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, dropout, recurrent_dropout, seed, return_sequences, return_state,
                         go_backwards, fused=fused, **kwargs)  # fused: the fused kernel hard-wires tanh
