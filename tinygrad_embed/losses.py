"""Losses with Keras's conventions: one value per sample (the mean over the last axis); the model
averages those over the batch."""
from __future__ import annotations

from typing import Any

import numpy as np

from .missing import module_getattr
from .tensor import Tensor

EPSILON = 1e-7  # Keras's backend epsilon: probabilities are clipped to [EPSILON, 1 - EPSILON]


def _targets_and_predictions(y_true: Any, y_pred: Any, loss: str) -> tuple[Tensor, Tensor]:
    y_pred = y_pred if isinstance(y_pred, Tensor) else Tensor(np.asarray(y_pred, dtype=np.float32))
    y_true = np.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
    if y_true.dtype.kind not in "biuf":
        raise TypeError(f"{loss}: y_true must be numeric, got an array of dtype {y_true.dtype}")
    if y_true.shape != y_pred.shape:
        if y_pred.shape[-1:] == (1,) and y_true.shape == y_pred.shape[:-1]:
            y_true = y_true[..., None]  # labels (batch,) against predictions (batch, 1), as Keras allows
        else:
            raise ValueError(f"{loss}: y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}")
    if np.isnan(y_true).any() if y_true.dtype.kind == "f" else False:
        raise ValueError(f"{loss}: y_true contains NaN at position {tuple(map(int, np.argwhere(np.isnan(y_true))[0]))}")
    return Tensor(y_true.astype(y_pred.dtype)), y_pred


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> Tensor:
    """-(y log p + (1 - y) log(1 - p)), mean over the last axis. From logits x, log p = log_sigmoid(x)
    and log(1 - p) = log_sigmoid(-x), finite for any x; otherwise p is clipped as Keras does."""
    y, p = _targets_and_predictions(y_true, y_pred, "binary_crossentropy")
    outside = (y.data < 0) | (y.data > 1)
    if outside.any():
        raise ValueError(f"binary_crossentropy needs labels in [0, 1], got {y.data[outside][:5].tolist()} "
                         f"(first at position {tuple(map(int, np.argwhere(outside)[0]))})")
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


def mean_squared_error(y_true: Any, y_pred: Any) -> Tensor:
    """mean((y_pred - y_true)^2) over the last axis."""
    y, p = _targets_and_predictions(y_true, y_pred, "mean_squared_error")
    return ((p - y) ** 2).mean(axis=-1)


mse = mean_squared_error
KNOWN = {"binary_crossentropy": binary_crossentropy, "categorical_crossentropy": categorical_crossentropy,
         "mean_squared_error": mean_squared_error, "mse": mean_squared_error}


def get(identifier: Any):
    if callable(identifier):
        return identifier
    if identifier not in KNOWN:
        raise ValueError(f"unknown loss {identifier!r}; known: {', '.join(sorted(KNOWN))}")
    return KNOWN[identifier]


__getattr__ = module_getattr(__name__, "loss", lambda: KNOWN)  # Keras's loss classes: not here yet
