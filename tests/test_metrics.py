"""Metrics: Keras's formulas on arrays, its choice of accuracy, names, and what evaluate and fit log."""
import numpy as np
import pytest

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


@pytest.mark.parametrize("name", ["accuracy", "acc", "ACC", "Accuracy", "mse", "MAE", "binary_accuracy",
                                  "sparse_categorical_crossentropy", "bce"])
def test_names_keras_takes_are_taken(name):
    assert callable(metrics.get(name)) and metrics.names([name]) == [name]


def test_a_function_of_this_module_is_logged_under_its_own_name():
    assert metrics.names((metrics.mae, metrics.binary_accuracy)) == ["mean_absolute_error", "binary_accuracy"]


def test_bad_metrics_are_refused_plainly():
    with pytest.raises(ValueError, match="unknown metric 'auc'; known: accuracy, acc, binary_accuracy"):
        metrics.names(["auc"])
    with pytest.raises(ValueError, match="must be a list or tuple, e.g. \\['accuracy'\\], got 'accuracy'"):
        metrics.names("accuracy")
    with pytest.raises(ValueError, match="only the metrics of tinygrad_embed.metrics"):
        metrics.names([lambda y, p: y])
    with pytest.raises(ImportError, match="no metric AUC"):
        exec("from tinygrad_embed.metrics import AUC")


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


def test_compile_refuses_an_unknown_metric_and_a_saved_model_keeps_the_names(tmp_path):
    with pytest.raises(ValueError, match="unknown metric 'auc'"):
        softmax_model("mse", ["auc"])
    model = softmax_model("mse", [metrics.mean_absolute_error, "ACC"])
    assert model.metrics == ["mean_absolute_error", "ACC"]
    model.save(tmp_path / "model.npz")
    restored = load_model(tmp_path / "model.npz")
    assert restored.metrics == ["mean_absolute_error", "ACC"]
    assert restored.evaluate(np.eye(3), np.eye(3), verbose=0) == model.evaluate(np.eye(3), np.eye(3), verbose=0)
