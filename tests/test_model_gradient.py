"""The whole seed model, Embedding -> LSTM -> Dense(sigmoid) -> binary cross-entropy, under gradcheck."""
import numpy as np
import pytest

import tinygrad_embed as tg
from tinygrad_embed import losses
from tinygrad_embed.layers import LSTM, Dense, Embedding


@pytest.mark.parametrize("mask_zero", [False, True])
@pytest.mark.parametrize("fused", [True, False])
def test_whole_model_gradcheck(mask_zero, fused):
    rng = np.random.default_rng(0)
    words = Embedding(12, 4, mask_zero=mask_zero, dtype="float64")
    memory = LSTM(3, dtype="float64", fused=fused)
    head = Dense(1, activation="sigmoid", dtype="float64")
    ids = np.array([[0, 0, 5, 3, 3, 11], [0, 7, 1, 1, 2, 9], [4, 4, 4, 8, 10, 1]])
    labels = np.array([1.0, 0.0, 1.0])

    def loss(*weights):
        return losses.binary_crossentropy(labels, head(memory(words(ids)))).mean()
    loss()  # builds the layers
    weights = words.trainable_weights + memory.trainable_weights + head.trainable_weights
    for w in weights:  # larger weights than the initialisers give, so that gradients are not tiny
        w.data[...] = rng.standard_normal(w.shape) * 0.5
    assert tg.gradcheck(loss, weights)
