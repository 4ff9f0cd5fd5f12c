"""One call of a layer in a functional graph, both ways: as Keras 3 writes it in config.json's
`inbound_nodes` ({"args": [...], "kwargs": {...}}, each tensor a `__keras_tensor__` reference) and as this
project's graph records it (layers/symbolic.py's Node: one tensor or one list of them, and plain keywords).

Most layers take one tensor, or one list (the merges, Attention). A recurrent layer's states travel here in
its list, [sequence, *states], and in Keras as `initial_state=`. MultiHeadAttention is called
layer(query, value, key=None, attention_mask=None, ...): here its tensors are one list
[query, value(, key(, attention_mask))] (its __call__ packs them, the key repeating the value when only an
attention_mask is given), in Keras positional arguments and keyword tensors as the user wrote them,
`mha(x, x)` as args [x, x], `mha(q, v, key=k)` as args [q, v] and kwargs {"key": k}."""
from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy as np

from ..layers.base import get_layer_class
from ..layers.multi_head_attention import MultiHeadAttention
from ..layers.symbolic import KerasTensor, flatten

# MultiHeadAttention's (and a subclass's) tensor arguments, by Keras's names in its call's order
TENSOR_ARGUMENTS = ("query", "value", "key", "attention_mask")
# Tensors of Keras's call this project's graph does not carry (a mask here comes with the tensor it masks)
MASK_TENSORS = ("query_mask", "value_mask", "key_mask")


def call_to_keras(node: Any, reference: Callable[[Any], dict]) -> dict[str, Any]:
    """Keras's {"args", "kwargs"} for one call of a layer of this project's graph (not an op node)."""
    if node.args or any(isinstance(t, KerasTensor) for t in flatten(list(node.kwargs.values()))):
        raise ValueError(f"layer {node.layer.name!r} is called with extra tensors, which this writer does not map")
    arrays = [key for key, value in node.kwargs.items() if any(isinstance(v, np.ndarray) for v in flatten(value))]
    if arrays:  # config.json holds plain values: an array given to the call is data the file cannot name
        raise ValueError(f"layer {node.layer.name!r} is called with arrays as {arrays}, which a .keras file cannot "
                         "hold: make each an Input of the model (an attention_mask crosses as a tensor of the graph)")
    if isinstance(node.layer, MultiHeadAttention):
        tensors = [reference(t) for t in node.inputs]
        kwargs = dict(node.kwargs)
        # [query, value, key] was called with a key; in [query, value, key, mask] a key that is the value may be
        # the one __call__ put in (none given): written as none, which means the same to Keras
        if len(tensors) == 3 or len(tensors) > 3 and node.inputs[2] is not node.inputs[1]:
            kwargs["key"] = tensors[2]
        if len(tensors) > 3:
            kwargs["attention_mask"] = tensors[3]
        return {"args": tensors[:2], "kwargs": kwargs}
    if "initial_state" in inspect.signature(type(node.layer).call).parameters and isinstance(node.inputs, list):
        # the states travel in our graph as [sequence, *states]; Keras writes them as the initial_state keyword,
        # nested as the layer's states are (RNN of stacked cells)
        states = getattr(node.layer, "pack_states", list)([reference(t) for t in node.inputs[1:]])
        return {"args": [reference(node.inputs[0])], "kwargs": {**node.kwargs, "initial_state": states}}
    inputs = [reference(t) for t in node.inputs] if isinstance(node.inputs, (list, tuple)) else reference(node.inputs)
    return {"args": [inputs], "kwargs": dict(node.kwargs)}


def call_from_keras(entry: dict[str, Any], node: dict[str, Any], masks: set[str], history: Callable[[Any], list],
                    cls: type | None = None) -> tuple[bool, list[list], dict[str, Any]]:
    """(whether our layer takes a list, the [layer, call, output] of each tensor it reads, its other keywords)
    for one of Keras's inbound_nodes of the layer `entry` (cls: the user's class found for it, if it is one);
    ValueError for a call this project cannot repeat."""
    args, kwargs, name = node["args"], dict(node.get("kwargs") or {}), entry.get("name")
    kwargs.pop("training", None)  # the training loop decides it here, as Keras's own fit does
    if all(t is None or history(t)[0] in masks for t in flatten(kwargs.get("mask"))):
        kwargs.pop("mask", None)  # a mask op's output, or none: the mask comes with the tensor here
    if entry["class_name"] == "MultiHeadAttention" or isinstance(cls, type) and issubclass(cls, MultiHeadAttention):
        list_input, tensors = True, _tensor_arguments(entry, args, kwargs)
    else:
        if len(args) != 1:
            raise ValueError(f"layer {name!r} is called with {len(args)} positional arguments; this project's "
                             f"{entry['class_name']} takes one input (a tensor or a list of them)")
        states = kwargs.pop("initial_state", None)
        if states is not None:  # a recurrent layer's states join its input, [sequence, *states]
            list_input, tensors = True, [args[0]] + flatten(states)
        else:
            list_input, tensors = isinstance(args[0], list), args[0] if isinstance(args[0], list) else [args[0]]
    _check_keywords(entry, kwargs, cls)
    return list_input, [history(t) for t in tensors], kwargs


def _tensor_arguments(entry: dict[str, Any], args: list, kwargs: dict[str, Any]) -> list:
    """The call's tensors in our list's order, taken from Keras's positional and keyword arguments (kwargs
    keeps the rest)."""
    names, name = TENSOR_ARGUMENTS, entry.get("name")
    if len(args) > len(names):
        raise ValueError(f"layer {name!r} is called with {len(args)} positional arguments; its call takes at most "
                         f"{len(names)} tensors ({', '.join(names)})")
    bound = dict(zip(names, args))
    for key in names:
        if key in kwargs and key in bound:
            raise ValueError(f"layer {name!r} is given {key!r} both by position and by keyword")
        value = kwargs.pop(key, None)
        if value is not None:
            bound[key] = value
    if bound.get("query") is None or bound.get("value") is None:
        raise ValueError(f"layer {name!r} ({entry['class_name']}) is called without a query and a value: "
                         f"{sorted(bound)}")
    for key in MASK_TENSORS:
        if _is_tensor(kwargs.get(key)):
            raise ValueError(f"layer {name!r} is given {key}= as a tensor of the graph, which this project's graph "
                             "does not carry; a mask that comes with the tensor (Embedding(mask_zero=True), "
                             "Masking) or attention_mask= does the same")
    tensors = [bound["query"], bound["value"]]
    if bound.get("key") is not None or bound.get("attention_mask") is not None:
        tensors.append(bound.get("key") if bound.get("key") is not None else bound["value"])
    if bound.get("attention_mask") is not None:
        tensors.append(bound["attention_mask"])
    return tensors


def _check_keywords(entry: dict[str, Any], kwargs: dict[str, Any], cls: type | None) -> None:
    """Each keyword left is a plain value that our layer's call takes (a tensor here would be lost)."""
    tensors = [key for key, value in kwargs.items() if any(_is_tensor(t) for t in flatten(value))]
    if tensors:
        raise ValueError(f"layer {entry.get('name')!r} is called with the tensors {tensors} as keywords, which this "
                         "project's graph does not carry")
    try:
        parameters = inspect.signature((cls or get_layer_class(entry["class_name"])).call).parameters
    except ValueError:  # a Keras model's class name (Functional), a model of the project's: its call says
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    unknown = sorted(set(kwargs) - set(parameters))
    if unknown:
        raise ValueError(f"layer {entry.get('name')!r} is called with {unknown}, which this project's "
                         f"{entry['class_name']} does not take (it takes {sorted(set(parameters) - {'self'})})")


def _is_tensor(value: Any) -> bool:
    return isinstance(value, dict) and value.get("class_name") == "__keras_tensor__"
