"""layer.compute_mask(inputs, mask) and the `_keras_mask` of eager and symbolic outputs against real Keras 3
(torch backend), for every mask-producing and mask-consuming layer here.
Skipped without Keras and torch, except under `make parity` (TINYGRAD_EMBED_PARITY=required)."""
import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
torch = require("torch")

import tinygrad_embed  # noqa: E402

X = np.arange(24, dtype="float32").reshape(2, 3, 4)
X[0, 1] = 0.0
IDS = np.array([[1, 0, 2], [0, 0, 3]])
MASK = np.array([[True, False, True], [True, True, False]])

CASES = {  # name: (layer from an api, input, incoming mask)
    "Embedding(mask_zero=True)": (lambda L: L.Embedding(5, 2, mask_zero=True), IDS, None),
    "Embedding": (lambda L: L.Embedding(5, 2), IDS, None),
    "Masking": (lambda L: L.Masking(0.0), X, None),
    "LSTM(return_sequences=True)": (lambda L: L.LSTM(2, return_sequences=True), X, MASK),
    "LSTM": (lambda L: L.LSTM(2), X, MASK),
    "GRU(return_sequences=True)": (lambda L: L.GRU(2, return_sequences=True), X, MASK),
    "SimpleRNN": (lambda L: L.SimpleRNN(2), X, MASK),
    "LSTM(return_sequences=True, return_state=True)": (lambda L: L.LSTM(2, return_sequences=True, return_state=True),
                                                       X, MASK),
    "GRU(return_state=True)": (lambda L: L.GRU(2, return_state=True), X, MASK),
    "LSTM(return_sequences=True, go_backwards=True)": (lambda L: L.LSTM(2, return_sequences=True, go_backwards=True),
                                                       X, MASK),
    "Bidirectional(LSTM(return_sequences=True))": (lambda L: L.Bidirectional(L.LSTM(2, return_sequences=True)),
                                                   X, MASK),
    "Bidirectional(LSTM)": (lambda L: L.Bidirectional(L.LSTM(2)), X, MASK),
    "GlobalAveragePooling1D": (lambda L: L.GlobalAveragePooling1D(), X, MASK),
    "GlobalMaxPooling1D": (lambda L: L.GlobalMaxPooling1D(), X, MASK),
    "Dense": (lambda L: L.Dense(2), X, MASK),
    "Dense without a mask": (lambda L: L.Dense(2), X, None),
    "TimeDistributed(Dense)": (lambda L: L.TimeDistributed(L.Dense(2)), X, MASK),
    "Dropout": (lambda L: L.Dropout(0.5), X, MASK),
    "Activation": (lambda L: L.Activation("relu"), X, MASK),
    "LayerNormalization": (lambda L: L.LayerNormalization(), X, MASK),
    "Flatten": (lambda L: L.Flatten(), X, MASK),
    "Conv1D": (lambda L: L.Conv1D(2, 2), X, MASK),
    "Add, one mask": (lambda L: L.Add(), [X, X], [MASK, None]),
    "Add": (lambda L: L.Add(), [X, X], [MASK, ~MASK]),
    "Add without masks": (lambda L: L.Add(), [X, X], None),
    "Multiply": (lambda L: L.Multiply(), [X, X], [MASK, ~MASK]),
    "Average": (lambda L: L.Average(), [X, X], [MASK, ~MASK]),
    "Concatenate, one mask": (lambda L: L.Concatenate(), [X, X], [MASK, None]),
    "Concatenate(axis=1)": (lambda L: L.Concatenate(axis=1), [X, X], [MASK, ~MASK]),
    "Dot": (lambda L: L.Dot(axes=2), [X, X], [MASK, ~MASK]),
}


def as_lists(mask, to_numpy):
    if mask is None:
        return None
    if isinstance(mask, (list, tuple)):
        return [as_lists(m, to_numpy) for m in mask]
    return np.asarray(to_numpy(mask)).astype(bool).tolist()


@pytest.mark.parametrize("name", sorted(CASES))
def test_compute_mask_answers_as_keras(name):
    make, x, mask = CASES[name]
    theirs, ours = make(keras.layers), make(tinygrad_embed.layers)
    theirs(x), ours(x)
    expected = as_lists(theirs.compute_mask(x, mask), keras.ops.convert_to_numpy)
    assert as_lists(ours.compute_mask(x, mask), lambda m: getattr(m, "data", m)) == expected


@pytest.mark.parametrize("name", ["Embedding(mask_zero=True)", "Masking"])
def test_an_eager_output_carries_keras_mask(name):
    make, x, _ = CASES[name]
    expected = keras.ops.convert_to_numpy(make(keras.layers)(x)._keras_mask)
    np.testing.assert_array_equal(make(tinygrad_embed.layers)(x)._keras_mask, expected)


def symbolic_masks(api):
    """The masks (shapes, or None) along a graph: Embedding(mask_zero) -> Dense -> LSTM(sequences) -> LSTM, and Masking."""
    L, ids = api.layers, api.Input((7,), dtype="int32")
    embedded = L.Embedding(9, 4, mask_zero=True)(ids)
    dense = L.Dense(3)(embedded)
    sequences = L.LSTM(2, return_sequences=True)(dense)
    masked = L.Masking()(api.Input((None, 3)))
    tensors = [ids, embedded, dense, sequences, L.LSTM(2)(sequences), masked, L.GlobalAveragePooling1D()(masked)]
    masks = [getattr(t, "_keras_mask", None) for t in tensors]
    return [None if m is None else (tuple(m.shape), str(np.dtype(m.dtype))) for m in masks]


def test_symbolic_outputs_carry_the_masks_keras_gives_them():
    assert symbolic_masks(tinygrad_embed) == symbolic_masks(keras)
