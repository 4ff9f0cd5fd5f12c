"""Masking: padding steps of float sequences marked for the layers after it, as Embedding(mask_zero=True)
does for ids. A step is masked when every one of its features equals mask_value."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from .base import Layer


class Masking(Layer):
    """mask = any(x != mask_value) over the last axis (True: a real step); output = x where the mask is
    True and 0 at masked steps, as Keras (their gradient is 0). The mask goes on to the next layers: an LSTM
    after it skips the masked steps. The incoming mask, if any, is replaced."""
    supports_masking = True

    def __init__(self, mask_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float, np.integer, np.floating)):
            raise TypeError(f"Masking's mask_value must be a number, got {mask_value!r}")
        self.mask_value = mask_value

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.ndim < 2:
            raise ValueError(f"Masking {self.name!r} needs input of shape (batch, ..., features), got shape "
                             f"{inputs.shape}")
        return inputs * self.compute_mask(inputs)[..., None].astype(inputs.dtype)

    def compute_mask(self, inputs: Any, mask: Any = None) -> np.ndarray:
        values = inputs.data if isinstance(inputs, Tensor) else np.asarray(inputs)
        return (values != self.mask_value).any(axis=-1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)
