"""Lambda: a function of Tensors used as a layer, for models built in code.

A model file holds a Lambda's function only by name: loading one refuses it (from_config raises), since
a file never supplies code to run here. Keras refuses lambdas in its safe mode too; to reuse such a model,
build it again in code and load its weights.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy as np

from .base import Layer
from .symbolic import flatten, map_structure


def _parameters(function: Callable) -> frozenset[str]:
    try:
        return frozenset(inspect.signature(function).parameters)
    except (TypeError, ValueError):  # some built-in functions have no signature: they take no mask or training
        return frozenset()


def _described(value: Any) -> Any:
    """A function by its qualified name, an array as lists, for a config (JSON); anything else as it is."""
    if callable(value):
        return f"{getattr(value, '__module__', None) or '?'}.{getattr(value, '__qualname__', repr(value))}"
    return value.tolist() if isinstance(value, np.ndarray) else value


def _is_shape(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(d is None or isinstance(d, (int, np.integer)) for d in value)


class Lambda(Layer):
    """y = function(x, **arguments); the function also gets mask= and training= when it names them.
    output_shape (without the batch axis, or a function of the whole input shape) saves running the
    function to find it. mask: a function (inputs, mask) -> the output mask, or a fixed mask; without
    one, a mask the layer receives is dropped (with a warning), as in Keras."""

    def __init__(self, function: Callable, output_shape: Any = None, mask: Any = None,
                 arguments: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda needs a function, got {function!r:.80}")
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"Lambda's arguments must be a dict of keyword arguments, got {arguments!r:.80}")
        self.function, self._output_shape, self.mask = function, output_shape, mask
        self.arguments = dict(arguments or {})
        self.supports_masking = mask is not None
        self._passes = _parameters(function) & {"mask", "training"}

    def call(self, inputs: Any, mask: Any = None, training: bool | None = None) -> Any:
        given = {"mask": mask, "training": training}
        return self.function(inputs, **self.arguments, **{name: given[name] for name in self._passes})

    def compute_output_shape(self, input_shape: Any) -> Any:
        if self._output_shape is None:
            return super().compute_output_shape(input_shape)  # found by running the function
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        batch = flatten(input_shape)[0]
        return map_structure(lambda shape: (batch,) + tuple(shape), self._output_shape, is_leaf=_is_shape)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return self.mask(inputs, mask) if callable(self.mask) else self.mask

    def get_config(self) -> dict[str, Any]:
        """The functions by name only: enough to say what the layer was, never to run it again."""
        config = super().get_config() | {"function": _described(self.function), "arguments": self.arguments}
        extras = {"output_shape": self._output_shape, "mask": self.mask}
        return config | {key: _described(value) for key, value in extras.items() if value is not None}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Lambda:
        raise ValueError(f"the Lambda layer {config.get('name', '?')!r} runs the function "
                         f"{config.get('function')!r}, which a model file cannot supply: loading never runs code "
                         "from a file. Build the model again in code, Lambda included, then load the weights into "
                         "it (model.load_weights).")
