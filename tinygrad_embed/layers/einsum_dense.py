"""EinsumDense: y = activation(einsum(equation, x, kernel) + bias), Keras's dense layer over any axes. The
attention layers project onto heads and back with it (`query/kernel` of shape (dim, num_heads, key_dim)).

The equation is Keras's "input,kernel->output" without "...": each kernel letter is an input letter (its
size read from the input) or an output letter (its size from `output_shape`, which leaves out the batch).
The bias covers the output from its first letter in `bias_axes` on, 1 where a letter is not a bias axis."""
from __future__ import annotations

from typing import Any, Sequence

from .. import activations, initializers
from ..attention_functions import Einsum
from ..tensor import Tensor
from .base import Layer


# Keras's arguments this project does not implement: accepted at None only (a config of Keras's holds them)
KERAS_ONLY = ("kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint",
              "quantization_config")


def refuse_keras_only(layer: str, kwargs: dict[str, Any], names: tuple[str, ...] = KERAS_ONLY) -> None:
    """Remove Keras's unimplemented arguments from kwargs, refusing any that is not None."""
    for name in names:
        if kwargs.pop(name, None) is not None:
            raise ValueError(f"{layer}'s {name} is not in tinygrad_embed; leave it None")


def _split(equation: Any) -> tuple[str, str, str]:
    if not isinstance(equation, str) or equation.count(",") != 1 or equation.count("->") != 1 or "." in equation:
        raise ValueError(f"EinsumDense takes an equation 'input,kernel->output' of letters, e.g. 'abc,cd->abd', "
                         f"got {equation!r}")
    inputs, output = equation.replace(" ", "").split("->")
    x, kernel = inputs.split(",")
    return x, kernel, output


class EinsumDense(Layer):
    supports_masking = False  # Keras 3's EinsumDense drops an incoming mask (with a warning), unlike Dense
    float_inputs = True

    def __init__(self, equation: str, output_shape: int | Sequence[int | None], activation: Any = None,
                 bias_axes: str | None = None, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", **kwargs: Any) -> None:
        refuse_keras_only("EinsumDense", kwargs)
        super().__init__(**kwargs)
        self.equation, (self._x, self._kernel, self._out) = equation, _split(equation)
        self.partial_output_shape = (output_shape,) if isinstance(output_shape, int) else tuple(output_shape)
        self.bias_axes = bias_axes
        if bias_axes and set(bias_axes) - set(self._out):
            raise ValueError(f"EinsumDense {self.name!r}: bias_axes {bias_axes!r} must be letters of the output "
                             f"{self._out!r} (equation {equation!r})")
        self.activation, self._activation_name = activations.get(activation), activation or "linear"
        self.kernel_initializer, self.bias_initializer = initializers.check(kernel_initializer, bias_initializer)

    def _full_output_shape(self, input_shape: tuple) -> tuple:
        """The output's shape: output_shape with the batch in front, a None read from the input's same letter."""
        given = self.partial_output_shape
        if len(given) + 1 == len(self._out):
            given = (input_shape[0],) + given
        if len(given) != len(self._out) or len(input_shape) != len(self._x):
            raise ValueError(f"EinsumDense {self.name!r} (equation {self.equation!r}, output_shape "
                             f"{self.partial_output_shape}) cannot take an input of shape {input_shape}: it needs "
                             f"rank {len(self._x)}, and an output_shape for the output's axes after the batch")
        sizes = dict(zip(self._x, input_shape))
        return tuple(sizes.get(c) if n is None else n for c, n in zip(self._out, given))

    def build(self, input_shape: tuple) -> None:
        output_shape = self._full_output_shape(tuple(input_shape))
        sizes = {**dict(zip(self._out, output_shape)), **dict(zip(self._x, input_shape))}
        if any(sizes.get(c) is None for c in self._kernel):
            raise ValueError(f"EinsumDense {self.name!r}: the kernel's axes {self._kernel!r} need known sizes, "
                             f"from the input's shape {input_shape} or output_shape {self.partial_output_shape}")
        self.kernel = self.add_weight(tuple(sizes[c] for c in self._kernel), self.kernel_initializer, name="kernel")
        self.bias = None
        if self.bias_axes:
            tail = self._out[min(self._out.index(c) for c in self.bias_axes):]
            shape = tuple(sizes[c] if c in self.bias_axes else 1 for c in tail)
            self.bias = self.add_weight(shape, self.bias_initializer, name="bias")

    def call(self, inputs: Tensor) -> Tensor:
        sizes = dict(zip(self._x, inputs.shape)) if inputs.ndim == len(self._x) else None
        if sizes is None or any(sizes[c] != n for c, n in zip(self._kernel, self.kernel.shape) if c in sizes):
            raise ValueError(f"EinsumDense {self.name!r} (equation {self.equation!r}) was built for inputs of rank "
                             f"{len(self._x)} and a kernel of shape {self.kernel.shape}, got an input of shape "
                             f"{inputs.shape}")
        y = Einsum.apply(inputs, self.kernel, self.equation)
        return self.activation(y if self.bias is None else y + self.bias)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return self._full_output_shape(tuple(input_shape))

    def get_config(self) -> dict[str, Any]:
        """Keras's keys, its regularizers and constraints (not implemented here) at None."""
        return super().get_config() | {
            "equation": self.equation, "output_shape": self.partial_output_shape, "activation": self._activation_name,
            "bias_axes": self.bias_axes, "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer, **{name: None for name in KERAS_ONLY}}
