"""Callbacks: hooks into every model's fit with Keras's names, the list that dispatches them, and the
ones Keras users reach for."""
from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np

from . import saving, utils
from .inspect import named_weights
from .missing import module_getattr


HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
         "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
         "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end")


class Callback:
    """Override any hook; `self.model` is the model being trained. Setting model.stop_training = True
    ends training after the current batch."""
    model: Any = None

    def set_model(self, model: Any) -> None:
        self.model = model

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None: ...
    def on_test_begin(self, logs: dict | None = None) -> None: ...
    def on_test_end(self, logs: dict | None = None) -> None: ...
    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None: ...
    def on_predict_begin(self, logs: dict | None = None) -> None: ...
    def on_predict_end(self, logs: dict | None = None) -> None: ...
    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None: ...


class CallbackList:
    """Many callbacks as one: `callbacks.on_epoch_end(epoch, logs)` calls every callback's hook in order."""

    def __init__(self, callbacks: list[Callback], model: Any) -> None:
        self.callbacks, self.model = [], model
        for callback in callbacks:
            self.append(callback)

    def append(self, callback: Callback) -> None:
        if not isinstance(callback, Callback):
            raise TypeError(f"callbacks must be Callback instances, got {type(callback).__name__}")
        callback.set_model(self.model)
        self.callbacks.append(callback)

    def __getattr__(self, hook: str):
        if hook not in HOOKS:
            raise AttributeError(hook)

        def dispatch(*args: Any) -> None:
            for callback in self.callbacks:
                getattr(callback, hook)(*args)
        return dispatch


class History(Callback):
    """Records each epoch's logs: history.history["loss"][epoch], and so on."""

    def on_train_begin(self, logs=None):
        self.epoch: list[int] = []
        self.history: dict[str, list[float]] = {}
        self.model.history = self  # the run in progress, as Keras: callbacks such as GradientStats write into it

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


class TerminateOnNaN(Callback):
    """Stops training at the first batch whose loss is NaN or infinite, saying where it happened."""

    def on_epoch_begin(self, epoch, logs=None):
        self.current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.model.stop_training = True
            self.model.stop_reason = (f"TerminateOnNaN: the loss became {loss} at epoch {self.current_epoch + 1}, "
                                      f"batch {batch + 1}; training stopped (try a smaller learning rate)")
            print(self.model.stop_reason)


def _improves(mode: str, monitor: str, current: float, best: float, min_delta: float = 0.0) -> bool:
    if mode == "auto":
        mode = "max" if "acc" in monitor else "min"
    return current > best + min_delta if mode == "max" else current < best - min_delta


class ModelCheckpoint(Callback):
    """Saves the model (or only its weights) after every epoch, or only when `monitor` improves.
    `filepath` may name the epoch and any logged value, e.g. "ckpt-{epoch:02d}-{val_loss:.3f}.npz"."""

    def __init__(self, filepath: str, monitor: str = "val_loss", save_best_only: bool = False,
                 save_weights_only: bool = True, mode: str = "auto") -> None:
        self.filepath, self.monitor, self.save_best_only = str(filepath), monitor, save_best_only
        self.save_weights_only, self.mode, self.best = save_weights_only, mode, None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                raise ValueError(f"ModelCheckpoint monitors {self.monitor!r}, which is not logged; "
                                 f"logged: {sorted(logs)}")
            if self.best is not None and not _improves(self.mode, self.monitor, current, self.best):
                return
            self.best = current
        path = self.filepath.format(epoch=epoch + 1, **logs)
        self.model.save_weights(path) if self.save_weights_only else self.model.save(path)


class EarlyStopping(Callback):
    """Stops when `monitor` has not improved for `patience` epochs; restore_best_weights puts back
    the weights of the best epoch."""

    def __init__(self, monitor: str = "val_loss", patience: int = 0, restore_best_weights: bool = False,
                 min_delta: float = 0.0, mode: str = "auto") -> None:
        self.monitor, self.patience, self.min_delta, self.mode = monitor, patience, abs(min_delta), mode
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.best_weights, self.stopped_epoch = None, 0, None, None

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            raise ValueError(f"EarlyStopping monitors {self.monitor!r}, which is not logged; logged: {sorted(logs or {})}")
        if self.best is None or _improves(self.mode, self.monitor, current, self.best, self.min_delta):
            self.best, self.wait = current, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.model.stop_training, self.stopped_epoch = True, epoch
            if self.restore_best_weights and self.best_weights is not None:
                self.model.set_weights(self.best_weights)



class BackupAndRestore(Callback):
    """Survives a killed run. After every epoch it writes the weights, the optimizer's state, the
    number of epochs done and the random-number state to backup_dir/backup.npz (atomically: a kill
    mid-write leaves the previous backup whole). A later fit with the same callback starts from
    there and ends with the same weights as a run never interrupted. Removed when training ends."""

    def __init__(self, backup_dir: str, delete_on_end: bool = True) -> None:
        self.path = os.path.join(os.fspath(backup_dir), "backup.npz")
        self.delete_on_end = delete_on_end

    def on_train_begin(self, logs=None):
        if os.path.exists(self.path):
            arrays = saving.read_archive(self.path)
            self.model._restore_from(arrays, self.path)
            utils.set_random_state(json.loads(str(arrays["training/random_state"])))
            self.model._initial_epoch = int(arrays["training/epochs_done"])

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        arrays = self.model._to_arrays()
        arrays["training/epochs_done"] = np.array(epoch + 1)
        arrays["training/random_state"] = np.array(json.dumps(utils.get_random_state()))
        saving.write_archive(self.path, arrays)

    def on_train_end(self, logs=None):
        if self.delete_on_end and os.path.exists(self.path):
            os.remove(self.path)


class GradientStats(Callback):
    """Every `every` training batches, for each trainable weight w with gradient g: |g| and the
    update-to-weight ratio |w_after - w_before| / |w_before| (norms over all elements; inf for a weight
    that was all zeros). Into history.history, a value per recorded batch: "gradient_norm/<weight>" and
    "update_ratio/<weight>", weights named as inspect.named_weights does ("lstm/kernel"), and the
    batches' numbers counted from 0 over the whole run under "gradient_stats/step".

    |g| is the gradient as backward computed it, before any clipping; the update is what the optimizer
    did with it. It works by wrapping the optimizer's apply_gradients while fit runs."""

    def __init__(self, every: int = 1) -> None:
        self.every = utils.positive_int(every, "GradientStats' every")

    def on_train_begin(self, logs=None):
        self.history = self.model.history.history  # History ran first: this run's, already empty
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
        window = utils.positive_int(window, "window")
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


__getattr__ = module_getattr(__name__, "callback", lambda: [n for n, v in globals().items()
                                                            if isinstance(v, type) and issubclass(v, Callback)])
