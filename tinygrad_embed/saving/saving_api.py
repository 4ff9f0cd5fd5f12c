"""save_model, load_model, save_weights, load_weights: the file's name picks its format, as in Keras 3's
saving_api. Names ending in .keras or .weights.h5 are Keras 3's own files (keras_files.py); any other
name is this project's pickle-free .npz archive (archive.py) of the arrays native.py makes.

A rebuilt model starts with lazily allocated zero weights (no initializer runs), and its weight shapes
are compared with the file's before any array is copied.
"""
from __future__ import annotations

import json
import os
from typing import Any

from ..layers.base import initializers_skipped
from . import archive, keras_files, native
from .object_registration import checked_custom_objects


def _keras_file(filepath: Any) -> str | None:
    """"keras" or "weights.h5" for Keras's own file names (read and written by keras_files.py), else None."""
    name = os.fspath(filepath)
    return "keras" if name.endswith(".keras") else "weights.h5" if name.endswith(".weights.h5") else None


def save_model(model: Any, filepath: str, include_optimizer: bool = True) -> None:
    """Architecture, weights and, optionally, the optimizer's state, in one file."""
    if _keras_file(filepath) == "keras":
        return keras_files.save_keras(model, filepath, include_optimizer)
    archive.write_archive(filepath, native.model_arrays(model, include_optimizer))


def save_weights(model: Any, filepath: str) -> None:
    """The weights alone, in get_weights' order."""
    if _keras_file(filepath) == "weights.h5":
        return keras_files.save_weights_h5(model, filepath)
    archive.write_archive(filepath, native.weight_arrays(model))


def load_weights(model: Any, filepath: str) -> None:
    """The weights that save_weights (or save) wrote, into a model of the same architecture."""
    if _keras_file(filepath) == "weights.h5":
        return keras_files.load_weights_h5(model, filepath)
    if _keras_file(filepath) == "keras":  # as Keras: a .keras archive's weights (and vocabularies), not its config
        return keras_files.load_weights_keras(model, filepath)
    arrays = archive.read_archive(filepath)
    if not model.built:
        try:
            model.build()
        except (TypeError, ValueError) as error:
            raise ValueError(f"model {model.name!r} has no weights yet to load into: {error}") from None
    native.set_weight_arrays(model, arrays, filepath)


def load_model(filepath: str, custom_objects: dict[str, Any] | None = None, compile: bool = True,  # noqa: A002 (Keras's name)
               safe_mode: bool = True) -> Any:
    """The model that save wrote: same layers and graph, weights, compile settings, optimizer state.
    Keras's arguments: custom_objects, the user's classes by the names a .keras file gives them; compile=False
    leaves the model uncompiled; safe_mode is accepted, and a file's code is never run either way."""
    custom_objects = checked_custom_objects(custom_objects)
    if _keras_file(filepath) == "keras":
        return keras_files.load_keras(filepath, custom_objects, compile, safe_mode)
    arrays = archive.read_archive(filepath)
    if "config" not in arrays:
        raise ValueError(f"{filepath!r} holds weights only (no architecture): build the model and call load_weights")
    try:
        config = {**json.loads(str(arrays["config"])), **({} if compile else {"compile": None})}
        with initializers_skipped():  # weights start as untouched zeros: a crafted size costs nothing yet
            model = native.model_from_config(config)
    except (KeyError, TypeError, IndexError, AttributeError, ValueError, MemoryError) as error:
        raise ValueError(f"{filepath!r} has an architecture this version cannot rebuild: {error!r}") from None
    declared = [w.shape for w in model.weights]
    stored = [arrays[k].shape for k in sorted(arrays) if k.startswith("weight/")]
    if declared != stored:
        raise ValueError(f"{filepath!r}: its architecture declares weights of shapes {declared}, "
                         f"but the file stores {stored}")
    native.restore(model, arrays, filepath)
    return model
