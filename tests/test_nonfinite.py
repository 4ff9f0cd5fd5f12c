"""NaN and infinities are never laundered into finite numbers (docs/nothing-silent.md, "NaN and overflow"):
the float32 step kernels against their numpy twins on inputs holding NaN and +-inf, forward and backward;
each fused op's float32 path against its float64 path, whose maths is numpy's own; and a run whose weights
have turned NaN shows a NaN loss, which stops fit through TerminateOnNaN."""
import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_embed as tg
from tinygrad_embed import kernels
from tinygrad_embed.callbacks import TerminateOnNaN
from tinygrad_embed.fused_gru import FusedGRU
from tinygrad_embed.fused_lstm import FusedLSTM
from tinygrad_embed.fused_simple_rnn import FusedSimpleRNN
from tinygrad_embed.layers import GRU, LSTM, Dense, Embedding, SimpleRNN
from tinygrad_embed.models import Sequential
from op_specs import gru_cases, lstm_cases, simple_rnn_cases

NON_FINITE = [np.nan, np.inf, -np.inf]


@numba.njit
def _each(out, x, sigmoid):
    for k in range(x.shape[0]):
        out[k] = kernels.gate_sigmoid(x[k]) if sigmoid else kernels.gate_tanh(x[k])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gate_activations_of_nan_and_infinities_are_numpys(dtype):
    x = np.array([np.nan, np.inf, -np.inf, -np.nan, 0.0], dtype)
    for sigmoid, expected in ((False, np.tanh(x)), (True, [np.nan, 1.0, 0.0, np.nan, 0.5])):
        out = np.full_like(x, 7.0)
        _each(out, x, sigmoid)
        np.testing.assert_array_equal(out, np.asarray(expected, dtype))  # NaN where numpy has NaN, nowhere else


@st.composite
def poisoned(draw, array, count=3):
    """A copy of array with up to `count` entries set to NaN, inf or -inf."""
    array = array.copy()
    for _ in range(draw(st.integers(1 if array.size else 0, min(count, array.size)))):
        array.flat[draw(st.integers(0, array.size - 1))] = draw(st.sampled_from(NON_FINITE))
    return array


@st.composite
def step_buffers(draw, width):
    """dtype, unmasked rows, and (rows, width u), (rows, width u), (batch, u), (batch, u) arrays of N(0, 1)."""
    batch, units = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rows = np.flatnonzero(draw(st.lists(st.booleans(), min_size=batch, max_size=batch)))
    rng = np.random.default_rng(draw(st.integers(0, 999)))
    array = lambda *shape: rng.standard_normal(shape).astype(dtype)  # noqa: E731
    return dtype, rows, array(len(rows), width * units), array(len(rows), width * units), array(batch, units), \
        array(batch, units)


def assert_same_with_nan(kernel, twin, make_arguments, outputs, dtype):
    """Kernel and twin on fresh copies of the same arguments: NaN and +-inf in the same places, the rest close."""
    tolerance = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=1e-5, atol=2e-6)
    results = []
    for step in (kernel, twin):
        arguments = make_arguments()
        with np.errstate(all="ignore"):  # the twins' exp overflows to inf, as it should
            step(*arguments)
        results.append([arguments[i] for i in outputs])
    for ours, theirs in zip(*results):
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
        np.testing.assert_allclose(ours, theirs, **tolerance)  # equal_nan; an inf must meet the same inf


def activations_of(pre):
    """Values a forward step could leave as activations (in [0, 1]), NaN where pre is NaN."""
    with np.errstate(all="ignore"):
        return 1 / (1 + np.exp(-pre))


@given(step_buffers(4), st.data())
def test_lstm_step_kernels_carry_nan_and_infinities_as_their_twins(case, data):
    dtype, rows, gates, _, h, c = case
    bias = np.random.default_rng(len(rows)).standard_normal(4 * h.shape[1]).astype(dtype)
    gates, bias, h, c = (data.draw(poisoned(a)) for a in (gates, bias, h, c))
    assert_same_with_nan(kernels.lstm_step_forward, kernels.lstm_step_forward_numpy,
                         lambda: (np.empty_like(h), np.empty_like(c), gates.copy(), bias, h, c, rows), (0, 1, 2),
                         dtype)
    dh, dc, c_next = (data.draw(poisoned(a)) for a in (h, c, c[::-1].copy()))
    assert_same_with_nan(kernels.lstm_step_backward, kernels.lstm_step_backward_numpy,
                         lambda: (np.empty_like(gates), dh.copy(), dc.copy(), activations_of(gates), c_next, c, rows),
                         (0, 1, 2), dtype)


@given(step_buffers(4), st.data())
def test_gru_step_kernels_carry_nan_and_infinities_as_their_twins(case, data):
    dtype, rows, gates, recurrent, h, dh = case
    units = h.shape[1]
    gates, recurrent, h = data.draw(poisoned(gates)), data.draw(poisoned(recurrent[:, :3 * units].copy())), \
        data.draw(poisoned(h))
    assert_same_with_nan(kernels.gru_step_forward, kernels.gru_step_forward_numpy,
                         lambda: (np.empty_like(h), gates.copy(), recurrent, h, rows), (0, 1), dtype)
    activations, dh = activations_of(gates), data.draw(poisoned(dh))
    assert_same_with_nan(kernels.gru_step_backward, kernels.gru_step_backward_numpy,
                         lambda: (np.empty_like(gates), dh.copy(), activations, h[rows], rows), (0, 1), dtype)


@given(step_buffers(1), st.data())
def test_simple_rnn_step_kernels_carry_nan_and_infinities_as_their_twins(case, data):
    dtype, rows, pre, recurrent, h, dh = case
    pre, recurrent, h, dh = (data.draw(poisoned(a)) for a in (pre, recurrent, h, dh))
    assert_same_with_nan(kernels.simple_rnn_step_forward, kernels.simple_rnn_step_forward_numpy,
                         lambda: (np.empty_like(h), pre.copy(), recurrent, h, rows), (0, 1), dtype)
    with np.errstate(all="ignore"):
        h_new = np.tanh(pre)
    assert_same_with_nan(kernels.simple_rnn_step_backward, kernels.simple_rnn_step_backward_numpy,
                         lambda: (np.empty_like(pre), dh.copy(), h_new, rows), (0, 1), dtype)


# ---- the fused ops: float32 gives NaN exactly where float64 (numpy's maths) does, forward and backward ---
def run(op, arrays, kwargs, dtype, upstream):
    """The op's output and the gradient of each input, computed in dtype."""
    inputs = [tg.Tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    cast = {key: value.astype(dtype) if key.endswith("_masks") and value is not None else value
            for key, value in kwargs.items()}  # the dropout masks, in dtype too
    out = op(*inputs, **cast)
    with np.errstate(all="ignore"):
        out.backward(upstream(out.shape).astype(dtype))
    return [out.data] + [t.grad for t in inputs]


@pytest.mark.parametrize("op, cases", [(FusedLSTM.apply, lstm_cases()), (FusedGRU.apply, gru_cases()),
                                       (FusedSimpleRNN.apply, simple_rnn_cases())], ids=["lstm", "gru", "simple_rnn"])
@given(data=st.data())
def test_fused_ops_in_float32_give_nan_where_float64_does(op, cases, data):
    arrays, _, kwargs = data.draw(cases)
    arrays = [a.astype(np.float32).astype(np.float64) for a in arrays]  # the same numbers in both (no 1e-60 -> 0)
    arrays = [data.draw(poisoned(arrays[0], count=2)), *arrays[1:]]  # NaN or +-inf in x
    arrays[-1] = data.draw(poisoned(arrays[-1], count=1)) if data.draw(st.booleans()) else arrays[-1]
    seed = data.draw(st.integers(0, 99))
    upstream = lambda shape: np.random.default_rng(seed).standard_normal(shape)  # noqa: E731
    with np.errstate(all="ignore"):
        exact = run(op, arrays, kwargs, np.float64, upstream)
        single = run(op, arrays, kwargs, np.float32, upstream)
    for ours, theirs in zip(single, exact):
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
        np.testing.assert_array_equal(np.isinf(ours), np.isinf(theirs))


# ---- a diverging run: the loss is NaN and TerminateOnNaN stops fit -------------------------------------
@pytest.mark.parametrize("recurrent", [LSTM, GRU, SimpleRNN])
def test_a_float32_recurrence_with_a_nan_weight_gives_a_nan_loss_and_fit_stops(recurrent):
    tg.utils.set_random_seed(0)
    model = Sequential([Embedding(10, 4), recurrent(3), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    x, y = np.random.default_rng(0).integers(1, 10, (8, 5)), np.array([0, 1] * 4)
    model.predict(x[:1])
    kernel = model.layers[1].trainable_weights[1]  # the recurrent kernel, as a diverging run leaves it
    kernel.data[0, 0] = np.nan
    assert np.isnan(model.predict(x)).all()  # h_{t-1} U: NaN reaches every unit from the second step on
    history = model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[TerminateOnNaN()])
    assert np.isnan(history.history["loss"][-1]) and len(history.history["loss"]) == 1
    assert model.stop_training


def test_the_kernels_float32_tanh_is_accurate_and_exactly_one_past_its_limit():
    """tanh as a compiled kernel computes it (its fastmath flags change the rounding): within 4e-7 of the true
    tanh; at the limit (the kink) the formula's last value, below 1, then exactly +-1 beyond; NaN for NaN."""
    limit = float(kernels._TANH_LIMIT)
    edges = np.nextafter(np.float32([limit, -limit]), np.float32([np.inf, -np.inf]))  # just past the limit
    x = np.concatenate([np.linspace(-12, 12, 400_001), edges, [limit, -limit, 1e30, -1e30, np.inf, -np.inf, np.nan]]
                       ).astype(np.float32)
    x = np.sort(x)  # NaN last
    out = np.empty((1, x.size), np.float32)
    no_recurrence = np.zeros((1, x.size), np.float32)  # h_t = tanh(pre + 0)
    kernels.simple_rnn_step_forward(out, x[None].copy(), no_recurrence, no_recurrence, np.array([0]))
    tanh = out[0]
    assert np.abs(tanh[:-1] - np.tanh(x[:-1].astype(np.float64))).max() < 4e-7
    above = np.nextafter(np.float32(limit), np.float32(np.inf))
    for side in (1, -1):  # at the switch: the formula's last value, below 1, then exactly +-1
        at, beyond = (tanh[np.flatnonzero(x == side * v)[0]] for v in (np.float32(limit), above))
        assert side * at < 1 and side * beyond == 1
    beyond = np.abs(x) > limit
    np.testing.assert_array_equal(tanh[beyond], np.sign(x[beyond]))
    assert np.isnan(tanh[-1])
