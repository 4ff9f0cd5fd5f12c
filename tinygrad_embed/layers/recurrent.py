"""What LSTM, GRU and SimpleRNN share, as Keras's RNN layer does: the arguments, the input checks,
go_backwards, the dropout masks, return_sequences / return_state and the mask handed on. Each layer
supplies its weights and `recur`, the recurrence itself (a fused op, or a reference composed from ops).

Dropout, as Keras 3: while training, one mask per batch for the input (batch, features) and one for the
state (batch, units), drawn once and used at every step, scaled by 1 / (1 - rate). Once
recurrent_dropout is set, every gate gets masks of its own (Keras's `implementation=1`). Outside
training, and at rate 0, there is no mask and no cost.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import activations
from ..functions import concatenate
from ..tensor import Tensor
from ..utils import positive_int, random_generator
from .base import Layer


def dropped_product(a: Tensor, weights: Tensor, masks: np.ndarray | None) -> Tensor:
    """(a * mask) @ weights, with Tensor ops; one product per gate block when each gate has a mask."""
    if masks is None:
        return a @ weights
    size = weights.shape[1] // len(masks)
    return concatenate([(a * mask) @ weights[:, g * size:(g + 1) * size] for g, mask in enumerate(masks)], axis=1)


def dropout_rate(rate: Any, what: str) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)) or not 0 <= rate < 1:
        raise ValueError(f"{what} must be a number in [0, 1), the fraction of units dropped, got {rate!r}")
    return float(rate)


class _Recurrent(Layer):
    """The shared part; `gates` is the number of blocks of `units` columns in the kernels (LSTM 4, GRU 3)."""
    supports_masking = True
    float_inputs = True
    gates = 1
    state_count = 1  # the states that return_state adds (LSTM: h and c)

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros", dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: int | None = None, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        kind = type(self).__name__
        self.units = positive_int(units, f"{kind}'s units")
        self.activation, self.recurrent_activation = activations.get(activation), activations.get(recurrent_activation)
        # The fused kernels hard-wire Keras's default activations; any other pair runs the reference.
        self.default_activations = activation == "tanh" and recurrent_activation == "sigmoid"
        self.use_bias = bool(use_bias)
        self.kernel_initializer, self.recurrent_initializer = kernel_initializer, recurrent_initializer
        self.bias_initializer = bias_initializer
        self.dropout = dropout_rate(dropout, f"{kind}'s dropout")
        self.recurrent_dropout = dropout_rate(recurrent_dropout, f"{kind}'s recurrent_dropout")
        self._generator = None if seed is None else np.random.default_rng(seed)
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards = bool(go_backwards)

    def build(self, input_shape: tuple) -> None:
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"{type(self).__name__} needs input of shape (batch, time, features), got shape "
                             f"{input_shape}")
        n = self.gates * self.units
        self.kernel = self.add_weight((input_shape[-1], n), self.kernel_initializer, name="kernel")
        self.recurrent_kernel = self.add_weight((self.units, n), self.recurrent_initializer, name="recurrent_kernel")

    def call(self, inputs: Tensor, mask: np.ndarray | None = None, training: bool | None = None) -> Any:
        x = inputs
        if x.ndim != 3 or x.shape[2] != self.kernel.shape[0]:
            raise ValueError(f"{type(self).__name__} {self.name!r} was built for input (batch, time, "
                             f"{self.kernel.shape[0]}), got shape {x.shape}")
        if x.shape[1] == 0:
            raise ValueError(f"{type(self).__name__} {self.name!r} needs at least one time step, got shape {x.shape}")
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != x.shape[:2]:
                raise ValueError(f"{type(self).__name__} mask must have shape (batch, time) = {x.shape[:2]}, "
                                 f"got {mask.shape}")
            mask = mask.astype(bool)
        if self.go_backwards:  # Keras reads the sequence back to front and returns it in that order
            x, mask = x[:, ::-1], None if mask is None else mask[:, ::-1]
        sequence, states = self.recur(x, mask, *self.dropout_masks(x, training))
        output = sequence if self.return_sequences else sequence[:, -1]
        return [output, *states] if self.return_state else output

    def recur(self, x: Tensor, mask: np.ndarray | None, input_masks: np.ndarray | None,
              recurrent_masks: np.ndarray | None) -> tuple[Tensor, list[Tensor]]:
        """(outputs of every step, or of the last one as (batch, 1, units); the final states)."""
        raise NotImplementedError

    def dropout_masks(self, x: Tensor, training: bool | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Keras's masks for this batch, (count, batch, features) and (count, batch, units), or None."""
        if not training or not (self.dropout or self.recurrent_dropout):
            return None, None
        count = self.gates if self.recurrent_dropout else 1
        generator = self._generator or random_generator()

        def draw(rate: float, size: int) -> np.ndarray | None:
            keep = generator.random((count, x.shape[0], size)) >= rate
            return (keep / (1 - rate)).astype(x.dtype) if rate else None
        return draw(self.dropout, x.shape[2]), draw(self.recurrent_dropout, self.units)

    def compute_output_shape(self, input_shape: tuple) -> Any:
        batch, steps, _ = input_shape
        output = (batch, steps, self.units) if self.return_sequences else (batch, self.units)
        return [output] + [(batch, self.units)] * self.state_count if self.return_state else output

    def compute_mask(self, inputs: Tensor, mask: np.ndarray | None = None) -> np.ndarray | None:
        """The mask goes on with the sequence (reversed with it under go_backwards); the states have none."""
        if mask is None or not self.return_sequences:
            return None
        return np.asarray(mask, bool)[:, ::-1] if self.go_backwards else mask
