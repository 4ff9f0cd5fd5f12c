"""Cells and RNN: each built-in cell inside RNN computes what its layer does from the same weights,
stacked cells what stacked layers do, a user-written cell runs as in the Keras guide, and masks, states,
dropout and gradients behave as in the layers."""
import numpy as np
import pytest

import tinygrad_embed as tg
from tinygrad_embed.functions import concatenate
from tinygrad_embed.layers import GRU, LSTM, Layer, SimpleRNN
from tinygrad_embed.layers.rnn import RNN, GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from tinygrad_embed.tensor import Tensor

PAIRS = [(LSTMCell, LSTM, {}), (GRUCell, GRU, {}), (GRUCell, GRU, {"reset_after": False}),
         (SimpleRNNCell, SimpleRNN, {}), (LSTMCell, LSTM, {"use_bias": False}), (GRUCell, GRU, {"use_bias": False})]
PAIR_IDS = ["lstm", "gru", "gru_reset_before", "simple_rnn", "lstm_no_bias", "gru_no_bias"]


def data(seed=0, batch=3, steps=5, features=2):
    rng = np.random.default_rng(seed)
    mask = np.ones((batch, steps), bool)
    mask[0, :2], mask[1, 3:], mask[2, 2] = False, False, False  # pre-, post- and middle padding
    return rng.standard_normal((batch, steps, features)), mask


def outputs_of(layer, *args, **kwargs):
    result = layer(*args, **kwargs)
    return [t.data for t in tg.layers.symbolic.flatten(result)]


def same_weights(rnn, layer, x):
    layer(x)
    rnn(x)
    rnn.set_weights(layer.get_weights())


@pytest.mark.parametrize("cell_class, layer_class, options", PAIRS, ids=PAIR_IDS)
@pytest.mark.parametrize("return_sequences, go_backwards", [(False, False), (True, False), (True, True)])
def test_a_cell_in_rnn_computes_its_layer(cell_class, layer_class, options, return_sequences, go_backwards):
    x, mask = data()
    flags = dict(return_sequences=return_sequences, go_backwards=go_backwards, return_state=True)
    rnn = RNN(cell_class(4, dtype="float64", **options), **flags)
    layer = layer_class(4, dtype="float64", **options, **flags)
    same_weights(rnn, layer, x)
    count = len(layer.state_sizes)
    states = [np.random.default_rng(1).standard_normal((3, 4)) for _ in range(count)]
    for kwargs in ({}, {"mask": mask}, {"mask": mask, "initial_state": states}):
        for got, expected in zip(outputs_of(rnn, x, **kwargs), outputs_of(layer, x, **kwargs), strict=True):
            np.testing.assert_allclose(got, expected, atol=1e-12)


def test_cells_have_keras_weights_names_and_state_sizes():
    lstm, gru, gru_before, simple = LSTMCell(3), GRUCell(3), GRUCell(3, reset_after=False), SimpleRNNCell(3)
    for cell in (lstm, gru, gru_before, simple):
        cell.build((None, 2))
    assert [w.shape for w in lstm.weights] == [(2, 12), (3, 12), (12,)]
    np.testing.assert_array_equal(lstm.bias.data, np.r_[np.zeros(3), np.ones(3), np.zeros(6)])  # unit_forget_bias
    assert [w.shape for w in gru.weights] == [(2, 9), (3, 9), (2, 9)]
    assert [w.shape for w in gru_before.weights] == [(2, 9), (3, 9), (9,)]
    assert [w.shape for w in simple.weights] == [(2, 3), (3, 3), (3,)]
    assert lstm._weight_names == gru._weight_names == simple._weight_names == ["kernel", "recurrent_kernel", "bias"]
    assert (lstm.state_size, gru.state_size, simple.state_size) == ([3, 3], 3, 3)
    assert lstm.output_size == gru.output_size == simple.output_size == 3


def test_a_cell_called_alone_is_one_step():
    cell = LSTMCell(4, dtype="float64")
    x, _ = data()
    output, (h, c) = cell(x[:, 0], [np.zeros((3, 4)), np.zeros((3, 4))])
    expected = LSTM(4, return_state=True, dtype="float64")
    expected(x[:, :1])
    expected.set_weights(cell.get_weights())
    _, h_expected, c_expected = expected(x[:, :1])
    np.testing.assert_allclose(output.data, h_expected.data, atol=1e-12)
    np.testing.assert_allclose(c.data, c_expected.data, atol=1e-12)
    assert h is output


def test_stacked_cells_equal_stacked_layers():
    x, mask = data(2)
    rnn = RNN([LSTMCell(4, dtype="float64"), GRUCell(3, dtype="float64")], return_sequences=True, return_state=True)
    first = LSTM(4, return_sequences=True, return_state=True, dtype="float64")
    second = GRU(3, return_sequences=True, return_state=True, dtype="float64")
    rnn(x)
    first(x)
    first.set_weights(rnn.get_weights()[:3])
    second(np.zeros((1, 1, 4)))
    second.set_weights(rnn.get_weights()[3:])
    output, (h1, c1), h2 = rnn(x, mask=mask)  # the states nest as the cells' state sizes, as in Keras
    middle, h1_expected, c1_expected = first(x, mask=mask)
    expected, h2_expected = second(middle, mask=mask)
    for got, want in [(output, expected), (h1, h1_expected), (c1, c1_expected), (h2, h2_expected)]:
        np.testing.assert_allclose(got.data, want.data, atol=1e-12)
    assert isinstance(rnn.cell, StackedRNNCells) and rnn.cell.state_size == [[4, 4], 3]


class MinimalRNNCell(Layer):
    """The Keras guide's cell: output = x W + h_prev U, no activation."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="uniform",
                                                name="recurrent_kernel")

    def call(self, inputs, states):
        output = inputs @ self.kernel + states[0] @ self.recurrent_kernel
        return output, [output]


def test_a_user_written_cell_runs_and_trains():
    x, _ = data(3)
    layer = RNN(MinimalRNNCell(4, dtype="float64"), return_sequences=True)
    got = layer(x).data
    kernel, recurrent = layer.get_weights()
    h, expected = np.zeros((3, 4)), []
    for t in range(x.shape[1]):  # the guide's equations, in numpy
        h = x[:, t] @ kernel + h @ recurrent
        expected.append(h)
    np.testing.assert_allclose(got, np.stack(expected, axis=1), atol=1e-12)
    model = tg.models.Sequential([tg.layers.Input((5, 2)), RNN(MinimalRNNCell(4)), tg.layers.Dense(1)])
    model.compile("sgd", "mse")
    before = model.get_weights()
    model.fit(x.astype(np.float32), np.ones((3, 1), np.float32), epochs=1, verbose=0)
    assert all(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))


def test_a_cells_get_initial_state_starts_the_rnn():
    class StartsAtOne(MinimalRNNCell):
        def get_initial_state(self, batch_size):
            return [np.ones((batch_size, self.units))]
    x, _ = data(11)
    layer = RNN(StartsAtOne(3, dtype="float64"))
    layer(x)
    layer.set_weights([np.ones((2, 3)), 0.9 * np.eye(3)])  # the state decays slowly: its start shows at the end
    from_ones = layer(x).data
    np.testing.assert_allclose(layer(x, initial_state=[np.ones((3, 3))]).data, from_ones, atol=1e-12)
    assert not np.allclose(layer(x, initial_state=[np.zeros((3, 3))]).data, from_ones)


class TwoHeadedCell(Layer):
    """A cell whose output is not its state: output = 2 h, so a masked step's repeated output is visible."""
    state_size = 2
    output_size = 2

    def call(self, inputs, states):
        h = (inputs[:, :2] + states[0]).tanh()
        return h * 2, [h]


@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_masked_steps_repeat_the_last_output_or_give_zeros(zero_output_for_mask):
    x, mask = data(4)
    layer = RNN(TwoHeadedCell(dtype="float64"), return_sequences=True, zero_output_for_mask=zero_output_for_mask)
    got = layer(x, mask=mask).data
    h, previous, expected = np.zeros((3, 2)), np.zeros((3, 2)), []
    for t in range(x.shape[1]):
        keep = mask[:, t:t + 1]
        h = np.where(keep, np.tanh(x[:, t, :2] + h), h)
        previous = np.where(keep, 2 * h, previous)
        expected.append(np.where(keep, 2 * h, 0) if zero_output_for_mask else previous)
    np.testing.assert_allclose(got, np.stack(expected, axis=1), atol=1e-12)


@pytest.mark.parametrize("cell", [LSTMCell, GRUCell, SimpleRNNCell])
def test_dropout_in_a_cell_draws_the_masks_its_layer_draws(cell):
    """Same seed, same draws: RNN(cell) in training equals the layer's composed path with the same dropout."""
    x, mask = data(5)
    options = dict(dropout=0.3, recurrent_dropout=0.2, seed=7, dtype="float64")
    layer_class = {LSTMCell: LSTM, GRUCell: GRU, SimpleRNNCell: SimpleRNN}[cell]
    rnn, layer = RNN(cell(4, **options), return_sequences=True), layer_class(4, return_sequences=True, **options)
    same_weights(rnn, layer, x)
    got, expected = rnn(x, mask=mask, training=True).data, layer(x, mask=mask, training=True).data
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert not np.allclose(got, rnn(x, mask=mask).data)  # without training, no dropout


@pytest.mark.parametrize("cell", [lambda: LSTMCell(3, dtype="float64"), lambda: GRUCell(3, dtype="float64"),
                                  lambda: GRUCell(3, reset_after=False, dtype="float64"),
                                  lambda: [SimpleRNNCell(3, dtype="float64"), LSTMCell(2, dtype="float64")]],
                         ids=["lstm", "gru", "gru_reset_before", "stacked"])
def test_gradients_through_rnn_of_cells_and_its_initial_states(cell):
    x, mask = data(6)
    layer = RNN(cell(), return_sequences=True, return_state=True)
    layer(x)
    rng = np.random.default_rng(8)
    states = [Tensor(rng.standard_normal((3, size)), requires_grad=True) for size in layer.state_sizes]

    def run(x_, *states_and_weights):  # the weights are read from the layer; listed for gradcheck to check them
        sequence, *final = layer(x_, mask=mask, initial_state=list(states_and_weights[:len(states)]))
        return concatenate([sequence.reshape(3, -1), *tg.layers.symbolic.flatten(final)], axis=1)
    assert tg.gradcheck(run, [Tensor(x, requires_grad=True), *states, *layer.trainable_weights])


def test_a_stateful_rnn_of_cells_carries_its_states():
    x, _ = data(9, steps=6)
    whole = RNN(GRUCell(3, dtype="float64"), return_sequences=True)
    stateful = RNN(GRUCell(3, dtype="float64"), return_sequences=True, stateful=True)
    same_weights(stateful, whole, x)
    stateful.reset_states()
    pieces = [stateful(x[:, :3]).data, stateful(x[:, 3:]).data]
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), whole(x).data, atol=1e-12)


def test_rnn_config_round_trip_keeps_the_cells():
    layer = RNN([LSTMCell(3, unit_forget_bias=False), GRUCell(2, reset_after=False)], return_sequences=True,
                go_backwards=True)
    clone = RNN.from_config(layer.get_config())
    assert [type(c).__name__ for c in clone.cell.cells] == ["LSTMCell", "GRUCell"]
    assert not clone.cell.cells[0].unit_forget_bias and not clone.cell.cells[1].reset_after
    assert clone.return_sequences and clone.go_backwards
    x, _ = data(10)
    clone(x)
    layer(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(x).data, layer(x).data)


def test_bad_cells_and_bad_states_are_named():
    with pytest.raises(ValueError, match="RNN's cell must be a cell.* has no state_size"):
        RNN(tg.layers.Dense(3))
    with pytest.raises(ValueError, match="state_size must hold positive integers, got 0"):
        RNN(type("Empty", (Layer,), {"state_size": 0, "call": lambda self, x, s: (x, s)})())

    class Forgetful(Layer):
        state_size = [2, 2]

        def call(self, inputs, states):
            return inputs[:, :2], [states[0]]
    with pytest.raises(ValueError, match=r"its cell returned 1 state\(s\), but its state_size \[2, 2\] says 2"):
        RNN(Forgetful())(np.zeros((1, 3, 2)))
    with pytest.raises(ValueError, match=r"initial_state\[1\] must have shape \(batch, 4\) = \(3, 4\), got \(3, 2\)"):
        RNN(LSTMCell(4))(np.zeros((3, 2, 1)), initial_state=[np.zeros((3, 4)), np.zeros((3, 2))])
    with pytest.raises(ValueError, match=r"takes 2 initial state tensor\(s\), got 1"):
        RNN(LSTMCell(4))(np.zeros((3, 2, 1)), initial_state=[np.zeros((3, 4))])
