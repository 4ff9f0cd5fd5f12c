"""The arguments Conv1D and the poolings share: sizes given as an int or a 1-tuple, and how many steps of
padding "valid", "same" and "causal" add on each side of the time axis (Keras's rules)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..functions import concatenate
from ..tensor import Tensor

PADDINGS = ("valid", "same", "causal")


def padding_mode(padding: Any, allowed: tuple[str, ...]) -> str:
    mode = padding.lower() if isinstance(padding, str) else padding
    if mode not in allowed:
        raise ValueError(f"padding must be one of {', '.join(map(repr, allowed))}, got {padding!r}")
    return mode


def channels_last(data_format: Any) -> None:
    """Only channels_last, Keras's default, the layout an Embedding's output has."""
    if data_format not in (None, "channels_last"):
        raise ValueError(f"data_format={data_format!r} is not supported here: only 'channels_last' "
                         "(batch, steps, channels), Keras's default")


def padding_amounts(steps: int, size: int, stride: int, dilation: int, mode: str) -> tuple[int, int]:
    """Steps to add before and after: none for "valid"; the window's reach minus one, all in front, for
    "causal"; for "same", enough for ceil(steps / stride) outputs, the odd one at the end (as TensorFlow)."""
    span = (size - 1) * dilation + 1
    if mode == "valid":
        return 0, 0
    if mode == "causal":
        return span - 1, 0
    total = max((-(-steps // stride) - 1) * stride + span - steps, 0)
    return total // 2, total - total // 2


def output_steps(steps: int | None, size: int, stride: int, dilation: int, mode: str) -> int | None:
    if steps is None:
        return None
    left, right = padding_amounts(steps, size, stride, dilation, mode)
    return max(steps + left + right - (size - 1) * dilation - 1, -1) // stride + 1


def pad_steps(x: Tensor, left: int, right: int, value: float = 0.0) -> Tensor:
    """x with `left` and `right` steps of a constant added along axis 1 (a concatenation: the constant
    parts get no gradient, x gets its own slice back)."""
    if not left and not right:
        return x
    edge = lambda n: Tensor(np.full((x.shape[0], n) + x.shape[2:], value, x.dtype))  # noqa: E731
    return concatenate([edge(left), x, edge(right)], axis=1)
