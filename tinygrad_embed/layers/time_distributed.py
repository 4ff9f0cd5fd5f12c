"""TimeDistributed: one layer applied to every step of a sequence, with the same weights at every step.

A step is the slice x[:, t] of an input (batch, time, ...). Most built-in layers treat the samples of a
batch independently, so the steps can be folded into the batch: (batch * time, ...) goes through the
layer once (for Dense, one matrix product) and the result is unfolded. A user's layer, a stateful one
or BatchNormalization (statistics over the batch) may not, so it is called on each step in turn, as
Keras 3 does for every layer (Keras 2 drew a similar line). The mask (batch, time) goes to the wrapped
layer, step by step, when its call takes one, and on to the next layer unchanged.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..functions import stack
from ..tensor import Tensor
from .base import Layer, _call_parameters, deserialize_layer, serialize_layer


MIXES_SAMPLES = ("BatchNormalization",)  # built-in layers whose output for a sample depends on the others


def _folds_into_batch(layer: Layer) -> bool:
    """True for a layer (and its sublayers) of this package that treats each sample on its own."""
    kind = type(layer)
    return (kind.__module__.startswith("tinygrad_embed.") and kind.__name__ not in MIXES_SAMPLES
            and not getattr(layer, "stateful", False) and all(_folds_into_batch(inner) for inner in layer._layers))


class TimeDistributed(Layer):
    """y[:, t] = layer(x[:, t]) for every step t; the weights are the wrapped layer's."""
    supports_masking = True

    def __init__(self, layer: Layer, **kwargs: Any) -> None:
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed wraps a Layer instance, e.g. TimeDistributed(Dense(8)); got "
                             f"{layer!r:.80}")
        # the wrapper computes in its layer's dtype unless told: a cast on the way in would lose precision
        super().__init__(**{"dtype": layer.dtype, **kwargs})
        self.layer, self.float_inputs = layer, layer.float_inputs  # ids into Dense are cast, into Embedding not

    def build(self, input_shape: tuple) -> None:
        self.layer._maybe_build(self._step_shape(input_shape))

    def call(self, inputs: Tensor, mask: np.ndarray | None = None, training: bool | None = None) -> Tensor:
        batch, steps = self._step_shape(inputs.shape)[0], inputs.shape[1]
        if mask is not None and np.shape(mask)[:2] != (batch, steps):
            raise ValueError(f"TimeDistributed {self.name!r} got a mask of shape {np.shape(mask)} for input of shape "
                             f"{inputs.shape}: it must start with (batch, time) = {(batch, steps)}")
        if not _folds_into_batch(self.layer):
            return stack([self._inner(inputs[:, t], None if mask is None else mask[:, t], training)
                          for t in range(steps)], axis=1)
        fold = None if mask is None else np.reshape(mask, (batch * steps,) + np.shape(mask)[2:])
        outputs = self._inner(inputs.reshape((batch * steps,) + inputs.shape[2:]), fold, training)
        return outputs.reshape((batch, steps) + outputs.shape[1:])

    def _inner(self, x: Tensor, mask: np.ndarray | None, training: bool | None) -> Tensor:
        """The wrapped layer's call (built already), given mask and training if it takes them, as Keras."""
        takes = _call_parameters(type(self.layer))
        extra = {"mask": mask} if "mask" in takes and mask is not None else {}
        return self.layer.call(x, **extra, **({"training": training} if "training" in takes else {}))

    def _step_shape(self, input_shape: tuple) -> tuple:
        """The shape of one step's slice, (batch, ...), which the wrapped layer sees."""
        if len(input_shape) < 3:
            raise ValueError(f"TimeDistributed {self.name!r} needs input of shape (batch, time, ...) with at least "
                             f"3 axes, got shape {tuple(input_shape)}")
        return (input_shape[0],) + tuple(input_shape[2:])

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        step = self.layer.compute_output_shape(self._step_shape(input_shape))
        if not isinstance(step, tuple):
            raise ValueError(f"TimeDistributed {self.name!r} wraps a layer with one output; "
                             f"{self.layer.name!r} gives {step}")
        return (step[0], input_shape[1]) + step[1:]

    def get_config(self) -> dict[str, Any]:
        """Keras's: the wrapped layer nested as {"class_name", "config"}, plain JSON."""
        return super().get_config() | {"layer": serialize_layer(self.layer)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TimeDistributed:
        return cls(**{**config, "layer": deserialize_layer(config["layer"])})
