"""Recurrent states: initial_state (checked, with gradients flowing into it, through functional graphs),
return_state, Bidirectional's split of the states, and stateful layers carrying states across batches."""
import numpy as np
import pytest

import tinygrad_embed as tg
from tinygrad_embed.layers import GRU, LSTM, Bidirectional, Input, SimpleRNN
from tinygrad_embed.tensor import Tensor

# (layer class, keyword arguments, number of states): the fused and the composed paths of each layer
LAYERS = [(LSTM, {}, 2), (LSTM, {"fused": False}, 2), (GRU, {}, 1), (GRU, {"fused": False}, 1),
          (GRU, {"reset_after": False}, 1), (SimpleRNN, {}, 1)]
IDS = ["lstm", "lstm_reference", "gru", "gru_reference", "gru_reset_before", "simple_rnn"]


def data(seed=0, batch=3, steps=6, features=2):
    rng = np.random.default_rng(seed)
    mask = np.ones((batch, steps), bool)
    mask[0, :2], mask[1, 4:] = False, False  # pre- and post-padding
    return rng.standard_normal((batch, steps, features)), mask


def as_list(outputs):
    return outputs if isinstance(outputs, list) else [outputs]


@pytest.mark.parametrize("cls, options, count", LAYERS, ids=IDS)
@pytest.mark.parametrize("masked", [False, True])
def test_a_sequence_split_in_two_continues_from_the_returned_states(cls, options, count, masked):
    """Reading x[:, :k], then x[:, k:] from the states returned, gives what reading x at once gives."""
    x, mask = data()
    mask = mask if masked else None
    layer = cls(4, return_sequences=True, return_state=True, dtype="float64", **options)
    whole, *final = layer(x, mask=mask)
    first, *middle = layer(x[:, :3], mask=None if mask is None else mask[:, :3])
    second, *end = layer(x[:, 3:], mask=None if mask is None else mask[:, 3:], initial_state=middle)
    assert len(final) == len(end) == count
    np.testing.assert_allclose(np.concatenate([first.data, second.data], axis=1), whole.data, atol=1e-12)
    for got, expected in zip(end, final):
        np.testing.assert_allclose(got.data, expected.data, atol=1e-12)


@pytest.mark.parametrize("cls, options, count", LAYERS, ids=IDS)
def test_gradients_flow_into_the_initial_states(cls, options, count):
    x, mask = data(1)
    layer = cls(3, return_sequences=True, return_state=True, dtype="float64", **options)
    layer(x)
    rng = np.random.default_rng(2)
    states = [Tensor(rng.standard_normal((3, 3)), requires_grad=True) for _ in range(count)]

    def run(x_, *states_):  # the sequence and the final states, so that every output is checked
        sequence, *final = layer(x_, mask=mask, initial_state=list(states_))
        return tg.functions.concatenate([sequence.reshape(3, -1), *final], axis=1)
    assert tg.gradcheck(run, [Tensor(x, requires_grad=True), *states])


@pytest.mark.parametrize("cls, options, count", LAYERS, ids=IDS)
def test_the_initial_state_changes_the_output_and_zeros_change_nothing(cls, options, count):
    x, _ = data(3)
    layer = cls(4, dtype="float64", **options)
    plain = layer(x).data
    zeros = layer(x, initial_state=[np.zeros((3, 4))] * count).data
    ones = layer(x, initial_state=[np.ones((3, 4))] * count).data
    np.testing.assert_allclose(zeros, plain, atol=1e-12)
    assert np.abs(ones - plain).max() > 1e-3


@pytest.mark.parametrize("cls, options, count", LAYERS, ids=IDS)
def test_before_a_rows_first_real_step_the_output_is_zeros_and_the_states_wait(cls, options, count):
    """As Keras: a masked step repeats the previous output, zeros at the start, whatever the initial state;
    a row with no real step at all returns zeros and its initial states unchanged."""
    x, _ = data(16)
    mask = np.ones((3, 6), bool)
    mask[0, :4], mask[1, :] = False, False
    layer = cls(4, return_sequences=True, return_state=True, dtype="float64", **options)
    states = [np.random.default_rng(17 + i).standard_normal((3, 4)) for i in range(count)]
    sequence, *final = layer(x, mask=mask, initial_state=states)
    assert np.all(sequence.data[0, :4] == 0) and np.all(sequence.data[1] == 0)
    assert np.abs(sequence.data[0, 4:]).min() > 0 and np.abs(sequence.data[2]).min() > 0
    for got, given in zip(final, states):
        np.testing.assert_array_equal(got.data[1], given[1])


@pytest.mark.parametrize("cls, options, count", LAYERS, ids=IDS)
def test_a_wrong_initial_state_is_refused_by_name(cls, options, count):
    x, _ = data()
    layer = cls(4, name="decoder", **options)
    with pytest.raises(ValueError, match=rf"'decoder' takes {count} initial state tensor\(s\), got {count + 1}"):
        layer(x, initial_state=[np.zeros((3, 4))] * (count + 1))
    with pytest.raises(ValueError, match=r"'decoder': initial_state\[0\] must have shape \(batch, 4\) = \(3, 4\), "
                                         r"got \(3, 5\)"):
        layer(x, initial_state=[np.zeros((3, 5))] * count)
    with pytest.raises(ValueError, match=r"initial_state\[0\] must have shape .* got \(2, 4\)"):
        layer(x, initial_state=[np.zeros((2, 4))] * count)


def test_keras_2s_list_input_carries_the_initial_states():
    x, _ = data()
    layer = LSTM(4, return_state=True, dtype="float64", name="listed")
    states = [np.random.default_rng(i).standard_normal((3, 4)) for i in (1, 2)]
    for got, expected in zip(layer([x, *states]), layer(x, initial_state=states)):
        np.testing.assert_allclose(got.data, expected.data, atol=1e-12)
    with pytest.raises(ValueError, match="'listed' got initial states twice"):
        layer([x, *states], initial_state=states)
    with pytest.raises(ValueError, match=r"'listed' takes 2 initial state tensor\(s\), got 1"):
        layer([x, states[0]])


def test_a_symbolic_initial_state_of_the_wrong_size_is_refused_when_the_graph_is_built():
    h = Input((5,))
    with pytest.raises(ValueError, match=r"initial_state\[0\] must have shape \(batch, 4\) = \(None, 4\), got "
                                         r"\(None, 5\)"):
        GRU(4)(Input((6, 2)), initial_state=[h])


def test_a_functional_graph_takes_only_symbolic_initial_states():
    with pytest.raises(TypeError, match=r"'decoder' is called in a functional graph, where initial_state must be "
                                        r"KerasTensors .* got \['ndarray'\]"):
        GRU(4, name="decoder")(Input((6, 2)), initial_state=[np.zeros((1, 4))])


def test_an_encoder_decoder_graph_passes_the_encoders_states_to_the_decoder():
    """The translation example's wiring: the decoder's initial_state is the encoder's output states."""
    encoder_inputs, decoder_inputs = Input((None, 2), dtype="float64"), Input((None, 3), dtype="float64")
    encoder = LSTM(4, return_state=True, dtype="float64")
    decoder = LSTM(4, return_sequences=True, return_state=True, dtype="float64")
    _, h, c = encoder(encoder_inputs)
    outputs, _, _ = decoder(decoder_inputs, initial_state=[h, c])
    model = tg.models.Model([encoder_inputs, decoder_inputs], outputs, dtype="float64")
    assert {layer.name for layer in model.layers} >= {encoder.name, decoder.name}
    x, _ = data(4)
    y = np.random.default_rng(5).standard_normal((3, 7, 3))
    _, h_, c_ = encoder(x)
    np.testing.assert_allclose(model.predict([x, y], verbose=0), decoder(y, initial_state=[h_, c_])[0].data,
                               atol=1e-12)
    inference = tg.models.Model(encoder_inputs, [h, c], dtype="float64")  # the example's inference encoder
    np.testing.assert_allclose(inference.predict(x, verbose=0)[1], c_.data, atol=1e-12)


def encoder_decoder():
    encoder_inputs, decoder_inputs = Input((4, 2)), Input((3, 2))
    encoder = GRU(5, return_state=True)
    _, h = encoder(encoder_inputs)
    outputs = tg.layers.Dense(1)(GRU(5, return_sequences=True)(decoder_inputs, initial_state=h))
    rng = np.random.default_rng(6)
    x = [rng.standard_normal((8, 4, 2)), rng.standard_normal((8, 3, 2))]
    return tg.models.Model([encoder_inputs, decoder_inputs], outputs), encoder, x


def test_an_encoder_decoder_trains_through_the_states():
    model, encoder, x = encoder_decoder()
    model.compile("adam", "mse")
    encoder_kernel = encoder.get_weights()[0]
    model.fit(x, np.random.default_rng(7).standard_normal((8, 3, 1)), epochs=1, batch_size=4, verbose=0)
    assert not np.allclose(encoder.get_weights()[0], encoder_kernel)


def test_an_encoder_decoder_survives_saving(tmp_path):
    """The file records the decoder's call on [input, state]; loading replays it."""
    model, _, x = encoder_decoder()
    path = str(tmp_path / "seq2seq.npz")
    model.save(path)
    np.testing.assert_allclose(tg.models.load_model(path).predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)


def test_the_encoders_weights_learn_from_the_decoders_loss():
    """The only path from the loss to the encoder is the initial state: its kernel must get a gradient."""
    encoder_inputs, decoder_inputs = Input((4, 2), dtype="float64"), Input((3, 2), dtype="float64")
    encoder = SimpleRNN(5, return_state=True, dtype="float64")
    _, h = encoder(encoder_inputs)
    outputs = SimpleRNN(5, dtype="float64")(decoder_inputs, initial_state=[h])
    model = tg.models.Model([encoder_inputs, decoder_inputs], outputs, dtype="float64")
    rng = np.random.default_rng(7)
    model([rng.standard_normal((2, 4, 2)), rng.standard_normal((2, 3, 2))]).sum().backward()
    assert np.abs(encoder.kernel.grad).max() > 0


# ---- Bidirectional --------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, count", [(LSTM, 2), (GRU, 1)])
@pytest.mark.parametrize("merge_mode", ["concat", None])
def test_bidirectional_splits_the_initial_states_forward_then_backward(cls, count, merge_mode):
    x, mask = data(8)
    layer = Bidirectional(cls(4, return_sequences=True, return_state=True, dtype="float64"), merge_mode=merge_mode)
    rng = np.random.default_rng(9)
    states = [rng.standard_normal((3, 4)) for _ in range(2 * count)]
    outputs = layer(x, mask=mask, initial_state=states)
    forward = layer.forward_layer(x, mask=mask, initial_state=states[:count])
    backward = layer.backward_layer(x, mask=mask, initial_state=states[count:])
    returned = outputs[-2 * count:]
    for got, expected in zip(returned, forward[1:] + backward[1:]):  # the forward's states, then the backward's
        np.testing.assert_allclose(got.data, expected.data, atol=1e-12)
    keep = mask[:, :, None]
    expected_forward = forward[0].data * keep
    got_forward = outputs[0].data if merge_mode is None else outputs[0].data[:, :, :4]
    np.testing.assert_allclose(got_forward, expected_forward, atol=1e-12)
    with pytest.raises(ValueError, match=rf"takes {2 * count} initial state tensor\(s\), got {count}"):
        layer(x, initial_state=states[:count])


def test_gradients_flow_into_bidirectional_initial_states():
    x, mask = data(10)
    layer = Bidirectional(LSTM(3, dtype="float64"))
    rng = np.random.default_rng(11)
    states = [Tensor(rng.standard_normal((3, 3)), requires_grad=True) for _ in range(4)]
    assert tg.gradcheck(lambda x_, *s: layer(x_, mask=mask, initial_state=list(s)),
                        [Tensor(x, requires_grad=True), *states])


def test_bidirectional_initial_state_in_a_functional_graph():
    inputs, h_forward, h_backward = Input((5, 2), dtype="float64"), Input((4,), dtype="float64"), \
        Input((4,), dtype="float64")
    layer = Bidirectional(GRU(4, return_state=True, dtype="float64"))
    outputs = layer(inputs, initial_state=[h_forward, h_backward])
    assert [tuple(t.shape) for t in outputs] == [(None, 8), (None, 4), (None, 4)]
    model = tg.models.Model([inputs, h_forward, h_backward], outputs, dtype="float64")
    rng = np.random.default_rng(12)
    arrays = [rng.standard_normal((3, 5, 2)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4))]
    for got, expected in zip(model.predict(arrays, verbose=0), layer(arrays[0], initial_state=arrays[1:])):
        np.testing.assert_allclose(got, expected.data, atol=1e-12)


# ---- stateful -------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, options, count", LAYERS, ids=IDS)
def test_a_stateful_layer_reads_consecutive_batches_as_one_sequence(cls, options, count):
    x, _ = data(13, steps=9)
    whole = cls(4, return_sequences=True, dtype="float64", **options)
    expected = whole(x).data
    layer = cls(4, return_sequences=True, stateful=True, dtype="float64", **options)
    layer(x[:, :1])
    layer.set_weights(whole.get_weights())
    layer.reset_states()
    pieces = [layer(x[:, t:t + 3]).data for t in (0, 3, 6)]  # three consecutive batches
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), expected, atol=1e-12)
    assert len(layer.states) == count and all(s.shape == (3, 4) and not s.requires_grad for s in layer.states)
    layer.reset_state()
    np.testing.assert_allclose(layer(x[:, :3]).data, pieces[0], atol=1e-12)  # zero states again after the reset


def test_a_stateful_layer_carries_data_not_gradient_across_batches():
    x, _ = data(14)
    layer = LSTM(3, stateful=True, dtype="float64")
    layer(x).sum().backward()  # the first batch's graph must not be reachable from the second
    kernel_grad = layer.kernel.grad.copy()
    layer.kernel.zero_grad()
    layer.recurrent_kernel.zero_grad()
    layer.bias.zero_grad()
    layer(x).sum().backward()
    assert layer.states[0].requires_grad is False
    assert not np.allclose(layer.kernel.grad, kernel_grad)  # from other starting states, another gradient


def test_a_stateful_layer_refuses_another_batch_size_by_name():
    layer = GRU(3, stateful=True, name="carry")
    layer(np.zeros((4, 2, 1)))
    with pytest.raises(ValueError, match=r"GRU 'carry' is stateful with batch size 4 .* got a batch of 3"):
        layer(np.zeros((3, 2, 1)))


def test_the_stateful_batch_size_comes_from_the_input_or_the_first_layer():
    inputs = Input((2, 1), batch_size=5)
    layer = LSTM(3, stateful=True)
    model = tg.models.Model(inputs, layer(inputs))
    assert [s.shape for s in layer.states] == [(5, 3), (5, 3)]  # zeros as soon as the graph is built
    with pytest.raises(ValueError, match="stateful with batch size 5"):
        model.predict(np.zeros((4, 2, 1)), batch_size=4, verbose=0)
    first = SimpleRNN(3, stateful=True, batch_input_shape=(2, 4, 1))
    sequential = tg.models.Sequential([first, tg.layers.Dense(1)])
    sequential.build((2, 4, 1))
    assert first.states[0].shape == (2, 3)


def test_stateful_training_loops_as_in_the_tutorials():
    """fit(shuffle=False) one epoch at a time, reset_states between epochs: batches continue each other."""
    rng = np.random.default_rng(15)
    x, y = rng.standard_normal((8, 3, 1)), rng.standard_normal((8, 1))
    model = tg.models.Sequential([LSTM(4, stateful=True, batch_input_shape=(2, 3, 1)), tg.layers.Dense(1)])
    model.compile("adam", "mse")
    for _ in range(2):
        model.fit(x, y, epochs=1, batch_size=2, shuffle=False, verbose=0)
        carried = model.layers[0].states[0].data.copy()
        model.layers[0].reset_states()
    assert np.abs(carried).max() > 0 and np.abs(model.layers[0].states[0].data).max() == 0
    with pytest.raises(ValueError, match="stateful with batch size 2"):
        model.fit(x[:3], y[:3], epochs=1, batch_size=3, shuffle=False, verbose=0)


def test_bidirectional_stateful_states_and_reset():
    layer = Bidirectional(GRU(3, stateful=True))
    assert layer.stateful
    layer(np.ones((2, 4, 1)))
    assert len(layer.states) == 2 and np.abs(layer.states[1].data).max() > 0
    layer.reset_states()
    assert all(np.abs(s.data).max() == 0 for s in layer.states)


def test_model_reset_states_zeroes_every_stateful_layer_and_passes_over_the_others():
    model = tg.models.Sequential([LSTM(3, stateful=True, return_sequences=True, batch_input_shape=(2, 4, 1)),
                                  Bidirectional(GRU(2, stateful=True, return_sequences=True)),
                                  Bidirectional(GRU(2)), tg.layers.Dense(1)])
    model.predict(np.ones((2, 4, 1)), batch_size=2, verbose=0)
    carried = model.layers[0].states + model.layers[1].states
    assert all(np.abs(s.data).max() > 0 for s in carried)
    model.reset_states()
    assert all(np.abs(s.data).max() == 0 for s in model.layers[0].states + model.layers[1].states)


def test_stateful_is_kept_in_the_config():
    layer = LSTM(3, stateful=True, return_state=True)
    clone = LSTM.from_config(layer.get_config())
    assert clone.stateful and clone.return_state
