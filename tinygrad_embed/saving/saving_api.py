"""save_model, load_model, save_weights, load_weights: the file's name picks its format, as in Keras 3's
saving_api. Names ending in .keras or .weights.h5 are Keras 3's own files (keras_files.py); .h5 and .hdf5
Keras's legacy HDF5 files (legacy_h5.py); .npz this project's pickle-free archive (archive.py) of the arrays
native.py makes. Any other name is refused with the names each call supports: a file is never given an
extension whose format it is not.

A rebuilt model starts with lazily allocated zero weights (no initializer runs), and its weight shapes
are compared with the file's before any array is copied.
"""
from __future__ import annotations

import os
from typing import Any

from ..layers.base import initializers_skipped
from . import archive, keras_files, legacy_h5, native
from .object_registration import checked_custom_objects

EXTENSIONS = {"keras": ".keras (Keras 3's archive)", "weights.h5": ".weights.h5 (Keras 3's weights file)",
              "h5": ".h5 or .hdf5 (Keras's legacy HDF5)", "npz": ".npz (this project's archive)"}


def _format(filepath: Any, call: str, supported: tuple[str, ...]) -> str:
    """The format a file name asks for ("keras", "weights.h5", "h5" or "npz"), if `call` supports it; else ValueError."""
    name = str(os.fspath(filepath))
    kind = ("weights.h5" if name.endswith(".weights.h5") else "keras" if name.endswith(".keras")
            else "h5" if name.endswith((".h5", ".hdf5")) else "npz" if name.endswith(".npz") else None)
    if kind not in supported:
        hint = " (for a model's weights alone use save_weights)" if kind == "weights.h5" and call == "save" else ""
        raise ValueError(f"Invalid filepath extension for {call}: {name!r}{hint}. The extension picks the file's "
                         f"format, and {call} supports {', '.join(EXTENSIONS[k] for k in supported)}")
    return kind


def save_model(model: Any, filepath: str, include_optimizer: bool = True) -> None:
    """Architecture, weights and, optionally, the optimizer's state, in one file."""
    kind = _format(filepath, "save", ("keras", "h5", "npz"))
    if kind == "keras":
        return keras_files.save_keras(model, filepath, include_optimizer)
    if kind == "h5":
        return legacy_h5.save_model_h5(model, filepath, include_optimizer)
    archive.write_archive(filepath, native.model_arrays(model, include_optimizer))


def save_weights(model: Any, filepath: str) -> None:
    """The weights alone, in get_weights' order."""
    kind = _format(filepath, "save_weights", ("weights.h5", "h5", "npz"))
    if kind == "weights.h5":
        return keras_files.save_weights_h5(model, filepath)
    if kind == "h5":
        return legacy_h5.save_weights_h5(model, filepath)
    archive.write_archive(filepath, native.weight_arrays(model))


def load_weights(model: Any, filepath: str) -> None:
    """The weights that save_weights (or save) wrote, into a model of the same architecture."""
    kind = _format(filepath, "load_weights", ("weights.h5", "keras", "h5", "npz"))
    if kind == "weights.h5":
        return keras_files.load_weights_h5(model, filepath)
    if kind == "keras":  # as Keras: a .keras archive's weights (and vocabularies), not its config
        return keras_files.load_weights_keras(model, filepath)
    arrays = archive.read_archive(filepath) if kind == "npz" else None
    if not model.built:
        try:
            model.build()
        except (TypeError, ValueError) as error:
            raise ValueError(f"model {model.name!r} has no weights yet to load into: {error}") from None
    if kind == "h5":
        return legacy_h5.load_weights_h5(model, filepath)
    native.set_weight_arrays(model, arrays, filepath)


def load_model(filepath: str, custom_objects: dict[str, Any] | None = None, compile: bool = True,  # noqa: A002 (Keras's name)
               safe_mode: bool = True) -> Any:
    """The model that save wrote: same layers and graph, weights, compile settings, optimizer state.
    Keras's arguments: custom_objects, the user's classes by the names a .keras file gives them; compile=False
    leaves the model uncompiled; safe_mode is accepted, and a file's code is never run either way."""
    custom_objects = checked_custom_objects(custom_objects)
    kind = _format(filepath, "load_model", ("keras", "h5", "npz"))
    if kind == "keras":
        return keras_files.load_keras(filepath, custom_objects, compile, safe_mode)
    if kind == "h5":
        return legacy_h5.load_model_h5(filepath, compile=compile)
    arrays = archive.read_archive(filepath)
    if "config" not in arrays:
        raise ValueError(f"{filepath!r} holds weights only (no architecture): build the model and call load_weights")
    config = native.parse_config(str(arrays["config"]), filepath)  # ValueError naming the file for bad JSON
    try:
        config = {**config, **({} if compile else {"compile": None})}
        with initializers_skipped():  # weights start as untouched zeros: a crafted size costs nothing yet
            model = native.model_from_config(config)
    except (KeyError, TypeError, IndexError, AttributeError, ValueError, MemoryError, OverflowError,
            RecursionError) as error:
        raise ValueError(f"{filepath!r} has an architecture this version cannot rebuild: {error!r}") from None
    declared = [w.shape for w in model.weights]
    stored = [arrays[k].shape for k in sorted(arrays) if k.startswith("weight/")]
    if declared != stored:
        raise ValueError(f"{filepath!r}: its architecture declares weights of shapes {declared}, "
                         f"but the file stores {stored}")
    native.restore(model, arrays, filepath)
    return model
