"""MultiHeadAttention, Keras 3's: project query, key and value onto heads (EinsumDense sublayers named
query, key, value), score softmax(q k / sqrt(key_dim)) over the attention axes with the masks applied,
combine the values by those scores and project back (attention_output). Keras's weights, names, shapes
and order: query/kernel (dim, num_heads, key_dim), query/bias (num_heads, key_dim), then key, value and
attention_output/kernel (num_heads, value_dim, dim), attention_output/bias (dim,).

Masks, as Keras: the query's mask (from Embedding(mask_zero=True), say) keeps rows, the value's (and the
key's) keep columns, `attention_mask` (batch, T, S) and the causal mask are ANDed in; a row masked
throughout gets zeros for scores (Keras's Softmax layer). The output carries the query's mask.
Where Keras reads only the query's own mask, an explicit `query_mask=` is used when the query has none."""
from __future__ import annotations

import math
import string
from typing import Any, Sequence

import numpy as np

from .. import initializers
from ..attention_functions import DotProductAttention, Einsum, MaskedSoftmax, SelfAttention
from ..functions import Concatenate
from ..helpers import fraction, positive_int
from ..tensor import Tensor
from .base import Layer
from .dropout import Dropout
from .einsum_dense import EinsumDense, refuse_keras_only
from .symbolic import KerasTensor

KERAS_ONLY = ("kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint",
              "bias_constraint")  # Keras's, accepted at None only (flash_attention too, which is not in its config)


def projection_equation(free: int, bound: int, output: int) -> tuple[str, str]:
    """Keras's _build_proj_equation: (equation, bias_axes) for `free` kept axes, `bound` contracted, `output` new."""
    letters = string.ascii_lowercase
    kept, summed, new = letters[:free], letters[free:free + bound], letters[free + bound:free + bound + output]
    return f"{kept}{summed},{summed}{new}->{kept}{new}", new


def attention_equations(rank: int, axes: tuple[int, ...]) -> tuple[str, str]:
    """Keras's _build_attention_equation: the (key, query -> scores) and (scores, value -> output) einsums for
    projected tensors of `rank` (batch, ..., heads, channels), attending over `axes`."""
    letters = string.ascii_lowercase
    target = letters[:rank]
    batch = [i for i in range(rank) if i not in axes and i != rank - 1]
    extra = iter(letters[rank:])
    source = "".join(target[i] if i in batch or i == rank - 1 else next(extra) for i in range(rank))
    product = "".join([target[i] for i in batch] + [target[i] for i in axes] + [source[i] for i in axes])
    return f"{source},{target}->{product}", f"{product},{source}->{target}"


def _axes_given(attention_axes: Any) -> tuple[int, ...] | None:
    if attention_axes is None:
        return None
    axes = (attention_axes,) if isinstance(attention_axes, int) else attention_axes
    if not isinstance(axes, (list, tuple)) or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
        raise ValueError(f"MultiHeadAttention's attention_axes must be an int, or a list or tuple of ints, got "
                         f"{attention_axes!r}")
    return tuple(axes)


class MultiHeadAttention(Layer):
    supports_masking = True
    float_inputs = True

    def __init__(self, num_heads: int, key_dim: int, value_dim: int | None = None, dropout: float = 0.0,
                 use_bias: bool = True, output_shape: int | Sequence[int] | None = None,
                 attention_axes: int | Sequence[int] | None = None, sliding_window: int | None = None,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 use_gate: bool = False, seed: int | None = None, **kwargs: Any) -> None:
        refuse_keras_only("MultiHeadAttention", kwargs, KERAS_ONLY + ("flash_attention",))
        super().__init__(**kwargs)
        self.num_heads = positive_int(num_heads, "MultiHeadAttention's num_heads")
        self.key_dim = positive_int(key_dim, "MultiHeadAttention's key_dim")
        self.value_dim = self.key_dim if value_dim is None else positive_int(value_dim, "MultiHeadAttention's value_dim")
        self.dropout = fraction(dropout, "MultiHeadAttention's dropout")
        self.use_bias, self.use_gate, self.seed = bool(use_bias), bool(use_gate), seed
        shape = (output_shape,) if isinstance(output_shape, int) else output_shape
        self._output_shape = tuple(positive_int(n, "MultiHeadAttention's output_shape") for n in shape) if shape else None
        self.attention_axes = _axes_given(attention_axes)
        self.sliding_window = None if sliding_window is None else positive_int(
            sliding_window, "MultiHeadAttention's sliding_window")
        self.kernel_initializer, self.bias_initializer = initializers.check(kernel_initializer, bias_initializer)

    # ---- building: the sublayers, as Keras builds them ----------------------------------------------
    def _dense(self, rank: int, bound: int, last: Sequence[int], name: str, activation: Any = None) -> EinsumDense:
        equation, bias_axes = projection_equation(rank - 1, bound, len(last))
        return EinsumDense(equation, [None] * (rank - 2) + list(last), activation=activation,
                           bias_axes=bias_axes if self.use_bias else None, name=name, dtype=self.dtype,
                           kernel_initializer=self.kernel_initializer, bias_initializer=self.bias_initializer)

    def build(self, input_shape: Sequence[tuple]) -> None:
        query_shape, value_shape = tuple(input_shape[0]), tuple(input_shape[1])
        key_shape = tuple(input_shape[2]) if len(input_shape) > 2 else value_shape
        self._check_shapes(query_shape, value_shape, key_shape)
        rank = len(query_shape) + 1  # the projected tensors: (batch, ..., heads, channels)
        self._axes = self._resolved_axes(rank, query_shape)
        heads = lambda dim, name, activation=None: self._dense(  # noqa: E731
            len(query_shape), 1, [self.num_heads, dim], name, activation)
        self._query_dense = heads(self.key_dim, "query")
        self._query_dense._maybe_build(query_shape)
        self._key_dense = heads(self.key_dim, "key")
        self._key_dense._maybe_build(key_shape)
        if self.use_gate:
            self._gate_dense = heads(self.value_dim, "gate", "sigmoid")
            self._gate_dense._maybe_build(query_shape)
        self._value_dense = heads(self.value_dim, "value")
        self._value_dense._maybe_build(value_shape)
        self._dot_product_equation, self._combine_equation = attention_equations(rank, self._axes)
        scores_rank = rank + len(self._axes) - 1
        self._softmax_axes = tuple(range(scores_rank - len(self._axes), scores_rank))
        self._dropout_layer = Dropout(self.dropout, seed=self.seed, dtype=self.dtype)
        self._output_dense = self._dense(len(query_shape), 2, self._output_shape or [query_shape[-1]],
                                         "attention_output")
        self._output_dense._maybe_build(query_shape[:-1] + (self.num_heads, self.value_dim))

    def keras_sublayers(self) -> list[tuple[str, EinsumDense]]:
        """The projections under the names Keras's weights files give them (its attributes), in weight order."""
        names = [("query_dense", "_query_dense"), ("key_dense", "_key_dense"), ("_gate_dense", "_gate_dense"),
                 ("value_dense", "_value_dense"), ("output_dense", "_output_dense")]
        return [(keras_name, getattr(self, attribute)) for keras_name, attribute in names if hasattr(self, attribute)]

    def _resolved_axes(self, rank: int, query_shape: tuple) -> tuple[int, ...]:
        """The attention axes of the projected tensors, Keras's way (a negative axis counts from rank - 1);
        each must be an axis of the query other than the batch and the features."""
        if self.attention_axes is None:
            return tuple(range(1, rank - 2))
        axes = tuple(a if a >= 0 else rank - 1 + a for a in self.attention_axes)
        if any(not 1 <= a <= rank - 3 for a in axes) or len(set(axes)) != len(axes):
            raise ValueError(f"MultiHeadAttention {self.name!r}: attention_axes={self.attention_axes} is out of range "
                             f"for a query of shape {query_shape}: expected distinct axes from 1 to {rank - 3} (or "
                             f"{2 - rank} to -2), neither the batch axis nor the features")
        return axes

    def _check_shapes(self, query: tuple, value: tuple, key: tuple) -> None:
        """Shapes that fit together, before any arithmetic: one rank (3 or more), one batch size, and key and
        value alike but for their last axis."""
        if len(query) < 3 or len(value) != len(query) or len(key) != len(query):
            raise ValueError(f"MultiHeadAttention {self.name!r} needs query, value and key of one rank, 3 or more "
                             f"(batch, ..., features); got shapes query {query}, value {value}, key {key}")
        if len({n for n in (query[0], value[0], key[0]) if n is not None}) > 1:
            raise ValueError(f"MultiHeadAttention {self.name!r}: the batch sizes of query {query}, value {value} "
                             f"and key {key} differ")
        if value[1:-1] != key[1:-1]:
            raise ValueError(f"MultiHeadAttention {self.name!r}: value and key must agree on every axis but the "
                             f"last; got shapes value {value} and key {key}")

    # ---- the call -----------------------------------------------------------------------------------
    def __call__(self, query: Any, value: Any = None, key: Any = None, **kwargs: Any) -> Any:
        """layer(query, value, key=None, ...), Keras's call. The tensors travel as one list, so that a functional
        model sees each of them (and an attention_mask that is an Input) as an input of this call."""
        if value is None and isinstance(query, list):  # the list itself: a functional model replaying the call
            return super().__call__(query, **kwargs)
        if value is None:
            raise TypeError(f"MultiHeadAttention {self.name!r} is called as layer(query, value) or "
                            "layer(query, value, key); the value is missing")
        tensors = [query, value] if key is None else [query, value, key]
        if isinstance(kwargs.get("attention_mask"), KerasTensor):  # [query, value, key, attention_mask]
            tensors = [query, value, value if key is None else key, kwargs.pop("attention_mask")]
        return super().__call__(tensors, **kwargs)

    def call(self, inputs: list[Tensor], query_mask: Any = None, value_mask: Any = None, key_mask: Any = None,
             attention_mask: Any = None, return_attention_scores: bool = False, training: bool | None = None,
             use_causal_mask: bool = False) -> Any:
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        self._check_features(query, value, key)
        own = lambda tensor: getattr(tensor, "_keras_mask", None)  # noqa: E731 (set by the layer before)
        masks = [own(query) if own(query) is not None else query_mask,  # Keras reads only the query's own
                 own(value) if value_mask is None else value_mask,
                 own(key) if key_mask is None and key is not value else key_mask]  # key is value: Keras skips it
        given = inputs[3] if len(inputs) > 3 else attention_mask
        mask = self._attention_mask([query, value, key], [_as_bool(m) for m in masks], given, use_causal_mask)
        # The projections see no mask, as in Keras (EinsumDense drops one): a masked input's maskless twin
        shared = query is value and key is value
        query, value, key = (t.reshape(t.shape) if own(t) is not None else t for t in (query, value, key))
        gate = self._gate_dense(query) if self.use_gate else None
        scale = 1.0 / math.sqrt(self.key_dim)
        if query.ndim == 3 and self.dropout == 0 and not return_attention_scores:  # one attention axis: fused
            mask = self._mask_for_scores(mask, 4)
            if shared and gate is None and self._output_dense.kernel.ndim == 3:
                return self._self_attention(query, mask, scale)
            output = DotProductAttention.apply(self._query_dense(query), self._key_dense(key),
                                               self._value_dense(value), mask, scale)
        else:
            q, k, v = self._query_dense(query), self._key_dense(key), self._value_dense(value)
            scores = Einsum.apply(k, q * scale, self._dot_product_equation)
            scores = MaskedSoftmax.apply(scores, self._mask_for_scores(mask, scores.ndim), axis=self._softmax_axes)
            dropped = self._dropout_layer(scores, training=training) if self.dropout > 0 else scores
            output = Einsum.apply(dropped, v, self._combine_equation)
        output = self._output_dense(output if gate is None else output * gate)
        return (output, scores) if return_attention_scores else output

    def _self_attention(self, x: Tensor, mask: np.ndarray, scale: float) -> Tensor:
        """The three projections of one input, the attention and the output projection as one op
        (SelfAttention), the query, key and value kernels (and biases) side by side; zeros for no biases."""
        dense, out = (self._query_dense, self._key_dense, self._value_dense), self._output_dense
        kernel = Concatenate.apply(*(d.kernel for d in dense), axis=-1)
        bias = Concatenate.apply(*(d.bias for d in dense), axis=-1) if self.use_bias else \
            np.zeros(kernel.shape[1:], kernel.dtype)
        out_bias = out.bias if self.use_bias else np.zeros(out.kernel.shape[-1:], out.kernel.dtype)
        return SelfAttention.apply(x, kernel, bias, out.kernel, out_bias, mask, self.key_dim, scale)

    def _check_features(self, query: Tensor, value: Tensor, key: Tensor) -> None:
        self._check_shapes(query.shape, value.shape, key.shape)
        for tensor, dense, what in ((query, self._query_dense, "query"), (value, self._value_dense, "value"),
                                    (key, self._key_dense, "key")):
            if tensor.shape[-1] != dense.kernel.shape[0]:
                raise ValueError(f"MultiHeadAttention {self.name!r} was built for a {what} of {dense.kernel.shape[0]} "
                                 f"features on its last axis, got shape {tensor.shape}")

    def _mask_for_scores(self, mask: np.ndarray | None, rank: int) -> np.ndarray:
        """The (batch, query axes, key axes) mask with axes of 1 for the heads (and any other batch axes) put
        in before the query axes, as Keras's _masked_softmax expands it; True (all kept) when there is none."""
        if mask is None:
            return np.True_
        pair = 2 * len(self._axes)
        mask = mask.reshape((1,) * max(0, pair - mask.ndim) + mask.shape)
        return mask.reshape(mask.shape[:-pair] + (1,) * (rank - mask.ndim) + mask.shape[-pair:])

    def _attention_mask(self, inputs: list[Tensor], masks: list, given: Any, causal: bool) -> np.ndarray | None:
        """Keras's _compute_attention_mask: query mask (B, T, 1) & value and key masks (B, 1, S) & the causal
        mask (1, T, S) & the band of a sliding window & attention_mask, each checked before it is used."""
        query, value = inputs[0], inputs[1]
        found = []
        for mask, tensor, what, axis in zip(masks, inputs, ("query", "value", "key"), (-1, -2, -2)):
            if mask is not None:
                if mask.shape != tensor.shape[:-1]:
                    raise ValueError(f"MultiHeadAttention {self.name!r}: the {what} mask has shape {mask.shape}, "
                                     f"expected the {what}'s shape without its features, {tensor.shape[:-1]}")
                found.append(np.expand_dims(mask, axis))
        rows, columns = np.arange(query.shape[1])[:, None], np.arange(value.shape[1])[None, :]
        if causal:
            found.append((rows >= columns)[None])
        if self.sliding_window is not None:
            found.append((np.abs(rows - columns) < self.sliding_window)[None])
        if given is not None:
            found.append(self._checked_attention_mask(given, query, value))
        return np.logical_and.reduce(np.broadcast_arrays(*found)) if found else None

    def _checked_attention_mask(self, given: Any, query: Tensor, value: Tensor) -> np.ndarray:
        given = np.asarray(given.data if isinstance(given, Tensor) else given)
        expected = query.shape[:-1] + tuple(value.shape[a] for a in self._axes)
        if given.ndim > len(expected) or any(m not in (1, n) for m, n in zip(given.shape[::-1], expected[::-1])):
            raise ValueError(f"MultiHeadAttention {self.name!r}: attention_mask has shape {given.shape}, expected "
                             f"(batch, query steps, value steps) = {expected} (a size may be 1, the batch left out)")
        return given.astype(bool)

    def compute_mask(self, inputs: Any, mask: Any = None) -> list:
        """The query's mask for the output, none for the scores (when they are returned too)."""
        return [mask, None]

    def get_config(self) -> dict[str, Any]:
        """Keras's keys: every argument, value_dim resolved, the Keras-only ones at None."""
        config = super().get_config() | {
            "num_heads": self.num_heads, "key_dim": self.key_dim, "value_dim": self.value_dim,
            "dropout": self.dropout, "use_bias": self.use_bias, "use_gate": self.use_gate,
            "output_shape": self._output_shape, "attention_axes": self._axes if self.built else self.attention_axes,
            "sliding_window": self.sliding_window, "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer, "seed": self.seed}
        config.pop("flash_attention", None)
        return config | {name: None for name in KERAS_ONLY}


def _as_bool(mask: Any) -> np.ndarray | None:
    return None if mask is None else np.asarray(mask.data if isinstance(mask, Tensor) else mask).astype(bool)
