"""Conv1D: every output step is a Dense layer applied to a window of kernel_size input steps. Computed
as Keras's math says, with the engine's primitives: cut the (padded) input into its windows, lay each
window out as one row, and multiply all rows by the kernel in one matrix product ("im2col")."""
from __future__ import annotations

from typing import Any

from .. import activations, initializers
from ..tensor import Tensor
from ..helpers import one_int, positive_int
from .base import Layer
from .padding import PADDINGS, channels_last, output_steps, pad_steps, padding_amounts, padding_mode


class Conv1D(Layer):
    """Input (batch, steps, channels) -> (batch, new_steps, filters); kernel (kernel_size, channels,
    filters) and bias (filters,) as Keras. Masks are not supported: one that arrives is dropped with a
    warning, as Keras 3 does."""
    float_inputs = True

    def __init__(self, filters: int, kernel_size: int | tuple[int], strides: int | tuple[int] = 1,
                 padding: str = "valid", data_format: str | None = None, dilation_rate: int | tuple[int] = 1,
                 groups: int = 1, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.filters = positive_int(filters, "Conv1D's filters")
        self.kernel_size, self.strides = one_int(kernel_size, "kernel_size"), one_int(strides, "strides")
        self.dilation_rate = one_int(dilation_rate, "dilation_rate")
        if self.strides > 1 and self.dilation_rate > 1:  # Keras refuses it too
            raise ValueError(f"strides > 1 cannot be combined with dilation_rate > 1, got strides={strides} "
                             f"and dilation_rate={dilation_rate}")
        if groups != 1:
            raise ValueError(f"groups={groups!r} is not supported here: only groups=1")
        channels_last(data_format)
        self.padding = padding_mode(padding, PADDINGS)
        self.activation, self.use_bias = activations.get(activation), bool(use_bias)
        self.kernel_initializer, self.bias_initializer = initializers.check(kernel_initializer, bias_initializer)

    def build(self, input_shape: tuple) -> None:
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"Conv1D needs input of shape (batch, steps, channels) with the channels known, "
                             f"got shape {input_shape}")
        self.kernel = self.add_weight((self.kernel_size, input_shape[-1], self.filters), self.kernel_initializer,
                                      name="kernel")
        self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias") if self.use_bias else None

    def call(self, inputs: Tensor) -> Tensor:
        size, channels = self.kernel_size, self.kernel.shape[1]
        if inputs.ndim != 3 or inputs.shape[-1] != channels:
            raise ValueError(f"Conv1D {self.name!r} was built for input of shape (batch, steps, {channels}), "
                             f"got shape {inputs.shape}")
        left, right = padding_amounts(inputs.shape[1], size, self.strides, self.dilation_rate, self.padding)
        windows = pad_steps(inputs, left, right).sliding_windows(size, self.strides, self.dilation_rate)
        batch, steps = windows.shape[:2]
        rows = windows.reshape(batch * steps, size * channels)  # one row per window: the kernel's layout, flattened
        y = (rows @ self.kernel.reshape(size * channels, self.filters)).reshape(batch, steps, self.filters)
        return self.activation(y + self.bias if self.use_bias else y)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        steps = output_steps(input_shape[1], self.kernel_size, self.strides, self.dilation_rate, self.padding)
        return (input_shape[0], steps, self.filters)


Convolution1D = Conv1D  # Keras 2's name
