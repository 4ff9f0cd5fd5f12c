"""Gradient checking: the gradients backward() computes against central finite differences."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .tensor import Tensor, no_grad


class GradcheckError(AssertionError):
    """Analytic and numeric gradients disagree (a failed check, hence an AssertionError)."""


def gradcheck(fn: Callable[..., Tensor], inputs: Sequence[Tensor] | Tensor, eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, *, directions: int = 6,
              full_jacobian_max: int = 200, seed: int = 0) -> bool:
    """Check d(sum(fn(*inputs) * u))/d(input) for a random upstream gradient u, for every input that
    requires grad. Inputs of up to `full_jacobian_max` elements are perturbed one element at a time;
    larger ones (an embedding table, LSTM weights) along `directions` random directions."""
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck needs at least one input Tensor with requires_grad=True")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(
                f"gradcheck input {i} is {inputs[i].dtype}; it needs float64. A central difference with "
                f"eps={eps} cancels about half the significant digits: float32 keeps 7, too few to tell "
                "a right gradient from a wrong one. Build the input with dtype=np.float64.")
        inputs[i].data = np.array(inputs[i].data)  # a private, writable copy to perturb
        inputs[i].zero_grad()
    rng = np.random.default_rng(seed)
    out = fn(*inputs)
    if out.dtype != np.float64:
        raise TypeError(f"gradcheck needs fn to return float64, it returned {out.dtype}")
    upstream = rng.standard_normal(out.shape)  # not all ones: that hides a backward ignoring its input
    out.backward(upstream)

    def objective() -> float:
        with no_grad():
            return float(np.sum(fn(*inputs).data * upstream))

    for i in checked:
        t = inputs[i]
        grad = np.zeros(t.shape) if t.grad is None else t.grad
        if t.size <= full_jacobian_max:
            probes = np.eye(t.size).reshape((t.size,) + t.shape)
            where = [f"element {tuple(map(int, np.unravel_index(k, t.shape)))}" for k in range(t.size)]
        else:
            probes = rng.standard_normal((directions,) + t.shape)
            where = [f"random direction {k}" for k in range(directions)]
        analytic = np.array([np.sum(grad * d) for d in probes])
        numeric = np.array([_central_difference(objective, t.data, d, eps) for d in probes])
        _compare(i, t.shape, where, analytic, numeric, atol, rtol)
    return True


def _central_difference(objective: Callable[[], float], x: np.ndarray, direction: np.ndarray,
                        eps: float) -> float:
    """(f(x + eps d) - f(x - eps d)) / 2 eps, perturbing x in place and restoring it."""
    original = x.copy()
    x += eps * direction
    plus = objective()
    x[...] = original - eps * direction
    minus = objective()
    x[...] = original
    return (plus - minus) / (2 * eps)


def _compare(index: int, shape: tuple, where: list[str], analytic: np.ndarray, numeric: np.ndarray,
             atol: float, rtol: float) -> None:
    error = np.abs(analytic - numeric)
    ok = error <= atol + rtol * np.abs(numeric)  # False for NaN too
    if not ok.all():
        worst = int(np.argmax(np.where(ok, -np.inf, np.nan_to_num(error, nan=np.inf))))
        raise GradcheckError(
            f"gradient of input {index} (shape {shape}) is wrong at {where[worst]}: analytic "
            f"{analytic[worst]:.10g}, numeric {numeric[worst]:.10g}, |difference| {error[worst]:.3g} > "
            f"atol + rtol * |numeric| = {atol + rtol * abs(numeric[worst]):.3g} "
            f"({int((~ok).sum())} of {ok.size} checks failed)")
