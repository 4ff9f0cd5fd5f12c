"""The Transformer block's numba kernels (MultiHeadAttention's fused ops, attention_functions.DotProductAttention
and SelfAttention, and LayerNorm's row passes), each beside its plain-numpy twin, on kernels.py's terms: plain
arrays, the output first, the GIL released, the inputs trusted (the op checks them), the products through
kernels.matmul."""
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


@numba.njit(inline="always", nogil=True, fastmath=FASTMATH, error_model="numpy")
def attend_head(z, s, q, k, v, keep, scale, top, total):
    """z = P^T v for one batch row and head, P = softmax(scale k q^T) masked by keep, into s (keys, queries)."""
    matmul(s, k, q.T)
    softmax_columns(s, keep, scale, top, total)
    matmul(z, s.T, v)


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def attention_forward(z, p, q, k, v, keep, scale, lo, hi):
    """z[b, :, h] = P^T v[b, :, h], P = softmax over the keys of scale k q^T (keys, queries), masked by
    keep[b, h] (keys, queries or 1; each of keep's first two axes 1 or full), for the batch rows lo..hi and
    every head; P into p[b, h], or a scratch when p has no rows. q, k, v, z: (batch, steps, heads, channels)."""
    steps, heads, keys = q.shape[1], q.shape[2], k.shape[1]
    scratch, top, total = np.empty((keys, steps), z.dtype), np.empty(steps, z.dtype), np.empty(steps, z.dtype)
    for b in range(lo, hi):
        for h in range(heads):
            attend_head(z[b, :, h], p[b, h] if p.shape[0] else scratch, q[b, :, h], k[b, :, h], v[b, :, h],
                        keep[min(b, keep.shape[0] - 1), min(h, keep.shape[1] - 1)], scale, top, total)


def attention_forward_numpy(z, p, q, k, v, keep, scale, lo, hi):
    for b in range(lo, hi):
        for h in range(q.shape[2]):
            s = k[b, :, h] @ q[b, :, h].T
            softmax_columns_numpy(s, keep[min(b, len(keep) - 1), min(h, keep.shape[1] - 1)], scale)
            z[b, :, h] = s.T @ v[b, :, h]
            if len(p):
                p[b, h] = s


@numba.njit(inline="always", nogil=True, fastmath=FASTMATH, error_model="numpy")
def head_gradients(dq, dk, dv, ds, through, p, g, q, k, v, scale):
    """One batch row and head's gradients from its P (keys, queries): dv = P g, dP = v g^T, dS = scale P (dP -
    sum(P dP) over the keys), dq = dS^T k, dk = dS q; ds (keys, queries) and through (queries) are scratch."""
    keys, steps = p.shape
    matmul(dv, p, g)
    matmul(ds, v, g.T)
    through[:] = 0
    for j in range(keys):
        for t in range(steps):
            through[t] += p[j, t] * ds[j, t]
    for j in range(keys):
        for t in range(steps):
            ds[j, t] = (ds[j, t] - through[t]) * p[j, t] * scale
    matmul(dq, ds.T, k)
    matmul(dk, ds, q)


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def attention_backward(dq, dk, dv, g, p, q, k, v, scale, lo, hi):
    """The gradients of attention_forward for the batch rows lo..hi, from its P, a head at a time."""
    steps, heads, keys = q.shape[1], q.shape[2], k.shape[1]
    ds, through = np.empty((keys, steps), g.dtype), np.empty(steps, g.dtype)
    for b in range(lo, hi):
        for h in range(heads):
            head_gradients(dq[b, :, h], dk[b, :, h], dv[b, :, h], ds, through, p[b, h], g[b, :, h], q[b, :, h],
                           k[b, :, h], v[b, :, h], scale)


def attention_backward_numpy(dq, dk, dv, g, p, q, k, v, scale, lo, hi):
    for b in range(lo, hi):
        for h in range(q.shape[2]):
            pb, gb = p[b, h], g[b, :, h]
            dv[b, :, h] = pb @ gb
            ds = v[b, :, h] @ gb.T
            ds = (ds - (pb * ds).sum(axis=0)) * pb * scale
            dq[b, :, h], dk[b, :, h] = ds.T @ k[b, :, h], ds @ q[b, :, h]


# MultiHeadAttention on one input, a review at a time (SelfAttention in attention_functions.py): the packed
# projection x W + b, every head's attention and the output projection, so that the review's q, k and v, its
# scores and its heads' outputs stay in cache from one product to the next. w: (features, heads * (c + c + e)),
# bias: its columns, wo: (heads * e, outputs); qkv (batch, steps, heads, c + c + e), p and z (batch, steps,
# heads, e) keep what the gradients read, or have no rows (no backward to follow: a scratch instead).
@numba.njit(inline="always", nogil=True)
def add_bias(a, bias):
    """a[i] += bias for every row i."""
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            a[i, j] += bias[j]


@numba.njit(inline="always", nogil=True)
def add_column_sums(out, a):
    """out += the sums of a's columns (a bias's gradient)."""
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[j] += a[i, j]


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def self_attention_forward(out, qkv, p, z, x, w, bias, wo, bo, keep, c, scale, lo, hi):
    """out[b] = concat_h(P_h^T v_h) wo + bo, q | k | v = x[b] w + bias, for the batch rows lo..hi."""
    steps, heads, width, e = x.shape[1], qkv.shape[2], qkv.shape[3], z.shape[3]
    packed, heads_out = np.empty((steps, heads, width), x.dtype), np.empty((steps, heads, e), x.dtype)
    scratch, top, total = np.empty((steps, steps), x.dtype), np.empty(steps, x.dtype), np.empty(steps, x.dtype)
    for b in range(lo, hi):
        r, zb = qkv[b] if qkv.shape[0] else packed, z[b] if z.shape[0] else heads_out
        flat = r.reshape(steps, heads * width)
        matmul(flat, x[b], w)
        add_bias(flat, bias)
        for h in range(heads):
            attend_head(zb[:, h], p[b, h] if p.shape[0] else scratch, r[:, h, :c], r[:, h, c:2 * c], r[:, h, 2 * c:],
                        keep[min(b, keep.shape[0] - 1), min(h, keep.shape[1] - 1)], scale, top, total)
        matmul(out[b], zb.reshape(steps, heads * e), wo)
        add_bias(out[b], bo)


def self_attention_forward_numpy(out, qkv, p, z, x, w, bias, wo, bo, keep, c, scale, lo, hi):
    packed = (x @ w + bias).reshape(x.shape[:2] + qkv.shape[2:])
    heads_out = np.empty(x.shape[:2] + z.shape[2:], x.dtype)
    scores = np.empty((len(x), qkv.shape[2], x.shape[1], x.shape[1]), x.dtype)
    attention_forward_numpy(heads_out, scores, packed[..., :c], packed[..., c:2 * c], packed[..., 2 * c:], keep, scale,
                            lo, hi)
    out[lo:hi] = heads_out[lo:hi].reshape(hi - lo, x.shape[1], -1) @ wo + bo
    for saved, value in ((qkv, packed), (p, scores), (z, heads_out)):
        if len(saved):
            saved[lo:hi] = value[lo:hi]


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def self_attention_backward(dx, dw, dbias, dwo, dbo, g, qkv, p, z, x, w, wo, c, scale, lo, hi):
    """The gradients of self_attention_forward for the batch rows lo..hi, from its qkv, P and z: dx into its
    rows, dw, dbias, dwo and dbo added to (a block's own sums, which the op adds up)."""
    steps, heads, width, e = qkv.shape[1], qkv.shape[2], qkv.shape[3], z.shape[3]
    dz, d = np.empty((steps, heads, e), g.dtype), np.empty((steps, heads, width), g.dtype)
    ds, through = np.empty((steps, steps), g.dtype), np.empty(steps, g.dtype)
    for b in range(lo, hi):
        r, flat = qkv[b], d.reshape(steps, heads * width)
        matmul(dz.reshape(steps, heads * e), g[b], wo.T)
        matmul(dwo, z[b].reshape(steps, heads * e).T, g[b], True)
        add_column_sums(dbo, g[b])
        for h in range(heads):
            head_gradients(d[:, h, :c], d[:, h, c:2 * c], d[:, h, 2 * c:], ds, through, p[b, h], dz[:, h], r[:, h, :c],
                           r[:, h, c:2 * c], r[:, h, 2 * c:], scale)
        matmul(dw, x[b].T, flat, True)
        add_column_sums(dbias, flat)
        matmul(dx[b], flat, w.T)


def self_attention_backward_numpy(dx, dw, dbias, dwo, dbo, g, qkv, p, z, x, w, wo, c, scale, lo, hi):
    rows, d, dz = slice(lo, hi), np.zeros_like(qkv), np.zeros_like(z)
    dz[rows] = (g[rows] @ wo.T).reshape(dz[rows].shape)
    dwo += z[rows].reshape(-1, wo.shape[0]).T @ g[rows].reshape(-1, wo.shape[1])
    dbo += g[rows].sum(axis=(0, 1))
    attention_backward_numpy(d[..., :c], d[..., c:2 * c], d[..., 2 * c:], dz, p, qkv[..., :c], qkv[..., c:2 * c],
                             qkv[..., 2 * c:], scale, lo, hi)
    flat = d[rows].reshape(-1, w.shape[1])
    dw += x[rows].reshape(-1, x.shape[2]).T @ flat
    dbias += flat.sum(axis=0)
    dx[rows] = (flat @ w.T).reshape(dx[rows].shape)


# ---- Rows shifted and scaled: LayerNorm's broadcasts (attention_functions.LayerNorm) -------------
# numpy's x - m[:, None] or x * gamma pays per row: 60 us for the 6,400 rows of 32 of a Transformer step,
# three times a product of two arrays alike; one compiled pass takes a sixth of that.
@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def scale_rows(out, x, shift, scale, gamma, beta):
    """out[i, j] = (x[i, j] - shift[i]) scale[i] gamma[j] + beta[j] for a 2-D x. out is not x: LLVM's check for
    overlapping arrays then falls back on scalar code, seven times slower."""
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i, j] = (x[i, j] - shift[i]) * scale[i] * gamma[j] + beta[j]


def scale_rows_numpy(out, x, shift, scale, gamma, beta):
    np.add((x - shift[:, None]) * scale[:, None] * gamma, beta, out=out)
