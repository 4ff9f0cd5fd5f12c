"""Small helpers users call directly: seeding, and (at Keras 3's places) to_categorical (np_utils.py,
Keras 2's module), clear_session (backend.py), pad_sequences, text_dataset_from_directory, PyDataset
(Keras 2's Sequence) and AUTOTUNE (from data.py)."""
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


# Keras 3's places: keras.utils.pad_sequences. Imported last: these modules use positive_int and
# random_generator above.
from ..preprocessing.sequence import pad_sequences  # noqa: E402,F401
from ..data import AUTOTUNE, PyDataset, Sequence, text_dataset_from_directory  # noqa: E402,F401
from ..backend import clear_session  # noqa: E402,F401
from .np_utils import to_categorical  # noqa: E402,F401
