"""Keras 3's config.json and this project's model config (native.py), both ways: to_keras_config writes
the architecture as Keras records it (each layer's module, class and config, a functional graph's calls as
`inbound_nodes`, compile's settings), from_keras_config reads it back. Only Keras's built-in layers by name
cross, and only at the arguments this project implements: anything else is refused, or for the compile
settings dropped with a warning, since a file is data and never code. keras_files.py puts it in a file."""
from __future__ import annotations

import inspect
import warnings
from typing import Any

import numpy as np

from .. import activations, initializers, losses, optimizers
from ..layers.base import Layer
from ..layers.bidirectional import Bidirectional
from ..layers.input_layer import InputLayer
from ..layers.lambda_layer import Lambda
from ..layers.rnn import RNN, StackedRNNCells
from ..layers.symbolic import KerasTensor, flatten
from ..layers.text_vectorization import TextVectorization
from ..layers.time_distributed import TimeDistributed
from . import keras_assets, keras_objects
from .keras_calls import call_from_keras, call_to_keras
from .native import _is_model
from .keras_ops import KerasOperation, is_op_entry, mask_ops, operation_from_keras

KERAS_LAYERS = ("InputLayer", "Embedding", "Dense", "LSTM", "GRU", "SimpleRNN", "Bidirectional", "Conv1D",
                "MaxPooling1D", "AveragePooling1D", "GlobalMaxPooling1D", "GlobalAveragePooling1D", "Flatten",
                "Activation", "Reshape", "Dropout", "SpatialDropout1D", "RepeatVector", "TimeDistributed", "Masking", "Add",
                "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot", "BatchNormalization",
                "LayerNormalization", "Attention", "AdditiveAttention", "MultiHeadAttention", "EinsumDense",
                "TextVectorization", "Lambda", "RNN", "LSTMCell", "GRUCell", "SimpleRNNCell", "StackedRNNCells")
OURS_ONLY = ("fused", "input_length", "batch_input_shape")  # Keras 3 has no such argument (the InputLayer holds the shape)
NOT_IN_KERAS_CONFIG = {"SpatialDropout1D": ("trainable",)}  # Keras's constructor refuses it (the layer has no weights)
ANY = object()
# Keras's arguments this project does not have: accepted at the value that means "not used" only.
KERAS_ONLY = {"stateful": False, "unroll": ANY, "quantization_config": None, "sparse": False, "ragged": False,
              "optional": False, "lora_rank": None, "lora_alpha": None, "time_major": False, "synchronized": False,
              "renorm": False, "renorm_clipping": None, "renorm_momentum": ANY, "rms_scaling": False,
              "encoding": "utf-8", "vocabulary_size": ANY}
OPTIMIZER_KERAS_ONLY = {"weight_decay": None, "global_clipnorm": None, "use_ema": False, "loss_scale_factor": None,
                        "gradient_accumulation_steps": None, "name": ANY, "ema_momentum": ANY,
                        "ema_overwrite_frequency": ANY}


def to_keras_config(model: Any) -> dict[str, Any]:
    """config.json as Keras 3 writes it, for a Sequential or functional model of Keras's built-in layers."""
    if hasattr(model, "symbolic_outputs"):  # Sequential
        if model.input_shape is None:
            raise ValueError(f"model {model.name!r} has no input shape yet: build it (or call it on data) before saving")
        shape = list(model.input_shape)
        first = {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                 "config": {"batch_shape": shape, "dtype": _dtype_to_keras(model.input_dtype), "sparse": False,
                            "ragged": False,
                            "name": f"{model.name}_input"}}
        inner = {"name": model.name, "trainable": model.trainable, "dtype": "float32",
                 "layers": [first] + [_layer_to_keras(layer) for layer in model.layers], "build_input_shape": shape}
        head = {"module": "keras", "class_name": "Sequential", "build_config": {"input_shape": shape}}
    elif getattr(model, "inputs", None) is not None:
        inner, head = _functional_to_keras(model), {"module": "keras.src.models.functional", "class_name": "Functional"}
    else:
        raise NotImplementedError(f"{type(model).__name__} is a subclassed model: its architecture is Python code, "
                                  "which a .keras file does not hold; save its weights (.weights.h5) instead")
    return {**head, "registered_name": None, "config": inner, "compile_config": _compile_to_keras(model)}


def _functional_to_keras(model: Any) -> dict[str, Any]:
    number = {}  # id(node) -> that call's number among its layer's calls in this model
    counts: dict[str, int] = {}
    for node in model._nodes:
        number[id(node)] = counts[node.layer.name] = counts.get(node.layer.name, -1) + 1

    def history(tensor: KerasTensor) -> list:
        return [tensor.node.layer.name, number[id(tensor.node)], tensor.index]

    def reference(tensor: KerasTensor) -> dict[str, Any]:
        return {"class_name": "__keras_tensor__", "config": {"shape": list(tensor.shape), "dtype": _dtype_to_keras(tensor.dtype),
                                                             "keras_history": history(tensor)}}

    def call(node: Any) -> dict[str, Any]:
        if isinstance(node.layer, KerasOperation):
            return {"args": node.layer.keras_args([reference(t) for t in flatten(node.inputs)]),
                    "kwargs": dict(node.layer.call_kwargs)}
        return call_to_keras(node, reference)

    layers = [{**_layer_to_keras(layer), "name": layer.name,
               "inbound_nodes": [call(n) for n in model._nodes if n.layer is layer and not isinstance(layer, InputLayer)]}
              for layer in model.layers]
    def graph_end(tensor: KerasTensor) -> list:  # Keras counts a functional model's own graph as its call 0 here
        layer, call_number, index = history(tensor)
        functional = _is_model(type(tensor.node.layer)) and not hasattr(tensor.node.layer, "symbolic_outputs")
        return [layer, call_number + functional, index]

    inputs, outputs = [graph_end(t) for t in model.inputs], [graph_end(t) for t in model.outputs]
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": inputs[0] if model._single_input else inputs,
            "output_layers": outputs[0] if model._single_output else outputs}


def _layer_to_keras(layer: Layer) -> dict[str, Any]:
    cls, name = type(layer), type(layer).__name__
    if isinstance(layer, KerasOperation):
        return layer.keras_entry()
    if _is_model(cls):  # a model used as a layer: its whole config (Keras keeps its compile_config; not here)
        return {**to_keras_config(layer), "compile_config": None}
    if not cls.__module__.startswith("tinygrad_embed."):  # a user's class: Keras's entry for a custom object
        config = {key: _value_to_keras(value) for key, value in layer.get_config().items() if key not in OURS_ONLY}
        return keras_objects.custom_entry(cls, config)
    if not name in KERAS_LAYERS:
        raise ValueError(f"layer {layer.name!r} is a {name}, which Keras does not have: a .keras file holds Keras's "
                         f"built-in layers ({', '.join(KERAS_LAYERS)}) and registered custom layers; save the weights "
                         "(.weights.h5) instead")
    if isinstance(layer, TextVectorization):
        config = keras_assets.keras_config(layer)
    elif isinstance(layer, Lambda):
        config = keras_objects.lambda_config(layer)
    else:
        dropped = OURS_ONLY + NOT_IN_KERAS_CONFIG.get(name, ())
        config = {key: _value_to_keras(value) for key, value in layer.get_config().items() if key not in dropped}
    if isinstance(layer, InputLayer):
        config["dtype"] = _dtype_to_keras(config.get("dtype"))
    if isinstance(layer, Bidirectional):  # the halves, each as Keras serializes a layer
        config["layer"], config["backward_layer"] = (_layer_to_keras(layer.forward_layer),
                                                     _layer_to_keras(layer.backward_layer))
    if isinstance(layer, TimeDistributed):
        config["layer"] = _layer_to_keras(layer.layer)
    if isinstance(layer, RNN):
        config["cell"] = _layer_to_keras(layer.cell)
    if isinstance(layer, StackedRNNCells):
        config["cells"] = [_layer_to_keras(cell) for cell in layer.cells]
    return {"module": "keras.layers", "class_name": name, "config": config, "registered_name": None}


def _dtype_to_keras(dtype: Any) -> Any:
    """An input's dtype by Keras's name: text (numpy's object or str) is Keras's "string"."""
    return "string" if dtype is not None and np.dtype(dtype).kind in "OSU" else None if dtype is None else str(dtype)


def _value_to_keras(value: Any) -> Any:
    if isinstance(value, initializers.Initializer):
        return {"module": "keras.initializers", **initializers.serialize(value), "registered_name": None}
    if callable(value):  # an activation given as a function: Keras records its name
        named = [name for name, function in activations.KNOWN.items() if function is value]
        if not named:
            raise ValueError(f"the activation {value!r:.60} is not one of Keras's by name ({', '.join(activations.KNOWN)})")
        return named[0]
    if isinstance(value, tuple):
        return [_value_to_keras(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def _loss_to_keras(loss: Any) -> Any:
    """What Keras's compile_config holds for `loss`: a loss function's name as given to compile, or a
    built-in Loss class serialized; None for anything else (a loss of the user's own)."""
    if type(loss) is losses.LossFunctionWrapper:
        if not str(loss.fn.__module__).startswith("tinygrad_embed") and not loss.fn_kwargs:
            return keras_objects.function_to_keras(loss.fn)  # the user's function, by its (registered) name
        by_name = losses.KNOWN.get(loss.name) is loss.fn and not loss.fn_kwargs
        return loss.name if by_name and loss.reduction == "sum_over_batch_size" else None
    if not type(loss).__module__.startswith("tinygrad_embed"):
        return keras_objects.custom_entry(type(loss), loss.get_config())
    return losses.serialize(loss) if losses.CLASSES.get(type(loss).__name__) is type(loss) else None


def _metric_to_keras(metric: Any) -> Any:
    """A metric as compile_config holds it: a name, or the user's function or class as Keras's entry."""
    if isinstance(metric, str) or str(getattr(metric, "__module__", "")).startswith("tinygrad_embed"):
        return metric if isinstance(metric, str) else getattr(metric, "name", None) or metric.__name__
    if hasattr(metric, "get_config"):
        return keras_objects.custom_entry(type(metric), metric.get_config())
    return keras_objects.function_to_keras(metric)


def _compile_to_keras(model: Any) -> dict[str, Any] | None:
    optimizer, loss = model.optimizer, model.loss
    if optimizer is None:
        return None
    keras_loss = None if loss is None else _loss_to_keras(loss)
    if loss is not None and keras_loss is None:
        warnings.warn(f"the loss {loss!r:.60} is not a Keras loss by name: the .keras file is saved uncompiled",
                      stacklevel=4)
        return None
    return {"optimizer": {"module": "keras.optimizers", "class_name": type(optimizer).__name__,
                          "config": optimizer.get_config(), "registered_name": None},
            "loss": keras_loss, "loss_weights": None,
            "metrics": [_metric_to_keras(m) for m in model.metrics] or None if isinstance(model.metrics, list) else None,
            "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


def from_keras_config(config: dict[str, Any], custom_objects: dict[str, Any] | None = None,
                      safe_mode: bool = True) -> dict[str, Any]:
    """This project's model config (native.py) for Keras's config.json; ValueError for what it cannot hold.
    custom_objects: the user's classes by the names the file gives them (object_registration.py)."""
    lookup = keras_objects.Lookup(custom_objects, safe_mode)
    kind, inner = config["class_name"], config["config"]
    if kind == "Sequential":
        entries, shape, dtype = list(inner["layers"]), inner.get("build_input_shape"), "float32"
        if entries and entries[0]["class_name"] == "InputLayer":
            first = entries.pop(0)["config"]
            shape, dtype = first["batch_shape"], first.get("dtype", "float32")
        ours = {"class_name": "Sequential", "name": inner["name"], "input_shape": shape, "input_dtype": dtype,
                "layers": [_layer_from_keras(entry, lookup) for entry in entries]}
    elif kind in ("Functional", "Model"):
        ours = _functional_from_keras(inner, lookup)
    else:
        raise ValueError(f"unknown model class {kind!r}: a .keras file here holds a Sequential or a Functional model "
                         "(a subclassed model is Python code, which a file never runs)")
    return {**ours, "compile": _compile_from_keras(config.get("compile_config"), lookup)}


def _functional_from_keras(inner: dict[str, Any], lookup: Any) -> dict[str, Any]:
    masks = mask_ops(inner["layers"], _history)
    entries, layers, reads = [e for e in inner["layers"] if e["name"] not in masks], [], {}
    for entry in entries:  # each call: (whether its layer takes a list, the [layer, call, output] it reads)
        if is_op_entry(entry):
            ours, list_input, tensors = operation_from_keras(entry, _is_tensor)
            reads[(entry["name"], 0)] = (list_input, [_history(t) for t in tensors], {})
        else:
            ours = _layer_from_keras(entry, lookup)
            for number, node in enumerate(entry.get("inbound_nodes", [])):
                reads[(entry["name"], number)] = call_from_keras(entry, node, masks, _history, ours.get("class"))
        layers.append(ours)
    waiting = list(reads)
    done = {(entry["name"], 0) for entry in entries if entry["class_name"] == "InputLayer"}
    calls = []
    while waiting:  # Keras lists layers, not calls: order the calls so that each comes after those it reads
        ready = [(name, number) for name, number in waiting if (number == 0 or (name, number - 1) in done)
                 and all(tuple(h[:2]) in done for h in reads[(name, number)][1])]
        if not ready:
            raise ValueError(f"the layer calls of {[w[0] for w in waiting]} read tensors no call produces")
        for name, number in ready:
            list_input, histories, kwargs = reads[(name, number)]
            calls.append({"layer": name, "list_input": list_input, "inputs": histories, "kwargs": kwargs})
            done.add((name, number))
        waiting = [w for w in waiting if w not in done]
    single_input, single_output = isinstance(inner["input_layers"][0], str), isinstance(inner["output_layers"][0], str)
    # In input_layers and output_layers (not in the calls' arguments), Keras counts a nested functional model's
    # own graph as its call 0, so that its first call is 1 there
    functional = {e["name"] for e in entries if e["class_name"] in ("Functional", "Model")}
    inputs = [inner["input_layers"]] if single_input else inner["input_layers"]
    outputs = [inner["output_layers"]] if single_output else inner["output_layers"]
    inputs, outputs = ([[h[0], h[1] - (h[0] in functional), *h[2:]] for h in ends] for ends in (inputs, outputs))
    return {"class_name": "Functional", "name": inner["name"], "layers": layers, "calls": calls,
            "inputs": inputs, "outputs": outputs,
            "single_input": single_input, "single_output": single_output}


def _is_tensor(value: Any) -> bool:
    return isinstance(value, dict) and value.get("class_name") == "__keras_tensor__"


def _history(tensor: Any) -> list:
    """The [layer, call, output] that made a tensor of Keras's graph config."""
    if not isinstance(tensor, dict) or tensor.get("class_name") != "__keras_tensor__":
        raise ValueError(f"a layer's input must be a tensor of the graph, got {tensor!r:.80}")
    return list(tensor["config"]["keras_history"])


def _layer_from_keras(entry: dict[str, Any], lookup: Any, nested: bool = False) -> dict[str, Any]:
    name = entry["class_name"]
    if name in ("Sequential", "Functional", "Model") and str(entry.get("module") or "keras").startswith("keras"):
        try:
            inner = from_keras_config({**entry, "compile_config": None}, lookup.custom_objects, lookup.safe_mode)
        except KeyError as error:  # a model used as a layer whose config lacks what a model needs
            raise ValueError(f"layer {entry.get('name')!r} is a {name} whose config has no {error}") from None
        return {"class_name": "Sequential" if name == "Sequential" else "Model", "config": inner}
    custom = lookup.layer_class(entry)
    if custom is not None:  # the user's class: its own config, as its from_config takes it (dtype by name)
        config = {k: (v["config"]["name"] if k == "dtype" and isinstance(v, dict) else v)
                  for k, v in entry["config"].items()}
        return {"class_name": custom.__name__, "class": custom, "config": config}
    if not name in KERAS_LAYERS or entry.get("registered_name") not in (None, name):
        raise ValueError(f"unknown layer class {name!r} (registered as {entry.get('registered_name')!r}): a Keras file "
                         f"here may hold Keras's built-in layers {', '.join(KERAS_LAYERS)} and registered custom "
                         "layers")
    config = {}
    for key, value in entry["config"].items():
        if key == "zero_output_for_mask":  # Bidirectional forces it on its halves, as here; elsewhere only off
            _require_default(name, key, value, ANY if nested else False)
        elif key in KERAS_ONLY or key.endswith(("_regularizer", "_constraint")):
            _require_default(name, key, value, KERAS_ONLY.get(key))
        elif key == "dtype":
            config[key] = value["config"]["name"] if isinstance(value, dict) else value
        elif key in ("layer", "backward_layer", "cell") and isinstance(value, dict):
            config[key] = _layer_from_keras(value, lookup, nested=True)
        elif key in ("standardize", "split") and isinstance(value, dict):  # TextVectorization's: a function by name
            config[key] = lookup.find(value, f"{key} function of layer {entry['config'].get('name')!r}:")
            if config[key] is None:
                raise ValueError(f"the {key} function {value.get('config')!r} is not a function this project has")
        elif key == "cells" and isinstance(value, list):
            config[key] = [_layer_from_keras(cell, lookup, nested=True) for cell in value]
        elif isinstance(value, dict) and "class_name" in value:  # an initializer: only its class and arguments
            config[key] = {"class_name": value["class_name"],
                           "config": {k: v for k, v in value.get("config", {}).items() if v is not None}}
        else:
            config[key] = value
    return {"class_name": name, "config": config}


def _require_default(layer: str, key: str, value: Any, default: Any) -> None:
    if default is not ANY and value != default:
        raise ValueError(f"{layer} has {key}={value!r:.60}, which this project does not implement (only {default!r})")


def _custom_object(value: Any, lookup: Any, what: str) -> Any:
    """A loss or metric the user registered (or passed in custom_objects), built from its entry; else the value."""
    if not isinstance(value, dict) or str(value.get("module", "keras")).startswith("keras"):
        return value
    found = lookup.find(value, what)
    return found.from_config(value.get("config") or {}) if isinstance(found, type) else found


def _custom_loss_and_metrics(loss: Any, metrics: Any, lookup: Any) -> tuple[Any, Any, str | None]:
    """compile's loss and metrics with the user's objects found (else as they are), or the problem finding them."""
    try:
        loss = _custom_object(loss, lookup, "loss")
        metrics = [_custom_object(m, lookup, "metric") for m in metrics] if isinstance(metrics, list) else metrics
    except (ValueError, TypeError) as error:
        return loss, metrics, str(error)
    return loss, metrics, None


def _compile_from_keras(compile_config: Any, lookup: Any) -> dict[str, Any] | None:
    """Our compile settings, or None (with a warning) when Keras's cannot be matched exactly here."""
    if not compile_config:
        return None
    optimizer, loss, metrics = compile_config.get("optimizer"), compile_config.get("loss"), compile_config.get("metrics")
    loss, metrics, problem = _custom_loss_and_metrics(loss, metrics, lookup)
    if problem:
        pass  # said below
    elif not isinstance(optimizer, dict) or str(optimizer.get("class_name")).lower() not in optimizers.KNOWN:
        problem = f"optimizer {optimizer!r:.80} is not one of {', '.join(optimizers.KNOWN)}"
    elif not (isinstance(loss, str) and loss in losses.KNOWN or callable(loss)
              or isinstance(loss, dict) and loss.get("class_name") in losses.CLASSES):
        problem = f"loss {loss!r:.80} is not a loss known here by name"
    elif not all(isinstance(m, str) or callable(m) for m in metrics or []):
        problem = f"metrics {metrics!r:.80} are not names"
    else:
        cls = optimizers.KNOWN[optimizer["class_name"].lower()]
        accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "lr"}
        settings = {}
        for key, value in optimizer.get("config", {}).items():
            if key in accepted:
                settings[key] = value
            elif key not in OPTIMIZER_KERAS_ONLY or OPTIMIZER_KERAS_ONLY[key] not in (ANY, value):
                problem = f"the optimizer's {key}={value!r:.60} is not implemented here"
    if problem:
        warnings.warn(f"the model is loaded uncompiled: its {problem}", stacklevel=5)
        return None
    return {"optimizer": {"class_name": cls.__name__, "config": settings}, "loss": loss, "metrics": metrics}
