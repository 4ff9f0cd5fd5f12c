"""Tensor: a numpy array that remembers how it was made, and the backward pass over that record."""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np

_grad_enabled = True


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Inside this block no op records a graph (evaluation, optimizer updates, finite differences)."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def grad_enabled() -> bool:
    return _grad_enabled


def _as_array(data: Any, dtype: Any) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    if not isinstance(data, (np.ndarray, np.generic)):
        data = np.asarray(data, dtype=np.float32)  # Python lists and scalars: float32, as Keras
    array = np.asarray(data)
    if array.dtype == np.float16:
        array = array.astype(np.float32)  # numpy has no fast float16 arithmetic on CPU
    if array.dtype.kind not in "fiub":
        raise TypeError(f"Tensor needs numeric data, got an array of dtype {array.dtype}")
    return array


class Tensor:
    """An n-dimensional array with an optional gradient and a link to the op that produced it."""
    __array_ufunc__ = None  # numpy_array + tensor must call Tensor.__radd__, not loop over the tensor

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data: np.ndarray = _as_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require grad, not dtype {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        self.grad: np.ndarray | None = None
        self._ctx = None  # the op (a Function instance) that made this tensor; None for leaves

    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)

    def __repr__(self) -> str:
        made_by = f", op={type(self._ctx).__name__}" if self._ctx else ""
        return f"Tensor({self.data!r}, requires_grad={self.requires_grad}{made_by})"

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float:
        return self.data.item()

    def detach(self) -> Tensor:
        return Tensor(self.data)

    def zero_grad(self) -> None:
        self.grad = None

    def backward(self, grad: Any = None) -> None:
        """Reverse-mode sweep: every leaf that requires grad gets d(self)/d(leaf) added to its .grad."""
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad: no input of it requires grad")
        if grad is None:
            if self.size != 1:
                raise ValueError(f"backward() without a gradient needs a one-element tensor, this one has shape {self.shape}")
            grad = np.ones_like(self.data)
        grad = np.asarray(grad, dtype=self.dtype)
        if grad.shape != self.shape:
            raise ValueError(f"backward() got a gradient of shape {grad.shape} for a tensor of shape {self.shape}")
        grads = {id(self): grad}
        for node in reversed(_topological_order(self)):
            g = grads.pop(id(node))
            if node._ctx is None:
                node.grad = g.copy() if node.grad is None else node.grad + g
                continue
            op, node._ctx = node._ctx, None  # free the graph as we walk it: memory stays flat over many steps
            for parent, parent_grad in zip(op.parents, op.backward(g)):
                if parent_grad is None or not parent.requires_grad:
                    continue
                if parent_grad.shape != parent.shape:
                    raise RuntimeError(f"{type(op).__name__}.backward returned a gradient of shape "
                                       f"{parent_grad.shape} for an input of shape {parent.shape}")
                parent_grad = parent_grad.astype(parent.dtype, copy=False)
                grads[id(parent)] = grads[id(parent)] + parent_grad if id(parent) in grads else parent_grad


def _topological_order(root: Tensor) -> list[Tensor]:
    """Tensors that lead to root, parents before children. Iterative: a 500-step LSTM is deeper than
    Python's recursion limit."""
    order, visited, stack = [], set(), [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
        elif id(node) not in visited:
            visited.add(id(node))
            stack.append((node, True))
            if node._ctx is not None:
                stack.extend((p, False) for p in node._ctx.parents if p.requires_grad and id(p) not in visited)
    return order
