"""Every argument of Keras 3's LSTM, GRU and SimpleRNN is taken: unroll, use_cudnn and implementation change
nothing (the same maths), regularizers and constraints only as None, and Keras 1's names are refused
naming their Keras 3 spelling. Configs with them round trip."""
import numpy as np
import pytest

from tinygrad_embed import layers
from tinygrad_embed.models import Sequential, load_model

RECURRENT = [layers.LSTM, layers.GRU, layers.SimpleRNN]
CELLS = [layers.LSTMCell, layers.GRUCell, layers.SimpleRNNCell]
REGULARIZERS_AND_CONSTRAINTS = ["kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                                "activity_regularizer", "kernel_constraint", "recurrent_constraint",
                                "bias_constraint"]
# Keras 3.15's signatures (inspect.signature(keras.layers.LSTM.__init__) and the others), each at its default
KERAS_DEFAULTS = {"activation": "tanh", "use_bias": True, "kernel_initializer": "glorot_uniform",
                  "recurrent_initializer": "orthogonal", "bias_initializer": "zeros",
                  **dict.fromkeys(REGULARIZERS_AND_CONSTRAINTS), "dropout": 0.0, "recurrent_dropout": 0.0,
                  "seed": None, "return_sequences": False, "return_state": False, "go_backwards": False,
                  "stateful": False, "unroll": False}
ONLY = {layers.LSTM: {"recurrent_activation": "sigmoid", "unit_forget_bias": True, "use_cudnn": "auto"},
        layers.GRU: {"recurrent_activation": "sigmoid", "reset_after": True, "use_cudnn": "auto"},
        layers.SimpleRNN: {}}


def outputs(layer, x):
    return layer(x).data


@pytest.mark.parametrize("cls", RECURRENT)
def test_every_keras_3_argument_is_taken_at_its_default(cls):
    layer = cls(4, **KERAS_DEFAULTS, **ONLY[cls])
    assert layer(np.zeros((2, 3, 5), np.float32)).shape == (2, 4)


NO_OPS = [(cls, options) for cls in (layers.LSTM, layers.GRU)
          for options in ({"unroll": True}, {"implementation": 1}, {"implementation": 2}, {"use_cudnn": False},
                          {"use_cudnn": True}, {"unroll": True, "use_cudnn": "auto", "implementation": 2})]


@pytest.mark.parametrize("cls, options", NO_OPS + [(layers.SimpleRNN, {"unroll": True})])
def test_unroll_use_cudnn_and_implementation_keep_the_same_maths(cls, options):
    x = np.random.default_rng(0).normal(size=(3, 6, 5)).astype(np.float32)
    plain, other = cls(4, return_sequences=True), cls(4, return_sequences=True, **options)
    plain(x), other(x)
    other.set_weights(plain.get_weights())
    np.testing.assert_array_equal(outputs(other, x), outputs(plain, x))
    mask = np.array([[0, 1, 1, 1, 1, 1], [1] * 6, [0, 0, 0, 1, 1, 1]], bool)
    np.testing.assert_array_equal(other(x, mask=mask).data, plain(x, mask=mask).data)


@pytest.mark.parametrize("cls", RECURRENT + CELLS)
@pytest.mark.parametrize("argument", REGULARIZERS_AND_CONSTRAINTS)
def test_a_regularizer_or_constraint_other_than_none_is_refused_naming_it(cls, argument):
    cls(3, **{argument: None})
    with pytest.raises(NotImplementedError, match=f"{cls.__name__}'s {argument}='l2' is not implemented here: this "
                                                  "project has no regularizers or constraints"):
        cls(3, **{argument: "l2"})


@pytest.mark.parametrize("cls, argument", [(layers.SimpleRNN, "use_cudnn"), (layers.SimpleRNN, "implementation"),
                                           (layers.LSTMCell, "unroll"), (layers.GRUCell, "use_cudnn"),
                                           (layers.SimpleRNNCell, "implementation")])
def test_no_op_arguments_only_where_keras_has_them(cls, argument):
    with pytest.raises(TypeError, match=f"{cls.__name__} got unexpected keyword arguments: {argument}"):
        cls(3, **{argument: 1})
    assert layers.LSTMCell(3, implementation=2).units == layers.GRUCell(3, implementation=1).units == 3


def test_use_cudnn_takes_keras_values_only():
    with pytest.raises(ValueError, match="LSTM's use_cudnn must be one of 'auto', True, False, got 'yes'"):
        layers.LSTM(3, use_cudnn="yes")


@pytest.mark.parametrize("old, new", [("output_dim", "units"), ("init", "kernel_initializer"),
                                      ("inner_init", "recurrent_initializer"), ("forget_bias_init", "unit_forget_bias"),
                                      ("inner_activation", "recurrent_activation"),
                                      ("W_regularizer", "kernel_regularizer"), ("U_regularizer", "recurrent_regularizer"),
                                      ("b_regularizer", "bias_regularizer"), ("dropout_W", "dropout"),
                                      ("dropout_U", "recurrent_dropout"), ("W_constraint", "kernel_constraint"),
                                      ("consume_less", "Keras 3 picks"), ("input_length", "input_shape")])
@pytest.mark.parametrize("cls", RECURRENT + CELLS)
def test_keras_1_arguments_are_refused_naming_the_keras_3_spelling(cls, old, new):
    with pytest.raises(TypeError, match=f"{cls.__name__} got {old}, Keras 1's name.*spell them: {old} -> .*{new}"):
        cls(3, **{old: 1})


def test_several_keras_1_arguments_are_all_named():
    with pytest.raises(TypeError, match="output_dim -> units; inner_activation -> recurrent_activation"):
        layers.GRU(3, output_dim=3, inner_activation="hard_sigmoid")


def test_an_argument_no_keras_has_is_still_refused():
    with pytest.raises(TypeError, match="LSTM got unexpected keyword arguments: time_major"):
        layers.LSTM(3, time_major=True)


@pytest.mark.parametrize("cls", RECURRENT)
def test_configs_with_the_new_arguments_round_trip(cls, tmp_path):
    layer = cls(3, unroll=True, kernel_regularizer=None, use_bias=True)
    config = layer.get_config()
    assert config["unroll"] is True and config["kernel_regularizer"] is None
    again = cls.from_config(config)
    assert again.get_config() == config
    model = Sequential([layers.Input((4, 2)), cls(3, unroll=True), layers.Dense(1)])
    model.compile(loss="mse", optimizer="adam")
    x = np.random.default_rng(1).normal(size=(5, 4, 2)).astype(np.float32)
    model.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(load_model(tmp_path / "m.npz").predict(x, verbose=0), model.predict(x, verbose=0))
