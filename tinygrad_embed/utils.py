"""Small helpers users call directly: seeding, one-hot labels, and (at Keras 3's places) pad_sequences,
text_dataset_from_directory, PyDataset (Keras 2's Sequence) and AUTOTUNE (from data.py)."""
from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def positive_int(value, what: str) -> int:
    """value as an int, or TypeError if it is not an integer, ValueError if it is below 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{what} must be at least 1, got {value}")
    return int(value)


def set_random_seed(seed: int) -> None:
    """Seed every random choice the package makes (initial weights, shuffling): the same seed gives
    bit-identical training."""
    global _generator
    _generator = np.random.default_rng(seed)


def random_generator() -> np.random.Generator:
    return _generator


def get_random_state() -> dict:
    """The package's random-number state, JSON-serialisable (a checkpoint stores it)."""
    return _generator.bit_generator.state


def set_random_state(state: dict) -> None:
    _generator.bit_generator.state = state


def to_categorical(y, num_classes: int | None = None, dtype="float32") -> np.ndarray:
    """One-hot rows from integer class labels: 2 -> [0, 0, 1, ...]. A trailing axis of 1 is dropped."""
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


# Keras 3's places: keras.utils.pad_sequences. Imported last: preprocessing uses positive_int above.
from .preprocessing.sequence import pad_sequences  # noqa: E402,F401
from .data import AUTOTUNE, PyDataset, Sequence, text_dataset_from_directory  # noqa: E402,F401
