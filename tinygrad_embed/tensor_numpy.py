"""numpy's protocols for Tensor: numpy code (np.asarray, np.mean, float(), f"{t:.2f}", `for row in t`)
handles a tensor as it handles the tensor's array, while an operator between a numpy array and a tensor
stays on the tape. Tensor takes these functions as its methods; none of them runs inside a training step."""
from __future__ import annotations

import operator
from typing import Any, Iterator

import numpy as np

# The ufuncs behind Python's operators: `array + tensor` reaches the tensor as np.add(array, tensor), and
# must give the tensor's own operator (a Tensor on the tape), as `tensor + array` does.
OPERATORS = {np.add: ("__add__", "__radd__"), np.subtract: ("__sub__", "__rsub__"),
             np.multiply: ("__mul__", "__rmul__"), np.true_divide: ("__truediv__", "__rtruediv__"),
             np.matmul: ("__matmul__", "__rmatmul__")}


def is_tensor(value: Any) -> bool:
    """Whether value answers numpy through this module (a Tensor; this module cannot import tensor.py)."""
    return getattr(type(value), "__array_function__", None) is function_on


def arrays(value: Any) -> Any:
    """value with every tensor in it (in tuples, lists and dicts too) replaced by its array."""
    if is_tensor(value):
        return value.data
    if isinstance(value, (tuple, list)):
        return type(value)(arrays(v) for v in value)
    if isinstance(value, dict):
        return {key: arrays(v) for key, v in value.items()}
    return value


def array_of(tensor: Any, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
    """np.asarray(tensor), np.array(tensor, dtype): the tensor's array (numpy 2's signature; copy=False
    refuses a conversion that would copy, as numpy does)."""
    return np.array(tensor.data, dtype=dtype, copy=copy)


def ufunc_on(tensor: Any, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
    """An operator's ufunc between two operands gives the tensor's operator (on the tape); any other ufunc
    (np.sqrt(t), np.add(a, t, out=a), array < t) gives numpy's value for the arrays."""
    if method == "__call__" and not kwargs and ufunc in OPERATORS and len(inputs) == 2:
        forward, reflected = OPERATORS[ufunc]
        first, second = inputs
        return getattr(first, forward)(second) if is_tensor(first) else getattr(second, reflected)(first)
    return getattr(ufunc, method)(*arrays(inputs), **arrays(kwargs))


def function_on(tensor: Any, func: Any, types: Any, args: tuple, kwargs: dict) -> Any:
    """np.mean(t), np.concatenate([t, a]), np.round(t), ...: numpy's value for the arrays, as TensorFlow's
    eager tensors give."""
    return func(*arrays(args), **arrays(kwargs))


def tolist(tensor: Any) -> Any:
    """The values as nested Python lists (a Python number for a 0-d tensor), as ndarray.tolist."""
    return tensor.data.tolist()


def one_element(tensor: Any, conversion: str) -> np.ndarray:
    """The tensor's one element as a 0-d array, whatever its shape (as Keras's tensors: numpy 2 takes
    only 0-d arrays); a TypeError naming the shape for more or fewer elements, as numpy's."""
    if tensor.size != 1:
        raise TypeError(f"{conversion}() needs a tensor of one element, got shape {tensor.shape} ({tensor.size} "
                        f"elements); take one (t[0, 0]) or reduce it first (ops.mean(t))")
    return tensor.data.reshape(())


def as_float(tensor: Any) -> float:
    """float(t) of a one-element tensor."""
    return float(one_element(tensor, "float"))


def as_int(tensor: Any) -> int:
    """int(t) of a one-element tensor, truncated as int(2.7) is."""
    return int(one_element(tensor, "int"))


def as_index(tensor: Any) -> int:
    """A 0-d integer tensor as an index: names[label], range(t), as a 0-d integer array."""
    return operator.index(tensor.data)


def as_bool(tensor: Any) -> bool:
    """bool(t): numpy's rule; for more than one element numpy's error says to use any() or all()."""
    return bool(tensor.data)


def rows(tensor: Any) -> Iterator[Any]:
    """Iteration over the first axis, each row a Tensor (on the tape), as Keras's eager tensors iterate."""
    if tensor.ndim == 0:
        raise TypeError("iteration over a 0-d tensor: it has no first axis (use float(t) or t.item())")
    return (tensor[i] for i in range(len(tensor)))


def formatted(tensor: Any, spec: str) -> str:
    """format(t, spec), f"{t:.3f}": as for the array (a spec needs one element); no spec: str(t)."""
    return format(tensor.data, spec) if spec else str(tensor)
