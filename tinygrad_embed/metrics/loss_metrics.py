"""Losses watched as metrics: mean squared and absolute error and the cross-entropies, as per-sample
functions (losses.py's functions run on arrays, without a gradient) and as the mean metrics over them."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import losses
from ..tensor import Tensor, no_grad
from .base import MeanMetricWrapper, _array


def _loss_values(loss: Callable, y_true: np.ndarray, y_pred: Any, **options: Any) -> np.ndarray:
    """A loss function of losses.py on arrays, in the predictions' own float precision."""
    y_pred = _array(y_pred)
    with no_grad():
        return loss(y_true, Tensor(y_pred.astype(np.result_type(y_pred, np.float32))), **options).data


def mean_squared_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """mean((y_pred - y_true)^2) over the last axis, per sample (losses.mean_squared_error on arrays)."""
    return _loss_values(losses.mean_squared_error, _array(y_true), y_pred)


def mean_absolute_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """mean(|y_pred - y_true|) over the last axis, per sample (losses.mean_absolute_error on arrays)."""
    return _loss_values(losses.mean_absolute_error, _array(y_true), y_pred)


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                        label_smoothing: float = 0.0) -> np.ndarray:
    """losses.binary_crossentropy per sample, against labels smoothed to y (1 - s) + s / 2."""
    labels = _array(y_true).astype(np.float64)
    return _loss_values(losses.binary_crossentropy, labels * (1 - label_smoothing) + label_smoothing / 2, y_pred,
                        from_logits=from_logits)


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                             label_smoothing: float = 0.0) -> np.ndarray:
    """losses.categorical_crossentropy per sample, against labels smoothed to y (1 - s) + s / classes."""
    labels = _array(y_true).astype(np.float64)
    classes = labels.shape[-1] if labels.ndim else 1
    return _loss_values(losses.categorical_crossentropy, labels * (1 - label_smoothing) + label_smoothing / classes,
                        y_pred, from_logits=from_logits)


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> np.ndarray:
    """losses.sparse_categorical_crossentropy per sample, on integer labels."""
    return _loss_values(losses.sparse_categorical_crossentropy, _array(y_true), y_pred, from_logits=from_logits)


mse = MSE = mean_squared_error  # Keras 2's module-level aliases
mae = MAE = mean_absolute_error


class MeanSquaredError(MeanMetricWrapper):
    """The weighted mean over samples of mean((y_pred - y_true)^2) over the last axis."""

    def __init__(self, name: str = "mean_squared_error", dtype: Any = None) -> None:
        super().__init__(mean_squared_error, name, dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """The weighted mean over samples of mean(|y_pred - y_true|) over the last axis."""

    def __init__(self, name: str = "mean_absolute_error", dtype: Any = None) -> None:
        super().__init__(mean_absolute_error, name, dtype)


def _last(axis: int) -> int:
    if axis != -1:
        raise ValueError(f"axis={axis}: the classes must be on the last axis (axis=-1) here")
    return axis


class BinaryCrossentropy(MeanMetricWrapper):
    """The weighted mean over samples of binary_crossentropy (labels smoothed by label_smoothing)."""

    def __init__(self, name: str = "binary_crossentropy", dtype: Any = None, from_logits: bool = False,
                 label_smoothing: float = 0) -> None:
        super().__init__(binary_crossentropy, name, dtype, from_logits=from_logits, label_smoothing=label_smoothing)
        self.from_logits, self.label_smoothing = from_logits, label_smoothing


class CategoricalCrossentropy(MeanMetricWrapper):
    """The weighted mean over samples of categorical_crossentropy (labels smoothed by label_smoothing)."""

    def __init__(self, name: str = "categorical_crossentropy", dtype: Any = None, from_logits: bool = False,
                 label_smoothing: float = 0, axis: int = -1) -> None:
        super().__init__(categorical_crossentropy, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, _last(axis)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """The weighted mean over samples of sparse_categorical_crossentropy."""

    def __init__(self, name: str = "sparse_categorical_crossentropy", dtype: Any = None, from_logits: bool = False,
                 ignore_class: int | None = None, axis: int = -1) -> None:
        if ignore_class is not None:
            raise ValueError(f"ignore_class={ignore_class} is not supported by this metric here: give the samples "
                             "of that class a sample_weight of 0 instead")
        super().__init__(sparse_categorical_crossentropy, name, dtype, from_logits=from_logits)
        self.from_logits, self.ignore_class, self.axis = from_logits, ignore_class, _last(axis)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "ignore_class": self.ignore_class, "axis": self.axis}
