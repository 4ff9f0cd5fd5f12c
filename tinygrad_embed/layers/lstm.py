"""LSTM, exactly Keras's layer: weights [kernel (features, 4u), recurrent_kernel (u, 4u), bias (4u,)],
gate order i, f, c, o, masked steps keep their state.

Two implementations of the same maths, proven equal by tests/test_lstm.py: `lstm_reference`, composed
from Tensor ops one step at a time so that autograd does backpropagation through time (the one to
read), and the fused op in fused_lstm.py (the one that runs by default, for speed).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import activations, initializers
from ..fused_lstm import FusedLSTM
from ..ops import concatenate, stack
from ..tensor import Tensor
from ..utils import positive_int
from .base import Layer


def lstm_reference(x: Tensor, kernel: Tensor, recurrent_kernel: Tensor, bias: Tensor,
                   mask: np.ndarray | None = None, all_steps: bool = True,
                   activation: Callable = activations.tanh,
                   recurrent_activation: Callable = activations.sigmoid) -> Tensor:
    """The LSTM written out one step at a time. Returns [h_t | c_t] for every step, shape
    (batch, steps, 2 units), or for the last step only, shape (batch, 1, 2 units), as FusedLSTM."""
    batch, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    h = c = Tensor(np.zeros((batch, units), x.dtype))
    outputs = []
    for t in range(steps):
        z = x[:, t, :] @ kernel + h @ recurrent_kernel + bias
        i = recurrent_activation(z[:, :units])
        f = recurrent_activation(z[:, units:2 * units])
        g = activation(z[:, 2 * units:3 * units])
        o = recurrent_activation(z[:, 3 * units:])
        c_new = f * c + i * g
        h_new = o * activation(c_new)
        if mask is not None:  # a masked row keeps its previous state
            keep = Tensor(mask[:, t:t + 1].astype(x.dtype))
            h_new, c_new = keep * h_new + (1 - keep) * h, keep * c_new + (1 - keep) * c
        h, c = h_new, c_new
        if all_steps or t == steps - 1:
            outputs.append(concatenate([h, c], axis=1))
    return stack(outputs, axis=1)


class LSTM(Layer):
    """Long short-term memory over (batch, time, features). Output (batch, units), or with
    return_sequences (batch, time, units); return_state adds the final h and c. A mask (batch, time)
    of True for real steps comes as `mask=` or from Embedding(mask_zero=True)."""
    supports_masking = True
    float_inputs = True

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, fused: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = positive_int(units, "LSTM's units")
        self.activation, self.recurrent_activation = activations.get(activation), activations.get(recurrent_activation)
        # The fused kernels hard-wire Keras's default activations; any other pair runs the reference.
        self.fused = fused and activation == "tanh" and recurrent_activation == "sigmoid"
        self.use_bias, self.unit_forget_bias = bool(use_bias), bool(unit_forget_bias)
        self.kernel_initializer, self.recurrent_initializer = kernel_initializer, recurrent_initializer
        self.bias_initializer = bias_initializer
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards = bool(go_backwards)

    def build(self, input_shape: tuple) -> None:
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"LSTM needs input of shape (batch, time, features), got shape {input_shape}")
        u = self.units
        self.kernel = self.add_weight((input_shape[-1], 4 * u), self.kernel_initializer, name="kernel")
        self.recurrent_kernel = self.add_weight((u, 4 * u), self.recurrent_initializer, name="recurrent_kernel")
        if self.use_bias:
            self.bias = self.add_weight((4 * u,), self._bias_initializer, name="bias")
        else:
            self.bias = Tensor(np.zeros(4 * u, self.dtype))

    def _bias_initializer(self, shape: tuple, dtype: Any) -> np.ndarray:
        bias = initializers.get(self.bias_initializer)(shape, dtype)
        if self.unit_forget_bias:  # start by remembering: forget gate open, as Keras
            bias[self.units:2 * self.units] = 1
        return bias

    def call(self, inputs: Tensor, mask: np.ndarray | None = None) -> Any:
        x = inputs
        if x.ndim != 3 or x.shape[2] != self.kernel.shape[0]:
            raise ValueError(f"LSTM {self.name!r} was built for input (batch, time, {self.kernel.shape[0]}), "
                             f"got shape {x.shape}")
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != x.shape[:2]:
                raise ValueError(f"LSTM mask must have shape (batch, time) = {x.shape[:2]}, got {mask.shape}")
            mask = mask.astype(bool)
        if self.go_backwards:  # Keras reads the sequence back to front and returns it in that order
            x, mask = x[:, ::-1], None if mask is None else mask[:, ::-1]
        weights = (x, self.kernel, self.recurrent_kernel, self.bias)
        if self.fused:
            hc = FusedLSTM.apply(*weights, mask=mask, all_steps=self.return_sequences)
        else:
            hc = lstm_reference(*weights, mask=mask, all_steps=self.return_sequences,
                                activation=self.activation, recurrent_activation=self.recurrent_activation)
        u = self.units
        output = hc[:, :, :u] if self.return_sequences else hc[:, -1, :u]
        return [output, hc[:, -1, :u], hc[:, -1, u:]] if self.return_state else output

    def compute_output_shape(self, input_shape: tuple) -> Any:
        batch, steps, _ = input_shape
        output = (batch, steps, self.units) if self.return_sequences else (batch, self.units)
        return [output, (batch, self.units), (batch, self.units)] if self.return_state else output

    def compute_mask(self, inputs: Tensor, mask: np.ndarray | None = None) -> np.ndarray | None:
        if mask is None or not self.return_sequences:
            return None
        return np.asarray(mask, bool)[:, ::-1] if self.go_backwards else mask
