"""Nested lists, tuples and dicts of values, as Keras's `keras.tree` walks them: a functional model's inputs
and outputs, and the data, losses and predictions shaped like them. A dict's entries go by sorted key."""
from __future__ import annotations

from typing import Any, Callable


def flatten(structure: Any) -> list[Any]:
    """The leaves of nested lists, tuples and dicts, in order (a dict's by sorted key, as Keras's tree)."""
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in flatten(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def map_structure(fn: Callable[[Any], Any], structure: Any, is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """fn applied to every leaf of nested lists, tuples and dicts, keeping the nesting."""
    if is_leaf is not None and is_leaf(structure):
        return fn(structure)
    if isinstance(structure, dict):
        return {key: map_structure(fn, item, is_leaf) for key, item in structure.items()}
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_structure(fn, item, is_leaf) for item in structure)
    return fn(structure)


def is_nested(structure: Any) -> bool:
    """Whether a list, tuple or dict holds another one (a structure that a flat list does not describe)."""
    items = structure.values() if isinstance(structure, dict) else structure if isinstance(structure, (list, tuple)) \
        else ()
    return any(isinstance(item, (list, tuple, dict)) for item in items)


def flatten_like(structure: Any, value: Any, what: str) -> list[Any]:
    """value's leaves at the places of structure's leaves: a dict's by key, a list's or tuple's by position."""
    if isinstance(structure, dict):
        if not isinstance(value, dict) or set(value) != set(structure):
            raise ValueError(f"the {what} must be a dict with the keys {sorted(structure)}, as given to the model, "
                             f"got {_described(value)}")
        return [leaf for key in sorted(structure) for leaf in flatten_like(structure[key], value[key], what)]
    if isinstance(structure, (list, tuple)):
        if not isinstance(value, (list, tuple)) or len(value) != len(structure):
            raise ValueError(f"the {what} must be a list of {len(structure)}, as given to the model, "
                             f"got {_described(value)}")
        return [leaf for part, item in zip(structure, value) for leaf in flatten_like(part, item, what)]
    return [value]


def pack_like(structure: Any, leaves: list[Any]) -> Any:
    """flatten's inverse: the leaves, in flatten's order, in structure's places (tuples become lists)."""
    remaining = iter(leaves)

    def pack(part: Any) -> Any:
        if isinstance(part, dict):
            return {key: pack(part[key]) for key in sorted(part)}
        if isinstance(part, (list, tuple)):
            return [pack(item) for item in part]
        return next(remaining)
    return pack(structure)


def _described(value: Any) -> str:
    if isinstance(value, dict):
        return f"a dict with the keys {sorted(value)}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)}"
    return f"one {type(value).__name__}"
