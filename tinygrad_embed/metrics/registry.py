"""get, which makes a metric of what compile was given by Keras's rules (compile_utils.get_metric)."""
from __future__ import annotations

from typing import Any

from ..helpers import snake_case
from . import accuracy, confusion, loss_metrics
from .base import MeanMetricWrapper, Metric


def get(identifier: Any) -> Metric:
    """A NEW metric named as written: "accuracy" or "acc" (any case) one that chooses by shapes; other forms below."""
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        return accuracy._AccuracyByShapes(identifier)
    return _by_name(identifier) if isinstance(identifier, str) else _from_object(identifier)


CLASSES: dict[str, type[Metric]] = {cls.__name__: cls for cls in (
    accuracy.Accuracy, accuracy.BinaryAccuracy, accuracy.CategoricalAccuracy, accuracy.SparseCategoricalAccuracy,
    loss_metrics.MeanSquaredError, loss_metrics.MeanAbsoluteError, loss_metrics.BinaryCrossentropy,
    loss_metrics.CategoricalCrossentropy, loss_metrics.SparseCategoricalCrossentropy, confusion.Precision,
    confusion.Recall, confusion.AUC)}
ALIASES = {"bce": "BinaryCrossentropy", "BCE": "BinaryCrossentropy", "mse": "MeanSquaredError",
           "MSE": "MeanSquaredError", "mae": "MeanAbsoluteError", "MAE": "MeanAbsoluteError"}  # as Keras's get
KNOWN: dict[str, type[Metric]] = {**CLASSES, **{snake_case(name): cls for name, cls in CLASSES.items()},
                                  **{alias: CLASSES[name] for alias, name in ALIASES.items()}}


def _by_name(identifier: str) -> Metric:
    """get's other names: a class's name or its snake_case, or an alias; "acc" logs acc and val_acc."""
    if identifier not in KNOWN:
        return _from_object(identifier)  # which refuses it, naming the known ones
    metric = KNOWN[identifier]()
    metric.name = identifier
    return metric


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
        return MeanMetricWrapper(identifier, name=snake_case(name))
    raise ValueError(f"unknown metric {identifier!r}; known names: accuracy, acc, {', '.join(sorted(KNOWN))}; or "
                     "a Metric, a Metric class, or a function f(y_true, y_pred) of per-sample values")
