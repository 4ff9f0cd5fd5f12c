"""Losses with Keras 3's conventions. The functions give one value per sample (the mean over the last
axis, or the sum over the classes for the cross-entropies); the `Loss` classes wrap them and reduce
those values to the scalar that training minimises, with Keras's weighting, masking and normalisers."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .activations import log_softmax
from .helpers import snake_case
from .missing import module_getattr
from .tensor import Tensor

EPSILON = 1e-7  # Keras's backend epsilon: probabilities are clipped to [EPSILON, 1 - EPSILON]


def _position(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(map(int, np.argwhere(mask)[0]))


def _predictions(y_pred: Any) -> Tensor:
    return y_pred if isinstance(y_pred, Tensor) else Tensor(np.asarray(y_pred, dtype=np.float32))


def _labels(y_true: Any, loss: str) -> np.ndarray:
    y_true = np.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
    if y_true.dtype.kind not in "biuf":
        raise TypeError(f"{loss}: y_true must be numeric, got an array of dtype {y_true.dtype}")
    return y_true


def _targets_and_predictions(y_true: Any, y_pred: Any, loss: str) -> tuple[Tensor, Tensor]:
    y_pred, y_true = _predictions(y_pred), _labels(y_true, loss)
    if y_true.shape != y_pred.shape:
        if y_pred.shape[-1:] == (1,) and y_true.shape == y_pred.shape[:-1]:
            y_true = y_true[..., None]  # labels (batch,) against predictions (batch, 1), as Keras allows
        else:
            raise ValueError(f"{loss}: y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}")
    if np.isnan(y_true).any() if y_true.dtype.kind == "f" else False:
        raise ValueError(f"{loss}: y_true contains NaN at position {_position(np.isnan(y_true))}")
    return Tensor(y_true.astype(y_pred.dtype)), y_pred


def _check_label_smoothing(label_smoothing: float, loss: str) -> None:
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"{loss}: label_smoothing is a fraction in [0, 1], got {label_smoothing!r}")


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0,
                        axis: int = -1) -> Tensor:
    """-(y log p + (1 - y) log(1 - p)), mean over `axis`. From logits x, log p = log_sigmoid(x) and
    log(1 - p) = log_sigmoid(-x), finite for any x; otherwise p is clipped as Keras does. Label
    smoothing s moves each label halfway-ward: y (1 - s) + s / 2."""
    _check_label_smoothing(label_smoothing, "binary_crossentropy")
    y, p = _targets_and_predictions(y_true, y_pred, "binary_crossentropy")
    outside = (y.data < 0) | (y.data > 1)
    if outside.any():
        raise ValueError(f"binary_crossentropy needs labels in [0, 1], got {y.data[outside][:5].tolist()} "
                         f"(first at position {_position(outside)})")
    if label_smoothing:
        y = y * (1 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        log_likelihood = y * p.log_sigmoid() + (1 - y) * (-p).log_sigmoid()
    else:
        p = p.clip(EPSILON, 1 - EPSILON)
        log_likelihood = y * p.log() + (1 - y) * (1 - p).log()
    return -log_likelihood.mean(axis=axis)


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False, label_smoothing: float = 0.0,
                             axis: int = -1) -> Tensor:
    """-sum(y log p) over `axis` (the classes), for one-hot or soft labels; p is normalised to sum to
    1 and clipped as Keras does, or computed by log_softmax from logits. Label smoothing s over C
    classes gives y (1 - s) + s / C."""
    _check_label_smoothing(label_smoothing, "categorical_crossentropy")
    y, p = _targets_and_predictions(y_true, y_pred, "categorical_crossentropy")
    if label_smoothing:
        y = y * (1 - label_smoothing) + label_smoothing / y.shape[axis]
    if from_logits:
        log_p = log_softmax(p, axis)
    else:
        log_p = (p / p.sum(axis=axis, keepdims=True)).clip(EPSILON, 1 - EPSILON).log()
    return -(y * log_p).sum(axis=axis)


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


def standardize_reduction(reduction: str | None) -> str | None:
    """`reduction` itself, if it is one of Keras's; a ValueError naming the allowed ones otherwise."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, REDUCTIONS))}; got {reduction!r}")
    return reduction


def same_rank(x1: Any, x2: Any) -> tuple[Any, Any]:
    """Keras's squeeze-or-expand: when one rank is one more than the other and ends in an axis of 1,
    that axis goes, unless the other is rank 1, which gains one instead. Tensors or arrays."""
    if len(x2.shape) == len(x1.shape) + 1:
        x2, x1 = same_rank(x2, x1)
    elif len(x1.shape) == len(x2.shape) + 1 and x1.shape[-1:] == (1,):
        if len(x2.shape) == 1:
            x2 = x2.reshape(tuple(x2.shape) + (1,))
        else:
            x1 = x1.reshape(tuple(x1.shape[:-1]))
    return x1, x2


def _weights(sample_weight: Any, mask: np.ndarray | None, dtype: np.dtype, reduction: str | None) -> np.ndarray | None:
    """The sample weights as an array, with the mask folded in (_masked) when there is one."""
    weight = None if sample_weight is None else np.asarray(
        sample_weight.data if isinstance(sample_weight, Tensor) else sample_weight, dtype=dtype)
    return weight if mask is None else _masked(weight, mask, dtype, reduction)


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
    try:
        np.broadcast_shapes(tuple(weight.shape), tuple(values.shape))
    except ValueError:
        raise ValueError(f"sample_weight of shape {tuple(weight.shape)} does not fit {what} of shape "
                         f"{tuple(values.shape)} (after dropping or adding a trailing axis of 1, as Keras does)"
                         ) from None
    return values * weight


def reduce_weighted_values(values: Tensor, sample_weight: Any = None, mask: np.ndarray | None = None,
                           reduction: str | None = "sum_over_batch_size") -> Tensor:
    """sum(values * weights), divided by the number of values ("sum_over_batch_size", "mean") or by
    the sum of the weights ("mean_with_sample_weight"), or not divided ("sum"); None and "none" return
    the weighted values. A divisor of 0 gives 0, not NaN, as Keras's divide_no_nan."""
    reduction = standardize_reduction(reduction)
    weight = _weights(sample_weight, mask, values.dtype, reduction)
    if weight is not None:
        values, weight = same_rank(values, weight)
        values = _broadcast_product(weight, values, "the losses")
    if reduction in (None, "none") or values.shape in ((), (0,)):
        return values
    total = values.sum()
    if reduction == "sum":
        return total
    divisor = float(weight.sum()) if reduction == "mean_with_sample_weight" and weight is not None else values.size
    return total / divisor if divisor != 0 else total * 0.0


# ---- the classes ----------------------------------------------------------------------------------------
def _float_dtype(dtype: Any) -> np.dtype:
    if np.dtype(dtype).kind != "f":
        raise ValueError(f"a loss computes in a floating-point dtype, got dtype={dtype!r}")
    return np.dtype(dtype)


class Loss:
    """Keras's loss base class: a subclass's call(y_true, y_pred) gives a value per sample (or per
    element), and calling the loss weights, masks and reduces them (see reduce_weighted_values)."""

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size",
                 dtype: Any = None) -> None:
        self.name = name or snake_case(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        self.dtype = None if dtype is None else _float_dtype(dtype)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Tensor:
        """The reduced loss; y_pred's Keras mask (from a masking layer) and the one call gives its
        values (ignore_class) both count. Plain arrays and y_true become Tensors of the loss's dtype
        (default: y_pred's own, or float32); a y_pred Tensor keeps its dtype, as a cast would cut its
        gradient."""
        dtype = self.dtype if self.dtype is not None else (
            y_pred.dtype if isinstance(y_pred, Tensor) and y_pred.dtype.kind == "f" else np.dtype(np.float32))
        in_mask = getattr(y_pred, "_keras_mask", None)
        y_pred = y_pred if isinstance(y_pred, Tensor) else Tensor(np.asarray(y_pred, dtype=dtype))
        values = self.call(Tensor(_labels(y_true, self.name).astype(dtype)), y_pred)
        values = values if isinstance(values, Tensor) else Tensor(np.asarray(values, dtype=dtype))
        masks = [np.asarray(m, bool) for m in (in_mask, getattr(values, "_keras_mask", None)) if m is not None]
        mask = np.logical_and(masks[0], masks[-1]) if masks else None  # with one mask: that mask
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


class LossFunctionWrapper(Loss):
    """A Loss from a function fn(y_true, y_pred, **kwargs) of per-sample values; y_true and y_pred
    are first brought to the same rank as Keras does (same_rank)."""

    def __init__(self, fn: Callable[..., Tensor], reduction: str | None = "sum_over_batch_size",
                 name: str | None = None, dtype: Any = None, **kwargs: Any) -> None:
        if not callable(fn):
            raise TypeError(f"LossFunctionWrapper needs a function fn(y_true, y_pred), got {fn!r:.60}")
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn, self.fn_kwargs = fn, kwargs

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
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


def _object_name(fn: Any) -> str:
    return getattr(fn, "name", None) or snake_case(getattr(fn, "__name__", type(fn).__name__))


def get(identifier: Any) -> Loss | None:
    """A Loss for `identifier`, as Keras's compile makes one: a Loss class name instantiated, a function
    name (or alias) in a LossFunctionWrapper named as given; the other forms in _from_object."""
    if not isinstance(identifier, str):
        return _from_object(identifier)
    if identifier in CLASSES:
        return CLASSES[identifier]()
    if identifier in KNOWN:
        return LossFunctionWrapper(KNOWN[identifier], name=identifier)
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


__getattr__ = module_getattr(__name__, "loss", lambda: [*FUNCTIONS, *CLASSES])  # Keras's other losses: not here
