"""Metric objects against real Keras 3 (torch backend), in float64: the same result after each of several
batches of different sizes, with and without sample weights, and again after reset_state; the same
choice, class and name for each name compile takes; the same configs. Skipped without Keras and torch,
except under `make parity` (TINYGRAD_EMBED_PARITY=required)."""
import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
torch = require("torch")

from keras.src.trainers.compile_utils import get_metric  # noqa: E402

import tinygrad_embed  # noqa: E402
from tinygrad_embed import metrics  # noqa: E402

SIZES = (5, 3, 8, 1)  # samples per batch: different sizes, so a mean of batch means would differ


def binary(rng, n):
    return rng.integers(0, 2, (n, 1)), rng.uniform(0, 1, (n, 1))


def binary_vector(rng, n):
    return rng.integers(0, 2, n), rng.uniform(0, 1, (n, 1))  # labels (n,) against predictions (n, 1)


def binary_logits(rng, n):
    return rng.integers(0, 2, (n, 1)), rng.normal(0, 3, (n, 1))


def multilabel(rng, n):
    return rng.integers(0, 2, (n, 4)), rng.uniform(0, 1, (n, 4))


def one_hot(rng, n):
    p = rng.uniform(0, 1, (n, 4))
    return np.eye(4)[rng.integers(0, 4, n)], p / p.sum(-1, keepdims=True)


def sparse(rng, n):
    return rng.integers(0, 4, n), one_hot(rng, n)[1]


def sparse_column(rng, n):
    return rng.integers(0, 4, (n, 1)), one_hot(rng, n)[1]


def sparse_sequences(rng, n):
    p = rng.uniform(0, 1, (n, 6, 4))
    return rng.integers(0, 4, (n, 6)), p / p.sum(-1, keepdims=True)


def logits(rng, n):
    return one_hot(rng, n)[0], rng.normal(0, 3, (n, 4))


def regression(rng, n):
    return rng.normal(0, 1, (n, 3)), rng.normal(0, 1, (n, 3))


def classes(rng, n):
    return rng.integers(0, 3, (n, 1)), rng.integers(0, 3, (n, 1)).astype("float64")


F64 = {"dtype": "float64"}
CASES = {  # name: (make(api), data)
    "Accuracy": (lambda api: api.metrics.Accuracy(**F64), classes),
    "BinaryAccuracy": (lambda api: api.metrics.BinaryAccuracy(**F64), binary),
    "BinaryAccuracy_vector_labels": (lambda api: api.metrics.BinaryAccuracy(**F64), binary_vector),
    "BinaryAccuracy_threshold": (lambda api: api.metrics.BinaryAccuracy(threshold=0.7, **F64), binary),
    "CategoricalAccuracy": (lambda api: api.metrics.CategoricalAccuracy(**F64), one_hot),
    "SparseCategoricalAccuracy": (lambda api: api.metrics.SparseCategoricalAccuracy(**F64), sparse),
    "SparseCategoricalAccuracy_column": (lambda api: api.metrics.SparseCategoricalAccuracy(**F64), sparse_column),
    "SparseCategoricalAccuracy_sequences": (lambda api: api.metrics.SparseCategoricalAccuracy(**F64),
                                            sparse_sequences),
    "MeanSquaredError": (lambda api: api.metrics.MeanSquaredError(**F64), regression),
    "MeanAbsoluteError": (lambda api: api.metrics.MeanAbsoluteError(**F64), regression),
    "BinaryCrossentropy": (lambda api: api.metrics.BinaryCrossentropy(**F64), binary),
    "BinaryCrossentropy_logits_smoothing": (
        lambda api: api.metrics.BinaryCrossentropy(from_logits=True, label_smoothing=0.2, **F64), binary_logits),
    "CategoricalCrossentropy": (lambda api: api.metrics.CategoricalCrossentropy(**F64), one_hot),
    "CategoricalCrossentropy_logits_smoothing": (
        lambda api: api.metrics.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1, **F64), logits),
    "SparseCategoricalCrossentropy": (lambda api: api.metrics.SparseCategoricalCrossentropy(**F64), sparse),
    "Precision": (lambda api: api.metrics.Precision(**F64), binary),
    "Precision_thresholds": (lambda api: api.metrics.Precision(thresholds=[0.2, 0.5, 0.9], **F64), multilabel),
    "Precision_even_thresholds": (lambda api: api.metrics.Precision(thresholds=[0, 0.5, 1], **F64), multilabel),
    "Precision_top_k": (lambda api: api.metrics.Precision(top_k=2, **F64), multilabel),
    "Precision_class_id": (lambda api: api.metrics.Precision(class_id=1, **F64), one_hot),
    "Recall": (lambda api: api.metrics.Recall(**F64), binary_vector),
    "Recall_thresholds": (lambda api: api.metrics.Recall(thresholds=0.3, **F64), multilabel),
    "Recall_top_k_class_id": (lambda api: api.metrics.Recall(top_k=2, class_id=2, **F64), multilabel),
    "AUC": (lambda api: api.metrics.AUC(**F64), binary),
    "AUC_few_thresholds": (lambda api: api.metrics.AUC(num_thresholds=7, **F64), multilabel),
    "AUC_minoring": (lambda api: api.metrics.AUC(num_thresholds=9, summation_method="minoring", **F64), binary),
    "AUC_majoring": (lambda api: api.metrics.AUC(num_thresholds=9, summation_method="majoring", **F64), binary),
    "AUC_PR": (lambda api: api.metrics.AUC(curve="PR", **F64), multilabel),
    "AUC_PR_few_thresholds": (lambda api: api.metrics.AUC(num_thresholds=5, curve="PR", **F64), binary),
    "AUC_PR_majoring": (lambda api: api.metrics.AUC(curve="PR", summation_method="majoring", **F64), binary),
    "AUC_PRGAIN": (lambda api: api.metrics.AUC(curve="PRGAIN", num_thresholds=11, **F64), binary),
    "AUC_thresholds": (lambda api: api.metrics.AUC(thresholds=[0.7, 0.1, 0.4], **F64), binary),
    "AUC_logits": (lambda api: api.metrics.AUC(from_logits=True, **F64), binary_logits),
    "AUC_multi_label": (lambda api: api.metrics.AUC(multi_label=True, num_thresholds=15, **F64), multilabel),
    "AUC_multi_label_weights": (lambda api: api.metrics.AUC(multi_label=True, label_weights=[1, 0, 2, 0.5],
                                                            **F64), multilabel),
    "AUC_label_weights": (lambda api: api.metrics.AUC(label_weights=[1, 0, 2, 0.5], **F64), multilabel),
}


def value(result):
    return np.asarray(keras.ops.convert_to_numpy(result) if torch.is_tensor(result) else result, dtype="float64")


# Keras on torch computes in float32 even from float64 data: its type promotion maps 64-bit types to 32-bit
# ones (keras/src/backend/common/dtypes.py, BIT64_TO_BIT32_DTYPE), so ops.mean of float64 values reduces in
# float32, and Precision, Recall and AUC keep their counts in float32 (add_variable's default) as this
# project does. Results agree to float32's precision, a relative 6e-8 per rounding; a few roundings apart.
RTOL = 1e-6


def run_batches(theirs, ours, data, weighted, seed):
    rng = np.random.default_rng(seed)
    for n in SIZES:
        y_true, y_pred = data(rng, n)
        weight = {"sample_weight": rng.uniform(0, 2, y_true.shape[:2] if y_true.ndim == 2 and y_pred.ndim == 3
                                               else n)} if weighted else {}
        theirs.update_state(y_true, y_pred, **weight)
        ours.update_state(y_true, y_pred, **weight)
        np.testing.assert_allclose(value(ours.result()), value(theirs.result()), rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_metric_gives_keras_results_over_batches_and_after_reset(case, weighted):
    make, data = CASES[case]
    theirs, ours = make(keras), make(tinygrad_embed)
    run_batches(theirs, ours, data, weighted, seed=1)
    theirs.reset_state()
    ours.reset_state()
    np.testing.assert_array_equal(value(ours.result()), value(theirs.result()))  # nothing seen: 0
    run_batches(theirs, ours, data, weighted, seed=2)


def test_sequence_weights_per_time_step_give_keras_results():
    theirs, ours = keras.metrics.SparseCategoricalAccuracy(**F64), metrics.SparseCategoricalAccuracy(**F64)
    rng = np.random.default_rng(3)
    for n in SIZES:
        y_true, y_pred = sparse_sequences(rng, n)
        weights = (rng.random((n, 6)) < 0.7).astype("float64")  # a padding mask as weights
        theirs.update_state(y_true, y_pred, sample_weight=weights)
        ours.update_state(y_true, y_pred, sample_weight=weights)
        assert ours.result() == pytest.approx(value(theirs.result()), rel=RTOL)


@pytest.mark.parametrize("name", ["accuracy", "acc", "ACC", "Accuracy"])
@pytest.mark.parametrize("data", [binary, binary_vector, one_hot, sparse, sparse_column, sparse_sequences])
def test_accuracy_by_name_chooses_as_keras_compile_does(name, data):
    y_true, y_pred = data(np.random.default_rng(4), 6)
    theirs, ours = get_metric(name, y_true, y_pred), metrics.get(name)
    ours.update_state(y_true, y_pred)
    theirs.update_state(y_true, y_pred)
    assert (ours.name, ours._fn.__name__) == (theirs.name, theirs._fn.__name__)
    assert ours.result() == pytest.approx(value(theirs.result()), rel=RTOL)


@pytest.mark.parametrize("name", sorted(set(metrics.KNOWN) - set(metrics.CLASSES) - {"accuracy"}))
def test_each_name_gives_keras_class_and_history_key(name):
    y_true, y_pred = binary(np.random.default_rng(5), 4)
    theirs, ours = get_metric(name, y_true, y_pred), metrics.get(name)
    assert (type(ours).__name__, ours.name) == (type(theirs).__name__, theirs.name)


def test_a_function_is_wrapped_and_named_as_keras_names_it():
    def squaredDifference(y_true, y_pred):  # noqa: N802  (a camel-case name shows the snake-casing)
        return (y_true - y_pred) ** 2

    y_true, y_pred = regression(np.random.default_rng(6), 4)
    theirs, ours = get_metric(squaredDifference, y_true, y_pred), metrics.get(squaredDifference)
    assert (type(ours).__name__, ours.name) == (type(theirs).__name__, theirs.name) == ("MeanMetricWrapper",
                                                                                     "squared_difference")


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_is_keras_config(case):
    theirs, ours = CASES[case][0](keras), CASES[case][0](tinygrad_embed)
    theirs_config, ours_config = theirs.get_config(), ours.get_config()
    theirs_config["name"] = ours_config["name"]  # automatic names count instances per library
    if isinstance(theirs_config.get("label_weights"), torch.Tensor):
        theirs_config["label_weights"] = value(theirs_config["label_weights"]).tolist()
    assert ours_config == theirs_config


@pytest.mark.parametrize("step_weights", [False, True], ids=["mask", "mask_and_step_weights"])
def test_a_mask_on_the_predictions_weighs_steps_as_in_keras(step_weights):
    from keras.src.backend.common.masking import set_keras_mask

    theirs, ours = keras.metrics.SparseCategoricalAccuracy(**F64), metrics.SparseCategoricalAccuracy(**F64)
    rng = np.random.default_rng(7)
    for n in SIZES:
        y_true, y_pred = sparse_sequences(rng, n)
        mask = rng.random((n, 6)) < 0.7
        weight = {"sample_weight": rng.uniform(0, 2, (n, 6))} if step_weights else {}
        their_pred, our_pred = keras.ops.convert_to_tensor(y_pred), tinygrad_embed.Tensor(y_pred)
        set_keras_mask(their_pred, keras.ops.convert_to_tensor(mask))
        our_pred._keras_mask = mask
        theirs.update_state(y_true, their_pred, **weight)
        ours.update_state(y_true, our_pred, **weight)
        assert ours.result() == pytest.approx(value(theirs.result()), rel=RTOL)
