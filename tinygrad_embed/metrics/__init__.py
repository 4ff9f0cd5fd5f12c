"""Metrics as Keras 3 has them, importable from here as from keras.metrics (docs/metrics.md). One idea a
module: the Metric contract (base), the accuracies, the losses watched as metrics (loss_metrics), the
counts at thresholds (confusion), and get, which resolves what compile is given (registry)."""
from __future__ import annotations

from ..missing import module_getattr
from .accuracy import (Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, accuracy_for,
                       binary_accuracy, categorical_accuracy, sparse_categorical_accuracy)
from .base import FLOATX, Mean, MeanMetricWrapper, Metric, State
from .confusion import AUC, CURVES, EPSILON, NEG_INF, SUMMATIONS, Precision, Recall
from .loss_metrics import (MAE, MSE, BinaryCrossentropy, CategoricalCrossentropy, MeanAbsoluteError, MeanSquaredError,
                           SparseCategoricalCrossentropy, binary_crossentropy, categorical_crossentropy, mae,
                           mean_absolute_error, mean_squared_error, mse, sparse_categorical_crossentropy)
from .registry import CLASSES, KNOWN, get

__all__ = ["Metric", "Mean", "MeanMetricWrapper", "State", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Precision", "Recall", "AUC",
           "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy", "accuracy_for",
           "mean_squared_error", "mean_absolute_error", "binary_crossentropy", "categorical_crossentropy",
           "sparse_categorical_crossentropy", "mse", "MSE", "mae", "MAE", "get", "CLASSES", "KNOWN", "CURVES",
           "SUMMATIONS", "FLOATX", "EPSILON", "NEG_INF"]

__getattr__ = module_getattr(__name__, "metric", lambda: CLASSES)  # Keras's other metric classes: not here
