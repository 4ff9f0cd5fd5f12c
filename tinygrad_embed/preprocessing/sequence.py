"""pad_sequences: lists of ids of different lengths to one (samples, maxlen) array, as Keras."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..helpers import positive_int


def pad_sequences(sequences: Sequence[Sequence[Any]], maxlen: int | None = None, dtype: Any = "int32",
                  padding: str = "pre", truncating: str = "pre", value: Any = 0) -> np.ndarray:
    """Pad (with `value`) or cut every sequence to maxlen (default: the longest). "pre" pads or cuts
    at the start, Keras's default, so that the words nearest the end stay nearest the output."""
    if padding not in ("pre", "post"):
        raise ValueError(f'padding must be "pre" or "post", got {padding!r}')
    if truncating not in ("pre", "post"):
        raise ValueError(f'truncating must be "pre" or "post", got {truncating!r}')
    maxlen = None if maxlen is None else positive_int(maxlen, "maxlen")
    if not hasattr(sequences, "__len__") or isinstance(sequences, (str, bytes)):
        raise ValueError(f"pad_sequences needs a list of sequences, got {type(sequences).__name__}")
    arrays = []
    for i, s in enumerate(sequences):
        if not hasattr(s, "__len__") or isinstance(s, (str, bytes)):
            raise ValueError(f"sequence {i} is not a sequence of ids: {s!r:.60}")
        arrays.append(np.asarray(s))
    lengths = [len(a) for a in arrays]
    maxlen = int(maxlen if maxlen is not None else max(lengths, default=0))
    sample_shape = next((a.shape[1:] for a in arrays if len(a)), ())
    out = np.full((len(arrays), maxlen) + sample_shape, value, dtype=dtype)
    for i, a in enumerate(arrays):
        if not len(a) or not maxlen:
            continue
        kept = a[-maxlen:] if truncating == "pre" else a[:maxlen]
        if np.dtype(dtype).kind in "iu" and kept.dtype.kind == "f" and not np.isfinite(kept).all():
            raise ValueError(f"sequence {i} contains NaN or inf, which has no {np.dtype(dtype)} value")
        if kept.shape[1:] != sample_shape:
            raise ValueError(f"sequence {i} has elements of shape {kept.shape[1:]}, the others {sample_shape}")
        if padding == "post":
            out[i, :len(kept)] = kept
        else:
            out[i, -len(kept):] = kept
    return out
