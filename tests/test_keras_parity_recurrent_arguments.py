"""The recurrent layers' arguments beside real Keras 3 (the parity extra): every parameter of Keras's LSTM,
GRU and SimpleRNN signatures is taken here at Keras's default; unroll=True computes what Keras's unrolled
layer computes from the same weights; files carrying the new arguments go both ways; Keras 1's names are
refused by both."""
import inspect

import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
require("torch")

from tinygrad_embed import layers  # noqa: E402
from tinygrad_embed.models import Sequential, load_model  # noqa: E402

NAMES = ["LSTM", "GRU", "SimpleRNN", "LSTMCell", "GRUCell", "SimpleRNNCell"]


def keras_defaults(name):
    """Every parameter of Keras's constructor but units, at its default."""
    parameters = inspect.signature(getattr(keras.layers, name).__init__).parameters.values()
    return {p.name: p.default for p in parameters if p.name not in ("self", "units", "kwargs")}


@pytest.mark.parametrize("name", NAMES)
def test_every_argument_of_keras_signature_is_taken_at_its_default(name):
    arguments = keras_defaults(name)
    assert len(arguments) >= 14  # the signature was read: initializers, regularizers, constraints, dropout, ...
    layer = getattr(layers, name)(4, **arguments)
    assert layer.units == 4 and layer.dropout == 0.0


@pytest.mark.parametrize("name", ["LSTM", "GRU", "SimpleRNN"])
def test_unrolled_layers_compute_what_keras_unrolled_ones_do(name):
    x = np.random.default_rng(2).normal(size=(3, 5, 4)).astype(np.float32)
    ours = getattr(layers, name)(6, unroll=True, return_sequences=True)
    theirs = getattr(keras.layers, name)(6, unroll=True, return_sequences=True)
    ours(x), theirs(x)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours(x).data, keras.ops.convert_to_numpy(theirs(x)), rtol=1e-5, atol=1e-6)


def test_a_model_with_unroll_goes_to_keras_and_back(tmp_path):
    x = np.random.default_rng(3).normal(size=(4, 5, 3)).astype(np.float32)
    ours = Sequential([layers.Input((5, 3)), layers.LSTM(4, unroll=True, kernel_regularizer=None), layers.Dense(1)])
    ours.save(tmp_path / "m.keras")
    theirs = keras.models.load_model(tmp_path / "m.keras")
    assert theirs.layers[0].unroll is True
    np.testing.assert_allclose(keras.ops.convert_to_numpy(theirs(x)), ours.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    theirs.save(tmp_path / "back.keras")
    np.testing.assert_allclose(load_model(tmp_path / "back.keras").predict(x, verbose=0), ours.predict(x, verbose=0),
                               rtol=1e-6)


@pytest.mark.parametrize("argument", ["output_dim", "inner_activation", "dropout_W"])
def test_keras_1_names_are_refused_by_both(argument):
    with pytest.raises(ValueError, match=argument):
        keras.layers.LSTM(3, **{argument: 1})
    with pytest.raises(TypeError, match=f"LSTM got {argument}, Keras 1's name"):
        layers.LSTM(3, **{argument: 1})


@pytest.mark.parametrize("argument", ["kernel_regularizer", "bias_constraint"])
def test_a_regularizer_keras_applies_is_refused_here_rather_than_ignored(argument):
    value = "l2" if argument.endswith("regularizer") else "non_neg"
    getattr(keras.layers, "GRU")(3, **{argument: value})  # Keras takes it and would train differently
    with pytest.raises(NotImplementedError, match=f"GRU's {argument}='{value}' is not implemented here"):
        layers.GRU(3, **{argument: value})
