"""Embedding: a lookup of rows of a weight matrix (a gather); its gradient adds each upstream row back
into the row it came from (a scatter-add). That is all the layer does."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..functions import Gather, validate_indices
from ..tensor import Tensor
from ..helpers import positive_int
from .base import Layer


class Embedding(Layer):
    """Maps each integer index i in [0, input_dim) to row i of a (input_dim, output_dim) table. With
    mask_zero=True index 0 is padding (input_dim is the vocabulary size + 1) that the next layers skip."""

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer: Any = "uniform",
                 mask_zero: bool = False, input_length: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.input_dim = positive_int(input_dim, "Embedding's input_dim")
        self.output_dim = positive_int(output_dim, "Embedding's output_dim")
        self.input_length = None if input_length is None else positive_int(input_length, "Embedding's input_length")
        if self.input_length and self._batch_input_shape is None:  # Keras 2: input_length fixes the input shape
            self._batch_input_shape = (None, self.input_length)
        self.mask_zero = self.supports_masking = bool(mask_zero)
        self.embeddings = self.add_weight((self.input_dim, self.output_dim), embeddings_initializer, name="embeddings")
        self._maybe_build((None, self.input_length))  # the table's shape is known now: built at construction

    def call(self, inputs: Tensor) -> Tensor:
        if self.input_length is not None and (inputs.ndim < 2 or inputs.shape[1] != self.input_length):
            raise ValueError(f"Embedding was built with input_length={self.input_length}, so it expects input "
                             f"of shape (batch, {self.input_length}), got shape {inputs.shape}")
        return Gather.apply(self.embeddings, inputs)

    def check_inputs(self, ids: np.ndarray) -> None:
        """Refuse bad ids for the whole dataset before training starts (fit calls it)."""
        validate_indices(ids, self.input_dim)  # no copy: the dataset may be large

    def compute_mask(self, inputs: Any, mask: Any = None) -> np.ndarray | None:
        """index != 0 with mask_zero: what the next layers skip (the output there is still row W[0], as Keras)."""
        if not self.mask_zero:
            return None
        return np.asarray(inputs.data if isinstance(inputs, Tensor) else inputs) != 0

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape) + (self.output_dim,)
