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


def test_unknown_loss_names_the_known_ones_and_keras_2_aliases_are_attributes():
    with pytest.raises(ValueError, match="known: binary_crossentropy, categorical_crossentropy, huber, mean_absolute_"
                                         ".*the classes BinaryCrossentropy"):
        losses.get("hinge")
    assert losses.mse is losses.MSE is losses.mean_squared_error
    assert losses.mae is losses.MAE is losses.mean_absolute_error
    with pytest.raises(ImportError, match="no loss Hinge.*BinaryCrossentropy"):  # a class name Keras has: said plainly
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


# ---- the Loss classes: reduction, weights, masks ----------------------------------------------------
class Identity(losses.Loss):
    """A loss whose per-sample values are y_pred itself: the reductions can be read off by hand."""

    def call(self, y_true, y_pred):
        return y_pred


VALUES = np.array([1.0, 2.0, 3.0, 6.0])
Y0 = np.zeros(4)  # unused by Identity
WEIGHTS = np.array([1.0, 0.0, 2.0, 0.5])  # weighted values 1, 0, 6, 3: their sum is 10, the weights' 3.5


@pytest.mark.parametrize("reduction, expected", [
    ("sum_over_batch_size", 10 / 4), ("mean", 10 / 4),  # divided by the number of values, not the weights' sum
    ("mean_with_sample_weight", 10 / 3.5), ("sum", 10.0)])
def test_each_reduction_by_hand(reduction, expected):
    assert Identity(reduction=reduction)(Y0, tg.Tensor(VALUES), sample_weight=WEIGHTS).item() == pytest.approx(
        expected, rel=1e-15)


@pytest.mark.parametrize("reduction", [None, "none"])
def test_no_reduction_gives_the_weighted_values(reduction):
    np.testing.assert_array_equal(Identity(reduction=reduction)(Y0, tg.Tensor(VALUES), WEIGHTS).data,
                                  [1.0, 0.0, 6.0, 3.0])


def test_default_reduction_is_the_mean_and_the_name_is_the_class_in_snake_case():
    loss = Identity()
    assert loss(Y0, tg.Tensor(VALUES)).item() == 3.0  # (1 + 2 + 3 + 6) / 4
    assert (loss.name, loss.reduction) == ("identity", "sum_over_batch_size")
    assert losses.Loss.__init__.__defaults__ == (None, "sum_over_batch_size", None)


def test_keras_2_reduction_names():
    assert losses.MeanSquaredError(reduction=losses.Reduction.NONE).reduction == "none"
    assert Identity(reduction=losses.Reduction.AUTO)(Y0, tg.Tensor(VALUES)).item() == 3.0  # the mean, as the default


def test_weights_of_shape_batch_by_one_fit_and_wrong_shapes_are_named():
    # Keras gives the rank-1 values the weights' trailing axis (not the other way round)
    np.testing.assert_array_equal(Identity(reduction=None)(Y0, tg.Tensor(VALUES), WEIGHTS[:, None]).data,
                                  [[1.0], [0.0], [6.0], [3.0]])
    assert Identity()(Y0, tg.Tensor(VALUES), WEIGHTS[:, None]).item() == 10 / 4
    with pytest.raises(ValueError, match=r"sample_weight of shape \(3,\) does not fit the losses of shape \(4,\)"):
        Identity()(Y0, tg.Tensor(VALUES), sample_weight=np.ones(3))


def test_a_mask_on_y_pred_averages_over_the_kept_values_only():
    y_pred = tg.Tensor(VALUES)
    y_pred._keras_mask = np.array([True, True, False, True])  # as a masking layer leaves it
    assert Identity()(Y0, y_pred).item() == pytest.approx((1 + 2 + 6) / 3)
    assert Identity(reduction="sum")(Y0, y_pred).item() == 9.0
    # with weights: sum(kept weighted values) / kept count = (1 + 0 + 3) / 3
    assert Identity()(Y0, y_pred, sample_weight=WEIGHTS).item() == pytest.approx(4 / 3)


def test_nothing_to_average_gives_zero_not_nan():
    y_pred = tg.Tensor(VALUES, requires_grad=True)
    y_pred._keras_mask = np.zeros(4, bool)
    loss = Identity()(Y0, y_pred)
    assert loss.item() == 0.0
    loss.backward()
    np.testing.assert_array_equal(y_pred.grad, np.zeros(4))
    assert Identity(reduction="mean_with_sample_weight")(Y0, tg.Tensor(VALUES), np.zeros(4)).item() == 0.0


def test_call_must_be_implemented_and_bad_settings_are_named():
    with pytest.raises(NotImplementedError, match="Loss must implement call"):
        losses.Loss()(np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="reduction must be one of .*got 'average'"):
        losses.MeanSquaredError(reduction="average")
    with pytest.raises(ValueError, match="floating-point dtype, got dtype='int32'"):
        losses.MeanSquaredError(dtype="int32")
    with pytest.raises(ValueError, match=r"label_smoothing is a fraction in \[0, 1\], got 1.5"):
        losses.BinaryCrossentropy(label_smoothing=1.5)
    with pytest.raises(ValueError, match="delta is the positive .*got -1"):
        losses.Huber(delta=-1)


def test_a_loss_keeps_the_dtype_of_a_y_pred_tensor_and_converts_arrays():
    y_true = np.array([[0.0], [1.0]])
    assert losses.MeanSquaredError()(y_true, tg.Tensor(np.array([[0.5], [0.5]]))).dtype == np.float64
    assert losses.MeanSquaredError()(y_true, np.array([[0.5], [0.5]])).dtype == np.float32  # Keras's floatx
    assert losses.MeanSquaredError(dtype="float64")(y_true, [[0.5], [0.5]]).dtype == np.float64


# ---- the built-in classes ---------------------------------------------------------------------------
CLASS_DATA = [  # (class, keyword arguments, y_true, y_pred as a function of a float64 Tensor x)
    (losses.BinaryCrossentropy, {}, np.array([[1.0, 0.0], [0.3, 1.0], [0.0, 0.5]]), lambda x: x.sigmoid()),
    (losses.BinaryCrossentropy, {"from_logits": True, "label_smoothing": 0.2}, np.array([[1.0, 0.0], [0.3, 1.0],
                                                                                        [0.0, 0.5]]), lambda x: x),
    (losses.CategoricalCrossentropy, {"label_smoothing": 0.1}, np.eye(2)[[0, 1, 1]], lambda x: x.exp()),
    (losses.CategoricalCrossentropy, {"from_logits": True}, np.array([[0.2, 0.8], [1.0, 0.0], [0.5, 0.5]]),
     lambda x: x),
    (losses.SparseCategoricalCrossentropy, {}, np.array([1, 0, 1]), lambda x: x.exp()),
    (losses.SparseCategoricalCrossentropy, {"from_logits": True, "ignore_class": 0}, np.array([1, 0, 1]),
     lambda x: x),
    (losses.MeanSquaredError, {}, np.array([[0.5, -1.0], [2.0, 0.0], [1.0, 1.0]]), lambda x: x),
    (losses.MeanAbsoluteError, {}, np.array([[0.5, -1.0], [2.0, 0.0], [1.0, 1.0]]), lambda x: x),
    (losses.Huber, {"delta": 0.5}, np.array([[0.5, -1.0], [2.0, 0.0], [1.0, 1.0]]), lambda x: x),
]
KINKS = {losses.MeanAbsoluteError: 0.0, losses.Huber: 0.5}  # |error| where the loss is not smooth


@given(float64_arrays((3, 2), -3, 3), st.sampled_from(["sum_over_batch_size", "sum", None]))
@pytest.mark.parametrize("cls, kwargs, y_true, predict", CLASS_DATA)
def test_each_class_is_its_function_weighted_and_reduced_and_gradchecks(cls, kwargs, y_true, predict, x, reduction):
    """The class against its function's values, weighted and reduced by hand; its gradient against
    central differences."""
    if cls in KINKS:  # x is the error: within 1e-3 of a kink it moves away, so no finite difference crosses it
        x = y_true + np.where(np.abs(np.abs(x) - KINKS[cls]) < 1e-3, 2 * x + 0.01, x)
    weight = np.array([0.5, 2.0, 1.0])
    weighted = cls().fn(y_true, predict(tg.Tensor(x)), **kwargs).data * weight
    kept = 3 - np.count_nonzero(y_true == kwargs.get("ignore_class"))  # ignored samples: 0, and not counted
    expected = {None: weighted, "sum": weighted.sum(), "sum_over_batch_size": weighted.sum() / kept}[reduction]
    loss = cls(reduction=reduction, **kwargs)
    np.testing.assert_allclose(loss(y_true, predict(tg.Tensor(x)), sample_weight=weight).data, expected, rtol=1e-13)
    assert tg.gradcheck(lambda x: loss(y_true, predict(x), sample_weight=weight), [tg.Tensor(x, requires_grad=True)])


def test_mean_absolute_error_class():
    # the samples' errors |0.5 - 1| = 0.5 and |-1 - 0| = 1; their mean 0.75
    loss = losses.MeanAbsoluteError()
    assert loss(np.array([[1.0], [0.0]]), tg.Tensor(np.array([[0.5], [-1.0]]))).item() == 0.75


def test_label_smoothing_by_hand():
    # binary: s = 0.2 turns label 1 into 0.9; -(0.9 log 0.8 + 0.1 log 0.2)
    assert losses.binary_crossentropy(np.array([[1.0]]), tg.Tensor(np.array([[0.8]])), label_smoothing=0.2).item() \
        == pytest.approx(-(0.9 * np.log(0.8) + 0.1 * np.log(0.2)), rel=1e-14)
    # categorical over 4 classes: s = 0.4 turns [1, 0, 0, 0] into [0.7, 0.1, 0.1, 0.1]
    p = np.array([[0.4, 0.3, 0.2, 0.1]])
    assert losses.categorical_crossentropy(np.eye(4)[[0]], tg.Tensor(p), label_smoothing=0.4).item() == pytest.approx(
        -(0.7 * np.log(0.4) + 0.1 * np.log(0.3) + 0.1 * np.log(0.2) + 0.1 * np.log(0.1)), rel=1e-14)


def test_huber_by_hand():
    # errors 0.5 (inside delta = 1: 0.5 * 0.25) and -3 (outside: 1 * 3 - 0.5); mean of 0.125 and 2.5
    prediction = tg.Tensor(np.array([[0.5, -3.0]]), requires_grad=True)
    loss = losses.huber(np.zeros((1, 2)), prediction)
    assert loss.item() == pytest.approx((0.125 + 2.5) / 2, rel=1e-15)
    loss.backward()
    np.testing.assert_allclose(prediction.grad, [[0.5 / 2, -1.0 / 2]])  # the error inside, delta * sign outside


def test_ignore_class_counts_for_nothing():
    logits = tg.Tensor(np.array([[2.0, 0.0, 1.0], [0.0, 5.0, 0.0], [1.0, 1.0, 1.0]]), requires_grad=True)
    labels = np.array([0, -1, 2])  # the middle sample is padding
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)(labels, logits)
    log_softmax = logits.data - np.log(np.exp(logits.data).sum(-1, keepdims=True))
    assert loss.item() == pytest.approx(-(log_softmax[0, 0] + log_softmax[2, 2]) / 2, rel=1e-14)  # 2 samples, not 3
    loss.backward()
    np.testing.assert_array_equal(logits.grad[1], np.zeros(3))
    values = losses.sparse_categorical_crossentropy(labels, logits, from_logits=True, ignore_class=-1)
    assert values.data[1] == 0.0 and values._keras_mask.tolist() == [True, False, True]


# ---- stability at large logits ------------------------------------------------------------------------
def log_sigmoid64(x):
    return -np.logaddexp(0.0, -x)  # another route than log_sigmoid's: numpy's logaddexp


def sigmoid64(x):
    return np.exp(log_sigmoid64(x))  # not 1 / (1 + e^-x), which overflows, nor via tanh, which cancels


large_logits = float64_arrays((3, 4), -1e3, 1e3)


@given(large_logits, st.data())
def test_bce_from_logits_is_exact_and_finite_at_large_logits(x, data):
    y = data.draw(float64_arrays((3, 4), 0, 1))
    logits = tg.Tensor(x, requires_grad=True)
    loss = losses.BinaryCrossentropy(from_logits=True)(y, logits)
    expected = -(y * log_sigmoid64(x) + (1 - y) * log_sigmoid64(-x)).mean()
    assert np.isfinite(loss.item()) and loss.item() == pytest.approx(expected, rel=1e-12, abs=1e-300)
    loss.backward()
    # sigmoid(x) - y written as (1 - y) sigmoid(x) - y sigmoid(-x): the oracle itself must not cancel (at
    # x = 19, y = 1, sigmoid(x) - 1 keeps only 8 of its 16 digits)
    expected_grad = ((1 - y) * sigmoid64(x) - y * sigmoid64(-x)) / x.size
    np.testing.assert_allclose(logits.grad, expected_grad, rtol=1e-9, atol=1e-300)


@given(large_logits, st.data())
def test_categorical_crossentropies_from_logits_are_exact_and_finite_at_large_logits(x, data):
    labels = data.draw(st.lists(st.integers(0, 3), min_size=3, max_size=3))
    # The reference without cancelling: log(sum e^d) = log1p of the terms but the largest's (d = x - max), and
    # p - 1 = expm1(log p). (x - logaddexp(x), the earlier reference, cancelled: at x = (78, 60, 0, 0) its
    # gradient was 4e-7 off in relative terms, ours 5e-9.)
    shifted = x - x.max(axis=-1, keepdims=True)
    others = np.where(np.arange(4) == shifted.argmax(axis=-1)[:, None], 0, np.exp(shifted))
    log_p = shifted - np.log1p(others.sum(axis=-1, keepdims=True))
    expected = -log_p[np.arange(3), labels].mean()
    gradient = np.where(np.eye(4)[labels] == 1, np.expm1(log_p), np.exp(log_p)) / 3
    # The loss is Keras's x - max - log(sum(e^(x - max))): log of a sum rounded near 1 is off by an ulp of 1 or
    # two, which a loss near 0 (1e-14 at x = (0, -619, 0, 31.7), label 3) shows in relative terms
    for loss, y in [(losses.CategoricalCrossentropy(from_logits=True), np.eye(4)[labels]),
                    (losses.SparseCategoricalCrossentropy(from_logits=True), np.array(labels))]:
        logits = tg.Tensor(x, requires_grad=True)
        value = loss(y, logits)
        assert np.isfinite(value.item()) and value.item() == pytest.approx(expected, rel=1e-12, abs=5e-16)
        value.backward()
        np.testing.assert_allclose(logits.grad, gradient, rtol=1e-9, atol=1e-15)


# ---- get, configs --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, function", [
    ("mse", losses.mean_squared_error), ("MSE", losses.mean_squared_error), ("mae", losses.mean_absolute_error),
    ("MAE", losses.mean_absolute_error), ("bce", losses.binary_crossentropy), ("BCE", losses.binary_crossentropy),
    ("sparse_categorical_crossentropy", losses.sparse_categorical_crossentropy), ("huber", losses.huber)])
def test_function_names_give_a_wrapper_named_as_written(name, function):
    loss = losses.get(name)
    assert isinstance(loss, losses.LossFunctionWrapper) and loss.fn is function and loss.name == name


@pytest.mark.parametrize("name", list(losses.CLASSES))
def test_class_names_and_classes_give_instances_and_instances_are_kept(name):
    assert type(losses.get(name)) is losses.CLASSES[name]
    assert type(losses.get(losses.CLASSES[name])) is losses.CLASSES[name]
    loss = losses.CLASSES[name](reduction="sum")
    assert losses.get(loss) is loss


def test_a_plain_function_is_wrapped_and_ranks_are_aligned_for_it():
    def squared_error(y_true, y_pred):
        return ((y_pred - y_true) ** 2).mean(axis=-1)

    loss = losses.get(squared_error)
    assert isinstance(loss, losses.LossFunctionWrapper) and loss.name == "squared_error"
    # labels (batch,) against predictions (batch, 1): the labels gain the axis, as Keras's wrapper does
    assert loss(np.array([1.0, 0.0]), tg.Tensor(np.array([[0.0], [0.0]]))).item() == 0.5
    assert losses.get(None) is None
    with pytest.raises(ValueError, match="cannot interpret 3 as a loss"):
        losses.get(3)


@pytest.mark.parametrize("loss", [
    losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1, reduction="sum", name="b"),
    losses.CategoricalCrossentropy(axis=-1, label_smoothing=0.2), losses.SparseCategoricalCrossentropy(ignore_class=0),
    losses.MeanSquaredError(reduction=None), losses.MeanAbsoluteError(name="l1"), losses.Huber(delta=2.5),
    losses.LossFunctionWrapper(losses.binary_crossentropy, name="bce", from_logits=True)])
def test_configs_round_trip(loss):
    for copy in (type(loss).from_config(loss.get_config()), losses.get(losses.serialize(loss))):
        assert type(copy) is type(loss) and copy.get_config() == loss.get_config()
    x = tg.Tensor(np.array([[0.3, -0.2], [1.5, 0.1]]))
    y = np.array([[1.0, 0.0], [0.0, 1.0]]) if "sparse" not in loss.name else np.array([1, 0])
    np.testing.assert_array_equal(copy(y, x).data, loss(y, x).data)


def test_deserializing_an_unknown_class_names_it():
    with pytest.raises(ValueError, match="loss of class 'Hinge'; the classes here are BinaryCrossentropy"):
        losses.get({"class_name": "Hinge", "config": {}})
