"""Activation functions by Keras's names, on Tensors."""
from __future__ import annotations

from typing import Any, Callable, Union

import numpy as np

from .tensor import Tensor


def linear(x: Tensor) -> Tensor:
    return x


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def relu(x: Tensor) -> Tensor:
    return x.relu()


def _shifted(x: Tensor, axis: Any) -> Tensor:
    """x minus its (constant) maximum over axis: keeps e^x finite and changes no softmax, as
    softmax(x - m) = softmax(x)."""
    return x - Tensor(np.max(x.data, axis=axis, keepdims=True))


def softmax(x: Tensor, axis: Any = -1) -> Tensor:
    """e^x / sum(e^x) along axis (an int, a tuple, or None for all)."""
    e = _shifted(x, axis).exp()
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x: Tensor, axis: Any = -1) -> Tensor:
    """x - log(sum(e^x)) along axis, without forming e^x of a large x."""
    shifted = _shifted(x, axis)
    return shifted - shifted.exp().sum(axis=axis, keepdims=True).log()


KNOWN = {"linear": linear, "sigmoid": sigmoid, "tanh": tanh, "relu": relu, "softmax": softmax}


def get(identifier: Union[None, str, Callable[[Tensor], Tensor]]) -> Callable[[Tensor], Tensor]:
    """An activation from its name (None means linear) or a callable, as Keras's activations.get."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if identifier not in KNOWN:
        raise ValueError(f"unknown activation {identifier!r}; known: None, {', '.join(sorted(KNOWN))}")
    return KNOWN[identifier]
