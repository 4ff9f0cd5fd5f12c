"""The accuracies, as functions of each sample and as metrics, and Keras's choice for compile's "accuracy"."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..losses import same_rank
from .base import MeanMetricWrapper, _array


def _aligned(y_true: Any, y_pred: Any, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """y_true and y_pred as arrays of one shape (after same_rank), or an error naming both shapes."""
    y_true, y_pred = same_rank(_array(y_true), _array(y_pred))
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{metric}: y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}")
    return y_true, y_pred


def _equal(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where y_pred equals y_true exactly, else 0.0 (Accuracy's function)."""
    y_true, y_pred = _aligned(y_true, y_pred, "accuracy")
    return (y_true.astype(y_pred.dtype) == y_pred).astype(np.float32)


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> np.ndarray:
    """1.0 where (y_pred > threshold) equals y_true, else 0.0, per element; y_true is not thresholded."""
    y_true, y_pred = _aligned(y_true, y_pred, "binary_accuracy")
    return (y_true == (y_pred > threshold).astype(y_true.dtype)).astype(np.float32)


def categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where argmax(y_pred) equals argmax(y_true) over the last axis (one-hot labels), else 0.0."""
    y_true, y_pred = _array(y_true), _array(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"categorical_accuracy: y_true has shape {y_true.shape} but y_pred has shape "
                         f"{y_pred.shape}; integer labels need sparse_categorical_accuracy")
    return (y_true.argmax(-1) == y_pred.argmax(-1)).astype(np.float32)


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where argmax(y_pred) over the last axis equals the integer label, else 0.0."""
    y_true, y_pred = _array(y_true), _array(y_pred)
    expected = y_pred.shape[:-1]
    if y_true.shape == expected + (1,):
        y_true = y_true[..., 0]
    if y_pred.ndim == 0 or y_true.shape != expected:
        raise ValueError(f"sparse_categorical_accuracy: y_pred of shape {y_pred.shape} needs labels of shape "
                         f"{expected} or {expected + (1,)}, got y_true of shape {y_true.shape}")
    return (y_true == y_pred.argmax(-1)).astype(np.float32)


def accuracy_for(y_true: np.ndarray, y_pred: np.ndarray) -> Callable[..., np.ndarray]:
    """Keras's choice for "accuracy": binary for one output unit, sparse categorical for integer labels."""
    if y_pred.shape[-1:] == (1,):
        return binary_accuracy
    if y_true.ndim < y_pred.ndim or y_true.shape[-1:] == (1,):  # fewer axes, or one label against several units
        return sparse_categorical_accuracy
    return categorical_accuracy  # one-hot labels


class Accuracy(MeanMetricWrapper):
    """How often y_pred equals y_true exactly (for class predictions; "accuracy" in compile is another)."""

    def __init__(self, name: str = "accuracy", dtype: Any = None) -> None:
        super().__init__(_equal, name, dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often (y_pred > threshold) equals the 0/1 label."""

    def __init__(self, name: str = "binary_accuracy", dtype: Any = None, threshold: float = 0.5) -> None:
        super().__init__(binary_accuracy, name, dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) is the class of the one-hot label."""

    def __init__(self, name: str = "categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(categorical_accuracy, name, dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) is the integer label."""

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(sparse_categorical_accuracy, name, dtype)


class _AccuracyByShapes(MeanMetricWrapper):
    """compile's "accuracy" or "acc": the accuracy that accuracy_for picks from the first batch's shapes."""

    def __init__(self, name: str) -> None:
        super().__init__(None, name)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add a batch, the function chosen at the first and kept (Keras chooses when compile builds)."""
        if self._fn is None:
            self._fn = accuracy_for(_array(y_true), _array(y_pred))
        super().update_state(y_true, y_pred, sample_weight)
