"""Embedding: a lookup of rows of a weight matrix (a gather); its gradient adds each upstream row back
into the row it came from (a scatter-add). That is all the layer does."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..ops import Gather
from ..tensor import Tensor
from ..utils import positive_int
from .base import Layer


class Embedding(Layer):
    """Maps each integer index i in [0, input_dim) to row i of a (input_dim, output_dim) table.

    With mask_zero=True the layer also hands the next layer a mask (index != 0) so that it skips the
    padding; the output at masked positions is still row W[0], exactly as in Keras: the mask tells the
    next layer what to ignore, it does not zero anything. Index 0 is then padding only, so input_dim
    must be the vocabulary size + 1.
    """
    takes_indices = True

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer: Any = "uniform",
                 mask_zero: bool = False, input_length: int | None = None, dtype: Any = "float32",
                 name: str | None = None) -> None:
        self.config = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        super().__init__(dtype=dtype, name=name)
        self.input_dim = positive_int(input_dim, "Embedding's input_dim")
        self.output_dim = positive_int(output_dim, "Embedding's output_dim")
        self.input_length = None if input_length is None else positive_int(input_length, "Embedding's input_length")
        self.mask_zero = bool(mask_zero)
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim), embeddings_initializer)
        self.built = True

    def call(self, x: Tensor) -> Tensor:
        if self.input_length is not None and (x.ndim < 2 or x.shape[1] != self.input_length):
            raise ValueError(f"Embedding was built with input_length={self.input_length}, so it expects input "
                             f"of shape (batch, {self.input_length}), got shape {x.shape}")
        return Gather.apply(self.embeddings, x)

    def compute_mask(self, x: Tensor, mask: np.ndarray | None = None) -> np.ndarray | None:
        return x.data != 0 if self.mask_zero else None
