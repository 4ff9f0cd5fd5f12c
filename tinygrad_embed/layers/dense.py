"""Dense: y = activation(x @ kernel + bias), on the last axis of an input of rank 2 or more."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import activations
from ..tensor import Tensor
from ..utils import positive_int
from .base import Layer


class Dense(Layer):
    supports_masking = True  # a mask passes through unchanged, as in Keras

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", dtype: Any = "float32", name: str | None = None) -> None:
        self.config = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        super().__init__(dtype=dtype, name=name)
        self.units, self.use_bias = positive_int(units, "Dense's units"), bool(use_bias)
        self.activation = activations.get(activation)  # an unknown name fails here, at construction
        self.kernel_initializer = kernel_initializer

    def build(self, input_shape: tuple[int, ...]) -> None:
        if len(input_shape) < 2:
            raise ValueError(f"Dense needs input of rank 2 or more, (batch, ..., features); got shape {input_shape}")
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer)
        self.bias = self.add_weight("bias", (self.units,), "zeros") if self.use_bias else None

    def call(self, x: Tensor, mask: np.ndarray | None = None) -> Tensor:
        if x.ndim < 2 or x.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"Dense {self.name!r} was built for inputs with {self.kernel.shape[0]} features "
                             f"on the last axis, got shape {x.shape}")
        y = x @ self.kernel
        return self.activation(y + self.bias if self.use_bias else y)

    def compute_mask(self, x: Tensor, mask: np.ndarray | None) -> np.ndarray | None:
        return mask
