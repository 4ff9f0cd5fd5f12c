"""Input: where a functional model begins. `Input(shape=(500,), dtype="int32")` is a KerasTensor
that layers are called on; its InputLayer holds no weights and passes data through."""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import Layer
from .symbolic import KerasTensor, Node


class InputLayer(Layer):
    """The layer behind an Input; shape excludes the batch, batch_shape includes it (Keras 3's names;
    Keras 2's input_shape / batch_input_shape are accepted too)."""

    def __init__(self, shape: tuple | None = None, batch_size: int | None = None, dtype: Any = None,
                 batch_shape: tuple | None = None, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        if shape is not None and batch_shape is not None:
            raise ValueError("give InputLayer either shape or batch_shape, not both")
        if batch_shape is None:
            shape = shape if shape is not None else kwargs.get("input_shape")
            if shape is None and self._batch_input_shape is None:
                raise ValueError("InputLayer needs a shape, e.g. Input(shape=(500,)) for sequences of 500 ids")
            batch_shape = self._batch_input_shape if shape is None else (batch_size, *_as_shape(shape))
        self.batch_shape = tuple(batch_shape)
        try:
            self.dtype = np.dtype(object if dtype == "string" else "float32" if dtype is None else dtype)  # Keras's "string": text
        except TypeError:
            raise TypeError(f"Input's dtype must be a numpy dtype name such as 'int32' or 'float32', got {dtype!r}") from None
        self.built = True
        self.output = KerasTensor(self.batch_shape, self.dtype, name=self.name)
        self._inbound_nodes.append(Node(self, [], self.output))

    def call(self, inputs: Any) -> Any:
        return inputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {"batch_shape": list(self.batch_shape), "dtype": str(self.dtype), "name": self.name}


def _as_shape(shape: Any) -> tuple:
    shape = (shape,) if isinstance(shape, (int, np.integer)) or shape is None else tuple(shape)
    for size in shape:
        if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1):
            raise ValueError(f"an input shape holds positive integers or None, got {shape}")
    return shape


def Input(shape: tuple | None = None, batch_size: int | None = None, dtype: Any = None,
          batch_shape: tuple | None = None, name: str | None = None) -> KerasTensor:
    """A symbolic input of a functional model: `x = Input(shape=(500,), dtype="int32")`."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape, name=name).output
