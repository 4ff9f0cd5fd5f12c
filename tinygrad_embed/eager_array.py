"""EagerArray: the values a dataset of this project hands out, numpy arrays that also answer `.numpy()`,
as TensorFlow's eager tensors do, so that tutorials' `label_batch.numpy()`, `text.numpy().decode("utf-8")`
and `int(label)` run. Elsewhere an EagerArray is a numpy array, and np.asarray gives the plain one."""
from __future__ import annotations

from typing import Any

import numpy as np


class EagerArray(np.ndarray):
    """An ndarray with TensorFlow's `.numpy()`."""

    def numpy(self) -> Any:
        """The values as plain numpy, as TensorFlow's: an ndarray, or for 0-d one numpy scalar (bytes for a text)."""
        plain = self.view(np.ndarray)
        return plain[()] if plain.ndim == 0 else plain


def eager(value: Any) -> Any:
    """value (an array, a number, bytes, or a tuple of them) as EagerArrays, tuples kept; lists and dicts
    (which tf.data would make nested structures of) as they are."""
    if isinstance(value, tuple):
        return tuple(eager(part) for part in value)
    if isinstance(value, (list, dict)):
        return value
    array = np.asarray(value)
    if array.dtype.kind == "S":  # bytes: an object array, as tf.data's string elements and text batches
        array = array.astype(object)
    return array.view(EagerArray)


def plain(value: Any) -> Any:
    """What TensorFlow's as_numpy_iterator gives for an element: .numpy() of each part, tuples kept."""
    if isinstance(value, tuple):
        return tuple(plain(part) for part in value)
    return value.numpy() if isinstance(value, EagerArray) else value
