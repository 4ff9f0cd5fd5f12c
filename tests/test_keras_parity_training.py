"""The training loop against real Keras 3 (torch backend), in float64 from the same weights: fit with
class_weight and with sample_weight ends at the same weights with the same history; a model with two
inputs and two outputs predicts the same, takes the same train_on_batch step, and logs the same keys in
the same order (float64 on both sides, yet Keras rounds some steps to float32: see CLOSE); and masked
time steps count in neither the loss nor the metrics.
Skipped without Keras and torch, except under `make parity` (TINYGRAD_EMBED_PARITY=required)."""
import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
torch = require("torch")

import tinygrad_embed  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.normal(size=(13, 4))
LABELS = RNG.integers(0, 3, 13)


@pytest.fixture(autouse=True)
def keras_in_float64():
    """Keras computes losses and metrics in floatx: float64 here, as our float64 layers do."""
    before = keras.config.floatx()
    keras.config.set_floatx("float64")
    yield
    keras.config.set_floatx(before)


# Not bit for bit: this Keras's torch matmul computes in float32 even for float64 inputs (its
# dtypes.result_type promotes float64 with float64 to float32) and its loss reductions divide in float32, so
# each step carries float32 roundings (2^-24 relative) of values near 1, and a few steps leave differences
# of about 2^-24 to 2^-22. A weighting rule that differed from Keras's (dividing by the sum of the weights,
# a class weight on the wrong class) moves the loss by percents, 10^4 times more than this bound.
CLOSE = {"rtol": 2.0 ** -20, "atol": 2.0 ** -20}


def assert_same_weights(theirs, ours):
    for expected, got in zip(theirs.get_weights(), ours.get_weights(), strict=True):
        np.testing.assert_allclose(got, expected, **CLOSE)


def assert_same_history(theirs, ours):
    assert list(ours.history) == list(theirs.history)
    for key, values in theirs.history.items():
        np.testing.assert_allclose(ours.history[key], values, **CLOSE, err_msg=key)


def classifiers(loss):
    """The same softmax classifier in Keras and here, SGD, accuracy weighted and not."""
    models = []
    for api in (keras, tinygrad_embed):
        model = api.models.Sequential([api.layers.Input((4,), dtype="float64"),
                                       api.layers.Dense(3, activation="softmax", dtype="float64")])
        model.compile(optimizer=api.optimizers.SGD(0.5), loss=loss, metrics=["accuracy"],
                      weighted_metrics=["accuracy"])
        models.append(model)
    models[1].set_weights(models[0].get_weights())
    return models


@pytest.mark.parametrize("y, loss", [(LABELS, "sparse_categorical_crossentropy"),
                                     (np.eye(3)[LABELS], "categorical_crossentropy")], ids=["sparse", "one_hot"])
@pytest.mark.parametrize("weights", [{"class_weight": {0: 1.0, 1: 3.0, 2: 0.5}},
                                     {"sample_weight": RNG.random(13) * 2}], ids=["class_weight", "sample_weight"])
def test_a_few_weighted_fit_steps_end_at_kerass_weights(y, loss, weights):
    theirs, ours = classifiers(loss)
    expected = theirs.fit(X, y, batch_size=5, epochs=3, shuffle=False, verbose=0, **weights)
    got = ours.fit(X, y, batch_size=5, epochs=3, shuffle=False, verbose=0, **weights)
    assert_same_weights(theirs, ours)
    assert_same_history(expected, got)


def test_weighted_evaluate_with_validation_weights_logs_what_keras_logs():
    theirs, ours = classifiers("sparse_categorical_crossentropy")
    weights = RNG.random(13) * 2
    validation = (X[:6], LABELS[:6], weights[:6])
    expected = theirs.fit(X, LABELS, sample_weight=weights, batch_size=4, epochs=2, shuffle=False, verbose=0,
                          validation_data=validation)
    got = ours.fit(X, LABELS, sample_weight=weights, batch_size=4, epochs=2, shuffle=False, verbose=0,
                   validation_data=validation)
    assert_same_history(expected, got)
    # as dicts: Keras's list repeats accuracy when a weighted metric shares its name (ours does not)
    expected = theirs.evaluate(X, LABELS, sample_weight=weights, batch_size=6, verbose=0, return_dict=True)
    got = ours.evaluate(X, LABELS, sample_weight=weights, batch_size=6, verbose=0, return_dict=True)
    assert list(got) == list(expected)
    np.testing.assert_allclose(list(got.values()), list(expected.values()), **CLOSE)


def two_by_two(api):
    """Inputs a and b; output "yes" (a probability) reads a, output "amount" (two numbers) reads b."""
    a, b = (api.layers.Input(shape=(n,), name=name, dtype="float64") for n, name in ((3, "a"), (2, "b")))
    hidden = api.layers.Dense(4, activation="tanh", name="hidden", dtype="float64")(a)
    side = api.layers.Dense(4, activation="tanh", name="side", dtype="float64")(b)
    yes = api.layers.Dense(1, activation="sigmoid", name="yes", dtype="float64")(hidden)
    model = api.Model([a, b], [yes, api.layers.Dense(2, name="amount", dtype="float64")(side)])
    model.compile(optimizer=api.optimizers.SGD(0.1), loss={"yes": "binary_crossentropy", "amount": "mse"},
                  loss_weights={"yes": 0.5, "amount": 2.0}, metrics={"yes": ["accuracy"], "amount": ["mae"]})
    return model


XA, XB = RNG.normal(size=(10, 3)), RNG.normal(size=(10, 2))
YES, AMOUNT = (RNG.random((10, 1)) > 0.5).astype(np.float64), RNG.normal(size=(10, 2))


def two_by_two_pair():
    theirs, ours = two_by_two(keras), two_by_two(tinygrad_embed)
    ours.set_weights(theirs.get_weights())
    return theirs, ours


def test_two_inputs_two_outputs_predict_and_one_train_on_batch_step_as_keras():
    theirs, ours = two_by_two_pair()
    for expected, got in zip(theirs.predict([XA, XB], verbose=0), ours.predict([XA, XB]), strict=True):
        np.testing.assert_allclose(got, expected, **CLOSE)
    expected = theirs.train_on_batch([XA, XB], [YES, AMOUNT], return_dict=True)
    got = ours.train_on_batch([XA, XB], [YES, AMOUNT], return_dict=True)
    assert list(got) == list(expected)
    np.testing.assert_allclose(list(got.values()), list(expected.values()), **CLOSE)
    assert_same_weights(theirs, ours)
    np.testing.assert_allclose(ours.test_on_batch([XA, XB], [YES, AMOUNT]),
                               theirs.test_on_batch([XA, XB], [YES, AMOUNT]), **CLOSE)  # Keras's list order


def test_two_outputs_fit_on_a_dict_x_logs_kerass_keys_and_values():
    theirs, ours = two_by_two_pair()
    x, y = {"a": XA, "b": XB}, [YES, AMOUNT]  # Keras fails on a dict y with one sample_weight array
    weights = RNG.random(10)
    expected = theirs.fit(x, y, sample_weight=weights, batch_size=4, epochs=2, shuffle=False, verbose=0,
                          validation_data=([XA, XB], [YES, AMOUNT]))
    got = ours.fit(x, y, sample_weight=weights, batch_size=4, epochs=2, shuffle=False, verbose=0,
                   validation_data=([XA, XB], [YES, AMOUNT]))
    assert_same_history(expected, got)
    assert_same_weights(theirs, ours)


def test_metrics_and_loss_skip_masked_steps_as_kerass_do():
    rng = np.random.default_rng(3)
    ids, labels = rng.integers(1, 10, (6, 5)), rng.integers(0, 3, (6, 5))
    ids[:3, 3:] = 0  # padding: the last two steps of three sequences are masked
    models = []
    for api in (keras, tinygrad_embed):
        model = api.models.Sequential([
            api.layers.Input((5,), dtype="int32"), api.layers.Embedding(10, 4, mask_zero=True),
            api.layers.LSTM(4, return_sequences=True), api.layers.Dense(3, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        models.append(model)
    theirs, ours = models
    ours.set_weights(theirs.get_weights())
    expected = theirs.evaluate(ids, labels, verbose=0, return_dict=True)
    got = ours.evaluate(ids, labels, verbose=0, return_dict=True)
    assert list(got) == list(expected)
    # float32 models: a mean of 24 float32 values, a few units in the last place
    np.testing.assert_allclose(list(got.values()), list(expected.values()), rtol=1e-6)
