"""GRU and SimpleRNN, and the recurrent layers' dropout: Keras's equations and layouts, the fused GRU
and SimpleRNN equal to their references, masks, and dropout in training only."""
import numpy as np
import pytest
from hypothesis import given, settings

import tinygrad_embed as tg
from tinygrad_embed.fused_gru import FusedGRU
from tinygrad_embed.fused_simple_rnn import FusedSimpleRNN
from tinygrad_embed.layers import GRU, LSTM, Embedding, SimpleRNN, gru_reference, simple_rnn_reference
from tinygrad_embed.models import Sequential
from op_specs import gru_cases, simple_rnn_cases
from test_lstm import assert_fused_equals_reference


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def keras_gru_numpy(x, kernel, recurrent_kernel, bias, reset_after=True, mask=None):
    """Keras 3's GRU equations written plainly with numpy, independent of the package: every h_t."""
    u = recurrent_kernel.shape[0]
    b_in, b_rec = (bias[0], bias[1]) if reset_after else (bias, np.zeros(3 * u))
    h, outputs = np.zeros((x.shape[0], u)), []
    for t in range(x.shape[1]):
        xz = x[:, t] @ kernel + b_in
        rz = h @ recurrent_kernel[:, :2 * u] + b_rec[:2 * u]
        z, r = sigmoid(xz[:, :u] + rz[:, :u]), sigmoid(xz[:, u:2 * u] + rz[:, u:])
        if reset_after:
            hh = np.tanh(xz[:, 2 * u:] + r * (h @ recurrent_kernel[:, 2 * u:] + b_rec[2 * u:]))
        else:
            hh = np.tanh(xz[:, 2 * u:] + (r * h) @ recurrent_kernel[:, 2 * u:])
        h_new = z * h + (1 - z) * hh
        h = h_new if mask is None else np.where(mask[:, t:t + 1], h_new, h)
        outputs.append(h)
    return np.stack(outputs, axis=1)


MASK = np.array([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [1, 0, 1, 0, 1, 1]], bool)


@pytest.mark.parametrize("reset_after, fused", [(True, True), (True, False), (False, False)])
@pytest.mark.parametrize("mask", [None, MASK])
def test_gru_matches_kerass_equations_and_layout(reset_after, fused, mask):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6, 4))
    layer = GRU(2, return_sequences=True, reset_after=reset_after, fused=fused, dtype="float64")
    layer(x)
    kernel, recurrent, bias = layer.get_weights()
    assert (kernel.shape, recurrent.shape, bias.shape) == ((4, 6), (2, 6), (2, 6) if reset_after else (6,))
    weights = [rng.standard_normal(w.shape) for w in (kernel, recurrent, bias)]
    layer.set_weights(weights)
    expected = keras_gru_numpy(x, *weights, reset_after=reset_after, mask=mask)
    np.testing.assert_allclose(layer(x, mask=mask).data, expected, rtol=1e-12, atol=1e-14)


@settings(deadline=None)
@given(gru_cases())
def test_fused_gru_equals_the_reference_in_outputs_and_every_gradient(case):
    assert_fused_equals_reference(FusedGRU.apply, gru_reference, case)


@settings(deadline=None)
@given(simple_rnn_cases())  # initial states, masks and dropout masks among the cases
def test_fused_simple_rnn_equals_the_reference_in_outputs_and_every_gradient(case):
    assert_fused_equals_reference(FusedSimpleRNN.apply, simple_rnn_reference, case)


@pytest.mark.parametrize("activation, fused", [("tanh", True), ("relu", False)])
def test_simple_rnn_runs_fused_only_for_tanh(activation, fused):
    assert SimpleRNN(3, activation=activation).fused is fused


@pytest.mark.parametrize("layer", [lambda: GRU(3, return_sequences=True, dtype="float64"),
                                   lambda: GRU(3, reset_after=False, dtype="float64"),
                                   lambda: SimpleRNN(3, return_sequences=True, dtype="float64"),
                                   lambda: SimpleRNN(3, go_backwards=True, return_state=True, dtype="float64")])
def test_layer_gradcheck_with_a_mask(layer):
    layer = layer()
    x = tg.Tensor(np.random.default_rng(2).standard_normal((3, 6, 2)), requires_grad=True)
    layer(x)

    def first_output(x, *weights):
        out = layer(x, mask=MASK)
        return out[0] if isinstance(out, list) else out
    assert tg.gradcheck(first_output, [x, *layer.trainable_weights])


def test_simple_rnn_matches_its_equation():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 3))
    layer = SimpleRNN(4, return_sequences=True, dtype="float64")
    layer(x)
    kernel, recurrent, bias = layer.get_weights()
    h, expected = np.zeros((2, 4)), []
    for t in range(5):
        h = np.where(MASK[:2, t:t + 1], np.tanh(x[:, t] @ kernel + bias + h @ recurrent), h)
        expected.append(h)
    np.testing.assert_allclose(layer(x, mask=MASK[:2, :5]).data, np.stack(expected, 1), rtol=1e-12)


@pytest.mark.parametrize("make", [GRU, SimpleRNN, LSTM])
def test_an_all_masked_row_and_a_one_step_sequence(make):
    layer = make(3, return_sequences=True, dtype="float64")
    x = np.random.default_rng(4).standard_normal((2, 4, 2))
    mask = np.array([[0, 0, 0, 0], [1, 1, 0, 1]], bool)
    out = layer(x, mask=mask).data
    np.testing.assert_array_equal(out[0], 0)  # never updated: the zero initial state throughout
    one_step = layer(x[:, :1]).data
    np.testing.assert_allclose(one_step, layer(x).data[:, :1], rtol=1e-12)


@pytest.mark.parametrize("make", [lambda: LSTM(5, dropout=0.4, recurrent_dropout=0.3, seed=1),
                                  lambda: GRU(5, dropout=0.4, recurrent_dropout=0.3, seed=1),
                                  lambda: SimpleRNN(5, dropout=0.4, recurrent_dropout=0.3, seed=1),
                                  lambda: LSTM(5, dropout=0.4, seed=1)])
def test_dropout_only_while_training(make):
    tg.utils.set_random_seed(0)
    x = np.random.default_rng(5).standard_normal((4, 6, 3)).astype(np.float32)
    layer = make()
    plain = type(layer)(5)
    plain(x)
    layer(x)
    plain.set_weights(layer.get_weights())
    np.testing.assert_array_equal(layer(x).data, plain(x).data)  # inference: no mask at all
    np.testing.assert_array_equal(layer(x, training=False).data, plain(x).data)
    assert not np.allclose(layer(x, training=True).data, plain(x).data)
    assert not np.allclose(layer(x, training=True).data, layer(x, training=True).data)  # a new mask per batch


def test_predict_and_evaluate_ignore_dropout():
    tg.utils.set_random_seed(0)
    ids = np.random.default_rng(6).integers(1, 20, (16, 8))
    labels = (ids[:, 0] > 10).astype(np.float32)
    dropped = Sequential([Embedding(20, 4), LSTM(5, dropout=0.3, recurrent_dropout=0.3), tg.layers.Dense(1)])
    plain = Sequential([Embedding(20, 4), LSTM(5), tg.layers.Dense(1)])
    dropped.build((None, 8))
    plain.build((None, 8))
    plain.set_weights(dropped.get_weights())
    for model in (dropped, plain):
        model.compile(optimizer="sgd", loss="mse")
    np.testing.assert_array_equal(dropped.predict(ids), plain.predict(ids))
    assert dropped.evaluate(ids, labels, verbose=0) == plain.evaluate(ids, labels, verbose=0)


def test_dropout_masks_drop_at_the_rate_and_scale_the_survivors():
    layer = GRU(50, dropout=0.3, recurrent_dropout=0.2, seed=3)
    x = tg.Tensor(np.ones((400, 2, 20), np.float32))
    layer(x)
    input_masks, recurrent_masks = layer.dropout_masks(x, training=True)
    assert input_masks.shape == (3, 400, 20) and recurrent_masks.shape == (3, 400, 50)  # per gate, as Keras
    for masks, rate in ((input_masks, 0.3), (recurrent_masks, 0.2)):
        dropped = np.mean(masks == 0)
        assert abs(dropped - rate) < 4 * np.sqrt(rate * (1 - rate) / masks.size)  # within 4 standard errors
        np.testing.assert_allclose(np.unique(masks), [0, 1 / (1 - rate)], rtol=1e-6)
    only_input, none = GRU(5, dropout=0.3), GRU(5)
    only_input(x)
    none(x)
    assert only_input.dropout_masks(x, training=True)[0].shape == (1, 400, 20)  # one mask for every gate
    assert none.dropout_masks(x, training=True) == (None, None)


@pytest.mark.parametrize("rate", [-0.1, 1.0, "0.2", True])
def test_bad_dropout_rates_are_refused(rate):
    with pytest.raises(ValueError, match="dropout must be a number in \\[0, 1\\)"):
        GRU(3, dropout=rate)
