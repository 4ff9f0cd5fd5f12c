"""Keras 3's own files, read and written by real Keras (needs the `parity` extra: keras, torch, h5py; Keras
on its torch backend). Skipped without them, except under `make parity` (and so in CI), which sets
TINYGRAD_EMBED_PARITY=required: there a missing Keras is an error, not a skip."""

import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
require("torch")
require("h5py")

import tinygrad_embed  # noqa: E402
from tinygrad_embed.models import load_model  # noqa: E402


def padded_ids(seed, batch=8, steps=6, vocab=20):
    ids = np.random.default_rng(seed).integers(1, vocab, (batch, steps))
    ids[0, :2], ids[1, 4:], ids[2, :5] = 0, 0, 0  # pre-, post- and heavy padding
    return ids


def text_model(api):
    """Every weighted layer kind, masks through a Bidirectional LSTM and a GRU: the same code for both."""
    return api.Sequential([api.Input((6,), dtype="int32"), api.layers.Embedding(20, 4, mask_zero=True),
                           api.layers.Bidirectional(api.layers.LSTM(3, return_sequences=True)),
                           api.layers.GRU(3, return_sequences=True), api.layers.SimpleRNN(2),
                           api.layers.Dense(2, activation="softmax")])


def conv_graph(api):
    """A functional model with two outputs, Conv1D, pooling and the weightless layers."""
    ids = api.Input((8,), dtype="int32", name="ids")
    x = api.layers.Conv1D(5, 3, padding="same", activation="relu")(api.layers.Embedding(30, 4)(ids))
    x = api.layers.SpatialDropout1D(0.1)(api.layers.Dropout(0.1)(api.layers.MaxPooling1D(2)(x)))
    x = api.layers.AveragePooling1D(2)(api.layers.GRU(3, return_sequences=True)(x))
    x = api.layers.Reshape((2, 3))(api.layers.Dense(6)(api.layers.Flatten()(x)))
    first = api.layers.Dense(1, activation="sigmoid")(api.layers.Activation("tanh")(api.layers.GlobalMaxPooling1D()(x)))
    return api.Model(ids, [first, api.layers.GlobalAveragePooling1D()(x)])


def keras_numpy(values):
    return [keras.ops.convert_to_numpy(v) for v in (values if isinstance(values, list) else [values])]


def assert_same_predictions(ours, theirs, x):
    for mine, keras_out in zip(keras_numpy(ours.predict(x)), keras_numpy(theirs.predict(x, verbose=0))):
        np.testing.assert_allclose(mine, keras_out, atol=1e-6)


def test_a_model_trained_here_opens_in_keras_and_predicts_the_same(tmp_path):
    ours, ids = text_model(tinygrad_embed), padded_ids(0)
    ours.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    ours.fit(ids, np.arange(8) % 2, epochs=3, batch_size=4, verbose=0)
    ours.save(tmp_path / "m.keras")
    theirs = keras.models.load_model(tmp_path / "m.keras")
    assert [type(layer).__name__ for layer in theirs.layers] == [type(layer).__name__ for layer in ours.layers]
    assert_same_predictions(ours, theirs, padded_ids(1))


def test_a_functional_model_goes_to_keras_and_back(tmp_path):
    ours, ids = conv_graph(tinygrad_embed), padded_ids(2, steps=8, vocab=30)
    ours.save(tmp_path / "m.keras")
    theirs = keras.models.load_model(tmp_path / "m.keras")
    assert_same_predictions(ours, theirs, ids)
    theirs.save(tmp_path / "back.keras")
    assert_same_predictions(load_model(tmp_path / "back.keras"), theirs, ids)


@pytest.mark.parametrize("build", [text_model, conv_graph])
def test_a_model_written_by_keras_loads_here_and_predicts_the_same(tmp_path, build):
    theirs = build(keras)
    theirs.save(tmp_path / "m.keras")
    ours = load_model(tmp_path / "m.keras")
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    assert_same_predictions(ours, theirs, padded_ids(3, steps=theirs.input_shape[1]))


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop", "adagrad"])
def test_one_more_training_step_here_matches_keras_after_training_there(tmp_path, optimizer):
    theirs, ids, labels = text_model(keras), padded_ids(4), np.arange(8) % 2
    settings = {"adam": "adam", "sgd": {"class_name": "SGD", "config": {"momentum": 0.9}}, "rmsprop": "rmsprop",
                "adagrad": "adagrad"}[optimizer]
    theirs.compile(keras.optimizers.get(settings), "sparse_categorical_crossentropy")
    theirs.fit(ids, labels, epochs=2, batch_size=4, verbose=0)  # the optimizer's moments are not zero any more
    theirs.save(tmp_path / "m.keras")
    ours = load_model(tmp_path / "m.keras")
    assert ours.optimizer.iterations == 4  # 2 epochs of 2 batches: the state came with the file
    theirs.train_on_batch(ids, labels)
    ours.train_on_batch(ids, labels)
    for mine, keras_weight in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(mine, keras_numpy(keras_weight)[0], atol=1e-6)


def test_weights_files_go_both_ways(tmp_path):
    theirs, ours, ids = text_model(keras), text_model(tinygrad_embed), padded_ids(5)
    theirs.save_weights(tmp_path / "theirs.weights.h5")
    ours.load_weights(tmp_path / "theirs.weights.h5")
    assert_same_predictions(ours, theirs, ids)
    fresh_ours, fresh_theirs = text_model(tinygrad_embed), text_model(keras)
    fresh_ours.save_weights(tmp_path / "ours.weights.h5")
    fresh_theirs.load_weights(tmp_path / "ours.weights.h5")
    assert_same_predictions(fresh_ours, fresh_theirs, ids)


def test_a_graph_with_two_inputs_and_a_shared_layer_goes_both_ways(tmp_path):
    def shared_graph(api):  # a layer called twice: Keras's file records two calls of one layer
        left, right = api.Input((5,), dtype="int32", name="left"), api.Input((3,), name="right")
        shared = api.layers.Dense(4, activation="relu", name="shared")
        words = api.layers.GRU(4)(api.layers.Embedding(20, 3, mask_zero=True)(left))
        return api.Model([left, right], [shared(words), api.layers.Dense(1)(shared(api.layers.Dense(4)(right)))])
    x = [padded_ids(6, steps=5), np.random.default_rng(7).standard_normal((8, 3)).astype("float32")]
    ours = shared_graph(tinygrad_embed)
    ours.save(tmp_path / "ours.keras")
    assert_same_predictions(ours, keras.models.load_model(tmp_path / "ours.keras"), x)
    theirs = shared_graph(keras)
    theirs.save(tmp_path / "theirs.keras")
    assert_same_predictions(load_model(tmp_path / "theirs.keras"), theirs, x)


def test_a_sequential_given_its_shape_by_input_length_opens_in_keras(tmp_path):
    ours = tinygrad_embed.models.Sequential([tinygrad_embed.layers.Embedding(20, 4, input_length=6),
                                             tinygrad_embed.layers.LSTM(3), tinygrad_embed.layers.Dense(1)])
    ours.build()
    ours.save(tmp_path / "m.keras")
    assert_same_predictions(ours, keras.models.load_model(tmp_path / "m.keras"), padded_ids(8))


def encoder_decoder(api):
    """keras.io's translation model in small: the encoder's final states start the decoder (initial_state)."""
    encoder_inputs, decoder_inputs = api.Input((None, 5)), api.Input((None, 6))
    _, h, c = api.layers.LSTM(4, return_state=True)(encoder_inputs)
    decoded = api.layers.LSTM(4, return_sequences=True)(decoder_inputs, initial_state=[h, c])
    return api.Model([encoder_inputs, decoder_inputs], api.layers.Dense(6, activation="softmax")(decoded))


def test_an_encoder_decoder_with_initial_states_goes_to_keras_and_back(tmp_path):
    rng = np.random.default_rng(3)
    x = [rng.standard_normal((3, 7, 5)).astype("float32"), rng.standard_normal((3, 4, 6)).astype("float32")]
    ours = encoder_decoder(tinygrad_embed)
    ours.save(tmp_path / "m.keras")
    theirs = keras.models.load_model(tmp_path / "m.keras")
    assert_same_predictions(ours, theirs, x)
    encoder_decoder(keras).save(tmp_path / "theirs.keras")
    written_by_keras = keras.models.load_model(tmp_path / "theirs.keras")
    assert_same_predictions(load_model(tmp_path / "theirs.keras"), written_by_keras, x)
