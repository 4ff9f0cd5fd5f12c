"""Weights from a real Keras model give the same outputs here (needs the `parity` extra: keras and
torch, Keras running on its torch backend; skipped without them)."""
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
pytest.importorskip("torch")

from tinygrad_embed.layers import LSTM, Dense, Embedding  # noqa: E402
from tinygrad_embed.models import Sequential  # noqa: E402


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


def test_the_seed_model_with_keras_weights_predicts_as_keras():
    rng = np.random.default_rng(1)
    theirs = keras.Sequential([keras.Input((6,), dtype="int32"), keras.layers.Embedding(20, 4, mask_zero=True),
                               keras.layers.LSTM(3), keras.layers.Dense(1, activation="sigmoid")])
    ids = rng.integers(0, 20, (4, 6))
    ids[:, :2] = 0
    ours = Sequential([Embedding(20, 4, mask_zero=True, input_length=6), LSTM(3), Dense(1, activation="sigmoid")])
    ours.build()
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.predict(ids), theirs.predict(ids, verbose=0), atol=1e-6)
    assert sum(w.size for w in theirs.get_weights()) == sum(w.size for w in ours.get_weights())
