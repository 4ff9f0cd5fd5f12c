"""Dropout and SpatialDropout1D: while training, each unit (or each whole channel) is zeroed with
probability `rate` and the survivors are scaled by 1 / (1 - rate), so the expected output equals the
input ("inverted" dropout, as Keras). Outside training the layers are the identity. A mask passes
through unchanged, as in Keras.

The random draws come from the package's generator (what utils.set_random_seed seeds) or, when the
layer is given `seed`, from a generator of its own seeded once from it: successive calls then differ,
and the same seed gives the same sequence of masks (Keras's SeedGenerator semantics)."""
from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from ..tensor import Tensor
from ..helpers import is_number, random_generator
from .. import step_kernels
from .base import Layer


class Dropout(Layer):
    """y = x * keep / (1 - rate) while training, keep ~ Bernoulli(1 - rate) drawn in noise_shape and
    broadcast to x; y = x otherwise. rate = 1 zeroes everything, as Keras."""
    supports_masking = True

    def __init__(self, rate: float, noise_shape: Sequence[int | None] | None = None, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate, self.noise_shape = _checked_rate(rate), _checked_noise_shape(noise_shape)
        self.seed = _checked_seed(seed)
        self._generator = None if seed is None else np.random.default_rng(self.seed)

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        if not training or self.rate == 0:
            return inputs
        return inputs * self._scaled_keep_mask(inputs)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        """Every argument, defaults included, as Keras writes it."""
        return super().get_config() | {"rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}

    def _scaled_keep_mask(self, inputs: Tensor) -> np.ndarray:
        """1 / (1 - rate) where a unit is kept (probability 1 - rate), 0 where it is dropped: the units drawn
        by step_kernels.dropout_keep from one 64-bit seed that the generator gives each call."""
        keep, dtype = 1.0 - self.rate, inputs.dtype if inputs.dtype.kind == "f" else self.dtype
        seed = (self._generator or random_generator()).integers(2 ** 64, dtype=np.uint64)
        mask = np.empty(self._concrete_noise_shape(inputs.shape), dtype)
        step_kernels.dropout_keep(mask.reshape(-1), seed, np.uint64(round(keep * 2 ** 32)),
                                  dtype.type(1.0 / keep if keep else 0.0))  # keep = 0 only at rate 1: all dropped
        return mask

    def _concrete_noise_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """noise_shape with each None replaced by the input's size on that axis (the input's shape if unset)."""
        if self.noise_shape is None:
            return shape
        noise = tuple(n if d is None else d for d, n in zip(self.noise_shape, shape))
        if len(self.noise_shape) != len(shape) or any(d not in (1, n) for d, n in zip(noise, shape)):
            raise ValueError(f"Dropout {self.name!r}: noise_shape {self.noise_shape} does not broadcast to the "
                             f"input's shape {shape}: it needs the same rank, each size 1 or the input's (or None)")
        return noise


class SpatialDropout1D(Dropout):
    """Dropout of whole channels: for input (batch, steps, channels) the noise shape is (batch, 1, channels),
    so a dropped channel is zero at every step of that sample."""

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        # noise_shape=None: the noise shape is this layer's to choose, so passing one is a TypeError
        super().__init__(rate, noise_shape=None, seed=seed, **kwargs)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        self._check_rank(input_shape)
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["noise_shape"]  # not an argument here
        return config

    def _concrete_noise_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        self._check_rank(shape)
        return (shape[0], 1, shape[2])

    def _check_rank(self, shape: tuple) -> None:
        if len(shape) != 3:
            raise ValueError(f"SpatialDropout1D {self.name!r} needs input of shape (batch, steps, channels), "
                             f"got shape {tuple(shape)}")


def _checked_rate(rate: Any) -> float:
    if not is_number(rate):
        raise TypeError(f"Dropout's rate must be a number in [0, 1], got {rate!r}")
    if not 0 <= rate <= 1:
        raise ValueError(f"Dropout's rate must be in [0, 1] (the fraction of units dropped), got {rate!r}")
    return float(rate)


def _checked_seed(seed: Any) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"Dropout's seed must be a non-negative integer or None, got {seed!r}")
    if seed < 0:
        raise ValueError(f"Dropout's seed must be a non-negative integer or None, got {seed!r}")
    return int(seed)


def _checked_noise_shape(noise_shape: Any) -> tuple[int | None, ...] | None:
    """noise_shape as a tuple of positive ints and Nones; TypeError or ValueError naming it otherwise."""
    if noise_shape is None:
        return None
    if isinstance(noise_shape, str) or not hasattr(noise_shape, "__iter__"):
        raise TypeError(f"Dropout's noise_shape must be a tuple of integers or None, got {noise_shape!r}")
    shape = tuple(noise_shape)
    if not all(d is None or (isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0) for d in shape):
        raise ValueError(f"Dropout's noise_shape must hold positive integers or None, got {noise_shape!r}")
    return tuple(None if d is None else int(d) for d in shape)
