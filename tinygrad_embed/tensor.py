"""Tensor: a numpy array that remembers how it was made, and the backward pass over that record."""
from __future__ import annotations

import contextlib
from typing import Any, Iterator, Sequence, Union

import numpy as np

from . import tensor_numpy as _numpy

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


class Freed:
    """The _ctx of a tensor whose op a backward() has freed: no leaf, but nothing left to walk."""
    parents: tuple = ()


FREED = Freed()
Operand = Union["Tensor", np.ndarray, float]  # the other side of an arithmetic operator


def _apply(op_name: str, *args: Any, **params: Any) -> Tensor:
    """Run the op class of that name from the registry, functions.OPS (see the import at the end)."""
    return functions.OPS[op_name].apply(*args, **params)


class Tensor:
    """An n-dimensional array with an optional gradient and a link to the op that produced it."""

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data: np.ndarray = _as_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require grad, not dtype {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        self.grad: np.ndarray | None = None
        self._ctx = None  # the op (a Function instance) that made this tensor; None for leaves; FREED after backward

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

    # ---- numpy's protocols: what numpy code does with the array, it does with the tensor (tensor_numpy.py)
    __array__ = _numpy.array_of
    __array_ufunc__ = _numpy.ufunc_on
    __array_function__ = _numpy.function_on
    tolist = _numpy.tolist
    __float__, __int__, __index__, __bool__ = _numpy.as_float, _numpy.as_int, _numpy.as_index, _numpy.as_bool
    __iter__, __format__ = _numpy.rows, _numpy.formatted

    def detach(self) -> Tensor:
        return Tensor(self.data)

    def zero_grad(self) -> None:
        self.grad = None

    # ---- Ops. Each method hands its work to the op class it names, in functions.py, where forward and
    # backward sit side by side; tests/test_functions.py checks these calls against what functions.OPS registers.
    def __add__(self, other: Operand) -> Tensor:
        """self + other, broadcast as numpy does."""
        return _apply("Add", self, other)

    def __radd__(self, other: Operand) -> Tensor:
        """other + self."""
        return _apply("Add", other, self)

    def __sub__(self, other: Operand) -> Tensor:
        """self - other."""
        return _apply("Sub", self, other)

    def __rsub__(self, other: Operand) -> Tensor:
        """other - self."""
        return _apply("Sub", other, self)

    def __mul__(self, other: Operand) -> Tensor:
        """self * other, elementwise."""
        return _apply("Mul", self, other)

    def __rmul__(self, other: Operand) -> Tensor:
        """other * self."""
        return _apply("Mul", other, self)

    def __truediv__(self, other: Operand) -> Tensor:
        """self / other."""
        return _apply("Div", self, other)

    def __rtruediv__(self, other: Operand) -> Tensor:
        """other / self."""
        return _apply("Div", other, self)

    def __matmul__(self, other: Operand) -> Tensor:
        """self @ other, a matrix product (batch axes broadcast)."""
        return _apply("MatMul", self, other)

    def __rmatmul__(self, other: Operand) -> Tensor:
        """other @ self."""
        return _apply("MatMul", other, self)

    def __neg__(self) -> Tensor:
        """-self."""
        return _apply("Neg", self)

    def __pow__(self, exponent: float) -> Tensor:
        """self ** exponent, for a constant scalar exponent."""
        return _apply("Pow", self, exponent)

    def exp(self) -> Tensor:
        """e ** self."""
        return _apply("Exp", self)

    def log(self) -> Tensor:
        """The natural logarithm."""
        return _apply("Log", self)

    def tanh(self) -> Tensor:
        """The hyperbolic tangent."""
        return _apply("Tanh", self)

    def sigmoid(self) -> Tensor:
        """1 / (1 + e ** -self), finite for any input."""
        return _apply("Sigmoid", self)

    def log_sigmoid(self) -> Tensor:
        """log(sigmoid(self)), finite for any input."""
        return _apply("LogSigmoid", self)

    def clip(self, low: float, high: float) -> Tensor:
        """Each element limited to [low, high]."""
        return _apply("Clip", self, low, high)

    def relu(self) -> Tensor:
        """max(self, 0)."""
        return _apply("Relu", self)

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """The sum over axis (over everything when None)."""
        return _apply("Sum", self, axis=axis, keepdims=keepdims)

    def max(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        """The largest element along one axis (over everything when None)."""
        return _apply("Max", self, axis=axis, keepdims=keepdims)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """The mean over axis: no op of its own, a sum scaled."""
        total = self.sum(axis=axis, keepdims=keepdims)
        return total * (total.size / self.size if self.size else float("nan"))  # an empty self gives nan, as numpy

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        """The same elements in a new shape, given as numbers or one tuple."""
        return _apply("Reshape", self, *shape)

    def transpose(self, axes: Sequence[int] | None = None) -> Tensor:
        """The axes permuted (reversed when None)."""
        return _apply("Transpose", self, axes=axes)

    @property
    def T(self) -> Tensor:
        """The axes reversed."""
        return self.transpose()

    def __getitem__(self, index: Any) -> Tensor:
        """self[index], with numpy's indexing (basic or an integer array)."""
        return _apply("GetItem", self, index)

    def sliding_windows(self, size: int, stride: int = 1, dilation: int = 1) -> Tensor:
        """Windows of `size` steps along axis 1, a new axis 2: (batch, steps, ...) -> (batch, windows, size, ...)."""
        return _apply("SlidingWindows", self, size, stride, dilation)

    # ---- The backward sweep ---------------------------------------------------------------------
    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Reverse-mode sweep: every leaf that requires grad gets d(self)/d(leaf) added to its .grad.
        The graph is freed as it is walked, unless retain_graph=True keeps it for another walk."""
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad: no input of it requires grad")
        if grad is None:
            if self.size != 1:
                raise ValueError(f"backward() without a gradient needs a one-element tensor, this one has shape {self.shape}")
            grad = np.ones_like(self.data)
        grad = np.asarray(grad, dtype=self.dtype)
        if grad.shape != self.shape:
            raise ValueError(f"backward() got a gradient of shape {grad.shape} for a tensor of shape {self.shape}")
        order = _topological_order(self)
        freed = next((node for node in order if node._ctx is FREED), None)
        if freed is not None:  # checked before any .grad changes: a failed sweep leaves no half-added gradients
            raise RuntimeError("Trying to backward through the graph a second time: an earlier backward() freed "
                               f"the graph behind a tensor of shape {freed.shape} in this one as it walked it. Pass "
                               "retain_graph=True to that earlier backward() to walk the graph again, or use "
                               "tensor.detach() where a value from that graph should count as a constant.")
        grads = {id(self): grad}
        for node in reversed(order):
            g = grads.pop(id(node))
            if node._ctx is None:
                node.grad = g.copy() if node.grad is None else node.grad + g
                continue
            op = node._ctx
            if not retain_graph:  # free the graph as we walk it: memory stays flat over many steps
                node._ctx = FREED
            op.retain_graph = retain_graph  # an op whose backward consumes what it saved needs to know
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


# At the end, not the top: functions.py imports Tensor from this module, which by now is defined. (An import
# inside _apply would work too, but costs microseconds on every operator.)
from . import functions  # noqa: E402
