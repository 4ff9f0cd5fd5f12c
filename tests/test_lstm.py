"""The LSTM layer: Keras's weights and semantics, the fused op equal to the reference, masking."""
import contextlib
import tracemalloc
from unittest import mock

import numpy as np
import pytest
from hypothesis import given

import tinygrad_embed as tg
from tinygrad_embed import fused_rnn, kernels
from tinygrad_embed.fused_lstm import FusedLSTM
from tinygrad_embed.layers import LSTM, Embedding, lstm_reference
from op_specs import lstm_cases


def keras_lstm_numpy(x, kernel, recurrent_kernel, bias, mask=None):
    """Keras's LSTM equations, written plainly with numpy, independent of the package: all h_t."""
    batch, steps, _ = x.shape
    u = recurrent_kernel.shape[0]
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    h, c, outputs = np.zeros((batch, u)), np.zeros((batch, u)), []
    for t in range(steps):
        z = x[:, t] @ kernel + h @ recurrent_kernel + bias
        i, f, g, o = sigmoid(z[:, :u]), sigmoid(z[:, u:2 * u]), np.tanh(z[:, 2 * u:3 * u]), sigmoid(z[:, 3 * u:])
        c_new = f * c + i * g
        h_new = o * np.tanh(c_new)
        keep = np.ones((batch, 1), bool) if mask is None else mask[:, t:t + 1]
        h, c = np.where(keep, h_new, h), np.where(keep, c_new, c)
        outputs.append(h)
    return np.stack(outputs, axis=1)


def test_weights_follow_keras_layout_and_count():
    layer = LSTM(100)
    layer(np.zeros((2, 3, 32), np.float32))
    kernel, recurrent, bias = layer.get_weights()
    assert (kernel.shape, recurrent.shape, bias.shape) == ((32, 400), (100, 400), (400,))
    assert layer.count_params() == 53_200
    np.testing.assert_array_equal(bias, np.r_[np.zeros(100), np.ones(100), np.zeros(200)])  # unit_forget_bias
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(100), atol=1e-5)  # orthogonal rows


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("with_mask", [False, True])
def test_outputs_match_keras_equations_with_set_weights(fused, with_mask):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6, 4))
    weights = [rng.standard_normal((4, 8)), rng.standard_normal((2, 8)), rng.standard_normal(8)]
    mask = np.array([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [1, 0, 1, 0, 1, 1]], bool) if with_mask else None
    layer = LSTM(2, return_sequences=True, dtype="float64", fused=fused)
    layer(x)
    layer.set_weights(weights)
    np.testing.assert_allclose(layer(x, mask=mask).data, keras_lstm_numpy(x, *weights, mask), rtol=1e-12, atol=1e-14)


def assert_fused_equals_reference(fused, reference, case):
    """Outputs and the gradient of every input agree to 1e-10 in float64, for a random upstream gradient."""
    arrays, _, kwargs = case
    results = []
    for implementation in (fused, reference):
        inputs = [tg.Tensor(a, requires_grad=True) for a in arrays]
        out = implementation(*inputs, **kwargs)
        out.backward(np.random.default_rng(1).standard_normal(out.shape))
        results.append([out.data] + [t.grad for t in inputs])
    for fused_result, reference_result in zip(*results):
        np.testing.assert_allclose(fused_result, reference_result, rtol=1e-10, atol=1e-13)


@given(lstm_cases())  # with Keras's dropout masks among the cases
def test_fused_equals_reference_in_outputs_and_every_gradient(case):
    assert_fused_equals_reference(FusedLSTM.apply, lstm_reference, case)


@given(lstm_cases())
def test_blocks_of_rows_side_by_side_equal_the_reference(case):
    with blocks_of_one_row_on_three_cores():
        assert len(fused_rnn.batch_blocks(3)) == 3
        assert_fused_equals_reference(FusedLSTM.apply, lstm_reference, case)


def blocks_of_one_row_on_three_cores():
    """Batches split into up to three blocks of rows even on this machine and at the tests' small sizes."""
    return mock.patch.multiple(fused_rnn, CORES=3, ROWS_PER_BLOCK=1)


@pytest.mark.parametrize("options", [{}, {"return_sequences": True}, {"return_state": True},
                                     {"go_backwards": True, "return_sequences": True}, {"use_bias": False}])
@pytest.mark.parametrize("fused", [True, False])
def test_layer_gradcheck(options, fused):
    rng = np.random.default_rng(2)
    layer = LSTM(3, dtype="float64", fused=fused, **options)
    x = tg.Tensor(rng.standard_normal((2, 4, 3)), requires_grad=True)
    mask = np.array([[0, 1, 1, 1], [1, 1, 0, 1]], bool)

    def run(x, *weights):
        out = layer(x, mask=mask)
        return tg.concatenate(out, axis=1) if isinstance(out, list) else out
    layer(x)
    assert tg.gradcheck(run, [x, *layer.trainable_weights])


def test_return_state_gives_last_output_h_and_c():
    layer = LSTM(3, return_state=True, dtype="float64")
    out, h, c = layer(np.random.default_rng(0).standard_normal((2, 5, 4)))
    np.testing.assert_array_equal(out.data, h.data)
    assert c.shape == (2, 3) and not np.allclose(c.data, h.data)


def test_go_backwards_reads_the_sequence_reversed():
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    forward = LSTM(4, return_sequences=True, dtype="float64")
    forward(x)
    backward = LSTM(4, return_sequences=True, go_backwards=True, dtype="float64")
    backward(x)
    backward.set_weights(forward.get_weights())
    np.testing.assert_array_equal(backward(x).data, forward(x[:, ::-1]).data)


@pytest.mark.parametrize("padding", ["pre", "post", "middle"])
def test_masked_steps_keep_state_and_repeat_outputs(padding):
    rng = np.random.default_rng(3)
    real = rng.standard_normal((1, 4, 2))
    pad = np.zeros((1, 3, 2))
    x, mask = {"pre": (np.concatenate([pad, real], 1), np.r_[[0] * 3, [1] * 4]),
               "post": (np.concatenate([real, pad], 1), np.r_[[1] * 4, [0] * 3]),
               "middle": (np.concatenate([real[:, :2], pad, real[:, 2:]], 1), np.r_[[1] * 2, [0] * 3, [1] * 2])}[padding]
    layer = LSTM(3, return_sequences=True, dtype="float64")
    unpadded = layer(real).data[0]
    padded = layer(x, mask=mask[None].astype(bool)).data[0]
    np.testing.assert_allclose(padded[mask.astype(bool)], unpadded, rtol=1e-12)  # real steps: as if no padding
    previous = np.zeros(3)  # masked steps repeat the previous output, zeros before the first real step
    for t in range(7):
        if not mask[t]:
            np.testing.assert_array_equal(padded[t], previous)
        previous = padded[t]


def test_the_mask_from_embedding_mask_zero_reaches_the_lstm():
    words = Embedding(10, 4, mask_zero=True, dtype="float64")
    layer = LSTM(3, dtype="float64")
    ids = np.array([[0, 0, 3, 5], [0, 2, 2, 9]])
    implicit = layer(words(ids)).data
    explicit = layer(words(ids).detach(), mask=ids != 0).data
    np.testing.assert_array_equal(implicit, explicit)
    assert not np.array_equal(implicit, layer(words(ids).detach()).data)


def test_a_mask_of_the_wrong_shape_is_refused():
    layer = LSTM(3)
    with pytest.raises(ValueError, match=r"\(2, 4\).*\(2, 5\)"):
        layer(np.zeros((2, 4, 3), np.float32), mask=np.ones((2, 5), bool))


def test_masked_steps_compute_only_their_active_rows(monkeypatch):
    # the compiled loop cannot be watched, so its twin runs in its place (tests/test_kernels_loops.py
    # proves them equal), and the twin's step kernel counts the rows it is given
    calls = []
    real_step = kernels.lstm_step_forward_numpy
    monkeypatch.setattr(kernels, "lstm_forward_steps", kernels.lstm_forward_steps_numpy)
    monkeypatch.setattr(kernels, "lstm_step_forward_numpy", lambda *args: calls.append(len(args[-1])) or real_step(*args))
    mask = np.zeros((3, 10), bool)
    mask[0, 6:], mask[1, 8:], mask[2, 4:] = True, True, True  # pre-padding: steps 0-3 empty
    LSTM(2)(np.ones((3, 10, 2), np.float32), mask=mask)
    assert calls == [0, 0, 0, 0, 1, 1, 2, 2, 3, 3]  # only the real rows of each step


def test_an_lstm_over_500_steps_backpropagates():
    rng = np.random.default_rng(4)
    layer = LSTM(3, dtype="float64", fused=False)  # the composed reference: a graph 500 steps deep
    x = tg.Tensor(rng.standard_normal((2, 500, 2)), requires_grad=True)
    layer(x).sum().backward()
    fused = LSTM(3, dtype="float64")
    fused(x)
    fused.set_weights(layer.get_weights())
    x_fused = tg.Tensor(x.data, requires_grad=True)
    fused(x_fused).sum().backward()
    np.testing.assert_allclose(x_fused.grad, x.grad, rtol=1e-9, atol=1e-14)
    for a, b in zip(layer.trainable_weights, fused.trainable_weights):
        np.testing.assert_allclose(b.grad, a.grad, rtol=1e-9, atol=1e-14)


def _long_sequence_case():
    rng = np.random.default_rng(7)
    batch, steps, features, units = 4, 300, 3, 32
    arrays = [rng.standard_normal((batch, steps, features)), rng.standard_normal((features, 4 * units)) * 0.3,
              rng.standard_normal((units, 4 * units)) * 0.3, rng.standard_normal(4 * units) * 0.3]
    return arrays, rng.random((batch, steps)) < 0.7


@pytest.mark.parametrize("all_steps", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("side_by_side", [False, True])
def test_a_forward_under_no_grad_gives_exactly_the_recorded_result(all_steps, masked, side_by_side):
    arrays, mask = _long_sequence_case()
    mask = mask if masked else None
    inputs = [tg.Tensor(a, requires_grad=True) for a in arrays]
    with blocks_of_one_row_on_three_cores() if side_by_side else contextlib.nullcontext():
        recorded = FusedLSTM.apply(*inputs, mask=mask, all_steps=all_steps)
        with tg.no_grad():
            plain = FusedLSTM.apply(*inputs, mask=mask, all_steps=all_steps)
    assert recorded._ctx is not None and plain._ctx is None
    np.testing.assert_array_equal(plain.data, recorded.data)


def test_a_forward_under_no_grad_keeps_only_what_the_next_step_reads():
    arrays, mask = _long_sequence_case()
    inputs = [tg.Tensor(a, requires_grad=True) for a in arrays]

    def peak_memory_of_forward():
        tracemalloc.start()  # numpy reports its array buffers to tracemalloc
        try:
            FusedLSTM.apply(*inputs, mask=mask, all_steps=False)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    FusedLSTM.apply(*inputs, mask=mask, all_steps=False)  # numba loads its kernels outside the measurement
    recorded = peak_memory_of_forward()  # every step's gates, h_{t-1} and states, for backward
    with tg.no_grad():
        plain = peak_memory_of_forward()
    assert plain < recorded / 4, (plain, recorded)
    op = FusedLSTM()
    op.needs_backward = False  # what apply sets under no_grad
    op.forward(*arrays, mask=mask, all_steps=False)
    kept = [name for name, value in vars(op).items() if isinstance(value, (np.ndarray, list, tuple))]
    assert kept == [], f"a forward that no backward can follow kept {kept}"


def test_float32_fused_lstm_stays_close_to_float64():
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal((8, 30, 5)), rng.standard_normal((5, 16)) * 0.5,
              rng.standard_normal((4, 16)) * 0.5, rng.standard_normal(16) * 0.5]
    exact = FusedLSTM.apply(*map(tg.Tensor, arrays)).data
    single = FusedLSTM.apply(*(tg.Tensor(a.astype(np.float32)) for a in arrays)).data
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, exact, atol=2e-5)


def test_pytorch_lstm_with_our_weights_gives_our_outputs():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    layer = LSTM(5, return_sequences=True, dtype="float64")
    x = rng.standard_normal((2, 7, 3))
    ours = layer(x).data
    kernel, recurrent, bias = layer.get_weights()
    theirs = torch.nn.LSTM(3, 5, batch_first=True).double()
    with torch.no_grad():  # PyTorch keeps (4u, in) and two biases, gate order i, f, g, o as Keras's
        theirs.weight_ih_l0.copy_(torch.from_numpy(kernel.T))
        theirs.weight_hh_l0.copy_(torch.from_numpy(recurrent.T))
        theirs.bias_ih_l0.copy_(torch.from_numpy(bias))
        theirs.bias_hh_l0.zero_()
        np.testing.assert_allclose(theirs(torch.from_numpy(x))[0].numpy(), ours, rtol=1e-10, atol=1e-12)
