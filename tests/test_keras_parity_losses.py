"""Losses and metrics give Keras's numbers (needs the `parity` extra: keras and torch, Keras running on
its torch backend): each loss's value and gradient with respect to y_pred, and what evaluate and fit
log for the same weights and data. Skipped without them, except under `make parity`, which sets
TINYGRAD_EMBED_PARITY=required: there a missing Keras is an error, not a skip."""

import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
torch = require("torch")

import tinygrad_embed  # noqa: E402
from tinygrad_embed import losses  # noqa: E402

RNG = np.random.default_rng(0)


def probabilities(shape, rng=RNG):
    p = rng.uniform(0.01, 1, shape).astype("float32")
    p.flat[:3] = [0.0, 1.0, 0.0]  # outside [1e-7, 1 - 1e-7]: clipped, with a zero gradient
    return p


def labels(classes, shape, rng=RNG):
    return rng.integers(0, classes, shape)


def soft(shape, rng=RNG):
    y = rng.uniform(0, 1, shape).astype("float32")
    y.flat[:2] = [0.0, 1.0]
    return y


def logits(shape, rng=RNG):
    x = rng.normal(0, 3, shape).astype("float32")
    x.flat[:2] = [60.0, -60.0]  # far into the tails, where a naive sigmoid or softmax is not finite in log
    return x


# (name, keyword arguments, y_true, y_pred)
CASES = [
    ("binary_crossentropy", {}, soft((5, 3)), probabilities((5, 3))),
    ("binary_crossentropy", {}, labels(2, (5,)), probabilities((5, 1))),
    ("binary_crossentropy", {"from_logits": True}, soft((5, 3)), logits((5, 3))),
    ("categorical_crossentropy", {}, np.eye(4, dtype="float32")[labels(4, 5)], probabilities((5, 4))),
    ("categorical_crossentropy", {}, soft((5, 4)), 3 * probabilities((5, 4))),  # normalised first
    ("categorical_crossentropy", {"from_logits": True}, soft((5, 4)), logits((5, 4))),
    ("sparse_categorical_crossentropy", {}, labels(4, (5,)), probabilities((5, 4))),
    ("sparse_categorical_crossentropy", {}, labels(4, (5, 1)), 3 * probabilities((5, 4))),
    ("sparse_categorical_crossentropy", {"from_logits": True}, labels(4, (5,)), logits((5, 4))),
    ("sparse_categorical_crossentropy", {"from_logits": True}, labels(4, (2, 5)), logits((2, 5, 4))),
    ("mean_squared_error", {}, soft((5, 3)), logits((5, 3))),
    ("mean_squared_error", {}, soft((5,)), logits((5, 1))),
    ("mean_absolute_error", {}, soft((5, 3)), logits((5, 3))),
]
CASES.append(("mean_absolute_error", {}, CASES[-1][2], np.where(RNG.random((5, 3)) < 0.5, CASES[-1][2], 0.5)))  # kinks


KERAS_CLASSES = {"binary_crossentropy": "BinaryCrossentropy", "categorical_crossentropy": "CategoricalCrossentropy",
                 "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
                 "mean_squared_error": "MeanSquaredError", "mean_absolute_error": "MeanAbsoluteError"}


@pytest.mark.parametrize("name, kwargs, y_true, y_pred", CASES)
def test_each_loss_and_its_gradient_match_keras(name, kwargs, y_true, y_pred):
    """Keras's loss class without reduction: its function after the shape alignment that compile uses."""
    upstream = RNG.standard_normal(y_pred.shape[:-1]).astype("float32")  # not ones: a transposed gradient shows
    theirs_pred = torch.tensor(y_pred, requires_grad=True)
    theirs = getattr(keras.losses, KERAS_CLASSES[name])(reduction=None, **kwargs)(y_true, theirs_pred)
    (theirs * torch.tensor(upstream)).sum().backward()
    ours_pred = tinygrad_embed.Tensor(y_pred, requires_grad=True)
    ours = getattr(losses, name)(y_true, ours_pred, **kwargs)
    (ours * upstream).sum().backward()
    # float32 on both sides, the same formulas in a different order: relative 1e-6 (8 units in the last
    # place), and 2e-7 absolute (2 units at 1) for the gradient's entries near 0
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours_pred.grad, theirs_pred.grad.numpy(), rtol=1e-6, atol=2e-7)


def dense_pair(units, activation, weights_seed):
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, activation=activation)])
    ours = tinygrad_embed.Sequential([tinygrad_embed.Input(shape=(4,)),
                                      tinygrad_embed.layers.Dense(units, activation=activation)])
    rng = np.random.default_rng(weights_seed)
    theirs.set_weights([rng.normal(0, 1, (4, units)).astype("float32"), rng.normal(0, 0.5, units).astype("float32")])
    ours.set_weights(theirs.get_weights())
    return theirs, ours


X = RNG.normal(0, 1, (50, 4)).astype("float32")  # 50 samples in batches of 16: the last batch is short
SETUPS = [  # (units, activation, loss, metrics, y)
    (1, "sigmoid", "binary_crossentropy", ["accuracy", "mse", "mae"], labels(2, (50,))),
    # Keras's binary_crossentropy metric (unlike its loss) refuses labels (batch,) against (batch, 1)
    (1, "sigmoid", "bce", ["acc", "binary_accuracy", "MSE", "binary_crossentropy"],
     labels(2, (50, 1)).astype("float32")),
    (3, "softmax", "categorical_crossentropy", ["acc", "categorical_crossentropy", "mse"], np.eye(3)[labels(3, 50)]),
    (3, "softmax", "sparse_categorical_crossentropy", ["accuracy", "sparse_categorical_crossentropy"],
     labels(3, (50,))),
    (3, "softmax", "sparse_categorical_crossentropy", ["ACC", "sparse_categorical_accuracy"], labels(3, (50, 1))),
    (2, None, "mae", ["mse", "MAE", "mean_absolute_error"], RNG.normal(0, 1, (50, 2)).astype("float32")),
]


@pytest.mark.parametrize("units, activation, loss, names, y", SETUPS)
def test_evaluate_logs_what_keras_logs(units, activation, loss, names, y):
    theirs, ours = dense_pair(units, activation, weights_seed=units)
    theirs.compile(optimizer="sgd", loss=loss, metrics=names)
    ours.compile(optimizer="sgd", loss=loss, metrics=names)
    expected = theirs.evaluate(X, y, batch_size=16, verbose=0, return_dict=True)
    got = ours.evaluate(X, y, batch_size=16, verbose=0, return_dict=True)
    assert list(got) == ["loss", *names] and set(got) == set(expected)
    for key in got:  # a mean over 50 float32 values: a few units in the last place
        assert got[key] == pytest.approx(expected[key], rel=1e-6), key


@pytest.mark.parametrize("units, activation, loss, names, y", [SETUPS[0], SETUPS[3]])
def test_two_epochs_of_fit_log_what_keras_logs(units, activation, loss, names, y):
    theirs, ours = dense_pair(units, activation, weights_seed=7)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss, metrics=names)
    ours.compile(optimizer=tinygrad_embed.optimizers.SGD(0.1), loss=loss, metrics=names)
    expected = theirs.fit(X, y, batch_size=16, epochs=2, shuffle=False, verbose=0, validation_data=(X, y)).history
    got = ours.fit(X, y, batch_size=16, epochs=2, shuffle=False, verbose=0, validation_data=(X, y)).history
    assert set(got) == set(expected)
    for key in got:  # metrics of each batch before its update, averaged over the epoch as Keras does
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-6, err_msg=key)
