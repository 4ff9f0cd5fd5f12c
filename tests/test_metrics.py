"""Metrics: Keras's formulas on arrays, the stateful metric objects (means over every sample seen,
counts at thresholds), names and their resolution, subclassing, errors, and what evaluate and fit log."""
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_embed as tg
from tinygrad_embed import metrics
from tinygrad_embed.layers import Dense
from tinygrad_embed.models import Sequential, load_model


def test_binary_accuracy_thresholds_predictions_not_labels():
    y = np.array([[1], [1], [0], [0], [1]])
    p = np.array([[0.98], [1.0], [0.0], [0.6], [0.5]])  # 0.5 is not above the threshold: predicts 0
    np.testing.assert_array_equal(metrics.binary_accuracy(y, p), [[1], [1], [1], [0], [0]])
    np.testing.assert_array_equal(metrics.binary_accuracy(np.array([0.3, 1.0]), np.array([[0.1], [0.9]])), [[0], [1]])
    np.testing.assert_array_equal(metrics.binary_accuracy(y, p, threshold=0.7), [[1], [1], [1], [1], [0]])


def test_categorical_accuracy_compares_argmaxes():
    y = np.eye(3)[[0, 2, 1]]
    p = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])
    np.testing.assert_array_equal(metrics.categorical_accuracy(y, p), [1, 1, 0])
    with pytest.raises(ValueError, match=r"\(3,\) but y_pred has shape \(3, 3\).*sparse_categorical_accuracy"):
        metrics.categorical_accuracy(np.array([0, 2, 1]), p)


def test_sparse_categorical_accuracy_takes_labels_with_or_without_a_trailing_axis():
    p = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])
    np.testing.assert_array_equal(metrics.sparse_categorical_accuracy(np.array([0, 2, 1]), p), [1, 1, 0])
    np.testing.assert_array_equal(metrics.sparse_categorical_accuracy(np.array([[0.0], [2.0], [0.0]]), p), [1, 1, 1])
    with pytest.raises(ValueError, match=r"labels of shape \(3,\) or \(3, 1\), got y_true of shape \(2,\)"):
        metrics.sparse_categorical_accuracy(np.array([0, 1]), p)


@pytest.mark.parametrize("y_shape, p_shape, chosen", [
    ((4,), (4, 1), metrics.binary_accuracy), ((4, 1), (4, 1), metrics.binary_accuracy),
    ((4,), (4, 3), metrics.sparse_categorical_accuracy), ((4, 1), (4, 3), metrics.sparse_categorical_accuracy),
    ((4, 6), (4, 6, 3), metrics.sparse_categorical_accuracy), ((4, 3), (4, 3), metrics.categorical_accuracy)])
def test_accuracy_is_chosen_by_keras_rule(y_shape, p_shape, chosen):
    assert metrics.accuracy_for(np.zeros(y_shape), np.zeros(p_shape)) is chosen


def test_mean_squared_and_absolute_error_per_sample():
    y, p = np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[0.0, 4.0], [1.0, -1.0]])
    np.testing.assert_allclose(metrics.mse(y, p), [2.5, 1.0])  # (1 + 4) / 2 and (1 + 1) / 2
    np.testing.assert_allclose(metrics.mae(y, p), [1.5, 1.0])  # (1 + 2) / 2 and (1 + 1) / 2


# ---- means over every sample seen ----------------------------------------------------------------------
def test_mean_weights_values_and_starts_at_zero():
    mean = metrics.Mean()
    assert mean.result() == 0.0  # nothing seen: 0, not 0 / 0
    mean.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert mean.result() == 2.0  # (1 + 3) / 2
    mean.update_state([[10, 20]])  # one sample of two values: its mean, 15, weighs 1
    assert mean.result() == pytest.approx((1 + 3 + 15) / 3)
    mean.reset_state()
    assert mean.result() == 0.0 and mean.total == 0 and mean.count == 0


def test_an_epoch_mean_weighs_batches_by_their_samples():
    accuracy = metrics.BinaryAccuracy()
    accuracy.update_state([[1], [0]], [[0.9], [0.8]])  # 1 of 2 right
    accuracy.update_state([[1], [1], [0]], [[0.7], [0.6], [0.1]])  # 3 of 3 right
    assert accuracy.result() == pytest.approx(4 / 5)  # not the mean of batch means, (0.5 + 1) / 2


@settings(max_examples=25)
@given(st.integers(0, 2**32 - 1), st.lists(st.integers(1, 6), min_size=1, max_size=5), st.booleans())
def test_over_any_batches_a_mean_metric_is_the_weighted_mean_of_all_samples(seed, sizes, weighted):
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    y, p, w = rng.normal(0, 1, (n, 2)), rng.normal(0, 1, (n, 2)), rng.uniform(0, 2, n) if weighted else np.ones(n)
    error = metrics.MeanSquaredError(dtype="float64")
    for batch in np.split(np.arange(n), np.cumsum(sizes)[:-1]):
        error.update_state(y[batch], p[batch], sample_weight=w[batch] if weighted else None)
    per_sample = ((y - p) ** 2).mean(-1)
    assert error.result() == pytest.approx((w * per_sample).sum() / w.sum(), rel=1e-12)


def test_sample_weights_per_sample_and_per_time_step():
    y = np.array([[0, 1, 2], [1, 1, 1]])  # 2 sequences of 3 labels
    p = np.eye(3)[[[0, 1, 0], [1, 1, 1]]]  # right, right, wrong; right, right, right
    per_sample = metrics.SparseCategoricalAccuracy()
    per_sample.update_state(y, p, sample_weight=[3, 1])
    assert per_sample.result() == pytest.approx((3 * 2 / 3 + 1 * 1) / 4)
    per_step = metrics.SparseCategoricalAccuracy()
    per_step.update_state(y, p, sample_weight=[[1, 1, 0], [1, 0, 0]])  # a padding mask: only real steps count
    assert per_step.result() == pytest.approx(1.0)  # the one wrong step is masked out
    with pytest.raises(ValueError, match=r"sample_weight of shape \(3,\) does not fit values of shape \(2,\)"):
        per_sample.update_state(y, p, sample_weight=[1, 1, 1])


def test_a_tensor_mask_weighs_the_time_steps_it_keeps():
    labels = np.array([[0, 1, 2], [1, 1, 1]])
    predictions = tg.Tensor(np.eye(3)[[[0, 1, 0], [0, 0, 1]]])  # right, right, wrong; wrong, wrong, right
    predictions._keras_mask = np.array([[True, True, False], [True, True, True]])
    accuracy = metrics.SparseCategoricalAccuracy()
    accuracy.update_state(labels, predictions)
    assert accuracy.result() == pytest.approx(3 / 5)  # the masked wrong step is left out: 3 right of 5 steps
    accuracy.reset_state()
    accuracy.update_state(labels, predictions, sample_weight=[2, 1])  # each step weighs its sample's weight
    assert accuracy.result() == pytest.approx((2 + 2 + 1) / (2 + 2 + 1 + 1 + 1))


def test_crossentropy_metrics_smooth_labels_as_keras_does():
    y, p = np.array([[1.0, 0.0]]), np.array([[0.8, 0.2]])
    smoothed = metrics.CategoricalCrossentropy(label_smoothing=0.2)  # labels become [0.9, 0.1]
    smoothed.update_state(y, p)
    assert smoothed.result() == pytest.approx(-(0.9 * np.log(0.8) + 0.1 * np.log(0.2)), rel=1e-6)
    binary = metrics.BinaryCrossentropy(label_smoothing=0.2, from_logits=True)  # label 1 becomes 0.9
    binary.update_state([[1.0]], [[0.0]])  # logit 0: probability 1/2 whatever the label
    assert binary.result() == pytest.approx(np.log(2), rel=1e-6)
    with pytest.raises(ValueError, match="ignore_class=0 is not supported"):
        metrics.SparseCategoricalCrossentropy(ignore_class=0)


# ---- counts at thresholds ------------------------------------------------------------------------------
def test_precision_and_recall_count_what_is_above_the_threshold():
    precision, recall = metrics.Precision(), metrics.Recall()
    for metric in precision, recall:
        metric.update_state([0, 1, 1, 1], [1, 0, 1, 1])  # TP 2, FP 1, FN 1
    assert precision.result() == pytest.approx(2 / 3) and recall.result() == pytest.approx(2 / 3)
    precision.reset_state()
    precision.update_state([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0])  # only a true positive counts
    assert precision.result() == 1.0


def test_precision_at_several_thresholds_gives_one_value_each():
    precision = metrics.Precision(thresholds=[0.2, 0.6])
    precision.update_state([1, 0, 1, 0], [0.9, 0.7, 0.5, 0.1])  # above 0.2: 3 predictions, 2 true; above 0.6: 1 of 2
    np.testing.assert_allclose(precision.result(), [2 / 3, 1 / 2], rtol=1e-6)


def test_top_k_and_class_id_choose_the_predictions_counted():
    y = np.array([[0, 0, 1, 1], [1, 0, 0, 0]])
    p = np.array([[0.1, 0.9, 0.8, 0.3], [0.6, 0.7, 0.2, 0.1]])
    top_2 = metrics.Precision(top_k=2)  # row 1 keeps classes 1 and 2 (one true), row 2 classes 1 and 0 (one true)
    top_2.update_state(y, p)
    assert top_2.result() == pytest.approx(2 / 4)
    class_2 = metrics.Recall(class_id=2)  # class 2 is true only in row 1, where 0.8 > 0.5
    class_2.update_state(y, p)
    assert class_2.result() == 1.0
    with pytest.raises(ValueError, match=r"class_id=4 needs predictions .* got shape \(2, 4\)"):
        metrics.Recall(class_id=4).update_state(y, p)


def test_auc_by_keras_interpolation_at_three_thresholds():
    auc = metrics.AUC(num_thresholds=3)
    assert auc.thresholds == pytest.approx([-1e-7, 0.5, 1 + 1e-7])
    # TP [2, 1, 0], FP [2, 0, 0], TN [0, 2, 2], FN [0, 1, 2]: true positive rates [1, 1/2, 0], false positive
    # rates [1, 0, 0]; trapezoids (1 - 0) (1 + 1/2) / 2 + (0 - 0) (1/2 + 0) / 2 = 3/4
    auc.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    assert auc.result() == pytest.approx(0.75)
    auc.reset_state()
    auc.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9], sample_weight=[1, 0, 0, 1])  # two perfectly ranked
    assert auc.result() == pytest.approx(1.0)


@settings(max_examples=25)
@given(st.integers(0, 2**32 - 1))
def test_roc_auc_is_the_probability_a_positive_outranks_a_negative(seed):
    """With every prediction in the middle of a bucket between thresholds, the trapezoids of the ROC curve
    add up to the Mann-Whitney statistic on the buckets: pairs ordered right count 1, pairs tied 1/2."""
    rng = np.random.default_rng(seed)
    y, bucket = np.r_[0, 1, rng.integers(0, 2, 20)], rng.integers(0, 10, 22)  # at least one of each label
    auc = metrics.AUC(num_thresholds=11)  # thresholds at i / 10: bucket b holds (b + 0.5) / 10
    auc.update_state(y, (bucket + 0.5) / 10)
    positive, negative = bucket[y == 1][:, None], bucket[y == 0][None, :]
    assert auc.result() == pytest.approx(((positive > negative) + 0.5 * (positive == negative)).mean(), rel=1e-6)


@settings(max_examples=25)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["ROC", "PR"]))
def test_minoring_and_majoring_bound_the_interpolated_area(seed, curve):
    rng = np.random.default_rng(seed)
    y, p = rng.integers(0, 2, 30), rng.uniform(0, 1, 30)
    areas = {}
    for method in ("minoring", "interpolation", "majoring"):
        auc = metrics.AUC(num_thresholds=20, curve=curve, summation_method=method)
        auc.update_state(y, p)
        areas[method] = auc.result()
    assert areas["minoring"] <= areas["interpolation"] + 1e-6 and areas["interpolation"] <= areas["majoring"] + 1e-6
    assert 0 <= areas["minoring"] and areas["majoring"] <= 1 + 1e-6


def test_bad_thresholds_and_curves_are_refused():
    with pytest.raises(ValueError, match=r"thresholds must lie in \[0, 1\], got \[1.5\]"):
        metrics.Precision(thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match="curve must be one of \\['ROC', 'PR', 'PRGAIN'\\], got 'AUROC'"):
        metrics.AUC(curve="AUROC")
    with pytest.raises(ValueError, match="num_thresholds must be an integer > 1, got 1"):
        metrics.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match=r"multi_label=True needs y_pred of shape \(samples, labels\)"):
        metrics.AUC(multi_label=True).update_state([0, 1], [0.2, 0.9])


# ---- names, configs, subclasses ------------------------------------------------------------------------
@pytest.mark.parametrize("name, cls", [
    ("binary_accuracy", metrics.BinaryAccuracy), ("BinaryAccuracy", metrics.BinaryAccuracy),
    ("sparse_categorical_accuracy", metrics.SparseCategoricalAccuracy), ("mse", metrics.MeanSquaredError),
    ("MAE", metrics.MeanAbsoluteError), ("mean_absolute_error", metrics.MeanAbsoluteError),
    ("bce", metrics.BinaryCrossentropy), ("categorical_crossentropy", metrics.CategoricalCrossentropy),
    ("precision", metrics.Precision), ("Recall", metrics.Recall), ("auc", metrics.AUC)])
def test_a_name_gives_a_new_metric_logged_under_that_name(name, cls):
    first, second = metrics.get(name), metrics.get(name)
    assert type(first) is cls and first.name == name and first is not second


@pytest.mark.parametrize("name", ["accuracy", "acc", "ACC", "Accuracy"])
@pytest.mark.parametrize("y, p, chosen", [
    (np.array([1, 0]), np.array([[0.9], [0.8]]), metrics.binary_accuracy),
    (np.array([1, 0]), np.eye(2), metrics.sparse_categorical_accuracy),
    (np.eye(2), np.eye(2), metrics.categorical_accuracy)])
def test_accuracy_by_name_chooses_at_its_first_batch(name, y, p, chosen):
    metric = metrics.get(name)
    metric.update_state(y, p)
    assert metric.name == name and metric._fn is chosen
    assert metric.result() == np.mean(chosen(y, p))


def test_functions_classes_instances_and_configs_are_taken():
    def hitRate(y_true, y_pred):  # noqa: N802  (Keras names the wrapper hit_rate)
        return (y_true == y_pred).astype(float)

    wrapped = metrics.get(hitRate)
    assert type(wrapped) is metrics.MeanMetricWrapper and wrapped.name == "hit_rate"
    wrapped.update_state(np.array([1, 2, 3]), np.array([1, 0, 3]))
    assert wrapped.result() == pytest.approx(2 / 3)
    instance = metrics.Recall(thresholds=0.3)
    assert metrics.get(instance) is instance and type(metrics.get(metrics.AUC)) is metrics.AUC
    rebuilt = metrics.get({"class_name": "BinaryAccuracy", "config": {"name": "b", "threshold": 0.9}})
    assert (rebuilt.name, rebuilt.threshold) == ("b", 0.9)


@pytest.mark.parametrize("cls", sorted(metrics.CLASSES.values(), key=lambda c: c.__name__))
def test_from_config_rebuilds_the_same_metric(cls):
    metric = cls(name="m")
    assert type(metric).from_config(metric.get_config()).get_config() == metric.get_config()


def test_automatic_names_count_up_as_keras_names_them():
    first, second = metrics.Precision(), metrics.Precision()
    assert re.fullmatch(r"precision(_\d+)?", first.name) and second.name != first.name


def test_unknown_names_are_refused_plainly():
    with pytest.raises(ValueError, match="unknown metric 'auroc'; known names: accuracy, acc, .*auc"):
        metrics.get("auroc")
    with pytest.raises(ImportError, match="no metric F1Score; the metrics here are: AUC, Accuracy"):
        exec("from tinygrad_embed.metrics import F1Score")


class BinaryTruePositives(metrics.Metric):
    """Keras's own example of a subclass (its Metric docstring), with keras.ops replaced by numpy."""

    def __init__(self, name="binary_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), initializer="zeros", name="true_positives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = (np.asarray(y_true, bool) & np.asarray(y_pred, bool)).astype(self.dtype)
        if sample_weight is not None:
            values = values * np.broadcast_to(sample_weight, values.shape)
        self.true_positives.assign(self.true_positives + values.sum())

    def result(self):
        return self.true_positives


def test_a_subclass_written_as_in_keras_works():
    metric = BinaryTruePositives()
    assert metric([1, 1, 0, 1], [1, 0, 1, 1]) == 2  # __call__: update_state, then result
    metric.update_state([1], [1], sample_weight=[0.5])
    assert float(metric.result()) == 2.5 and metric.get_config() == {"name": "binary_true_positives",
                                                                     "dtype": "float32"}
    metric.reset_state()
    assert float(metric.result()) == 0.0 and len(metric.variables) == 1


def test_a_subclass_that_skips_super_init_is_told_so():
    class Forgetful(metrics.Metric):
        def __init__(self):
            self.total = self.add_variable(())

    with pytest.raises(RuntimeError, match=r"Forgetful.__init__ must call super\(\).__init__\(\) before add_variable"):
        Forgetful()


# ---- in a model -------------------------------------------------------------------------------------
def softmax_model(loss, names):
    """Dense(3, softmax) on x = I: the predictions are softmax of 5 e_i, whose argmax is i."""
    model = Sequential([Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss=loss, metrics=names)
    model.build((None, 3))
    model.set_weights([np.eye(3) * 5, np.zeros(3)])
    return model


def test_evaluate_with_integer_labels_uses_sparse_accuracy_weighted_by_batch_size():
    model = softmax_model("sparse_categorical_crossentropy", ["acc", "sparse_categorical_accuracy"])
    labels = np.array([0, 1, 0])  # batches of 2: [0, 1] both right (1.0), then [0] wrong (0.0)
    logs = model.evaluate(np.eye(3), labels, batch_size=2, verbose=0, return_dict=True)
    assert logs["acc"] == logs["sparse_categorical_accuracy"] == pytest.approx(2 / 3)  # not (1 + 0) / 2
    p = np.exp(5 * np.eye(3)) / np.exp(5 * np.eye(3)).sum(-1, keepdims=True)
    assert logs["loss"] == pytest.approx(-np.log(p[[0, 1, 2], labels]).mean(), rel=1e-6)
    assert model.evaluate(np.eye(3), labels[:, None], batch_size=2, verbose=0)[1] == pytest.approx(2 / 3)


def test_evaluate_with_one_hot_labels_uses_categorical_accuracy():
    model = softmax_model("categorical_crossentropy", ["accuracy"])
    assert model.evaluate(np.eye(3), np.eye(3)[[0, 2, 2]], verbose=0)[1] == pytest.approx(2 / 3)


def test_binary_accuracy_and_errors_are_logged_in_fit_and_validation():
    model = Sequential([Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["acc", "mse", "mae"])
    model.build((None, 1))
    model.set_weights([np.array([[0.0]]), np.array([0.0])])  # every prediction is sigmoid(0) = 0.5
    x, y = np.zeros((4, 1)), np.array([0, 1, 1, 0])
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs == pytest.approx({"loss": np.log(2), "acc": 0.5, "mse": 0.25, "mae": 0.5})  # 0.5 predicts class 0
    history = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y), shuffle=False)
    assert set(history.history) == {"loss", "acc", "mse", "mae", "val_loss", "val_acc", "val_mse", "val_mae"}


def test_compile_takes_metric_objects_and_refuses_an_unknown_name():
    with pytest.raises(ValueError, match="unknown metric 'auroc'"):
        softmax_model("mse", ["auroc"])
    model = softmax_model("categorical_crossentropy", [metrics.Precision(name="p"), metrics.AUC(name="area"), "ACC"])
    logs = model.evaluate(np.eye(3), np.eye(3)[[0, 2, 2]], verbose=0, return_dict=True)
    assert logs["ACC"] == pytest.approx(2 / 3) and set(logs) == {"loss", "p", "area", "ACC"}
    # each of the 9 predicted probabilities against its one-hot label: above 0.5 are the three diagonal ones,
    # softmax(5 e_i)_i = e^5 / (e^5 + 2), two of them on a true label
    assert logs["p"] == pytest.approx(2 / 3, rel=1e-6)


def test_a_saved_model_logs_its_metrics_under_the_same_names(tmp_path):
    softmax_model("categorical_crossentropy", ["ACC", "mse"]).save(tmp_path / "model.npz")
    logs = load_model(tmp_path / "model.npz").evaluate(np.eye(3), np.eye(3), verbose=0, return_dict=True)
    assert set(logs) == {"loss", "ACC", "mse"} and logs["ACC"] == 1
