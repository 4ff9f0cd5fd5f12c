"""Metrics: numbers to watch while training, computed on numpy arrays (no graph, no gradient).

Each metric maps (y_true, y_pred) to one value per sample or per element; the training loop logs
their mean under the name the user gave, as Keras does ("acc" logs acc and val_acc). "accuracy" and
"acc" (in any case) pick binary, categorical or sparse categorical accuracy from the shapes, by
Keras's rule (keras/src/trainers/compile_utils.py, get_metric)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from . import losses
from .missing import module_getattr
from .tensor import no_grad

Metric = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _same_rank(y_true: np.ndarray, y_pred: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Keras's alignment: when the ranks differ by one and the longer array ends in an axis of 1, the
    shorter gains that axis; any other difference in shape is an error."""
    if y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        y_true = y_true[..., None]
    elif y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_pred = y_pred[..., None]
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{metric}: y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}")
    return y_true, y_pred


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> np.ndarray:
    """1.0 where (y_pred > threshold) equals y_true, else 0.0, per element; y_true is not thresholded."""
    y_true, y_pred = _same_rank(np.asarray(y_true), np.asarray(y_pred), "binary_accuracy")
    return (y_true == (y_pred > threshold).astype(y_true.dtype)).astype(np.float32)


def categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where argmax(y_pred) equals argmax(y_true) over the last axis (one-hot labels), else 0.0."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"categorical_accuracy: y_true has shape {y_true.shape} but y_pred has shape "
                         f"{y_pred.shape}; integer labels need sparse_categorical_accuracy")
    return (y_true.argmax(-1) == y_pred.argmax(-1)).astype(np.float32)


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where argmax(y_pred) over the last axis equals the integer label, else 0.0."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    expected = y_pred.shape[:-1]
    if y_true.shape == expected + (1,):
        y_true = y_true[..., 0]
    if y_pred.ndim == 0 or y_true.shape != expected:
        raise ValueError(f"sparse_categorical_accuracy: y_pred of shape {y_pred.shape} needs labels of shape "
                         f"{expected} or {expected + (1,)}, got y_true of shape {y_true.shape}")
    return (y_true == y_pred.argmax(-1)).astype(np.float32)


def accuracy_for(y_true: np.ndarray, y_pred: np.ndarray) -> Metric:
    """Keras's choice for "accuracy": binary for one output unit, sparse categorical for labels with
    fewer axes than y_pred (or one label per sample against several units), categorical otherwise."""
    if y_pred.shape[-1:] == (1,):
        return binary_accuracy
    if y_true.ndim < y_pred.ndim or y_true.shape[-1:] == (1,):
        return sparse_categorical_accuracy
    return categorical_accuracy


def _accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return accuracy_for(y_true, y_pred)(y_true, y_pred)


def _loss_values(loss: Callable, y_true: Any, y_pred: Any) -> np.ndarray:
    with no_grad():
        return loss(y_true, y_pred).data


def mean_squared_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """mean((y_pred - y_true)^2) over the last axis, per sample (losses.mean_squared_error on arrays)."""
    return _loss_values(losses.mean_squared_error, y_true, y_pred)


def mean_absolute_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """mean(|y_pred - y_true|) over the last axis, per sample (losses.mean_absolute_error on arrays)."""
    return _loss_values(losses.mean_absolute_error, y_true, y_pred)


def binary_crossentropy(y_true: Any, y_pred: Any) -> np.ndarray:
    """losses.binary_crossentropy on arrays of probabilities, per sample."""
    return _loss_values(losses.binary_crossentropy, y_true, y_pred)


def categorical_crossentropy(y_true: Any, y_pred: Any) -> np.ndarray:
    """losses.categorical_crossentropy on arrays of probabilities and one-hot labels, per sample."""
    return _loss_values(losses.categorical_crossentropy, y_true, y_pred)


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any) -> np.ndarray:
    """losses.sparse_categorical_crossentropy on arrays of probabilities and integer labels, per sample."""
    return _loss_values(losses.sparse_categorical_crossentropy, y_true, y_pred)


mse = MSE = mean_squared_error  # Keras 2's module-level aliases
mae = MAE = mean_absolute_error
FUNCTIONS: dict[str, Metric] = {f.__name__: f for f in (
    binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, mean_squared_error, mean_absolute_error,
    binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy)}
ALIASES = {"mse": mean_squared_error, "MSE": mean_squared_error, "mae": mean_absolute_error,
           "MAE": mean_absolute_error, "bce": binary_crossentropy, "BCE": binary_crossentropy}  # as Keras's get
KNOWN = {**FUNCTIONS, **ALIASES}


def get(identifier: Any) -> Metric:
    """The metric named `identifier`: "accuracy"/"acc" in any case, a name of FUNCTIONS or an alias, or
    one of this module's functions."""
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        return _accuracy
    if isinstance(identifier, str) and identifier in KNOWN:
        return KNOWN[identifier]
    if callable(identifier) and FUNCTIONS.get(getattr(identifier, "__name__", None)) is identifier:
        return identifier
    if callable(identifier):
        raise ValueError(f"metric {identifier!r}: only the metrics of tinygrad_embed.metrics are supported, "
                         "not other functions, yet")
    raise ValueError(f"unknown metric {identifier!r}; known: accuracy, acc, {', '.join(FUNCTIONS)} "
                     f"(and the aliases {', '.join(ALIASES)})")


def names(metrics: Sequence[Any] | None) -> list[str]:
    """The names the metrics are logged under, each checked: a name as given, a function's own name."""
    if metrics is None:
        return []
    if not isinstance(metrics, (list, tuple)):
        raise ValueError(f"metrics must be a list or tuple, e.g. ['accuracy'], got {metrics!r}")
    for metric in metrics:
        get(metric)
    return [metric if isinstance(metric, str) else metric.__name__ for metric in metrics]


def mean(name: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The metric's value on a batch: the mean of its per-sample (or per-element) values."""
    return float(np.mean(get(name)(y_true, y_pred)))


__getattr__ = module_getattr(__name__, "metric", lambda: FUNCTIONS)  # Keras's metric classes: not here yet
