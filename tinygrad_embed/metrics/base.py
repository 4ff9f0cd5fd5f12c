"""The Metric contract, and Mean and MeanMetricWrapper, which most metrics are; numpy, never differentiated."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import initializers
from ..helpers import snake_case, unique_name
from ..losses import same_rank
from ..tensor import Tensor

FLOATX = np.dtype("float32")  # Keras's default float type


def _array(value: Any) -> np.ndarray:
    """A Tensor's data, or anything else as a numpy array."""
    return np.asarray(value.data if isinstance(value, Tensor) else value)


def _divide_no_nan(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b, and 0 where b is 0 (Keras's divide_no_nan: a ratio of empty counts is 0)."""
    a, b = np.broadcast_arrays(np.asarray(a), np.asarray(b))
    return np.divide(a, b, out=np.zeros(a.shape, np.result_type(a, b)), where=b != 0)


def _broadcast(weights: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The weights broadcast to values of this shape, or an error naming both shapes."""
    try:
        return np.broadcast_to(weights, shape)
    except ValueError:
        raise ValueError(f"sample_weight of shape {weights.shape} does not fit values of shape {shape}: give "
                         "one weight per sample, or one per value") from None


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
    """Keras's Metric: state made by add_variable, update_state to add a batch, result, reset_state."""

    def __init__(self, dtype: Any = None, name: str | None = None) -> None:
        self.name = name or unique_name(snake_case(type(self).__name__))  # "precision", then "precision_1"
        self._dtype = FLOATX if dtype is None else np.dtype(dtype)
        self._variables: list[State] = []

    dtype = property(lambda self: self._dtype.name)
    variables = property(lambda self: list(self._variables))

    def add_variable(self, shape: Any, initializer: Any = "zeros", dtype: Any = None, aggregation: str = "sum",
                     name: str | None = None) -> State:
        """A new array of the metric's state, float32 unless dtype says (as in Keras); aggregation and name unused."""
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
        """Zero every variable: the metric starts over."""
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
    """Keras's reduce_to_samplewise_values for a mean: each sample's mean value (times its weight), its weight."""
    if sample_weight is None:
        return _mean_from(values, 1), None
    values, weights = same_rank(values, _array(sample_weight).astype(values.dtype))
    values = _mean_from(values, weights.ndim)  # weights per sample: each sample's values averaged first
    if weights.shape != values.shape:
        weights = _broadcast(weights, values.shape)
    return _mean_from(values * weights, 1), _mean_from(weights, 1)


class Mean(Metric):
    """The weighted mean of every value seen: sum(value x weight) / sum(weight), over every sample."""

    def __init__(self, name: str = "mean", dtype: Any = None) -> None:
        super().__init__(dtype, name)
        self.total = self.add_variable((), dtype=self._dtype)
        self.count = self.add_variable((), dtype=self._dtype)

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        """Add a batch: its values times their weights to total, the weights (or the samples) to count."""
        values, weights = _per_sample(_array(values).astype(self._dtype), sample_weight)
        self.total += values.sum()
        self.count += weights.sum() if weights is not None else len(values) if values.ndim else 1

    def result(self) -> float:
        """total / count: the mean over the epoch's samples, not a mean of batch means; 0 before any."""
        return float(self.total / self.count) if self.count != 0 else 0.0


def _masked(sample_weight: Any, mask: np.ndarray) -> Any:
    """Keras's apply_mask for metrics: the mask of y_pred (masked time steps) multiplies the weights."""
    if sample_weight is None:
        return mask.astype(np.float32)
    mask, weights = same_rank(mask.astype(np.float32), _array(sample_weight))
    # A weight per sample spreads over its steps (Keras lines it up with the mask's last axis instead,
    # which fails, or mixes samples and steps up when there are as many of each).
    return weights.reshape(weights.shape + (1,) * (mask.ndim - weights.ndim)) * mask


class MeanMetricWrapper(Mean):
    """The weighted mean of fn(y_true, y_pred, **kwargs), a value per sample (or per step, averaged)."""

    def __init__(self, fn: Callable[..., Any], name: str | None = None, dtype: Any = None, **kwargs: Any) -> None:
        super().__init__(name=name, dtype=dtype)
        self._fn, self._fn_kwargs = fn, kwargs

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add the batch's values of fn; y_pred's Keras mask, if any, weighs its time steps."""
        values = _array(self._fn(_array(y_true), _array(y_pred), **self._fn_kwargs))
        mask = getattr(y_pred, "_keras_mask", None)
        super().update_state(values, sample_weight if mask is None else _masked(sample_weight, mask))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self._fn_kwargs}
