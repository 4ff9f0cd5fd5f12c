"""SimpleRNN, Keras's layer: h_t = activation(x_t W + b + h_{t-1} U), weights [kernel (features, u),
recurrent_kernel (u, u), bias (u,)]; masked steps keep their state. Composed from Tensor ops, one
step at a time: with one product and one activation per step there is little for a fused op to win
(benchmarks/RESULTS.md has the figures)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..functions import stack
from ..tensor import Tensor
from .recurrent import _Recurrent, dropped_product


class SimpleRNN(_Recurrent):
    """A fully connected recurrence over (batch, time, features): output (batch, units), or with
    return_sequences (batch, time, units); return_state adds the final h."""

    def __init__(self, units: int, activation: Any = "tanh", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, **kwargs: Any) -> None:
        super().__init__(units, activation, "sigmoid", use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, dropout, recurrent_dropout, seed, return_sequences, return_state,
                         go_backwards, **kwargs)

    def build(self, input_shape: tuple) -> None:
        super().build(input_shape)
        self.bias = self.add_weight((self.units,), self.bias_initializer, name="bias") if self.use_bias else None

    def recur(self, x, mask, input_masks, recurrent_masks):
        steps = x.shape[1]
        h = Tensor(np.zeros((x.shape[0], self.units), x.dtype))
        # x W + b for every step at once: the only product that does not wait for the previous step
        projected = dropped_product(x.reshape(-1, x.shape[2]), self.kernel, None if input_masks is None else
                                    np.repeat(input_masks, steps, axis=1)).reshape(x.shape[0], steps, self.units)
        if self.use_bias:
            projected = projected + self.bias
        outputs = []
        for t in range(steps):
            h_new = self.activation(projected[:, t] + dropped_product(h, self.recurrent_kernel, recurrent_masks))
            if mask is not None:  # a masked row keeps its previous state
                keep = Tensor(mask[:, t:t + 1].astype(x.dtype))
                h_new = keep * h_new + (1 - keep) * h
            h = h_new
            if self.return_sequences or t == steps - 1:
                outputs.append(h)
        return stack(outputs, axis=1), [h]
