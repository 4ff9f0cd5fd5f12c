"""Data a model cannot compute with honestly is refused before the first step, naming the value and where it
is (docs/nothing-silent.md, "NaN and overflow"): numbers finite in float64 that overflow the model's float32,
NaN or infinities, a NaN or infinite class_weight, categorical cross-entropy targets that are not
distributions."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_embed as tg
from tinygrad_embed import losses
from tinygrad_embed.layers import Dense
from tinygrad_embed.models import Sequential

FLOAT32_MAX = float(np.finfo(np.float32).max)


def dense_model(dtype="float32", loss="mse", units=1):
    tg.utils.set_random_seed(0)
    model = Sequential([tg.Input((3,)), Dense(units, activation="softmax" if units > 1 else None, dtype=dtype)])
    model.compile(optimizer="sgd", loss=loss)
    return model


def assert_refused_before_any_step(model, fit, message):
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=message):
        fit()
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)


@given(st.sampled_from(["x", "y", "sample_weight"]), st.integers(0, 19), st.floats(1.0001, 1e250), st.booleans())
def test_float64_data_beyond_float32_is_refused_naming_value_and_position(where, sample, scale, negative):
    data = {"x": np.ones((20, 3)), "y": np.ones((20, 1)), "sample_weight": np.ones(20)}
    value = (-1 if negative else 1) * FLOAT32_MAX * scale
    position = (sample,) if where == "sample_weight" else (sample, 0)
    data[where][position] = value
    model = dense_model()
    assert_refused_before_any_step(model, lambda: model.fit(**data, batch_size=4, verbose=0),
                                   rf"{where} holds {value!r:.8}.* at position \({sample},.*beyond float32's range")


def test_a_float64_model_takes_numbers_beyond_float32():
    x = np.ones((4, 3))
    x[2, 1] = 1e39
    assert np.isfinite(dense_model("float64").predict(x, verbose=0)).all()
    with pytest.raises(ValueError, match=r"x holds 1e\+39 at position \(2, 1\)"):
        dense_model("float32").predict(x, verbose=0)


@pytest.mark.parametrize("value, shown", [(np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "-inf")])
@pytest.mark.parametrize("where", ["x", "y", "sample_weight"])
def test_nan_and_infinities_in_data_are_refused_naming_the_position(where, value, shown):
    data = {"x": np.ones((6, 3)), "y": np.ones((6, 1)), "sample_weight": np.ones(6)}
    data[where][(4,) if where == "sample_weight" else (4, 0)] = value
    model = dense_model()
    assert_refused_before_any_step(model, lambda: model.fit(**data, verbose=0),
                                   rf"{where} contains {shown} at position \(4,.*\(sample 4\)")


@pytest.mark.parametrize("weight", [np.nan, np.inf, -np.inf, 1e39, float("nan")])
def test_a_nan_or_infinite_class_weight_is_refused_before_the_first_step(weight):
    model = dense_model(loss="sparse_categorical_crossentropy", units=3)
    x, y = np.ones((6, 3)), np.array([0, 1, 2, 0, 1, 2])
    assert_refused_before_any_step(model, lambda: model.fit(x, y, class_weight={0: 1.0, 2: weight}, verbose=0),
                                   r"class_weight\[2\] is .*: a class's weight must be a finite number")
    with pytest.raises(ValueError, match=r"class_weight\[2\]"):
        model.train_on_batch(x, y, class_weight={2: weight})


def test_a_class_weight_that_is_not_a_number_is_a_type_error():
    model = dense_model(loss="sparse_categorical_crossentropy", units=3)
    with pytest.raises(TypeError, match=r"class_weight\[1\] is '2': a class's weight is a number"):
        model.fit(np.ones((3, 3)), np.array([0, 1, 2]), class_weight={1: "2"}, verbose=0)


# ---- categorical cross-entropy's targets are distributions ---------------------------------------------------
@st.composite
def bad_targets(draw):
    """One-hot targets (20 samples of 3 classes) with one row made negative, or summing to something else than 1."""
    y = np.eye(3)[np.random.default_rng(draw(st.integers(0, 99))).integers(0, 3, 20)]
    sample, kind = draw(st.integers(0, 19)), draw(st.sampled_from(["negative", "over", "under"]))
    if kind == "negative":
        y[sample] = [1.5, -0.5, 0.0]
        return y, sample, r"holds -0\.5 at position \(%d, 1\); targets are probabilities" % sample
    y[sample] = [1.0, 1.0, 0.0] if kind == "over" else [0.3, 0.3, 0.3]
    return y, sample, r"row at position \(%d,\) sums to %s" % (sample, "2" if kind == "over" else "0.9")


@given(bad_targets(), st.sampled_from(["categorical_crossentropy", "CategoricalCrossentropy"]))
def test_fit_refuses_categorical_targets_that_are_not_distributions_before_the_first_step(case, loss):
    y, sample, message = case
    model = dense_model(loss=loss if loss.islower() else losses.CategoricalCrossentropy(), units=3)
    assert_refused_before_any_step(model, lambda: model.fit(np.ones((20, 3)), y, batch_size=4, verbose=0),
                                   "categorical_crossentropy: y " + message if "holds" in message else message)


@given(bad_targets())
def test_the_loss_refuses_them_batch_by_batch_too(case):
    y, sample, message = case
    with pytest.raises(ValueError, match=message):
        losses.categorical_crossentropy(y, tg.Tensor(np.full((20, 3), 1 / 3)))


def test_targets_along_another_axis_and_int_one_hot_rows_are_checked_along_that_axis():
    y = np.eye(3, dtype=int)[[0, 1, 2, 1]].T[None]  # (1, 3 classes, 4 steps): the classes on axis 1
    p = tg.Tensor(np.full((1, 3, 4), 1 / 3))
    np.testing.assert_allclose(losses.categorical_crossentropy(y, p, axis=1).data, np.full((1, 4), np.log(3)))
    with pytest.raises(ValueError, match=r"along axis -1 .*row at position \(0, 1\) sums to 2"):
        losses.categorical_crossentropy(y, p)  # along the steps: rows of 4 steps, not distributions


def test_soft_targets_within_tolerance_and_all_zero_rows_are_taken():
    """Soft labels that sum to 1 up to rounding are distributions; a row of zeros is no target (a padded step in
    Keras's seq2seq examples), whose loss is 0, as in Keras."""
    soft = np.array([[0.2, 0.3, 0.5 + 5e-4], [0.0, 0.0, 0.0]])
    loss = losses.categorical_crossentropy(soft, tg.Tensor(np.full((2, 3), 1 / 3)))
    np.testing.assert_allclose(loss.data, [np.log(3) * (1 + 5e-4), 0.0])
    with pytest.raises(ValueError, match="sums to 1.002"):
        losses.categorical_crossentropy(soft + [[0, 0, 2e-3], [0, 0, 0]], tg.Tensor(np.full((2, 3), 1 / 3)))
