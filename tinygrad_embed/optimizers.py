"""Optimizers with Keras's update rules, updating weight Tensors in place.

    optimizer.apply_gradients(zip(grads, variables))   # Keras's call
    optimizer.step(variables)                          # the same, reading each variable's .grad

As in Keras, each gradient is clipped first (clipnorm: each variable's gradient on its own is rescaled to at most
that L2 norm; clipvalue: each element is clipped to [-clipvalue, clipvalue]), then the optimizer's rule is applied."""
from __future__ import annotations

import warnings
from typing import Any, Iterable, Sequence

import numpy as np

from . import kernels
from .helpers import fraction, is_number, positive
from .missing import module_getattr
from .tensor import Tensor


class _Default(float):
    """A default learning rate: lets `lr=` tell it apart from the same number given explicitly."""


def _keras2_learning_rate(learning_rate: float, lr: float) -> float:
    """The learning rate given as `lr`, Keras 2's deprecated spelling."""
    if not isinstance(learning_rate, _Default):
        raise TypeError(f"got both learning_rate={learning_rate!r} and lr={lr!r}: lr is the old name of "
                        "learning_rate, give only learning_rate")
    # stacklevel 4: the warning points at the user's line, above the optimizer's and the base's __init__
    warnings.warn("lr is deprecated; use learning_rate", DeprecationWarning, stacklevel=4)
    return positive(lr, "lr")


class Optimizer:
    """What every optimizer shares: per-variable slots (moments), in the order the variables were
    first seen; clipping; the step count; state that can be read out and restored."""
    slot_names: tuple[str, ...] = ()

    def __init__(self, learning_rate: float, clipnorm: float | None = None, clipvalue: float | None = None,
                 lr: float | None = None) -> None:
        self.learning_rate = (positive(learning_rate, "learning_rate") if lr is None
                              else _keras2_learning_rate(learning_rate, lr))
        if clipnorm is not None and clipvalue is not None:
            raise ValueError(f"give clipnorm or clipvalue, not both; got clipnorm={clipnorm!r}, "
                             f"clipvalue={clipvalue!r}")
        self.clipnorm = None if clipnorm is None else positive(clipnorm, "clipnorm")
        self.clipvalue = None if clipvalue is None else positive(clipvalue, "clipvalue")
        self.iterations = 0
        self._variables: list[Tensor] = []
        self._slots: list[dict[str, np.ndarray]] = []

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments: `type(opt)(**opt.get_config())` is the same optimizer, unbuilt."""
        return {"learning_rate": self.learning_rate, "clipnorm": self.clipnorm, "clipvalue": self.clipvalue}

    def build(self, variables: Sequence[Tensor]) -> None:
        """Fix the order of the variables' slots (what get_state and set_state rely on)."""
        for variable in variables:
            self._slots_of(variable)

    def _slots_of(self, variable: Tensor) -> dict[str, np.ndarray]:
        for known, slots in zip(self._variables, self._slots):
            if known is variable:
                return slots
        self._variables.append(variable)
        self._slots.append({name: self._new_slot(name, variable.data) for name in self.slot_names})
        return self._slots[-1]

    def _new_slot(self, name: str, value: np.ndarray) -> np.ndarray:
        return np.zeros(value.shape, value.dtype)  # C order, whatever the variable's: Adam's kernel reads it flat

    def apply_gradients(self, grads_and_vars: Iterable[tuple[Any, Tensor]]) -> None:
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        self.iterations += 1
        for grad, variable in pairs:
            grad = np.asarray(grad, dtype=variable.dtype)
            if grad.shape != variable.shape or variable.dtype.kind != "f":  # Adam's kernel would wrap an int
                raise ValueError(f"a gradient of shape {grad.shape} for a variable of shape {variable.shape}, dtype "
                                 f"{variable.dtype}: optimizers update float variables by gradients of their shape")
            if self.clipvalue is not None or self.clipnorm is not None:
                grad = self._clip(grad)
            self._update(variable.data, grad, self._slots_of(variable))

    def _clip(self, grad: np.ndarray) -> np.ndarray:
        """Keras's clipvalue (each element) or clipnorm (each variable's gradient on its own)."""
        if self.clipvalue is not None:
            return np.clip(grad, -self.clipvalue, self.clipvalue)
        norm = float(np.sqrt(np.sum(grad * grad)))
        return grad * (self.clipnorm / norm) if norm > self.clipnorm else grad

    def step(self, variables: Iterable[Tensor]) -> None:
        """apply_gradients with each variable's own .grad (variables without one are left alone)."""
        self.apply_gradients([(v.grad, v) for v in variables])

    def _update(self, value: np.ndarray, grad: np.ndarray, slots: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def get_state(self) -> dict[str, np.ndarray]:
        """Step count and every slot, as plain arrays: what a checkpoint needs to resume exactly."""
        state = {"iterations": np.array(self.iterations, np.int64)}
        for index, slots in enumerate(self._slots):
            state.update({f"{index}/{name}": array.copy() for name, array in slots.items()})
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        expected = {f"{i}/{name}": slots[name].shape for i, slots in enumerate(self._slots) for name in slots}
        given = {k: np.shape(v) for k, v in state.items() if k != "iterations"}
        if "iterations" not in state or given != expected:
            raise ValueError(f"optimizer state does not fit: expected 'iterations' and {expected}, got "
                             f"{sorted(state)} with shapes {given} (build the optimizer on the same variables first)")
        self.iterations = int(state["iterations"])
        for key, array in given.items():
            index, name = key.split("/")
            self._slots[int(index)][name][...] = state[key]


class Adam(Optimizer):
    """Keras's Adam, in place in the weights' type, in Keras's order of operations: m += (g - m)(1 - b1);
    v += (g^2 - v)(1 - b2); w -= lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + epsilon), one pass (kernels.py).
    The bias correction is in the step size: epsilon meets sqrt(v) uncorrected (PyTorch's, sqrt(v / (1 - b2^t)))."""

    def __init__(self, learning_rate: float = _Default(0.001), beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, clipnorm: float | None = None,
                 clipvalue: float | None = None, *, lr: float | None = None) -> None:
        super().__init__(learning_rate, clipnorm, clipvalue, lr)
        self.beta_1, self.beta_2 = fraction(beta_1, "beta_1"), fraction(beta_2, "beta_2")
        self.epsilon = positive(epsilon, "epsilon")
        self.amsgrad = bool(amsgrad)
        self.slot_names = ("m", "v", "v_hat") if amsgrad else ("m", "v")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}

    def _update(self, value, grad, slots):
        t, kind, flat = self.iterations, value.dtype.type, value.reshape(-1)  # a copy when value is strided
        step_size = self.learning_rate * np.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)
        kernels.adam_update(flat, *(slots.get(name, flat[:0]).reshape(-1) for name in ("m", "v", "v_hat")),
                            grad.reshape(-1), *map(kind, (1 - self.beta_1, 1 - self.beta_2, step_size, self.epsilon)))
        if not value.flags.c_contiguous:
            value[...] = flat.reshape(value.shape)


class SGD(Optimizer):
    """Keras's SGD: w -= lr g. With momentum: velocity <- momentum velocity - lr g, then w += velocity;
    with nesterov as well, w += momentum velocity - lr g (the step looks ahead along the new velocity)."""

    def __init__(self, learning_rate: float = _Default(0.01), momentum: float = 0.0, nesterov: bool = False,
                 clipnorm: float | None = None, clipvalue: float | None = None, *, lr: float | None = None) -> None:
        super().__init__(learning_rate, clipnorm, clipvalue, lr)
        self.momentum = fraction(momentum, "momentum", one_allowed=True)
        self.nesterov = bool(nesterov)
        self.slot_names = ("velocity",) if momentum else ()

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}

    def _update(self, value, grad, slots):
        if not self.momentum:  # as in Keras, nesterov without momentum is plain SGD
            value -= (self.learning_rate * grad).astype(value.dtype, copy=False)
            return
        velocity = slots["velocity"]
        velocity *= self.momentum
        velocity -= self.learning_rate * grad
        if self.nesterov:
            value += self.momentum * velocity - self.learning_rate * grad
        else:
            value += velocity


class RMSprop(Optimizer):
    """Keras's RMSprop: velocity <- rho velocity + (1 - rho) g^2; step = lr g / sqrt(velocity + epsilon)
    (epsilon inside the root, unlike Adam). centered: also average <- rho average + (1 - rho) g, and the
    root is of velocity - average^2 + epsilon, the gradient's variance rather than its second moment.
    momentum: buffer <- momentum buffer + step, w -= buffer; without it, w -= step."""

    def __init__(self, learning_rate: float = _Default(0.001), rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, clipnorm: float | None = None,
                 clipvalue: float | None = None, *, lr: float | None = None) -> None:
        super().__init__(learning_rate, clipnorm, clipvalue, lr)
        self.rho = fraction(rho, "rho")
        self.momentum = fraction(momentum, "momentum", one_allowed=True)
        self.epsilon = positive(epsilon, "epsilon")
        self.centered = bool(centered)
        self.slot_names = (("velocity",) + (("momentum",) if momentum else ())
                           + (("average_gradient",) if centered else ()))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}

    def _update(self, value, grad, slots):
        velocity = slots["velocity"]
        velocity *= self.rho
        velocity += (1 - self.rho) * grad * grad
        if self.centered:
            average = slots["average_gradient"]
            average *= self.rho
            average += (1 - self.rho) * grad
            denominator = velocity - average * average + self.epsilon
        else:
            denominator = velocity + self.epsilon
        step = self.learning_rate * grad / np.sqrt(denominator)
        if self.momentum:
            buffer = slots["momentum"]
            buffer *= self.momentum
            buffer += step
            step = buffer
        value -= step.astype(value.dtype, copy=False)


class Adagrad(Optimizer):
    """Keras's Adagrad: accumulator += g^2, starting from initial_accumulator_value;
    w -= lr g / sqrt(accumulator + epsilon). Steps only shrink, each weight at its own pace."""
    slot_names = ("accumulator",)

    def __init__(self, learning_rate: float = _Default(0.001), initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7, clipnorm: float | None = None, clipvalue: float | None = None, *,
                 lr: float | None = None) -> None:
        super().__init__(learning_rate, clipnorm, clipvalue, lr)
        if not is_number(initial_accumulator_value) or not initial_accumulator_value >= 0:
            raise ValueError(f"initial_accumulator_value must be a number >= 0, got {initial_accumulator_value!r}")
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = positive(epsilon, "epsilon")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}

    def _new_slot(self, name, value):
        return np.full_like(value, self.initial_accumulator_value)

    def _update(self, value, grad, slots):
        accumulator = slots["accumulator"]
        accumulator += grad * grad
        value -= (self.learning_rate * grad / np.sqrt(accumulator + self.epsilon)).astype(value.dtype, copy=False)


KNOWN = {cls.__name__.lower(): cls for cls in (Adam, SGD, RMSprop, Adagrad)}


def get(identifier: Any) -> Optimizer:
    """An optimizer from an instance (returned as is), a name in any case ("rmsprop", "RMSprop"), or a
    config dict {"class_name": ..., "config": {...}} as get_config writes it."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in KNOWN:
        return KNOWN[identifier.lower()]()
    return _from_config(identifier)


def _from_config(identifier: Any) -> Optimizer:
    """get's other form, a config dict; a ValueError naming the known optimizers for anything else."""
    name, config = identifier, {}
    if isinstance(identifier, dict):
        name, config = identifier.get("class_name"), identifier.get("config", {})
    if not isinstance(name, str) or name.lower() not in KNOWN:
        raise ValueError(f"unknown optimizer {identifier!r}; known: {', '.join(sorted(KNOWN))}")
    return KNOWN[name.lower()](**config)


__getattr__ = module_getattr(__name__, "optimizer", lambda: [cls.__name__ for cls in KNOWN.values()])
