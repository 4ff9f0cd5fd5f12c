"""Attention (Luong's dot-product, or "concat") and AdditiveAttention (Bahdanau's), Keras 3's: called on
[query, value] or [query, value, key] (key defaults to value), shapes (batch, Tq, dim) and (batch, Tv, dim).
scores (batch, Tq, Tv) -> softmax over Tv -> a weighted sum of the value rows.

Masks, as Keras: mask=[query_mask, value_mask] (read from the inputs when not given). A masked value
column gets 1e9 subtracted from its score before the softmax (Keras's rule here, unlike MultiHeadAttention's
Softmax layer, which replaces it: a row masked throughout keeps finite weights, never NaN); a masked query
row gives zeros; the output carries the query's mask. use_causal_mask keeps query i from values after i."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import activations
from ..helpers import fraction
from ..tensor import Tensor
from .base import Layer
from .dropout import Dropout
from .symbolic import KerasTensor

MASK_PENALTY = 1e9  # what Keras subtracts from a masked score (float16 aside)


class Attention(Layer):
    """Dot-product attention: scores = scale * q k^T ("dot"), or concat_score_weight * sum(tanh(scale * (q + k)))
    over the features ("concat"); scale (a learned scalar) only with use_scale."""
    supports_masking = True
    float_inputs = True

    def __init__(self, use_scale: bool = False, score_mode: str = "dot", dropout: float = 0.0,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"{type(self).__name__}'s score_mode must be 'dot' or 'concat', got {score_mode!r}")
        self.use_scale, self.score_mode, self.seed = bool(use_scale), score_mode, seed
        self.dropout = fraction(dropout, f"{type(self).__name__}'s dropout")
        # named, so that it takes no automatic name ("dropout") from the user's layers
        self._dropout_layer = Dropout(self.dropout, seed=seed, name=f"{self.name}_dropout")

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """Keras hands the layer the masks of all its inputs, not only the query's."""
        self._check_count(inputs)
        symbolic = any(isinstance(t, KerasTensor) for t in inputs)
        if kwargs.get("mask") is None and not symbolic:
            kwargs["mask"] = [getattr(t, "_keras_mask", None) for t in inputs]
        return super().__call__(list(inputs), *args, **kwargs)

    def _check_count(self, inputs: Any) -> None:
        if not isinstance(inputs, (list, tuple)) or not 2 <= len(inputs) <= 3:
            raise ValueError(f"{type(self).__name__} {self.name!r} is called on a list [query, value] or "
                             f"[query, value, key], got {type(inputs).__name__} of length "
                             f"{len(inputs) if isinstance(inputs, (list, tuple)) else 1}")

    def build(self, input_shape: Any) -> None:
        shapes = [tuple(s) for s in input_shape]
        self._check_shapes(shapes)
        self.scale = self.add_weight((), "ones", name="scale") if self.use_scale else None
        self.concat_score_weight = (self.add_weight((), "ones", name="concat_score_weight")
                                    if self.score_mode == "concat" else None)

    def _check_shapes(self, shapes: list[tuple]) -> None:
        """One rank (3: batch, steps, features), one batch size, query and key features alike, value and key
        steps alike: before any arithmetic."""
        query, value, key = shapes[0], shapes[1], shapes[-1]
        agree = lambda a, b: a is None or b is None or a == b  # noqa: E731
        if any(len(s) != 3 for s in shapes) or not all(agree(s[0], query[0]) for s in shapes):
            raise ValueError(f"{type(self).__name__} {self.name!r} needs query, value (and key) of shape (batch, "
                             f"steps, features) with one batch size; got shapes {shapes}")
        if not agree(query[-1], key[-1]) or not agree(value[1], key[1]):
            raise ValueError(f"{type(self).__name__} {self.name!r}: the query's features ({query[-1]}) must equal the "
                             f"key's ({key[-1]}), and the value's steps ({value[1]}) the key's ({key[1]}); got shapes "
                             f"query {query}, value {value}" + (f", key {key}" if len(shapes) == 3 else ""))

    def _scores(self, query: Tensor, key: Tensor) -> Tensor:
        if self.score_mode == "dot":
            scores = query @ key.transpose((0, 2, 1))
            return scores * self.scale if self.scale is not None else scores
        summed = query.reshape(query.shape[:2] + (1, query.shape[2])) + key.reshape(
            (key.shape[0], 1) + key.shape[1:])
        if self.scale is not None:
            summed = self.scale * summed
        return self.concat_score_weight * summed.tanh().sum(axis=-1)

    def call(self, inputs: list[Tensor], mask: Any = None, training: bool | None = None,
             return_attention_scores: bool = False, use_causal_mask: bool = False) -> Any:
        self._check_count(inputs)
        self._check_shapes([x.shape for x in inputs])
        query, value = inputs[0], inputs[1]
        query_mask, value_mask = self._masks(inputs, mask)
        scores = self._scores(query, inputs[-1])
        keep = None if value_mask is None else value_mask[:, None, :]
        if use_causal_mask:
            causal = np.tril(np.ones(scores.shape[-2:], bool))[None]
            keep = causal if keep is None else keep & causal
        if keep is not None:
            scores = scores - Tensor(np.where(keep, 0.0, MASK_PENALTY).astype(scores.dtype))
        weights = self._dropout_layer(activations.softmax(scores, axis=-1), training=training)  # Keras returns these
        output = weights @ value
        if query_mask is not None:
            output = output * Tensor(query_mask[..., None].astype(output.dtype))
        return (output, weights) if return_attention_scores else output

    def _masks(self, inputs: list[Tensor], mask: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
        """[query_mask, value_mask], each checked against its input's (batch, steps)."""
        if mask is None:
            return None, None
        if not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3:
            raise ValueError(f"{type(self).__name__} {self.name!r}: mask must be a list [query_mask, value_mask], "
                             f"got {mask!r:.80}")
        found = []
        for m, x, what in zip(mask[:2], inputs[:2], ("query", "value")):
            m = None if m is None else np.asarray(m.data if isinstance(m, Tensor) else m).astype(bool)
            if m is not None and m.shape != x.shape[:2]:
                raise ValueError(f"{type(self).__name__} {self.name!r}: the {what} mask has shape {m.shape}, expected "
                                 f"the {what}'s (batch, steps) = {x.shape[:2]}")
            found.append(m)
        return found[0], found[1]

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The query's mask (Keras's) for the output, none for the scores (when they are returned too)."""
        return [mask[0] if isinstance(mask, (list, tuple)) else mask, None]

    def get_config(self) -> dict[str, Any]:
        return super().get_config() | {"use_scale": self.use_scale, "score_mode": self.score_mode,
                                       "dropout": self.dropout, "seed": self.seed}


class AdditiveAttention(Attention):
    """Additive attention: scores = sum(scale * tanh(q + k)) over the features, scale a learned (dim,) vector
    (glorot_uniform) with use_scale, else 1."""

    def __init__(self, use_scale: bool = True, dropout: float = 0.0, **kwargs: Any) -> None:
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape: Any) -> None:
        shapes = [tuple(s) for s in input_shape]
        self._check_shapes(shapes)
        self.concat_score_weight = None
        self.scale = self.add_weight((shapes[0][-1],), "glorot_uniform", name="scale") if self.use_scale else None

    def _scores(self, query: Tensor, key: Tensor) -> Tensor:
        summed = (query.reshape(query.shape[:2] + (1, query.shape[2]))
                  + key.reshape((key.shape[0], 1) + key.shape[1:])).tanh()
        return (summed * self.scale if self.scale is not None else summed).sum(axis=-1)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["score_mode"]
        return config
