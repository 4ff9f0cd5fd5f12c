"""Losses and metrics give Keras's numbers (needs the `parity` extra: keras and torch, Keras running on
its torch backend): each loss function's value and gradient with respect to y_pred; each Loss class,
in float64, with every option, sample weights, masks and reduction; what each identifier compiles to;
and what evaluate and fit log for the same weights and data. Skipped without them, except under `make parity`, which sets
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


def distributions(soft_targets):
    """Soft targets made distributions over the last axis, as categorical cross-entropy's must be here
    (docs/nothing-silent.md; Keras computes with any numbers)."""
    return soft_targets / soft_targets.sum(axis=-1, keepdims=True)


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
    ("categorical_crossentropy", {}, distributions(soft((5, 4))), 3 * probabilities((5, 4))),  # p normalised first
    ("categorical_crossentropy", {"from_logits": True}, distributions(soft((5, 4))), logits((5, 4))),
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


# ---- the Loss classes, in float64: every option, weighting and reduction ------------------------------
RNG64 = np.random.default_rng(1)


def probabilities64(shape):
    p = RNG64.uniform(0.01, 1, shape)
    p.flat[:3] = [0.0, 1.0, 0.0]
    return p


def logits64(shape):
    x = RNG64.normal(0, 3, shape)
    x.flat[:2] = [1e3, -1e3]  # log of a rounded sigmoid or softmax would be -inf here
    return x


def soft64(shape):
    return RNG64.uniform(0, 1, shape)


def one_hot64(classes, batch):
    return np.eye(classes)[RNG64.integers(0, classes, batch)]


def with_ignored(labels, ignored, count):
    labels = labels.copy()
    labels.flat[RNG64.choice(labels.size, count, replace=False)] = ignored
    return labels


# (class name, keyword arguments, y_true, y_pred)
CLASS_CASES = [
    ("BinaryCrossentropy", {}, soft64((6, 3)), probabilities64((6, 3))),
    ("BinaryCrossentropy", {"label_smoothing": 0.2}, labels(2, (6,), RNG64), probabilities64((6, 1))),
    ("BinaryCrossentropy", {"from_logits": True}, soft64((6, 3)), logits64((6, 3))),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, labels(2, (6, 1), RNG64), logits64((6, 1))),
    ("CategoricalCrossentropy", {}, one_hot64(4, 6), probabilities64((6, 4))),
    ("CategoricalCrossentropy", {"label_smoothing": 0.1}, distributions(soft64((6, 4))), 3 * probabilities64((6, 4))),
    ("CategoricalCrossentropy", {"from_logits": True}, distributions(soft64((6, 4))), logits64((6, 4))),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.3}, one_hot64(4, 6), logits64((6, 4))),
    ("SparseCategoricalCrossentropy", {}, labels(4, (6,), RNG64), probabilities64((6, 4))),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, labels(4, (6, 1), RNG64), logits64((6, 4))),
    ("SparseCategoricalCrossentropy", {"ignore_class": -1}, with_ignored(labels(4, (6,), RNG64), -1, 2),
     probabilities64((6, 4))),
    ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 0}, labels(4, (6, 1), RNG64),
     logits64((6, 4))),
    ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": -1},
     with_ignored(labels(5, (3, 4), RNG64), -1, 5), logits64((3, 4, 5))),  # sequences, padding ignored
    ("MeanSquaredError", {}, soft64((6, 3)), logits64((6, 3))),
    ("MeanSquaredError", {}, soft64((6,)), logits64((6, 1))),
    ("MeanAbsoluteError", {}, soft64((6, 3)), logits64((6, 3))),
    ("Huber", {}, soft64((6, 3)), RNG64.normal(0, 2, (6, 3))),
    ("Huber", {"delta": 0.5}, soft64((3, 4, 2)), RNG64.normal(0, 1, (3, 4, 2))),
]
MEAN_OVER_AXIS = {"BinaryCrossentropy", "MeanSquaredError", "MeanAbsoluteError", "Huber"}
REDUCTIONS = ["sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight"]


def sample_weights(values_shape, kind):
    """None, one weight per loss value, or that with a trailing axis of 1 (which Keras squeezes)."""
    if kind is None:
        return None
    weight = RNG64.uniform(0, 2, values_shape)
    weight.flat[0] = 0.0
    return weight if kind == "per value" else weight[..., None]


def check_against_keras(loss_class, kwargs, y_true, y_pred, reduction, weight, mask=None):
    theirs = getattr(keras.losses, loss_class)(reduction=reduction, dtype="float64", **kwargs)
    ours = getattr(losses, loss_class)(reduction=reduction, **kwargs)
    theirs_pred, ours_pred = torch.tensor(y_pred, requires_grad=True), tinygrad_embed.Tensor(y_pred, requires_grad=True)
    if mask is not None:
        theirs_pred._keras_mask, ours_pred._keras_mask = torch.tensor(mask), mask
    theirs_value = theirs(y_true, theirs_pred, sample_weight=weight)
    ours_value = ours(y_true, ours_pred, sample_weight=weight)
    upstream = RNG64.standard_normal(ours_value.shape)  # not ones: a transposed gradient shows
    (theirs_value * torch.tensor(upstream)).sum().backward()
    (ours_value * upstream).sum().backward()
    # float64 on both sides, the same formulas in a different order (and torch's fused cross-entropy
    # kernels): a few units in the last place of each of about 20 terms, far below any formula difference.
    # Except where Keras rounds to float32 whatever the inputs: its ops.mean (in BCE, MSE, MAE, Huber) and
    # its divide_no_nan (in the averaging reductions) compute in float32, its floatx. A few float32
    # roundings (2^-24 relative each) of non-negative terms, at most 8 here: 2^-21.
    keras_rounds = loss_class in MEAN_OVER_AXIS or theirs_value.dtype == torch.float32
    rtol = 2.0 ** -21 if keras_rounds else 1e-12
    np.testing.assert_allclose(ours_value.data, theirs_value.detach().numpy(), rtol=rtol, atol=1e-15)
    np.testing.assert_allclose(ours_pred.grad, theirs_pred.grad.numpy(), rtol=rtol, atol=1e-15)


@pytest.mark.parametrize("weight_kind", [None, "per value", "trailing 1"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss_class, kwargs, y_true, y_pred", CLASS_CASES)
def test_each_loss_class_reduces_and_weights_as_keras(loss_class, kwargs, y_true, y_pred, reduction, weight_kind):
    values_shape = getattr(losses, loss_class)(reduction=None, **kwargs)(y_true, y_pred).shape
    check_against_keras(loss_class, kwargs, y_true, y_pred, reduction, sample_weights(values_shape, weight_kind))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_a_mask_on_the_predictions_counts_as_in_keras(reduction, weighted):
    """A masking layer's mask on y_pred (batch, time, units): masked steps add nothing, and the average
    is over the kept steps; with ignore_class the two masks combine."""
    mask = RNG64.random((3, 4)) < 0.6
    mask[0] = False  # a sample with every step masked
    weight = RNG64.uniform(0, 2, (3, 4)) if weighted else None
    check_against_keras("MeanSquaredError", {}, soft64((3, 4, 2)), logits64((3, 4, 2)), reduction, weight, mask)
    check_against_keras("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": -1},
                        with_ignored(labels(5, (3, 4), RNG64), -1, 4), logits64((3, 4, 5)), reduction, weight, mask)


@pytest.mark.parametrize("loss_class", list(losses.CLASSES))
def test_configs_are_keras_configs(loss_class):
    """Keras's config keys and defaults (Huber's also keeps delta, which Keras's drops)."""
    theirs = getattr(keras.losses, loss_class)(reduction="sum").get_config()
    ours = getattr(losses, loss_class)(reduction="sum").get_config()
    assert ours == ({**theirs, "delta": 1.0} if loss_class == "Huber" else theirs)


BINARY = (soft64((6, 1)), probabilities64((6, 1)))
CATEGORICAL = (one_hot64(3, 6), probabilities64((6, 3)))
SPARSE = (labels(3, (6,), RNG64), probabilities64((6, 3)))
NAMED = [(name, BINARY) for name in ("binary_crossentropy", "bce", "BCE", "BinaryCrossentropy", "mean_squared_error",
                                     "mse", "MSE", "MeanSquaredError", "mean_absolute_error", "mae", "MAE",
                                     "MeanAbsoluteError", "huber", "Huber")]
NAMED += [("categorical_crossentropy", CATEGORICAL), ("CategoricalCrossentropy", CATEGORICAL),
          ("sparse_categorical_crossentropy", SPARSE), ("SparseCategoricalCrossentropy", SPARSE)]


@pytest.mark.parametrize("identifier, data", NAMED)
def test_each_name_gives_the_loss_keras_compile_gives(identifier, data):
    from keras.src.trainers.compile_utils import get_loss  # what Model.compile makes of a loss identifier

    y_true, y_pred = data
    weight = RNG64.uniform(0, 2, len(y_true))
    expected = get_loss(identifier, y_true, y_pred)(y_true, y_pred, sample_weight=weight)
    # arrays, not Tensors: both compute in float32 (Keras's default dtype), in a different order
    got = losses.get(identifier)(y_true, y_pred, sample_weight=weight)
    assert got.item() == pytest.approx(float(expected), rel=1e-6)


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
    assert list(got) == list(expected)  # the same keys, in the same (Keras 3: sorted) order
    for key in got:  # a mean over 50 float32 values: a few units in the last place
        assert got[key] == pytest.approx(expected[key], rel=1e-6), key


@pytest.mark.parametrize("units, activation, loss, names, y", [SETUPS[0], SETUPS[3]])
def test_two_epochs_of_fit_log_what_keras_logs(units, activation, loss, names, y):
    theirs, ours = dense_pair(units, activation, weights_seed=7)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss, metrics=names)
    ours.compile(optimizer=tinygrad_embed.optimizers.SGD(0.1), loss=loss, metrics=names)
    expected = theirs.fit(X, y, batch_size=16, epochs=2, shuffle=False, verbose=0, validation_data=(X, y)).history
    got = ours.fit(X, y, batch_size=16, epochs=2, shuffle=False, verbose=0, validation_data=(X, y)).history
    assert list(got) == list(expected)
    for key in got:  # metrics of each batch before its update, averaged over the epoch as Keras does
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-6, err_msg=key)


@pytest.mark.parametrize("units, activation, make_loss, y", [
    (1, None, lambda module: module.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
     labels(2, (50, 1))),
    (3, None, lambda module: module.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2),
     np.eye(3)[labels(3, 50)]),
    (3, None, lambda module: module.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=2),
     labels(3, (50,))),
    (2, None, lambda module: module.losses.Huber(delta=0.5, reduction="sum"), RNG.normal(0, 1, (50, 2))),
])
def test_loss_objects_in_compile_with_sample_weights_log_what_keras_logs(units, activation, make_loss, y):
    """The objects in compile, weighted samples, batches of 16 (the last short): evaluate's loss and a
    fit's history as Keras's."""
    weight = RNG.uniform(0, 2, 50).astype("float32")
    theirs, ours = dense_pair(units, activation, weights_seed=3)
    theirs.compile(optimizer=keras.optimizers.SGD(0.05), loss=make_loss(keras))
    ours.compile(optimizer=tinygrad_embed.optimizers.SGD(0.05), loss=make_loss(tinygrad_embed))
    expected = theirs.evaluate(X, y, sample_weight=weight, batch_size=16, verbose=0, return_dict=True)
    got = ours.evaluate(X, y, sample_weight=weight, batch_size=16, verbose=0, return_dict=True)
    assert got == pytest.approx(expected, rel=1e-6)
    expected = theirs.fit(X, y, sample_weight=weight, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    got = ours.fit(X, y, sample_weight=weight, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    assert list(got) == list(expected)
    np.testing.assert_allclose(got["loss"], expected["loss"], rtol=1e-6)
