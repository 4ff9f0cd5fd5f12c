"""Metrics as Keras 3 has them: stateful objects that accumulate over the batches of an epoch
(update_state), report (result) and start over (reset_state), and the per-sample functions most of them
average. Everything is numpy: a metric is watched, never differentiated.

A mean metric adds up value x weight and the weights over all samples seen, so its result over an epoch
is the weighted mean over every sample, not a mean of batch means. `get` resolves what compile is given
by Keras's rules (keras/src/trainers/compile_utils.py, get_metric): a name is logged as written ("acc"
logs acc and val_acc), and "accuracy"/"acc" (any case) pick binary, sparse categorical or categorical
accuracy from the shapes of the first batch (keras.metrics.get would give Accuracy, exact equality)."""
from __future__ import annotations

import re
from typing import Any, Callable, Sequence

import numpy as np

from . import initializers, losses
from .layers.base import snake_case, unique_name
from .missing import module_getattr
from .tensor import Tensor, no_grad

FLOATX = np.dtype("float32")  # Keras's default float type
EPSILON = 1e-7  # Keras's backend epsilon: AUC's end thresholds lie this far outside [0, 1]
NEG_INF = -1e10  # what top_k makes of the predictions it drops, and the threshold that keeps the others


def _array(value: Any) -> np.ndarray:
    return np.asarray(value.data if isinstance(value, Tensor) else value)


def _divide_no_nan(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b, and 0 where b is 0 (Keras's divide_no_nan: a ratio of empty counts is 0)."""
    a, b = np.broadcast_arrays(np.asarray(a), np.asarray(b))
    return np.divide(a, b, out=np.zeros(a.shape, np.result_type(a, b)), where=b != 0)


def _match_ranks(x1: np.ndarray, x2: np.ndarray, expand_rank_1: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Keras's squeeze_or_expand_to_same_rank: when the ranks differ by one and the longer array ends in
    an axis of 1, that axis goes, unless the shorter is a vector and expand_rank_1: then it gains one."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        return (x1, x2[..., None]) if x2.ndim == 1 and expand_rank_1 else (x1[..., 0], x2)
    if x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        return (x1[..., None], x2) if x1.ndim == 1 and expand_rank_1 else (x1, x2[..., 0])
    return x1, x2


def _aligned(y_true: Any, y_pred: Any, metric: str) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = _match_ranks(_array(y_true), _array(y_pred))
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{metric}: y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}")
    return y_true, y_pred


def _broadcast(weights: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    try:
        return np.broadcast_to(weights, shape)
    except ValueError:
        raise ValueError(f"sample_weight of shape {weights.shape} does not fit values of shape {shape}: give "
                         "one weight per sample, or one per value") from None


# ---- per-sample functions ----------------------------------------------------------------------------
def _equal(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where y_pred equals y_true exactly, else 0.0 (Accuracy's function)."""
    y_true, y_pred = _aligned(y_true, y_pred, "accuracy")
    return (y_true.astype(y_pred.dtype) == y_pred).astype(np.float32)


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> np.ndarray:
    """1.0 where (y_pred > threshold) equals y_true, else 0.0, per element; y_true is not thresholded."""
    y_true, y_pred = _aligned(y_true, y_pred, "binary_accuracy")
    return (y_true == (y_pred > threshold).astype(y_true.dtype)).astype(np.float32)


def categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where argmax(y_pred) equals argmax(y_true) over the last axis (one-hot labels), else 0.0."""
    y_true, y_pred = _array(y_true), _array(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"categorical_accuracy: y_true has shape {y_true.shape} but y_pred has shape "
                         f"{y_pred.shape}; integer labels need sparse_categorical_accuracy")
    return (y_true.argmax(-1) == y_pred.argmax(-1)).astype(np.float32)


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where argmax(y_pred) over the last axis equals the integer label, else 0.0."""
    y_true, y_pred = _array(y_true), _array(y_pred)
    expected = y_pred.shape[:-1]
    if y_true.shape == expected + (1,):
        y_true = y_true[..., 0]
    if y_pred.ndim == 0 or y_true.shape != expected:
        raise ValueError(f"sparse_categorical_accuracy: y_pred of shape {y_pred.shape} needs labels of shape "
                         f"{expected} or {expected + (1,)}, got y_true of shape {y_true.shape}")
    return (y_true == y_pred.argmax(-1)).astype(np.float32)


def accuracy_for(y_true: np.ndarray, y_pred: np.ndarray) -> Callable[..., np.ndarray]:
    """Keras's choice for "accuracy": binary for one output unit, sparse categorical for labels with
    fewer axes than y_pred (or one label per sample against several units), categorical otherwise."""
    if y_pred.shape[-1:] == (1,):
        return binary_accuracy
    if y_true.ndim < y_pred.ndim or y_true.shape[-1:] == (1,):
        return sparse_categorical_accuracy
    return categorical_accuracy


def _loss_values(loss: Callable, y_true: np.ndarray, y_pred: Any, **options: Any) -> np.ndarray:
    """A loss function of losses.py on arrays, in the predictions' own float precision."""
    y_pred = _array(y_pred)
    with no_grad():
        return loss(y_true, Tensor(y_pred.astype(np.result_type(y_pred, np.float32))), **options).data


def mean_squared_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """mean((y_pred - y_true)^2) over the last axis, per sample (losses.mean_squared_error on arrays)."""
    return _loss_values(losses.mean_squared_error, _array(y_true), y_pred)


def mean_absolute_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """mean(|y_pred - y_true|) over the last axis, per sample (losses.mean_absolute_error on arrays)."""
    return _loss_values(losses.mean_absolute_error, _array(y_true), y_pred)


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                        label_smoothing: float = 0.0) -> np.ndarray:
    """losses.binary_crossentropy per sample, against labels smoothed to y (1 - s) + s / 2."""
    labels = _array(y_true).astype(np.float64)
    return _loss_values(losses.binary_crossentropy, labels * (1 - label_smoothing) + label_smoothing / 2, y_pred,
                        from_logits=from_logits)


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                             label_smoothing: float = 0.0) -> np.ndarray:
    """losses.categorical_crossentropy per sample, against labels smoothed to y (1 - s) + s / classes."""
    labels = _array(y_true).astype(np.float64)
    classes = labels.shape[-1] if labels.ndim else 1
    return _loss_values(losses.categorical_crossentropy, labels * (1 - label_smoothing) + label_smoothing / classes,
                        y_pred, from_logits=from_logits)


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> np.ndarray:
    """losses.sparse_categorical_crossentropy per sample, on integer labels."""
    return _loss_values(losses.sparse_categorical_crossentropy, _array(y_true), y_pred, from_logits=from_logits)


mse = MSE = mean_squared_error  # Keras 2's module-level aliases
mae = MAE = mean_absolute_error


# ---- the Metric contract -----------------------------------------------------------------------------
class State(np.ndarray):
    """A metric's variable: a numpy array that Keras-style code may also update with assign / assign_add."""

    def assign(self, value: Any) -> State:
        self[...] = _array(value)
        return self

    def assign_add(self, value: Any) -> State:
        return self.assign(self + _array(value))

    def numpy(self) -> np.ndarray:
        return np.array(self)


class Metric:
    """Keras's Metric: its state made by add_variable in __init__, update_state(...) to accumulate a
    batch, result() to report, reset_state() to zero every variable. Subclass it as in Keras."""

    def __init__(self, dtype: Any = None, name: str | None = None) -> None:
        self.name = name or unique_name(snake_case(type(self).__name__))  # "precision", then "precision_1"
        self._dtype = FLOATX if dtype is None else np.dtype(dtype)
        self._variables: list[State] = []

    dtype = property(lambda self: self._dtype.name)
    variables = property(lambda self: list(self._variables))

    def add_variable(self, shape: Any, initializer: Any = "zeros", dtype: Any = None, aggregation: str = "sum",
                     name: str | None = None) -> State:
        """A new array of the metric's state (float32 unless dtype says otherwise, whatever the metric's
        dtype, as in Keras), zeroed by reset_state. `aggregation` and `name` are taken for Keras's
        signature: with one device there is nothing to aggregate, and there is no variable store."""
        if "_variables" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}.__init__ must call super().__init__() before add_variable")
        shape = tuple(shape) if isinstance(shape, (list, tuple)) else (shape,)
        variable = np.asarray(initializers.get(initializer)(shape, dtype or FLOATX)).copy().view(State)
        self._variables.append(variable)
        return variable

    def add_weight(self, shape: Any = (), initializer: Any = None, dtype: Any = None, name: str | None = None) -> State:
        """Keras's other spelling of add_variable (zeros unless an initializer is given)."""
        return self.add_variable(shape, initializer or "zeros", dtype, name=name)

    def reset_state(self) -> None:
        for variable in self._variables:
            variable[...] = 0

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define update_state(y_true, y_pred, sample_weight=None)")

    def result(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define result()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """update_state on this batch, then the result so far."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


def _mean_from(values: np.ndarray, axis: int) -> np.ndarray:
    """The mean over `axis` and every axis after it (values of lower rank are returned as they are)."""
    return values.mean(axis=tuple(range(axis, values.ndim))) if values.ndim > axis else values


def _per_sample(values: np.ndarray, sample_weight: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Keras's reduce_to_samplewise_values for a mean: the values, times their weights, and the weights
    (if any), each averaged over every axis after the first."""
    if sample_weight is None:
        return _mean_from(values, 1), None
    values, weights = _match_ranks(values, _array(sample_weight).astype(values.dtype))
    values = _mean_from(values, weights.ndim)  # weights per sample: each sample's values averaged first
    weights = _broadcast(weights, values.shape)
    return _mean_from(values * weights, 1), _mean_from(weights, 1)


class Mean(Metric):
    """The weighted mean of every value seen: total = sum(value x weight), count = sum(weight) (the number
    of samples unweighted); result = total / count, 0 before any."""

    def __init__(self, name: str = "mean", dtype: Any = None) -> None:
        super().__init__(dtype, name)
        self.total = self.add_variable((), dtype=self._dtype)
        self.count = self.add_variable((), dtype=self._dtype)

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        values, weights = _per_sample(_array(values).astype(self._dtype), sample_weight)
        self.total.assign_add(values.sum())
        self.count.assign_add(weights.sum() if weights is not None else len(values) if values.ndim else 1)

    def result(self) -> float:
        return float(_divide_no_nan(self.total, self.count))


def _masked(sample_weight: Any, mask: np.ndarray | None) -> Any:
    """Keras's apply_mask for metrics: the mask of y_pred (masked time steps) multiplies the weights."""
    if mask is None:
        return sample_weight
    if sample_weight is None:
        return mask.astype(np.float32)
    mask, weights = _match_ranks(mask.astype(np.float32), _array(sample_weight))
    # A weight per sample spreads over its steps (Keras lines it up with the mask's last axis instead,
    # which fails, or mixes samples and steps up when there are as many of each).
    return weights.reshape(weights.shape + (1,) * (mask.ndim - weights.ndim)) * mask


class MeanMetricWrapper(Mean):
    """The weighted mean of fn(y_true, y_pred, **kwargs), a value per sample (values per time step or
    element are averaged per sample first). A Tensor y_pred's mask weighs its time steps."""

    def __init__(self, fn: Callable[..., Any], name: str | None = None, dtype: Any = None, **kwargs: Any) -> None:
        super().__init__(name=name, dtype=dtype)
        self._fn, self._fn_kwargs = fn, kwargs

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        values = _array(self._fn(_array(y_true), _array(y_pred), **self._fn_kwargs))
        super().update_state(values, _masked(sample_weight, getattr(y_pred, "_keras_mask", None)))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self._fn_kwargs}


class Accuracy(MeanMetricWrapper):
    """How often y_pred equals y_true exactly (for class predictions; "accuracy" in compile is another)."""

    def __init__(self, name: str = "accuracy", dtype: Any = None) -> None:
        super().__init__(_equal, name, dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often (y_pred > threshold) equals the 0/1 label."""

    def __init__(self, name: str = "binary_accuracy", dtype: Any = None, threshold: float = 0.5) -> None:
        super().__init__(binary_accuracy, name, dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) is the class of the one-hot label."""

    def __init__(self, name: str = "categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(categorical_accuracy, name, dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) is the integer label."""

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(sparse_categorical_accuracy, name, dtype)


class _AccuracyByShapes(MeanMetricWrapper):
    """compile's "accuracy"/"acc": binary, sparse categorical or categorical accuracy as accuracy_for
    picks from the shapes of the first batch, kept from then on (Keras decides when compile builds)."""

    def __init__(self, name: str) -> None:
        super().__init__(None, name)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        if self._fn is None:
            self._fn = accuracy_for(_array(y_true), _array(y_pred))
        super().update_state(y_true, y_pred, sample_weight)


class MeanSquaredError(MeanMetricWrapper):
    """The weighted mean over samples of mean((y_pred - y_true)^2) over the last axis."""

    def __init__(self, name: str = "mean_squared_error", dtype: Any = None) -> None:
        super().__init__(mean_squared_error, name, dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """The weighted mean over samples of mean(|y_pred - y_true|) over the last axis."""

    def __init__(self, name: str = "mean_absolute_error", dtype: Any = None) -> None:
        super().__init__(mean_absolute_error, name, dtype)


def _last(axis: int) -> int:
    if axis != -1:
        raise ValueError(f"axis={axis}: the classes must be on the last axis (axis=-1) here")
    return axis


class BinaryCrossentropy(MeanMetricWrapper):
    """The weighted mean over samples of binary_crossentropy (labels smoothed by label_smoothing)."""

    def __init__(self, name: str = "binary_crossentropy", dtype: Any = None, from_logits: bool = False,
                 label_smoothing: float = 0) -> None:
        super().__init__(binary_crossentropy, name, dtype, from_logits=from_logits, label_smoothing=label_smoothing)
        self.from_logits, self.label_smoothing = from_logits, label_smoothing


class CategoricalCrossentropy(MeanMetricWrapper):
    """The weighted mean over samples of categorical_crossentropy (labels smoothed by label_smoothing)."""

    def __init__(self, name: str = "categorical_crossentropy", dtype: Any = None, from_logits: bool = False,
                 label_smoothing: float = 0, axis: int = -1) -> None:
        super().__init__(categorical_crossentropy, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, _last(axis)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """The weighted mean over samples of sparse_categorical_crossentropy."""

    def __init__(self, name: str = "sparse_categorical_crossentropy", dtype: Any = None, from_logits: bool = False,
                 ignore_class: int | None = None, axis: int = -1) -> None:
        if ignore_class is not None:
            raise ValueError(f"ignore_class={ignore_class} is not supported by this metric here: give the samples "
                             "of that class a sample_weight of 0 instead")
        super().__init__(sparse_categorical_crossentropy, name, dtype, from_logits=from_logits)
        self.from_logits, self.ignore_class, self.axis = from_logits, ignore_class, _last(axis)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "ignore_class": self.ignore_class, "axis": self.axis}


# ---- counts at thresholds: Precision, Recall, AUC ----------------------------------------------------
def _evenly_spread(thresholds: np.ndarray) -> bool:
    """Keras's is_evenly_distributed_thresholds: at least 3, at i / (n - 1) each (within epsilon)."""
    n = len(thresholds)
    return n >= 3 and bool(np.allclose(thresholds, np.arange(n) / (n - 1), atol=EPSILON))


def _top_k_only(y_pred: np.ndarray, k: int) -> np.ndarray:
    """The k largest predictions of each row (last axis) as they are, the others NEG_INF."""
    kept = np.zeros(y_pred.shape, bool)
    np.put_along_axis(kept, np.argsort(-y_pred, axis=-1, kind="stable")[..., :k], True, axis=-1)
    return np.where(kept, y_pred, NEG_INF)


def _prepared(y_true: Any, y_pred: Any, sample_weight: Any, dtype: np.dtype, top_k: int | None = None,
              class_id: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keras's preparation for counting (update_confusion_matrix_variables): ranks matched, a weight per
    sample spread over its values, only the top_k predictions of a row kept, only class_id's column.
    Returns (labels as booleans, predictions, weights), all of one shape."""
    y_pred, y_true = _match_ranks(_array(y_pred).astype(dtype), _array(y_true))
    weights = np.ones((), dtype)
    if sample_weight is not None:
        _, weights = _match_ranks(y_true, _array(sample_weight).astype(dtype)[..., None], expand_rank_1=False)
    if top_k is not None:
        y_pred = _top_k_only(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim < 2 or not 0 <= class_id < y_pred.shape[-1]:
            raise ValueError(f"class_id={class_id} needs predictions of shape (samples, classes) with more than "
                             f"{class_id} classes, got shape {y_pred.shape}")
        y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}")
    return y_true != 0, y_pred, _broadcast(weights, y_pred.shape)


def _counts(labels: np.ndarray, predictions: np.ndarray, weights: np.ndarray, thresholds: np.ndarray,
            by_label: bool = False) -> tuple[np.ndarray, ...]:
    """Weighted (true positives, false positives, true negatives, false negatives) at each threshold t,
    a prediction above t counting as positive: shape (thresholds,), or (thresholds, labels) by_label
    (rows of samples, a column per label)."""
    if not by_label:
        labels, predictions, weights = labels.reshape(-1), predictions.reshape(-1), weights.reshape(-1)
    positive, negative = labels * weights, ~labels * weights
    above = predictions[None] > thresholds.reshape((-1,) + (1,) * predictions.ndim)
    tp, fp = (above * positive).sum(axis=1), (above * negative).sum(axis=1)
    return tp, fp, negative.sum(axis=0) - fp, positive.sum(axis=0) - tp


def _thresholds(thresholds: Any, default: float) -> list[float]:
    if thresholds is None:
        return [default]
    values = [float(t) for t in np.atleast_1d(thresholds)]
    outside = [t for t in values if not 0 <= t <= 1]
    if outside:
        raise ValueError(f"thresholds must lie in [0, 1], got {outside}")
    return values


class _RatioOfCounts(Metric):
    """counts[0] / (counts[0] + counts[1]) at each threshold, from two counts accumulated over batches."""
    counted: tuple[str, str]

    def __init__(self, thresholds: Any = None, top_k: int | None = None, class_id: int | None = None,
                 name: str | None = None, dtype: Any = None) -> None:
        super().__init__(dtype, name)
        self.init_thresholds, self.top_k, self.class_id = thresholds, top_k, class_id
        self.thresholds = _thresholds(thresholds, 0.5 if top_k is None else NEG_INF)
        self._evenly = _evenly_spread(np.array(self.thresholds))
        for count in self.counted:
            setattr(self, count, self.add_variable((len(self.thresholds),)))

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        labels, predictions, weights = _prepared(y_true, y_pred, sample_weight, FLOATX, self.top_k,
                                                 self.class_id)
        if self._evenly:
            predictions = np.clip(predictions, 0, 1)  # Keras's fast path for such thresholds clips first
        counts = dict(zip(("true_positives", "false_positives", "true_negatives", "false_negatives"),
                          _counts(labels, predictions, weights, np.array(self.thresholds, FLOATX))))
        for count in self.counted:
            getattr(self, count).assign_add(counts[count])

    def result(self) -> float | np.ndarray:
        """A float for one threshold; an array of one value per threshold otherwise (as Keras)."""
        hits, misses = (getattr(self, count) for count in self.counted)
        ratio = _divide_no_nan(np.asarray(hits), hits + misses)
        return float(ratio[0]) if len(ratio) == 1 else ratio

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


class Precision(_RatioOfCounts):
    """TP / (TP + FP): of the predictions above the threshold (or in the top_k), the weighted fraction
    whose label is true; labels are true where nonzero."""
    counted = ("true_positives", "false_positives")


class Recall(_RatioOfCounts):
    """TP / (TP + FN): of the true labels, the weighted fraction predicted above the threshold (or in
    the top_k)."""
    counted = ("true_positives", "false_negatives")


CURVES = {"ROC": ("ROC", "roc"), "PR": ("PR", "pr"), "PRGAIN": ("PRGAIN", "prgain")}
SUMMATIONS = {method: (method, method.capitalize()) for method in ("interpolation", "majoring", "minoring")}


def _spelling(value: str, known: dict[str, tuple[str, ...]], what: str) -> str:
    for canonical, spellings in known.items():
        if value in spellings:
            return canonical
    raise ValueError(f"{what} must be one of {list(known)}, got {value!r}")


class AUC(Metric):
    """The area under the ROC curve (or the precision-recall or PR-gain curve), a Riemann sum over the
    curve's points at num_thresholds thresholds: -epsilon, i / (num_thresholds - 1) for i in
    1 .. num_thresholds - 2, and 1 + epsilon. "interpolation" averages the heights at an interval's ends
    (for PR, Davis & Goadrich's interpolation of the counts); "minoring" / "majoring" take their min / max."""

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC", summation_method: str = "interpolation",
                 name: str | None = None, dtype: Any = None, thresholds: Sequence[float] | None = None,
                 multi_label: bool = False, num_labels: int | None = None, label_weights: Any = None,
                 from_logits: bool = False) -> None:
        self.curve = _spelling(curve, CURVES, "curve")
        self.summation_method = _spelling(summation_method, SUMMATIONS, "summation_method")
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            self._evenly = _evenly_spread(np.array([0.0] + inner + [1.0]))
        elif num_thresholds <= 1:
            raise ValueError(f"num_thresholds must be an integer > 1, got {num_thresholds}")
        else:
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._evenly = True
        self.num_thresholds = len(inner) + 2
        self._thresholds = np.array([-EPSILON] + inner + [1 + EPSILON])
        if num_labels and not multi_label:
            raise ValueError(f"num_labels={num_labels} is for multi_label=True only")
        super().__init__(dtype, name)
        self.multi_label, self.num_labels, self._from_logits = multi_label, num_labels, from_logits
        self.label_weights = None if label_weights is None else np.asarray(label_weights, self._dtype)
        self._built = False
        if not multi_label or num_labels:
            self._build(num_labels)

    @property
    def thresholds(self) -> list[float]:
        return [float(t) for t in self._thresholds]

    def _build(self, labels: int | None) -> None:
        shape = (self.num_thresholds,) if labels is None else (self.num_thresholds, labels)
        self.true_positives, self.false_positives, self.true_negatives, self.false_negatives = (
            self.add_variable(shape) for _ in range(4))
        self._built = True

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_pred = _array(y_pred)
        if self.multi_label and y_pred.ndim != 2:
            raise ValueError(f"multi_label=True needs y_pred of shape (samples, labels), got shape {y_pred.shape}")
        if not self._built:
            self._build(y_pred.shape[1])
        if self._from_logits:
            y_pred = np.exp(-np.logaddexp(0, -y_pred))  # sigmoid, without overflow for large negative logits
        labels, predictions, weights = _prepared(y_true, y_pred, sample_weight, FLOATX)
        if self._evenly:
            predictions = np.clip(predictions, 0, 1)  # Keras's fast path for such thresholds clips first
        if self.label_weights is not None and not self.multi_label:
            weights = weights * _broadcast(self.label_weights, predictions.shape)
        counts = _counts(labels, predictions, weights, self._thresholds.astype(FLOATX), self.multi_label)
        for variable, count in zip(self.variables, counts):
            variable.assign_add(count)

    def _curve(self) -> tuple[np.ndarray, np.ndarray]:
        """The curve's points (x, y), one per threshold."""
        tp, fp, tn, fn = (np.asarray(v) for v in self.variables)
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            return _divide_no_nan(fp, fp + tn), recall
        if self.curve == "PR":
            return recall, _divide_no_nan(tp, tp + fp)
        scale = _divide_no_nan(tp + fn, tn + fp)  # PR gain (Flach & Kull), where tp = 0: recall 0, precision 1
        recall_gain = np.where(tp == 0, 0, 1 - scale * _divide_no_nan(fn, tp))
        precision_gain = np.where(tp == 0, 1, 1 - scale * _divide_no_nan(fp, tp))
        return np.maximum(recall_gain, 0), precision_gain

    def _heights(self, y: np.ndarray) -> np.ndarray:
        """Each interval's height from the curve's values at its two ends."""
        if self.summation_method == "interpolation":
            return (y[:-1] + y[1:]) / 2
        return (np.minimum if self.summation_method == "minoring" else np.maximum)(y[:-1], y[1:])

    def _interpolated_pr(self) -> np.ndarray:
        """Davis & Goadrich's PR area: TP and P = TP + FP vary linearly between thresholds, so precision
        TP / P integrates to slope * (dTP + intercept * log(P_A / P_B)), over the positives, per interval."""
        tp, fp, _, fn = (np.asarray(v) for v in self.variables)
        predicted = tp + fp
        d_tp, d_predicted = tp[:-1] - tp[1:], predicted[:-1] - predicted[1:]
        slope = _divide_no_nan(d_tp, np.maximum(d_predicted, 0))
        intercept = tp[1:] - slope * predicted[1:]
        both = (predicted[:-1] > 0) & (predicted[1:] > 0)
        ratio = np.where(both, _divide_no_nan(predicted[:-1], np.maximum(predicted[1:], 0)), 1)
        return _divide_no_nan(slope * (d_tp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0))

    def result(self) -> float:
        if self.curve == "PR" and self.summation_method == "interpolation":
            areas = self._interpolated_pr()
        else:
            x, y = self._curve()
            areas = (x[:-1] - x[1:]) * self._heights(y)
        by_label = areas.sum(axis=0)
        if not self.multi_label:
            return float(by_label)
        if self.label_weights is None:
            return float(by_label.mean())
        return float(_divide_no_nan((by_label * self.label_weights).sum(), self.label_weights.sum()))

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels, "from_logits": self._from_logits,
                  "label_weights": None if self.label_weights is None else self.label_weights.tolist()}
        return config | ({"thresholds": self.thresholds[1:-1]} if self._init_from_thresholds else {})


# ---- by name -----------------------------------------------------------------------------------------
CLASSES: dict[str, type[Metric]] = {cls.__name__: cls for cls in (
    Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError,
    BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy, Precision, Recall, AUC)}
KNOWN: dict[str, type[Metric]] = {**CLASSES, **{snake_case(name): cls for name, cls in CLASSES.items()},
                                  "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy, "mse": MeanSquaredError,
                                  "MSE": MeanSquaredError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError}


def get(identifier: Any) -> Metric:
    """A metric by the rules of Keras's compile (get_metric). A name gives a NEW metric named as written;
    "accuracy"/"acc" in any case choose by shapes at their first update_state. A Metric class is
    instantiated, a Metric instance returned as it is, a function f(y_true, y_pred) wrapped in a
    MeanMetricWrapper named after it, a {"class_name", "config"} dict rebuilt."""
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        return _AccuracyByShapes(identifier)
    if isinstance(identifier, str) and identifier in KNOWN:
        metric = KNOWN[identifier]()
        metric.name = identifier
        return metric
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
