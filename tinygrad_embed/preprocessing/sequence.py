"""pad_sequences: lists of ids of different lengths to one (samples, maxlen) array, as Keras."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..helpers import positive_int


def pad_sequences(sequences: Sequence[Sequence[Any]], maxlen: int | None = None, dtype: Any = "int32",
                  padding: str = "pre", truncating: str = "pre", value: Any = 0) -> np.ndarray:
    """Pad (with `value`) or cut every sequence to maxlen (default: the longest). "pre" pads or cuts
    at the start, Keras's default, so that the words nearest the end stay nearest the output."""
    for name, side in (("padding", padding), ("truncating", truncating)):
        if side not in ("pre", "post"):
            raise ValueError(f'{name} must be "pre" or "post", got {side!r}')
    if not hasattr(sequences, "__len__") or isinstance(sequences, (str, bytes)):
        raise ValueError(f"pad_sequences needs a list of sequences, got {type(sequences).__name__}")
    arrays = []
    for i, s in enumerate(sequences):
        if not hasattr(s, "__len__") or isinstance(s, (str, bytes)):
            raise ValueError(f"sequence {i} is not a sequence of ids: {s!r:.60}")
        arrays.append(np.asarray(s))
    maxlen = max(map(len, arrays), default=0) if maxlen is None else positive_int(maxlen, "maxlen")
    kept = [a[max(len(a) - maxlen, 0):] if truncating == "pre" else a[:maxlen] for a in arrays]
    sample_shape = next((k.shape[1:] for k in kept if len(k)), ())
    if (odd := next((i for i, k in enumerate(kept) if len(k) and k.shape[1:] != sample_shape), None)) is not None:
        raise ValueError(f"sequence {odd} has elements of shape {kept[odd].shape[1:]}, the others {sample_shape}")
    sizes = np.array([len(k) for k in kept], np.int64).reshape(-1, 1)
    flat = np.concatenate([k for k in kept if len(k)] or [np.zeros(0)])  # an empty list is float64: left out
    _check_held(np.asarray(value).reshape(-1), np.dtype(dtype), lambda e: "value")
    _check_held(flat.reshape(-1), np.dtype(dtype), lambda e: _place(e, flat, sizes[:, 0], arrays, truncating))
    out = np.full((len(arrays), maxlen) + sample_shape, value, dtype=dtype)
    out[np.arange(maxlen) < sizes if padding == "post" else np.arange(maxlen) >= maxlen - sizes] = flat  # row-major
    return out


def _check_held(values: np.ndarray, dtype: np.dtype, where: Callable[[int], str]) -> None:
    """OverflowError (ValueError for NaN, inf or a fraction into integers) for a value that dtype cannot hold."""
    if dtype.kind not in "biuf" or values.dtype.kind not in "biuf":
        return  # Keras's np.asarray(ids, dtype) refuses it in a list; numpy would wrap an array's 300 to 44 in int8
    with np.errstate(all="ignore"):  # the casts that wrap or overflow are the ones looked for
        cast = values.astype(dtype)
        wrong = cast != values if dtype.kind != "f" else np.isinf(cast) & ~np.isinf(values)
    if (bad := np.flatnonzero(wrong)).size:
        given = values[bad[0]].item()
        raise (OverflowError if float(given).is_integer() else ValueError)(
            f"{where(bad[0])} is {given!r}, which dtype {dtype} cannot hold (it would become {cast[bad[0]].item()!r})")


def _place(element: int, flat: np.ndarray, sizes: np.ndarray, arrays: list[np.ndarray], truncating: str) -> str:
    """Where the element-th number of the kept ids (flat, of sizes per sequence) is: its sequence, its position."""
    element, ends = element // max(flat[:1].size, 1), np.cumsum(sizes)  # an id may be a vector of numbers
    i = int(np.searchsorted(ends, element, "right"))
    cut = len(arrays[i]) - sizes[i] if truncating == "pre" else 0
    return f"sequence {i} at position {element - (ends[i] - sizes[i]) + cut}"
