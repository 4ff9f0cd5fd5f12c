"""Keras 3's own files, both ways: the `.keras` archive (a zip of metadata.json, config.json and
model.weights.h5) and the weights-only `.weights.h5`, in Keras's layouts, so that real Keras opens what
is written here and this project opens what Keras wrote. Needs h5py (the `keras-files` extra). The
architecture in config.json is translated by keras_config.py; this module holds the weights' layout.

Keras's layout of the weights: one HDF5 group per layer, named after its class in snake case and
numbered in the model's layer order (`layers/dense`, `layers/dense_1`, ...), holding `vars/0`, `vars/1`,
... in get_weights' order; a recurrent layer keeps them in its cell (`layers/lstm/cell/vars`), a
Bidirectional in its two halves (`layers/bidirectional/forward_layer/cell/vars`, then `backward_layer`).
The optimizer's state is `optimizer/vars`: the step count, the learning rate, then its slots.

A file is data, never code: layer classes are looked up among this project's built-in Keras layers by
name only (no module is imported, nothing is unpickled), and every array's shape is checked against the
architecture, and its stored bytes against its declared size, before anything is read. The zip is
checked as archive.py checks its own (member names, encryption, methods, a bound on inflation), HDF5
paths are followed through hard links only (a soft or external link could point into another file),
and whatever h5py raises on a damaged file (KeyError, RuntimeError, OSError) becomes a ValueError
naming the file. A failed load_weights leaves the model as it was.
"""
from __future__ import annotations

import contextlib
import copy
import datetime
import io
import json
import warnings
import zipfile
from typing import Any, Iterator

import numpy as np

from .. import optimizers
from ..helpers import snake_case
from ..layers.base import Layer, initializers_skipped
from ..layers.bidirectional import Bidirectional
from ..layers.input_layer import InputLayer
from ..layers.multi_head_attention import MultiHeadAttention
from ..layers.recurrent import _Recurrent
from ..layers.rnn import RNN, StackedRNNCells
from ..layers.time_distributed import TimeDistributed
from . import archive as npz
from . import keras_assets, native
from .archive import write_atomically
from .keras_config import from_keras_config, to_keras_config

EXTRA = "pip install 'tinygrad_embed[keras-files]'"
KERAS_VERSION = "3.0.0"  # the oldest Keras 3 writes and reads this layout
MAX_CONFIG_BYTES = 64 << 20  # a model's architecture is kilobytes; more is not a model file
MAX_EXPANSION, BOMB_FLOOR = npz.MAX_EXPANSION, npz.BOMB_FLOOR  # a member over 64 MB inflating 100-fold is a bomb


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
    members = {"metadata.json": json.dumps(metadata), "config.json": json.dumps(config),
               "model.weights.h5": weights.getvalue(), **keras_assets.assets(layer_paths(model))}
    _write_atomically(filepath, lambda file: _zip(file, members))


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
    """A crash mid-write leaves the old file whole, and the next save no temporary file (archive.py's writer)."""
    write_atomically(filepath, write)


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
        for path, name, arrays in keras_assets.variables(layer_paths(model)):  # TextVectorization's, by key
            group = h5.require_group(path)
            group.attrs["name"] = name
            for key, array in arrays.items():
                group[key] = array
        if include_optimizer and model.optimizer is not None and model.optimizer._slots:
            state = keras_optimizer_state(model.optimizer)
            if state is not None:
                group = h5.create_group("optimizer/vars")
                group.attrs["name"] = type(model.optimizer).__name__.lower()
                for index, array in enumerate(state):
                    group[str(index)] = array


def weight_groups(model: Any) -> list[tuple[str, str, list]]:
    """(h5 group path, the name Keras records on it, the weights it holds) for every layer, in Keras's order."""
    return [group for layer, path in layer_paths(model) for group in _layer_groups(layer, path)]


def layer_paths(model: Any) -> list[tuple[Layer, str]]:
    """Each layer but the inputs with its place in Keras's layout: `layers/` and its class in snake case,
    numbered among the layers of its class (`layers/dense`, `layers/dense_1`, ...)."""
    paths, used = [], {}
    for layer in model.layers:
        if isinstance(layer, InputLayer):
            continue
        base = "functional" if type(layer).__name__ == "Model" else snake_case(type(layer).__name__)  # Keras's class
        used[base] = used.get(base, -1) + 1
        paths.append((layer, f"layers/{base}" + (f"_{used[base]}" if used[base] else "")))
    return paths


def _layer_groups(layer: Layer, path: str) -> list[tuple[str, str, list]]:
    if hasattr(layer, "layers"):  # a model used as a layer: its layers under its own layers/, as Keras nests them
        return [group for inner, where in layer_paths(layer) for group in _layer_groups(inner, f"{path}/{where}")]
    if isinstance(layer, TimeDistributed):  # Keras keeps the wrapped layer's weights under "layer"
        return _layer_groups(layer.layer, f"{path}/layer")
    if isinstance(layer, Bidirectional):
        return (_layer_groups(layer.forward_layer, f"{path}/forward_layer")
                + _layer_groups(layer.backward_layer, f"{path}/backward_layer"))
    if isinstance(layer, MultiHeadAttention):  # Keras keeps each projection in a group of its own
        return [(f"{path}/{name}/vars", dense.name, dense.weights) for name, dense in layer.keras_sublayers()]
    if not type(layer).__module__.startswith("tinygrad_embed."):
        return _custom_groups(layer, path)  # the user's layers: Keras's walk
    if isinstance(layer, _Recurrent):  # Keras's RNN layers keep their weights in their cell
        return [(f"{path}/cell/vars", f"{snake_case(type(layer).__name__)}_cell", layer.weights)]
    if isinstance(layer, RNN):
        return _layer_groups(layer.cell, f"{path}/cell")
    if isinstance(layer, StackedRNNCells):  # each cell by its class, numbered as Keras numbers a list's layers
        groups, used = [], {}
        for cell in layer.cells:
            base = snake_case(type(cell).__name__)
            used[base] = used.get(base, -1) + 1
            groups += _layer_groups(cell, f"{path}/cells/{base}" + (f"_{used[base]}" if used[base] else ""))
        return groups
    return [(f"{path}/vars", layer.name, layer.weights)] if layer.weights else []


OURS = {"_layers", "_constructor_arguments", "_inbound_nodes"}  # a Layer's own bookkeeping, not its sublayers


def _custom_groups(layer: Layer, path: str) -> list[tuple[str, str, list]]:
    """A user's layer as Keras walks it: its own weights in vars, then each sublayer it holds as an attribute
    (or in a list) under that attribute's name, names in sorted order and private ones last, as Keras's."""
    groups = [(f"{path}/vars", layer.name, layer._weights)] if layer._weights else []
    for attribute in sorted(vars(layer), key=lambda name: f"~{name}" if name.startswith("_") else name):
        value = vars(layer)[attribute]
        if attribute in OURS:
            continue
        if isinstance(value, Layer):
            groups += _layer_groups(value, f"{path}/{attribute}")
        elif isinstance(value, (list, tuple)) and any(isinstance(item, Layer) for item in value):
            used: dict[str, int] = {}
            for item in value:
                if isinstance(item, Layer):
                    base = snake_case(type(item).__name__)
                    used[base] = used.get(base, -1) + 1
                    groups += _layer_groups(item, f"{path}/{attribute}/{base}" + (f"_{used[base]}" if used[base] else ""))
    return groups


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
def load_keras(filepath: str, custom_objects: dict[str, Any] | None = None, compile: bool = True,  # noqa: A002 (Keras's name)
               safe_mode: bool = True) -> Any:
    """keras.models.load_model's twin: the model, its weights and, when compiled (and compile=True), its
    optimizer's state. custom_objects: classes by the names the file gives them (object_registration.py)."""
    h5py = _h5py()
    path = _existing(filepath)
    try:
        with zipfile.ZipFile(path) as archive, _h5_errors(path):
            names = npz.checked_members(path, archive)
            for member in ("config.json", "model.weights.h5"):
                if member not in names:
                    raise ValueError(f"{path!r} is not a Keras 3 archive: it has no {member!r} "
                                     f"(it holds {sorted(names)[:10]})")
            if names["config.json"].file_size > MAX_CONFIG_BYTES:
                raise ValueError(f"{path!r}: its config.json declares {names['config.json'].file_size} bytes, "
                                 f"more than the {MAX_CONFIG_BYTES} a model's architecture can need")
            config = native.parse_config(archive.read("config.json"), path, "its config.json")
            if not compile and isinstance(config, dict):
                config.pop("compile_config", None)
            # Read whole, so that zipfile checks its CRC: a damaged byte is caught here, before HDF5 parses it.
            with h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as h5:
                # vocabularies first: a TextVectorization's output size, which later layers build on, is its own
                keras_assets.fill_config(config, lambda name: _member(archive, names, name, path), h5, _read, path)
                model = _model_from_keras_config(path, config, custom_objects, safe_mode)
                _read_h5(model, h5, path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as error:
        raise ValueError(f"{path!r} is not a readable Keras archive (truncated or corrupt): {error}") from None
    return model


def load_weights_keras(model: Any, filepath: str) -> None:
    """model.load_weights("m.keras"), as Keras: the archive's weights and vocabularies into a model built in code."""
    h5py = _h5py()
    path = _existing(filepath)
    if not model.built:
        model.build()
    try:
        with zipfile.ZipFile(path) as archive, _h5_errors(path):
            names = npz.checked_members(path, archive)
            weights = _member(archive, names, "model.weights.h5", path)
            if weights is None:
                raise ValueError(f"{path!r} is not a Keras 3 archive: it has no 'model.weights.h5'")
            with h5py.File(io.BytesIO(weights), "r") as h5:
                _read_h5(model, h5, path)
                keras_assets.restore(layer_paths(model), lambda name: _member(archive, names, name, path), h5, _read,
                                     path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, UnicodeDecodeError) as error:
        raise ValueError(f"{path!r} is not a readable Keras archive (truncated or corrupt): {error}") from None


def load_weights_h5(model: Any, filepath: str) -> None:
    """model.load_weights("m.weights.h5") for a file Keras (or save_weights here) wrote."""
    h5py = _h5py()
    path = _existing(filepath)
    if not model.built:
        try:
            model.build()
        except (TypeError, ValueError) as error:
            raise ValueError(f"model {model.name!r} has no weights yet to load into: {error}") from None
    with _h5_errors(path), h5py.File(path, "r") as h5:
        _read_h5(model, h5, path)


@contextlib.contextmanager
def _h5_errors(path: str) -> Iterator[None]:
    """What h5py (or zipfile) raises on a damaged file, as a ValueError naming the file."""
    try:
        yield
    except (KeyError, RuntimeError, OSError, OverflowError) as error:  # NotImplementedError, RecursionError too
        raise ValueError(f"{path!r} is not a readable Keras file (truncated or corrupt): "
                         f"{type(error).__name__}: {error}") from None


def _existing(filepath: str) -> str:
    return npz.regular_file(filepath)


def _check_member_size(path: str, info: zipfile.ZipInfo) -> None:
    """One member's declared size against the bound on inflation (checked_members checks them all together)."""
    if info.file_size > max(MAX_EXPANSION * info.compress_size, BOMB_FLOOR):
        raise ValueError(f"{path!r}: member {info.filename!r} declares {info.file_size} bytes from "
                         f"{info.compress_size} compressed: refused as a zip bomb")


def _member(archive: zipfile.ZipFile, names: dict[str, zipfile.ZipInfo], name: str, path: str) -> bytes | None:
    """An archive member's bytes (its size checked first), or None if the archive has no such member."""
    if name not in names:
        return None
    _check_member_size(path, names[name])
    return archive.read(name)


def _model_from_keras_config(path: str, config: Any, custom_objects: dict[str, Any] | None = None,
                             safe_mode: bool = True) -> Any:
    try:
        native.check_config(config)  # on Keras's config too, whatever its translation makes of it
        ours = from_keras_config(config, custom_objects, safe_mode)
        with initializers_skipped():  # weights start as untouched zeros: the file's arrays replace them
            return native.model_from_config(ours)
    except (KeyError, TypeError, IndexError, AttributeError, ValueError, MemoryError, OverflowError,
            RecursionError) as error:
        raise ValueError(f"{path!r} has an architecture this project cannot rebuild: {error}") from None


def _read_h5(model: Any, h5: Any, path: str) -> None:
    """Every layer's arrays, checked against the architecture's shapes before any is read; then the optimizer's.
    Together they may hold no more bytes than the file: memory stays proportional to the file."""
    datasets, budget = {}, [h5.id.get_filesize()]  # id(weight) -> its dataset, whatever the groups' order
    for group_path, _, weights in weight_groups(model):
        found = _vars(h5, group_path, path)
        if len(found) != len(weights):
            raise ValueError(f"{path!r}: {group_path!r} holds {len(found)} arrays, but the model's layer there has "
                             f"{len(weights)} weights ({[w.shape for w in weights]})")
        for dataset, weight in zip(found, weights):
            if getattr(dataset, "shape", None) != weight.shape:
                raise ValueError(f"{path!r}: {getattr(dataset, 'name', dataset)!r} has shape "
                                 f"{getattr(dataset, 'shape', None)}, but the model's weight there has shape {weight.shape}")
        datasets.update({id(weight): dataset for weight, dataset in zip(weights, found)})
    arrays = {f"weight/{i:04d}": _read(datasets[id(w)], path, budget=budget)
              for i, w in enumerate(model.weights) if id(w) in datasets}
    if model.optimizer is not None and _resolve(h5, "optimizer", path) is not None:
        arrays.update(_optimizer_arrays(model, h5, path, budget))
    listed = {id(w) for w in model.weights}  # a custom layer's sublayers kept in a list are not in model.weights
    unlisted = [(weight, _read(datasets[id(weight)], path, budget=budget))
                for _, _, weights in weight_groups(model) for weight in weights if id(weight) not in listed]
    native.restore(model, arrays, path)  # all read and checked: only now is the model changed
    for weight, array in unlisted:
        weight.data[...] = array


def _optimizer_arrays(model: Any, h5: Any, path: str, budget: list[int] | None = None) -> dict[str, np.ndarray]:
    optimizer = copy.copy(model.optimizer)  # built on the side: the model's own changes only in native.restore
    optimizer._variables, optimizer._slots = list(optimizer._variables), list(optimizer._slots)
    optimizer.build(model.trainable_weights)
    expected = keras_optimizer_state(optimizer)
    found = _vars(h5, "optimizer/vars", path)
    if expected is None or [getattr(d, "shape", None) for d in found] != [a.shape for a in expected]:
        warnings.warn(f"{path!r}: the optimizer's state does not fit {type(model.optimizer).__name__} on this "
                      "model's weights; the optimizer starts fresh", stacklevel=4)
        return {}
    state = _optimizer_state_from_keras(optimizer, [_read(d, path, budget=budget) for d in found])
    return {f"optimizer/{key}": value for key, value in state.items()}


def _resolve(h5: Any, group_path: str, path: str) -> Any:
    """The object at group_path through hard links only, or None when absent (as Keras reads an absent group).
    A soft or external link on the way is refused: it could point into another file."""
    h5py, node = _h5py(), h5
    with _h5_errors(path):
        for part in group_path.strip("/").split("/"):
            if not isinstance(node, h5py.Group):
                raise ValueError(f"{path!r}: {node.name!r} is not a group, but {group_path!r} goes through it")
            link = node.get(part, getlink=True)
            if link is None:
                return None
            if not isinstance(link, h5py.HardLink):
                raise ValueError(f"{path!r}: {node.name.rstrip('/')}/{part} is {type(link).__name__} (to "
                                 f"{getattr(link, 'filename', '')}{getattr(link, 'path', '')!s:.80}): a weights file "
                                 "holds no links, which could point into another file; refused")
            node = node[part]
    return node


def _vars(h5: Any, group_path: str, path: str) -> list:
    """The datasets 0, 1, ... of a vars group (none if the group is absent, as Keras reads it)."""
    h5py = _h5py()
    group = _resolve(h5, group_path, path)
    if group is None:
        return []
    with _h5_errors(path):
        names = list(group.keys()) if isinstance(group, h5py.Group) else None
    if names is None or sorted(names, key=_as_index) != [str(i) for i in range(len(names))]:
        raise ValueError(f"{path!r}: {group_path!r} is not a group of arrays named 0, 1, ...: {(names or [])[:10]}")
    return [_resolve(group, str(i), path) for i in range(len(names))]


def _as_index(key: str) -> int:
    return int(key) if key.isdigit() else -1


def _read(dataset: Any, path: str, *, budget: list[int] | None = None) -> np.ndarray:
    """An array whose declared size the file really stores, in this file, as numbers; else ValueError.
    `budget`, a one-element list, is the bytes left for all the arrays read from one file: each takes its share."""
    h5py = _h5py()
    with _h5_errors(path):
        if not isinstance(dataset, h5py.Dataset) or dataset.dtype.kind not in "fiu":
            raise ValueError(f"{path!r}: {getattr(dataset, 'name', dataset)!r} is not an array of numbers")
        if dataset.external or dataset.is_virtual:  # their bytes live in other files, which a weights file must not name
            raise ValueError(f"{path!r}: {dataset.name!r} points at data outside the file; refused")
        declared = int(np.prod(dataset.shape, dtype=np.float64)) * dataset.dtype.itemsize
        stored, available = dataset.id.get_storage_size(), dataset.file.id.get_filesize()
        if budget is not None:
            available, budget[0] = budget[0], budget[0] - declared
        if declared > stored or declared > available:
            raise ValueError(f"{path!r}: {dataset.name!r} declares shape {dataset.shape} of {dataset.dtype} ({declared} "
                             f"bytes) but stores only {min(stored, available)} bytes")
        return dataset[()]
