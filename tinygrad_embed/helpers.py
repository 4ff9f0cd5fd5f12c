"""The ground floor: what every other file may use and this one imports nothing of the package for.
Argument checks (one meaning of "a number"), the package's random generator, and Keras's names."""
from __future__ import annotations

import itertools
import re
from collections import defaultdict
from typing import Any

import numpy as np


# ---- argument checks: each names the argument and the value it got --------------------------------------
def is_number(value: Any) -> bool:
    """A real number (Python or numpy), not a bool: True is not a learning rate."""
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))


def positive_int(value: Any, what: str) -> int:
    """value as an int, or TypeError if it is not an integer, ValueError if it is below 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{what} must be at least 1, got {value}")
    return int(value)


def one_int(value: Any, what: str) -> int:
    """A positive int, given as one or as a tuple of one (Keras accepts kernel_size=3 and (3,))."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"{what} must be an int or a tuple of one int for a 1-D layer, got {value!r}")
        value = value[0]
    return positive_int(value, what)


def positive(value: Any, what: str) -> float:
    if not is_number(value) or not value > 0:
        raise ValueError(f"{what} must be a positive number, got {value!r}")
    return float(value)


def fraction(value: Any, what: str, one_allowed: bool = False) -> float:
    """value in [0, 1), or in [0, 1] when one_allowed; ValueError otherwise."""
    if not is_number(value) or not (0 <= value <= 1 if one_allowed else 0 <= value < 1):
        raise ValueError(f"{what} must be in [0, {'1]' if one_allowed else '1)'}, got {value!r}")
    return float(value)


def dropout_rate(rate: Any, what: str) -> float:
    """A recurrent layer's dropout: a fraction in [0, 1) of the units dropped."""
    if not is_number(rate) or not 0 <= rate < 1:
        raise ValueError(f"{what} must be a number in [0, 1), the fraction of units dropped, got {rate!r}")
    return float(rate)


# ---- the package's random generator: every draw without a seed of its own comes from here ------------------
_generator = np.random.default_rng()


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


# ---- Keras's names --------------------------------------------------------------------------------------
_name_counters: dict[str, itertools.count] = defaultdict(itertools.count)


def snake_case(class_name: str) -> str:
    """Keras 3's to_snake_case: GlobalMaxPooling1D -> global_max_pooling1d, MeanSquaredError ->
    mean_squared_error, LSTM -> lstm."""
    name = re.sub(r"\W+", "", class_name)
    words = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)  # a capitalised word starts a new part
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", words).lower()


def unique_name(base: str) -> str:
    """Keras's automatic names: "embedding", then "embedding_1", "embedding_2", ..."""
    count = next(_name_counters[base])
    return base if count == 0 else f"{base}_{count}"


def reset_unique_names() -> None:
    """Start Keras's automatic names afresh: the next Dense is "dense" again."""
    _name_counters.clear()
