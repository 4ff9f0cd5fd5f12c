"""Every numba kernel of the package, each beside its plain-numpy twin that the tests compare it with.

Kernels take plain arrays, the output buffer first, and never see a Tensor. They release the GIL, so that
blocks of a batch's rows run side by side in threads (fused_rnn.side_by_side). They trust their inputs:
numba checks no bounds and wraps negative indices, so the callers validate first (functions.Gather does).
"""
import numba
import numpy as np


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
    """out[indices[k], :] += rows[k, :] for each k in order, so repeated indices accumulate.
    Serial on purpose: one pass over 32,000 rows of 32 takes well under a millisecond, and a fixed
    order of additions makes the result bit-for-bit the same on every run."""
    for k in range(indices.shape[0]):
        row = indices[k]
        for j in range(rows.shape[1]):
            out[row, j] += rows[k, j]


def scatter_add_numpy(out, indices, rows):
    np.add.at(out, indices, rows)


# ---- The LSTM cell, one time step at a time (the matrix products stay in numpy, outside) ----------
# The pip builds of numba have no SVML: np.exp and np.tanh in a kernel are scalar library calls,
# slower than the matrix products they sit between. So float32 uses a rational approximation of
# tanh, plain arithmetic that LLVM vectorises (within 3.2e-7 of the true tanh, about float32's own
# rounding; see tests/test_kernels.py), while float64, which the gradient checks use, stays exact.
# error_model="numpy" lets a division by zero give inf instead of a check that blocks vectorising;
# these fastmath flags leave out nnan and ninf so that a NaN in training still shows up.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
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
def lstm_step_forward(h_next, c_next, gates, recurrent, h_prev, c_prev, rows):
    """One time step for the batch rows listed in `rows`; the other rows are masked and keep their
    state. On entry gates[k] = x_t W + b and recurrent[k] = h_prev[rows[k]] U, gate order i, f, c, o
    (Keras's); on exit gates[k] holds the activations i, f, g, o that the backward step needs."""
    units = h_prev.shape[1]
    h_next[:] = h_prev
    c_next[:] = c_prev
    for k in range(rows.shape[0]):
        z, r = gates[k], recurrent[k]
        i, f, g, o = z[:units], z[units:2 * units], z[2 * units:3 * units], z[3 * units:]
        ri, rf, rg, ro = r[:units], r[units:2 * units], r[2 * units:3 * units], r[3 * units:]
        for j in range(units):
            i[j] = gate_sigmoid(i[j] + ri[j])
        for j in range(units):
            f[j] = gate_sigmoid(f[j] + rf[j])
        for j in range(units):
            g[j] = gate_tanh(g[j] + rg[j])
        for j in range(units):
            o[j] = gate_sigmoid(o[j] + ro[j])
        c_old, c_new, h_new = c_prev[rows[k]], c_next[rows[k]], h_next[rows[k]]
        for j in range(units):
            c_new[j] = f[j] * c_old[j] + i[j] * g[j]
            h_new[j] = o[j] * gate_tanh(c_new[j])


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def lstm_step_forward_numpy(h_next, c_next, gates, recurrent, h_prev, c_prev, rows):
    z = gates + recurrent
    units = h_prev.shape[1]
    i, f, o = _sigmoid(z[:, :units]), _sigmoid(z[:, units:2 * units]), _sigmoid(z[:, 3 * units:])
    g = np.tanh(z[:, 2 * units:3 * units])
    c = f * c_prev[rows] + i * g
    h_next[:], c_next[:] = h_prev, c_prev
    c_next[rows], h_next[rows] = c, o * np.tanh(c)
    gates[:] = np.concatenate([i, f, g, o], axis=1)


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def lstm_step_backward(dz, dh, dc, gates, c_next, c_prev, rows):
    """Backward through one time step for the rows listed in `rows`. gates[k] holds the activations
    i, f, g, o; on entry dh and dc hold the gradient reaching h_t and c_t. On exit dz[k] holds the
    gradient of the pre-activations, dc the gradient reaching c_{t-1}, and dh is zero in these rows,
    ready for the caller to add dh_{t-1} = dz U^T. Masked rows pass dh and dc through untouched."""
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
