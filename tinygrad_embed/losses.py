"""Losses as Keras 3 has them (docs/losses.md): functions of one value per sample, and Loss classes."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .activations import log_softmax
from .helpers import snake_case
from .missing import module_getattr
from .tensor import Tensor

EPSILON = 1e-7  # Keras's backend epsilon: probabilities are clipped to [EPSILON, 1 - EPSILON]


def _predictions(y_pred: Any, dtype: Any = np.float32) -> Tensor:
    """y_pred as a Tensor: a Tensor as it is (a cast would cut its gradient), an array as one of `dtype`."""
    return y_pred if isinstance(y_pred, Tensor) else Tensor(np.asarray(y_pred, dtype=dtype))


def _labels(y_true: Any, loss: str) -> np.ndarray:
    """y_true as a numpy array of numbers; labels of any other dtype are refused."""
    y_true = np.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
    if y_true.dtype.kind not in "biuf":
        raise TypeError(f"{loss}: y_true must be numeric, got an array of dtype {y_true.dtype}")
    return y_true


def _targets_and_predictions(y_true: Any, y_pred: Any, loss: str) -> tuple[Tensor, Tensor]:
    """y_true and y_pred as Tensors of y_pred's dtype and of the same shape; NaN labels are refused."""
    y_pred, y_true = _predictions(y_pred), _labels(y_true, loss)
    if y_true.shape != y_pred.shape:
        y_true = _with_axis_of_one(y_true, y_pred.shape, loss)
    if y_true.dtype.kind == "f" and np.isnan(y_true).any():
        raise ValueError(f"{loss}: y_true contains NaN at position {_position(np.isnan(y_true))}")
    return Tensor(y_true.astype(y_pred.dtype)), y_pred


def _with_axis_of_one(y_true: np.ndarray, shape: tuple[int, ...], loss: str) -> np.ndarray:
    """Labels (batch,) against predictions (batch, 1) gain the axis, as Keras allows; other shapes are refused."""
    if shape[-1:] == (1,) and y_true.shape == shape[:-1]:
        return y_true[..., None]
    raise ValueError(f"{loss}: y_true has shape {y_true.shape} but y_pred has shape {shape}")


def _position(mask: np.ndarray) -> tuple[int, ...]:
    """The index of the first True in mask, for an error message."""
    return tuple(map(int, np.argwhere(mask)[0]))


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0,
                        axis: int = -1) -> Tensor:
    """-(y log p + (1 - y) log(1 - p)), the mean over `axis`."""
    y, p = _targets_and_predictions(y_true, y_pred, "binary_crossentropy")
    if ((y.data < 0) | (y.data > 1)).any():
        _refuse_binary_labels(y.data)
    if label_smoothing:
        y = _smoothed(y, label_smoothing, 2, "binary_crossentropy")
    if from_logits:  # log p = log_sigmoid(x) and log(1 - p) = log_sigmoid(-x): finite for any x
        log_likelihood = y * p.log_sigmoid() + (1 - y) * (-p).log_sigmoid()
    else:
        p = p.clip(EPSILON, 1 - EPSILON)  # as Keras does: a confident mistake costs -log(1e-7), not infinity
        log_likelihood = y * p.log() + (1 - y) * (1 - p).log()
    return -log_likelihood.mean(axis=axis)


def _refuse_binary_labels(y: np.ndarray) -> None:
    """The error for binary labels outside [0, 1], naming the first few and where they are."""
    outside = (y < 0) | (y > 1)
    raise ValueError(f"binary_crossentropy needs labels in [0, 1], got {y[outside][:5].tolist()} "
                     f"(first at position {_position(outside)})")


def _check_label_smoothing(label_smoothing: float, loss: str) -> None:
    """A ValueError unless label_smoothing is a fraction in [0, 1]."""
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"{loss}: label_smoothing is a fraction in [0, 1], got {label_smoothing!r}")


def _smoothed(y: Tensor, label_smoothing: float, classes: int, loss: str) -> Tensor:
    """Labels smoothed by s: y (1 - s) + s / classes, which for two classes moves each label halfway-ward."""
    _check_label_smoothing(label_smoothing, loss)
    return y * (1 - label_smoothing) + label_smoothing / classes


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0,
                             axis: int = -1) -> Tensor:
    """-sum(y log p) over `axis` (the classes), for one-hot or soft labels; p is normalised to sum to
    1 and clipped as Keras does, or computed by log_softmax from logits."""
    y, p = _targets_and_predictions(y_true, y_pred, "categorical_crossentropy")
    check_distributions(y.data, axis)
    if label_smoothing:
        y = _smoothed(y, label_smoothing, y.shape[axis], "categorical_crossentropy")
    if from_logits:
        log_p = log_softmax(p, axis)
    else:
        log_p = (p / p.sum(axis=axis, keepdims=True)).clip(EPSILON, 1 - EPSILON).log()
    return -(y * log_p).sum(axis=axis)


DISTRIBUTION_TOLERANCE = 1e-3  # how far from 1 a row of soft targets may sum: rounding, not a mistake


def check_distributions(y: np.ndarray, axis: int = -1, what: str = "y_true") -> None:
    """categorical_crossentropy's targets: along `axis`, each row a distribution (one-hot or soft), or all
    zeros (no target: a padded step, whose loss is 0). Keras's formula assumes it and computes anything;
    a negative target or a row summing to 2 gives a loss that means nothing, so they are refused here,
    naming the value and where it is (docs/nothing-silent.md)."""
    negative = y < 0
    if negative.any():
        raise ValueError(f"categorical_crossentropy: {what} holds {y[negative][0]} at position {_position(negative)}"
                         "; targets are probabilities, never negative")
    sums = y.sum(axis=axis, dtype=np.float64)  # float16 targets would round their own sums
    off = ~(np.abs(sums - 1) <= DISTRIBUTION_TOLERANCE) & (sums != 0)  # NaN sums are off too
    if off.any():
        raise ValueError(f"categorical_crossentropy: each row of {what} along axis {axis} is a distribution over "
                         f"the classes, summing to 1, but the row at position {_position(off)} sums to "
                         f"{sums[off][0]:.6g} (integer class labels take sparse_categorical_crossentropy)")


def check_targets(loss: Loss | None, y_true: np.ndarray) -> None:
    """A whole data set's targets against what `loss` assumes of them, before training: categorical
    cross-entropy's rows are distributions (check_distributions). Every loss checks its batches too."""
    if isinstance(loss, LossFunctionWrapper) and loss.fn is categorical_crossentropy:
        check_distributions(np.asarray(y_true), loss.fn_kwargs.get("axis", -1), "y")


def class_indices(y_true: Any, y_pred_shape: tuple[int, ...], name: str) -> np.ndarray:
    """Integer labels of shape y_pred_shape[:-1] (a trailing axis of 1 is dropped, as Keras does),
    each a class index in [0, classes); anything else is refused naming the bad label."""
    labels = _labels(y_true, name)
    if len(y_pred_shape) == 0:
        raise ValueError(f"{name}: y_pred needs a last axis of classes, got a scalar")
    expected, classes = tuple(y_pred_shape[:-1]), y_pred_shape[-1]
    if labels.shape == expected + (1,):
        labels = labels[..., 0]
    if labels.shape != expected:
        raise ValueError(f"{name}: y_pred of shape {tuple(y_pred_shape)} needs integer labels of shape {expected} "
                         f"or {expected + (1,)}, got y_true of shape {labels.shape}")
    fractional = labels != np.floor(labels) if labels.dtype.kind == "f" else np.zeros(labels.shape, bool)
    if fractional.any():  # NaN included
        raise ValueError(f"{name}: labels are class indices (whole numbers), got {labels[fractional][0]} "
                         f"at position {_position(fractional)}")
    outside = (labels < 0) | (labels >= classes)
    if outside.any():
        raise ValueError(f"{name}: label {labels[outside][0]} at position {_position(outside)} is out of range "
                         f"for {classes} classes (expected 0 to {classes - 1})")
    return labels.astype(np.int64)


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                                    ignore_class: int | None = None) -> Tensor:
    """-log p[label] per sample: categorical_crossentropy against the one-hot form of integer labels,
    with the same normalising and clipping of p (or log_softmax from logits). Samples labelled
    `ignore_class` get 0 and a Keras mask (`_keras_mask`), so that a Loss averages over the others."""
    p = _predictions(y_pred)
    labels, kept = _labels(y_true, "sparse_categorical_crossentropy"), None
    if ignore_class is not None:
        kept = labels != ignore_class
        labels = np.where(kept, labels, 0)  # any valid class: its loss is multiplied by 0 below
    labels = class_indices(labels, p.shape, "sparse_categorical_crossentropy")
    values = categorical_crossentropy(np.eye(p.shape[-1], dtype=p.dtype)[labels], p, from_logits=from_logits)
    if kept is None:
        return values
    kept = kept.reshape(labels.shape)
    values = values * kept.astype(values.dtype)
    values._keras_mask = kept
    return values


def _abs(x: Tensor) -> Tensor:
    """|x| as relu(x) + relu(-x): its gradient at 0 is 0, as Keras's (the sign function's) is."""
    return x.relu() + (-x).relu()


def mean_squared_error(y_true: Any, y_pred: Any) -> Tensor:
    """mean((y_pred - y_true)^2) over the last axis."""
    y, p = _targets_and_predictions(y_true, y_pred, "mean_squared_error")
    return ((p - y) ** 2).mean(axis=-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> Tensor:
    """mean(|y_pred - y_true|) over the last axis, with gradient 0 where the two are equal."""
    y, p = _targets_and_predictions(y_true, y_pred, "mean_absolute_error")
    return _abs(p - y).mean(axis=-1)


def _check_delta(delta: float) -> None:
    """A ValueError unless delta is positive."""
    if not delta > 0:
        raise ValueError(f"huber: delta is the positive |error| where the loss turns linear, got {delta!r}")


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> Tensor:
    """mean over the last axis of d^2 / 2 where |d| <= delta and delta |d| - delta^2 / 2 beyond
    (d = y_pred - y_true): squared error near the target, absolute error for the outliers."""
    _check_delta(delta)
    y, p = _targets_and_predictions(y_true, y_pred, "huber")
    error = p - y
    quadratic = (np.abs(error.data) <= delta).astype(error.dtype)  # the branch each element takes: a constant
    return (0.5 * error ** 2 * quadratic + (delta * _abs(error) - 0.5 * delta ** 2) * (1 - quadratic)).mean(axis=-1)


mse = MSE = mean_squared_error  # Keras 2's module-level aliases
mae = MAE = mean_absolute_error
FUNCTIONS: dict[str, Callable[..., Tensor]] = {f.__name__: f for f in (
    binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy, mean_squared_error,
    mean_absolute_error, huber)}
ALIASES = {"bce": binary_crossentropy, "BCE": binary_crossentropy, "mse": mean_squared_error,
           "MSE": mean_squared_error, "mae": mean_absolute_error, "MAE": mean_absolute_error}  # as Keras's get
KNOWN = {**FUNCTIONS, **ALIASES}


# ---- reduction: Keras's weighting, masking and normalisers ---------------------------------------------
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


class Reduction:
    """Keras 2's names for the reductions (tf.keras.losses.Reduction); Keras 3 takes the strings."""
    AUTO = SUM_OVER_BATCH_SIZE = "sum_over_batch_size"  # AUTO meant this outside distributed training
    SUM = "sum"
    NONE = "none"


def same_rank(x1: Any, x2: Any, expand_rank_1: bool = True) -> tuple[Any, Any]:
    """Keras's squeeze_or_expand_to_same_rank, for two Tensors or arrays whose ranks differ by one."""
    if len(x2.shape) == len(x1.shape) + 1:
        x2, x1 = same_rank(x2, x1, expand_rank_1)  # the same, with x2 the longer
    elif len(x1.shape) == len(x2.shape) + 1 and x1.shape[-1:] == (1,):
        if len(x2.shape) == 1 and expand_rank_1:
            x2 = x2.reshape(tuple(x2.shape) + (1,))  # a vector gains an axis
        else:
            x1 = x1.reshape(tuple(x1.shape[:-1]))  # the longer drops its last axis, of 1
    return x1, x2


def reduce_weighted_values(values: Tensor, sample_weight: Any = None, mask: np.ndarray | None = None,
                           reduction: str | None = "sum_over_batch_size") -> Tensor:
    """sum(values * weights), divided as `reduction` says (docs/losses.md); a divisor of 0 gives 0, not NaN."""
    _check_reduction(reduction)
    weight = None
    if sample_weight is not None or mask is not None:
        values, weight = _weighted(values, sample_weight, mask, reduction)
    if reduction in (None, "none") or values.shape in ((), (0,)):
        return values
    total = values.sum()
    if reduction == "sum":
        return total
    divisor = float(weight.sum()) if reduction == "mean_with_sample_weight" and weight is not None else values.size
    return total / divisor if divisor != 0 else total * 0.0


def _check_reduction(reduction: Any) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, REDUCTIONS))}; got {reduction!r}")


def _weighted(values: Tensor, sample_weight: Any, mask: np.ndarray | None, reduction: str | None
              ) -> tuple[Tensor, np.ndarray]:
    """The values times their weights (the mask folded in by _masked), and those weights."""
    weight = None if sample_weight is None else np.asarray(
        sample_weight.data if isinstance(sample_weight, Tensor) else sample_weight, dtype=values.dtype)
    if mask is not None:
        weight = _masked(weight, mask, values.dtype, reduction)
    values, weight = same_rank(values, weight)
    return _broadcast_product(weight, values, "the losses"), weight


def _masked(weight: np.ndarray | None, mask: np.ndarray, dtype: np.dtype, reduction: str | None) -> np.ndarray:
    """The weights times the mask. For the averaging reductions a kept value weighs (all values / kept
    values), so that the mean over all of them is the mean over the kept ones."""
    kept = np.count_nonzero(mask)
    scale = mask.size / kept if reduction in ("sum_over_batch_size", "mean") and kept else 1.0
    mask_weight = (mask * scale).astype(dtype)
    if weight is None:
        return mask_weight
    mask_weight, weight = same_rank(mask_weight, weight)
    return _broadcast_product(weight, mask_weight, "the mask")


def _broadcast_product(weight: Any, values: Any, what: str) -> Any:
    """values * weight, or an error naming both shapes when they do not broadcast."""
    try:
        np.broadcast_shapes(tuple(weight.shape), tuple(values.shape))
    except ValueError:
        raise ValueError(f"sample_weight of shape {tuple(weight.shape)} does not fit {what} of shape "
                         f"{tuple(values.shape)} (after dropping or adding a trailing axis of 1, as Keras does)"
                         ) from None
    return values * weight


# ---- the classes ----------------------------------------------------------------------------------------
def _float_dtype(dtype: Any) -> np.dtype:
    """dtype as a numpy dtype, if it is a floating-point one; a ValueError otherwise."""
    if np.dtype(dtype).kind != "f":
        raise ValueError(f"a loss computes in a floating-point dtype, got dtype={dtype!r}")
    return np.dtype(dtype)


class Loss:
    """Keras's loss base class: call(y_true, y_pred) gives a value per sample; calling the loss reduces them."""

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size",
                 dtype: Any = None) -> None:
        _check_reduction(reduction)
        self.name = name or snake_case(type(self).__name__)
        self.reduction = reduction
        self.dtype = None if dtype is None else _float_dtype(dtype)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Tensor:
        """The values of call, weighted, masked and reduced to one (reduce_weighted_values)."""
        dtype = self.dtype if self.dtype is not None else (
            y_pred.dtype if isinstance(y_pred, Tensor) and y_pred.dtype.kind == "f" else np.dtype(np.float32))
        values = self.call(Tensor(_labels(y_true, self.name).astype(dtype)), _predictions(y_pred, dtype))
        values = values if isinstance(values, Tensor) else Tensor(np.asarray(values, dtype=dtype))
        mask = _mask(y_pred, values) if hasattr(y_pred, "_keras_mask") or hasattr(values, "_keras_mask") else None
        return reduce_weighted_values(values, sample_weight, mask, self.reduction)

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred), returning the "
                                  "loss of each sample")

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        return cls(**config)

    def __repr__(self) -> str:
        settings = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({settings})"


def _mask(y_pred: Any, values: Tensor) -> np.ndarray | None:
    """y_pred's Keras mask (from a masking layer) and the values' (ignore_class's): a value counts if both keep it."""
    masks = [np.asarray(m, bool) for m in (getattr(y_pred, "_keras_mask", None), getattr(values, "_keras_mask", None))
             if m is not None]
    return np.logical_and(masks[0], masks[-1]) if masks else None  # with one mask: that mask


class LossFunctionWrapper(Loss):
    """A Loss from a function fn(y_true, y_pred, **kwargs) of per-sample values."""

    def __init__(self, fn: Callable[..., Tensor], reduction: str | None = "sum_over_batch_size",
                 name: str | None = None, dtype: Any = None, **kwargs: Any) -> None:
        if not callable(fn):
            raise TypeError(f"LossFunctionWrapper needs a function fn(y_true, y_pred), got {fn!r:.60}")
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn, self.fn_kwargs = fn, kwargs

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        """fn of y_true and y_pred, first brought to the same rank as Keras does."""
        return self.fn(*same_rank(y_true, y_pred), **self.fn_kwargs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "fn": getattr(self.fn, "__name__", repr(self.fn)), **self.fn_kwargs}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        config = dict(config)
        name = config.pop("fn")
        if name not in FUNCTIONS:
            raise ValueError(f"LossFunctionWrapper config names fn={name!r}, not one of {', '.join(FUNCTIONS)}")
        return cls(FUNCTIONS[name], **config)


class _BuiltIn(LossFunctionWrapper):
    """A Keras loss class: one of the functions above with its keyword arguments, which (not the
    function) make up the config."""

    def get_config(self) -> dict[str, Any]:
        return {**Loss.get_config(self), **self.fn_kwargs}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        return cls(**config)


class BinaryCrossentropy(_BuiltIn):
    """binary_crossentropy as a Loss."""

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str | None = "sum_over_batch_size", name: str = "binary_crossentropy",
                 dtype: Any = None) -> None:
        _check_label_smoothing(label_smoothing, name)
        super().__init__(binary_crossentropy, reduction, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis


class CategoricalCrossentropy(_BuiltIn):
    """categorical_crossentropy as a Loss."""

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str | None = "sum_over_batch_size", name: str = "categorical_crossentropy",
                 dtype: Any = None) -> None:
        _check_label_smoothing(label_smoothing, name)
        super().__init__(categorical_crossentropy, reduction, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis


class SparseCategoricalCrossentropy(_BuiltIn):
    """sparse_categorical_crossentropy as a Loss: samples labelled ignore_class count for nothing,
    neither in the sum nor in the number of samples it is divided by."""

    def __init__(self, from_logits: bool = False, ignore_class: int | None = None,
                 reduction: str | None = "sum_over_batch_size", name: str = "sparse_categorical_crossentropy",
                 dtype: Any = None) -> None:
        super().__init__(sparse_categorical_crossentropy, reduction, name, dtype, from_logits=from_logits,
                         ignore_class=ignore_class)
        self.from_logits, self.ignore_class = from_logits, ignore_class


class MeanSquaredError(_BuiltIn):
    """mean_squared_error as a Loss."""

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "mean_squared_error",
                 dtype: Any = None) -> None:
        super().__init__(mean_squared_error, reduction, name, dtype)


class MeanAbsoluteError(_BuiltIn):
    """mean_absolute_error as a Loss."""

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "mean_absolute_error",
                 dtype: Any = None) -> None:
        super().__init__(mean_absolute_error, reduction, name, dtype)


class Huber(_BuiltIn):
    """huber as a Loss. Unlike Keras's, its config keeps delta, so from_config gives the same loss."""

    def __init__(self, delta: float = 1.0, reduction: str | None = "sum_over_batch_size", name: str = "huber_loss",
                 dtype: Any = None) -> None:
        _check_delta(delta)
        super().__init__(huber, reduction, name, dtype, delta=delta)
        self.delta = delta


CLASSES: dict[str, type[Loss]] = {cls.__name__: cls for cls in (
    BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy, MeanSquaredError,
    MeanAbsoluteError, Huber)}


def serialize(loss: Loss) -> dict[str, Any]:
    """Keras's serialized form of a loss object: its class name and config."""
    return {"module": "keras.losses", "class_name": type(loss).__name__, "config": loss.get_config(),
            "registered_name": None}


def deserialize(config: dict[str, Any]) -> Loss:
    """The loss object that `serialize` (or Keras's) described."""
    classes = {**CLASSES, "LossFunctionWrapper": LossFunctionWrapper}
    if config.get("class_name") not in classes:
        raise ValueError(f"cannot deserialize a loss of class {config.get('class_name')!r}; "
                         f"the classes here are {', '.join(classes)}")
    return classes[config["class_name"]].from_config(config.get("config", {}))


def get(identifier: Any) -> Loss | None:
    """A Loss as Keras's compile makes one: a function's name (or alias) wrapped, named as written; see below."""
    if isinstance(identifier, str) and identifier in KNOWN:
        return LossFunctionWrapper(KNOWN[identifier], name=identifier)
    return _by_name(identifier) if isinstance(identifier, str) else _from_object(identifier)


def _by_name(identifier: str) -> Loss:
    """get's other names: a Loss class's, instantiated with its defaults; an unknown name is refused."""
    if identifier in CLASSES:
        return CLASSES[identifier]()
    raise ValueError(f"unknown loss {identifier!r}; known: {', '.join(sorted(FUNCTIONS))}, the classes "
                     f"{', '.join(CLASSES)} (and the aliases {', '.join(ALIASES)})")


def _from_object(identifier: Any) -> Loss | None:
    """get's other forms: a Loss as is, a Loss class instantiated, a function in a LossFunctionWrapper,
    a serialized loss (dict) rebuilt; None stays None."""
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return LossFunctionWrapper(identifier, name=_object_name(identifier))
    raise ValueError(f"cannot interpret {identifier!r:.60} as a loss: expected a name, a Loss, a Loss class, "
                     "a function or a serialized loss")


def _object_name(fn: Any) -> str:
    """The name a function (or a callable object) gives its LossFunctionWrapper: its own, in snake_case."""
    return getattr(fn, "name", None) or snake_case(getattr(fn, "__name__", type(fn).__name__))


__getattr__ = module_getattr(__name__, "loss", lambda: [*FUNCTIONS, *CLASSES])  # Keras's other losses: not here
