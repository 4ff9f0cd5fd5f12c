"""The compiled time loops (kernels.lstm_forward_steps, lstm_backward_steps) and the products inside them
(kernels.matmul, masked_matmul, masked_matmul_input_grad) against their plain-numpy twins: masked steps,
steps with no active row, recurrent dropout masks (one per gate, or one for all), float32 and float64."""
import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_embed import kernels
from tinygrad_embed.fused_rnn import pack_steps


def tolerance(dtype):
    return dict(rtol=1e-12, atol=1e-13) if dtype == np.float64 else dict(rtol=0, atol=1e-5)


@st.composite
def recurrences(draw, max_steps=6):
    """An LSTM's loop inputs: dtype, mask (batch, steps), packed rows and offsets, recurrent masks (0, 1 or 4
    gates), and a random generator for the arrays."""
    batch, steps, units = draw(st.integers(1, 5)), draw(st.integers(1, max_steps)), draw(st.integers(1, 6))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    mask = draw(hnp.arrays(bool, (batch, steps)))
    offsets, packed_rows, _ = pack_steps(mask, batch, steps)
    rng = np.random.default_rng(draw(st.integers(0, 999)))
    gates = draw(st.sampled_from([0, 1, 4]))
    masks = (rng.random((gates, batch, units)) < 0.7).astype(dtype) / 0.7
    return dtype, batch, steps, units, packed_rows, offsets, masks, rng


@given(recurrences(), st.booleans(), st.booleans(), st.integers(1, 4))
def test_lstm_forward_steps_equal_numpy_twin(case, keep, every_h, width):
    dtype, batch, steps, units, packed_rows, offsets, masks, rng = case
    x = rng.standard_normal((batch, steps, width)).astype(dtype)
    weights = rng.standard_normal((width + units, 4 * units)).astype(dtype)  # [W; U]
    bias = rng.standard_normal(4 * units).astype(dtype)
    masks = np.concatenate([rng.random((len(masks), batch, width)).astype(dtype), masks], axis=2)  # [x | h] masks
    start = rng.standard_normal((2, batch, units)).astype(dtype)
    results = []
    for loop in (kernels.lstm_forward_steps, kernels.lstm_forward_steps_numpy):
        slots, kept = (steps + 1, len(packed_rows)) if keep else (2, batch)  # training keeps every c, maybe two h
        h = np.full((steps + 1 if every_h else 2, batch, units), np.nan, dtype)
        c = np.full((slots, batch, units), np.nan, dtype)
        h[0], c[0] = start
        gates, xh = np.full((kept, 4 * units), np.nan, dtype), np.full((kept, width + units), np.nan, dtype)
        loop(h, c, gates, xh, x, weights, bias, masks, packed_rows, offsets, keep)
        results.append((h, c, gates, xh) if keep else (h, c))  # without keep, the buffers hold the last step's
    for ours, twin in zip(*results):
        np.testing.assert_allclose(ours, twin, **tolerance(dtype))


# up to 40 steps: the weight gradients gather every kernels.WEIGHT_GRAD_STEPS (16) steps, so up to 3 chunks
@given(recurrences(max_steps=40), st.booleans(), st.integers(1, 4))
def test_lstm_backward_steps_equal_numpy_twin(case, all_steps, width):
    dtype, batch, steps, units, packed_rows, offsets, masks, rng = case
    activations = 1 / (1 + np.exp(-rng.standard_normal((len(packed_rows), 4 * units)))).astype(dtype)
    xh = rng.standard_normal((len(packed_rows), width + units)).astype(dtype)
    c = rng.standard_normal((steps + 1, batch, units)).astype(dtype)
    upstream = rng.standard_normal((steps if all_steps else 1, batch, 2 * units)).astype(dtype)
    weights_t = rng.standard_normal((4 * units, width + units)).astype(dtype)
    masks = np.concatenate([rng.random((len(masks), batch, width)).astype(dtype), masks], axis=2)  # [x | h] masks
    dh_start, dc_start = rng.standard_normal((2, batch, units)).astype(dtype)
    dx_start = rng.standard_normal((batch, steps, width)).astype(dtype)  # masked steps' rows keep theirs
    dw_start, db_start = rng.standard_normal((width + units, 4 * units)).astype(dtype), rng.standard_normal(4 * units).astype(dtype)
    results = []
    for loop in (kernels.lstm_backward_steps, kernels.lstm_backward_steps_numpy):
        dh, dc, dx, d_weights, d_bias = dh_start.copy(), dc_start.copy(), dx_start.copy(), dw_start.copy(), db_start.copy()
        read = activations.copy(), xh.copy(), c.copy()
        loop(d_weights, d_bias, dh, dc, dx, upstream, *read, weights_t, masks, packed_rows, offsets, all_steps)
        for before, after in zip((activations, xh, c), read):
            np.testing.assert_array_equal(after, before)  # only read
        results.append((d_weights, d_bias, dh, dc, dx))  # the weight gradients added to what was there
    for ours, twin in zip(*results):
        np.testing.assert_allclose(ours, twin, **loop_tolerance(dtype, steps))


def loop_tolerance(dtype, steps):
    """Sums over up to 40 steps of products of random normals: float32's absolute error grows with them."""
    return tolerance(dtype) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5 * steps)


@given(recurrences())
def test_masked_products_equal_numpy_twins(case):
    dtype, batch, _, units, _, _, masks, rng = case
    rows = np.flatnonzero(rng.random(batch) < 0.6)
    a, weights = rng.standard_normal((len(rows), units)).astype(dtype), rng.standard_normal((units, 4 * units)).astype(dtype)
    grad = rng.standard_normal((len(rows), 4 * units)).astype(dtype)
    start = rng.standard_normal((units, 4 * units)).astype(dtype)  # the weight gradient is added to what is there
    for kernel, twin, inputs, first in ((kernels.masked_matmul, kernels.masked_matmul_numpy, (a, weights),
                                         np.full((len(rows), 4 * units), np.nan, dtype)),
                                        (kernels.masked_matmul_input_grad, kernels.masked_matmul_input_grad_numpy,
                                         (grad, np.ascontiguousarray(weights.T)), np.full((len(rows), units), np.nan, dtype)),
                                        (kernels.masked_matmul_weight_grad, kernels.masked_matmul_weight_grad_numpy,
                                         (a, grad), start)):
        ours, theirs = first.copy(), first.copy()
        kernel(ours, *inputs, masks, rows, np.empty((batch, units), dtype))
        twin(theirs, *inputs, masks, rows)
        np.testing.assert_allclose(ours, theirs, **tolerance(dtype))


@given(st.integers(0, 4), st.integers(1, 5), st.integers(1, 5), st.sampled_from([np.float32, np.float64]), st.booleans())
def test_the_fallback_product_loops_equal_numpy(n, k, m, dtype, add):
    rng = np.random.default_rng(n * 100 + k * 10 + m)
    a, b = rng.standard_normal((n, k)).astype(dtype), rng.standard_normal((k, m)).astype(dtype)
    start = rng.standard_normal((n, m)).astype(dtype) if add else np.full((n, m), np.nan, dtype)  # add: out += a @ b
    out, twin = start.copy(), start.copy()
    kernels.matmul_loops(out, a, b, add)
    kernels.matmul_loops_numpy(twin, a, b, add)
    np.testing.assert_allclose(out, twin, **tolerance(dtype))


def test_a_product_of_two_float_types_is_refused_when_compiled():
    with pytest.raises(numba.core.errors.TypingError, match="one float type"):
        compiled_product(np.zeros((2, 2)), np.zeros((2, 3), np.float32), np.zeros((3, 2)))


@given(recurrences(), st.booleans(), st.booleans())
def test_gru_and_simple_rnn_forward_steps_equal_numpy_twin(case, gru, keep):
    dtype, batch, steps, units, packed_rows, offsets, masks, rng = case
    masks = masks[:3] if gru else masks[:1]  # the GRU's recurrent dropout has a mask per gate, 3
    width = 4 * units if gru else units  # gates: z, r, hh, rh; or h_t
    gates_in = rng.standard_normal((len(packed_rows), width)).astype(dtype)
    kernel = rng.standard_normal((units, 3 * units if gru else units)).astype(dtype)
    bias = rng.standard_normal(kernel.shape[1]).astype(dtype) if gru else np.zeros(units, dtype)
    start = rng.standard_normal((batch, units)).astype(dtype)
    results = []
    for loop in (kernels.rnn_forward_steps, kernels.rnn_forward_steps_numpy):
        h = np.full((steps + 1 if keep else 2, batch, units), np.nan, dtype)
        h[0] = start
        gates, h_prev = gates_in.copy(), np.zeros((len(packed_rows) if keep else batch, units), dtype)
        loop(gru, h, gates, h_prev, kernel, bias, masks, packed_rows, offsets, 0, steps, 0, keep)
        results.append((h, gates, h_prev if keep else h_prev[:0]))
    for ours, twin in zip(*results):
        np.testing.assert_allclose(ours, twin, **tolerance(dtype))


@given(recurrences(), st.booleans(), st.booleans(), st.booleans())
def test_gru_and_simple_rnn_backward_steps_equal_numpy_twin(case, gru, all_steps, in_place):
    dtype, batch, steps, units, packed_rows, offsets, masks, rng = case
    masks = masks[:3] if gru else masks[:1]
    width = 4 * units if gru else units
    saved_in = np.tanh(rng.standard_normal((len(packed_rows), width))).astype(dtype)
    h_prev = rng.standard_normal((len(packed_rows), units)).astype(dtype)
    upstream = rng.standard_normal((steps if all_steps else 1, batch, units)).astype(dtype)
    # the GRU without masks multiplies all four blocks by U^T with a zero block; with masks three blocks by U^T
    rows_t = (3 * units if len(masks) else 4 * units) if gru else units
    recurrent_t = rng.standard_normal((rows_t, units)).astype(dtype)
    dh_start = rng.standard_normal((batch, units)).astype(dtype)
    results = []
    for loop in (kernels.rnn_backward_steps, kernels.rnn_backward_steps_numpy):
        saved, dh = saved_in.copy(), dh_start.copy()
        d_all = saved if in_place and gru else np.full_like(saved, np.nan)
        loop(gru, d_all, dh, upstream, saved, h_prev, recurrent_t, masks, packed_rows, offsets, all_steps)
        results.append((d_all, dh))
    for ours, twin in zip(*results):
        np.testing.assert_allclose(ours, twin, **tolerance(dtype))


@numba.njit
def compiled_product(out, a, b, add=False):
    kernels.matmul(out, a, b, add)


@given(st.integers(0, 40), st.integers(1, 5), st.integers(1, 5), st.sampled_from(["C", "F", "columns", "view", "T"]),
       st.sampled_from([np.float32, np.float64]), st.booleans())
def test_the_compiled_product_equals_numpy_on_any_layout(n, k, m, layout, dtype, add):
    # BLAS reads rows of unit-step entries, or columns (a transposed view: "F", "T"); every other column takes
    # the loops; add: out += a @ b (beta 1). out is a view into a wider array: nothing beside it is written
    rng = np.random.default_rng(n * 100 + k * 10 + m)
    a, b = rng.standard_normal((n + 3, 2 * k)).astype(dtype), rng.standard_normal((k, m)).astype(dtype)
    a = {"C": np.ascontiguousarray(a[:n, :k]), "F": np.asfortranarray(a[:n, :k]), "columns": a[:n, ::2],
         "view": a[2:n + 2, 1:k + 1], "T": rng.standard_normal((k + 2, n + 3)).astype(dtype)[1:k + 1, 2:n + 2].T}[layout]
    wider = np.full((n, m + 4), np.nan, dtype)
    start = rng.standard_normal((n, m)).astype(dtype)
    wider[:, 2:m + 2] = start if add else np.nan
    compiled_product(wider[:, 2:m + 2], a, b, add)
    np.testing.assert_allclose(wider[:, 2:m + 2], (start if add else 0) + a @ b, **tolerance(dtype))
    assert np.isnan(wider[:, :2]).all() and np.isnan(wider[:, m + 2:]).all()


@pytest.mark.parametrize("rows", [18, 19, 32, 33, 50, 75, 76])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transposed", [False, True])
def test_a_product_just_above_the_blas_small_size_equals_numpy(rows, dtype, transposed):
    # with OpenBLAS's AVX-512 kernels (kernels.SMALL_GEMM), rows x 132 x 400 products of 1 to 4 million
    # multiply-adds go to BLAS in pieces of rows (19 rows: 2 pieces, 75: 4, 76: whole); the operands are views
    # into wider arrays, so each piece's start and row strides count; transposed: a is the view of a^T that the
    # weight gradients pass, added to what out holds (its pieces start a column further each)
    rng = np.random.default_rng(rows)
    if transposed:
        a = rng.standard_normal((140, rows + 3)).astype(dtype)[5:137, 2:rows + 2].T
    else:
        a = rng.standard_normal((rows + 3, 140)).astype(dtype)[2:rows + 2, 5:137]
    b = rng.standard_normal((132, 400)).astype(dtype)
    wider = np.full((rows, 410), np.nan, dtype)
    start = wider[:, 3:403] = rng.standard_normal((rows, 400)).astype(dtype) if transposed else np.nan
    compiled_product(wider[:, 3:403], a, b, transposed)
    exact = (start if transposed else 0) + a.astype(np.float64) @ b.astype(np.float64)  # float32 keeps about 1e-5
    np.testing.assert_allclose(wider[:, 3:403], exact, rtol=0, atol=1e-10 if dtype == np.float64 else 1e-4)
    assert np.isnan(wider[:, :3]).all() and np.isnan(wider[:, 403:]).all()  # nothing written beside out



@given(recurrences(), st.booleans())
def test_mask_rows_equals_numpy_twin(case, add):
    # out[k] = a[k] * mask[rows[k]] (or +=): the masking step of the masked products, in loops
    dtype, batch, _, units, _, _, _, rng = case
    rows = rng.integers(0, batch, rng.integers(0, 2 * batch + 1))
    a, mask = rng.standard_normal((len(rows), units)).astype(dtype), rng.random((batch, units)).astype(dtype)
    start = rng.standard_normal((len(rows), units)).astype(dtype)
    ours, twin = start.copy(), start.copy()
    kernels.mask_rows(ours, a, mask, rows, add)
    kernels.mask_rows_numpy(twin, a, mask, rows, add)
    np.testing.assert_allclose(ours, twin, **tolerance(dtype))
