"""Layers without weights that change a tensor's shape or apply a function to it: Flatten, Activation,
Reshape, RepeatVector. The batch axis (axis 0) is never touched. As in Keras, Activation hands a mask on
unchanged, while the others do not support masking: a mask they receive is dropped with a warning."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .. import activations
from ..functions import stack
from ..tensor import Tensor
from ..helpers import positive_int
from .base import Layer

DATA_FORMATS = ("channels_last", "channels_first")


class Flatten(Layer):
    """(batch, d1, ..., dk) -> (batch, d1 * ... * dk); (batch,) -> (batch, 1)."""

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = "channels_last" if data_format is None else data_format
        if self.data_format not in DATA_FORMATS:
            raise ValueError(f"Flatten's data_format must be one of {DATA_FORMATS} or None, got {data_format!r}")

    def call(self, inputs: Tensor) -> Tensor:
        if self.data_format == "channels_first" and inputs.ndim > 2:
            # the channels move last first, so the flat order is the one a channels_last input gives
            inputs = inputs.transpose((0, *range(2, inputs.ndim), 1))
        return inputs.reshape(inputs.shape[0], math.prod(inputs.shape[1:]))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        features = input_shape[1:]
        return (input_shape[0], None if None in features else math.prod(features))

    def get_config(self) -> dict[str, Any]:
        return super().get_config() | {"data_format": self.data_format}  # None resolved, as Keras stores it


class Activation(Layer):
    """y = activation(x), elementwise (softmax: along the last axis); a mask passes through."""
    supports_masking = True

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)  # an unknown name fails here, at construction

    def call(self, inputs: Tensor) -> Tensor:
        return self.activation(inputs)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        """A known activation given as a function is stored by its name, as Keras does (JSON can hold it)."""
        config = super().get_config()
        names = [name for name, fn in activations.KNOWN.items() if fn is self.activation]
        return (config | {"activation": names[0]}) if names else config


class Reshape(Layer):
    """(batch, ...) -> (batch, *target_shape), the same elements in row-major order; one size may be -1,
    which takes whatever size keeps the number of elements."""

    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_shape = _checked_target_shape(target_shape)

    def call(self, inputs: Tensor) -> Tensor:
        return inputs.reshape((inputs.shape[0],) + self._resolved(inputs.shape[1:]))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0],) + self._resolved(tuple(input_shape[1:]))

    def _resolved(self, features: tuple) -> tuple:
        """target_shape with its -1 worked out from the input's non-batch sizes (None if one is unknown)."""
        if None in features:
            return tuple(None if d == -1 else d for d in self.target_shape)
        size, known = math.prod(features), math.prod(d for d in self.target_shape if d != -1)
        if -1 not in self.target_shape and size == known:
            return self.target_shape
        if -1 in self.target_shape and size % known == 0:
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        raise ValueError(f"Reshape {self.name!r} cannot reshape input with non-batch shape {features} "
                         f"({size} elements) to target_shape {self.target_shape} ({known} elements"
                         f"{' times a whole number' if -1 in self.target_shape else ''})")

    def get_config(self) -> dict[str, Any]:
        return super().get_config() | {"target_shape": self.target_shape}  # a tuple, whatever was passed


class RepeatVector(Layer):
    """(batch, features) -> (batch, n, features): n copies of each row along a new time axis (the
    gradient of a row is the sum over its copies)."""

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n = positive_int(n, "RepeatVector's n")

    def call(self, inputs: Tensor) -> Tensor:
        self.compute_output_shape(inputs.shape)  # checks the rank
        return stack([inputs] * self.n, axis=1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        if len(input_shape) != 2:
            raise ValueError(f"RepeatVector {self.name!r} needs input of shape (batch, features), got shape "
                             f"{tuple(input_shape)}")
        return (input_shape[0], self.n, input_shape[1])


def _checked_target_shape(target_shape: Any) -> tuple[int, ...]:
    """target_shape as a tuple of positive ints with at most one -1; ValueError naming it otherwise."""
    try:
        shape = tuple(target_shape)
    except TypeError:
        raise TypeError(f"Reshape's target_shape must be a tuple of integers, got {target_shape!r}") from None
    if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and (d > 0 or d == -1) for d in shape):
        raise ValueError(f"Reshape's target_shape must hold positive integers and at most one -1, "
                         f"got {target_shape!r}")
    if shape.count(-1) > 1:
        raise ValueError(f"Reshape's target_shape may have one unknown size (-1), got {target_shape!r}")
    return tuple(int(d) for d in shape)  # plain ints: the config is JSON
