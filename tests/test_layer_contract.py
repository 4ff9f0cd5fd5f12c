"""The layer contract (Keras 3's, with Keras 2's spellings): every layer's methods, trainable, Keras 2
keywords, the registry, user subclasses with their own weights and sublayers."""
import json
import warnings

import numpy as np
import pytest

from tinygrad_embed import layers
from tinygrad_embed.layers import LSTM, Dense, Embedding, Input, Layer, get_layer_class
from tinygrad_embed.layers.base import LAYERS
from tinygrad_embed.models import Model, Sequential, load_model
from tinygrad_embed.saving.keras_ops import KerasOperation
from tinygrad_embed.utils import set_random_seed
from test_models import toy_data

# One built instance of every built-in layer, with an input it takes.
BUILT_INS = {
    "Embedding": (lambda: Embedding(20, 4, mask_zero=True), np.array([[0, 3, 5], [1, 2, 19]])),
    "Dense": (lambda: Dense(3, activation="relu"), np.ones((2, 5), np.float32)),
    "LSTM": (lambda: LSTM(3, return_sequences=True), np.ones((2, 4, 5), np.float32)),
    "LSTM_state": (lambda: LSTM(3, return_state=True), np.ones((2, 4, 5), np.float32)),
    "GRU": (lambda: layers.GRU(3, return_sequences=True, reset_after=False), np.ones((2, 4, 5), np.float32)),
    "SimpleRNN": (lambda: layers.SimpleRNN(3, return_state=True), np.ones((2, 4, 5), np.float32)),
    "Bidirectional": (lambda: layers.Bidirectional(LSTM(3, return_sequences=True)), np.ones((2, 4, 5), np.float32)),
    "Bidirectional_none": (lambda: layers.Bidirectional(layers.GRU(3, return_state=True), merge_mode=None),
                           np.ones((2, 4, 5), np.float32)),
    "TextVectorization": (lambda: layers.TextVectorization(output_sequence_length=4, vocabulary=["the", "cat"]),
                          np.array(["the cat", "a dog sat"])),
    "Conv1D": (lambda: layers.Conv1D(3, 2, padding="causal", dilation_rate=2), np.ones((2, 6, 5), np.float32)),
    "MaxPooling1D": (lambda: layers.MaxPooling1D(3, strides=2, padding="same"), np.ones((2, 6, 5), np.float32)),
    "AveragePooling1D": (lambda: layers.AveragePooling1D(2), np.ones((2, 6, 5), np.float32)),
    "GlobalMaxPooling1D": (lambda: layers.GlobalMaxPooling1D(keepdims=True), np.ones((2, 6, 5), np.float32)),
    "GlobalAveragePooling1D": (lambda: layers.GlobalAveragePooling1D(), np.ones((2, 6, 5), np.float32)),
    "Flatten": (lambda: layers.Flatten(), np.ones((2, 3, 4), np.float32)),
    "Activation": (lambda: layers.Activation("tanh"), np.ones((2, 3), np.float32)),
    "Reshape": (lambda: layers.Reshape((-1, 2)), np.ones((2, 3, 4), np.float32)),
    "Dropout": (lambda: layers.Dropout(0.5, seed=1), np.ones((2, 3, 4), np.float32)),
    "SpatialDropout1D": (lambda: layers.SpatialDropout1D(0.5), np.ones((2, 3, 4), np.float32)),
    "RepeatVector": (lambda: layers.RepeatVector(3), np.ones((2, 4), np.float32)),
    "RNN": (lambda: layers.RNN(layers.LSTMCell(3), return_sequences=True), np.ones((2, 3, 4), np.float32)),
    "RNN_stacked": (lambda: layers.RNN([layers.GRUCell(2), layers.SimpleRNNCell(3)], return_state=True),
                    np.ones((2, 3, 4), np.float32)),
    "BatchNormalization": (lambda: layers.BatchNormalization(axis=1, momentum=0.5), np.ones((2, 3, 4), np.float32)),
    "LayerNormalization": (lambda: layers.LayerNormalization(axis=[1, 2], center=False), np.ones((2, 3, 4), np.float32)),
    "Masking": (lambda: layers.Masking(-1.0), np.ones((2, 3, 4), np.float32)),
    "TimeDistributed": (lambda: layers.TimeDistributed(Dense(3)), np.ones((2, 3, 4), np.float32)),
    "TimeDistributed_conv": (lambda: layers.TimeDistributed(layers.Conv1D(2, 2)), np.ones((2, 3, 4, 5), np.float32)),
    **{name: (getattr(layers, name), [np.ones((2, 3, 4), np.float32), np.full((2, 3, 4), 2, np.float32)])
       for name in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")},
    "Concatenate": (lambda: layers.Concatenate(axis=1),
                    [np.ones((2, 3, 4), np.float32), np.ones((2, 5, 4), np.float32)]),
    "Dot": (lambda: layers.Dot((1, 2), normalize=True), [np.ones((2, 3, 4), np.float32), np.ones((2, 5, 3), np.float32)]),
    "EinsumDense": (lambda: layers.EinsumDense("abc,cd->abd", (None, 3), bias_axes="d"), np.ones((2, 3, 4), np.float32)),
    # [query, value, key]: the list MultiHeadAttention's call packs layer(query, value, key) into for a graph
    "MultiHeadAttention": (lambda: layers.MultiHeadAttention(2, 3, value_dim=2, output_shape=5, dropout=0.5),
                           [np.ones((2, 3, 4), np.float32), np.ones((2, 5, 6), np.float32),
                            np.full((2, 5, 4), 2, np.float32)]),
    "Attention": (lambda: layers.Attention(use_scale=True, score_mode="concat"),
                  [np.ones((2, 3, 4), np.float32), np.full((2, 5, 4), 2, np.float32)]),
    "AdditiveAttention": (lambda: layers.AdditiveAttention(dropout=0.5),
                          [np.ones((2, 3, 4), np.float32), np.ones((2, 5, 6), np.float32),
                           np.full((2, 5, 4), 2, np.float32)]),
    # a keras.ops call read from a Keras file (saving/keras_ops.py)
    "KerasOperation": (lambda: KerasOperation("Mean", op_config={"axis": 1}), np.ones((2, 3, 4), np.float32)),
    "KerasOperation_two": (lambda: KerasOperation("Concatenate", template=[["__tensor__", "__tensor__"]],
                                                  op_config={"axis": -1}),
                           [np.ones((2, 3, 4), np.float32), np.ones((2, 3, 2), np.float32)]),
}


def batchless(x):
    """The input's shape with the batch size unknown; a list of them for a list of inputs (a merge)."""
    return [(None,) + a.shape[1:] for a in x] if isinstance(x, list) else (None,) + x.shape[1:]


@pytest.mark.parametrize("kind", sorted(BUILT_INS))
def test_every_layer_keeps_the_whole_contract(kind):
    make, x = BUILT_INS[kind]
    layer = make()
    out = layer(x)
    assert layer.built and layer.dtype == np.float32 and isinstance(layer.name, str)
    shapes = layer.compute_output_shape(batchless(x))
    for shape, tensor in zip(shapes if isinstance(shapes, list) else [shapes], out if isinstance(out, list) else [out]):
        assert shape == (None,) + tensor.shape[1:]
    assert layer.count_params() == sum(w.size for w in layer.get_weights())
    assert layer.weights == layer.trainable_weights + layer.non_trainable_weights
    config = layer.get_config()
    json.dumps(config)  # plain data
    twin = type(layer).from_config(config | {"name": layer.name + "_twin"})
    twin(x)
    twin.set_weights(layer.get_weights())
    for a, b in zip(out if isinstance(out, list) else [out], twin(x) if isinstance(out, list) else [twin(x)]):
        np.testing.assert_array_equal(a.data, b.data)
    assert {k: v for k, v in twin.get_config().items() if k != "name"} == {k: v for k, v in config.items() if k != "name"}


def test_every_built_in_layer_is_covered_here():
    # Lambda refuses from_config by design, a file never supplies code (tests/test_sequence_layers.py)
    # Cells are called with (inputs, states): they keep the contract inside RNN, in the RNN entries above
    cells = {"LSTMCell", "GRUCell", "SimpleRNNCell", "StackedRNNCells"}
    covered = {kind.split("_")[0] for kind in BUILT_INS} | {"InputLayer", "Model", "Sequential", "Lambda"} | cells
    built_ins = {name for name, cls in LAYERS.items() if cls.__module__.startswith("tinygrad_embed.")}
    assert built_ins <= covered, f"add these to BUILT_INS: {built_ins - covered}"


def test_a_frozen_embedding_is_unchanged_by_fit_and_not_handed_to_the_optimizer(capsys):
    set_random_seed(0)
    pretrained = np.random.default_rng(0).standard_normal((20, 8)).astype(np.float32)
    embedding = Embedding(20, 8, weights=[pretrained], trainable=False)
    model = Sequential([embedding, LSTM(6), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    lstm_before = model.layers[1].get_weights()
    model.fit(*toy_data(), epochs=2, batch_size=16, verbose=0)
    np.testing.assert_array_equal(embedding.get_weights()[0], pretrained)
    assert not any(np.array_equal(a, b) for a, b in zip(lstm_before, model.layers[1].get_weights()))
    assert all(w is not embedding.embeddings for w in model.optimizer._variables)
    model.summary()
    printed = capsys.readouterr().out
    assert "Non-trainable params: 160 " in printed and "Trainable params: 367 " in printed


def test_trainable_can_change_between_fits():
    set_random_seed(0)
    model = Sequential([Embedding(20, 8), LSTM(6), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    x, y = toy_data()
    model.layers[0].trainable = False
    before = model.layers[0].get_weights()[0]
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    np.testing.assert_array_equal(model.layers[0].get_weights()[0], before)
    model.layers[0].trainable = True
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert not np.array_equal(model.layers[0].get_weights()[0], before)
    assert len(model.trainable_weights) == 6 and len(model.non_trainable_weights) == 0


def test_freezing_the_whole_model_trains_nothing():
    model = Sequential([Embedding(20, 4), LSTM(3), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.trainable = False
    before = model.get_weights()
    model.fit(*toy_data(32), epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_keras2_input_keywords_give_the_model_its_input_shape(capsys):
    for first in [Dense(4, input_shape=(3,)), Dense(4, input_dim=3), Dense(4, batch_input_shape=(None, 3))]:
        model = Sequential([first, Dense(1)])
        model.summary()
        assert "(None, 4)" in capsys.readouterr().out and model.built
        assert model.input_shape == (None, 3)


def test_weights_keyword_sets_initial_weights_after_build():
    kernel, bias = np.arange(6, dtype=np.float32).reshape(3, 2), np.array([1.0, -1.0], np.float32)
    layer = Dense(2, input_dim=3, weights=[kernel, bias])
    np.testing.assert_array_equal(layer(np.eye(3)).data, kernel + bias)
    with pytest.raises(ValueError, match="shape"):
        Embedding(5, 2, weights=[np.zeros((4, 2))])


def test_unknown_keywords_are_refused_naming_them():
    with pytest.raises(TypeError, match="input_lenght"):
        Embedding(5, 2, input_lenght=3)


class Scale(Layer):
    """A user's layer with a weight of its own: y = x * w (per feature)."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="w")
        self.w.data[...] = 2

    def call(self, inputs):
        return inputs * self.w


class EmbedAndAverage(Layer):
    """A user's layer wrapping an Embedding: it must receive the integer ids unchanged."""

    def __init__(self, vocabulary, width, **kwargs):
        super().__init__(**kwargs)
        self.embed = Embedding(vocabulary, width)

    def call(self, inputs):
        return self.embed(inputs).mean(axis=1)


def test_user_layers_are_registered_when_defined():
    assert get_layer_class("Scale") is Scale and get_layer_class("EmbedAndAverage") is EmbedAndAverage
    with pytest.raises(ValueError, match="unknown layer class 'Nope'"):
        get_layer_class("Nope")


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_user_layers_train_in_both_kinds_of_model_and_save(kind, tmp_path):
    set_random_seed(0)
    x, y = toy_data()
    wrapper, scale = EmbedAndAverage(20, 8), Scale()
    if kind == "sequential":
        model = Sequential([wrapper, scale, Dense(1, activation="sigmoid")])
    else:
        ids = Input(shape=(12,), dtype="int64")
        model = Model(ids, Dense(1, activation="sigmoid")(scale(wrapper(ids))))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    before = wrapper.embed.get_weights()[0]
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert not np.array_equal(wrapper.embed.get_weights()[0], before)  # the inner table is trained
    assert [w.shape for w in model.get_weights()] == [(20, 8), (8,), (8, 1), (1,)]
    assert not np.array_equal(scale.w.data, 2)
    model.save(tmp_path / "m.npz")
    restored = load_model(tmp_path / "m.npz")
    np.testing.assert_allclose(restored.predict(x), model.predict(x), rtol=1e-6)


def test_embedding_compute_mask_takes_arrays_and_tensors():
    layer = Embedding(5, 2, mask_zero=True)
    ids = np.array([[0, 3], [2, 0]])
    np.testing.assert_array_equal(layer.compute_mask(ids), ids != 0)
    np.testing.assert_array_equal(layer.compute_mask(layer(ids)._keras_mask), ids != 0)
    assert Embedding(5, 2).compute_mask(ids) is None


def test_a_layer_that_drops_a_mask_says_so():
    embed = Embedding(5, 2, mask_zero=True)
    with pytest.warns(UserWarning, match="does not support masking"):
        Scale()(embed(np.array([[0, 1]])))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Dense(2)(embed(np.array([[0, 1]])))  # Dense passes the mask on, silently
