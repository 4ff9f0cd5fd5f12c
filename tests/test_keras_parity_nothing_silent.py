"""Where Keras 3 (torch backend) and this project part on purpose, and where they agree, for the cases of
docs/nothing-silent.md: NaN through the recurrent layers (both propagate it), a sequence with every step masked
(Keras's average pooling gives NaN, 0 / 0; zeros here), categorical targets that are not distributions (Keras
computes a number; refused here). Needs the `parity` extra (see test_keras_parity.py)."""
import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
require("torch")

import tinygrad_embed as tg  # noqa: E402


def keras_numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


@pytest.mark.parametrize("name", ["LSTM", "GRU", "SimpleRNN"])
def test_a_nan_input_step_gives_nan_from_that_step_on_in_both(name):
    x = np.random.default_rng(0).standard_normal((3, 5, 2)).astype("float32")
    x[1, 2, 0] = np.nan
    theirs = getattr(keras.layers, name)(3, return_sequences=True)
    expected = keras_numpy(theirs(x))
    ours = getattr(tg.layers, name)(3, return_sequences=True)
    ours(x)
    ours.set_weights([keras_numpy(w) for w in theirs.weights])
    out = ours(x).data
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    assert np.isnan(out[1, 2:]).all() and not np.isnan(out[[0, 2]]).any()
    np.testing.assert_allclose(out[[0, 2]], expected[[0, 2]], rtol=1e-5, atol=1e-6)


def test_masked_average_pooling_of_an_empty_sequence_is_nan_in_keras_and_zeros_here():
    x = np.random.default_rng(1).standard_normal((2, 4, 3)).astype("float32")
    mask = np.array([[0, 0, 0, 0], [1, 1, 0, 1]], bool)
    theirs = keras_numpy(keras.layers.GlobalAveragePooling1D()(x, mask=mask))
    ours = tg.layers.GlobalAveragePooling1D()(x, mask=mask).data
    assert np.isnan(theirs[0]).all()
    np.testing.assert_array_equal(ours[0], 0)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-6)


@pytest.mark.parametrize("name", ["LSTM", "GRU", "SimpleRNN"])
def test_a_recurrent_layer_gives_zeros_for_an_empty_sequence_in_both(name):
    x = np.random.default_rng(2).standard_normal((2, 4, 3)).astype("float32")
    mask = np.array([[0, 0, 0, 0], [1, 1, 0, 1]], bool)
    theirs = getattr(keras.layers, name)(2)
    expected = keras_numpy(theirs(x, mask=mask))
    ours = getattr(tg.layers, name)(2)
    ours(x)
    ours.set_weights([keras_numpy(w) for w in theirs.weights])
    np.testing.assert_array_equal(expected[0], 0)
    np.testing.assert_allclose(ours(x, mask=mask).data, expected, rtol=1e-5, atol=1e-6)


def test_keras_computes_categorical_crossentropy_of_targets_that_are_not_distributions_and_we_refuse():
    y_pred = np.full((2, 3), 1 / 3, "float32")
    for y_true in (np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0]], "float32"),
                   np.array([[1.5, -0.5, 0.0], [0.0, 1.0, 0.0]], "float32")):
        assert np.isfinite(keras_numpy(keras.losses.categorical_crossentropy(y_true, y_pred))).all()
        with pytest.raises(ValueError, match="categorical_crossentropy: "):
            tg.losses.categorical_crossentropy(y_true, y_pred)


def dense(api):
    api.utils.set_random_seed(0)
    model = api.Sequential([api.Input((3,)), api.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


def test_keras_turns_float64_data_beyond_float32_into_inf_and_we_refuse():
    x = np.ones((4, 3))
    x[2, 1] = 1e39
    assert not np.isfinite(dense(keras).predict(x, verbose=0)[2]).all()
    with pytest.raises(ValueError, match=r"x holds 1e\+39 at position \(2, 1\)"):
        dense(tg).predict(x, verbose=0)


def test_keras_trains_on_a_nan_class_weight_into_a_nan_loss_and_we_refuse():
    x, y = np.random.default_rng(3).standard_normal((6, 3)), np.array([0, 1, 2, 0, 1, 2])
    history = dense(keras).fit(x, y, class_weight={0: 1.0, 1: float("nan"), 2: 1.0}, verbose=0)
    assert np.isnan(history.history["loss"][0])
    with pytest.raises(ValueError, match=r"class_weight\[1\] is nan"):
        dense(tg).fit(x, y, class_weight={0: 1.0, 1: float("nan"), 2: 1.0}, verbose=0)
