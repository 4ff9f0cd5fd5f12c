"""Keras's merge layers: one output from a list of inputs. Add, Subtract, Multiply, Average, Maximum and
Minimum work elementwise (inputs of lower rank gain axes after the batch axis, then shapes broadcast);
Concatenate joins along an axis; Dot takes a dot product per sample. Each has Keras's functional form
(`add([a, b])` is `Add()([a, b])`). All are composed from Tensor ops.

Masks, as Keras: a merge receives the mask of every input. The output's mask is the OR of the input
masks when every input has one (else none); Concatenate joins its inputs' masks along its axis (an input
without one counts as unmasked) and reduces over the last axis; Dot hands on no mask. Maximum, Minimum
and Multiply also read the masks while merging: a masked entry does not take part (Multiply puts 1 in
its place, and 0 in the output where every input is masked).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ..functions import concatenate as join
from ..tensor import Tensor
from .base import Layer
from .symbolic import is_shape

INVERSE_NORM_CAP = 1e7  # 1 / Keras's epsilon: l2 normalisation divides by at least 1e-7


def _where(keep: np.ndarray, x: Tensor, otherwise: Tensor | float) -> Tensor:
    """x where keep is True, otherwise elsewhere; the gradient goes to the entry chosen."""
    weight = keep.astype(x.dtype)
    return x * weight + otherwise * (1 - weight)


def _extreme(a: Tensor, b: Tensor, larger: bool) -> Tensor:
    """max(a, b) (min when not larger), elementwise; on a tie each side gets half the gradient, as
    Keras's torch and JAX backends define it (TensorFlow gives it all to a)."""
    wins = a.data > b.data if larger else a.data < b.data
    weight = np.where(a.data == b.data, 0.5, wins).astype(np.result_type(a.dtype, b.dtype))
    return a * weight + b * (1 - weight)


def _input_masks(inputs: Any) -> list[np.ndarray | None]:
    return [getattr(x, "_keras_mask", None) for x in inputs]


def _spread(mask: np.ndarray | None, x: Tensor) -> np.ndarray | None:
    """A (batch, steps) mask stretched over x's feature axis, x's shape."""
    if mask is None:
        return None
    mask = np.asarray(mask, bool)
    return np.broadcast_to(mask[..., None] if mask.ndim < x.ndim else mask, x.shape)


class _Merge(Layer):
    """What the merges share: a list of inputs checked, masks gathered, the output shape worked out."""
    supports_masking = True
    input_count: int | None = None  # Subtract and Dot take exactly two

    def call(self, inputs: Sequence[Tensor]) -> Tensor:
        self._output_shape(self._checked(inputs.shape if isinstance(inputs, Tensor) else [x.shape for x in inputs]))
        return self.merge(self._aligned(list(inputs)), _input_masks(inputs))

    def merge(self, inputs: list[Tensor], masks: list[np.ndarray | None]) -> Tensor:
        raise NotImplementedError

    def _aligned(self, inputs: list[Tensor]) -> list[Tensor]:
        return inputs

    def _output_shape(self, shapes: list[tuple]) -> tuple:
        """The output's shape, or ValueError naming the input shapes that do not fit together."""
        raise NotImplementedError

    def _checked(self, shapes: Any) -> list[tuple]:
        """The input shapes as a list; ValueError for one input, or a count the layer does not take."""
        if is_shape(shapes) or not isinstance(shapes, (list, tuple)):
            raise ValueError(f"{type(self).__name__} {self.name!r} merges a list of inputs, got one input of "
                             f"shape {shapes}")
        if not shapes or (self.input_count and len(shapes) != self.input_count):
            raise ValueError(f"{type(self).__name__} {self.name!r} merges {self.input_count or 'at least 1'} "
                             f"inputs, got {len(shapes)}")
        return [tuple(s) for s in shapes]

    def build(self, input_shape: Any) -> None:
        self.compute_output_shape(input_shape)  # only checks: a merge has no weights

    def compute_output_shape(self, input_shape: Sequence[tuple]) -> tuple:
        return self._output_shape(self._checked(input_shape))

    def compute_mask(self, inputs: Any, mask: Sequence[Any] | None = None) -> np.ndarray | None:
        """The OR of the input masks when every input has one (Keras's rule), else None."""
        if mask is None or any(m is None for m in mask):
            return None
        return np.logical_or.reduce([np.asarray(m, bool) for m in mask])

    def _attach_mask(self, inputs: Any, outputs: Any, mask: Any) -> None:
        # Keras hands a merge the masks of all its inputs, not only the first input's
        super()._attach_mask(inputs, outputs, _input_masks(inputs))


class _Elementwise(_Merge):
    """An elementwise merge: lower-rank inputs gain axes after the batch axis, then shapes broadcast."""

    def _aligned(self, inputs: list[Tensor]) -> list[Tensor]:
        rank = max(x.ndim for x in inputs)
        return [x.reshape(x.shape[:1] + (1,) * (rank - x.ndim) + x.shape[1:]) if x.ndim < rank else x
                for x in inputs]

    def _output_shape(self, shapes: list[tuple]) -> tuple:
        batches = {s[0] for s in shapes if s} - {None}
        if len(batches) > 1:
            raise ValueError(f"{type(self).__name__} {self.name!r} cannot merge inputs of different batch sizes: "
                             f"shapes {shapes}")
        rank = max(len(s) for s in shapes)
        features = []
        for column in zip(*[(1,) * (rank - len(s)) + s[1:] for s in shapes]):
            sizes = set(column) - {1, None}
            if len(sizes) > 1:
                raise ValueError(f"{type(self).__name__} {self.name!r} needs inputs of shapes that broadcast "
                                 f"together (sizes equal or 1 on each axis), got shapes {shapes}")
            features.append(None if None in column else sizes.pop() if sizes else 1)
        return (batches.pop() if batches else None,) + tuple(features)


class Add(_Elementwise):
    """inputs[0] + inputs[1] + ..."""

    def merge(self, inputs, masks):
        return sum(inputs[1:], inputs[0])


class Subtract(_Elementwise):
    """inputs[0] - inputs[1]."""
    input_count = 2

    def merge(self, inputs, masks):
        return inputs[0] - inputs[1]


class Average(_Elementwise):
    """(inputs[0] + ... + inputs[n-1]) / n."""

    def merge(self, inputs, masks):
        return sum(inputs[1:], inputs[0]) / len(inputs)


class Multiply(_Elementwise):
    """inputs[0] * inputs[1] * ...; masked entries count as 1, and where every input is masked the output is 0."""

    def merge(self, inputs, masks):
        spread = [_spread(m, x) for m, x in zip(masks, inputs)]
        factors = [x if keep is None else _where(keep, x, 1.0) for x, keep in zip(inputs, spread)]
        output = math.prod(factors[1:], start=factors[0])
        if any(keep is None for keep in spread):
            return output
        return _where(np.logical_or.reduce(spread), output, 0.0)


class _Extreme(_Elementwise):
    """Maximum and Minimum, taken pairwise from the left as Keras does: a masked entry takes the other
    side's value, so only unmasked entries compete."""
    larger = True

    def merge(self, inputs, masks):
        output, output_keep = inputs[0], _spread(masks[0], inputs[0])
        for x, mask in zip(inputs[1:], masks[1:]):
            keep = _spread(mask, x)
            if keep is not None:
                x = _where(keep, x, output)
            if output_keep is not None:
                output = _where(output_keep, output, x)
            output_keep = None if keep is None or output_keep is None else output_keep | keep
            output = _extreme(output, x, self.larger)
        return output


class Maximum(_Extreme):
    """max(inputs[0], inputs[1], ...), elementwise; a tie splits the gradient evenly between the pair."""


class Minimum(_Extreme):
    """min(inputs[0], inputs[1], ...), elementwise; a tie splits the gradient evenly between the pair."""
    larger = False


class Concatenate(_Merge):
    """The inputs joined along `axis`; their other sizes must agree."""

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"Concatenate's axis must be an integer, got {axis!r}")
        self.axis = int(axis)

    def merge(self, inputs, masks):
        return join(inputs, axis=self.axis)

    def _output_shape(self, shapes: list[tuple]) -> tuple:
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes) or not -rank <= self.axis < rank:
            raise ValueError(f"Concatenate {self.name!r} (axis={self.axis}) needs inputs of one rank that have "
                             f"that axis; got shapes {shapes}")
        output = []
        for axis, column in enumerate(zip(*shapes)):
            known = set(column) - {None}
            if axis == self.axis % rank:
                output.append(None if None in column else sum(column))
            elif len(known) > 1:
                raise ValueError(f"Concatenate {self.name!r} (axis={self.axis}) needs inputs whose sizes agree on "
                                 f"every other axis; got shapes {shapes}")
            else:
                output.append(known.pop() if known else None)
        return tuple(output)

    def compute_mask(self, inputs: Any, mask: Sequence[Any] | None = None) -> np.ndarray | None:
        """The masks (an input without one: all True) stretched to the inputs' shapes, joined along the
        axis, then any() over the last axis: for a join along the features that is the OR of the masks."""
        if mask is None or all(m is None for m in mask):
            return None
        full = [np.ones(x.shape, bool) if m is None else _spread(m, x) for x, m in zip(inputs, mask)]
        return np.concatenate(full, axis=self.axis).any(axis=-1)


class Dot(_Merge):
    """Per sample, the dot product of inputs[0] and inputs[1] along axes (one for both, or one each; never
    the batch axis): shape (batch, the rest of inputs[0], the rest of inputs[1]), or (batch, 1). With
    normalize, each input is first l2-normalised along its axis (then the product is the cosine)."""
    input_count = 2

    def __init__(self, axes: int | Sequence[int], normalize: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        pair = [axes, axes] if isinstance(axes, (int, np.integer)) and not isinstance(axes, bool) else axes
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not all(
                isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in pair):
            raise ValueError(f"Dot's axes must be an integer or a pair of integers, got {axes!r}")
        self.axes, self.normalize = axes, bool(normalize)

    def _resolved_axes(self, shapes: list[tuple]) -> tuple[int, int]:
        pair = [self.axes, self.axes] if isinstance(self.axes, (int, np.integer)) else self.axes
        axes = tuple(int(a) % len(s) if -len(s) <= a < len(s) else None for a, s in zip(pair, shapes))
        if None in axes or 0 in axes:
            raise ValueError(f"Dot {self.name!r} (axes={self.axes}) needs a non-batch axis of each input; got shapes "
                             f"{shapes}")
        return axes

    def _output_shape(self, shapes: list[tuple]) -> tuple:
        if any(len(s) < 2 for s in shapes):
            raise ValueError(f"Dot {self.name!r} needs inputs of rank 2 or more, got shapes {shapes}")
        (a, b), (x, y) = self._resolved_axes(shapes), shapes
        if None not in (x[a], y[b]) and x[a] != y[b]:
            raise ValueError(f"Dot {self.name!r} (axes={self.axes}): axis {a} of the first input has size {x[a]}, "
                             f"axis {b} of the second {y[b]}; they must be equal. Shapes {shapes}")
        if None not in (x[0], y[0]) and x[0] != y[0]:
            raise ValueError(f"Dot {self.name!r} cannot take inputs of different batch sizes: shapes {shapes}")
        rest = x[1:a] + x[a + 1:] + y[1:b] + y[b + 1:]
        return (x[0] if x[0] is not None else y[0],) + (rest or (1,))

    def merge(self, inputs, masks):
        (x, y), (a, b) = inputs, self._resolved_axes([t.shape for t in inputs])
        if self.normalize:
            x, y = _l2_normalized(x, a), _l2_normalized(y, b)
        x_rest, y_rest = x.shape[1:a] + x.shape[a + 1:], y.shape[1:b] + y.shape[b + 1:]
        # (batch, rest of x, d) @ (batch, d, rest of y): one batched matrix product
        x = x.transpose([i for i in range(x.ndim) if i != a] + [a]).reshape(x.shape[0], math.prod(x_rest), x.shape[a])
        y = y.transpose([0, b] + [i for i in range(1, y.ndim) if i != b]).reshape(y.shape[0], y.shape[b],
                                                                                 math.prod(y_rest))
        return (x @ y).reshape((x.shape[0],) + (x_rest + y_rest or (1,)))

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        return None


def _l2_normalized(x: Tensor, axis: int) -> Tensor:
    """x * min(1 / ||x||, 1e7) along axis, Keras's l2 normalisation."""
    return x * ((x * x).sum(axis=axis, keepdims=True) ** -0.5).clip(0.0, INVERSE_NORM_CAP)


def add(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """Add(**kwargs)(inputs)."""
    return Add(**kwargs)(inputs)


def subtract(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """Subtract(**kwargs)(inputs)."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """Multiply(**kwargs)(inputs)."""
    return Multiply(**kwargs)(inputs)


def average(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """Average(**kwargs)(inputs)."""
    return Average(**kwargs)(inputs)


def maximum(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """Maximum(**kwargs)(inputs)."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs: Sequence[Any], **kwargs: Any) -> Any:
    """Minimum(**kwargs)(inputs)."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs: Sequence[Any], axis: int = -1, **kwargs: Any) -> Any:
    """Concatenate(axis, **kwargs)(inputs)."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs: Sequence[Any], axes: int | Sequence[int] = -1, **kwargs: Any) -> Any:
    """Dot(axes, **kwargs)(inputs)."""
    return Dot(axes=axes, **kwargs)(inputs)
