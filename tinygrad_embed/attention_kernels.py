"""The attention's numba kernels (MultiHeadAttention's fused op, attention_functions.DotProductAttention),
each beside its plain-numpy twin, on kernels.py's terms: plain arrays, the output first, the GIL released, the
inputs trusted (the op checks them), the products through kernels.matmul.
"""
import llvmlite.ir
import numba
import numpy as np

from .kernels import _ONE, FASTMATH, matmul

# The scores of one batch row and head are kept as (keys, queries), P transposed: the softmax over the keys
# then runs down the columns, so that its max and sum are element-wise loops over a row of queries, which
# LLVM vectorises in a fixed order (along a row, a max does not vectorise and a sum needs fastmath's reassoc,
# which FASTMATH leaves out), and each product is one BLAS call on the arrays' own views. float32's exp is
# Cephes's expf, plain arithmetic that vectorises (within 1.2e-7 relative of e^x; tests/test_kernels.py);
# float64 stays exact.
_LOG2E, _LN2_HI, _LN2_LO = np.float32(1.44269504088896341), np.float32(0.693359375), np.float32(-2.12194440e-4)
E5, E4, E3, E2, E1, E0 = (np.float32(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3,
                                                  4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1))
_EXP_LOW, _HALF, _ZERO = np.float32(-87.3), np.float32(0.5), np.float32(0)


@numba.extending.intrinsic
def _float32_bits(typingctx, bits):
    """The float32 whose bits are this int32 (2^n is (n + 127) << 23): no scalar bit cast in numba itself."""
    return numba.types.float32(numba.types.int32), lambda context, builder, sig, args: builder.bitcast(
        args[0], llvmlite.ir.FloatType())


@numba.njit(inline="always", fastmath=FASTMATH, error_model="numpy")
def exp_float32(x):
    """e^x = 2^n e^r, n = round(x / ln 2), |r| <= ln 2 / 2, e^r a degree-7 polynomial; 0 below -87.3 (for the
    softmax's x <= 0, where 2^n would leave float32's normal range); a NaN stays NaN."""
    clamped = _EXP_LOW if x < _EXP_LOW else x
    n = np.floor(clamped * _LOG2E + _HALF)
    r = clamped - n * _LN2_HI - n * _LN2_LO
    y = (((((E5 * r + E4) * r + E3) * r + E2) * r + E1) * r + E0) * (r * r) + r + _ONE
    return _ZERO if x < _EXP_LOW else y * _float32_bits((np.int32(n) + np.int32(127)) << np.int32(23))


def softmax_exp(x):
    """e^x as the attention kernels compute it: exp_float32 in float32, exact in float64."""
    return np.exp(x)


@numba.extending.overload(softmax_exp)
def _softmax_exp_for(x):
    return (lambda x: exp_float32(x)) if x == numba.types.float32 else (lambda x: np.exp(x))


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def softmax_columns(s, keep, scale, top, total):
    """s[:, t] = softmax(scale s[:, t]) over the rows kept (keep[j, t], or keep[j, 0] for every t), 0 elsewhere
    and in a column masked throughout; top and total are scratch of a row's length."""
    (keys, steps), each = s.shape, keep.shape[1] > 1  # a mask per key and query, or per key alone
    top[:] = -np.inf
    for j in range(keys):
        row, kept = s[j], keep[j]
        if each:
            for t in range(steps):
                top[t] = row[t] if kept[t] and row[t] > top[t] else top[t]
        elif kept[0]:
            for t in range(steps):
                top[t] = row[t] if row[t] > top[t] else top[t]
    for t in range(steps):
        top[t] *= scale
        total[t] = 0
    for j in range(keys):
        row, kept = s[j], keep[j]
        if each:
            for t in range(steps):
                row[t] = softmax_exp(row[t] * scale - top[t]) if kept[t] else _ZERO
                total[t] += row[t]
        elif kept[0]:
            for t in range(steps):
                row[t] = softmax_exp(row[t] * scale - top[t])
                total[t] += row[t]
        else:
            row[:] = 0
    for t in range(steps):
        total[t] = _ZERO if total[t] == 0 else _ONE / total[t]  # a column masked throughout: zeros; NaN stays
    for j in range(keys):
        row = s[j]
        for t in range(steps):
            row[t] *= total[t]


def softmax_columns_numpy(s, keep, scale, top=None, total=None):
    kept = np.broadcast_to(keep, s.shape)
    top = np.where(kept, s, -np.inf).max(axis=0) * scale
    s[:] = np.where(kept, np.exp(s * scale - np.where(np.isinf(top), 0, top)), 0)
    total = s.sum(axis=0)
    s *= np.where(total == 0, 0, 1 / np.where(total == 0, 1, total))


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def attention_forward(z, p, q, k, v, keep, scale, lo, hi):
    """z[b, :, h] = P^T v[b, :, h], P = softmax over the keys of scale k q^T (keys, queries), masked by
    keep[b, h] (keys, queries or 1; each of keep's first two axes 1 or full), for the batch rows lo..hi and
    every head; P into p[b, h], or a scratch when p has no rows. q, k, v, z: (batch, steps, heads, channels)."""
    steps, heads, keys = q.shape[1], q.shape[2], k.shape[1]
    scratch, top, total = np.empty((keys, steps), z.dtype), np.empty(steps, z.dtype), np.empty(steps, z.dtype)
    for b in range(lo, hi):
        for h in range(heads):
            s = p[b, h] if p.shape[0] else scratch
            matmul(s, k[b, :, h], q[b, :, h].T)
            softmax_columns(s, keep[min(b, keep.shape[0] - 1), min(h, keep.shape[1] - 1)], scale, top, total)
            matmul(z[b, :, h], s.T, v[b, :, h])


def attention_forward_numpy(z, p, q, k, v, keep, scale, lo, hi):
    for b in range(lo, hi):
        for h in range(q.shape[2]):
            s = k[b, :, h] @ q[b, :, h].T
            softmax_columns_numpy(s, keep[min(b, len(keep) - 1), min(h, keep.shape[1] - 1)], scale)
            z[b, :, h] = s.T @ v[b, :, h]
            if len(p):
                p[b, h] = s


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def attention_backward(dq, dk, dv, g, p, q, k, v, scale, lo, hi):
    """The gradients of attention_forward for the batch rows lo..hi, from its P: dv = P g, dP = v g^T,
    dS = scale P (dP - sum(P dP) over the keys), dq = dS^T k, dk = dS q (all (keys, queries) as P)."""
    steps, heads, keys = q.shape[1], q.shape[2], k.shape[1]
    ds, through = np.empty((keys, steps), g.dtype), np.empty(steps, g.dtype)
    for b in range(lo, hi):
        for h in range(heads):
            pb, gb = p[b, h], g[b, :, h]
            matmul(dv[b, :, h], pb, gb)
            matmul(ds, v[b, :, h], gb.T)
            through[:] = 0
            for j in range(keys):
                for t in range(steps):
                    through[t] += pb[j, t] * ds[j, t]
            for j in range(keys):
                for t in range(steps):
                    ds[j, t] = (ds[j, t] - through[t]) * pb[j, t] * scale
            matmul(dq[b, :, h], ds.T, k[b, :, h])
            matmul(dk[b, :, h], ds, q[b, :, h])


def attention_backward_numpy(dq, dk, dv, g, p, q, k, v, scale, lo, hi):
    for b in range(lo, hi):
        for h in range(q.shape[2]):
            pb, gb = p[b, h], g[b, :, h]
            dv[b, :, h] = pb @ gb
            ds = v[b, :, h] @ gb.T
            ds = (ds - (pb * ds).sum(axis=0)) * pb * scale
            dq[b, :, h], dk[b, :, h] = ds.T @ k[b, :, h], ds @ q[b, :, h]
