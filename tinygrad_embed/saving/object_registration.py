"""Custom objects by name, as Keras 3's keras.saving: register_keras_serializable files a class (or
function) under "package>Name", and loading finds a file's layer, loss or metric there, or in the
custom_objects given to load_model, or in a custom_object_scope. Nothing else of a user's is ever looked
up: a file names a class, and only a class the user's own code registered or handed over is built.

The lookup order is Keras's (get_registered_object): the innermost custom_object_scope, the global
registry, the custom_objects argument, then module_objects.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

GLOBAL_CUSTOM_OBJECTS: dict[str, Any] = {}  # "package>Name" -> the class or function
GLOBAL_CUSTOM_NAMES: dict[Any, str] = {}  # the class or function -> "package>Name"
_scopes: list[dict[str, Any]] = [{}]  # the custom_object_scope in force: only the innermost counts, as in Keras


def register_keras_serializable(package: str = "Custom", name: str | None = None) -> Callable[[Any], Any]:
    """A decorator: the class (which must have get_config) or function, registered as "package>name"
    (name: its own __name__ unless given), so that a file naming it loads without custom_objects."""
    def decorator(arg: Any) -> Any:
        registered_name = f"{package}>{name if name is not None else arg.__name__}"
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError(f"cannot register the class {arg.__name__!r}: it has no get_config() method, which "
                             "saving calls to write its arguments")
        GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
        GLOBAL_CUSTOM_NAMES[arg] = registered_name
        return arg
    return decorator


def get_registered_name(obj: Any) -> str:
    """The name a class or function is registered under, else its own __name__ (Keras's rule)."""
    return GLOBAL_CUSTOM_NAMES.get(obj, obj.__name__)


def get_registered_object(name: str, custom_objects: dict[str, Any] | None = None,
                          module_objects: dict[str, Any] | None = None) -> Any:
    """The class or function registered as `name` (innermost scope, global registry, custom_objects,
    module_objects, in that order), or None."""
    for objects in (_scopes[-1], GLOBAL_CUSTOM_OBJECTS, custom_objects or {}, module_objects or {}):
        if name in objects:
            return objects[name]
    return None


def checked_custom_objects(custom_objects: Any) -> dict[str, Any]:
    """load_model's custom_objects: a dict of name -> class or function (None: none), else TypeError."""
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise TypeError(f"custom_objects must be a dict of name -> class or function, got "
                        f"{type(custom_objects).__name__}")
    return dict(custom_objects or {})


def get_custom_objects() -> dict[str, Any]:
    """The global registry itself (a live dict), as Keras's; a scope's objects are not in it."""
    return GLOBAL_CUSTOM_OBJECTS


class CustomObjectScope:
    """`with custom_object_scope({"MyLayer": MyLayer}):` loading inside finds these objects by name."""

    def __init__(self, custom_objects: dict[str, Any] | None) -> None:
        self.custom_objects = checked_custom_objects(custom_objects)

    def __enter__(self) -> CustomObjectScope:
        _scopes.append(self.custom_objects)
        return self

    def __exit__(self, *exc: Any) -> None:
        _scopes.pop()


custom_object_scope = CustomObjectScope
