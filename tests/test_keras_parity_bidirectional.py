"""Bidirectional(LSTM) and Bidirectional(GRU) against real Keras 3 (torch backend), in float64 from Keras's
weights, in every merge mode, with pre-, post- and middle-padding masks; and an IMDB-like model. Needs the
`parity` extra; skipped without it, except under `make parity` (see test_keras_parity.py)."""
import itertools

import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
require("torch")

import tinygrad_embed as tg  # noqa: E402

# Keras's torch backend computes matmul of float64 operands in float32, and its masked RNN loop uses it
# (tests/test_keras_parity_recurrent.py proves it): agreement is to float32's precision.
KERAS_FLOAT64 = dict(rtol=1e-5, atol=1e-6)


def inputs_and_mask(seed=0, batch=5, steps=7, features=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, steps, features))
    mask = np.ones((batch, steps), bool)
    mask[0, :3], mask[1, 5:], mask[2, 2:4], mask[4, :] = False, False, False, False  # pre, post, middle, all
    return x, mask


def both(kind, merge_mode, **options):
    """Keras's wrapper and ours around the same recurrent layer; the Keras wrapper told float64 too (its
    default float32 would cast the outputs)."""
    options = dict(units=4, bias_initializer="random_uniform", dtype="float64", **options)
    theirs = keras.layers.Bidirectional(getattr(keras.layers, kind)(**options), merge_mode=merge_mode, dtype="float64")
    return theirs, tg.layers.Bidirectional(getattr(tg.layers, kind)(**options), merge_mode=merge_mode)


def outputs(result, to_numpy):
    return [to_numpy(o) for o in (result if isinstance(result, (list, tuple)) else [result])]


def assert_same_outputs(theirs, ours, x, mask):
    expected = outputs(theirs(x, mask=mask), keras.ops.convert_to_numpy)
    ours(x)
    ours.set_weights(theirs.get_weights())  # Keras's order: forward weights, then backward
    got = outputs(ours(x, mask=mask), lambda t: t.data)
    assert len(got) == len(expected)
    for mine, keras_output in zip(got, expected):
        np.testing.assert_allclose(mine, keras_output, **KERAS_FLOAT64)


@pytest.mark.parametrize("kind, merge_mode, return_sequences",
                         list(itertools.product(("LSTM", "GRU"), ("concat", "sum", "mul", "ave", None), (False, True))))
def test_bidirectional_gives_keras_outputs_with_padding_masks(kind, merge_mode, return_sequences):
    x, mask = inputs_and_mask()
    assert_same_outputs(*both(kind, merge_mode, return_sequences=return_sequences), x, mask)


@pytest.mark.parametrize("kind, merge_mode, mask",
                         list(itertools.product(("LSTM", "GRU"), ("concat", None), (True, None))))
def test_return_state_orders_the_states_as_keras(kind, merge_mode, mask):
    x, padding = inputs_and_mask(1)
    theirs, ours = both(kind, merge_mode, return_sequences=True, return_state=True)
    assert_same_outputs(theirs, ours, x, padding if mask else None)


def test_gru_before_reset_and_a_backward_layer_of_its_own():
    x, mask = inputs_and_mask(2)

    def make(api):
        backward = api.layers.GRU(3, go_backwards=True, return_sequences=True, reset_after=False, dtype="float64")
        return api.layers.Bidirectional(api.layers.LSTM(4, return_sequences=True, dtype="float64"),
                                        backward_layer=backward, dtype="float64")
    assert_same_outputs(make(keras), make(tg), x, mask)


def test_an_imdb_like_model_predicts_as_keras_from_kerass_weights():
    def model(api):
        ids = api.Input(shape=(9,), dtype="int32")
        x = api.layers.Embedding(30, 6, mask_zero=True)(ids)
        x = api.layers.Bidirectional(api.layers.LSTM(4))(x)
        return api.Model(ids, api.layers.Dense(1, activation="sigmoid")(x))
    theirs, ours = model(keras), model(tg)
    ours.set_weights(theirs.get_weights())
    ids = np.random.default_rng(3).integers(1, 30, (6, 9))
    ids[0, :4], ids[1, 6:], ids[2, 2:5], ids[3, :] = 0, 0, 0, 0  # pre, post, middle padding and an empty review
    np.testing.assert_allclose(ours.predict(ids), theirs.predict(ids, verbose=0), rtol=1e-5, atol=1e-6)
