"""This project's own format, as data: a model's architecture as a JSON config and back, its weights in
Keras's order and, optionally, the optimizer's state as the named arrays that archive.py stores.

Layers are rebuilt from the layer registry (layers.base.LAYERS) by class name and nothing else: no
getattr on a module, no code from the file. The containers are found there too (Model and Sequential
are layers, registered under their class names), so this wing imports no module of models/.

A config read from a file is a stranger's data: parse_config refuses NaN, infinities and nesting deeper
than MAX_DEPTH, and model_from_config (check_config) refuses a config that names a file for a layer to
open (a vocabulary given as a path, which Keras's safe mode refuses too), so loading a model opens no other
file, and input shapes that are not lists of sizes.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np

from .. import initializers, losses, metrics, optimizers
from ..layers.base import get_layer_class
from ..layers.input_layer import InputLayer
from ..layers.symbolic import flatten

MAX_DEPTH = 64  # a model's config nests a few levels per wrapper layer; thousands is an attack on the parser
# TextVectorization opens a file whose path is given as its vocabulary: from a file, only the tokens themselves
FILE_ARGUMENTS = ("vocabulary", "idf_weights")
SHAPE_KEYS = ("input_shape", "batch_shape", "batch_input_shape", "build_input_shape")


def parse_config(text: str | bytes, filepath: Any, what: str = "its config") -> Any:
    """JSON from a file, as data; ValueError naming the file for bad JSON, NaN, infinities or deep nesting."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except RecursionError:
        raise ValueError(f"{str(filepath)!r}: {what} nests deeper than the JSON parser can follow") from None
    except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError is a ValueError
        raise ValueError(f"{str(filepath)!r}: {what} is not valid JSON: {error}") from None
    pending = [(value, 1)]  # depth-first, without recursion: the depth is what is in question
    while pending:
        node, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"{str(filepath)!r}: {what} nests deeper than {MAX_DEPTH} levels; no model needs that")
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        pending.extend((child, depth + 1) for child in children)
    return value


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number a model's config can hold")


def _finite(text: str) -> float:
    value = float(text)
    if not np.isfinite(value):
        raise ValueError(f"{text[:40]} overflows to infinity")
    return value


def check_config(config: Any) -> None:
    """ValueError when a config (wrapped layers' too) names a file for a layer to open, or holds an input
    shape that is not a list of sizes (Keras's Input refuses those; a file must not slip them past it)."""
    pending = [config]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            for key in FILE_ARGUMENTS:
                if isinstance(node.get(key), str):
                    raise ValueError(f"layer {node.get('name')!r} names a file as its {key} ({node[key]!r:.80}): a "
                                     "model file never makes the loader open another file; give the tokens themselves")
            for key in SHAPE_KEYS:
                if node.get(key) is not None and not _is_shape(node[key]):
                    raise ValueError(f"{key} {node[key]!r:.80} is not a shape: a list of sizes (None or whole "
                                     "numbers from 0) was expected")
            pending.extend(node.values())
        elif isinstance(node, (list, tuple)):
            pending.extend(node)


def _is_shape(value: Any) -> bool:
    """A list of sizes, or (for several inputs) a list or dict of those."""
    if isinstance(value, dict):
        return all(_is_shape(v) for v in value.values())
    if not isinstance(value, (list, tuple)):
        return False
    if value and all(isinstance(v, (list, tuple, dict)) for v in value):
        return all(_is_shape(v) for v in value)
    return all(v is None or (type(v) is int and v >= 0) for v in value)


# ---- architecture ---------------------------------------------------------------------------------
def model_config(model: Any) -> dict[str, Any]:
    """The architecture of a Sequential or functional model, and its compile settings, as JSON-ready data."""
    compiled = None if model.optimizer is None else {
        "optimizer": {"class_name": type(model.optimizer).__name__, "config": model.optimizer.get_config()},
        "loss": _compile_json(model.loss, "loss"), "metrics": _compile_json(model.metrics, "metrics")}
    nested = [layer.name for layer in model.layers if _is_model(type(layer))]
    if nested:  # refused when saving, not only when loading: a file that cannot be read back is a trap
        raise NotImplementedError(f"model {model.name!r} holds models as layers ({', '.join(nested)}), which "
                                  "cannot be saved yet: save its weights (save_weights) and rebuild it in code")
    layers = [{"class_name": type(layer).__name__, "config": layer.get_config()} for layer in model.layers]
    if hasattr(model, "symbolic_outputs"):  # Sequential
        shape = model.input_shape
        return {"class_name": "Sequential", "name": model.name, "input_shape": None if shape is None else list(shape),
                "input_dtype": str(model.input_dtype), "layers": layers, "compile": compiled}
    if model.inputs is None:
        raise NotImplementedError(f"{type(model).__name__} is a subclassed model: its architecture is Python code, "
                                  "so save its weights only (save_weights) and rebuild it in code")
    # Each call (node): the layer, and its inputs as [layer name, that layer's call number, output number].
    calls, calls_of_layer, node_number = [], {}, {}
    for node in model._nodes:
        node_number[id(node)] = calls_of_layer[node.layer.name] = calls_of_layer.get(node.layer.name, -1) + 1
        if not isinstance(node.layer, InputLayer):
            calls.append({"layer": node.layer.name, "list_input": isinstance(node.inputs, (list, tuple)),
                          "inputs": [_reference(t, node_number) for t in flatten(node.inputs)], "kwargs": node.kwargs})
    return {"class_name": "Functional", "name": model.name, "layers": layers, "calls": calls,
            "inputs": [_reference(t, node_number) for t in model.inputs],
            "outputs": [_reference(t, node_number) for t in model.outputs],
            "single_input": model._single_input, "single_output": model._single_output, "compile": compiled}


def _reference(tensor: Any, node_number: dict) -> list:
    return [tensor.node.layer.name, node_number[id(tensor.node)], tensor.index]


def _is_model(cls: type) -> bool:
    """Whether a layer class is a model: Model is taken from the registry, as this wing imports no container."""
    return issubclass(cls, get_layer_class("Model"))


def model_from_config(config: dict[str, Any]) -> Any:
    """The model that model_config described, its weights not yet filled (compiled if it was)."""
    check_config(config)
    layers = []
    for entry in config["layers"]:
        cls = entry.get("class") or get_layer_class(entry["class_name"])  # "class": the user's, from custom objects
        if _is_model(cls):  # a model used as a layer (from a .keras file): built the same way, uncompiled
            try:
                layers.append(model_from_config({**entry["config"], "compile": None}))
            except KeyError as error:  # a model used as a layer whose config lacks what a model needs
                raise ValueError(f"layer {entry.get('name')!r} is a {entry['class_name']} whose config has no {error}") from None
        else:
            layers.append(cls.from_config(entry["config"]))
    if config["class_name"] == "Sequential":
        model = get_layer_class("Sequential")(layers, name=config["name"])
        if config["input_shape"] is not None:
            if config.get("input_dtype"):  # files written before 2026-11-30 do not have it
                model.__dict__["_input_layer"] = InputLayer(batch_shape=config["input_shape"], dtype=config["input_dtype"])
            model.build(config["input_shape"])
    elif config["class_name"] == "Functional":
        by_name = {layer.name: layer for layer in layers}
        outputs = {}  # (layer name, node number) -> the KerasTensors that call returned
        for layer in layers:
            if isinstance(layer, InputLayer):
                outputs[(layer.name, 0)] = [layer.output]
        for call in config["calls"]:
            inputs = [outputs[(name, node)][index] for name, node, index in call["inputs"]]
            result = by_name[call["layer"]](inputs if call["list_input"] else inputs[0], **call["kwargs"])
            number = sum(1 for key in outputs if key[0] == call["layer"])
            outputs[(call["layer"], number)] = flatten(result)
        ins = [outputs[(name, node)][index] for name, node, index in config["inputs"]]
        outs = [outputs[(name, node)][index] for name, node, index in config["outputs"]]
        model = get_layer_class("Model")(ins[0] if config["single_input"] else ins,
                                         outs[0] if config["single_output"] else outs, name=config["name"])
    else:
        raise ValueError(f"unknown model class {config['class_name']!r}: expected Sequential or Functional")
    if config.get("compile"):
        settings = config["compile"]
        name = settings["optimizer"]["class_name"].lower()
        if name not in optimizers.KNOWN:
            raise ValueError(f"unknown optimizer {settings['optimizer']['class_name']!r}")
        loss = _from_compile_json(settings["loss"], losses.deserialize)
        model.compile(optimizers.KNOWN[name](**settings["optimizer"]["config"]), loss,
                      _from_compile_json(settings["metrics"], metrics.get))
    return model


def _compile_json(value: Any, what: str) -> Any:
    """compile's loss or metrics as JSON: names as given, a Loss or Metric object as its class name and
    config, lists and per-output dicts of those; anything else (a function of the user's) is refused."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return [_compile_json(v, what) for v in value]
    if isinstance(value, dict):
        return {key: _compile_json(v, what) for key, v in value.items()}
    serialized, rebuild = None, None
    if isinstance(value, losses.Loss):
        serialized, rebuild = losses.serialize(value), losses.deserialize
    elif isinstance(value, metrics.Metric):
        serialized, rebuild = {"class_name": type(value).__name__, "config": value.get_config()}, metrics.get
    try:  # refused now, not when loading: a file that cannot be read back is a trap
        if rebuild is not None and rebuild(serialized) is not None:
            return serialized
    except (ValueError, TypeError):
        pass
    raise ValueError(f"the {what} {value!r:.60} cannot be saved: compile with a name or a built-in class, or save "
                     "the weights (save_weights) and compile again in code")


def _from_compile_json(value: Any, rebuild: Any) -> Any:
    """The inverse of _compile_json: objects rebuilt from {"class_name", "config"} dicts by `rebuild`."""
    if isinstance(value, dict):
        return rebuild(value) if "class_name" in value else {k: _from_compile_json(v, rebuild) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_compile_json(v, rebuild) for v in value]
    return value


# ---- the arrays -----------------------------------------------------------------------------------
def weight_arrays(model: Any) -> dict[str, np.ndarray]:
    """Every weight, in get_weights' order, under the names weight/0000, weight/0001, ..."""
    return {f"weight/{i:04d}": w for i, w in enumerate(model.get_weights())}


def _jsonable(value: Any) -> Any:
    """json.dumps's fallback for layer configs: an initializer object becomes Keras's {"class_name", "config"},
    which the rebuilt layer keeps and initializers.get reads; anything else has no JSON form."""
    if isinstance(value, initializers.Initializer):
        return initializers.serialize(value)
    raise TypeError(f"a layer's config holds {value!r:.80}, which cannot be saved: give it by name, or as a "
                    "tinygrad_embed.initializers object")


def model_arrays(model: Any, include_optimizer: bool = True) -> dict[str, np.ndarray]:
    """What a model file holds: the weights, the architecture as JSON and, optionally, the optimizer's state."""
    arrays = weight_arrays(model)
    arrays["config"] = np.array(json.dumps(model_config(model), default=_jsonable))
    if include_optimizer and model.optimizer is not None:
        arrays.update({f"optimizer/{k}": v for k, v in model.optimizer.get_state().items()})
    return arrays


def set_weight_arrays(model: Any, arrays: dict[str, np.ndarray], filepath: str) -> None:
    """The arrays weight/0000, weight/0001, ... into the model's weights; ValueError naming the file if they do not fit."""
    stored = sorted(k for k in arrays if k.startswith("weight/"))
    try:
        model.set_weights([arrays[k] for k in stored])
    except (ValueError, TypeError) as error:
        raise ValueError(f"the weights in {filepath!r} do not fit model {model.name!r}: {error}") from None


def restore(model: Any, arrays: dict[str, np.ndarray], filepath: str) -> None:
    """Weights and, when the file has it, the optimizer's state: all or nothing, so that a file whose
    optimizer state does not fit leaves the model and its optimizer as they were."""
    state = {k[len("optimizer/"):]: v for k, v in arrays.items() if k.startswith("optimizer/")}
    if set(state) == {"iterations"} and np.shape(state["iterations"]) == () and state["iterations"] == 0:
        state = {}  # saved compiled but before any step: the optimizer had no slots yet, and has none now
    if not state or model.optimizer is None:
        return set_weight_arrays(model, arrays, filepath)  # set_weights checks every array before changing any
    optimizer, weights = model.optimizer, model.get_weights() if model.built else None
    kept = (optimizer.iterations, list(optimizer._variables), [{k: v.copy() for k, v in s.items()} for s in optimizer._slots])
    set_weight_arrays(model, arrays, filepath)
    try:
        if np.shape(state.get("iterations")) != ():
            raise ValueError(f"its step count has shape {np.shape(state.get('iterations'))}, expected a single number")
        optimizer.build(model.trainable_weights)
        optimizer.set_state(state)
    except (ValueError, TypeError, OverflowError) as error:
        if weights is not None:
            model.set_weights(weights)
        optimizer.iterations, optimizer._variables, optimizer._slots = kept
        raise ValueError(f"the optimizer state in {filepath!r} does not fit: {error}") from None
