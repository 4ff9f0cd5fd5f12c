"""Differentiable ops: one class each, forward and backward side by side.

`register` records every op in OPS with the names of the Tensor methods that call it (written out in
tensor.py). The registry drives the gradient property tests (tests/op_specs.py), so an op cannot exist
without a test, and a test checks that each named method is in tensor.py and calls its op."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from . import kernels
from .tensor import Tensor, grad_enabled

OPS: dict[str, type[Function]] = {}


def register(*method_names: str):
    """Class decorator: add an op to OPS and name the Tensor methods that call it."""
    def add(cls: type[Function]) -> type[Function]:
        cls.method_names = method_names
        OPS[cls.__name__] = cls
        return cls
    return add


class Function:
    """An op: forward maps numpy arrays to an array and saves what backward needs; backward maps the
    output's gradient to one gradient per tensor input (None where there is none)."""
    arity: int | None = 1  # how many leading arguments are tensors; None: all of them
    parents: tuple[Tensor, ...] = ()
    # Set by apply before forward: False when no backward can follow (under no_grad, or when no input
    # requires grad), so that forward may skip saving what only backward reads.
    needs_backward: bool = True
    # Set by the backward sweep before backward: True under backward(retain_graph=True), when this
    # backward may run again and must leave what forward saved intact.
    retain_graph: bool = False

    @classmethod
    def apply(cls, *args: Any, **params: Any) -> Tensor:
        n = len(args) if cls.arity is None else cls.arity
        like = next((a for a in args[:n] if isinstance(a, Tensor)), None)
        inputs = tuple(a if isinstance(a, Tensor) else  # a bare scalar: numpy's promotion (2.5 * float32 stays float32)
                       Tensor(a, dtype=np.result_type(like.dtype, a) if like is not None and np.ndim(a) == 0 else None)
                       for a in args[:n])
        op = cls()
        op.needs_backward = grad_enabled() and any(t.requires_grad for t in inputs)
        out = Tensor(op.forward(*(t.data for t in inputs), *args[n:], **params))
        if op.needs_backward:
            out.requires_grad, out._ctx, op.parents = True, op, inputs
        return out

    def forward(self, *arrays: Any) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> Sequence[np.ndarray | None]:
        raise NotImplementedError


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum grad over the axes that numpy broadcasting added or stretched, giving it `shape` again."""
    kept = len(shape) - next((i for i, n in enumerate(shape) if n != 1), len(shape))  # shape past its leading 1s
    if grad.ndim > kept:  # einsum's loop: two thirds of numpy's sum over leading axes, and no BLAS threads
        lead, rest = math.prod(grad.shape[:grad.ndim - kept]), grad.shape[grad.ndim - kept:]
        grad = np.einsum("ij->j", grad.reshape(lead, math.prod(rest))).reshape((1,) * (len(shape) - kept) + rest)
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=stretched, keepdims=True) if stretched else grad


class BinaryOp(Function):
    arity = 2

    def save(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = x, y


@register("__add__", "__radd__")
class Add(BinaryOp):
    """z = x + y;  dx = g, dy = g"""
    def forward(self, x, y):
        self.save(x, y)
        return x + y

    def backward(self, g):
        return unbroadcast(g, self.x.shape), unbroadcast(g, self.y.shape)


@register("__sub__", "__rsub__")
class Sub(BinaryOp):
    """z = x - y;  dx = g, dy = -g"""
    def forward(self, x, y):
        self.save(x, y)
        return x - y

    def backward(self, g):
        return unbroadcast(g, self.x.shape), unbroadcast(-g, self.y.shape)


@register("__mul__", "__rmul__")
class Mul(BinaryOp):
    """z = x * y;  dx = g * y, dy = g * x"""
    def forward(self, x, y):
        self.save(x, y)
        return x * y

    def backward(self, g):
        return unbroadcast(g * self.y, self.x.shape), unbroadcast(g * self.x, self.y.shape)


@register("__truediv__", "__rtruediv__")
class Div(BinaryOp):
    """z = x / y;  dx = g / y, dy = -g * x / y^2"""
    def forward(self, x, y):
        self.save(x, y)
        return x / y

    def backward(self, g):
        dx = g / self.y
        return unbroadcast(dx, self.x.shape), unbroadcast(-dx * self.x / self.y, self.y.shape)


@register("__matmul__", "__rmatmul__")
class MatMul(BinaryOp):
    """z = x @ y (batch axes broadcast);  dx = g @ y^T, dy = x^T @ g"""
    def forward(self, x, y):
        if x.ndim < 2 or y.ndim < 2:
            raise ValueError(f"@ needs operands with at least 2 dimensions, got shapes {x.shape} and {y.shape}")
        self.save(x, y)
        return x @ y

    def backward(self, g):
        x, y = self.x, self.y
        return unbroadcast(g @ y.swapaxes(-1, -2), x.shape), unbroadcast(x.swapaxes(-1, -2) @ g, y.shape)


@register()
class Maximum(BinaryOp):
    """z = max(x, y) elementwise;  dx = g where x > y, dy = g where y > x, and each g / 2 at a tie (as
    torch.maximum; TensorFlow gives a tie's g to x)"""
    def forward(self, x, y):
        self.save(x, y)
        return np.maximum(x, y)

    def backward(self, g):
        share = np.where(self.x > self.y, 1.0, np.where(self.x == self.y, 0.5, 0.0))
        return unbroadcast(g * share, self.x.shape), unbroadcast(g * (1 - share), self.y.shape)


@register()
class Power(BinaryOp):
    """z = x ** y elementwise;  dx = g * y * x ** (y - 1) (0 where y = 0), dy = g * z * ln x (0 where x = 0
    and y >= 0), the two special cases as torch.pow has them, rather than 0 * inf"""
    def forward(self, x, y):
        self.save(x, y)
        self.out = np.power(x, y)
        return self.out

    def backward(self, g):
        x, y = self.x, self.y
        with np.errstate(divide="ignore", invalid="ignore"):  # ln of 0 or of a negative base, masked or nan
            dx = np.where(y == 0, 0.0, g * y * np.power(x, y - 1))  # x ** 0 is constant, even at x = 0
            dy = np.where((x == 0) & (y >= 0), 0.0, g * self.out * np.log(x))
        return unbroadcast(dx, x.shape), unbroadcast(dy, y.shape)


@register()
class Where(BinaryOp):
    """z = x where condition, else y (all three broadcast);  dx = g where condition, dy = g elsewhere"""
    def forward(self, x, y, condition):
        self.shapes = x.shape, y.shape  # backward needs no values, only where each gradient goes
        self.condition = np.asarray(condition.data if isinstance(condition, Tensor) else condition, bool)
        return np.where(self.condition, x, y)

    def backward(self, g):
        zero = np.zeros((), g.dtype)
        return (unbroadcast(np.where(self.condition, g, zero), self.shapes[0]),
                unbroadcast(np.where(self.condition, zero, g), self.shapes[1]))


@register()
class Cast(Function):
    """z = x converted to dtype;  dx = g converted back to x's dtype"""
    def forward(self, x, dtype):
        self.dtype = x.dtype
        return x.astype(dtype)

    def backward(self, g):
        return (g.astype(self.dtype),)


@register("__neg__")
class Neg(Function):
    """z = -x;  dx = -g"""
    def forward(self, x):
        return -x

    def backward(self, g):
        return (-g,)


@register("__pow__")
class Pow(Function):
    """z = x ** p for a constant p;  dx = g * p * x ** (p - 1)"""
    def forward(self, x, exponent: float):
        if isinstance(exponent, Tensor) or np.ndim(exponent) != 0:
            raise TypeError(f"** takes a scalar exponent, got {type(exponent).__name__}")
        self.x, self.p = x, exponent
        return x ** exponent

    def backward(self, g):
        return (g * self.p * self.x ** (self.p - 1),)


@register("exp")
class Exp(Function):
    """z = e^x;  dx = g * z"""
    def forward(self, x):
        self.out = np.exp(x)
        return self.out

    def backward(self, g):
        return (g * self.out,)


@register("log")
class Log(Function):
    """z = ln x;  dx = g / x"""
    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, g):
        return (g / self.x,)


@register("tanh")
class Tanh(Function):
    """z = tanh x;  dx = g * (1 - z^2)"""
    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, g):
        return (g * (1 - self.out * self.out),)


@register("sigmoid")
class Sigmoid(Function):
    """z = 1 / (1 + e^-x);  dx = g * z * (1 - z)"""
    # Fused rather than built from exp and /: e^-x overflows for x << 0 and its chain-rule gradient
    # becomes inf / inf = nan. Writing it with e^-|x| never overflows.
    def forward(self, x):
        e = np.exp(-np.abs(x))
        self.out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return self.out

    def backward(self, g):
        return (g * self.out * (1 - self.out),)


@register("log_sigmoid")
class LogSigmoid(Function):
    """z = log(sigmoid(x)) = min(x, 0) - log(1 + e^-|x|);  dx = g * sigmoid(-x)"""
    # Fused: log of the sigmoid op underflows to log(0) = -inf for x < -100 or so; this form stays
    # finite for any x, which binary cross-entropy from logits needs.
    def forward(self, x):
        e = np.exp(-np.abs(x))
        self.sigmoid_of_minus_x = np.where(x >= 0, e / (1 + e), 1 / (1 + e))
        return np.minimum(x, 0) - np.log1p(e)

    def backward(self, g):
        return (g * self.sigmoid_of_minus_x,)


@register("clip")
class Clip(Function):
    """z = min(max(x, low), high);  dx = g where low <= x <= high, else 0"""
    def forward(self, x, low: float, high: float):
        self.inside = (x >= low) & (x <= high)
        return np.clip(x, low, high).astype(x.dtype, copy=False)

    def backward(self, g):
        return (g * self.inside,)


@register("relu")
class Relu(Function):
    """z = max(x, 0);  dx = g where x > 0, else 0"""
    def forward(self, x):
        self.positive = x > 0
        return np.maximum(x, 0).astype(x.dtype, copy=False)  # maximum, not where: NaN stays NaN

    def backward(self, g):
        return (g * self.positive,)


@register("sum")
class Sum(Function):
    """z = sum of x over axis;  dx = g copied back along the summed axes"""
    def forward(self, x, axis=None, keepdims=False):
        self.shape, self.axis, self.keepdims = x.shape, axis, keepdims
        return x.sum(axis=axis, keepdims=keepdims)

    def backward(self, g):
        g = g if self.axis is None or self.keepdims else np.expand_dims(g, self.axis)
        return (np.broadcast_to(g, self.shape),)


@register("max")
class Max(Function):
    """z = max of x over axis;  dx = g at the (first) arg-max, 0 elsewhere"""
    def forward(self, x, axis=None, keepdims=False):
        if axis is not None and not isinstance(axis, (int, np.integer)):
            raise ValueError(f"max takes one integer axis or None, got {axis!r}")
        self.shape = x.shape
        self.work_shape, self.axis = ((x.size,), 0) if axis is None else (x.shape, axis)
        self.argmax = np.expand_dims(np.argmax(x.reshape(self.work_shape), axis=self.axis), self.axis)
        return x.max(axis=axis, keepdims=keepdims)

    def backward(self, g):
        dx = np.zeros(self.work_shape, dtype=g.dtype)
        np.put_along_axis(dx, self.argmax, g.reshape(self.argmax.shape), axis=self.axis)
        return (dx.reshape(self.shape),)


@register()
class Amax(Function):
    """z = max of x over axis (an int, a tuple or None);  dx = g shared evenly among the tied maxima, as
    torch.amax and tf.reduce_max share it (the Max op gives it all to the first, as max pooling does)"""
    def forward(self, x, axis=None, keepdims=False):
        out = np.max(x, axis=axis, keepdims=True)
        self.ties, self.keepdims = x == out, keepdims
        self.axis = tuple(range(x.ndim)) if axis is None else axis
        return out if keepdims else np.squeeze(out, axis=self.axis)

    def backward(self, g):
        g = g if self.keepdims else np.expand_dims(g, self.axis)
        return (g * self.ties / self.ties.sum(axis=self.axis, keepdims=True),)


@register("reshape")
class Reshape(Function):
    """z = x viewed with a new shape;  dx = g viewed with x's shape"""
    def forward(self, x, *shape):
        self.shape = x.shape
        return x.reshape(shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)

    def backward(self, g):
        return (g.reshape(self.shape),)


@register("transpose")
class Transpose(Function):
    """z = x with its axes permuted;  dx = g with the inverse permutation"""
    def forward(self, x, axes=None):
        self.inverse = None if axes is None else np.argsort(axes)
        return np.transpose(x, axes)

    def backward(self, g):
        return (np.transpose(g, self.inverse),)


@register("__getitem__")
class GetItem(Function):
    """z = x[index];  dx = zeros with g added at index (repeated indices add up)"""
    def forward(self, x, index):
        self.shape, self.index = x.shape, index.data if isinstance(index, Tensor) else index
        return x[self.index]

    def backward(self, g):
        dx = np.zeros(self.shape, dtype=g.dtype)
        np.add.at(dx, self.index, g)
        return (dx,)


@register("sliding_windows")
class SlidingWindows(Function):
    """z[b, t, j, ...] = x[b, t * stride + j * dilation, ...] for j < size (the windows along axis 1 that
    Conv1D and pooling look through);  dx = each window's g added back where it was read from"""
    def forward(self, x, size: int, stride: int = 1, dilation: int = 1):
        span = (size - 1) * dilation + 1
        if x.ndim < 2 or x.shape[1] < span:
            raise ValueError(f"windows of {size} steps (spanning {span} with dilation {dilation}) need an input "
                             f"of shape (batch, at least {span} steps, ...), got shape {x.shape}")
        self.shape, self.size, self.stride, self.dilation = x.shape, size, stride, dilation
        self.count = (x.shape[1] - span) // stride + 1
        views = np.lib.stride_tricks.sliding_window_view(x, span, axis=1)  # (batch, steps - span + 1, ..., span)
        return np.moveaxis(views[:, ::stride, ..., ::dilation], -1, 2)  # a read-only view: no copy

    def backward(self, g):
        dx = np.zeros(self.shape, g.dtype)
        last = (self.count - 1) * self.stride + 1
        for j in range(self.size):  # a loop over the window's few positions, each one vectorised slice
            start = j * self.dilation
            dx[:, start:start + last:self.stride] += g[:, :, j]
        return (dx,)


def whole_numbers(indices: np.ndarray) -> np.ndarray:
    """Float ids as int64, as Keras casts them (a float Input feeds an Embedding in keras.io's Transformer
    example), after proving each value is a whole number: a cast would truncate 1.5 silently."""
    if indices.dtype.kind != "f":
        raise TypeError(f"embedding indices must be numbers (integers, or floats holding whole numbers), got an "
                        f"array of dtype {indices.dtype}")
    bad = ~np.isfinite(indices) | (indices != np.round(indices))
    if bad.any():
        position = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"embedding index {indices[position]!r} at position {position} is not a whole number: "
                         f"Embedding takes integer ids (floats are cast to integers only when they hold whole numbers)")
    return indices.astype(np.int64)


def validate_indices(indices: Any, input_dim: int) -> np.ndarray:
    """The index array itself (no copy; whole-number floats are cast), after proving every index is an
    integer in [0, input_dim): the kernels check no bounds, and numba wraps negative indices."""
    indices = np.asarray(indices)
    if indices.dtype.kind not in "iu":
        indices = whole_numbers(indices)
    if indices.size and (indices.min() < 0 or indices.max() >= input_dim):  # min/max: no temporary arrays
        position = tuple(int(i) for i in np.argwhere((indices < 0) | (indices >= input_dim))[0])
        raise IndexError(f"embedding index {indices[position]} at position {position} is out of range for input_dim="
                         f"{input_dim} (valid: 0 to {input_dim - 1}). The usual cause: with index 0 kept for padding, "
                         "input_dim must be the vocabulary size + 1 (Keras's Tokenizer(num_words) emits indices up "
                         "to num_words - 1, so Embedding(num_words, ...) fits it).")
    return indices


def check_indices(indices: Any, input_dim: int) -> np.ndarray:
    """validate_indices, then the indices as flat intp, the type the kernels take."""
    return validate_indices(indices, input_dim).astype(np.intp).reshape(-1)


@register()
class Gather(Function):
    """z[..., :] = W[idx[...], :];  dW = zeros with each row of g added into row idx (a scatter-add)"""
    def forward(self, table, indices):
        indices = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
        if table.ndim != 2:
            raise ValueError(f"an embedding table must be 2-D (input_dim, output_dim), got shape {table.shape}")
        self.table_shape, self.flat = table.shape, check_indices(indices, table.shape[0])
        out = np.empty((self.flat.size, table.shape[1]), table.dtype)
        kernels.gather(out, np.ascontiguousarray(table), self.flat)
        return out.reshape(indices.shape + (table.shape[1],))

    def backward(self, g):
        table_grad = np.zeros(self.table_shape, g.dtype)
        kernels.scatter_add(table_grad, self.flat, np.ascontiguousarray(g.reshape(-1, self.table_shape[1])))
        return (table_grad,)


class Concatenate(Function):
    """z = [x1, x2, ...] joined along axis;  dx_i = the slice of g that x_i became"""
    arity = None

    def forward(self, *xs, axis=0):
        self.axis, self.ends = axis, np.cumsum([x.shape[axis] for x in xs])
        return np.concatenate(xs, axis=axis)

    def backward(self, g):
        return np.split(g, self.ends[:-1], axis=self.axis)


register()(Concatenate)


def concatenate(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis, as np.concatenate."""
    if len(tensors) == 0:
        raise ValueError("concatenate needs at least one tensor")
    return Concatenate.apply(*tensors, axis=axis)


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along a new axis, as np.stack: each gains an axis of length 1, then concatenate."""
    if len(tensors) == 0:
        raise ValueError("stack needs at least one tensor")
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    position = axis if axis >= 0 else axis + tensors[0].ndim + 1
    return concatenate([t.reshape(t.shape[:position] + (1,) + t.shape[position:]) for t in tensors], axis)
