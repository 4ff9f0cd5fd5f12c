"""The numba kernels (the attention's: attention_kernels.py), each beside the numpy twin tests compare it with.

Kernels take plain arrays, the output buffer first, and never see a Tensor. They release the GIL, so that
blocks of a batch's rows run side by side in threads (fused_rnn.side_by_side). They trust their inputs:
numba checks no bounds and wraps negative indices, so the callers validate first (functions.Gather does)."""
import numba
import numpy as np

from .blas import DGEMM, KERNEL_FAMILY, NO_TRANSPOSE, ROW_MAJOR, SGEMM, TRANSPOSE


@numba.njit(cache=True, nogil=True)
def gather(out, table, indices):
    """out[k, :] = table[indices[k], :] for each position k of a flat index array."""
    for k in range(indices.shape[0]):
        row = indices[k]
        for j in range(table.shape[1]):
            out[k, j] = table[row, j]


def gather_numpy(out, table, indices):
    np.take(table, indices, axis=0, out=out)


@numba.njit(cache=True, nogil=True)
def scatter_add(out, indices, rows):
    """out[indices[k], :] += rows[k, :] for each k in order, so repeated indices accumulate. Serial on purpose: a
    fixed order of additions gives the same bits on every run (32,000 rows of 32 take well under a millisecond)."""
    for k in range(indices.shape[0]):
        row = indices[k]
        for j in range(rows.shape[1]):
            out[row, j] += rows[k, j]


def scatter_add_numpy(out, indices, rows):
    np.add.at(out, indices, rows)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def adam_update(value, m, v, v_hat, grad, keep_1, keep_2, step_size, epsilon):
    """optimizers.Adam's step on flat arrays in one pass, in its order of operations; v_hat (amsgrad) when not empty."""
    for i in range(value.size):
        m[i] += (grad[i] - m[i]) * keep_1
        v[i] += (grad[i] * grad[i] - v[i]) * keep_2
        if v_hat.size:
            v_hat[i] = max(v_hat[i], v[i])
        value[i] -= m[i] * step_size / (np.sqrt(v_hat[i] if v_hat.size else v[i]) + epsilon)


def adam_update_numpy(value, m, v, v_hat, grad, keep_1, keep_2, step_size, epsilon):
    m += (grad - m) * keep_1
    v += (np.square(grad) - v) * keep_2
    if v_hat.size:
        np.maximum(v_hat, v, out=v_hat)
    value -= m * step_size / (np.sqrt(v_hat if v_hat.size else v) + epsilon)


# ---- The LSTM cell, one time step at a time (the matrix products stay in numpy, outside) ----------
# The pip builds of numba have no SVML: np.exp and np.tanh in a kernel are scalar library calls,
# slower than the matrix products they sit between. So float32 uses a rational approximation of
# tanh, plain arithmetic that LLVM vectorises (within 3.2e-7 of the true tanh, about float32's own
# rounding; see tests/test_kernels.py), while float64, which the gradient checks use, stays exact.
# error_model="numpy" lets a division by zero give inf instead of a check that blocks vectorising;
# these fastmath flags leave out nnan and ninf so that a NaN in training still shows up, and reassoc, which
# let a kernel compiled in this process round differently from the same kernel loaded from numba's cache
# (lstm_backward_steps: a first run, cold cache, and the next ones trained different weights).
FASTMATH = {"nsz", "arcp", "contract", "afn"}
_TANH_LIMIT = np.float32(7.90531110763549805)  # tanh rounds to +-1 in float32 beyond this
_ONE = np.float32(1)
# Odd numerator and even denominator coefficients, lowest power first: the minimax rational fit that
# Eigen uses for its float32 tanh.
_P = [np.float32(c) for c in (4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05,
                              5.12229709037114e-08, -8.60467152213735e-11, 2.00018790482477e-13,
                              -2.76076847742355e-16)]
_Q = [np.float32(c) for c in (4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04,
                              1.19825839466702e-06)]
P1, P3, P5, P7, P9, P11, P13 = _P
Q0, Q2, Q4, Q6 = _Q


@numba.njit(inline="always", fastmath=FASTMATH, error_model="numpy")
def tanh_float32(x):
    x2 = x * x
    p = ((((((P13 * x2 + P11) * x2 + P9) * x2 + P7) * x2 + P5) * x2 + P3) * x2 + P1) * x
    tanh = p / (((Q6 * x2 + Q4) * x2 + Q2) * x2 + Q0)
    # Beyond the limit, exactly +-1 as numpy's tanh gives (the rational function, rounded with FMA, stops
    # 2.4e-7 short of 1, and at large |x| overflows to inf / inf), so that inf * (1 - tanh^2) is NaN as in
    # float64. NaN fails both comparisons and keeps the arithmetic's NaN (docs/nothing-silent.md).
    tanh = _ONE if x > _TANH_LIMIT else tanh
    return -_ONE if x < -_TANH_LIMIT else tanh


def gate_tanh(x):
    """tanh as the LSTM kernels compute it: the float32 approximation above, exact in float64."""
    return np.tanh(x)


def gate_sigmoid(x):
    """1 / (1 + e^-x), written 0.5 + 0.5 tanh(x / 2) in float32 so that it vectorises."""
    return 1 / (1 + np.exp(-x))


@numba.extending.overload(gate_tanh)
def _gate_tanh_for(x):
    if x == numba.types.float32:
        return lambda x: tanh_float32(x)
    return lambda x: np.tanh(x)


@numba.extending.overload(gate_sigmoid)
def _gate_sigmoid_for(x):
    if x == numba.types.float32:
        half = np.float32(0.5)
        return lambda x: half + half * tanh_float32(half * x)
    return lambda x: 1.0 / (1.0 + np.exp(-x))


# The loops below run over 1-D views from index 0, one gate block at a time: with an index that is
# provably non-negative and few arrays per loop, LLVM vectorises every one of them (measured: the
# same arithmetic in one loop over 2-D indices ran 2 to 3 times slower, unvectorised).
@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def lstm_step_forward(h_next, c_next, gates, bias, h_prev, c_prev, rows):
    """One time step for the rows listed in `rows` (the others keep their state). On entry gates[k] = [x_t |
    h_prev[rows[k]]] [W; U], gate order i, f, c, o (Keras's); on exit gates[k] holds i, f, g, o."""
    units = h_prev.shape[1]
    h_next[:] = h_prev
    c_next[:] = c_prev
    bi, bf, bg, bo = bias[:units], bias[units:2 * units], bias[2 * units:3 * units], bias[3 * units:]
    for k in range(rows.shape[0]):
        z = gates[k]
        i, f, g, o = z[:units], z[units:2 * units], z[2 * units:3 * units], z[3 * units:]
        for j in range(units):
            i[j] = gate_sigmoid(i[j] + bi[j])
        for j in range(units):
            f[j] = gate_sigmoid(f[j] + bf[j])
        for j in range(units):
            g[j] = gate_tanh(g[j] + bg[j])
        for j in range(units):
            o[j] = gate_sigmoid(o[j] + bo[j])
        c_old, c_new, h_new = c_prev[rows[k]], c_next[rows[k]], h_next[rows[k]]
        for j in range(units):
            c_new[j] = f[j] * c_old[j] + i[j] * g[j]
            h_new[j] = o[j] * gate_tanh(c_new[j])


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def lstm_step_forward_numpy(h_next, c_next, gates, bias, h_prev, c_prev, rows):
    z = gates + bias
    units = h_prev.shape[1]
    i, f, o = _sigmoid(z[:, :units]), _sigmoid(z[:, units:2 * units]), _sigmoid(z[:, 3 * units:])
    g = np.tanh(z[:, 2 * units:3 * units])
    c = f * c_prev[rows] + i * g
    h_next[:], c_next[:] = h_prev, c_prev
    c_next[rows], h_next[rows] = c, o * np.tanh(c)
    gates[:] = np.concatenate([i, f, g, o], axis=1)


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def lstm_step_backward(dz, dh, dc, gates, c_next, c_prev, rows):
    """Backward through one step for `rows` (gates[k]: i, f, g, o; dh, dc: the gradient reaching h_t, c_t): dz[k]
    gets dL/dz, dc what reaches c_{t-1}, dh zeros in these rows (the caller adds dz U^T); masked rows pass."""
    units = dh.shape[1]
    one = dh.dtype.type(1)
    for k in range(rows.shape[0]):
        a, d = gates[k], dz[k]
        i, f, g, o = a[:units], a[units:2 * units], a[2 * units:3 * units], a[3 * units:]
        di, df, dg, do = d[:units], d[units:2 * units], d[2 * units:3 * units], d[3 * units:]
        dh_row, dc_row, c_new, c_old = dh[rows[k]], dc[rows[k]], c_next[rows[k]], c_prev[rows[k]]
        for j in range(units):
            tanh_c = gate_tanh(c_new[j])
            do[j] = dh_row[j] * tanh_c * (o[j] - o[j] * o[j])
            dc_row[j] += dh_row[j] * o[j] * (one - tanh_c * tanh_c)  # now dL/dc_t in full
        for j in range(units):
            di[j] = dc_row[j] * g[j] * (i[j] - i[j] * i[j])
        for j in range(units):
            df[j] = dc_row[j] * c_old[j] * (f[j] - f[j] * f[j])
        for j in range(units):
            dg[j] = dc_row[j] * i[j] * (one - g[j] * g[j])
        for j in range(units):
            dc_row[j] *= f[j]
        dh_row[:] = 0


def lstm_step_backward_numpy(dz, dh, dc, gates, c_next, c_prev, rows):
    i, f, g, o = np.split(gates, 4, axis=1)
    tanh_c, dh_rows = np.tanh(c_next[rows]), dh[rows]
    dc_rows = dc[rows] + dh_rows * o * (1 - tanh_c ** 2)
    dz[:] = np.concatenate([dc_rows * g * i * (1 - i), dc_rows * c_prev[rows] * f * (1 - f),
                            dc_rows * i * (1 - g ** 2), dh_rows * tanh_c * o * (1 - o)], axis=1)
    dc[rows] = dc_rows * f
    dh[rows] = 0


# ---- The GRU cell (Keras 3's default, reset_after=True), one time step ----------------------------
@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def gru_step_forward(h_next, gates, recurrent, h_prev, rows):
    """One step for the rows listed in `rows`; the other rows keep their state. On entry gates[k, :3u] =
    x_t W + b_in and recurrent[k] = h_prev[rows[k]] U + b_rec, gate order z, r, h (Keras's); on exit
    gates[k] holds z, r, hh and the candidate's recurrent part rh, which the backward step needs."""
    units = h_prev.shape[1]
    h_next[:] = h_prev
    for k in range(rows.shape[0]):
        a, rec = gates[k], recurrent[k]
        z, r, hh, rh = a[:units], a[units:2 * units], a[2 * units:3 * units], a[3 * units:]
        for j in range(units):
            z[j] = gate_sigmoid(z[j] + rec[j])
        for j in range(units):
            r[j] = gate_sigmoid(r[j] + rec[units + j])
        for j in range(units):
            rh[j] = rec[2 * units + j]
            hh[j] = gate_tanh(hh[j] + r[j] * rh[j])
        h_old, h_new = h_prev[rows[k]], h_next[rows[k]]
        for j in range(units):
            h_new[j] = z[j] * h_old[j] + (1 - z[j]) * hh[j]


def gru_step_forward_numpy(h_next, gates, recurrent, h_prev, rows):
    units = h_prev.shape[1]
    z = _sigmoid(gates[:, :units] + recurrent[:, :units])
    r = _sigmoid(gates[:, units:2 * units] + recurrent[:, units:2 * units])
    rh = recurrent[:, 2 * units:].copy()
    hh = np.tanh(gates[:, 2 * units:3 * units] + r * rh)
    h_next[:] = h_prev
    h_next[rows] = z * h_prev[rows] + (1 - z) * hh
    gates[:] = np.concatenate([z, r, hh, rh], axis=1)


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def gru_step_backward(d, dh, gates, h_old, rows):
    """Backward through one step for the rows listed in `rows` (h_old[k]: row rows[k]'s state before the
    step). On entry dh holds the gradient reaching h_t. On exit d[k] = [dz, dr, drh, dhh] holds the
    gradients of the pre-activations of z and r, of the recurrent part rh, and of the candidate's
    pre-activation; dh holds the gradient along the direct path h_{t-1} -> h_t, to which the caller
    adds the recurrent path d[:, :3u] U^T. Masked rows pass dh through untouched. d may be gates
    itself: each position is read before it is written."""
    units = dh.shape[1]
    one = dh.dtype.type(1)
    for k in range(rows.shape[0]):
        a, g = gates[k], d[k]
        dh_row, h_prev = dh[rows[k]], h_old[k]
        for j in range(units):
            z, r, hh, rh = a[j], a[units + j], a[2 * units + j], a[3 * units + j]
            dhh = dh_row[j] * (one - z) * (one - hh * hh)
            g[j] = dh_row[j] * (h_prev[j] - hh) * (z - z * z)
            g[units + j] = dhh * rh * (r - r * r)
            g[2 * units + j] = dhh * r
            g[3 * units + j] = dhh
            dh_row[j] *= z


def gru_step_backward_numpy(d, dh, gates, h_old, rows):
    z, r, hh, rh = np.split(gates, 4, axis=1)
    dh_rows = dh[rows]
    dhh = dh_rows * (1 - z) * (1 - hh ** 2)
    d[:] = np.concatenate([dh_rows * (h_old - hh) * z * (1 - z), dhh * rh * r * (1 - r), dhh * r, dhh], axis=1)
    dh[rows] = dh_rows * z


# ---- The SimpleRNN cell (tanh), one time step ------------------------------------------------------
@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def simple_rnn_step_forward(h_next, pre, recurrent, h_prev, rows):
    """One step for the rows listed in `rows`; the other rows keep their state. On entry pre[k] =
    x_t W + b and recurrent[k] = h_prev[rows[k]] U; on exit pre[k] holds h_t, which backward needs."""
    units = h_prev.shape[1]
    h_next[:] = h_prev
    for k in range(rows.shape[0]):
        a, rec, h_new = pre[k], recurrent[k], h_next[rows[k]]
        for j in range(units):
            a[j] = gate_tanh(a[j] + rec[j])
            h_new[j] = a[j]


def simple_rnn_step_forward_numpy(h_next, pre, recurrent, h_prev, rows):
    pre[:] = np.tanh(pre + recurrent)
    h_next[:] = h_prev
    h_next[rows] = pre


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def simple_rnn_step_backward(d, dh, h_new, rows):
    """Backward through one step for the rows listed in `rows` (h_new[k]: row rows[k]'s h_t). On exit
    d[k] = dL/d(pre-activation) and dh is zero in these rows, ready for the caller to add d U^T.
    Masked rows pass dh through untouched."""
    one = dh.dtype.type(1)
    for k in range(rows.shape[0]):
        dh_row, h, g = dh[rows[k]], h_new[k], d[k]
        for j in range(dh.shape[1]):
            g[j] = dh_row[j] * (one - h[j] * h[j])
        dh_row[:] = 0


def simple_rnn_step_backward_numpy(d, dh, h_new, rows):
    d[:] = dh[rows] * (1 - h_new ** 2)
    dh[rows] = 0


# ---- Matrix products inside a kernel: numpy's own BLAS, called directly ---------------------------
# A recurrence's whole time loop runs as one compiled function (lstm_forward_steps below), without the
# GIL, so the products inside it must be callable from numba: blas.py declares numpy's own cblas gemm to
# numba (numba's np.dot goes through scipy's second OpenBLAS, 20% slower here). Without one, matmul falls
# back to loops.
# OpenBLAS's AVX-512 kernels multiply a product of at most 100^3 multiply-adds (m n k) without packing its
# operands first: one core multiplied (16 x 132) @ (132 x 400) at 97 GFLOP/s, (32 x 132) @ (132 x 400) at 70-86
# (docs/lstm.md). So there, a product of up to four times that goes in pieces of rows under it; a bigger one
# gains nothing (measured), and other kernels (Haswell's, on AVX2) have no such path: products go whole.
SMALL_GEMM = 1_000_000 if KERNEL_FAMILY in ("SkylakeX", "Cooperlake", "SapphireRapids") else 0


def matmul(out, a, b, add=False):
    """out = a @ b (out += a @ b when add) by BLAS when rows are contiguous (a's, or its columns: a transposed view),
    else by loops. This plain function is the twin, and what runs when numba is off (in a kernel: the overload)."""
    out[:] = out + a @ b if add else a @ b


@numba.njit(cache=True, nogil=True)
def matmul_loops(out, a, b, add=False):
    """matmul in plain loops: inside a kernel when no BLAS with a cblas gemm was found, or for operands whose
    rows BLAS cannot read."""
    if not add:
        out[:] = 0
    for i in range(a.shape[0]):
        for p in range(a.shape[1]):
            out[i] += a[i, p] * b[p]


matmul_loops_numpy = matmul  # the plain function is the loops' twin as well


@numba.extending.overload(matmul)
def _matmul_for(out, a, b, add=False):
    if not out.dtype == a.dtype == b.dtype:
        raise numba.core.errors.TypingError(f"matmul needs one float type, got {out.dtype}, {a.dtype}, {b.dtype}")
    if SGEMM is None:
        return lambda out, a, b, add=False: matmul_loops(out, a, b, add)
    gemm = SGEMM if out.dtype == numba.types.float32 else DGEMM

    def blas(out, a, b, add=False):
        size = a.itemsize
        transposed = a.strides[1] != size and a.strides[0] == size  # a = x.T, x's rows contiguous
        b_transposed = b.strides[1] != size and b.strides[0] == size  # likewise b
        if not (a.strides[1] == size or transposed) or not (b.strides[1] == size or b_transposed) or \
                out.strides[1] != size:
            return matmul_loops(out, a, b, add)
        m, work = a.shape[0], a.shape[0] * a.shape[1] * b.shape[1]
        rows = max(m, 1)
        if 0 < SMALL_GEMM < work <= 4 * SMALL_GEMM and not b_transposed:  # the attention's 32-deep products
            # with b transposed ran slower in pieces: (200 x 32) @ (32 x 200) in 47 us against 39 whole
            rows = -(-m // -(-work // SMALL_GEMM))  # as many rows in each piece, the fewest pieces
        lda = max(a.strides[1] // size, m, 1) if transposed else max(a.strides[0] // size, a.shape[1], 1)
        ldb = max(b.strides[1] // size, b.shape[0], 1) if b_transposed else max(b.strides[0] // size, b.shape[1], 1)
        for lo in range(0, m, rows):
            gemm(ROW_MAJOR, TRANSPOSE if transposed else NO_TRANSPOSE, TRANSPOSE if b_transposed else NO_TRANSPOSE,
                 min(rows, m - lo), b.shape[1], a.shape[1], 1.0, a.ctypes.data + lo * a.strides[0], lda, b.ctypes.data,
                 ldb, 1.0 if add else 0.0, out.ctypes.data + lo * out.strides[0],
                 max(out.strides[0] // size, out.shape[1], 1))
    return blas


@numba.njit(cache=True, nogil=True)
def mask_rows(out, a, mask, rows, add):
    """out[k] = a[k] * mask[rows[k]], or += when add, in loops: a[k] * mask[...] in a kernel makes a new array."""
    for k in range(a.shape[0]):
        source, factor, target = a[k], mask[rows[k]], out[k]
        for j in range(source.shape[0]):
            target[j] = source[j] * factor[j] + (target[j] if add else 0)


def mask_rows_numpy(out, a, mask, rows, add):
    out[:] = a * mask[rows] + (out if add else 0)


@numba.njit(cache=True, nogil=True)
def masked_matmul(out, a, weights, masks, rows, scratch):
    """out = (a * masks[g][rows]) @ weights[:, block g], a block of columns per mask (Keras's dropout)."""
    if masks.shape[0] == 0:
        return matmul(out, a, weights)
    size, part = weights.shape[1] // masks.shape[0], scratch[:a.shape[0]]
    for g in range(masks.shape[0]):
        mask_rows(part, a, masks[g], rows, False)
        matmul(out[:, g * size:(g + 1) * size], part, weights[:, g * size:(g + 1) * size])


@numba.njit(cache=True, nogil=True)
def masked_matmul_input_grad(out, grad, weights_t, masks, rows, scratch):
    """out = d a for masked_matmul(., a, weights, masks, rows): each block's grad @ weights_t times its mask."""
    if masks.shape[0] == 0:
        return matmul(out, grad, weights_t)
    size, part = weights_t.shape[0] // masks.shape[0], scratch[:grad.shape[0]]
    out[:] = 0
    for g in range(masks.shape[0]):
        matmul(part, grad[:, g * size:(g + 1) * size], weights_t[g * size:(g + 1) * size])
        mask_rows(out, part, masks[g], rows, True)


@numba.njit(cache=True, nogil=True)
def masked_matmul_weight_grad(out, a, grad, masks, rows, scratch):
    """out += d weights for masked_matmul(., a, weights, masks, rows): (a * masks[g][rows])^T @ grad's block g."""
    if masks.shape[0] == 0:
        return matmul(out, a.T, grad, True)
    size, part = out.shape[1] // masks.shape[0], scratch[:a.shape[0]]
    for g in range(masks.shape[0]):
        mask_rows(part, a, masks[g], rows, False)
        matmul(out[:, g * size:(g + 1) * size], part.T, grad[:, g * size:(g + 1) * size], True)


def masked_matmul_weight_grad_numpy(out, a, grad, masks, rows, scratch=None):
    if len(masks) == 0:
        out += a.T @ grad
        return
    out += np.concatenate([(a * m[rows]).T @ g for m, g in zip(masks, np.split(grad, len(masks), 1))], axis=1)


# ---- The LSTM's time loop, compiled whole: no Python between steps, no GIL -------------------------
# Each step's product is [x_t | h_{t-1}] @ [W; U], one product of depth features + units (as cuDNN's): no
# separate x W over the steps, whose depth (the features, 32 in the seed model) keeps BLAS far from its peak;
# backward gets [dx_t | dh_{t-1}] from one product too, and [dW; dU] from one product per WEIGHT_GRAD_STEPS
# steps, whose rows of dz and [x_t | h_{t-1}] are still in cache: dz is never stored whole, and the dense seed step
# took 72 ms against 76 with one product after the loop (AVX-512 EPYC, docs/lstm.md point 4).
WEIGHT_GRAD_STEPS = 16


@numba.njit(cache=True, nogil=True)
def lstm_forward_steps(h, c, gates, xh, x, weights, bias, masks, packed_rows, offsets, keep):
    """Every step t: [x_t | h_{t-1}] of its active rows (packed_rows[offsets[t]:offsets[t + 1]]) into xh (every
    step's when keep, else from row 0), times weights = [W; U] into gates (the same), then lstm_step_forward.
    h and c hold a state per step, or two (step t's in slot t % slots)."""
    width, scratch = x.shape[2], np.empty((h.shape[1], xh.shape[1]), xh.dtype)
    for t in range(offsets.shape[0] - 1):
        lo, hi, before, after = offsets[t], offsets[t + 1], t % h.shape[0], (t + 1) % h.shape[0]
        rows, at = packed_rows[lo:hi], lo if keep else 0
        step_xh, step_gates = xh[at:at + hi - lo], gates[at:at + hi - lo]
        for k in range(hi - lo):
            step_xh[k, :width] = x[rows[k], t]
            step_xh[k, width:] = h[before, rows[k]]
        masked_matmul(step_gates, step_xh, weights, masks, rows, scratch)
        lstm_step_forward(h[after], c[(t + 1) % c.shape[0]], step_gates, bias, h[before], c[t % c.shape[0]], rows)


def lstm_forward_steps_numpy(h, c, gates, xh, x, weights, bias, masks, packed_rows, offsets, keep):
    for t in range(len(offsets) - 1):
        lo, hi, before, after = offsets[t], offsets[t + 1], t % len(h), (t + 1) % len(h)
        rows, at = packed_rows[lo:hi], lo if keep else 0
        xh[at:at + hi - lo] = step_xh = np.concatenate([x[rows, t], h[before][rows]], axis=1)
        masked_matmul_numpy(gates[at:at + hi - lo], step_xh, weights, masks, rows)
        lstm_step_forward_numpy(h[after], c[(t + 1) % len(c)], gates[at:at + hi - lo], bias, h[before], c[t % len(c)],
                                rows)


def masked_matmul_numpy(out, a, weights, masks, rows, scratch=None):
    if len(masks) == 0:
        out[:] = a @ weights
        return
    out[:] = np.concatenate([(a * m[rows]) @ w for m, w in zip(masks, np.split(weights, len(masks), 1))], axis=1)


def masked_matmul_input_grad_numpy(out, grad, weights_t, masks, rows, scratch=None):
    if len(masks) == 0:
        out[:] = grad @ weights_t
        return
    blocks = zip(masks, np.split(grad, len(masks), 1), np.split(weights_t, len(masks), 0))
    out[:] = sum((g @ w) * m[rows] for m, g, w in blocks)


@numba.njit(cache=True, nogil=True)
def lstm_backward_steps(d_weights, d_bias, dh, dc, dx, upstream, gates, xh, c, weights_t, masks, packed_rows, offsets,
                        all_steps):
    """BPTT, last step first; upstream[t]: [dh | dc] reaching step t's output (all_steps) or the last's. dx[row, t]
    gets dL/dx_t (other rows untouched); d_weights, d_bias get dL/d[W; U], dL/db added; dh, dc what reaches step 0."""
    units, steps, width, chunk = dh.shape[1], offsets.shape[0] - 1, dx.shape[2], WEIGHT_GRAD_STEPS
    dzs = np.empty((chunk * dh.shape[0], gates.shape[1]), dh.dtype)  # dL/dz of the chunk's packed rows
    d_xh, scratch = np.empty((dh.shape[0], xh.shape[1]), dh.dtype), np.empty((dzs.shape[0], xh.shape[1]), dh.dtype)
    for t in range(steps - 1, -1, -1):
        if all_steps or t == steps - 1:
            dh += upstream[t if all_steps else 0, :, :units]
            dc += upstream[t if all_steps else 0, :, units:]
        lo, hi, first = offsets[t], offsets[t + 1], offsets[t - t % chunk]  # first: the chunk's first packed row
        rows, dz, step_d = packed_rows[lo:hi], dzs[lo - first:hi - first], d_xh[:hi - lo]
        lstm_step_backward(dz, dh, dc, gates[lo:hi], c[t + 1], c[t], rows)
        masked_matmul_input_grad(step_d, dz, weights_t, masks, rows, scratch)
        for k in range(hi - lo):
            dx[rows[k], t] = step_d[k, :width]
        scatter_add(dh, rows, step_d[:, width:])  # lstm_step_backward zeroed these rows of dh
        if t % chunk == 0:  # the chunk's steps are done: its packed rows are first to `last`
            last = offsets[min(t + chunk, steps)]
            masked_matmul_weight_grad(d_weights, xh[first:last], dzs[:last - first], masks, packed_rows[first:last], scratch)
            d_bias += dzs[:last - first].sum(axis=0)


def lstm_backward_steps_numpy(d_weights, d_bias, dh, dc, dx, upstream, gates, xh, c, weights_t, masks, packed_rows,
                              offsets, all_steps):
    units, steps, width = dh.shape[1], len(offsets) - 1, dx.shape[2]
    for t in reversed(range(steps)):
        if all_steps or t == steps - 1:
            dh += upstream[t if all_steps else 0, :, :units]
            dc += upstream[t if all_steps else 0, :, units:]
        lo, hi = offsets[t], offsets[t + 1]
        rows, dz, step_d = packed_rows[lo:hi], np.empty_like(gates[lo:hi]), np.empty((hi - lo, xh.shape[1]), dh.dtype)
        lstm_step_backward_numpy(dz, dh, dc, gates[lo:hi], c[t + 1], c[t], rows)
        masked_matmul_input_grad_numpy(step_d, dz, weights_t, masks, rows)
        dx[rows, t] = step_d[:, :width]
        dh[rows] += step_d[:, width:]
        masked_matmul_weight_grad_numpy(d_weights, xh[lo:hi], dz, masks, rows)
        d_bias += dz.sum(axis=0)


# ---- The GRU's and SimpleRNN's time loops, compiled as the LSTM's ---------------------------------
@numba.njit(cache=True, nogil=True)
def rnn_forward_steps(gru, h, gates, h_prev, recurrent_kernel, recurrent_bias, masks, packed_rows, offsets, start,
                      stop, first, keep):
    """lstm_forward_steps for the GRU (gru: h_{t-1} U + b_rec, gru_step_forward) or the SimpleRNN (h_{t-1} U,
    simple_rnn_step_forward; recurrent_bias zeros); gates: x_t W + b_in, or x_t W + b."""
    recurrent, scratch = np.empty((h.shape[1], recurrent_kernel.shape[1]), h.dtype), np.empty(h.shape[1:], h.dtype)
    for t in range(start, stop):
        lo, hi, before, after = offsets[t], offsets[t + 1], t % h.shape[0], (t + 1) % h.shape[0]
        rows, step_h, product = packed_rows[lo:hi], h_prev[lo:hi] if keep else h_prev[:hi - lo], recurrent[:hi - lo]
        gather(step_h, h[before], rows)
        masked_matmul(product, step_h, recurrent_kernel, masks, rows, scratch)
        product += recurrent_bias
        if gru:
            gru_step_forward(h[after], gates[lo - first:hi - first], product, h[before], rows)
        else:
            simple_rnn_step_forward(h[after], gates[lo - first:hi - first], product, h[before], rows)


def rnn_forward_steps_numpy(gru, h, gates, h_prev, recurrent_kernel, recurrent_bias, masks, packed_rows, offsets,
                            start, stop, first, keep):
    for t in range(start, stop):
        lo, hi, before, after = offsets[t], offsets[t + 1], t % len(h), (t + 1) % len(h)
        rows = packed_rows[lo:hi]
        step_h, product = h[before][rows], np.empty((hi - lo, recurrent_kernel.shape[1]), h.dtype)
        (h_prev[lo:hi] if keep else h_prev[:hi - lo])[:] = step_h
        masked_matmul_numpy(product, step_h, recurrent_kernel, masks, rows)
        step = gru_step_forward_numpy if gru else simple_rnn_step_forward_numpy
        step(h[after], gates[lo - first:hi - first], product + recurrent_bias, h[before], rows)


@numba.njit(cache=True, nogil=True)
def rnn_backward_steps(gru, d_all, dh, upstream, saved, h_prev, recurrent_t, masks, packed_rows, offsets, all_steps):
    """lstm_backward_steps for the GRU (gru; saved: the activations z, r, hh, rh; recurrent_t: U^T, or with a zero
    block for dhh when no masks, 4u x u) or the SimpleRNN (saved: h_t); d_all (may be saved) gets dL/dz."""
    steps, dh_packed, scratch = offsets.shape[0] - 1, np.empty_like(dh), np.empty_like(dh)
    for t in range(steps - 1, -1, -1):
        if all_steps or t == steps - 1:
            dh += upstream[t if all_steps else 0]
        lo, hi = offsets[t], offsets[t + 1]
        rows, d = packed_rows[lo:hi], d_all[lo:hi]
        if gru:
            gru_step_backward(d, dh, saved[lo:hi], h_prev[lo:hi], rows)
        else:
            simple_rnn_step_backward(d, dh, saved[lo:hi], rows)
        masked_matmul_input_grad(dh_packed[:hi - lo], d[:, :recurrent_t.shape[0]], recurrent_t, masks, rows, scratch)
        scatter_add(dh, rows, dh_packed[:hi - lo])


def rnn_backward_steps_numpy(gru, d_all, dh, upstream, saved, h_prev, recurrent_t, masks, packed_rows, offsets,
                             all_steps):
    steps = len(offsets) - 1
    for t in reversed(range(steps)):
        if all_steps or t == steps - 1:
            dh += upstream[t if all_steps else 0]
        lo, hi = offsets[t], offsets[t + 1]
        rows, d, dh_packed = packed_rows[lo:hi], np.empty_like(saved[lo:hi]), np.empty((hi - lo, dh.shape[1]), dh.dtype)
        if gru:
            gru_step_backward_numpy(d, dh, saved[lo:hi], h_prev[lo:hi], rows)
        else:
            simple_rnn_step_backward_numpy(d, dh, saved[lo:hi], rows)
        masked_matmul_input_grad_numpy(dh_packed, d[:, :recurrent_t.shape[0]], recurrent_t, masks, rows)
        dh[rows] += dh_packed
        d_all[lo:hi] = d

