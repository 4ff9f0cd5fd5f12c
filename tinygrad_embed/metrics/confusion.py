"""The metrics that count true and false positives and negatives at thresholds: Precision, Recall and
AUC (the area under the ROC, precision-recall or PR-gain curve), with Keras's preparation of the labels,
predictions and weights they count."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..losses import same_rank
from .base import FLOATX, Metric, _array, _broadcast, _divide_no_nan

EPSILON = 1e-7  # Keras's backend epsilon: AUC's end thresholds lie this far outside [0, 1]
NEG_INF = -1e10  # what top_k makes of the predictions it drops, and the threshold that keeps the others


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
    y_pred, y_true = same_rank(_array(y_pred).astype(dtype), _array(y_true))
    weights = np.ones((), dtype)
    if sample_weight is not None:
        _, weights = same_rank(y_true, _array(sample_weight).astype(dtype)[..., None], expand_rank_1=False)
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
