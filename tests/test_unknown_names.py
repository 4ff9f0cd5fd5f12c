"""An unknown initializer, activation, loss, optimizer or metric name is refused where it is given (the
layer's constructor, or compile), with an error naming it and listing the known ones: never first inside
fit."""
import numpy as np
import pytest

from tinygrad_embed import layers
from tinygrad_embed.models import Sequential

INITIALIZER = r"unknown initializer 'glorot_uniformm'; known: .*GlorotUniform.*he_normal.*zeros"
ACTIVATION = r"unknown activation 'reluu'; known: None, .*relu.*tanh"

INITIALIZER_ARGUMENTS = [
    (layers.Dense, (3,), "kernel_initializer"), (layers.Dense, (3,), "bias_initializer"),
    (layers.Conv1D, (4, 2), "kernel_initializer"), (layers.Conv1D, (4, 2), "bias_initializer"),
    (layers.Embedding, (10, 4), "embeddings_initializer"),
    *[(cls, (3,), argument) for cls in (layers.LSTM, layers.GRU, layers.SimpleRNN, layers.LSTMCell, layers.GRUCell,
                                        layers.SimpleRNNCell)
      for argument in ("kernel_initializer", "recurrent_initializer", "bias_initializer")],
    *[(layers.BatchNormalization, (), argument) for argument in ("beta_initializer", "gamma_initializer",
                                                                 "moving_mean_initializer", "moving_variance_initializer")],
    *[(layers.LayerNormalization, (), argument) for argument in ("beta_initializer", "gamma_initializer")]]

ACTIVATION_ARGUMENTS = [
    (layers.Dense, (3,), "activation"), (layers.Conv1D, (4, 2), "activation"), (layers.Activation, (), "activation"),
    *[(cls, (3,), "activation") for cls in (layers.LSTM, layers.GRU, layers.SimpleRNN, layers.LSTMCell,
                                             layers.GRUCell, layers.SimpleRNNCell)],
    *[(cls, (3,), "recurrent_activation") for cls in (layers.LSTM, layers.GRU, layers.LSTMCell, layers.GRUCell)]]


@pytest.mark.parametrize("cls, args, argument", INITIALIZER_ARGUMENTS)
def test_an_unknown_initializer_is_refused_by_the_constructor(cls, args, argument):
    with pytest.raises(ValueError, match=INITIALIZER):
        cls(*args, **{argument: "glorot_uniformm"})


@pytest.mark.parametrize("cls, args, argument", ACTIVATION_ARGUMENTS)
def test_an_unknown_activation_is_refused_by_the_constructor(cls, args, argument):
    with pytest.raises(ValueError, match=ACTIVATION):
        cls(*args, **{argument: "reluu"})


@pytest.mark.parametrize("cls, args, argument", INITIALIZER_ARGUMENTS)
def test_a_known_initializer_in_any_form_is_still_taken(cls, args, argument):
    for identifier in ("he_normal", {"class_name": "Constant", "config": {"value": 0.5}}, None):
        cls(*args, **{argument: identifier})


def model():
    return Sequential([layers.Input((2,)), layers.Dense(1)])


@pytest.mark.parametrize("compile_arguments, message", [
    ({"loss": "mean_squared_errror", "optimizer": "adam"}, r"unknown loss 'mean_squared_errror'; known: .*mean_squared_error"),
    ({"loss": ["msee"], "optimizer": "adam"}, r"unknown loss 'msee'; known: "),
    ({"loss": {"dense": "msee"}, "optimizer": "adam"}, r"unknown loss 'msee'; known: "),
    ({"loss": "mse", "optimizer": "adamm"}, r"unknown optimizer 'adamm'; known: adagrad, adam, rmsprop, sgd"),
    ({"loss": "mse", "optimizer": "adam", "metrics": ["acuracy"]}, r"unknown metric 'acuracy'; known names: accuracy"),
    ({"loss": "mse", "optimizer": "adam", "metrics": {"dense": ["maee"]}}, r"unknown metric 'maee'; known names: "),
    ({"loss": "mse", "optimizer": "adam", "weighted_metrics": ["acuracy"]}, r"unknown metric 'acuracy'; known "),
])
def test_compile_refuses_an_unknown_name_before_any_fit(compile_arguments, message):
    net = model()
    with pytest.raises(ValueError, match=message):
        net.compile(**compile_arguments)


def test_after_a_refused_compile_a_good_one_trains():
    net = model()
    with pytest.raises(ValueError, match="unknown optimizer"):
        net.compile(loss="mse", optimizer="adamm")
    net.compile(loss="mse", optimizer="adam", metrics=["mae"])
    history = net.fit(np.ones((4, 2), np.float32), np.zeros(4, np.float32), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
