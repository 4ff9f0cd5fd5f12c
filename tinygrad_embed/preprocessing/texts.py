"""What counts as a text: a str or bytes (numpy's str_ and bytes_ too), alone or in arrays and lists.
Anything else (a number, a bool, None, NaN) is refused by its kind with a TypeError naming the first such
element and where it is, never turned into a word by str(): "None", "nan" and "1.5" are not words a
text held.

Bytes are decoded as UTF-8 with Python's surrogateescape (os.fsdecode's rule): a byte that is not part of
a UTF-8 character becomes one lone surrogate, U+DC80 to U+DCFF, so b"caf\\xe9" is the word "caf\\udce9",
distinct from every other word, instead of collapsing with b"caf\\xe8" into "caf\\ufffd". (Keras on
TensorFlow works on the bytes themselves.)
"""
from __future__ import annotations

import itertools
from typing import Any

import numpy as np

TEXT_TYPES = (str, bytes)


def decoded(text: str | bytes) -> str:
    """A text as a Python str: bytes decoded as UTF-8, a byte that is not UTF-8 kept as a lone surrogate."""
    return text.decode("utf-8", "surrogateescape") if isinstance(text, bytes) else str(text)


def refuse(item: Any, where: str, what: str) -> None:
    """The TypeError for an element that is not a text: its value, its type and where it is."""
    hint = " (a missing text? give '' or drop it)" if item is None or (isinstance(item, float) and item != item) else ""
    raise TypeError(f"{what} takes texts (str or bytes), got {item!r:.60} of type {type(item).__name__} "
                    f"{where}{hint}")


def position(index: int, shape: tuple[int, ...]) -> str:
    """Where the flat index `index` is in an array of this shape, as words: "at index 3", "at index (3, 0)"."""
    if len(shape) <= 1:
        return f"at index {index}"
    return f"at index {tuple(int(i) for i in np.unravel_index(index, shape))}"


def check_texts(array: np.ndarray, what: str) -> None:
    """Refuse an array that holds anything but texts, naming its first non-text element and where it is.
    A str or bytes array (dtype kind U or S) is texts as a whole; an object array is scanned once."""
    if array.dtype.kind in "US":
        return
    items = array.reshape(-1).tolist() if array.dtype.kind == "O" else list(array.reshape(-1)[:1])  # numbers
    texts = np.fromiter(map(isinstance, items, itertools.repeat(TEXT_TYPES)), bool, len(items))
    if not texts.all():
        first = int(np.argmin(texts))
        refuse(items[first], position(first, array.shape), what)


def text_array(data: Any, what: str) -> np.ndarray:
    """A list (or array) of texts as a numpy array, checked. A list is made an object array, since
    np.asarray would silently write the 1.5 in ["a", 1.5] as the word "1.5"."""
    array = data if isinstance(data, np.ndarray) else np.asarray(data, dtype=object)
    check_texts(array, what)
    return array


def as_strs(array: np.ndarray, what: str) -> list[str]:
    """The texts of a 1-D array as Python strs, anything else refused. One pass when all are str already
    (the common case), which is also the check."""
    items = array.tolist()
    if array.dtype.kind == "U" or set(map(type, items)) <= {str}:  # plain str (not numpy's str_): as they are
        return items
    check_texts(array, what)
    return [decoded(item) for item in items]
