"""Activation functions by Keras's names, on Tensors."""
from __future__ import annotations

from typing import Callable, Union

from .tensor import Tensor


def linear(x: Tensor) -> Tensor:
    return x


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def relu(x: Tensor) -> Tensor:
    return x.relu()


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """e^x / sum(e^x) along axis. Subtracting the (constant) maximum first keeps e^x finite for large
    x and changes nothing else: softmax(x - m) = softmax(x)."""
    e = (x - x.detach().max(axis=axis, keepdims=True)).exp()
    return e / e.sum(axis=axis, keepdims=True)


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
