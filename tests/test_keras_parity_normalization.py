"""BatchNormalization and LayerNormalization against real Keras 3 (torch backend), from the same weights
and inputs: outputs in training and inference, masks, the moving statistics over several batches,
gradients, the weights' order, a few training steps of a model, and Keras's weights file.
Skipped without Keras and torch, except under `make parity` (TINYGRAD_EMBED_PARITY=required)."""
import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
torch = require("torch")

import tinygrad_embed as tg  # noqa: E402

# Keras 3.15 normalizes in backend.result_type(dtype, "float32"), which is float32 even for float64 layers
# (test_keras_normalizes_float64_in_float32 pins it): agreement is to float32's precision.
KERAS_FLOAT32 = dict(rtol=1e-5, atol=1e-6)
RNG = np.random.default_rng(0)
X = RNG.standard_normal((6, 5, 3)) * 2.0 + 0.5
MASK = RNG.random((6, 5)) > 0.35


def pair(kind, shape=X.shape, **options):
    """Keras's layer and ours, float64, built for `shape`, holding the same random weights."""
    theirs, ours = (getattr(api.layers, kind)(dtype="float64", **options) for api in (keras, tg))
    theirs.build(shape)
    ours(np.zeros(shape))
    rng = np.random.default_rng(1)
    weights = [rng.uniform(0.5, 2.0, w.shape) if "variance" in w.path else rng.standard_normal(w.shape)
               for w in theirs.weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return theirs, ours


def keras_run(layer, x, **kwargs):
    return keras.ops.convert_to_numpy(layer(torch.tensor(x), **kwargs))


def test_keras_normalizes_float64_in_float32():
    theirs, _ = pair("LayerNormalization")
    gamma, beta = theirs.get_weights()
    exact = gamma * (X - X.mean(-1, keepdims=True)) / np.sqrt(X.var(-1, keepdims=True) + 1e-3) + beta
    error = np.abs(keras_run(theirs, X) - exact).max()
    assert 1e-10 < error < 1e-5  # float32's rounding, not float64's


@pytest.mark.parametrize("options", [{}, {"axis": 1}, {"center": False}, {"scale": False, "momentum": 0.5},
                                     {"epsilon": 0.1, "momentum": 0.0}])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gives_keras_outputs_and_moving_statistics(options, training):
    theirs, ours = pair("BatchNormalization", **options)
    for batch in (X, X[:2] * 3.0 - 1.0, X[3:] + 2.0):  # several batches of different sizes and statistics
        np.testing.assert_allclose(ours(batch, training=training).data, keras_run(theirs, batch, training=training),
                                   **KERAS_FLOAT32)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, **KERAS_FLOAT32)


@pytest.mark.parametrize("training", [True, False])
def test_masked_batch_norm_gives_keras_outputs_statistics_and_mask(training):
    theirs, ours = pair("BatchNormalization", momentum=0.6)
    for batch, mask in ((X, MASK), (X[:3] - 1.0, MASK[3:]), (X, np.zeros_like(MASK))):  # the last: all masked
        mine = ours(batch, training=training, mask=mask)
        keras_x = torch.tensor(batch)
        keras_x._keras_mask = torch.tensor(mask)
        keras_out = theirs(keras_x, training=training)
        np.testing.assert_allclose(mine.data, keras.ops.convert_to_numpy(keras_out), **KERAS_FLOAT32)
        np.testing.assert_array_equal(mine._keras_mask, keras.ops.convert_to_numpy(keras_out._keras_mask))
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, **KERAS_FLOAT32)


def test_a_frozen_batch_norm_uses_its_moving_statistics_in_both():
    theirs, ours = pair("BatchNormalization")
    theirs.trainable = ours.trainable = False
    np.testing.assert_allclose(ours(X, training=True).data, keras_run(theirs, X, training=True), **KERAS_FLOAT32)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("options", [{}, {"axis": [1, 2]}, {"axis": [-2, -1]}, {"center": False},
                                     {"scale": False, "epsilon": 0.5}])
def test_layer_norm_gives_keras_outputs(options):
    theirs, ours = pair("LayerNormalization", **options)
    np.testing.assert_allclose(ours(X).data, keras_run(theirs, X), **KERAS_FLOAT32)


def gradients(layer, x, upstream, mask=None, **kwargs):
    """d(sum(layer(x) * upstream)) / d(x, then each trainable weight), Keras's through torch's autograd."""
    if isinstance(layer, tg.layers.Layer):
        x = tg.Tensor(x, requires_grad=True)
        layer(x, **kwargs, **({} if mask is None else {"mask": mask})).backward(upstream)
        return [x.grad] + [w.grad for w in layer.trainable_weights]
    x = torch.tensor(x, requires_grad=True)
    if mask is not None:
        x._keras_mask = torch.tensor(mask)
    weights = [w.value for w in layer.trainable_weights]
    (layer(x, **kwargs) * torch.tensor(upstream)).sum().backward()
    return [x.grad.numpy()] + [w.grad.numpy() for w in weights]


@pytest.mark.parametrize("kind, options, kwargs", [
    ("BatchNormalization", {}, {"training": True}), ("BatchNormalization", {"mask": MASK}, {"training": True}),
    ("BatchNormalization", {"axis": 1}, {"training": True}), ("BatchNormalization", {}, {"training": False}),
    ("LayerNormalization", {}, {}), ("LayerNormalization", {"axis": [1, 2]}, {})])
def test_gradients_match_keras(kind, options, kwargs):
    mask = options.pop("mask", None)
    theirs, ours = pair(kind, **options)
    upstream = np.random.default_rng(2).standard_normal(X.shape)
    mine, keras_gradients = (gradients(layer, X, upstream, mask, **kwargs) for layer in (ours, theirs))
    assert len(mine) == len(keras_gradients) == 3  # the input, gamma and beta
    for a, b in zip(mine, keras_gradients):
        np.testing.assert_allclose(a, b, **KERAS_FLOAT32)


@pytest.mark.parametrize("kind", ["BatchNormalization", "LayerNormalization"])
def test_weights_are_in_keras_order_with_the_moving_statistics_non_trainable(kind):
    theirs, ours = pair(kind)
    assert ours._weight_names == [w.name for w in theirs.weights]
    assert len(ours.trainable_weights) == len(theirs.trainable_weights)
    assert len(ours.non_trainable_weights) == len(theirs.non_trainable_weights)


def models(optimizer="SGD"):
    """The same Dense -> BatchNormalization -> Dense regression model in Keras and here, same weights."""
    made = []
    for api in (keras, tg):
        model = api.Sequential([api.Input((4,)), api.layers.Dense(3, dtype="float64"),
                                api.layers.BatchNormalization(momentum=0.8, dtype="float64"),
                                api.layers.Dense(1, dtype="float64")])
        model.compile(optimizer=getattr(api.optimizers, optimizer)(0.1), loss="mse")
        made.append(model)
    made[1].set_weights(made[0].get_weights())
    return made


def test_training_steps_give_keras_weights_and_moving_statistics():
    theirs, ours = models()
    rng = np.random.default_rng(3)
    for batch in (8, 5, 8):
        x, y = rng.standard_normal((batch, 4)), rng.standard_normal((batch, 1))
        theirs.train_on_batch(x, y)
        ours.train_on_batch(x, y)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, **KERAS_FLOAT32)
    x = rng.standard_normal((7, 4))
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), **KERAS_FLOAT32)


def test_keras_opens_our_weights_file_with_the_moving_statistics(tmp_path):
    theirs, ours = models()
    ours.train_on_batch(np.random.default_rng(4).standard_normal((8, 4)), np.ones((8, 1)))
    ours.save_weights(tmp_path / "ours.weights.h5")
    theirs.load_weights(tmp_path / "ours.weights.h5")
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_summary_totals_are_keras_totals(optimizer):
    theirs, ours = models(optimizer)
    for model in (theirs, ours):
        model.train_on_batch(np.ones((4, 4)), np.ones((4, 1)))  # builds the optimizer
    totals = []
    for model in (theirs, ours):
        printed = []
        model.summary(print_fn=printed.append)
        totals.append([line.strip() for line in "".join(printed).splitlines() if "params:" in line])
    assert totals[1] == totals[0] and len(totals[0]) == 4  # total, trainable, non-trainable, optimizer
