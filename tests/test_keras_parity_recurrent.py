"""GRU (both variants), SimpleRNN and LSTM against real Keras 3 (torch backend), in float64 from the same
weights, with pre-, post- and middle-padding masks, go_backwards, return_state and stacking. Needs the
`parity` extra; skipped without it, except under `make parity` (see test_keras_parity.py)."""
import itertools

import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
require("torch")

import tinygrad_embed as tg  # noqa: E402


# Keras's torch backend computes matmul of float64 operands in float32 (test below), and its RNN loop
# (the path taken with a mask, and by SimpleRNN) uses that matmul: its float64 results carry float32
# rounding (1e-7 and more after a few steps). Ours match exact float64 arithmetic (tests/test_gru.py checks 1e-10 against
# the composed reference); against Keras, agreement is to float32's precision.
KERAS_FLOAT64 = dict(rtol=1e-5, atol=1e-6)  # what the float32 parity tests allow


def test_kerass_torch_backend_multiplies_float64_matrices_in_float32():
    a, b = np.random.default_rng(0).standard_normal((2, 4, 4))
    product = keras.ops.matmul(keras.ops.convert_to_tensor(a), keras.ops.convert_to_tensor(b))
    assert keras.backend.standardize_dtype(product.dtype) == "float32"  # if this fails, tighten KERAS_FLOAT64


def inputs_and_mask(seed=0, batch=4, steps=7, features=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, steps, features))
    mask = np.ones((batch, steps), bool)
    mask[0, :3], mask[1, 5:], mask[2, 2:4] = False, False, False  # pre, post and middle padding
    return x, mask


def keras_outputs(layer, x, mask):
    outputs = layer(x, mask=mask)
    return [keras.ops.convert_to_numpy(o) for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


def ours_from_keras(theirs, ours, x, mask):
    expected = keras_outputs(theirs, x, mask)
    ours(x)
    ours.set_weights(theirs.get_weights())
    got = ours(x, mask=mask)
    return [o.data for o in (got if isinstance(got, list) else [got])], expected


CASES = list(itertools.product(("GRU", "GRU_reset_before", "SimpleRNN", "LSTM"), (False, True), (False, True),
                               (False, True)))


@pytest.mark.parametrize("kind, return_sequences, go_backwards, return_state", CASES)
def test_recurrent_layers_give_keras_outputs_from_keras_weights(kind, return_sequences, go_backwards, return_state):
    name = kind.split("_")[0]
    arguments = dict(units=5, return_sequences=return_sequences, go_backwards=go_backwards, return_state=return_state,
                     bias_initializer="random_uniform", dtype="float64")
    if kind == "GRU_reset_before":
        arguments["reset_after"] = False
    x, mask = inputs_and_mask()
    got, expected = ours_from_keras(getattr(keras.layers, name)(**arguments), getattr(tg.layers, name)(**arguments),
                                    x, mask)
    assert len(got) == len(expected)
    for mine, theirs in zip(got, expected):
        np.testing.assert_allclose(mine, theirs, **KERAS_FLOAT64)


@pytest.mark.parametrize("fused", [True, False])
def test_gru_weights_and_gradients_match_kerass(fused):
    """The loss gradient through Keras's GRU (torch autograd) equals ours, for every weight and the input."""
    import torch
    x, mask = inputs_and_mask(1)
    theirs = keras.layers.GRU(4, return_sequences=True, bias_initializer="random_uniform", dtype="float64")
    ours = tg.layers.GRU(4, return_sequences=True, fused=fused, dtype="float64")
    x_torch = torch.tensor(x, requires_grad=True)
    upstream = np.random.default_rng(2).standard_normal((4, 7, 4))
    (keras.ops.sum(theirs(x_torch, mask=torch.tensor(mask)) * torch.tensor(upstream))).backward()
    ours(x)
    ours.set_weights(theirs.get_weights())
    x_ours = tg.Tensor(x, requires_grad=True)
    ours(x_ours, mask=mask).backward(upstream)
    np.testing.assert_allclose(x_ours.grad, x_torch.grad.numpy(), **KERAS_FLOAT64)
    for mine, variable in zip(ours.trainable_weights, theirs.trainable_weights):
        np.testing.assert_allclose(mine.grad, variable.value.grad.numpy(), **KERAS_FLOAT64)


def test_stacked_recurrent_layers_pass_the_mask_on_as_keras():
    def stacked(api):
        ids = api.Input(shape=(7,), dtype="int32")
        x = api.layers.Embedding(12, 3, mask_zero=True)(ids)
        x = api.layers.LSTM(4, return_sequences=True)(x)
        x = api.layers.GRU(3, return_sequences=True)(x)
        return api.Model(ids, api.layers.SimpleRNN(2)(x))
    theirs, ours = stacked(keras), stacked(tg)
    ours.set_weights(theirs.get_weights())
    ids = np.random.default_rng(3).integers(1, 12, (4, 7))
    ids[0, :3], ids[1, 5:], ids[2, 2:4] = 0, 0, 0
    np.testing.assert_allclose(ours.predict(ids), theirs.predict(ids, verbose=0), rtol=1e-5, atol=1e-6)
