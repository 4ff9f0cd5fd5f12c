"""The contract every layer keeps, Keras's: callable on a Tensor or an array; weights built on the
first call (or at construction when their shapes are known); get_weights/set_weights in Keras's
layouts and order; trainable_weights as Tensors that require grad; masks passed along the way."""
from __future__ import annotations

import itertools
import re
from collections import defaultdict
from typing import Any, Sequence

import numpy as np

from .. import initializers
from ..tensor import Tensor

_name_counters: dict[str, itertools.count] = defaultdict(itertools.count)


class Layer:
    supports_masking = False  # True: call() takes a mask keyword (a boolean array, True = real step)
    takes_indices = False  # True: integer input is kept as indices (Embedding); else cast to the layer's dtype

    def __init__(self, dtype: Any = "float32", name: str | None = None) -> None:
        try:
            self.dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"a layer's dtype must be 'float32' or 'float64', got {dtype!r}") from None
        if self.dtype not in (np.float32, np.float64):  # what the numba kernels are compiled for
            raise ValueError(f"a layer's dtype must be 'float32' or 'float64', got {dtype!r}")
        base = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", type(self).__name__).lower()  # Keras: "embedding", "embedding_1"
        count = next(_name_counters[base])
        self.name = name or (base if count == 0 else f"{base}_{count}")
        self.built = False
        self._weights: list[Tensor] = []
        self._weight_names: list[str] = []

    def add_weight(self, name: str, shape: Sequence[int], initializer: Any) -> Tensor:
        weight = Tensor(initializers.get(initializer)(tuple(shape), self.dtype), requires_grad=True)
        self._weights.append(weight)
        self._weight_names.append(name)
        return weight

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments (each layer records them as `self.config`): enough to rebuild it."""
        return {**self.config, "dtype": str(self.dtype), "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    def build(self, input_shape: tuple[int, ...]) -> None:
        """Create the weights once the input's shape is known."""

    def call(self, x: Tensor, **kwargs: Any) -> Any:
        raise NotImplementedError

    def compute_mask(self, x: Tensor, mask: np.ndarray | None) -> np.ndarray | None:
        """The mask for the next layer: by default none (Keras's rule for layers that do not support masking)."""
        return None

    def __call__(self, inputs: Any, mask: np.ndarray | None = None, **kwargs: Any) -> Any:
        if mask is None:
            mask = getattr(inputs, "_keras_mask", None)  # set by the layer before, e.g. Embedding(mask_zero=True)
        x = inputs if isinstance(inputs, Tensor) else Tensor(np.asarray(inputs))
        if not self.takes_indices and x.dtype != self.dtype and not x.requires_grad:
            x = Tensor(x.data.astype(self.dtype))  # numbers in, the layer's float type out, as Keras casts
        if not self.built:
            self.build(x.shape)
            self.built = True
        out = self.call(x, mask=mask, **kwargs) if self.supports_masking else self.call(x, **kwargs)
        out_mask = self.compute_mask(x, mask)
        if out_mask is not None:
            (out[0] if isinstance(out, (list, tuple)) else out)._keras_mask = out_mask
        return out

    @property
    def weights(self) -> list[Tensor]:
        return list(self._weights)

    @property
    def trainable_weights(self) -> list[Tensor]:
        return list(self._weights)

    def count_params(self) -> int:
        return sum(w.size for w in self._weights)

    def get_weights(self) -> list[np.ndarray]:
        return [w.data.copy() for w in self._weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        if not self.built:
            raise ValueError(f"layer {self.name!r} has no weights yet: call it on an input before set_weights")
        weights = list(weights)
        if len(weights) != len(self._weights):
            raise ValueError(f"layer {self.name!r} has {len(self._weights)} weight arrays "
                             f"({', '.join(self._weight_names)}), got {len(weights)}")
        arrays = [np.asarray(w) for w in weights]
        for i, (mine, given) in enumerate(zip(self._weights, arrays)):
            if mine.shape != given.shape:
                raise ValueError(f"layer {self.name!r}: weight {i} ({self._weight_names[i]}) has shape "
                                 f"{mine.shape}, the array given for it has shape {given.shape}")
            if given.dtype.kind not in "fiu":
                raise TypeError(f"layer {self.name!r}: weight {i} ({self._weight_names[i]}) needs numbers, "
                                f"got an array of dtype {given.dtype}")
        for mine, given in zip(self._weights, arrays):  # all checked first: a bad list changes nothing
            mine.data[...] = given
