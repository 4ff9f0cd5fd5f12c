"""The ops the Transformer's layers need (layers/multi_head_attention.py, attention.py, einsum_dense.py,
normalization.py), apart from the core ops in functions.py: `Einsum`, every product over named axes as one
batched matrix product, `MaskedSoftmax`, Keras's Softmax with a mask fused into one op, `LayerNorm`, and
`DotProductAttention`, MultiHeadAttention's product, softmax and product fused, and `SelfAttention`, that and
the layer's projections of one input, fused again. All are registered in OPS as
every op is, so the gradient property tests (tests/op_specs.py) and the coverage meta-test see them.
"""
from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from . import attention_kernels
from .functions import Function, register, unbroadcast
from .fused_rnn import batch_blocks, side_by_side
from .tensor import Tensor


def einsum_subscripts(equation: Any, x: np.ndarray, y: np.ndarray) -> tuple[str, str, str]:
    """The subscripts of a two-operand einsum ("abc,cde->abde"), checked against the operands: letters only,
    none repeated within a term, each input letter in the other input or the output (so that each gradient
    is itself an einsum), and one size per letter."""
    if not isinstance(equation, str) or equation.count(",") != 1 or equation.count("->") != 1:
        raise ValueError(f"einsum takes an equation of two operands and an explicit output, e.g. 'ab,bc->ac', "
                         f"got {equation!r}")
    inputs, out = equation.replace(" ", "").split("->")
    a, b = inputs.split(",")
    sizes: dict[str, int] = {}
    for term, array, which in ((a, x, "first"), (b, y, "second")):
        if not term.isalpha() or len(set(term)) != len(term) or len(term) != array.ndim:
            raise ValueError(f"einsum {equation!r}: the {which} operand's subscripts {term!r} must be distinct "
                             f"letters, one per axis of its shape {array.shape}")
        for letter, size in zip(term, array.shape):
            if sizes.setdefault(letter, size) != size:
                raise ValueError(f"einsum {equation!r}: subscript {letter!r} has size {sizes[letter]} in the first "
                                 f"operand (shape {x.shape}) and {size} in the second (shape {y.shape})")
    if not (out.isalpha() or out == "") or len(set(out)) != len(out) or set(out) - set(a + b):
        raise ValueError(f"einsum {equation!r}: the output's subscripts {out!r} must be distinct letters of the inputs")
    if set(a) - set(b + out) or set(b) - set(a + out):
        raise ValueError(f"einsum {equation!r}: a letter of one operand must also be in the other or in the output")
    return a, b, out


def blas_ordered(m: np.ndarray) -> np.ndarray:
    """m itself when each of its matrices has rows (or columns) one after another, each in unit steps, as BLAS
    reads them (a gap between rows is its leading dimension; Fortran order it transposes for free: the
    attention's scores as (keys, queries) in the value's gradient save a 10 MB copy), else a C-order copy."""
    if rows_in_blas_order(m) or rows_in_blas_order(m.swapaxes(-1, -2)):
        return m
    return np.ascontiguousarray(m)


def rows_in_blas_order(m: np.ndarray) -> bool:
    """Whether each matrix of m is rows of unit-step entries, a row at least a row's length from the next."""
    rows, columns = m.strides[-2:]
    return columns == m.itemsize and rows >= m.itemsize * m.shape[-1] and rows % m.itemsize == 0


def product(z: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
    """z = x @ y for (..., M, K) and (..., K, N), each matrix as blas_ordered leaves it, z's in rows: blocks
    of the first batch axis (of one matrix's rows when the batch is one matrix) side by side, a thread per
    core, BLAS held to one thread in each (fused_rnn.side_by_side).
    Why not one np.matmul: it calls BLAS once per matrix of the batch (64 per attention product here), and a
    threaded BLAS wakes its threads on every call; on a busy machine each wake-up waits for a time slice,
    which made one attention product take 0.1 to 1.5 s instead of 5 ms. Operands in BLAS's orders, since
    np.matmul falls back to numpy's own loops, slower still, on any other view."""
    if z.ndim == 3 and len(z) == 1:
        side_by_side([partial(np.matmul, x[:, s], y, out=z[:, s]) for s in batch_blocks(z.shape[1])])
    else:
        side_by_side([partial(np.matmul, x[s], y[s], out=z[s]) for s in batch_blocks(len(z))])


def contract(x: np.ndarray, y: np.ndarray, a: str, b: str, out: str) -> np.ndarray:
    """einsum(f"{a},{b}->{out}", x, y) as one batched matrix product, for subscripts einsum_subscripts passed:
    (shared letters kept, x's own, the summed ones) @ (shared kept, summed, y's own), into the output's order.
    Why: numpy's einsum runs a product with batch letters (attention's scores) in its own loops, some 50
    times slower than BLAS; the product itself runs in `product`. The kept letters stay axes of their own
    and the product writes into a view of the output where BLAS can: merging them, or transposing the
    output after, would copy the operands (heads between batch and steps) and the output each time."""
    size = dict(zip(a, x.shape)) | dict(zip(b, y.shape))
    kept = [c for c in a if c in b and c in out]
    summed, own_x, own_y = [c for c in a if c in b and c not in out], [c for c in a if c not in b], \
        [c for c in b if c not in a]
    order = kept + own_x + own_y
    if order != list(out) and [c for c in b if c in a and c in out] + own_y + own_x == list(out):
        return contract(y, x, b, a, out)  # y @ x gives the output's order as it is, with no copy to transpose
    count = lambda letters: int(np.prod([size[c] for c in letters]))  # noqa: E731
    batch = [size[c] for c in kept] or [1]
    x = x.transpose([a.index(c) for c in kept + own_x + summed]).reshape(*batch, count(own_x), count(summed))
    y = y.transpose([b.index(c) for c in kept + summed + own_y]).reshape(*batch, count(summed), count(own_y))
    z = np.empty([size[c] for c in out], np.result_type(x, y))
    shape = (*batch, x.shape[-2], y.shape[-1])
    into = output_view(z, [out.index(c) for c in order], shape)
    if into is not None:
        product(into, blas_ordered(x), blas_ordered(y))
        return z  # C order, so that the next product copies nothing
    into = np.empty(shape, z.dtype)
    product(into, blas_ordered(x), blas_ordered(y))
    return np.ascontiguousarray(into.reshape([size[c] for c in order]).transpose([order.index(c) for c in out]))


def output_view(z: np.ndarray, axes: list[int], shape: tuple[int, ...]) -> np.ndarray | None:
    """z's axes in this order, as matrices of this shape, when that is a view whose rows BLAS can write in
    place; None when it would take a copy (z is then the product's own array, C order)."""
    view = z.transpose(axes).reshape(shape)  # a copy when the axes do not merge: then its base is not z
    return view if view.base is z and rows_in_blas_order(view) else None


@register()
class Einsum(Function):
    """z = einsum("a,b->o", x, y);  dx = einsum("o,b->a", g, y), dy = einsum("a,o->b", x, g)"""
    # One op for every product the attention layers take (projections onto heads, scores over any axes)
    arity = 2

    def forward(self, x, y, equation: str):
        self.a, self.b, self.out = einsum_subscripts(equation, x, y)
        self.x, self.y = x, y
        return contract(x, y, self.a, self.b, self.out)

    def backward(self, g):
        return contract(g, self.y, self.out, self.b, self.a), contract(self.x, g, self.a, self.out, self.b)


LARGE_NEGATIVE = -1e9  # what Keras's Softmax puts in place of a masked score (float16 aside)


def check_softmax_mask(mask: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A mask as bool (True: keep; numbers: > 0.5, as Keras), after proving it broadcasts to the scores' shape
    with no axis of its own: each of its sizes 1 or the scores'."""
    mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if mask.ndim > len(shape) or any(m not in (1, n) for m, n in zip(mask.shape[::-1], shape[::-1])):
        raise ValueError(f"a softmax mask must broadcast to the scores' shape {shape} (each size 1 or equal, no "
                         f"more axes), got a mask of shape {mask.shape}")
    return mask if mask.dtype == bool else mask > 0.5


def softmax_into(e: np.ndarray, x: np.ndarray, keep: np.ndarray | None, axis: Any) -> None:
    """e = softmax(x) over axis, where keep is True (or everywhere when keep is None), 0 elsewhere; a masked
    score counts as -1e9, so a row masked throughout gives zeros. In place in e, as each step: the scores are
    the step's largest array, and each pass over it costs a read and a write of 10 MB."""
    drop = None if keep is None else ~keep
    if drop is None:
        np.subtract(x, x.max(axis=axis, keepdims=True), out=e)
    else:
        np.copyto(e, x)
        np.copyto(e, LARGE_NEGATIVE, where=drop)
        e -= e.max(axis=axis, keepdims=True)
    np.exp(e, out=e)
    e /= sum_over(e, (e.ndim - 1,)) if axis in (-1, e.ndim - 1) else e.sum(axis=axis, keepdims=True)
    if drop is not None:
        np.copyto(e, 0, where=drop)


def softmax_gradient_into(dx: np.ndarray, g: np.ndarray, z: np.ndarray, axis: Any) -> None:
    """dx = z * (g - sum(g * z) over axis), in place in dx."""
    np.multiply(g, z, out=dx)
    np.subtract(g, dx.sum(axis=axis, keepdims=True), out=dx)
    dx *= z


def leading_blocks(shape: tuple[int, ...], axis: Any) -> list[slice]:
    """Blocks of the first axis, one per core, when the softmax is not taken over it (else the whole)."""
    axes = axis if isinstance(axis, tuple) else (axis,)  # out of range: numpy's own AxisError, in the block
    return [slice(None)] if not shape or any(a % len(shape) == 0 for a in axes) else batch_blocks(shape[0])


@register()
class MaskedSoftmax(Function):
    """z = mask * softmax(where(mask, x, -1e9)) over axis;  dx = z * (g - sum(g * z) over axis)"""
    # Keras's Softmax layer with a mask: a fully masked row gives zeros (never NaN, never uniform weights),
    # and no gradient reaches a masked score. One op: composed, where/exp/sum/div keep four arrays alive.
    # Each block of the batch on a core of its own (the passes are memory-bound numpy loops, GIL released).
    def forward(self, x, mask, axis=-1):
        mask, x = check_softmax_mask(mask, x.shape), x if x.dtype.kind == "f" else x.astype(np.float64)  # as np.exp
        keep = None if mask.all() else np.broadcast_to(mask, x.shape)  # nothing masked: no wheres to copy x
        e = np.empty_like(x)
        side_by_side([partial(softmax_into, e[s], x[s], None if keep is None else keep[s], axis)
                      for s in leading_blocks(x.shape, axis)])
        self.out, self.axis = e, axis
        return e

    def backward(self, g):
        dx = np.empty_like(self.out)
        side_by_side([partial(softmax_gradient_into, dx[s], g[s], self.out[s], self.axis)
                      for s in leading_blocks(g.shape, self.axis)])
        return (dx,)


def rows_of(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray | None:
    """a as 2-D rows over axes, its last ones, for attention_kernels.scale_rows: a C-order float32 or float64
    array only (else None: numba would compile for every other type and layout)."""
    if axes != tuple(range(a.ndim - len(axes), a.ndim)) or not a.size or not a.flags.c_contiguous or \
            a.dtype not in (np.float32, np.float64):
        return None
    return a.reshape(-1, int(np.prod(a.shape[a.ndim - len(axes):])))


def scale_rows(out: np.ndarray, x: np.ndarray, shift: Any = None, scale: Any = None, gamma: Any = None,
               beta: Any = None) -> np.ndarray:
    """out = (x - shift) scale gamma + beta for 2-D rows x (shift and scale one per row, gamma and beta one per
    column or one for all), by attention_kernels.scale_rows; a missing shift or beta is 0, scale or gamma 1."""
    (count, n), dtype = x.shape, x.dtype
    one_each = lambda w, size, fill: np.full(size, fill, dtype) if w is None else \
        np.ascontiguousarray(np.broadcast_to(np.asarray(w, dtype).reshape(-1), (size,)))  # noqa: E731
    attention_kernels.scale_rows(out, x, one_each(shift, count, 0), one_each(scale, count, 1),
                                 one_each(gamma, n, 1), one_each(beta, n, 0))
    return out


def sum_over(a: np.ndarray, axes: tuple[int, ...], mean: bool = False) -> np.ndarray:
    """a's sum (or mean) over axes, kept as axes of 1. Over a C-order array's last axes by np.einsum: numpy's
    sum over a short last axis pays per row (150 us for the 6,400 rows of 32 of a Transformer step), einsum's
    loop a fifth of that. (A product with a column of ones is faster still, alone, but wakes BLAS's threads,
    which then spin beside side_by_side's: a Transformer step took 41 ms instead of 28.)"""
    n, kept = np.prod([a.shape[i] for i in axes]), a.shape[:a.ndim - len(axes)] + (1,) * len(axes)
    if axes == tuple(range(a.ndim - len(axes), a.ndim)) and a.flags.c_contiguous and a.dtype.kind == "f" and n:
        total = np.einsum("ij->i", a.reshape(-1, n)).reshape(kept)
    else:
        total = a.sum(axis=axes, keepdims=True)
    return total * np.asarray(1 / n, a.dtype) if mean else total


@register()
class LayerNorm(Function):
    """z = (x - mean) (var + eps)^-1/2 gamma + beta over axes, xh its first factors;  dgamma = g xh, dbeta = g,
    dx = (var + eps)^-1/2 (g gamma - mean(g gamma) - xh mean(g gamma xh)), means over axes"""
    # LayerNormalization as one op: its ten composed ops (mean, subtract, square, mean, add, power, multiply,
    # multiply, add) kept as many activation-sized arrays and passes, and their means summed row by row.
    # Over the last axes of float32 or float64 rows, its broadcasts are attention_kernels.scale_rows passes.
    arity = 3

    def forward(self, x, gamma, beta, axes: tuple[int, ...], epsilon: float):
        self.gamma, self.beta_shape, self.axes, self.shape = gamma, np.shape(beta), axes, x.shape
        rows = rows_of(x, axes) if np.result_type(x, gamma, beta) == x.dtype else None
        if rows is None:  # over other axes, or of other types: numpy's broadcasts
            centered = x - sum_over(x, axes, mean=True)
            variance = sum_over(centered * centered, axes, mean=True)
            self.scale, self.rows = (variance + np.asarray(epsilon, variance.dtype)) ** -0.5, False
            self.normalized = centered * self.scale
            return self.normalized * gamma + beta
        share = x.dtype.type(1 / rows.shape[1])
        centered = scale_rows(np.empty_like(rows), rows, shift=np.einsum("ij->i", rows) * share)
        self.scale = (np.einsum("ij,ij->i", centered, centered) * share + x.dtype.type(epsilon)) ** x.dtype.type(-0.5)
        self.normalized, self.rows = scale_rows(np.empty_like(rows), centered, scale=self.scale), True
        return scale_rows(centered, self.normalized, gamma=gamma, beta=beta).reshape(x.shape)

    def backward(self, g):
        xh = self.normalized
        if self.rows:  # dx = ((g gamma - xh m2) - m1) scale, m1 and m2 the means, in three passes
            g = np.ascontiguousarray(g).reshape(xh.shape)
            dxh, share = scale_rows(np.empty_like(g), g, gamma=self.gamma), g.dtype.type(1 / xh.shape[1])
            dx = scale_rows(np.empty_like(g), xh, scale=np.einsum("ij,ij->i", dxh, xh) * share)
            m1 = np.einsum("ij->i", dxh) * share
            dx = scale_rows(dx, np.subtract(dxh, dx, out=dxh), shift=m1, scale=self.scale)
            g, xh, dx = (a.reshape(self.shape) for a in (g, xh, dx))
        else:
            dxh = g * self.gamma
            dx = dxh - sum_over(dxh, self.axes, mean=True)
            dx -= xh * sum_over(dxh * xh, self.axes, mean=True)
            dx *= self.scale
        return dx, unbroadcast(g * xh, np.shape(self.gamma)), unbroadcast(g, self.beta_shape)


def keys_by_queries(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A mask that broadcasts to the scores' (batch, heads, queries, keys) as the kernels read it: (batch or 1,
    heads or 1, keys, queries or 1), C order, the keys' axis whole."""
    mask = mask.reshape((1,) * (4 - mask.ndim) + mask.shape)
    return np.ascontiguousarray(np.broadcast_to(mask, mask.shape[:3] + shape[3:]).swapaxes(2, 3))


@register()
class DotProductAttention(Function):
    """z = P v, P = mask * softmax(where(mask, scale q k, -1e9)) over the keys, per batch row and head;
    dv = P g, dq = dS k, dk = dS q with dS = scale P (g v - sum(P g v) over the keys)"""
    # MultiHeadAttention's Einsum -> MaskedSoftmax -> Einsum as one op, compiled (attention_kernels.py), a block
    # of batch rows per core: a head's scores stay in cache from one product through the softmax to the next,
    # and no pass returns to Python. In a step of keras.io's classifier the
    # three ops took 21 ms, numpy's fused op 13, this one 8 (benchmarks/RESULTS.md). Proven equal to the
    # composed ops in tests/test_attention.py; the layer falls back on them for what this does not take
    # (dropout on the scores, returning them, several attention axes).
    arity = 3

    def forward(self, q, k, v, mask, scale=1.0):
        if not (q.ndim == k.ndim == v.ndim == 4 and q.shape[:1] + q.shape[2:] == k.shape[:1] + k.shape[2:]
                and k.shape[:3] == v.shape[:3]):
            raise ValueError(f"DotProductAttention takes q (batch, T, heads, c), k (batch, S, heads, c) and v "
                             f"(batch, S, heads, e); got shapes {q.shape}, {k.shape}, {v.shape}")
        (batch, steps, heads, _), keys = q.shape, k.shape[1]
        keep = keys_by_queries(check_softmax_mask(mask, (batch, heads, steps, keys)), (batch, heads, steps, keys))
        dtype = np.result_type(q, k, v, np.float32)
        q, k, v = (a if a.dtype == dtype else a.astype(dtype) for a in (q, k, v))  # the kernels take one type
        z = np.empty((batch, steps, heads, v.shape[3]), dtype)
        p = np.empty((batch, heads, keys, steps) if self.needs_backward else (0, 0, keys, steps), dtype)
        scale = dtype.type(scale)
        side_by_side([partial(attention_kernels.attention_forward, z, p, q, k, v, keep, scale, s.start, s.stop)
                      for s in batch_blocks(batch)])
        self.saved = p, q, k, v, scale
        return z

    def backward(self, g):
        p, q, k, v, scale = self.saved
        dq, dk, dv, g = np.empty_like(q), np.empty_like(k), np.empty_like(v), np.ascontiguousarray(g, p.dtype)
        side_by_side([partial(attention_kernels.attention_backward, dq, dk, dv, g, p, q, k, v, scale, s.start, s.stop)
                      for s in batch_blocks(len(g))])
        return dq, dk, dv


@register()
class SelfAttention(Function):
    """z = concat_h(P_h v_h) wo + bo, q | k | v = x w + b packed on the last axis, P_h = mask * softmax(where(mask,
    scale q_h k_h, -1e9)) over the keys; the gradients DotProductAttention's, through the three products"""
    # MultiHeadAttention called on one tensor (keras.io's Transformer), projections and attention as one op,
    # compiled a review at a time (attention_kernels.py): its q, k and v, scores and heads' outputs stay in
    # cache from one product to the next, where an Einsum, DotProductAttention and an Einsum passed a 4.9 MB
    # packed array and two activation-sized ones through memory (in a 6.7 ms validation batch, 4.3 -> 3.3 ms).
    # Proven equal to those ops in tests/test_attention.py.
    arity = 5

    def forward(self, x, w, b, wo, bo, mask, channels: int, scale=1.0):
        if x.ndim != 3 or b.ndim != 2 or wo.ndim != 3 or not 0 < 2 * channels < b.shape[1] or bo.shape != wo.shape[2:] \
                or w.shape != x.shape[2:] + b.shape or wo.shape[:2] != (b.shape[0], b.shape[1] - 2 * channels):
            raise ValueError(f"SelfAttention takes x (batch, T, d), w (d, heads, c + c + e), b (heads, c + c + e), "
                             f"wo (heads, e, f) and bo (f,) with c = channels = {channels} and e > 0; got shapes "
                             f"{x.shape}, {w.shape}, {b.shape}, {wo.shape}, {bo.shape}")
        (batch, steps, features), (heads, width) = x.shape, b.shape
        self.given = [(a.shape, a.dtype) for a in (x, w, b, wo, bo)]  # the gradients' shapes and types
        dtype = np.result_type(x, w, b, wo, bo, np.float32)
        x, w, b, wo, bo = (np.ascontiguousarray(a, dtype) for a in (x, w, b, wo, bo))  # the kernels take one type
        w, b, wo = w.reshape(features, -1), b.reshape(-1), wo.reshape(-1, wo.shape[2])
        keep = keys_by_queries(check_softmax_mask(mask, (batch, heads, steps, steps)), (batch, heads, steps, steps))
        kept = batch if self.needs_backward else 0
        qkv, p = np.empty((kept, steps, heads, width), dtype), np.empty((kept, heads, steps, steps), dtype)
        z, out = np.empty((kept, steps, heads, wo.shape[0] // heads), dtype), np.empty((batch, steps, wo.shape[1]), dtype)
        side_by_side([partial(attention_kernels.self_attention_forward, out, qkv, p, z, x, w, b, wo, bo, keep,
                              channels, dtype.type(scale), s.start, s.stop) for s in batch_blocks(batch)])
        self.saved = qkv, p, z, x, w, wo, channels, dtype.type(scale)
        return out

    def backward(self, g):
        qkv, p, z, x, w, wo, channels, scale = self.saved
        blocks, dx, g = batch_blocks(len(g)), np.empty_like(x), np.ascontiguousarray(g, x.dtype)
        sums = [[np.zeros(shape, x.dtype) for shape in (w.shape, w.shape[1:], wo.shape, wo.shape[1:])] for _ in blocks]
        side_by_side([partial(attention_kernels.self_attention_backward, dx, *block_sums, g, qkv, p, z, x, w, wo,
                              channels, scale, s.start, s.stop) for block_sums, s in zip(sums, blocks)])
        grads = [dx, *(sum(block[i] for block in sums) for i in range(4))]  # the blocks' sums in a fixed order
        return [d.reshape(shape).astype(dtype, copy=False) for d, (shape, dtype) in zip(grads, self.given)]
