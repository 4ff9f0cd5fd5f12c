"""Tensors that numpy and Keras code accept, against real Keras 3 (torch backend): from the same inputs and
weights, numpy code on our eager outputs gets what it gets on Keras's (as numpy), model.fit on
keras.ops.one_hot labels (Keras's training guide) gives the same history, Tensors go where Keras takes
its tensors, and a name neither has reads as absent through hasattr and getattr in both.
Skipped without Keras and torch, except under `make parity` (TINYGRAD_EMBED_PARITY=required)."""
import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
torch = require("torch")

import tinygrad_embed  # noqa: E402

RNG = np.random.default_rng(1)
X = RNG.normal(size=(10, 4)).astype(np.float32)
LABELS = RNG.integers(0, 3, 10)


def dense_pair():
    """The same Dense layer in Keras and here, with Keras's weights."""
    theirs, ours = keras.layers.Dense(3), tinygrad_embed.layers.Dense(3)
    theirs.build((None, 4))
    ours(X[:1])  # built by a call
    ours.set_weights(theirs.get_weights())
    return theirs, ours


def test_numpy_code_on_an_eager_output_gets_what_it_gets_on_keras_s():
    theirs, ours = dense_pair()
    expected = keras.ops.convert_to_numpy(theirs(X))  # a torch tensor that requires grad: numpy() refuses it
    out = ours(X)
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-6, atol=1e-6)
    assert np.asarray(out).dtype == expected.dtype
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.mean(out), np.mean(expected), rtol=1e-5)
    np.testing.assert_allclose(out.tolist(), expected.tolist(), rtol=1e-6, atol=1e-6)
    assert len(out) == len(expected) and [row.shape for row in out] == [row.shape for row in expected]
    first = out[0, 0]
    assert abs(float(first) - float(expected[0, 0])) < 1e-6
    assert bool(first) == bool(expected[0, 0])


def test_one_element_conversions_and_formats_as_keras_s_tensors():
    value = np.array([[2.71828]], np.float32)
    theirs, ours = keras.ops.convert_to_tensor(value), tinygrad_embed.ops.convert_to_tensor(value)
    for convert in (float, int, bool, lambda v: "%.1f" % v, lambda v: f"{v[0, 0]:.3f}", len):
        assert convert(ours) == convert(theirs)
    wide = np.array([1.0, 2.0], np.float32)
    with pytest.raises((TypeError, ValueError)):
        float(keras.ops.convert_to_tensor(wide))
    with pytest.raises((TypeError, ValueError)):
        float(tinygrad_embed.ops.convert_to_tensor(wide))


def test_fit_on_one_hot_tensors_as_in_keras_s_training_guide():
    histories = []
    for api in (keras, tinygrad_embed):
        model = api.Sequential([api.Input((4,)), api.layers.Dense(3, activation="softmax")])
        model.compile(optimizer=api.optimizers.SGD(0.1), loss="categorical_crossentropy")
        histories.append((api, model))
    histories[1][1].set_weights(histories[0][1].get_weights())
    results = []
    for api, model in histories:
        x, y = api.ops.convert_to_tensor(X), api.ops.one_hot(api.ops.convert_to_tensor(LABELS), 3)
        history = model.fit(x, y, epochs=3, batch_size=5, shuffle=False, verbose=0).history["loss"]
        results.append((history, model.evaluate(x, y, verbose=0), model.train_on_batch(x, y),
                        keras.ops.convert_to_numpy(model.predict(x, verbose=0))))
    (theirs, ours) = results
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-5)
    np.testing.assert_allclose(np.ravel(ours[2])[0], np.ravel(theirs[2])[0], rtol=1e-5)
    np.testing.assert_allclose(ours[3], theirs[3], rtol=1e-5, atol=1e-6)


def test_to_categorical_and_pad_sequences_on_tensors_as_keras():
    labels = np.array([[2], [0], [1]])
    theirs = keras.utils.to_categorical(keras.ops.convert_to_tensor(labels), 3)
    ours = tinygrad_embed.utils.to_categorical(tinygrad_embed.ops.convert_to_tensor(labels), 3)
    assert hasattr(ours, "numpy") and keras.ops.is_tensor(theirs)  # a tensor for a tensor, in both
    np.testing.assert_array_equal(np.asarray(ours), keras.ops.convert_to_numpy(theirs))
    rows = [[3, 1, 4], [1, 5]]
    np.testing.assert_array_equal(
        tinygrad_embed.utils.pad_sequences([tinygrad_embed.ops.convert_to_tensor(r) for r in rows], maxlen=4),
        keras.utils.pad_sequences([keras.ops.convert_to_tensor(r) for r in rows], maxlen=4))


def test_a_name_missing_reads_as_absent_through_hasattr_and_getattr_in_both():
    for api in (keras, tinygrad_embed):
        assert not hasattr(api.ops, "not_a_keras_op")
        assert getattr(api.ops, "not_a_keras_op", 5) == 5
    # stft is Keras's and not ours: absent here through the same protocol
    assert hasattr(keras.ops, "stft") and not hasattr(tinygrad_embed.ops, "stft")
