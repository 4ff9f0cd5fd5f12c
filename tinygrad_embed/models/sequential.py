"""Sequential: a stack of layers, each feeding the next; everything else it shares with Model."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..layers.base import Layer
from ..layers.input_layer import InputLayer
from ..layers.symbolic import KerasTensor
from .model import Model


class Sequential(Model):
    """Sequential([layer, ...]) or Sequential() then add(layer); input_shape says where its shape comes from."""

    def __init__(self, layers: Sequence[Any] | None = None, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.__dict__["_input_layer"] = None  # not a sublayer: it holds no weights and is not in .layers
        for layer in layers or []:
            self.add(layer)

    def add(self, layer: Any) -> None:
        """Put a layer on top, built at once when the input shape is known (an Input first gives it)."""
        if isinstance(layer, (InputLayer, KerasTensor)) or not isinstance(layer, Layer):
            return self._add_input(layer)
        self._layers.append(layer)
        if self.input_shape is not None and not layer.built:
            try:
                self.symbolic_outputs()  # as Keras: with the input shape known, each layer is built when added
            except Exception:
                self._layers.pop()  # a layer that does not fit is not kept
                raise

    def _add_input(self, layer: Any) -> None:
        """An Input (or the KerasTensor Input() gives, as Keras 3 writes it), which holds no weights: it gives
        the input shape, so it must come first. Anything else that is not a layer is refused."""
        if isinstance(layer, KerasTensor) and layer.node is not None and isinstance(layer.node.layer, InputLayer):
            layer = layer.node.layer
        if not isinstance(layer, InputLayer):
            raise TypeError(f"Sequential.add needs a layer, got {type(layer).__name__}")
        if self._layers:
            raise ValueError("an Input must come first in a Sequential model")
        self.__dict__["_input_layer"] = layer

    def pop(self) -> Layer:
        """Remove the last layer and return it."""
        if not self._layers:
            raise ValueError("this Sequential model has no layers to pop")
        return self._layers.pop()

    built = property(lambda self: bool(self._layers) and all(layer.built for layer in self._layers),
                     lambda self, value: None)  # built when every layer is

    @property
    def input_shape(self) -> tuple | None:
        """(None, ...) as declared by an Input or the first layer, or as seen in the first data."""
        if self._input_layer is not None:
            return self._input_layer.batch_shape
        first = self._layers[0]._batch_input_shape if self._layers else None
        return first if first is not None else self.__dict__.get("_seen_input_shape")

    @property
    def input_dtype(self) -> np.dtype:
        """The Input's dtype, else that of the first data seen (ids for an Embedding), else float32."""
        if self._input_layer is not None:
            return self._input_layer.dtype
        return self.__dict__.get("_seen_input_dtype", np.dtype(np.float32))

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if self.input_shape is None and hasattr(inputs, "shape") and hasattr(inputs, "dtype"):
            self.__dict__["_seen_input_shape"] = (None,) + tuple(inputs.shape[1:])  # for summary and saving
            self.__dict__["_seen_input_dtype"] = np.dtype(inputs.dtype)
        return super().__call__(inputs, *args, **kwargs)

    def _maybe_build(self, input_shape: Any) -> None:
        """Nothing to do: each layer builds on its first call."""

    def build(self, input_shape: Sequence[int | None] | None = None) -> None:
        """Create every weight, from the shapes alone (no data runs through the layers)."""
        if input_shape is not None:
            self.__dict__["_seen_input_shape"] = (None,) + tuple(input_shape[1:])
        self.symbolic_outputs()

    def symbolic_outputs(self) -> list[KerasTensor]:
        """Each layer's output as a KerasTensor (its shape), building the layers on the way."""
        if not self._layers or self.input_shape is None:
            _cannot_build(self)
        x, outputs = KerasTensor(self.input_shape, self.input_dtype), []
        for layer in self._layers:
            x = layer(x)
            outputs.append(x)
            layer._inbound_nodes.pop()  # a shape probe, not a graph anyone keeps
        return outputs

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        """Each layer on the output of the one before."""
        if not self._layers:
            _cannot_build(self)
        x = inputs
        for layer in self._layers:
            x = layer(x, training=training)
        return x

    def _check_inputs(self, x: Any) -> None:
        if self._layers:
            self._layers[0].check_inputs(x)


def _cannot_build(model: Sequential) -> None:
    """Why a Sequential model cannot run or be built yet: it has no layers, or its input shape is unknown."""
    if not model._layers:
        raise ValueError("this Sequential model has no layers yet: add some first")
    raise ValueError("the input shape is unknown: start with Input(shape=...), give the first layer input_shape= "
                     "(or Embedding an input_length), call build(input_shape), or call the model on data first")
