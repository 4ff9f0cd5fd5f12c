"""Initial weights, as Keras draws them: uniform, glorot_uniform, orthogonal, zeros."""
from __future__ import annotations

from typing import Callable, Union

import numpy as np

from .utils import random_generator

Initializer = Callable[[tuple, np.dtype], np.ndarray]


def zeros(shape: tuple, dtype=np.float32) -> np.ndarray:
    return np.zeros(shape, dtype)


def uniform(shape: tuple, dtype=np.float32) -> np.ndarray:
    """Keras's RandomUniform default, the Embedding layer's initialiser: U(-0.05, 0.05)."""
    return random_generator().uniform(-0.05, 0.05, shape).astype(dtype)


def glorot_uniform(shape: tuple, dtype=np.float32) -> np.ndarray:
    """U(-limit, limit) with limit = sqrt(6 / (fan_in + fan_out)), keeping activations' variance."""
    fan_in, fan_out = int(np.prod(shape[:-1])), shape[-1]
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return random_generator().uniform(-limit, limit, shape).astype(dtype)


def orthogonal(shape: tuple, dtype=np.float32) -> np.ndarray:
    """A matrix with orthonormal rows or columns, from the QR decomposition of a Gaussian one (Keras's
    recipe); a recurrent kernel drawn so neither explodes nor vanishes at the start of training."""
    rows, cols = int(np.prod(shape[:-1])), shape[-1]
    q, r = np.linalg.qr(random_generator().standard_normal((max(rows, cols), min(rows, cols))))
    q *= np.sign(np.diag(r))  # makes the decomposition unique, so q is uniformly distributed
    return (q.T if rows < cols else q).reshape(shape).astype(dtype)


KNOWN = {"zeros": zeros, "uniform": uniform, "random_uniform": uniform,
         "glorot_uniform": glorot_uniform, "orthogonal": orthogonal}


def get(identifier: Union[str, Initializer]) -> Initializer:
    if callable(identifier):
        return identifier
    if identifier not in KNOWN:
        raise ValueError(f"unknown initializer {identifier!r}; known: {', '.join(sorted(KNOWN))}")
    return KNOWN[identifier]
