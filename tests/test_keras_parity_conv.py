"""Conv1D and the 1-D poolings against real Keras 3 (torch backend), from the same weights and inputs.
Needs the `parity` extra; skipped without it, except under `make parity` (see test_keras_parity.py)."""
import itertools
import re

import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
require("torch")

import tinygrad_embed as tg  # noqa: E402
from tinygrad_embed.layers.padding import padding_amounts  # noqa: E402


def keras_output(layer, x, **call_kwargs):
    return keras.ops.convert_to_numpy(layer(x, **call_kwargs))


CONV_CASES = [(s, d, p, k) for s, d, p, k in itertools.product((1, 2, 3), (1, 2), ("valid", "same", "causal"), (1, 2, 3))
              if s == 1 or d == 1]


@pytest.mark.parametrize("strides, dilation_rate, padding, kernel_size", CONV_CASES)
@pytest.mark.parametrize("steps", [7, 8])
def test_conv1d_gives_keras_outputs_from_keras_weights(strides, dilation_rate, padding, kernel_size, steps):
    x = np.random.default_rng(steps).standard_normal((2, steps, 3)).astype("float32")
    arguments = dict(filters=4, kernel_size=kernel_size, strides=strides, dilation_rate=dilation_rate,
                     padding=padding, activation="relu", bias_initializer="random_uniform")
    theirs, ours = keras.layers.Conv1D(**arguments), tg.layers.Conv1D(**arguments)
    expected = keras_output(theirs, x)
    ours(x)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours(x).data, expected, rtol=1e-5, atol=1e-6)
    assert ours.compute_output_shape((None, steps, 3)) == theirs.compute_output_shape((None, steps, 3))


def uneven_same_padding(name, pool_size, strides, padding, steps):
    left, right = padding_amounts(steps, pool_size, strides or pool_size, 1, padding)
    return name == "AveragePooling1D" and left != right


POOL_CASES = [case for case in itertools.product(("MaxPooling1D", "AveragePooling1D"), (1, 2, 3, 4), (None, 1, 2, 3),
                                                  ("valid", "same"), (7, 8)) if not uneven_same_padding(*case)]


@pytest.mark.parametrize("name, pool_size, strides, padding, steps", POOL_CASES)
def test_pooling_gives_keras_outputs(name, pool_size, strides, padding, steps):
    x = np.random.default_rng(pool_size).standard_normal((2, steps, 3)).astype("float32")
    arguments = dict(pool_size=pool_size, strides=strides, padding=padding)
    theirs, ours = getattr(keras.layers, name)(**arguments), getattr(tg.layers, name)(**arguments)
    np.testing.assert_allclose(ours(x).data, keras_output(theirs, x), rtol=1e-6, atol=1e-6)
    assert ours.compute_output_shape((None, steps, 3)) == theirs.compute_output_shape((None, steps, 3))


def test_average_pooling_with_uneven_same_padding_differs_from_keras_torch_backend_as_documented():
    """Keras's torch backend pads an uneven "same" average by repeating the edge step, which then counts
    in the mean; TensorFlow (and this project) leave padding out of the mean."""
    x = np.random.default_rng(0).standard_normal((1, 8, 1)).astype("float32")  # pool 4, stride 1: 1 step before, 2 after
    theirs = keras_output(keras.layers.AveragePooling1D(4, strides=1, padding="same"), x)[0, :, 0]
    ours = tg.layers.AveragePooling1D(4, strides=1, padding="same")(x).data[0, :, 0]
    steps = x[0, :, 0]
    np.testing.assert_allclose(ours[-1], steps[-2:].mean(), rtol=1e-6)  # the real steps of the last window
    np.testing.assert_allclose(theirs[-1], (steps[-2] + 3 * steps[-1]) / 4, rtol=1e-6)  # the edge three times
    np.testing.assert_allclose(ours[1:-2], theirs[1:-2], rtol=1e-6)  # windows without padding agree


def test_global_poolings_with_and_without_a_mask_give_keras_outputs():
    x = np.random.default_rng(0).standard_normal((3, 5, 2)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 1], [1, 1, 1, 1, 1]], bool)
    for name in ("GlobalAveragePooling1D", "GlobalMaxPooling1D"):
        for keepdims in (False, True):
            theirs, ours = getattr(keras.layers, name)(keepdims=keepdims), getattr(tg.layers, name)(keepdims=keepdims)
            np.testing.assert_allclose(ours(x).data, keras_output(theirs, x), rtol=1e-6, atol=1e-6)
    masked = keras_output(keras.layers.GlobalAveragePooling1D(), x, mask=mask)
    np.testing.assert_allclose(tg.layers.GlobalAveragePooling1D()(x, mask=mask).data, masked, rtol=1e-6, atol=1e-6)


def test_the_embedding_mask_reaches_the_global_average_as_in_keras():
    def fasttext(api):
        ids = api.Input(shape=(6,), dtype="int32")
        pooled = api.layers.GlobalAveragePooling1D()(api.layers.Embedding(20, 4, mask_zero=True)(ids))
        return api.Model(ids, api.layers.Dense(1, activation="sigmoid")(pooled))
    theirs, ours = fasttext(keras), fasttext(tg)
    ours.set_weights(theirs.get_weights())
    ids = np.random.default_rng(1).integers(1, 20, (4, 6))
    ids[0, :2], ids[1, 4:], ids[2, :5] = 0, 0, 0
    np.testing.assert_allclose(ours.predict(ids), theirs.predict(ids, verbose=0), rtol=1e-6, atol=1e-6)


def test_the_cnn_lstm_tutorial_model_predicts_as_keras():
    def cnn_lstm(api):
        return api.Sequential([api.Input(shape=(40,), dtype="int32"), api.layers.Embedding(50, 8),
                               api.layers.Conv1D(6, 3, padding="same", activation="relu"), api.layers.MaxPooling1D(2),
                               api.layers.LSTM(5), api.layers.Dense(1, activation="sigmoid")])
    theirs, ours = cnn_lstm(keras), cnn_lstm(tg)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    ours.set_weights(theirs.get_weights())
    ids = np.random.default_rng(2).integers(0, 50, (5, 40))
    np.testing.assert_allclose(ours.predict(ids), theirs.predict(ids, verbose=0), rtol=1e-5, atol=1e-6)
    base_name = lambda layer: re.sub(r"_\d+$", "", layer.name)  # noqa: E731  (counters depend on the test order)
    assert [base_name(layer) for layer in ours.layers] == [base_name(layer) for layer in theirs.layers]
