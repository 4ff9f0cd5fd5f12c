"""TextVectorization in a .keras archive, as Keras 3 keeps it: not in config.json (its `vocabulary` and
`idf_weights` there are None once adapt() learned them) but as assets and variables. Keras writes the
vocabulary, one token a line, to `assets/layers/<layer>/vocabulary.txt`, and again for the StringLookup
inside it (`assets/layers/<layer>/_lookup_layer/vocabulary.txt`); in tf_idf mode the idf weights go to
the HDF5 file at `layers/<layer>/vars/idf_weights` and `layers/<layer>/_lookup_layer/vars/idf_weights`.
keras_files.py calls in here when it writes and reads an archive; the paths come from its layer_paths.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..layers.text_vectorization import TextVectorization
from .keras_objects import function_to_keras

LOOKUP = "_lookup_layer"  # Keras's attribute name for the StringLookup inside, which it saves too
VOCABULARY = "vocabulary.txt"


def keras_config(layer: TextVectorization) -> dict[str, Any]:
    """TextVectorization's config as Keras writes it for an adapted layer: every argument, the vocabulary
    left to the assets; a standardize or split function of the user's by its registered name."""
    functions = {}
    for what in ("standardize", "split"):
        function = getattr(layer, what)
        if callable(function):
            if getattr(function, "__name__", "<lambda>") == "<lambda>":
                raise ValueError(f"layer {layer.name!r} has a lambda as its {what}, which a .keras file can hold "
                                 "only as code: make it a function and register it (register_keras_serializable)")
            functions[what] = function_to_keras(function)
    return {**_settings(layer), **functions}


def _settings(layer: TextVectorization) -> dict[str, Any]:
    return {"name": layer.name, "trainable": layer.trainable, "dtype": str(layer.dtype), "max_tokens": layer.max_tokens,
            "standardize": layer.standardize, "split": layer.split,
            "ngrams": _ngrams_argument(layer.ngrams),
            "output_mode": layer.output_mode, "output_sequence_length": layer.output_sequence_length,
            "pad_to_max_tokens": layer.pad_to_max_tokens, "sparse": False, "ragged": False, "vocabulary": None,
            "idf_weights": None, "encoding": "utf-8", "vocabulary_size": layer.vocabulary_size()}


def _ngrams_argument(widths: tuple[int, ...] | None) -> Any:
    """The ngrams argument that gives these widths: n for 1..n (Keras's shorthand), else the list."""
    if widths is None:
        return None
    return len(widths) if widths == tuple(range(1, len(widths) + 1)) else list(widths)


def assets(layer_paths: list[tuple[Any, str]]) -> dict[str, bytes]:
    """The archive members Keras writes for the model's TextVectorization layers."""
    members = {}
    for layer, path in layer_paths:
        if isinstance(layer, TextVectorization):
            text = "\n".join(layer.get_vocabulary()).encode("utf-8")
            for where in (path, f"{path}/{LOOKUP}"):
                members[f"assets/{where}/{VOCABULARY}"] = text
    return members


def variables(layer_paths: list[tuple[Any, str]]) -> list[tuple[str, str, dict[str, np.ndarray]]]:
    """(h5 group, its name attribute, {dataset: array}) for each TextVectorization: Keras's empty groups,
    and the idf weights in tf_idf mode."""
    groups = []
    for layer, path in layer_paths:
        if isinstance(layer, TextVectorization):
            arrays = {} if layer._idf is None else {"idf_weights": np.asarray(layer._idf, np.float32)}
            groups += [(f"{path}/vars", layer.name, arrays), (f"{path}/{LOOKUP}/vars", "string_lookup", arrays)]
    return groups


def fill_config(config: dict[str, Any], read_member: Any, h5: Any, read_array: Any, path: str) -> None:
    """Put each TextVectorization's vocabulary (and idf weights) from the archive into its config entry, as
    if given to its constructor, before the model is built: the layers after it build on its output size.
    Keras's layer list is model.layers' order, so the n-th TextVectorization is layers/text_vectorization_n."""
    try:  # a file from a stranger: any shape of JSON is possible here, before the config is checked
        layers = list(config.get("config", {}).get("layers", []))
        entries = [e for e in layers if isinstance(e, dict) and e.get("class_name") == "TextVectorization"]
    except (AttributeError, TypeError) as error:
        raise ValueError(f"{path!r}: its config.json is not a model's config ({error})") from None
    for number, entry in enumerate(entries):
        settings = entry.get("config", {})
        if not isinstance(settings, dict):
            raise ValueError(f"{path!r}: layer entry {number} of its config.json has a config that is not a dict")
        if settings.get("vocabulary") is None:
            where = "layers/text_vectorization" + (f"_{number}" if number else "")
            lines, idf = _stored(where, settings.get("output_mode") == "tf_idf", read_member, h5, read_array, path)
            settings.update(vocabulary=lines, idf_weights=None if idf is None else idf.tolist())


def _stored(where: str, tf_idf: bool, read_member: Any, h5: Any, read_array: Any, path: str) -> tuple[list, Any]:
    """The vocabulary's lines at assets/<where>/vocabulary.txt (trailing empty lines dropped, as Keras's
    load_assets) and, in tf_idf mode, the idf weights at <where>/vars/idf_weights."""
    text = read_member(f"assets/{where}/{VOCABULARY}")
    if text is None:
        raise ValueError(f"{path!r}: the TextVectorization at {where!r} has no vocabulary: neither its config nor "
                         f"the archive's assets/{where}/{VOCABULARY} holds one")
    lines = text.decode("utf-8").splitlines()
    while lines and lines[-1] == "":
        lines.pop()
    if not tf_idf:
        return lines, None
    dataset = h5.get(f"{where}/vars/idf_weights")
    if dataset is None:
        raise ValueError(f"{path!r}: the TextVectorization at {where!r} is in tf_idf mode, but the file has no "
                         f"{where}/vars/idf_weights")
    idf = read_array(dataset, path)
    if idf.shape != (len(lines),):
        raise ValueError(f"{path!r}: {where}/vars/idf_weights has shape {idf.shape}, but the vocabulary has "
                         f"{len(lines)} tokens")
    return lines, idf


def restore(layer_paths: list[tuple[Any, str]], read_member: Any, h5: Any, read_array: Any, path: str) -> None:
    """Each TextVectorization's vocabulary (and idf weights) from the archive, as Keras's load_assets:
    for model.load_weights("m.keras") into a model built in code whose layer has no vocabulary yet."""
    for layer, where in layer_paths:
        if not isinstance(layer, TextVectorization) or layer.get_vocabulary():
            continue
        layer.set_vocabulary(*_stored(where, layer.output_mode == "tf_idf", read_member, h5, read_array, path))
