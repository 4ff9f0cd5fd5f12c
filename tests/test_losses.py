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


@pytest.mark.parametrize("loss", [losses.binary_crossentropy, losses.categorical_crossentropy, losses.mean_squared_error])
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


def test_losses_by_name():
    assert losses.get("mse") is losses.mean_squared_error
    with pytest.raises(ValueError, match="known: binary_crossentropy"):
        losses.get("hinge")
