"""Losses with Keras's conventions: one value per sample (the mean over the last axis, or the sum over
the classes for the cross-entropies); the model averages those over the batch."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .missing import module_getattr
from .tensor import Tensor

EPSILON = 1e-7  # Keras's backend epsilon: probabilities are clipped to [EPSILON, 1 - EPSILON]


def _position(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(map(int, np.argwhere(mask)[0]))


def _predictions(y_pred: Any) -> Tensor:
    return y_pred if isinstance(y_pred, Tensor) else Tensor(np.asarray(y_pred, dtype=np.float32))


def _labels(y_true: Any, loss: str) -> np.ndarray:
    y_true = np.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
    if y_true.dtype.kind not in "biuf":
        raise TypeError(f"{loss}: y_true must be numeric, got an array of dtype {y_true.dtype}")
    return y_true


def _targets_and_predictions(y_true: Any, y_pred: Any, loss: str) -> tuple[Tensor, Tensor]:
    y_pred, y_true = _predictions(y_pred), _labels(y_true, loss)
    if y_true.shape != y_pred.shape:
        if y_pred.shape[-1:] == (1,) and y_true.shape == y_pred.shape[:-1]:
            y_true = y_true[..., None]  # labels (batch,) against predictions (batch, 1), as Keras allows
        else:
            raise ValueError(f"{loss}: y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}")
    if np.isnan(y_true).any() if y_true.dtype.kind == "f" else False:
        raise ValueError(f"{loss}: y_true contains NaN at position {_position(np.isnan(y_true))}")
    return Tensor(y_true.astype(y_pred.dtype)), y_pred


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> Tensor:
    """-(y log p + (1 - y) log(1 - p)), mean over the last axis. From logits x, log p = log_sigmoid(x)
    and log(1 - p) = log_sigmoid(-x), finite for any x; otherwise p is clipped as Keras does."""
    y, p = _targets_and_predictions(y_true, y_pred, "binary_crossentropy")
    outside = (y.data < 0) | (y.data > 1)
    if outside.any():
        raise ValueError(f"binary_crossentropy needs labels in [0, 1], got {y.data[outside][:5].tolist()} "
                         f"(first at position {_position(outside)})")
    if from_logits:
        log_likelihood = y * p.log_sigmoid() + (1 - y) * (-p).log_sigmoid()
    else:
        p = p.clip(EPSILON, 1 - EPSILON)
        log_likelihood = y * p.log() + (1 - y) * (1 - p).log()
    return -log_likelihood.mean(axis=-1)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """x - log(sum(e^x)), with the (constant) maximum taken out first so that e^x stays finite."""
    shifted = x - x.detach().max(axis=axis, keepdims=True)
    return shifted - shifted.exp().sum(axis=axis, keepdims=True).log()


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> Tensor:
    """-sum(y log p) over the last axis (classes), for one-hot or soft labels; p is normalised to
    sum to 1 and clipped as Keras does, or computed by log_softmax from logits."""
    y, p = _targets_and_predictions(y_true, y_pred, "categorical_crossentropy")
    if from_logits:
        log_p = log_softmax(p)
    else:
        log_p = (p / p.sum(axis=-1, keepdims=True)).clip(EPSILON, 1 - EPSILON).log()
    return -(y * log_p).sum(axis=-1)


def class_indices(y_true: Any, y_pred_shape: tuple[int, ...], name: str) -> np.ndarray:
    """Integer labels of shape y_pred_shape[:-1] (a trailing axis of 1 is dropped, as Keras does),
    each a class index in [0, classes); anything else is refused naming the bad label."""
    labels = _labels(y_true, name)
    if len(y_pred_shape) == 0:
        raise ValueError(f"{name}: y_pred needs a last axis of classes, got a scalar")
    expected, classes = tuple(y_pred_shape[:-1]), y_pred_shape[-1]
    if labels.shape == expected + (1,):
        labels = labels[..., 0]
    if labels.shape != expected:
        raise ValueError(f"{name}: y_pred of shape {tuple(y_pred_shape)} needs integer labels of shape {expected} "
                         f"or {expected + (1,)}, got y_true of shape {labels.shape}")
    fractional = labels != np.floor(labels) if labels.dtype.kind == "f" else np.zeros(labels.shape, bool)
    if fractional.any():  # NaN included
        raise ValueError(f"{name}: labels are class indices (whole numbers), got {labels[fractional][0]} "
                         f"at position {_position(fractional)}")
    outside = (labels < 0) | (labels >= classes)
    if outside.any():
        raise ValueError(f"{name}: label {labels[outside][0]} at position {_position(outside)} is out of range "
                         f"for {classes} classes (expected 0 to {classes - 1})")
    return labels.astype(np.int64)


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> Tensor:
    """-log p[label] per sample: categorical_crossentropy against the one-hot form of integer labels,
    with the same normalising and clipping of p (or log_softmax from logits)."""
    p = _predictions(y_pred)
    labels = class_indices(y_true, p.shape, "sparse_categorical_crossentropy")
    one_hot = np.eye(p.shape[-1], dtype=p.dtype)[labels]
    return categorical_crossentropy(one_hot, p, from_logits=from_logits)


def mean_squared_error(y_true: Any, y_pred: Any) -> Tensor:
    """mean((y_pred - y_true)^2) over the last axis."""
    y, p = _targets_and_predictions(y_true, y_pred, "mean_squared_error")
    return ((p - y) ** 2).mean(axis=-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> Tensor:
    """mean(|y_pred - y_true|) over the last axis. |d| is relu(d) + relu(-d): its gradient at d = 0
    is 0, as Keras's (the sign function's) is."""
    y, p = _targets_and_predictions(y_true, y_pred, "mean_absolute_error")
    difference = p - y
    return (difference.relu() + (-difference).relu()).mean(axis=-1)


mse = MSE = mean_squared_error  # Keras 2's module-level aliases
mae = MAE = mean_absolute_error
FUNCTIONS: dict[str, Callable[..., Tensor]] = {f.__name__: f for f in (
    binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy, mean_squared_error,
    mean_absolute_error)}
ALIASES = {"bce": binary_crossentropy, "BCE": binary_crossentropy, "mse": mean_squared_error,
           "MSE": mean_squared_error, "mae": mean_absolute_error, "MAE": mean_absolute_error}  # as Keras's get
KNOWN = {**FUNCTIONS, **ALIASES}


def get(identifier: Any) -> Callable[..., Tensor]:
    """The loss function named `identifier` (a name or alias as Keras's get takes), or the callable given."""
    if callable(identifier):
        return identifier
    if identifier not in KNOWN:
        raise ValueError(f"unknown loss {identifier!r}; known: {', '.join(sorted(FUNCTIONS))} "
                         f"(and the aliases {', '.join(ALIASES)})")
    return KNOWN[identifier]


__getattr__ = module_getattr(__name__, "loss", lambda: FUNCTIONS)  # Keras's loss classes: not here yet
