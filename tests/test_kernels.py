"""Each numba kernel against its plain-numpy twin, on the awkward cases: empty batches, repeated
indices, a single row, input_dim 1, every integer dtype (through the op's index check)."""
import numba
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_embed import attention_kernels, kernels, step_kernels
from tinygrad_embed.functions import check_indices
from tinygrad_embed.testing import index_arrays


@st.composite
def tables_and_indices(draw):
    input_dim, output_dim = draw(st.integers(1, 7)), draw(st.integers(1, 5))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    table = np.random.default_rng(draw(st.integers(0, 99))).standard_normal((input_dim, output_dim)).astype(dtype)
    return table, draw(index_arrays(input_dim))


@given(tables_and_indices())
def test_gather_equals_np_take(case):
    table, indices = case
    flat = check_indices(indices, table.shape[0])
    ours, twin = (np.full((flat.size, table.shape[1]), np.nan, table.dtype) for _ in range(2))
    kernels.gather(ours, table, flat)
    kernels.gather_numpy(twin, table, flat)
    np.testing.assert_array_equal(ours, twin)


@given(tables_and_indices())
def test_scatter_add_equals_np_add_at(case):
    table, indices = case
    flat = check_indices(indices, table.shape[0])
    rows = np.random.default_rng(flat.size).standard_normal((flat.size, table.shape[1])).astype(table.dtype)
    ours, twin = np.zeros_like(table), np.zeros_like(table)
    kernels.scatter_add(ours, flat, rows)
    kernels.scatter_add_numpy(twin, flat, rows)
    np.testing.assert_array_equal(ours, twin)  # both add in index order: bit for bit equal


def test_repeated_indices_accumulate():
    out = np.zeros((3, 2))
    kernels.scatter_add(out, np.array([1, 1, 1, 2]), np.ones((4, 2)))
    np.testing.assert_array_equal(out, [[0, 0], [3, 3], [1, 1]])


def test_scatter_add_is_deterministic_run_to_run():
    rng = np.random.default_rng(0)
    indices = rng.integers(0, 50, 32_000)
    rows = rng.standard_normal((32_000, 32)).astype(np.float32)
    results = []
    for _ in range(3):
        out = np.zeros((50, 32), np.float32)
        kernels.scatter_add(out, indices, rows)
        results.append(out)
    assert all(np.array_equal(results[0], r) for r in results[1:])


@numba.njit
def _gate_tanh_of_each(out, x):
    for k in range(x.shape[0]):
        out[k] = kernels.gate_tanh(x[k])


def test_float32_tanh_approximation_is_within_float32_rounding():
    x = np.linspace(-12, 12, 2_000_001).astype(np.float32)
    ours = np.empty_like(x)
    _gate_tanh_of_each(ours, x)
    assert ours.dtype == np.float32
    assert np.abs(ours - np.tanh(x.astype(np.float64))).max() < 4e-7  # float32's spacing near 1 is 6e-8


@st.composite
def lstm_step_inputs(draw):
    batch, units = draw(st.integers(1, 5)), draw(st.integers(1, 9))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rows = np.flatnonzero(draw(hnp.arrays(bool, batch)))
    rng = np.random.default_rng(draw(st.integers(0, 999)))
    array = lambda *shape: rng.standard_normal(shape).astype(dtype)  # noqa: E731
    return dtype, rows, array(len(rows), 4 * units), array(len(rows), 4 * units), array(batch, units), array(batch, units)


@given(lstm_step_inputs())
def test_lstm_step_forward_equals_numpy_twin(case):
    dtype, rows, gates, _, h_prev, c_prev = case
    bias = np.random.default_rng(len(rows)).standard_normal(gates.shape[1]).astype(dtype)
    tolerance = dict(rtol=1e-13, atol=1e-15) if dtype == np.float64 else dict(rtol=0, atol=2e-6)
    results = []
    for step in (kernels.lstm_step_forward, kernels.lstm_step_forward_numpy):
        h_next, c_next, activations = np.full_like(h_prev, np.nan), np.full_like(c_prev, np.nan), gates.copy()
        step(h_next, c_next, activations, bias, h_prev, c_prev, rows)
        results.append((h_next, c_next, activations))
    for ours, twin in zip(*results):
        np.testing.assert_allclose(ours, twin, **tolerance)


@given(lstm_step_inputs())
def test_lstm_step_backward_equals_numpy_twin(case):
    dtype, rows, gates, _, dh_start, dc_start = case
    activations = 1 / (1 + np.exp(-gates))  # values a forward step could have produced
    c_next, c_prev = dh_start[::-1].copy(), dc_start * 0.5
    tolerance = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=0, atol=1e-5)
    results = []
    for step in (kernels.lstm_step_backward, kernels.lstm_step_backward_numpy):
        dz, dh, dc = np.full_like(gates, np.nan), dh_start.copy(), dc_start.copy()
        step(dz, dh, dc, activations, c_next, c_prev, rows)
        results.append((dz, dh, dc))
    for ours, twin in zip(*results):
        np.testing.assert_allclose(ours, twin, **tolerance)


@st.composite
def step_inputs(draw, width):
    """A step's buffers for `width` gate blocks: dtype, the unmasked rows, pre-activations (rows, width u),
    a second array of that shape, and the state (batch, u)."""
    batch, units = draw(st.integers(1, 5)), draw(st.integers(1, 9))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rows = np.flatnonzero(draw(hnp.arrays(bool, batch)))
    rng = np.random.default_rng(draw(st.integers(0, 999)))
    array = lambda *shape: rng.standard_normal(shape).astype(dtype)  # noqa: E731
    return dtype, rows, array(len(rows), width * units), array(len(rows), width * units), array(batch, units)


def assert_twins_agree(kernel, twin, make_arguments, outputs, dtype, tolerance=None):
    """Run kernel and twin on fresh copies of the same arguments; the arrays at positions `outputs` agree."""
    tolerance = tolerance or (dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=0, atol=2e-6))
    results = []
    for step in (kernel, twin):
        arguments = make_arguments()
        step(*arguments)
        results.append([arguments[i] for i in outputs])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, **tolerance)


@given(step_inputs(4))
def test_gru_step_kernels_equal_numpy_twins(case):
    dtype, rows, gates, recurrent, h_prev = case
    recurrent = recurrent[:, :3 * h_prev.shape[1]].copy()
    assert_twins_agree(kernels.gru_step_forward, kernels.gru_step_forward_numpy,
                       lambda: (np.full_like(h_prev, np.nan), gates.copy(), recurrent, h_prev, rows), (0, 1), dtype)
    activations = 1 / (1 + np.exp(-gates))  # values a forward step could have produced
    assert_twins_agree(kernels.gru_step_backward, kernels.gru_step_backward_numpy,
                       lambda: (np.full_like(gates, np.nan), h_prev.copy(), activations, h_prev[rows] * 0.5, rows),
                       (0, 1), dtype)


def test_gru_step_backward_may_write_over_its_activations():
    rng = np.random.default_rng(3)
    gates, dh, h_old, rows = rng.random((2, 8)), rng.standard_normal((3, 2)), rng.standard_normal((2, 2)), np.array([0, 2])
    separate = np.empty_like(gates)
    kernels.gru_step_backward(separate, dh.copy(), gates, h_old, rows)
    in_place = gates.copy()
    kernels.gru_step_backward(in_place, dh.copy(), in_place, h_old, rows)
    np.testing.assert_array_equal(in_place, separate)


@given(step_inputs(1))
def test_simple_rnn_step_kernels_equal_numpy_twins(case):
    dtype, rows, pre, recurrent, h_prev = case
    assert_twins_agree(kernels.simple_rnn_step_forward, kernels.simple_rnn_step_forward_numpy,
                       lambda: (np.full_like(h_prev, np.nan), pre.copy(), recurrent, h_prev, rows), (0, 1), dtype)
    assert_twins_agree(kernels.simple_rnn_step_backward, kernels.simple_rnn_step_backward_numpy,
                       lambda: (np.full_like(pre, np.nan), h_prev.copy(), np.tanh(pre), rows), (0, 1), dtype)


@given(st.integers(0, 5), st.integers(1, 7), st.sampled_from([np.float32, np.float64]))
def test_scale_rows_equals_numpy_twin(rows, columns, dtype):
    rng = np.random.default_rng(rows * 10 + columns)
    x, shift, scale = (rng.standard_normal(shape).astype(dtype) for shape in ((rows, columns), rows, rows))
    gamma, beta = rng.standard_normal(columns).astype(dtype), rng.standard_normal(columns).astype(dtype)
    ours, twin = (np.full_like(x, np.nan) for _ in range(2))
    attention_kernels.scale_rows(ours, x, shift, scale, gamma, beta)
    attention_kernels.scale_rows_numpy(twin, x, shift, scale, gamma, beta)
    tolerance = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-13, "atol": 1e-14}
    np.testing.assert_allclose(ours, twin, **tolerance)  # the kernel may fuse a multiply and an add
    # a shift alone (scales of 1, no beta) is exact: LayerNorm's centring is numpy's x - mean, to the bit
    attention_kernels.scale_rows(ours, x, shift, np.ones(rows, dtype), np.ones(columns, dtype), np.zeros(columns, dtype))
    np.testing.assert_array_equal(ours, x - shift[:, None])


@numba.njit
def _softmax_exp_of_each(out, x):
    for k in range(x.shape[0]):
        out[k] = attention_kernels.softmax_exp(x[k])


def test_float32_exp_approximation_is_within_float32_rounding():
    """The softmax's e^x for x <= 0 (and a little above: x - max rounds): within float32's rounding, 0 where
    float32's normal numbers end, a NaN kept."""
    x = np.concatenate([np.linspace(-87.3, 0.01, 2_000_001), [-87.4, -1e9, -np.inf, np.nan]]).astype(np.float32)
    ours = np.empty_like(x)
    _softmax_exp_of_each(ours, x)
    exact = np.exp(x[:-4].astype(np.float64))
    assert ours.dtype == np.float32 and np.abs(ours[:-4] / exact - 1).max() < 1.5e-7  # spacing 6e-8 to 1.2e-7
    np.testing.assert_array_equal(ours[-4:-1], 0)
    assert np.isnan(ours[-1])


@st.composite
def attention_inputs(draw):
    """q, k, v as views of one packed (batch, steps, heads, c + c + e) array, as self-attention's, or of their own
    when keys and queries differ in number; a mask as the kernels read it, per key or per key and query."""
    batch, steps, heads = draw(st.integers(1, 3)), draw(st.integers(1, 7)), draw(st.integers(1, 3))
    keys = draw(st.sampled_from([steps, draw(st.integers(1, 7))]))
    c, e, dtype = draw(st.integers(1, 5)), draw(st.integers(1, 4)), draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 999)))
    packed = (rng.standard_normal((batch, steps, heads, 2 * c + e)) * 3).astype(dtype)
    q = packed[..., :c]
    k, v = (packed[..., c:2 * c], packed[..., 2 * c:]) if keys == steps else \
        (rng.standard_normal((batch, keys, heads, c)).astype(dtype), rng.standard_normal((batch, keys, heads, e)).astype(dtype))
    mask_shape = draw(st.sampled_from([(1, 1, keys, 1), (batch, 1, keys, 1), (batch, 1, keys, steps), (1, heads, keys, steps)]))
    keep = rng.random(mask_shape) > draw(st.sampled_from([0.0, 0.3, 0.7]))
    return q, k, v, keep, dtype(draw(st.sampled_from([1.0, 0.5, 0.37]))), rng.standard_normal((batch, steps, heads, e)).astype(dtype)


@given(attention_inputs())
def test_attention_kernels_equal_numpy_twins(case):
    """Values, scores and gradients; masks that leave a query no key give it zeros, never NaN."""
    q, k, v, keep, scale, g = case
    (batch, steps, heads, _), keys, e = q.shape, k.shape[1], v.shape[3]
    p_shape = (batch, heads, keys, steps)
    forward = lambda: [np.full((batch, steps, heads, e), np.nan, q.dtype), np.full(p_shape, np.nan, q.dtype), q, k, v,  # noqa: E731
                       keep, scale, 0, batch]
    # float32: the kernels' exp is within 1.2e-7 of numpy's, and the gradients subtract sums of such terms
    agree = lambda kernel, twin, make, outputs: assert_twins_agree(kernel, twin, make, outputs, q.dtype, {  # noqa: E731
        np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-13)}[q.dtype.type])
    agree(attention_kernels.attention_forward, attention_kernels.attention_forward_numpy, forward, [0, 1])
    z, p, *_ = arguments = forward()
    attention_kernels.attention_forward(*arguments)
    assert not np.isnan(z).any() and np.all(p[np.broadcast_to(~keep, p_shape)] == 0)
    unscored = [np.full_like(z, np.nan), np.empty((0, 0, keys, steps), q.dtype), *arguments[2:]]
    attention_kernels.attention_forward(*unscored)  # no scores kept (validation): the same values
    np.testing.assert_array_equal(unscored[0], z)
    backward = lambda: [*(np.full_like(a, np.nan) for a in (q, k, v)), g, p, q, k, v, scale, 0, batch]  # noqa: E731
    agree(attention_kernels.attention_backward, attention_kernels.attention_backward_numpy, backward, [0, 1, 2])


@given(st.integers(1, 3), st.integers(1, 6), st.integers(1, 3), st.integers(1, 4), st.integers(1, 3), st.integers(1, 4),
       st.sampled_from([np.float32, np.float64]), st.sampled_from([0.0, 0.3, 0.7]), st.integers(0, 999))
def test_self_attention_kernels_equal_numpy_twins(batch, steps, heads, c, e, features, dtype, drop, seed):
    """The review-at-a-time kernels, projections around the attention: the output, what they keep for the
    gradients, and the gradients; keeping nothing (validation), the same output from scratch arrays."""
    rng, width, outputs = np.random.default_rng(seed), 2 * c + e, features + 1
    x, w, bias, wo, bo, g = (rng.standard_normal(shape).astype(dtype) for shape in (
        (batch, steps, features), (features, heads * width), heads * width, (heads * e, outputs), outputs,
        (batch, steps, outputs)))
    keep, scale = rng.random((batch, 1, steps, rng.choice([1, steps]))) > drop, dtype(0.5)
    kept = [(batch, steps, heads, width), (batch, heads, steps, steps), (batch, steps, heads, e)]
    forward = lambda: [np.full((batch, steps, outputs), np.nan, dtype), *(np.full(s, np.nan, dtype) for s in kept),  # noqa: E731
                       x, w, bias, wo, bo, keep, c, scale, 0, batch]
    agree = lambda kernel, twin, make, outputs: assert_twins_agree(kernel, twin, make, outputs, dtype, {  # noqa: E731
        np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}[dtype])
    agree(attention_kernels.self_attention_forward, attention_kernels.self_attention_forward_numpy, forward, [0, 1, 2, 3])
    out, qkv, p, z, *_ = arguments = forward()
    attention_kernels.self_attention_forward(*arguments)
    unkept = [np.full_like(out, np.nan), *(np.empty((0,) + s[1:], dtype) for s in kept), *arguments[4:]]
    attention_kernels.self_attention_forward(*unkept)
    np.testing.assert_array_equal(unkept[0], out)
    backward = lambda: [np.full_like(x, np.nan), *(np.zeros_like(a) for a in (w, bias, wo, bo)), g, qkv, p, z, x, w, wo,  # noqa: E731
                        c, scale, 0, batch]
    agree(attention_kernels.self_attention_backward, attention_kernels.self_attention_backward_numpy, backward,
          [0, 1, 2, 3, 4])


def test_softmax_columns_equals_numpy_twin_and_keeps_a_nan():
    s = np.random.default_rng(5).standard_normal((6, 4)).astype(np.float32) * 4
    s[2, 1], s[:, 3] = np.nan, 1e30  # a NaN in one column; huge equal scores in another
    keep = np.ones((6, 1), bool)
    ours, twin = s.copy(), s.copy()
    attention_kernels.softmax_columns(ours, keep, np.float32(0.5), np.empty(4, np.float32), np.empty(4, np.float32))
    attention_kernels.softmax_columns_numpy(twin, keep, np.float32(0.5))
    np.testing.assert_allclose(ours, twin, rtol=1e-6, atol=1e-7)
    assert np.isnan(ours[:, 1]).all() and not np.isnan(ours[:, [0, 2, 3]]).any()


def test_every_kernel_has_a_numpy_twin_that_a_test_here_runs():
    source = open(__file__).read() + open(__file__.replace("test_kernels.py", "test_kernels_loops.py")).read()
    helpers = {"gate_tanh", "gate_sigmoid", "tanh_float32", "exp_float32", "attend_head", "head_gradients", "add_bias",
               "add_column_sums"}  # inlined into the kernels, tested through them
    expected = {kernels: {"gather", "simple_rnn_step_backward", "adam_update"}, step_kernels: {"dropout_keep"},
                attention_kernels: {"attention_forward", "attention_backward", "softmax_columns", "self_attention_forward",
                                    "self_attention_backward"}}
    for module, prefix in ((kernels, "kernels"), (attention_kernels, "attention_kernels"), (step_kernels, "step_kernels")):
        compiled = [name for name, f in vars(module).items() if isinstance(f, numba.core.registry.CPUDispatcher)
                    and f.__module__ == module.__name__]
        assert expected[module] <= set(compiled)
        for name in set(compiled) - helpers:
            assert callable(getattr(module, f"{name}_numpy", None)), f"{prefix}.{name} has no numpy twin"
            assert f"{prefix}.{name}_numpy" in source, f"no test in this file compares {prefix}.{name} with its twin"


@given(st.integers(0, 300), st.sampled_from([np.float32, np.float64]), st.booleans(), st.integers(0, 999))
def test_adam_update_equals_numpy_twin_bit_for_bit(size, dtype, amsgrad, seed):
    """Five steps of gradients of every scale (zeros among them): the weights and every moment equal to the bit."""
    rng = np.random.default_rng(seed)
    start = [rng.standard_normal(size).astype(dtype), *(np.zeros(size if amsgrad or k < 2 else 0, dtype) for k in range(3))]
    ours, twin = [a.copy() for a in start], [a.copy() for a in start]
    for t in range(1, 6):
        grad = (rng.standard_normal(size) * 10.0 ** rng.integers(-8, 4, size) * (rng.random(size) > 0.2)).astype(dtype)
        constants = [dtype(1 - 0.9), dtype(1 - 0.999), dtype(0.01 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)), dtype(1e-7)]
        kernels.adam_update(*ours, grad, *constants)
        kernels.adam_update_numpy(*twin, grad, *constants)
    if ours[1].any():  # a nonzero first moment moved the weights
        assert not np.array_equal(ours[0], start[0])
    for a, b in zip(ours, twin):
        np.testing.assert_array_equal(a, b)


@given(st.integers(0, 300), st.integers(0, 2 ** 64 - 1), st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]),
       st.sampled_from([np.float32, np.float64]))
def test_dropout_keep_equals_numpy_twin(size, seed, keep, dtype):
    threshold, scale = np.uint64(round(keep * 2 ** 32)), dtype(1 / keep if keep else 0)
    ours, twin = np.full(size, np.nan, dtype), np.full(size, np.nan, dtype)
    step_kernels.dropout_keep(ours, np.uint64(seed), threshold, scale)
    step_kernels.dropout_keep_numpy(twin, np.uint64(seed), threshold, scale)
    np.testing.assert_array_equal(ours, twin)
    assert set(np.unique(ours)) <= {0, scale}


def test_dropout_keep_draws_independent_units_at_the_rate_asked():
    """A million units: the kept fraction within five sigma of keep, no correlation between neighbours or
    between two seeds one apart, and keep 1/2 (the top bit alone) fair."""
    n, keep = 2 ** 20, 0.9
    a, b = np.empty(n), np.empty(n)
    step_kernels.dropout_keep(a, np.uint64(12345), np.uint64(round(keep * 2 ** 32)), 1.0)
    step_kernels.dropout_keep(b, np.uint64(12346), np.uint64(round(keep * 2 ** 32)), 1.0)
    sigma = np.sqrt(keep * (1 - keep) / n)
    assert abs(a.mean() - keep) < 5 * sigma and abs(b.mean() - keep) < 5 * sigma
    for x, y in ((a[:-1], a[1:]), (a, b)):
        assert abs(np.corrcoef(x, y)[0, 1]) < 5 / np.sqrt(n)
    half = np.empty(n)
    step_kernels.dropout_keep(half, np.uint64(7), np.uint64(2 ** 31), 1.0)  # keep 1/2: the top bit alone
    assert abs(half.mean() - 0.5) < 5 * np.sqrt(0.25 / n)
