"""Weights by path: what callbacks (GradientStats, TensorBoard) and inspect name them by. It sits with the
layers because it reads only the layer contract (`_weights`, `_weight_names`, `_layers`)."""
from __future__ import annotations

from ..tensor import Tensor
from .base import Layer


def named_weights(model: Layer) -> dict[str, Tensor]:
    """Every weight of a model (or layer) under its path, "lstm/kernel", a sublayer's as
    "outer/inner/kernel", the model's own without a prefix; in the order of model.weights, a weight
    that two layers share under its first name."""
    named, seen = {}, set()

    def walk(layer: Layer, prefix: str) -> None:
        for name, weight in zip(layer._weight_names, layer._weights):
            if id(weight) not in seen:
                seen.add(id(weight))
                named[prefix + name] = weight
        for sublayer in layer._layers:
            walk(sublayer, f"{prefix}{sublayer.name}/")
    walk(model, "")
    return named
