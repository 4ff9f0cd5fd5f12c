"""BatchNormalization and LayerNormalization, Keras 3's: y = gamma * (x - mean) / sqrt(variance + epsilon)
+ beta. Batch normalization takes the statistics of each feature over the batch (and every other axis)
while training and keeps their moving averages for inference; layer normalization takes them over the
features of each sample, the same way in training and inference. Gradients flow through the statistics as
well as through gamma and beta: batch normalization is composed of Tensor ops, layer normalization is one
op (attention_functions.LayerNorm), as its ten composed ops were a Transformer step's largest share of
element-wise passes."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .. import initializers
from ..attention_functions import LayerNorm
from ..tensor import Tensor
from .base import Layer

KERAS_EPSILON = 1e-7  # keras.backend.epsilon(): Keras adds it to the count of unmasked entries


def _normalize(x: Tensor, mean: Tensor, variance: Tensor, gamma: Tensor | None, beta: Tensor | None,
               epsilon: float) -> Tensor:
    """gamma * (x - mean) / sqrt(variance + epsilon) + beta; a missing gamma is 1, a missing beta 0."""
    y = (x - mean) * (variance + epsilon) ** -0.5
    y = y if gamma is None else y * gamma
    return y if beta is None else y + beta


def _resolved_axes(axes: Sequence[int], input_shape: tuple, layer: str) -> tuple[int, ...]:
    """axes as sorted non-negative positions in an input of this shape; ValueError for one outside it
    or for a normalized axis whose size is unknown (the weights need it)."""
    rank = len(input_shape)
    for axis in axes:
        if not -rank <= axis < rank:
            raise ValueError(f"{layer}: axis {axis} is out of bounds for input shape {input_shape}")
    resolved = tuple(sorted({axis % rank for axis in axes}))
    if any(input_shape[axis] is None for axis in resolved):
        raise ValueError(f"{layer}: the size of the normalized axis {list(axes)} must be known, "
                         f"got input shape {input_shape}")
    return resolved


def _axis_int(axis: Any, layer: str) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{layer}'s axis must be an integer, got {axis!r}")
    return int(axis)


class BatchNormalization(Layer):
    """Training (`training=True`, as in fit): normalize with this batch's mean and biased variance per
    feature, and move the statistics: moving = moving * momentum + batch * (1 - momentum). Otherwise,
    or when the layer is frozen (trainable=False, as in Keras), normalize with the moving statistics.
    A mask of shape (batch, steps) leaves the masked steps out of the batch statistics; it passes on."""
    supports_masking = True
    float_inputs = True

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 moving_mean_initializer: Any = "zeros", moving_variance_initializer: Any = "ones",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = _axis_int(axis, "BatchNormalization")
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        (self.beta_initializer, self.gamma_initializer, self.moving_mean_initializer,
         self.moving_variance_initializer) = initializers.check(beta_initializer, gamma_initializer,
                                                                moving_mean_initializer, moving_variance_initializer)

    def build(self, input_shape: tuple) -> None:
        (axis,) = _resolved_axes([self.axis], tuple(input_shape), "BatchNormalization")
        self._feature_axis, self._rank = axis, len(input_shape)
        self._broadcast = tuple(input_shape[axis] if i == axis else 1 for i in range(len(input_shape)))
        self._reduce = tuple(i for i in range(len(input_shape)) if i != axis)
        size = (input_shape[axis],)
        # Keras's order of creation, which get_weights and its files follow
        self.gamma = self.add_weight(size, self.gamma_initializer, name="gamma") if self.scale else None
        self.beta = self.add_weight(size, self.beta_initializer, name="beta") if self.center else None
        self.moving_mean = self.add_weight(size, self.moving_mean_initializer, trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight(size, self.moving_variance_initializer, trainable=False,
                                               name="moving_variance")

    def call(self, inputs: Tensor, training: bool | None = None, mask: Any = None) -> Tensor:
        features = self._broadcast[self._feature_axis]
        if inputs.ndim != self._rank or inputs.shape[self._feature_axis] != features:
            raise ValueError(f"BatchNormalization {self.name!r} was built for inputs of rank {self._rank} with "
                             f"{features} features on axis {self.axis}, got shape {inputs.shape}")
        weights = self._mask_array(inputs, mask)  # checked in inference too, as Keras does
        if training and self.trainable:
            mean, variance = self._moments(inputs, weights)
            self._move(self.moving_mean, mean.data)
            self._move(self.moving_variance, variance.data)
        else:
            mean, variance = self.moving_mean, self.moving_variance
        return _normalize(inputs, mean.reshape(self._broadcast), variance.reshape(self._broadcast),
                          self._shaped(self.gamma), self._shaped(self.beta), self.epsilon)

    def _shaped(self, weight: Tensor | None) -> Tensor | None:
        return None if weight is None else weight.reshape(self._broadcast)

    def _mask_array(self, inputs: Tensor, mask: Any) -> np.ndarray | None:
        """The mask as 0/1 numbers of the input's shape, or None; ValueError for a mask not of rank - 1."""
        if mask is None:
            return None
        mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
        if mask.ndim != inputs.ndim - 1:
            raise ValueError(f"BatchNormalization's mask must have one axis fewer than its input: got a mask of "
                             f"shape {mask.shape} for input of shape {inputs.shape}")
        try:
            return np.broadcast_to(mask[..., None], inputs.shape).astype(inputs.dtype)
        except ValueError:
            raise ValueError(f"BatchNormalization's mask of shape {mask.shape} does not fit its input of shape "
                             f"{inputs.shape} (a mask covers every axis but the last)") from None

    def _moments(self, x: Tensor, weights: np.ndarray | None) -> tuple[Tensor, Tensor]:
        """The mean and biased variance over every axis but the features' (over unmasked entries only)."""
        if weights is None:
            mean = x.mean(axis=self._reduce, keepdims=True)
            return mean.reshape(-1), ((x - mean) ** 2).mean(axis=self._reduce).reshape(-1)
        # Keras's count: the fuzz factor keeps an all-masked batch finite (mean and variance 0)
        count = weights.sum(axis=self._reduce, keepdims=True) + KERAS_EPSILON
        mean = (x * weights).sum(axis=self._reduce, keepdims=True) / count
        variance = (((x - mean) * weights) ** 2).sum(axis=self._reduce, keepdims=True) / count
        return mean.reshape(-1), variance.reshape(-1)

    def _move(self, moving: Tensor, batch: np.ndarray) -> None:
        moving.data[...] = moving.data * self.momentum + batch * (1.0 - self.momentum)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        _resolved_axes([self.axis], tuple(input_shape), "BatchNormalization")
        return tuple(input_shape)


class LayerNormalization(Layer):
    """Normalize each sample over `axis` (one axis or several): mean and biased variance over those axes,
    gamma and beta of their shape. The same in training and inference; a mask passes on unused."""
    supports_masking = True
    float_inputs = True

    def __init__(self, axis: int | Sequence[int] = -1, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            if not axis:
                raise ValueError(f"LayerNormalization's axis must name at least one axis, got {axis!r}")
            self.axis = [_axis_int(a, "LayerNormalization") for a in axis]
        else:
            self.axis = _axis_int(axis, "LayerNormalization")
        self.epsilon, self.center, self.scale = float(epsilon), bool(center), bool(scale)
        self.beta_initializer, self.gamma_initializer = initializers.check(beta_initializer, gamma_initializer)

    def build(self, input_shape: tuple) -> None:
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        self._axes = _resolved_axes(axes, tuple(input_shape), "LayerNormalization")
        self._rank = len(input_shape)
        size = tuple(input_shape[axis] for axis in self._axes)
        self.gamma = self.add_weight(size, self.gamma_initializer, name="gamma") if self.scale else None
        self.beta = self.add_weight(size, self.beta_initializer, name="beta") if self.center else None

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.ndim != self._rank:
            raise ValueError(f"LayerNormalization {self.name!r} was built for inputs of rank {self._rank}, "
                             f"got shape {inputs.shape}")
        shape = tuple(inputs.shape[i] if i in self._axes else 1 for i in range(inputs.ndim))
        # a missing gamma is 1 and a missing beta 0: exact in floating point, so the one op serves every case
        gamma, beta = (default if w is None else w.reshape(shape) for w, default in ((self.gamma, 1), (self.beta, 0)))
        return LayerNorm.apply(inputs, gamma, beta, self._axes, self.epsilon)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        _resolved_axes(axes, tuple(input_shape), "LayerNormalization")
        return tuple(input_shape)
