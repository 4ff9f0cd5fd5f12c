"""Losses: Keras's formulas, clipping, reduction, stability, errors, gradients."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_embed as tg
from tinygrad_embed import losses
from tinygrad_embed.testing import float64_arrays


def test_bce_matches_keras_formula_with_clipping():
    y = np.array([[1.0], [0.0], [1.0], [0.3]])
    p = np.array([[0.0], [0.5], [1.0], [0.8]])
    clipped = np.clip(p, 1e-7, 1 - 1e-7)
    expected = -(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)).mean(-1)
    np.testing.assert_allclose(losses.binary_crossentropy(y, tg.Tensor(p)).data, expected, rtol=1e-12)
    assert losses.binary_crossentropy(y, tg.Tensor(p)).data[0] == pytest.approx(-np.log(1e-7))


@given(float64_arrays((4, 3), -4, 4), st.data())
def test_bce_from_logits_equals_bce_of_sigmoid_and_gradchecks(logits, data):
    labels = data.draw(float64_arrays((4, 3), 0, 1))
    x = tg.Tensor(logits, requires_grad=True)
    np.testing.assert_allclose(losses.binary_crossentropy(labels, x, from_logits=True).data,
                               losses.binary_crossentropy(labels, x.sigmoid()).data, rtol=1e-9)
    assert tg.gradcheck(lambda x: losses.binary_crossentropy(labels, x, from_logits=True), [x])
    assert tg.gradcheck(lambda x: losses.binary_crossentropy(labels, x.sigmoid()), [x])


def test_bce_from_logits_is_finite_at_a_thousand():
    x = tg.Tensor(np.array([[1000.0], [-1000.0], [1000.0], [-1000.0]]), requires_grad=True)
    loss = losses.binary_crossentropy(np.array([1.0, 1.0, 0.0, 0.0]), x, from_logits=True)
    np.testing.assert_allclose(loss.data, [0.0, 1000.0, 1000.0, 0.0])
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.ravel(), [0.0, -1.0, 1.0, 0.0])


def test_reduction_is_the_mean_over_the_last_axis_per_sample():
    assert losses.binary_crossentropy(np.ones((5, 3)), tg.Tensor(np.full((5, 3), 0.5))).shape == (5,)
    assert losses.mean_squared_error(np.zeros((2, 4)), tg.Tensor(np.ones((2, 4)) * 2)).data.tolist() == [4.0, 4.0]


def test_labels_of_shape_batch_fit_predictions_of_shape_batch_by_one():
    p = tg.Tensor(np.array([[0.2], [0.9]]))
    np.testing.assert_array_equal(losses.binary_crossentropy(np.array([0, 1]), p).data,
                                  losses.binary_crossentropy(np.array([[0], [1]]), p).data)


def test_bce_refuses_labels_outside_zero_one():
    with pytest.raises(ValueError, match=r"labels in \[0, 1\].*\[2\.0\]"):
        losses.binary_crossentropy(np.array([[0.0], [2.0]]), tg.Tensor(np.array([[0.5], [0.5]])))


def test_nan_labels_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        losses.binary_crossentropy(np.array([[np.nan]]), tg.Tensor(np.array([[0.5]])))


@pytest.mark.parametrize("loss", [losses.binary_crossentropy, losses.categorical_crossentropy,
                                  losses.mean_squared_error, losses.mean_absolute_error])
def test_shape_mismatch_names_both_shapes(loss):
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(3, 4\)"):
        loss(np.zeros((3, 2)), tg.Tensor(np.full((3, 4), 0.5)))


@given(float64_arrays((3, 4), -3, 3))
def test_categorical_crossentropy_from_probabilities_and_logits(logits):
    labels = np.eye(4)[[0, 3, 1]]
    x = tg.Tensor(logits, requires_grad=True)
    probabilities = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    expected = -(labels * np.log(np.clip(probabilities, 1e-7, 1 - 1e-7))).sum(-1)
    np.testing.assert_allclose(losses.categorical_crossentropy(labels, tg.Tensor(probabilities)).data, expected, rtol=1e-9)
    np.testing.assert_allclose(losses.categorical_crossentropy(labels, x, from_logits=True).data, expected, rtol=1e-6)
    assert tg.gradcheck(lambda x: losses.categorical_crossentropy(labels, x, from_logits=True), [x])
    assert tg.gradcheck(lambda x: losses.categorical_crossentropy(labels, x.exp()), [x])


@given(float64_arrays((3, 2)), st.data())
def test_mean_squared_error_gradchecks(pred, data):
    target = data.draw(float64_arrays((3, 2)))
    x = tg.Tensor(pred, requires_grad=True)
    np.testing.assert_allclose(losses.mean_squared_error(target, x).data, ((pred - target) ** 2).mean(-1))
    assert tg.gradcheck(lambda x: losses.mean_squared_error(target, x), [x])


@pytest.mark.parametrize("name, function", [
    ("mse", losses.mean_squared_error), ("MSE", losses.mean_squared_error), ("mae", losses.mean_absolute_error),
    ("MAE", losses.mean_absolute_error), ("bce", losses.binary_crossentropy), ("BCE", losses.binary_crossentropy),
    ("sparse_categorical_crossentropy", losses.sparse_categorical_crossentropy)])
def test_losses_by_name_and_keras_aliases(name, function):
    assert losses.get(name) is function


def test_unknown_loss_names_the_known_ones_and_keras_2_aliases_are_attributes():
    with pytest.raises(ValueError, match="known: binary_crossentropy, categorical_crossentropy, mean_absolute_error"):
        losses.get("hinge")
    assert losses.mse is losses.MSE is losses.mean_squared_error
    assert losses.mae is losses.MAE is losses.mean_absolute_error
    with pytest.raises(ImportError, match="no loss Hinge"):  # a class name Keras has: said plainly
        exec("from tinygrad_embed.losses import Hinge")


# ---- sparse categorical cross-entropy ---------------------------------------------------------------
def softmax(logits):
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@given(float64_arrays((4, 3), -3, 3))
def test_sparse_categorical_crossentropy_is_minus_log_p_of_the_label(logits):
    labels = np.array([2, 0, 1, 2])
    x = tg.Tensor(logits, requires_grad=True)
    expected = -np.log(np.clip(softmax(logits), 1e-7, 1 - 1e-7))[np.arange(4), labels]
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(labels, tg.Tensor(softmax(logits))).data, expected,
                               rtol=1e-9)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(labels, x, from_logits=True).data, expected,
                               rtol=1e-9)
    assert tg.gradcheck(lambda x: losses.sparse_categorical_crossentropy(labels, x, from_logits=True), [x])
    assert tg.gradcheck(lambda x: losses.sparse_categorical_crossentropy(labels, x.exp()), [x])


def test_sparse_categorical_crossentropy_normalises_and_clips_probabilities_as_keras():
    p = tg.Tensor(np.array([[2.0, 0.0, 2.0], [1.0, 0.0, 0.0]]))  # rows sum to 4 and 1; zeros get clipped
    # row 0: label 0 has 2 / 4 = 0.5; row 1: label 1 has 0, clipped to 1e-7
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(np.array([0, 1]), p).data,
                               [np.log(2), -np.log(1e-7)], rtol=1e-12)


def test_sparse_labels_of_shape_batch_by_one_and_sequences_of_labels():
    logits = np.random.default_rng(0).standard_normal((2, 4, 3))
    labels = np.array([[0, 1, 2, 1], [2, 2, 0, 1]])
    one_hot = np.eye(3)[labels]
    loss = losses.sparse_categorical_crossentropy(labels, tg.Tensor(logits), from_logits=True)
    assert loss.shape == (2, 4)
    np.testing.assert_array_equal(loss.data, losses.categorical_crossentropy(one_hot, tg.Tensor(logits), True).data)
    flat = tg.Tensor(logits[0])
    np.testing.assert_array_equal(losses.sparse_categorical_crossentropy(labels[0][:, None], flat).data,
                                  losses.sparse_categorical_crossentropy(labels[0], flat).data)


@pytest.mark.parametrize("labels, message", [
    ([0, 3], r"label 3 at position \(1,\) is out of range for 3 classes \(expected 0 to 2\)"),
    ([-1, 0], r"label -1 at position \(0,\) is out of range for 3 classes"),
    ([0.0, 1.5], r"class indices \(whole numbers\), got 1.5 at position \(1,\)"),
    ([np.nan, 1.0], r"whole numbers\), got nan"),
    ([[0, 1]], r"y_pred of shape \(2, 3\) needs integer labels of shape \(2,\) or \(2, 1\), got y_true of "
               r"shape \(1, 2\)"),
])
def test_sparse_categorical_crossentropy_refuses_bad_labels_naming_them(labels, message):
    with pytest.raises(ValueError, match=message):
        losses.sparse_categorical_crossentropy(np.array(labels), tg.Tensor(np.full((2, 3), 1 / 3)))


def test_sparse_categorical_crossentropy_needs_a_class_axis_and_numeric_labels():
    with pytest.raises(ValueError, match="last axis of classes, got a scalar"):
        losses.sparse_categorical_crossentropy(np.array(0), tg.Tensor(np.array(0.5)))
    with pytest.raises(TypeError, match="numeric, got an array of dtype <U1"):
        losses.sparse_categorical_crossentropy(np.array(["a", "b"]), tg.Tensor(np.full((2, 3), 1 / 3)))


# ---- mean absolute error ---------------------------------------------------------------------------
@given(float64_arrays((3, 2)), float64_arrays((3, 2), avoid=1e-3))
def test_mean_absolute_error_value_and_gradient(target, offset):
    pred = target + offset  # |pred - target| >= 1e-3: a finite difference never steps across the kink
    x = tg.Tensor(pred, requires_grad=True)
    np.testing.assert_allclose(losses.mean_absolute_error(target, x).data, np.abs(pred - target).mean(-1))
    assert tg.gradcheck(lambda x: losses.mean_absolute_error(target, x), [x])


def test_mean_absolute_error_gradient_is_the_sign_and_zero_at_the_kink():
    x = tg.Tensor(np.array([[1.0, 2.0, 3.0, -1.0]]), requires_grad=True)
    losses.mean_absolute_error(np.array([[1.0, 0.0, 5.0, -1.0]]), x).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 0.25, -0.25, 0.0]])  # sign(pred - target) / 4, sign(0) = 0
