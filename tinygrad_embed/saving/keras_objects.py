"""The user's code in Keras's config.json, both ways. Writing: a custom layer (or loss, metric) as Keras
serializes a custom object, {"module", "class_name", "config", "registered_name": "package>Name"}; a
Lambda's function as Keras writes it (a lambda's marshalled bytecode, a named function by its name).
Reading: a class comes only from the user's own registrations (register_keras_serializable, custom_objects,
custom_object_scope), by Keras's lookup rules; nothing a file names is imported, and a Lambda is always
refused, since its function would be code from the file.
"""
from __future__ import annotations

import codecs
import marshal
import types
from typing import Any

from ..layers.base import Layer
from ..layers.lambda_layer import Lambda
from .object_registration import checked_custom_objects, get_registered_name, get_registered_object


def custom_entry(cls: type, config: dict[str, Any]) -> dict[str, Any]:
    """Keras's entry for an object of a user's class: its module and name, and the name it is registered as."""
    registered = get_registered_name(cls)  # Keras writes no module for a registered class
    return {"module": None if registered != cls.__name__ else cls.__module__, "class_name": cls.__name__,
            "config": config, "registered_name": registered}


def function_to_keras(function: Any) -> dict[str, Any]:
    """A function as Keras's Lambda writes it: a lambda as its marshalled bytecode, else by name."""
    if isinstance(function, types.LambdaType) and function.__name__ == "<lambda>":
        code = codecs.encode(marshal.dumps(function.__code__), "base64").decode("ascii")
        closure = tuple(c.cell_contents for c in function.__closure__) if function.__closure__ else None
        return {"class_name": "__lambda__", "config": {"code": code, "defaults": function.__defaults__,
                                                        "closure": closure}}
    return {"module": "builtins", "class_name": "function", "config": get_registered_name(function),
            "registered_name": "function"}


def lambda_config(layer: Lambda) -> dict[str, Any]:
    """What Keras's Lambda.get_config writes (loading it needs Keras's safe_mode=False there)."""
    config = {"name": layer.name, "trainable": layer.trainable, "dtype": str(layer.dtype),
              "function": function_to_keras(layer.function)}
    if layer._output_shape is not None:
        config["output_shape"] = (function_to_keras(layer._output_shape) if callable(layer._output_shape)
                                  else layer._output_shape)
    if layer.mask is not None:
        config["mask"] = function_to_keras(layer.mask) if callable(layer.mask) else layer.mask
    return {**config, "arguments": layer.arguments}


class Lookup:
    """Where a file's names of the user's classes and functions are looked up: Keras's order (scope,
    registry, custom_objects); safe_mode is Keras's argument, which changes nothing here (see refuse_lambda)."""

    def __init__(self, custom_objects: dict[str, Any] | None, safe_mode: bool = True) -> None:
        self.custom_objects, self.safe_mode = checked_custom_objects(custom_objects), safe_mode

    def find(self, entry: dict[str, Any], what: str) -> Any:
        """The user's class or function an entry names, or None for Keras's own (module keras.*); an
        error naming the object and how to load it for anything else."""
        name, registered = entry.get("class_name"), entry.get("registered_name")
        # a class by its registered name; a function by the name in its config (Keras writes "function" as its
        # registered_name)
        key = entry.get("config") if name == "function" else registered or name
        found = get_registered_object(key, self.custom_objects) if isinstance(key, str) else None
        # no module: a built-in's name (as older files write), or a registered class (Keras writes those so)
        custom_name = registered is not None and registered != name and name != "function"
        module = str(entry.get("module") or ("?" if custom_name else "keras"))
        if found is not None or module == "keras" or module.startswith("keras."):
            return found
        label = entry.get("config", {}).get("name") if isinstance(entry.get("config"), dict) else entry.get("config")
        kind = "function" if name == "function" else f"class {module}.{name}"
        raise ValueError(f"{what} {label!r} is the {kind} (registered as {key!r}), which is not a Keras built-in and "
                         "not registered here: a file never brings code. Define it and register it "
                         "(tinygrad_embed.saving.register_keras_serializable(package=..., name=...)), or pass "
                         f"load_model(path, custom_objects={{{key!r}: it}}); or build the model in code and "
                         "load the file's weights into it (model.load_weights(path))")

    def layer_class(self, entry: dict[str, Any]) -> type | None:
        """The user's layer class for an entry (None for Keras's built-ins); Lambda refused."""
        if entry.get("class_name") == "Lambda" and str(entry.get("module") or "keras").startswith("keras"):
            self.refuse_lambda(entry)
        cls = self.find(entry, "layer")
        if cls is None:
            return None
        if not (isinstance(cls, type) and issubclass(cls, Layer)):
            raise ValueError(f"the layer {entry.get('class_name')!r} is registered as {cls!r:.80}, which is not a "
                             "tinygrad_embed Layer subclass")
        return cls

    def refuse_lambda(self, entry: dict[str, Any]) -> None:
        config = entry.get("config", {})
        function = config.get("function")
        kind = ("a lambda's bytecode" if isinstance(function, dict) and function.get("class_name") == "__lambda__"
                else f"the function {function.get('config') if isinstance(function, dict) else function!r:.80}")
        why = ("safe_mode=False does not change that: this project never runs code read from a file"
               if not self.safe_mode else "loading never runs code from a file (Keras refuses it too in safe mode)")
        raise ValueError(f"layer {config.get('name')!r} is a Lambda: it holds {kind}, and {why}. To load this model, "
                         "build it in code, Lambda included, then load the file's weights into it: "
                         "model.load_weights(path)")
