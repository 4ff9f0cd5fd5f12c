"""Keras 3's own files, both ways: the `.keras` archive (a zip of metadata.json, config.json and
model.weights.h5) and the weights-only `.weights.h5`, in Keras's layouts, so that real Keras opens what
is written here and this project opens what Keras wrote. Needs h5py (the `keras-files` extra).

Keras's layout of the weights: one HDF5 group per layer, named after its class in snake case and
numbered in the model's layer order (`layers/dense`, `layers/dense_1`, ...), holding `vars/0`, `vars/1`,
... in get_weights' order; a recurrent layer keeps them in its cell (`layers/lstm/cell/vars`), a
Bidirectional in its two halves (`layers/bidirectional/forward_layer/cell/vars`, then `backward_layer`).
The optimizer's state is `optimizer/vars`: the step count, the learning rate, then its slots.

A file is data, never code: layer classes are looked up among this project's built-in Keras layers by
name only (no module is imported, nothing is unpickled), and every array's shape is checked against the
architecture, and its stored bytes against its declared size, before anything is read.
"""
from __future__ import annotations

import datetime
import inspect
import io
import json
import os
import tempfile
import warnings
import zipfile
from typing import Any

import numpy as np

from .. import activations, initializers, losses, optimizers
from ..helpers import snake_case
from ..layers.base import Layer, initializers_skipped
from ..layers.bidirectional import Bidirectional
from ..layers.input_layer import InputLayer
from ..layers.recurrent import _Recurrent
from ..layers.symbolic import KerasTensor, flatten
from ..layers.time_distributed import TimeDistributed
from . import saving

EXTRA = "pip install 'tinygrad_embed[keras-files]'"
KERAS_VERSION = "3.0.0"  # the oldest Keras 3 writes and reads this layout
MAX_CONFIG_BYTES = 64 << 20  # a model's architecture is kilobytes; more is not a model file
MAX_EXPANSION, BOMB_FLOOR = 100, 64 << 20  # a member over 64 MB inflating more than 100-fold is a bomb, not weights


def _h5py() -> Any:
    try:
        import h5py
    except ImportError:
        raise ImportError(f"reading and writing Keras's .keras and .weights.h5 files needs h5py: {EXTRA}") from None
    return h5py


# ---- writing --------------------------------------------------------------------------------------
def save_keras(model: Any, filepath: str, include_optimizer: bool = True) -> None:
    """model.save("m.keras"): the archive real keras.models.load_model opens."""
    config = to_keras_config(model)
    weights = io.BytesIO()
    _write_h5(model, weights, include_optimizer)
    metadata = {"keras_version": KERAS_VERSION, "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    _write_atomically(filepath, lambda file: _zip(file, {"metadata.json": json.dumps(metadata),
                                                         "config.json": json.dumps(config),
                                                         "model.weights.h5": weights.getvalue()}))


def save_weights_h5(model: Any, filepath: str) -> None:
    """model.save_weights("m.weights.h5"): Keras's weights-only file (with the optimizer's state, as Keras)."""
    buffer = io.BytesIO()
    _write_h5(model, buffer, include_optimizer=True)
    _write_atomically(filepath, lambda file: file.write(buffer.getvalue()))


def _zip(file: Any, members: dict[str, Any]) -> None:
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)


def _write_atomically(filepath: str, write: Any) -> None:
    """A crash mid-write leaves the old file whole: write a temporary file, then rename it over."""
    path = os.fspath(filepath)
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _write_h5(model: Any, file: Any, include_optimizer: bool) -> None:
    if not model.built:
        raise ValueError(f"model {model.name!r} has no weights yet: build it (or call it on data) before saving")
    with _h5py().File(file, "w") as h5:
        h5.create_group("vars").attrs["name"] = model.name
        for path, name, weights in weight_groups(model):
            group = h5.require_group(path)
            group.attrs["name"] = name
            for index, weight in enumerate(weights):
                group[str(index)] = weight.data
        if include_optimizer and model.optimizer is not None and model.optimizer._slots:
            state = keras_optimizer_state(model.optimizer)
            if state is not None:
                group = h5.create_group("optimizer/vars")
                group.attrs["name"] = type(model.optimizer).__name__.lower()
                for index, array in enumerate(state):
                    group[str(index)] = array


def weight_groups(model: Any) -> list[tuple[str, str, list]]:
    """(h5 group path, the name Keras records on it, the weights it holds) for every layer, in Keras's order."""
    groups, used = [], {}
    for layer in model.layers:
        if isinstance(layer, InputLayer):
            continue
        base = snake_case(type(layer).__name__)
        used[base] = used.get(base, -1) + 1
        groups += _layer_groups(layer, f"layers/{base}" + (f"_{used[base]}" if used[base] else ""))
    return groups


def _layer_groups(layer: Layer, path: str) -> list[tuple[str, str, list]]:
    if hasattr(layer, "layers"):
        raise NotImplementedError(f"model {layer.name!r} is a layer of another model, which Keras's layout nests "
                                  "in a way this project does not write yet")
    if isinstance(layer, TimeDistributed):  # Keras keeps the wrapped layer's weights under "layer"
        return _layer_groups(layer.layer, f"{path}/layer")
    if isinstance(layer, Bidirectional):
        return (_layer_groups(layer.forward_layer, f"{path}/forward_layer")
                + _layer_groups(layer.backward_layer, f"{path}/backward_layer"))
    if isinstance(layer, _Recurrent):  # Keras's RNN layers keep their weights in their cell
        return [(f"{path}/cell/vars", f"{snake_case(type(layer).__name__)}_cell", layer.weights)]
    return [(f"{path}/vars", layer.name, layer.weights)] if layer.weights else []


# ---- the optimizer's state: Keras's order ---------------------------------------------------------
def _keras_slot_groups(optimizer: Any) -> list[tuple[str, ...]]:
    """Keras creates an optimizer's slots in groups, interleaved per variable within a group."""
    names = optimizer.slot_names
    if isinstance(optimizer, optimizers.Adam):
        return [("m", "v")] + ([("v_hat",)] if "v_hat" in names else [])
    return [(name,) for name in names]  # SGD, RMSprop, Adagrad: one slot per group


def keras_optimizer_state(optimizer: Any) -> list[np.ndarray] | None:
    """[iterations, learning_rate, slots...] as Keras stores them, or None for an optimizer Keras orders otherwise."""
    if type(optimizer).__name__.lower() not in optimizers.KNOWN:
        return None
    arrays = [np.array(optimizer.iterations, np.int64), np.array(optimizer.learning_rate, np.float32)]
    for group in _keras_slot_groups(optimizer):
        arrays += [slots[name] for slots in optimizer._slots for name in group]
    return arrays


def _optimizer_state_from_keras(optimizer: Any, arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
    state, position = {"iterations": arrays[0]}, 2  # arrays[1] is the learning rate, which the config holds
    for group in _keras_slot_groups(optimizer):
        for index in range(len(optimizer._slots)):
            for name in group:
                state[f"{index}/{name}"] = arrays[position]
                position += 1
    return state


# ---- reading --------------------------------------------------------------------------------------
def load_keras(filepath: str) -> Any:
    """keras.models.load_model's twin: the model, its weights and, when compiled, its optimizer's state."""
    h5py = _h5py()
    path = _existing(filepath)
    try:
        with zipfile.ZipFile(path) as archive:
            names = {info.filename: info for info in archive.infolist()}
            for member in ("config.json", "model.weights.h5"):
                if member not in names:
                    raise ValueError(f"{path!r} is not a Keras 3 archive: it has no {member!r} "
                                     f"(it holds {sorted(names)[:10]})")
                _check_member_size(path, names[member])
            if names["config.json"].file_size > MAX_CONFIG_BYTES:
                raise ValueError(f"{path!r}: its config.json declares {names['config.json'].file_size} bytes, "
                                 f"more than the {MAX_CONFIG_BYTES} a model's architecture can need")
            config = json.loads(archive.read("config.json"))
            model = _model_from_keras_config(path, config)
            # Read whole, so that zipfile checks its CRC: a damaged byte is caught here, before HDF5 parses it.
            with h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as h5:
                _read_h5(model, h5, path)
    except (zipfile.BadZipFile, EOFError, OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path!r} is not a readable Keras archive (truncated or corrupt): {error}") from None
    return model


def load_weights_h5(model: Any, filepath: str) -> None:
    """model.load_weights("m.weights.h5") for a file Keras (or save_weights here) wrote."""
    h5py = _h5py()
    path = _existing(filepath)
    if not model.built:
        try:
            model.build()
        except (TypeError, ValueError) as error:
            raise ValueError(f"model {model.name!r} has no weights yet to load into: {error}") from None
    try:
        with h5py.File(path, "r") as h5:
            _read_h5(model, h5, path)
    except OSError as error:
        raise ValueError(f"{path!r} is not a readable HDF5 weights file (truncated or corrupt): {error}") from None


def _existing(filepath: str) -> str:
    path = os.fspath(filepath)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no file at {path!r}")
    return path


def _check_member_size(path: str, info: zipfile.ZipInfo) -> None:
    if info.file_size > max(MAX_EXPANSION * info.compress_size, BOMB_FLOOR):
        raise ValueError(f"{path!r}: member {info.filename!r} declares {info.file_size} bytes from "
                         f"{info.compress_size} compressed: refused as a zip bomb")


def _model_from_keras_config(path: str, config: Any) -> Any:
    try:
        ours = from_keras_config(config)
        with initializers_skipped():  # weights start as untouched zeros: the file's arrays replace them
            return saving.model_from_config(ours)
    except (KeyError, TypeError, IndexError, AttributeError, ValueError, MemoryError) as error:
        raise ValueError(f"{path!r} has an architecture this project cannot rebuild: {error}") from None


def _read_h5(model: Any, h5: Any, path: str) -> None:
    """Every layer's arrays, checked against the architecture's shapes before any is read; then the optimizer's."""
    datasets = []
    for group_path, _, weights in weight_groups(model):
        found = _vars(h5, group_path, path)
        if len(found) != len(weights):
            raise ValueError(f"{path!r}: {group_path!r} holds {len(found)} arrays, but the model's layer there has "
                             f"{len(weights)} weights ({[w.shape for w in weights]})")
        for dataset, weight in zip(found, weights):
            if dataset.shape != weight.shape:
                raise ValueError(f"{path!r}: {dataset.name!r} has shape {dataset.shape}, but the model's weight "
                                 f"there has shape {weight.shape}")
        datasets += found
    arrays = {f"weight/{i:04d}": _read(dataset, path) for i, dataset in enumerate(datasets)}
    if model.optimizer is not None and "optimizer" in h5:
        arrays.update(_optimizer_arrays(model, h5, path))
    saving.restore(model, arrays, path)


def _optimizer_arrays(model: Any, h5: Any, path: str) -> dict[str, np.ndarray]:
    model.optimizer.build(model.trainable_weights)
    expected = keras_optimizer_state(model.optimizer)
    found = _vars(h5, "optimizer/vars", path)
    if expected is None or [d.shape for d in found] != [a.shape for a in expected]:
        warnings.warn(f"{path!r}: the optimizer's state does not fit {type(model.optimizer).__name__} on this "
                      "model's weights; the optimizer starts fresh", stacklevel=4)
        return {}
    state = _optimizer_state_from_keras(model.optimizer, [_read(d, path) for d in found])
    return {f"optimizer/{key}": value for key, value in state.items()}


def _vars(h5: Any, group_path: str, path: str) -> list:
    """The datasets 0, 1, ... of a vars group (none if the group is absent, as Keras reads it)."""
    h5py = _h5py()
    group = h5.get(group_path)
    if group is None:
        return []
    names = list(group.keys()) if isinstance(group, h5py.Group) else None
    if names is None or sorted(names, key=_as_index) != [str(i) for i in range(len(names))]:
        raise ValueError(f"{path!r}: {group_path!r} is not a group of arrays named 0, 1, ...: {(names or [])[:10]}")
    return [group[str(i)] for i in range(len(group))]


def _as_index(key: str) -> int:
    return int(key) if key.isdigit() else -1


def _read(dataset: Any, path: str) -> np.ndarray:
    """An array whose declared size the file really stores, in this file, as numbers; else ValueError."""
    h5py = _h5py()
    if not isinstance(dataset, h5py.Dataset) or dataset.dtype.kind not in "fiu":
        raise ValueError(f"{path!r}: {getattr(dataset, 'name', dataset)!r} is not an array of numbers")
    if dataset.external or dataset.is_virtual:  # their bytes live in other files, which a weights file must not name
        raise ValueError(f"{path!r}: {dataset.name!r} points at data outside the file; refused")
    declared = int(np.prod(dataset.shape, dtype=np.float64)) * dataset.dtype.itemsize
    if declared > dataset.id.get_storage_size():
        raise ValueError(f"{path!r}: {dataset.name!r} declares shape {dataset.shape} of {dataset.dtype} ({declared} "
                         f"bytes) but stores only {dataset.id.get_storage_size()} bytes")
    return dataset[()]



# ---- the architecture: Keras's config.json and this project's model config -----------------------
KERAS_LAYERS = ("InputLayer", "Embedding", "Dense", "LSTM", "GRU", "SimpleRNN", "Bidirectional", "Conv1D",
                "MaxPooling1D", "AveragePooling1D", "GlobalMaxPooling1D", "GlobalAveragePooling1D", "Flatten",
                "Activation", "Reshape", "Dropout", "SpatialDropout1D", "RepeatVector", "TimeDistributed", "Masking", "Add",
                "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot", "BatchNormalization",
                "LayerNormalization")
OURS_ONLY = ("fused", "input_length", "batch_input_shape")  # Keras 3 has no such argument (the InputLayer holds the shape)
NOT_IN_KERAS_CONFIG = {"SpatialDropout1D": ("trainable",)}  # Keras's constructor refuses it (the layer has no weights)
ANY = object()
# Keras's arguments this project does not have: accepted at the value that means "not used" only.
KERAS_ONLY = {"stateful": False, "unroll": ANY, "quantization_config": None, "sparse": False, "ragged": False,
              "optional": False, "lora_rank": None, "lora_alpha": None, "time_major": False, "synchronized": False,
              "renorm": False, "renorm_clipping": None, "renorm_momentum": ANY, "rms_scaling": False}
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
                 "config": {"batch_shape": shape, "dtype": str(model.input_dtype), "sparse": False, "ragged": False,
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
        return {"class_name": "__keras_tensor__", "config": {"shape": list(tensor.shape), "dtype": str(tensor.dtype),
                                                             "keras_history": history(tensor)}}

    def call(node: Any) -> dict[str, Any]:
        if node.args or any(isinstance(v, KerasTensor) for v in flatten(list(node.kwargs.values()))):
            raise ValueError(f"layer {node.layer.name!r} is called with extra tensors, which this writer does not map")
        if "initial_state" in inspect.signature(type(node.layer).call).parameters and isinstance(node.inputs, list):
            # the states travel in our graph as [sequence, *states]; Keras writes them as the initial_state keyword,
            # nested as the layer's states are (RNN of stacked cells)
            states = getattr(node.layer, "pack_states", list)([reference(t) for t in node.inputs[1:]])
            return {"args": [reference(node.inputs[0])], "kwargs": {**node.kwargs, "initial_state": states}}
        inputs = [reference(t) for t in node.inputs] if isinstance(node.inputs, (list, tuple)) else reference(node.inputs)
        return {"args": [inputs], "kwargs": dict(node.kwargs)}

    layers = [{**_layer_to_keras(layer), "name": layer.name,
               "inbound_nodes": [call(n) for n in model._nodes if n.layer is layer and not isinstance(layer, InputLayer)]}
              for layer in model.layers]
    inputs, outputs = [history(t) for t in model.inputs], [history(t) for t in model.outputs]
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": inputs[0] if model._single_input else inputs,
            "output_layers": outputs[0] if model._single_output else outputs}


def _layer_to_keras(layer: Layer) -> dict[str, Any]:
    name = type(layer).__name__
    if name not in KERAS_LAYERS:
        raise ValueError(f"layer {layer.name!r} is a {name}, which Keras does not have: a .keras file holds Keras's "
                         f"built-in layers ({', '.join(KERAS_LAYERS)}); save the weights (.weights.h5) instead")
    dropped = OURS_ONLY + NOT_IN_KERAS_CONFIG.get(name, ())
    config = {key: _value_to_keras(value) for key, value in layer.get_config().items() if key not in dropped}
    if isinstance(layer, Bidirectional):  # the halves, each as Keras serializes a layer
        config["layer"], config["backward_layer"] = (_layer_to_keras(layer.forward_layer),
                                                     _layer_to_keras(layer.backward_layer))
    if isinstance(layer, TimeDistributed):
        config["layer"] = _layer_to_keras(layer.layer)
    return {"module": "keras.layers", "class_name": name, "config": config, "registered_name": None}


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
        by_name = losses.KNOWN.get(loss.name) is loss.fn and not loss.fn_kwargs
        return loss.name if by_name and loss.reduction == "sum_over_batch_size" else None
    return losses.serialize(loss) if losses.CLASSES.get(type(loss).__name__) is type(loss) else None


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
            "loss": keras_loss, "loss_weights": None, "metrics": model.metrics or None,
            "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


def from_keras_config(config: dict[str, Any]) -> dict[str, Any]:
    """This project's model config (models/saving.py) for Keras's config.json; ValueError for what it cannot hold."""
    kind, inner = config["class_name"], config["config"]
    if kind == "Sequential":
        entries, shape, dtype = list(inner["layers"]), inner.get("build_input_shape"), "float32"
        if entries and entries[0]["class_name"] == "InputLayer":
            first = entries.pop(0)["config"]
            shape, dtype = first["batch_shape"], first.get("dtype", "float32")
        ours = {"class_name": "Sequential", "name": inner["name"], "input_shape": shape, "input_dtype": dtype,
                "layers": [_layer_from_keras(entry) for entry in entries]}
    elif kind in ("Functional", "Model"):
        ours = _functional_from_keras(inner)
    else:
        raise ValueError(f"unknown model class {kind!r}: a .keras file here holds a Sequential or a Functional model "
                         "(a subclassed model is Python code, which a file never runs)")
    return {**ours, "compile": _compile_from_keras(config.get("compile_config"))}


def _functional_from_keras(inner: dict[str, Any]) -> dict[str, Any]:
    masks = _zero_masks(inner["layers"])
    entries = [entry for entry in inner["layers"] if entry["name"] not in masks]
    waiting = [(entry["name"], number, node) for entry in entries for number, node in enumerate(entry.get("inbound_nodes", []))]
    done = {(entry["name"], 0) for entry in entries if entry["class_name"] == "InputLayer"}
    calls = []
    while waiting:  # Keras lists layers, not calls: order the calls so that each comes after those it reads
        ready = [(name, number, node) for name, number, node in waiting if (number == 0 or (name, number - 1) in done)
                 and all(tuple(h[:2]) in done for h in _node_inputs(node, masks)[1])]
        if not ready:
            raise ValueError(f"the layer calls of {[w[0] for w in waiting]} read tensors no call produces")
        for name, number, node in ready:
            list_input, histories = _node_inputs(node, masks)
            calls.append({"layer": name, "list_input": list_input, "inputs": histories, "kwargs": {}})
            done.add((name, number))
        waiting = [w for w in waiting if (w[0], w[1]) not in done]
    single_input, single_output = isinstance(inner["input_layers"][0], str), isinstance(inner["output_layers"][0], str)
    return {"class_name": "Functional", "name": inner["name"], "layers": [_layer_from_keras(e) for e in entries],
            "calls": calls, "inputs": [inner["input_layers"]] if single_input else inner["input_layers"],
            "outputs": [inner["output_layers"]] if single_output else inner["output_layers"],
            "single_input": single_input, "single_output": single_output}


def _zero_masks(entries: list[dict[str, Any]]) -> set[str]:
    """Keras 3 writes an Embedding(mask_zero=True)'s mask into a functional graph as an op, NotEqual(ids, 0),
    handed to later layers as mask=; here the Embedding hands its mask on by itself. The names of those ops
    (any other op is code, refused)."""
    embedded = [_history(node["args"][0]) for entry in entries if entry["class_name"] == "Embedding"
                and entry["config"].get("mask_zero") for node in entry.get("inbound_nodes", [])]
    masks = set()
    for entry in entries:
        if entry["class_name"] == "NotEqual":
            nodes = entry.get("inbound_nodes", [])
            args = nodes[0]["args"] if len(nodes) == 1 else []
            if len(args) != 2 or args[1] != 0 or _history(args[0]) not in embedded:
                raise ValueError(f"op {entry['name']!r} (NotEqual) is not the mask of an Embedding(mask_zero=True): "
                                 "ops in a graph are code this project does not run")
            masks.add(entry["name"])
    return masks


def _history(tensor: Any) -> list:
    """The [layer, call, output] that made a tensor of Keras's graph config."""
    if not isinstance(tensor, dict) or tensor.get("class_name") != "__keras_tensor__":
        raise ValueError(f"a layer's input must be a tensor of the graph, got {tensor!r:.80}")
    return list(tensor["config"]["keras_history"])


def _node_inputs(node: dict[str, Any], masks: set[str]) -> tuple[bool, list[list]]:
    """(whether the layer takes a list, the [layer, call, output] of each tensor it reads)."""
    args, kwargs = node["args"], node.get("kwargs", {})
    extra = [k for k, v in kwargs.items() if k not in ("training", "initial_state")
             and not (k == "mask" and (v is None or _history(v)[0] in masks))]
    if len(args) != 1 or extra:
        raise ValueError(f"a layer call with arguments {extra or len(args)} besides its input is not supported")
    if kwargs.get("initial_state") is not None:  # a recurrent layer's states join its input, [sequence, *states]
        return True, [_history(args[0])] + [_history(t) for t in flatten(kwargs["initial_state"])]
    return isinstance(args[0], list), [_history(t) for t in (args[0] if isinstance(args[0], list) else [args[0]])]


def _layer_from_keras(entry: dict[str, Any], nested: bool = False) -> dict[str, Any]:
    name = entry["class_name"]
    if name not in KERAS_LAYERS or entry.get("registered_name") not in (None, name):
        raise ValueError(f"unknown layer class {name!r} (registered as {entry.get('registered_name')!r}): a Keras file "
                         f"here may hold Keras's built-in layers {', '.join(KERAS_LAYERS)}; custom objects and "
                         "Lambda layers are code, which a file never runs")
    config = {}
    for key, value in entry["config"].items():
        if key == "zero_output_for_mask":  # Bidirectional forces it on its halves, as here; elsewhere only off
            _require_default(name, key, value, ANY if nested else False)
        elif key in KERAS_ONLY or key.endswith(("_regularizer", "_constraint")):
            _require_default(name, key, value, KERAS_ONLY.get(key))
        elif key == "dtype":
            config[key] = value["config"]["name"] if isinstance(value, dict) else value
        elif key in ("layer", "backward_layer") and isinstance(value, dict):
            config[key] = _layer_from_keras(value, nested=True)
        elif isinstance(value, dict) and "class_name" in value:  # an initializer: only its class and arguments
            config[key] = {"class_name": value["class_name"],
                           "config": {k: v for k, v in value.get("config", {}).items() if v is not None}}
        else:
            config[key] = value
    return {"class_name": name, "config": config}


def _require_default(layer: str, key: str, value: Any, default: Any) -> None:
    if default is not ANY and value != default:
        raise ValueError(f"{layer} has {key}={value!r:.60}, which this project does not implement (only {default!r})")


def _compile_from_keras(compile_config: Any) -> dict[str, Any] | None:
    """Our compile settings, or None (with a warning) when Keras's cannot be matched exactly here."""
    if not compile_config:
        return None
    optimizer, loss, metrics = compile_config.get("optimizer"), compile_config.get("loss"), compile_config.get("metrics")
    problem = None
    if not isinstance(optimizer, dict) or str(optimizer.get("class_name")).lower() not in optimizers.KNOWN:
        problem = f"optimizer {optimizer!r:.80} is not one of {', '.join(optimizers.KNOWN)}"
    elif not (isinstance(loss, str) and loss in losses.KNOWN
              or isinstance(loss, dict) and loss.get("class_name") in losses.CLASSES):
        problem = f"loss {loss!r:.80} is not a loss known here by name"
    elif not all(isinstance(m, str) for m in metrics or []):
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
