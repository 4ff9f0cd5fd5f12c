"""Recurrent states and cells against real Keras 3 (torch backend), in float64 from the same weights:
initial_state and return_state for every recurrent layer with and without masks, Bidirectional's states,
a stateful LSTM over consecutive batches and after reset_states, the three cells (and a stack) inside RNN,
and the gradient reaching the initial states. Needs the `parity` extra (see tests/parity.py)."""
import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
torch = require("torch")

import tinygrad_embed as tg  # noqa: E402
from tinygrad_embed.layers.rnn import RNN  # noqa: E402
from tinygrad_embed.tensor import Tensor  # noqa: E402

# Keras's torch backend multiplies float64 matrices in float32 (tests/test_keras_parity_recurrent.py shows it):
# agreement is to float32's precision
KERAS_FLOAT64 = dict(rtol=1e-5, atol=1e-6)
KINDS = {"LSTM": ("LSTM", {}, 2), "GRU": ("GRU", {}, 1), "GRU_reset_before": ("GRU", {"reset_after": False}, 1),
         "SimpleRNN": ("SimpleRNN", {}, 1)}


def data(seed=0, batch=4, steps=6, features=3):
    rng = np.random.default_rng(seed)
    mask = np.ones((batch, steps), bool)
    mask[0, :2], mask[1, 4:], mask[2, 2:4] = False, False, False  # pre, post and middle padding
    return rng.standard_normal((batch, steps, features)), mask


def numpy_list(outputs):
    flat = tg.layers.symbolic.flatten(list(outputs) if isinstance(outputs, (list, tuple)) else [outputs])
    return [t.data if isinstance(t, Tensor) else keras.ops.convert_to_numpy(t) for t in flat]


def assert_all_close(got, expected):
    assert len(got) == len(expected)
    for mine, theirs in zip(got, expected):
        np.testing.assert_allclose(mine, theirs, **KERAS_FLOAT64)


def twins(make_theirs, make_ours, x):
    """The Keras layer and ours, ours holding Keras's (random) weights."""
    theirs, ours = make_theirs(), make_ours()
    theirs(x)
    ours(x)
    ours.set_weights(theirs.get_weights())
    return theirs, ours


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("return_sequences, go_backwards", [(False, False), (True, False), (True, True)])
def test_initial_and_returned_states_match_keras(kind, masked, return_sequences, go_backwards):
    name, options, count = KINDS[kind]
    x, mask = data()
    arguments = dict(units=5, return_sequences=return_sequences, go_backwards=go_backwards, return_state=True,
                     bias_initializer="random_uniform", dtype="float64", **options)
    theirs, ours = twins(lambda: getattr(keras.layers, name)(**arguments),
                         lambda: getattr(tg.layers, name)(**arguments), x)
    states = [np.random.default_rng(1 + i).standard_normal((4, 5)) for i in range(count)]
    kwargs = {"mask": mask} if masked else {}
    assert_all_close(numpy_list(ours(x, initial_state=states, **kwargs)),
                     numpy_list(theirs(x, initial_state=states, **kwargs)))


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("merge_mode", ["concat", None])
@pytest.mark.parametrize("masked", [False, True])
def test_bidirectional_states_match_keras(kind, merge_mode, masked):
    name, _, count = KINDS[kind]
    x, mask = data(2)
    arguments = dict(units=4, return_sequences=True, return_state=True, bias_initializer="random_uniform",
                     dtype="float64")
    theirs, ours = twins(lambda: keras.layers.Bidirectional(getattr(keras.layers, name)(**arguments),
                                                             merge_mode=merge_mode, dtype="float64"),
                         lambda: tg.layers.Bidirectional(getattr(tg.layers, name)(**arguments),
                                                         merge_mode=merge_mode), x)
    states = [np.random.default_rng(3 + i).standard_normal((4, 4)) for i in range(2 * count)]
    kwargs = {"mask": mask} if masked else {}
    for initial in ({}, {"initial_state": states}):
        assert_all_close(numpy_list(ours(x, **initial, **kwargs)), numpy_list(theirs(x, **initial, **kwargs)))


def test_a_stateful_lstm_matches_keras_over_three_batches_and_after_reset():
    x, _ = data(4, steps=9)
    arguments = dict(units=4, stateful=True, return_sequences=True, bias_initializer="random_uniform",
                     dtype="float64")
    theirs, ours = twins(lambda: keras.layers.LSTM(**arguments), lambda: tg.layers.LSTM(**arguments), x[:, :3])
    theirs.reset_states()
    ours.reset_states()
    for t in (0, 3, 6):  # three consecutive batches, each continuing the states of the last
        assert_all_close(numpy_list(ours(x[:, t:t + 3])), numpy_list(theirs(x[:, t:t + 3])))
        assert_all_close(numpy_list(ours.states), numpy_list(theirs.states))
    theirs.reset_states()
    ours.reset_states()
    assert_all_close(numpy_list(ours(x[:, 3:6])), numpy_list(theirs(x[:, 3:6])))


CELLS = {"LSTMCell": {}, "GRUCell": {}, "GRUCell_reset_before": {"reset_after": False}, "SimpleRNNCell": {}}


@pytest.mark.parametrize("kind", CELLS)
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("return_sequences, go_backwards", [(False, False), (True, True)])
def test_cells_inside_rnn_match_keras(kind, masked, return_sequences, go_backwards):
    cell = kind.split("_")[0]
    x, mask = data(5)
    options = dict(bias_initializer="random_uniform", dtype="float64", **CELLS[kind])
    flags = dict(return_sequences=return_sequences, go_backwards=go_backwards, return_state=True)
    theirs, ours = twins(lambda: keras.layers.RNN(getattr(keras.layers, cell)(5, **options), dtype="float64",
                                                  **flags),
                         lambda: RNN(getattr(tg.layers.rnn, cell)(5, **options), **flags), x)
    kwargs = {"mask": mask} if masked else {}
    assert_all_close(numpy_list(ours(x, **kwargs)), numpy_list(theirs(x, **kwargs)))


def test_stacked_cells_match_keras_with_nested_states():
    x, mask = data(6)

    def cells(api):
        return [api.LSTMCell(4, bias_initializer="random_uniform", dtype="float64"),
                api.GRUCell(3, bias_initializer="random_uniform", dtype="float64")]
    theirs, ours = twins(lambda: keras.layers.RNN(cells(keras.layers), return_state=True, dtype="float64"),
                         lambda: RNN(cells(tg.layers.rnn), return_state=True), x)
    rng = np.random.default_rng(7)
    states = [[rng.standard_normal((4, 4)), rng.standard_normal((4, 4))], rng.standard_normal((4, 3))]
    expected = theirs(x, mask=mask, initial_state=states)
    got = ours(x, mask=mask, initial_state=states)
    assert len(got) == len(expected) == 3 and len(got[1]) == 2  # output, [h1, c1], h2: Keras's nesting
    assert_all_close(numpy_list(got), numpy_list(expected))


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_the_gradient_reaching_the_initial_states_matches_kerass(kind):
    """d(sum(outputs * u))/d(initial states) through Keras's layer (torch autograd) equals ours."""
    name, _, count = KINDS[kind]
    x, mask = data(8)
    arguments = dict(units=4, return_sequences=True, bias_initializer="random_uniform", dtype="float64")
    theirs, ours = twins(lambda: getattr(keras.layers, name)(**arguments),
                         lambda: getattr(tg.layers, name)(**arguments), x)
    rng = np.random.default_rng(9)
    states = [rng.standard_normal((4, 4)) for _ in range(count)]
    upstream = rng.standard_normal((4, 6, 4))
    torch_states = [torch.tensor(s, requires_grad=True) for s in states]
    (theirs(x, mask=mask, initial_state=torch_states) * torch.tensor(upstream)).sum().backward()
    our_states = [Tensor(s, requires_grad=True) for s in states]
    ours(x, mask=mask, initial_state=our_states).backward(upstream)
    assert_all_close([s.grad for s in our_states], [s.grad.numpy() for s in torch_states])
