"""Dense: y = activation(x @ kernel + bias), on the last axis of an input of rank 2 or more."""
from __future__ import annotations

from typing import Any

from .. import activations, initializers
from ..tensor import Tensor
from ..helpers import positive_int
from .base import Layer


class Dense(Layer):
    supports_masking = True  # a mask passes through unchanged, as in Keras
    float_inputs = True

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units, self.use_bias = positive_int(units, "Dense's units"), bool(use_bias)
        self.activation = activations.get(activation)  # an unknown name fails here, at construction
        self.kernel_initializer, self.bias_initializer = initializers.check(kernel_initializer, bias_initializer)

    def build(self, input_shape: tuple) -> None:
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"Dense needs input of rank 2 or more, (batch, ..., features), with the features "
                             f"known; got shape {input_shape}")
        self.kernel = self.add_weight((input_shape[-1], self.units), self.kernel_initializer, name="kernel")
        self.bias = self.add_weight((self.units,), self.bias_initializer, name="bias") if self.use_bias else None

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.ndim < 2 or inputs.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"Dense {self.name!r} was built for inputs with {self.kernel.shape[0]} features "
                             f"on the last axis, got shape {inputs.shape}")
        y = inputs @ self.kernel
        return self.activation(y + self.bias if self.use_bias else y)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape[:-1]) + (self.units,)
