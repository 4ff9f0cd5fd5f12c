"""Optimizers with Keras's update rules, updating weight Tensors in place.

    optimizer.apply_gradients(zip(grads, variables))   # Keras's call
    optimizer.step(variables)                          # the same, reading each variable's .grad
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from .missing import module_getattr
from .tensor import Tensor


def _positive(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not value > 0:
        raise ValueError(f"{what} must be a positive number, got {value!r}")
    return float(value)


class Optimizer:
    """What every optimizer shares: per-variable slots (moments), in the order the variables were
    first seen; clipping; the step count; state that can be read out and restored."""
    slot_names: tuple[str, ...] = ()

    def __init__(self, learning_rate: float, clipnorm: float | None = None) -> None:
        self.learning_rate = _positive(learning_rate, "learning_rate")
        self.clipnorm = None if clipnorm is None else _positive(clipnorm, "clipnorm")
        self.iterations = 0
        self._variables: list[Tensor] = []
        self._slots: list[dict[str, np.ndarray]] = []

    def build(self, variables: Sequence[Tensor]) -> None:
        """Fix the order of the variables' slots (what get_state and set_state rely on)."""
        for variable in variables:
            self._slots_of(variable)

    def _slots_of(self, variable: Tensor) -> dict[str, np.ndarray]:
        for known, slots in zip(self._variables, self._slots):
            if known is variable:
                return slots
        self._variables.append(variable)
        self._slots.append({name: np.zeros_like(variable.data) for name in self.slot_names})
        return self._slots[-1]

    def apply_gradients(self, grads_and_vars: Iterable[tuple[Any, Tensor]]) -> None:
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        self.iterations += 1
        for grad, variable in pairs:
            grad = np.asarray(grad, dtype=variable.dtype)
            if grad.shape != variable.shape:
                raise ValueError(f"gradient of shape {grad.shape} for a variable of shape {variable.shape}")
            if self.clipnorm is not None:  # Keras clips each variable's gradient on its own
                norm = float(np.sqrt(np.sum(grad * grad)))
                if norm > self.clipnorm:
                    grad = grad * (self.clipnorm / norm)
            self._update(variable.data, grad, self._slots_of(variable))

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
    """Keras's Adam: m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2);
    w -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + epsilon).
    The bias correction is folded into the step size, so epsilon is added to sqrt(v) uncorrected
    (PyTorch adds it to sqrt(v / (1 - b2^t)): the same rule with a slightly different epsilon)."""

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, clipnorm: float | None = None) -> None:
        super().__init__(learning_rate, clipnorm)
        for value, what in ((beta_1, "beta_1"), (beta_2, "beta_2")):
            if not 0 <= value < 1:
                raise ValueError(f"{what} must be in [0, 1), got {value!r}")
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), _positive(epsilon, "epsilon")
        self.amsgrad = bool(amsgrad)
        self.slot_names = ("m", "v", "v_hat") if amsgrad else ("m", "v")

    def get_config(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate, "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad, "clipnorm": self.clipnorm}

    def _update(self, value, grad, slots):
        t = self.iterations
        step_size = self.learning_rate * np.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)
        m, v = slots["m"], slots["v"]
        m += (grad - m) * (1 - self.beta_1)
        v += (grad * grad - v) * (1 - self.beta_2)
        if self.amsgrad:
            np.maximum(slots["v_hat"], v, out=slots["v_hat"])
            v = slots["v_hat"]
        value -= (step_size * m / (np.sqrt(v) + self.epsilon)).astype(value.dtype, copy=False)


class SGD(Optimizer):
    """Keras's SGD: w -= lr g; with momentum, velocity = momentum velocity - lr g; w += velocity."""

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, clipnorm: float | None = None) -> None:
        super().__init__(learning_rate, clipnorm)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        self.slot_names = ("velocity",) if momentum else ()

    def get_config(self) -> dict[str, Any]:
        return {"learning_rate": self.learning_rate, "momentum": self.momentum, "clipnorm": self.clipnorm}

    def _update(self, value, grad, slots):
        if self.momentum:
            velocity = slots["velocity"]
            velocity *= self.momentum
            velocity -= self.learning_rate * grad
            value += velocity
        else:
            value -= (self.learning_rate * grad).astype(value.dtype, copy=False)


KNOWN = {"adam": Adam, "sgd": SGD}


def get(identifier: Any) -> Optimizer:
    if isinstance(identifier, Optimizer):
        return identifier
    if not isinstance(identifier, str) or identifier.lower() not in KNOWN:
        raise ValueError(f"unknown optimizer {identifier!r}; known: {', '.join(sorted(KNOWN))}")
    return KNOWN[identifier.lower()]()


__getattr__ = module_getattr(__name__, "optimizer", lambda: ["Adam", "SGD"])
