"""Each optimizer here against real Keras's (needs the `parity` extra: keras and torch, Keras running on
its torch backend): from the same weights, fed the same gradients, the weights agree after every step.
Skipped without them, except under `make parity` (and so in CI), which sets
TINYGRAD_EMBED_PARITY=required: there a missing Keras is an error, not a skip."""
import inspect

import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
require("torch")

import tinygrad_embed  # noqa: E402
from tinygrad_embed import optimizers  # noqa: E402

STEPS = 6
RNG = np.random.default_rng(12)
# A matrix and a bias, as in a Dense layer: two variables, so per-variable clipping differs from global.
START = [RNG.standard_normal((3, 4)).astype("float32"), RNG.standard_normal(4).astype("float32")]
# Scales vary by step so that clipnorm=1 and clipvalue=0.5 clip some steps and not others.
GRADS = [[(RNG.standard_normal(w.shape) * scale).astype("float32") for w in START]
         for scale in [0.1, 2.0, 0.01, 1.0, 5.0, 0.3]]

VARIANTS = {
    "sgd": ("SGD", {"learning_rate": 0.05}),
    "sgd-momentum": ("SGD", {"learning_rate": 0.05, "momentum": 0.9}),
    "sgd-nesterov": ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    "sgd-clipnorm": ("SGD", {"learning_rate": 0.05, "momentum": 0.5, "clipnorm": 1.0}),
    "sgd-clipvalue": ("SGD", {"learning_rate": 0.05, "clipvalue": 0.5}),
    "rmsprop": ("RMSprop", {"learning_rate": 0.01}),
    "rmsprop-rho": ("RMSprop", {"learning_rate": 0.01, "rho": 0.5, "epsilon": 1e-4}),
    "rmsprop-momentum": ("RMSprop", {"learning_rate": 0.01, "momentum": 0.9}),
    "rmsprop-centered": ("RMSprop", {"learning_rate": 0.01, "centered": True}),
    "rmsprop-centered-momentum": ("RMSprop", {"learning_rate": 0.01, "momentum": 0.9, "centered": True}),
    "rmsprop-clipnorm": ("RMSprop", {"learning_rate": 0.01, "clipnorm": 1.0}),
    "rmsprop-clipvalue": ("RMSprop", {"learning_rate": 0.01, "clipvalue": 0.5}),
    "adagrad": ("Adagrad", {"learning_rate": 0.1}),
    "adagrad-initial": ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 1.0, "epsilon": 1e-4}),
    "adagrad-clipvalue": ("Adagrad", {"learning_rate": 0.1, "clipvalue": 0.5}),
    "adam": ("Adam", {"learning_rate": 0.01}),
    "adam-amsgrad": ("Adam", {"learning_rate": 0.01, "amsgrad": True}),
    "adam-clipnorm": ("Adam", {"learning_rate": 0.01, "clipnorm": 1.0}),
}


@pytest.mark.parametrize("name, kwargs", VARIANTS.values(), ids=VARIANTS.keys())
def test_trajectory_matches_keras_step_by_step(name, kwargs):
    theirs_opt, ours_opt = getattr(keras.optimizers, name)(**kwargs), getattr(optimizers, name)(**kwargs)
    theirs = [keras.Variable(w.copy()) for w in START]
    ours = [tinygrad_embed.Tensor(w.copy(), requires_grad=True) for w in START]
    for step, grads in enumerate(GRADS):
        theirs_opt.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in grads], theirs))
        ours_opt.apply_gradients(zip(grads, ours))
        for t, o in zip(theirs, ours):
            np.testing.assert_allclose(o.data, keras.ops.convert_to_numpy(t), atol=1e-6, err_msg=f"step {step}")
    assert [o.data.dtype for o in ours] == ["float32", "float32"]


@pytest.mark.parametrize("name", ["SGD", "RMSprop", "Adagrad", "Adam"])
def test_defaults_and_config_names_are_keras_s(name):
    theirs, ours = getattr(keras.optimizers, name)().get_config(), getattr(optimizers, name)().get_config()
    assert set(ours) <= set(theirs)
    # Keras stores the learning rate as a float32 variable, so it reads back rounded to float32
    assert ours.pop("learning_rate") == pytest.approx(theirs["learning_rate"], rel=1e-7)
    assert ours == {key: theirs[key] for key in ours}


def test_compile_s_default_optimizer_is_keras_s():
    def default(compile_method):
        return inspect.signature(compile_method).parameters["optimizer"].default
    assert default(tinygrad_embed.Model.compile) == default(keras.Model.compile) == "rmsprop"
