"""The pieces of a functional graph, which a Model replays on real arrays: a KerasTensor stands for a value
that does not exist yet (an `Input`, or what a layer will output), a Node for one call of a layer."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import tree
from ..tensor import Tensor


class KerasTensor:
    """A symbolic value: its shape (None for the batch and sizes not known yet), its dtype, the node making it."""

    def __init__(self, shape: tuple[int | None, ...], dtype: Any, name: str | None = None) -> None:
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.name = name
        self.node: Node | None = None
        self.index = 0  # which of the node's outputs this is

    ndim = property(lambda self: len(self.shape))

    def __repr__(self) -> str:
        made_by = f", made by {self.node.layer.name!r}" if self.node else ""
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}{made_by}>"

    @property
    def _keras_mask(self) -> KerasTensor:
        """The mask that comes with this value, as a symbolic bool tensor; absent (AttributeError) if none, as
        on Keras's KerasTensor, so that getattr(x, "_keras_mask", None) reads it either way."""
        mask = symbolic_mask(self)
        if mask is None:
            raise AttributeError(f"{self!r} carries no mask")
        return mask

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise TypeError("a KerasTensor is a placeholder in a functional model, not data: call layers on it, "
                        "and build a Model(inputs, outputs) to compute with real arrays")


class Node:
    """One call of a layer in a functional graph: its inputs and outputs, and extra arguments to repeat."""

    def __init__(self, layer: Any, inputs: Any, outputs: Any, args: tuple = (), kwargs: dict | None = None) -> None:
        self.layer, self.inputs, self.outputs = layer, inputs, outputs
        self.args, self.kwargs = args, dict(kwargs or {})
        for index, tensor in enumerate(tree.flatten(outputs)):
            tensor.node, tensor.index = self, index

    @property
    def parents(self) -> list[Node]:
        return [t.node for t in tree.flatten(self.inputs) if t.node is not None]


def symbolic_mask(tensor: KerasTensor) -> KerasTensor | None:
    """What the making layer's compute_mask gives when called on stand-ins (zeros for the inputs, a mask of
    ones if one comes in), as a KerasTensor of its shape; asked for only when read, so no graph pays for it."""
    node = tensor.node
    if node is None or not node.parents or not node.layer.supports_masking:
        return None
    incoming = node.kwargs.get("mask", getattr(tree.flatten(node.inputs)[0], "_keras_mask", None))
    concrete = lambda t: tuple(1 if d is None else d for d in t.shape)  # noqa: E731
    zeros = tree.map_structure(lambda t: Tensor(np.zeros(concrete(t), t.dtype)), node.inputs)
    ones = None if incoming is None else tree.map_structure(lambda m: np.ones(concrete(m), bool), incoming)
    masks = node.layer.compute_mask(zeros, ones)
    mask = tree.flatten(masks)[tensor.index] if isinstance(masks, (list, tuple)) else masks
    if mask is None:
        return None
    known = tree.flatten(node.inputs)[0].shape  # a mask's axes are the input's first axes: unknown sizes stay unknown
    return KerasTensor(tuple(None if i < len(known) and known[i] is None else d
                             for i, d in enumerate(np.shape(mask))), bool)


class FirstCall:
    """`layer.input` / `layer.output`: the KerasTensors of the layer's first call in a functional graph, as
    Keras gives them (one tensor, or a list of several), so that a new Model can be cut out of a trained
    one's graph. Only __get__ (a non-data descriptor): a layer may store its own, as InputLayer its output."""

    def __init__(self, side: str) -> None:
        self.side = side

    def __get__(self, layer: Any, owner: type | None = None) -> Any:
        if layer is None:
            return self
        if not layer._inbound_nodes:
            raise AttributeError(f"layer {layer.name!r} has never been called on a KerasTensor, so it has no "
                                 f"{self.side}: call it on an Input (or on what a layer gave) first")
        node = layer._inbound_nodes[0]
        tensors = tree.flatten(node.inputs if self.side == "input" else node.outputs)
        return tensors[0] if len(tensors) == 1 else tensors


def is_shape(value: Any) -> bool:
    return isinstance(value, tuple) and all(d is None or isinstance(d, (int, np.integer)) for d in value)


def flatten(structure: Any) -> list[Any]:
    """The leaves of nested lists and tuples, in order (a dict is a leaf: a saved file's tensor references
    are dicts; tree.flatten walks into dicts)."""
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def map_structure(fn: Callable[[Any], Any], structure: Any, is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """fn applied to every leaf of nested lists and tuples, keeping the nesting."""
    if is_leaf is not None and is_leaf(structure):
        return fn(structure)
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_structure(fn, item, is_leaf) for item in structure)
    return fn(structure)
