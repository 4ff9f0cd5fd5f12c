"""Keras 2's keras.utils.np_utils, which many tutorials still import: to_categorical (also at
tinygrad_embed.utils, Keras 3's place)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor


def to_categorical(y: Any, num_classes: int | None = None, dtype: Any = "float32") -> np.ndarray | Tensor:
    """One-hot rows from integer class labels: 2 -> [0, 0, 1, ...]. A trailing axis of 1 is dropped.
    A numpy array for arrays and lists; a Tensor (outside the tape) for a Tensor, as Keras gives its
    backend's tensor for a tensor."""
    if isinstance(y, Tensor):
        return Tensor(to_categorical(y.data, num_classes, dtype))
    y = np.asarray(y)
    if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    if y.dtype.kind not in "iu":
        raise TypeError(f"to_categorical needs integer class labels, got an array of dtype {y.dtype}")
    shape = y.shape[:-1] if y.ndim > 1 and y.shape[-1] == 1 else y.shape
    flat = y.reshape(-1)
    num_classes = int(flat.max()) + 1 if num_classes is None and flat.size else int(num_classes or 0)
    bad = (flat < 0) | (flat >= num_classes)
    if bad.any():
        raise ValueError(f"class label {flat[bad][0]} is outside [0, {num_classes}) (num_classes={num_classes})")
    one_hot = np.zeros((flat.size, num_classes), dtype)
    one_hot[np.arange(flat.size), flat] = 1
    return one_hot.reshape(shape + (num_classes,))
