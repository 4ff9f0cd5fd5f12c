"""Weights from a real Keras model give the same outputs here (needs the `parity` extra: keras and
torch, Keras running on its torch backend). Skipped without them, except under `make parity` (and so
in CI), which sets TINYGRAD_EMBED_PARITY=required: there a missing Keras is an error, not a skip."""

import numpy as np

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
require("torch")

import tinygrad_embed  # noqa: E402
from tinygrad_embed.layers import LSTM, Dense, Embedding, Input  # noqa: E402
from tinygrad_embed.models import Model, Sequential  # noqa: E402


def test_lstm_with_keras_weights_and_masks_gives_keras_outputs():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 7, 4)).astype("float32")
    mask = np.ones((3, 7), bool)
    mask[0, :3], mask[1, 5:], mask[2, 2:4] = False, False, False  # pre, post and middle padding
    theirs = keras.layers.LSTM(5, return_sequences=True)
    expected = keras.ops.convert_to_numpy(theirs(x, mask=mask))
    ours = LSTM(5, return_sequences=True)
    ours(x)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours(x, mask=mask).data, expected, atol=1e-6)


def padded_ids(seed, batch=4, steps=6, vocab=20):
    ids = np.random.default_rng(seed).integers(1, vocab, (batch, steps))
    ids[0, :2], ids[1, 4:], ids[2, :5] = 0, 0, 0  # pre-, post- and heavy padding
    return ids


def test_the_seed_model_with_keras_weights_predicts_as_keras():
    theirs = keras.Sequential([keras.Input((6,), dtype="int32"), keras.layers.Embedding(20, 4, mask_zero=True),
                               keras.layers.LSTM(3), keras.layers.Dense(1, activation="sigmoid")])
    ids = padded_ids(1)
    ours = Sequential([Embedding(20, 4, mask_zero=True, input_length=6), LSTM(3), Dense(1, activation="sigmoid")])
    ours.build()
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.predict(ids), theirs.predict(ids, verbose=0), atol=1e-6)
    assert sum(w.size for w in theirs.get_weights()) == sum(w.size for w in ours.get_weights())


def test_the_functional_seed_model_with_keras_weights_predicts_as_keras():
    def seed_graph(api):  # the same code for both: only the module differs
        ids = api.Input(shape=(6,), dtype="int32")
        x = api.layers.Embedding(20, 4, mask_zero=True)(ids)
        x = api.layers.LSTM(3)(x)
        return api.Model(ids, api.layers.Dense(1, activation="sigmoid")(x))
    theirs, ours = seed_graph(keras), seed_graph(tinygrad_embed)
    assert isinstance(ours, Model)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    ours.set_weights(theirs.get_weights())
    ids = padded_ids(2)
    np.testing.assert_allclose(ours.predict(ids), theirs.predict(ids, verbose=0), atol=1e-6)


def test_a_frozen_layer_counts_as_keras_counts_it():
    theirs = keras.Sequential([keras.Input((6,), dtype="int32"), keras.layers.Embedding(20, 4, trainable=False),
                               keras.layers.LSTM(3), keras.layers.Dense(1)])
    ours = Sequential([Input(shape=(6,), dtype="int32"), Embedding(20, 4, trainable=False), LSTM(3), Dense(1)])
    for attribute in ("trainable_weights", "non_trainable_weights"):
        assert [tuple(w.shape) for w in getattr(theirs, attribute)] == [w.shape for w in getattr(ours, attribute)]


def test_a_branching_graph_orders_its_weights_as_keras():
    def two_outputs(api):  # a shallow output listed first: Keras orders layers by depth, not by call order
        words, extra = api.Input(shape=(6,), dtype="int32"), api.Input(shape=(3,))
        short = api.layers.Dense(2)(extra)
        long = api.layers.Dense(1)(api.layers.LSTM(4)(api.layers.Embedding(20, 5, mask_zero=True)(words)))
        return api.Model([words, extra], [short, long])
    theirs, ours = two_outputs(keras), two_outputs(tinygrad_embed)
    assert [type(layer).__name__ for layer in ours.layers] == [type(layer).__name__ for layer in theirs.layers]
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    ours.set_weights(theirs.get_weights())
    x = [padded_ids(3), np.random.default_rng(4).standard_normal((4, 3)).astype("float32")]
    for mine, expected in zip(ours.predict(x), theirs.predict(x, verbose=0)):
        np.testing.assert_allclose(mine, expected, atol=1e-6)
