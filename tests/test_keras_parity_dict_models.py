"""The Keras functional API guide's multi-input multi-output model, with dict inputs and dict outputs,
against real Keras 3 (torch backend) from the same weights: predict's dict, and the losses and metrics of
a few fit steps with losses, loss_weights and metrics given as dicts and as lists (float64 on both sides).
Skipped without Keras and torch, except under `make parity` (TINYGRAD_EMBED_PARITY=required)."""
import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
torch = require("torch")

import tinygrad_embed  # noqa: E402

RNG = np.random.default_rng(7)
X = {"title": RNG.integers(0, 30, (12, 5)), "body": RNG.integers(0, 30, (12, 7)),
     "tags": RNG.integers(0, 2, (12, 4)).astype("float64")}
Y = {"priority": RNG.random((12, 1)), "department": np.eye(3)[RNG.integers(0, 3, 12)]}
CLOSE = {"rtol": 2.0 ** -20, "atol": 2.0 ** -20}  # Keras's torch matmul rounds to float32 (test_keras_parity_training)


@pytest.fixture(autouse=True)
def keras_in_float64():
    before = keras.config.floatx()
    keras.config.set_floatx("float64")
    yield
    keras.config.set_floatx(before)


def guide_model(api):
    """The guide's ticket model (its LSTMs as average pooling, which the recurrent parity tests cover)."""
    layers, f64 = api.layers, {"dtype": "float64"}
    title, body = api.Input((None,), name="title", dtype="int64"), api.Input((None,), name="body", dtype="int64")
    tags = api.Input((4,), name="tags", dtype="float64")
    title_features = layers.GlobalAveragePooling1D(**f64)(layers.Embedding(30, 6, **f64)(title))
    body_features = layers.GlobalAveragePooling1D(**f64)(layers.Embedding(30, 3, **f64)(body))
    x = layers.concatenate([title_features, body_features, tags])
    priority = layers.Dense(1, name="priority", **f64)(x)
    department = layers.Dense(3, name="department", **f64)(x)
    return api.Model(inputs={"title": title, "body": body, "tags": tags},
                     outputs={"priority": priority, "department": department})


def pair():
    theirs, ours = guide_model(keras), guide_model(tinygrad_embed)
    ours.set_weights(theirs.get_weights())
    return theirs, ours


def test_predict_gives_the_same_dict():
    theirs, ours = pair()
    expected, got = theirs.predict(X, verbose=0), ours.predict(X, verbose=0)
    assert sorted(got) == sorted(expected) == ["department", "priority"]
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], **CLOSE, err_msg=key)


COMPILES = {
    "dicts": lambda api: dict(
        loss={"priority": api.losses.BinaryCrossentropy(from_logits=True),
              "department": api.losses.CategoricalCrossentropy(from_logits=True)},
        loss_weights={"priority": 1.0, "department": 0.2},
        metrics={"priority": ["mae"], "department": ["accuracy"]}),
    "lists": lambda api: dict(  # in the outputs' order: sorted keys, department first
        loss=[api.losses.CategoricalCrossentropy(from_logits=True), "mse"], loss_weights=[0.5, 1.0],
        metrics=[["accuracy"], ["mae"]]),
}


@pytest.mark.parametrize("form", sorted(COMPILES))
def test_fit_steps_give_the_same_losses_and_weights(form):
    theirs, ours = pair()
    for model, api in ((theirs, keras), (ours, tinygrad_embed)):
        model.compile(optimizer=api.optimizers.SGD(0.3), **COMPILES[form](api))
    expected = theirs.fit(X, Y, epochs=3, batch_size=4, shuffle=False, verbose=0).history
    got = ours.fit(X, Y, epochs=3, batch_size=4, shuffle=False, verbose=0).history
    assert sorted(got) == sorted(expected)
    for key, values in expected.items():
        np.testing.assert_allclose(got[key], values, **CLOSE, err_msg=key)
    for a, b in zip(theirs.get_weights(), ours.get_weights(), strict=True):
        np.testing.assert_allclose(b, a, **CLOSE)


def test_keras_refuses_a_list_of_batches_as_we_do():
    """Why fit on a list of (x, y) batches is an error here (tests/test_fit_batch_list.py): Keras's too."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    batches = [(np.ones((2, 3)), np.ones((2, 1))), (np.ones((2, 3)), np.zeros((2, 1)))]
    with pytest.raises(ValueError):
        model.fit(batches, verbose=0)
