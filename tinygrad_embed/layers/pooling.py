"""Pooling over the time axis: MaxPooling1D and AveragePooling1D slide a window along the steps;
GlobalMaxPooling1D and GlobalAveragePooling1D reduce all steps to one. All take (batch, steps, channels)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from .base import Layer
from ..helpers import one_int
from .padding import channels_last, output_steps, pad_steps, padding_amounts, padding_mode


class _Pooling1D(Layer):
    """What the two windowed poolings share: pool_size, strides (pool_size when None), padding."""
    pad_value = 0.0

    def __init__(self, pool_size: int | tuple[int] = 2, strides: int | tuple[int] | None = None,
                 padding: str = "valid", data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pool_size = one_int(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else one_int(strides, "strides")
        self.padding = padding_mode(padding, ("valid", "same"))
        channels_last(data_format)

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.ndim != 3:
            raise ValueError(f"{type(self).__name__} needs input of shape (batch, steps, channels), got shape {inputs.shape}")
        left, right = padding_amounts(inputs.shape[1], self.pool_size, self.strides, 1, self.padding)
        windows = pad_steps(inputs, left, right, self.pad_value).sliding_windows(self.pool_size, self.strides)
        return self.reduce(windows, inputs.shape[1], left, right)

    def reduce(self, windows: Tensor, steps: int, left: int, right: int) -> Tensor:
        raise NotImplementedError

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        steps = output_steps(input_shape[1], self.pool_size, self.strides, 1, self.padding)
        return (input_shape[0], steps, input_shape[2])


class MaxPooling1D(_Pooling1D):
    """The largest value of each window, per channel. The gradient goes to that value's step; on a tie,
    to the first of the tied steps (as PyTorch's and TensorFlow's max pooling)."""
    pad_value = -np.inf  # "same" padding never wins a maximum

    def reduce(self, windows, steps, left, right):
        return windows.max(axis=2)


class AveragePooling1D(_Pooling1D):
    """The mean of each window, per channel. With "same" padding the padded steps are not counted: a
    window holding 2 real steps is their mean (TensorFlow's rule; see docs/layers.md for where Keras's
    torch backend differs)."""

    def reduce(self, windows, steps, left, right):
        real = np.lib.stride_tricks.sliding_window_view(np.pad(np.ones(steps), (left, right)), self.pool_size)
        counts = real[::self.strides].sum(axis=1).astype(windows.dtype)
        return windows.sum(axis=2) / counts[:, None]


class _GlobalPooling1D(Layer):
    """What the global poolings share: (batch, steps, channels) -> (batch, channels), or (batch, 1,
    channels) with keepdims=True."""

    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        channels_last(data_format)
        self.keepdims = bool(keepdims)

    def check_rank(self, inputs: Tensor) -> None:
        if inputs.ndim != 3:
            raise ValueError(f"{type(self).__name__} needs input of shape (batch, steps, channels), got shape {inputs.shape}")

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], 1, input_shape[2]) if self.keepdims else (input_shape[0], input_shape[2])


class GlobalMaxPooling1D(_GlobalPooling1D):
    """The largest value over all steps, per channel. A mask is dropped with a warning (Keras 3 too): the
    maximum includes padded steps."""

    def call(self, inputs: Tensor) -> Tensor:
        self.check_rank(inputs)
        return inputs.max(axis=1, keepdims=self.keepdims)


class GlobalAveragePooling1D(_GlobalPooling1D):
    """The mean over all steps, per channel; with a mask, over the unmasked steps only. The mask stops here.
    A sample with every step masked (a review that is all padding) gives zeros, where Keras gives NaN, 0 / 0
    (docs/nothing-silent.md, "Masked-out sequences")."""

    def call(self, inputs: Tensor, mask: Any = None) -> Tensor:
        self.check_rank(inputs)
        if mask is None:
            return inputs.mean(axis=1, keepdims=self.keepdims)
        weights = np.asarray(mask.data if isinstance(mask, Tensor) else mask, inputs.dtype)[:, :, None]
        counts = np.maximum(weights.sum(axis=1, keepdims=self.keepdims), 1)  # no step left: the sum, 0, over 1
        return (inputs * weights).sum(axis=1, keepdims=self.keepdims) / counts

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        return None


# Keras 2's shorter names
MaxPool1D, AvgPool1D = MaxPooling1D, AveragePooling1D
GlobalMaxPool1D, GlobalAvgPool1D = GlobalMaxPooling1D, GlobalAveragePooling1D
