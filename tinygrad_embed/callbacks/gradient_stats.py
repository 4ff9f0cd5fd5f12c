"""GradientStats: how large each weight's gradient is and how far each update moves the weight, batch
by batch, recorded into the History, and a plot of both. A study tool, not a Keras callback."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import helpers
from ..layers.weight_paths import named_weights
from .base import Callback


class GradientStats(Callback):
    """Every `every` training batches, for each trainable weight w with gradient g: |g| and the
    update-to-weight ratio |w_after - w_before| / |w_before| (norms over all elements; inf for a weight
    that was all zeros). Into history.history, a value per recorded batch: "gradient_norm/<weight>" and
    "update_ratio/<weight>", weights named as inspect.named_weights does ("lstm/kernel"), and the
    batches' numbers counted from 0 over the whole run under "gradient_stats/step".

    |g| is the gradient as backward computed it, before any clipping; the update is what the optimizer
    did with it. It works by wrapping the optimizer's apply_gradients while fit runs."""

    def __init__(self, every: int = 1) -> None:
        self.every = helpers.positive_int(every, "GradientStats' every")

    def on_train_begin(self, logs=None):
        self.history = self.model.history.history  # this run's History: the CallbackList put it on the model
        self._names = {id(weight): name for name, weight in named_weights(self.model).items()}
        self._step = 0
        optimizer, apply = self.model.optimizer, self.model.optimizer.apply_gradients
        optimizer.apply_gradients = lambda grads_and_vars: self._apply_and_record(apply, grads_and_vars)

    def on_train_end(self, logs=None):
        del self.model.optimizer.apply_gradients  # the class's method again

    def _apply_and_record(self, apply: Any, grads_and_vars: Any) -> None:
        step, self._step = self._step, self._step + 1
        if step % self.every:
            return apply(grads_and_vars)
        pairs = list(grads_and_vars)
        before = [variable.data.copy() for _, variable in pairs]
        apply(pairs)
        self.history.setdefault("gradient_stats/step", []).append(step)
        with np.errstate(divide="ignore", invalid="ignore"):
            for (grad, variable), old in zip(pairs, before):
                name = self._names[id(variable)]
                norm = math.nan if grad is None else float(np.linalg.norm(grad))
                ratio = float(np.linalg.norm(variable.data - old) / np.float64(np.linalg.norm(old)))
                self.history.setdefault(f"gradient_norm/{name}", []).append(norm)
                self.history.setdefault(f"update_ratio/{name}", []).append(ratio)

    @staticmethod
    def plot(history: dict[str, list[float]], window: int = 1) -> Any:
        """A matplotlib Figure of what GradientStats recorded in `history` (history.history): gradient
        norms and update ratios against the step, log scale, one line per weight, each value the mean
        over `window` recorded batches (1: as recorded). Needs matplotlib."""
        import matplotlib.pyplot as plt  # optional (the plot extra): imported only when a plot is asked for

        if "gradient_stats/step" not in history:
            raise ValueError("this history holds no GradientStats records: pass callbacks=[GradientStats()] to fit")
        window = helpers.positive_int(window, "window")
        steps = history["gradient_stats/step"][window - 1:]
        figure, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
        for axis, prefix, title in ((axes[0], "gradient_norm/", "gradient norm |g|"),
                                    (axes[1], "update_ratio/", "update / weight, |Δw| / |w|")):
            for key, values in history.items():
                if key.startswith(prefix):
                    means = np.convolve(values, np.ones(window) / window, mode="valid")
                    axis.plot(steps, means, label=key[len(prefix):], lw=1)
            suffix = f", mean of {window} batches" if window > 1 else ""
            axis.set(yscale="log", xlabel="training step", title=title + suffix)
        axes[1].legend(fontsize=8)
        figure.tight_layout()
        return figure
