"""Embedding on float ids against real Keras 3 (torch backend), which casts them to integers: the same rows
from the same table, in a call and in keras.io's Transformer example's float Input.
Skipped without Keras and torch, except under `make parity` (TINYGRAD_EMBED_PARITY=required)."""
import numpy as np

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
torch = require("torch")

import tinygrad_embed  # noqa: E402

IDS = np.array([[3.0, 0.0, 7.0, 7.0], [1.0, 2.0, 9.0, 0.0]], "float32")


def test_float_ids_give_keras_rows():
    theirs, ours = keras.layers.Embedding(10, 3, dtype="float32"), tinygrad_embed.layers.Embedding(10, 3, dtype="float32")
    theirs.build((None, 4))
    ours.set_weights(theirs.get_weights())
    np.testing.assert_array_equal(ours(IDS).data, keras.ops.convert_to_numpy(theirs(IDS)))


def test_a_float_input_feeds_the_token_embedding_as_in_the_transformer_example():
    models = []
    for api in (keras, tinygrad_embed):
        inputs = api.Input(shape=(4,))  # float32, as in the example
        x = api.layers.GlobalAveragePooling1D()(api.layers.Embedding(10, 3)(inputs))
        models.append(api.Model(inputs, api.layers.Dense(1)(x)))
    models[1].set_weights(models[0].get_weights())
    np.testing.assert_allclose(models[1].predict(IDS, verbose=0), models[0].predict(IDS, verbose=0), rtol=1e-6)
