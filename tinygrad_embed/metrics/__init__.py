"""Metrics as Keras 3 has them, importable from here as from keras.metrics: stateful objects that
accumulate over the batches of an epoch, the per-sample functions most of them average, and `get`,
which resolves what compile is given by Keras's rules (keras/src/trainers/compile_utils.py, get_metric:
"acc" logs acc and val_acc; keras.metrics.get("accuracy") would give Accuracy, exact equality). One idea
a module: the Metric contract (base), the accuracies, the losses watched as metrics (loss_metrics), and
the counts at thresholds (confusion)."""
from __future__ import annotations

import re
from typing import Any

from ..helpers import snake_case
from ..missing import module_getattr
from .accuracy import (Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, _AccuracyByShapes,
                       accuracy_for, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy)
from .base import FLOATX, Mean, MeanMetricWrapper, Metric, State
from .confusion import AUC, CURVES, EPSILON, NEG_INF, SUMMATIONS, Precision, Recall
from .loss_metrics import (MAE, MSE, BinaryCrossentropy, CategoricalCrossentropy, MeanAbsoluteError, MeanSquaredError,
                           SparseCategoricalCrossentropy, binary_crossentropy, categorical_crossentropy, mae,
                           mean_absolute_error, mean_squared_error, mse, sparse_categorical_crossentropy)

__all__ = ["Metric", "Mean", "MeanMetricWrapper", "State", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Precision", "Recall", "AUC",
           "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy", "accuracy_for",
           "mean_squared_error", "mean_absolute_error", "binary_crossentropy", "categorical_crossentropy",
           "sparse_categorical_crossentropy", "mse", "MSE", "mae", "MAE", "get", "CLASSES", "KNOWN", "CURVES",
           "SUMMATIONS", "FLOATX", "EPSILON", "NEG_INF"]

CLASSES: dict[str, type[Metric]] = {cls.__name__: cls for cls in (
    Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError,
    BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy, Precision, Recall, AUC)}
KNOWN: dict[str, type[Metric]] = {**CLASSES, **{snake_case(name): cls for name, cls in CLASSES.items()},
                                  "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy, "mse": MeanSquaredError,
                                  "MSE": MeanSquaredError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError}


def get(identifier: Any) -> Metric:
    """A metric by the rules of Keras's compile (get_metric): a name gives a NEW metric, named as written;
    "accuracy"/"acc" in any case one that chooses by shapes at its first update_state."""
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        return _AccuracyByShapes(identifier)
    if isinstance(identifier, str) and identifier in KNOWN:
        metric = KNOWN[identifier]()
        metric.name = identifier
        return metric
    return _from_object(identifier)


def _from_object(identifier: Any) -> Metric:
    """get's other forms: a Metric class instantiated, a Metric instance returned as it is, a function
    f(y_true, y_pred) wrapped in a MeanMetricWrapper named after it, a {"class_name", "config"} dict rebuilt."""
    if isinstance(identifier, dict) and identifier.get("class_name") in CLASSES:
        return CLASSES[identifier["class_name"]].from_config(identifier.get("config", {}))
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, Metric):
        return identifier
    if callable(identifier) and not isinstance(identifier, type):
        name = getattr(identifier, "__name__", type(identifier).__name__)
        return MeanMetricWrapper(identifier, name=snake_case(re.sub(r"\W+", "", name)))
    raise ValueError(f"unknown metric {identifier!r}; known names: accuracy, acc, {', '.join(sorted(KNOWN))}; or "
                     "a Metric, a Metric class, or a function f(y_true, y_pred) of per-sample values")


__getattr__ = module_getattr(__name__, "metric", lambda: CLASSES)  # Keras's other metric classes: not here
