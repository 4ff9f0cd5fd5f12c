"""Keras's legacy HDF5 files (`model.save("m.h5")`, the format of the Keras 2 years, which Keras 3 still
reads and writes for names ending .h5 or .hdf5), both ways. Needs h5py (the `keras-files` extra).

The layout, as keras/src/legacy/saving/legacy_h5_format.py writes it:
    attrs       keras_version, backend, model_config (the architecture as JSON: {"class_name", "config"}),
                training_config (compile's settings, the optimizer as "optimizer_config"; compiled models only)
    model_weights/          attrs layer_names (every layer of model.layers, in order), keras_version, backend
        <layer name>/       attrs weight_names; a dataset per name (names hold "/", so they nest in groups),
                            in Keras's legacy order: the trainable weights, then the others
        top_level_model_weights/  weights of the model itself (none here)
    optimizer_weights/      attrs weight_names; the datasets in the optimizer's order (Keras 3: the step
                            count, the learning rate, then the slots, as keras_files.py orders them; tf.keras 2:
                            "Adam/iter:0", "Adam/<weight>/m:0", ... or, from 2.11, "iteration:0",
                            "Adam/m/<weight>:0", ...: matched by name, see KERAS2_SLOTS)
A weights-only file (load_weights of any .h5) is model_weights' content at the root. Layers are matched by
order, not name, among those that have weights, as Keras does. Keras 2's configs (Keras 2.x and tf.keras
2.x wrote them) are brought to Keras 3's form first (upgrade_config), then translated by keras_config.py.

A file is data: only links inside the file are followed (soft and external links refused), every dataset is
read through keras_files._read (numbers only, no external storage, its bytes really stored), shapes are
compared with the architecture's before anything is read, and the model in memory changes only once
everything fits. h5py's own errors become a ValueError naming the file.
"""
from __future__ import annotations

import contextlib
import io
import json
import warnings
from typing import Any, Iterator

import numpy as np

from ..layers.base import Layer
from . import keras_files, native
from .keras_config import to_keras_config

BACKEND = "tinygrad_embed"  # Keras records its backend; Keras 2 converted weights only for "theano"
HEADER_LIMIT = 64512  # an HDF5 attribute larger than this does not fit an object header: Keras splits lists
MAX_DEPTH = 64  # a model's config nests a few levels (model, layer, wrapped layer, initializer); more is not a model


# ---- writing --------------------------------------------------------------------------------------
def save_model_h5(model: Any, filepath: str, include_optimizer: bool = True) -> None:
    """model.save("m.h5"): architecture, weights and, optionally, the optimizer's state, as Keras 3 writes them."""
    config = to_keras_config(model)  # refuses what Keras cannot rebuild before anything is written
    compiled = config.pop("compile_config")
    model_config = {"class_name": config["class_name"], "config": _legacy_entries(config["config"])}

    def write(h5: Any) -> None:
        h5.attrs.update({"keras_version": keras_files.KERAS_VERSION, "backend": BACKEND,
                         "model_config": json.dumps(model_config)})
        if include_optimizer and compiled:
            training = {key: value for key, value in compiled.items() if key != "optimizer"}
            optimizer = compiled["optimizer"]
            training["optimizer_config"] = {"class_name": optimizer["class_name"], "config": optimizer["config"]}
            h5.attrs["training_config"] = json.dumps(training)
        _write_weights(h5.create_group("model_weights"), model)
        if include_optimizer:
            _write_optimizer(h5, model)
    _write_file(filepath, write)


def save_weights_h5(model: Any, filepath: str) -> None:
    """model.save_weights("m.h5"): the weights alone, in the legacy layout Keras 2 wrote (Keras 3 reads it)."""
    _write_file(filepath, lambda h5: _write_weights(h5, model))


def _write_file(filepath: str, write: Any) -> None:
    buffer = io.BytesIO()
    with keras_files._h5py().File(buffer, "w") as h5:
        write(h5)
    keras_files._write_atomically(filepath, lambda file: file.write(buffer.getvalue()))


def _legacy_entries(inner: dict[str, Any]) -> dict[str, Any]:
    """Keras 3's legacy writer records each layer as {"class_name", "config", ...}: no "module", "registered_name"."""
    return {**inner, "layers": [{k: v for k, v in entry.items() if k not in ("module", "registered_name")}
                                for entry in inner["layers"]]}


def _write_weights(group: Any, model: Any) -> None:
    if not model.built:
        raise ValueError(f"model {model.name!r} has no weights yet: build it (or call it on data) before saving")
    _write_names(group, "layer_names", [layer.name for layer in model.layers])
    group.attrs.update({"backend": BACKEND, "keras_version": keras_files.KERAS_VERSION})
    for layer in sorted(model.layers, key=lambda layer: layer.name):  # sorted, as Keras: no name is a prefix mid-way
        weights = legacy_weights(layer)
        names = [f"{model.name}/{layer.name}/{layer._describe(w)}" for w in weights]
        if len(set(names)) < len(names):  # a dataset name must be unique in its group
            names = [f"{name}_{i}" for i, name in enumerate(names)]
        _write_datasets(group.create_group(layer.name), names, [w.data for w in weights])
    _write_datasets(group.create_group("top_level_model_weights"), [], [])


def _write_optimizer(h5: Any, model: Any) -> None:
    optimizer = model.optimizer
    state = keras_files.keras_optimizer_state(optimizer) if optimizer is not None and optimizer._slots else None
    if state is None:
        return  # no slots yet (or an optimizer Keras orders otherwise): Keras starts such an optimizer fresh
    prefix = type(optimizer).__name__.lower()
    names = [f"{prefix}/iteration", f"{prefix}/learning_rate"] + [f"{prefix}/slot_{i}" for i in range(len(state) - 2)]
    _write_datasets(h5.create_group("optimizer_weights"), names, state)


def _write_datasets(group: Any, names: list[str], arrays: list[np.ndarray]) -> None:
    _write_names(group, "weight_names", names)
    for name, array in zip(names, arrays):
        group.create_dataset(name, data=array)


def _write_names(group: Any, attribute: str, names: list[str]) -> None:
    """A list of names as an attribute, split into name0, name1, ... when it outgrows an object header."""
    data = np.array([n.encode("utf8") for n in names]) if names else np.array([], dtype="S1")
    chunks = 1
    while any(part.nbytes > HEADER_LIMIT for part in np.array_split(data, chunks)):
        chunks += 1
    if chunks == 1:
        group.attrs[attribute] = data
    else:
        for number, part in enumerate(np.array_split(data, chunks)):
            group.attrs[f"{attribute}{number}"] = part


def legacy_weights(layer: Layer) -> list:
    """Keras's legacy order of a layer's weights: the trainable ones, then the others."""
    return layer.trainable_weights + layer.non_trainable_weights


# ---- Keras 2's configs, in Keras 3's form ---------------------------------------------------------
def upgrade_config(config: Any) -> dict[str, Any]:
    """A model_config as Keras 2 (or tf.keras 2) wrote it, in Keras 3's form; a Keras 3 config is unchanged."""
    if not isinstance(config, dict) or not isinstance(config.get("config"), (dict, list)):
        raise ValueError(f'its model_config is not {{"class_name": ..., "config": {{...}}}}: {json.dumps(config):.100}')
    inner = config["config"]
    if isinstance(inner, list):  # Keras 2.1 and before: a Sequential's config was its list of layers
        inner = {"name": "sequential", "layers": inner}
    inner = {**inner, "layers": [_upgrade_layer(entry) for entry in inner.get("layers", [])]}
    for key in ("input_layers", "output_layers"):  # Keras 2 wrote [[name, call, output]] for a single one
        ends = inner.get(key)
        if isinstance(ends, list) and len(ends) == 1 and isinstance(ends[0], list):
            inner[key] = ends[0]
    return {"class_name": config.get("class_name"), "config": inner}


def _upgrade_layer(entry: Any) -> Any:
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        return entry  # keras_config.py says what is wrong with it
    config = dict(entry["config"])
    if entry.get("class_name") == "InputLayer" and "batch_input_shape" in config:
        config["batch_shape"] = config.pop("batch_input_shape")
    if isinstance(config.get("axis"), list) and len(config["axis"]) == 1:  # as Keras 3 reads it
        config["axis"] = config["axis"][0]
    config.pop("implementation", None)  # Keras 2's choice among kernels for the same recurrence
    for key in ("virtual_batch_size", "adjustment"):  # BatchNormalization's, unused at None
        if key in config and config[key] is None:
            del config[key]
    for key in ("layer", "backward_layer"):  # a wrapper's layer
        if key in config:
            config[key] = _upgrade_layer(config[key])
    upgraded = {**entry, "config": config}
    if isinstance(entry.get("inbound_nodes"), list):
        upgraded["inbound_nodes"] = [_upgrade_node(node) for node in entry["inbound_nodes"]]
    return upgraded


def _upgrade_node(node: Any) -> Any:
    """Keras 2's call [[layer, call, output, kwargs], ...] as Keras 3's {"args", "kwargs"} (a list for several)."""
    if not isinstance(node, list) or not node or not all(isinstance(t, list) and len(t) in (3, 4) for t in node):
        return node
    tensors = [{"class_name": "__keras_tensor__", "config": {"keras_history": list(t[:3])}} for t in node]
    return {"args": [tensors[0] if len(tensors) == 1 else tensors], "kwargs": node[-1][3] if len(node[-1]) == 4 else {}}


def upgrade_training(training: Any) -> Any:
    """The legacy training_config as keras_config.py's compile_config, Keras 2's names brought up to date."""
    if not isinstance(training, dict):
        return training
    optimizer = training.get("optimizer_config")
    if isinstance(optimizer, dict) and isinstance(optimizer.get("config"), dict):
        settings = dict(optimizer["config"])
        if str(optimizer.get("class_name")).startswith("Custom>"):  # tf.keras 2.11 to 2.15 named its own so
            optimizer = {**optimizer, "class_name": optimizer["class_name"][len("Custom>"):]}
        if "lr" in settings:  # Keras 2.2's name
            settings["learning_rate"] = settings.pop("lr")
        for key, unused in (("decay", 0), ("epsilon", None), ("jit_compile", settings.get("jit_compile")),
                            ("is_legacy_optimizer", settings.get("is_legacy_optimizer"))):
            if key in settings and settings[key] == unused:
                del settings[key]
        optimizer = {**optimizer, "config": settings}
    metrics = training.get("metrics")
    if isinstance(metrics, list) and len(metrics) == 1 and isinstance(metrics[0], list):
        metrics = metrics[0]  # tf.keras 2 wrote one list per output
    if isinstance(metrics, list):
        metrics = [m["config"].get("name") if isinstance(m, dict) and m.get("class_name") == "MeanMetricWrapper"
                   and isinstance(m.get("config"), dict) else m for m in metrics]
    loss = training.get("loss")
    if isinstance(loss, dict) and isinstance(loss.get("config"), dict) and loss["config"].get("reduction") == "auto":
        loss = {**loss, "config": {**loss["config"], "reduction": "sum_over_batch_size"}}  # tf.keras 2's default
    rest = {key: value for key, value in training.items() if key != "optimizer_config"}  # loss_weights, ...
    return {**rest, "optimizer": optimizer, "loss": loss, "metrics": metrics}


# ---- reading --------------------------------------------------------------------------------------
def load_model_h5(filepath: str, compile: bool = True) -> Any:  # noqa: A002 (Keras's name)
    """load_model("m.h5"): the model Keras (3, or 2) or save_model_h5 wrote, compiled with its optimizer's state."""
    path = keras_files._existing(filepath)
    with _opened(path) as h5:
        config = _json_attribute(h5, "model_config", path)
        if config is None:
            raise ValueError(f"{path!r} holds no model_config: a weights-only file (build the model, then call "
                             "load_weights) or not a Keras model file")
        training = _json_attribute(h5, "training_config", path) if compile else None
        try:
            keras_config = {**upgrade_config(config), "compile_config": upgrade_training(training)}
        except ValueError as error:
            raise ValueError(f"{path!r}: {error}") from None
        model = keras_files._model_from_keras_config(path, keras_config)
        arrays, names = _weight_arrays(model, _child(h5, "model_weights", path), path)
        if model.optimizer is not None and _has(h5, "optimizer_weights"):
            arrays.update(_optimizer_arrays(model, _child(h5, "optimizer_weights", path), path, names))
        native.restore(model, arrays, path)
    return model


def load_weights_h5(model: Any, filepath: str) -> None:
    """load_weights("m.h5"): a weights-only file, or a whole model file's weights, into the model (as Keras 3)."""
    path = keras_files._existing(filepath)
    with _opened(path) as h5:
        has_names = any(name.startswith("layer_names") for name in h5.attrs)
        group = _child(h5, "model_weights", path) if not has_names and _has(h5, "model_weights") else h5
        arrays, _ = _weight_arrays(model, group, path)
    native.set_weight_arrays(model, arrays, path)


@contextlib.contextmanager
def _opened(path: str) -> Iterator[Any]:
    """The file, open to read; h5py's errors (and those of a malformed layout) as a ValueError naming it."""
    try:
        with keras_files._h5py().File(path, "r") as h5:
            yield h5
    except (OSError, KeyError, RuntimeError, TypeError, AttributeError, IndexError, UnicodeDecodeError,
            RecursionError, ValueError) as error:
        if isinstance(error, ValueError) and repr(path) in str(error):
            raise  # this module's own, which say what is wrong and where
        raise ValueError(f"{path!r} is not a readable Keras HDF5 file (corrupt, truncated or not in Keras's "
                         f"layout): {type(error).__name__}: {error}") from None


def _has(group: Any, name: str) -> bool:
    return group.get(name, getlink=True) is not None  # the link itself: nothing is followed


def _child(group: Any, name: str, path: str) -> Any:
    """group[name], every step of the name a link inside this file: a soft or external link is refused."""
    h5py, node = keras_files._h5py(), group
    for part in name.split("/"):
        link = node.get(part, getlink=True) if isinstance(node, h5py.Group) and part not in ("", ".") else None
        if link is None:
            raise ValueError(f"{path!r}: {node.name!r} has no member {part!r} (looking for {name!r})")
        if not isinstance(link, h5py.HardLink):
            raise ValueError(f"{path!r}: {node.name.rstrip('/')}/{part} is an HDF5 {type(link).__name__}, which could "
                             "open another file: a model file may only refer to its own contents; refused")
        node = node[part]
    return node


def _dataset(group: Any, name: str, path: str) -> Any:
    node = _child(group, name, path)
    if not isinstance(node, keras_files._h5py().Dataset):
        raise ValueError(f"{path!r}: {node.name!r} is not an array (a {type(node).__name__})")
    return node


def _json_attribute(h5: Any, name: str, path: str) -> Any:
    """A JSON attribute (model_config, training_config), or None when absent; ValueError if it is not JSON."""
    if name not in h5.attrs:
        return None
    if h5.attrs.get_id(name).get_storage_size() > keras_files.MAX_CONFIG_BYTES:
        raise ValueError(f"{path!r}: its {name} is larger than the {keras_files.MAX_CONFIG_BYTES} bytes a model's "
                         "architecture can need")
    text = h5.attrs[name]
    text = text.decode("utf8") if isinstance(text, bytes) else text
    if not isinstance(text, str):
        raise ValueError(f"{path!r}: its {name} is {type(text).__name__} {text!r:.60}, not JSON text")
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"{path!r}: its {name} is not JSON ({type(error).__name__}: {error})") from None
    if _depth(value) > MAX_DEPTH:
        raise ValueError(f"{path!r}: its {name} nests more than {MAX_DEPTH} levels deep, which no model's needs")
    return value


def _depth(value: Any) -> int:
    """How deeply lists and dicts nest in value, counted without recursion (and stopping past MAX_DEPTH)."""
    deepest, waiting = 0, [(value, 1)]
    while waiting and deepest <= MAX_DEPTH:
        item, depth = waiting.pop()
        deepest = max(deepest, depth)
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        waiting.extend((child, depth + 1) for child in children)
    return deepest


def _names(group: Any, attribute: str, path: str) -> list[str]:
    """A list of names kept as an attribute, whole or split into attribute0, attribute1, ... (absent: [])."""
    chunks = [attribute] if attribute in group.attrs else []
    while not (attribute in group.attrs) and f"{attribute}{len(chunks)}" in group.attrs:
        chunks.append(f"{attribute}{len(chunks)}")
    names = []
    for chunk in chunks:
        for name in np.asarray(group.attrs[chunk]).reshape(-1):
            name = name.decode("utf8") if isinstance(name, bytes) else name
            if not isinstance(name, str):
                raise ValueError(f"{path!r}: {group.name!r}'s {attribute} holds {name!r:.40}, which is not a name")
            names.append(name)
    return names


def _weight_arrays(model: Any, group: Any, path: str) -> tuple[dict[str, np.ndarray], dict[int, str]]:
    """The weights stored in a model_weights group, matched to the model's layers in order and checked against
    their shapes before any is read, as native.py's weight/0000, weight/0001, ... in get_weights' order; and
    the name the file gives each weight (by id), which tf.keras 2's optimizer state is keyed by."""
    stored = []  # (name in the file, [(weight name, dataset)]) of every layer that stored weights, in order
    for name in _names(group, "layer_names", path):
        layer_group = _child(group, name, path)
        datasets = [(weight, _dataset(layer_group, weight, path)) for weight in _names(layer_group, "weight_names", path)]
        stored += [(name, datasets)] if datasets else []
    layers = [layer for layer in model.layers if legacy_weights(layer)]
    if len(stored) != len(layers):
        raise ValueError(f"{path!r} holds the weights of {len(stored)} layers ({', '.join(n for n, _ in stored)}), "
                         f"but model {model.name!r} has {len(layers)} with weights ({', '.join(l.name for l in layers)})")
    if _has(group, "top_level_model_weights") and _names(_child(group, "top_level_model_weights", path), "weight_names", path):
        raise ValueError(f"{path!r} holds weights of the model itself (top_level_model_weights), which models here do not have")
    pairs, names = [], {}
    for layer, (name, datasets) in zip(layers, stored):
        weights = legacy_weights(layer)
        if len(datasets) != len(weights):
            raise ValueError(f"{path!r}: layer {name!r} there stores {len(datasets)} arrays, but layer {layer.name!r} "
                             f"of the model has {len(weights)} weights ({[w.shape for w in weights]})")
        for weight, (weight_name, dataset) in zip(weights, datasets):
            if dataset.shape != weight.shape:
                raise ValueError(f"{path!r}: {dataset.name!r} has shape {dataset.shape}, but weight "
                                 f"{layer._describe(weight)!r} of layer {layer.name!r} has shape {weight.shape}")
            pairs.append((weight, dataset))
            names[id(weight)] = weight_name
    read = {id(weight): keras_files._read(dataset, path) for weight, dataset in pairs}
    return {f"weight/{i:04d}": read[id(weight)] for i, weight in enumerate(model.weights)}, names


def _optimizer_arrays(model: Any, group: Any, path: str, names: dict[int, str]) -> dict[str, np.ndarray]:
    """The optimizer's state as native.py names it: in Keras 3's order, or as tf.keras 2 named it; when it fits
    neither, a warning and a fresh optimizer, as Keras 3 does."""
    optimizer = model.optimizer
    optimizer.build(model.trainable_weights)
    expected = keras_files.keras_optimizer_state(optimizer)
    stored = _names(group, "weight_names", path)
    found = [_dataset(group, name, path) for name in stored]
    if expected is not None and [d.shape for d in found] == [a.shape for a in expected]:
        state = keras_files._optimizer_state_from_keras(optimizer, [keras_files._read(d, path) for d in found])
        return {f"optimizer/{key}": value for key, value in state.items()}
    by_name = {name.split("/", 1)[-1]: dataset for name, dataset in zip(stored, found)}  # without "Adam/"
    wanted = _keras2_optimizer_names(optimizer, [names.get(id(w), "") for w in model.trainable_weights], by_name)
    slots = {f"{i}/{slot}": array.shape for i, arrays in enumerate(optimizer._slots) for slot, array in arrays.items()}
    if wanted and all(by_name.get(name) is not None and by_name[name].shape == slots.get(key, ())
                      for key, name in wanted.items()):
        return {f"optimizer/{key}": keras_files._read(by_name[name], path) for key, name in wanted.items()}
    warnings.warn(f"{path!r}: the optimizer's state ({len(found)} arrays) does not fit {type(optimizer).__name__} "
                  "on this model's weights; the optimizer starts fresh", stacklevel=4)
    return {}


KERAS2_SLOTS = {  # this project's slot names -> tf.keras 2's, in its optimizers before 2.11 and in its own after
    "Adam": ({"m": "m", "v": "v", "v_hat": "vhat"}, {"m": "m", "v": "v", "v_hat": "vhat"}),
    "SGD": ({"velocity": "momentum"}, {"velocity": "m"}),
    "RMSprop": ({"velocity": "rms", "momentum": "momentum", "average_gradient": "mg"},
                {"velocity": "velocity", "momentum": "momentum", "average_gradient": "average_gradient"}),
    "Adagrad": ({"accumulator": "accumulator"}, {"accumulator": "accumulator"})}


def _keras2_optimizer_names(optimizer: Any, variables: list[str], stored: Any) -> dict[str, str]:
    """native.py's state keys -> the names tf.keras 2 gave them, without the optimizer's prefix: "iter:0" and
    "<weight>/m:0" (its optimizers before 2.11), or "iteration:0" and "m/<weight>:0" (after); else {}."""
    tables = KERAS2_SLOTS.get(type(optimizer).__name__)
    if tables is None or not all(v.endswith(":0") for v in variables):
        return {}
    before = "iter:0" in stored
    slots = tables[0] if before else tables[1]
    return {"iterations": "iter:0" if before else "iteration:0",
            **{f"{i}/{ours}": f"{variable[:-2]}/{slots[ours]}:0" if before else f"{slots[ours]}/{variable}"
               for i, variable in enumerate(variables) for ours in optimizer.slot_names}}
