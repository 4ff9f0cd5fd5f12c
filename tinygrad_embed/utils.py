"""Small helpers users call directly: seeding, one-hot labels."""
from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def set_random_seed(seed: int) -> None:
    """Seed every random choice the package makes (initial weights, shuffling): the same seed gives
    bit-identical training."""
    global _generator
    _generator = np.random.default_rng(seed)


def random_generator() -> np.random.Generator:
    return _generator
