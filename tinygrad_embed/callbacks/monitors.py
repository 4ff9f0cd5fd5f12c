"""The callbacks that act on a run between epochs: stop it (EarlyStopping), change its learning rate
(ReduceLROnPlateau, LearningRateScheduler), save it (ModelCheckpoint). Most watch a
logged value, and share how they tell an improvement (_MonitorCallback). BackupAndRestore is in backup.py."""
from __future__ import annotations

import inspect
import numbers
import os
import warnings
from typing import Any, Callable

import numpy as np

from ..saving.archive import EXTENSION
from .base import Callback, _learning_rate


# Parts of metric names that say which way is better, for mode="auto" (Keras asks the metric object).
_HIGHER_IS_BETTER = ("acc", "auc", "precision", "recall", "f1_score", "fbeta_score", "iou", "r2_score",
                     "cosine_similarity")
_LOWER_IS_BETTER = ("error", "crossentropy", "mse", "mae", "mape", "msle", "hinge", "divergence", "poisson",
                    "logcosh")


def _higher_is_better(monitor: str) -> bool:
    """mode="auto": whether the monitored value should rise, told from its name (val_ aside)."""
    name = monitor.removeprefix("val_")
    if name == "loss" or name.endswith("_loss"):  # an output's loss, whatever the output is called
        return False
    if any(part in name for part in _HIGHER_IS_BETTER):
        return True
    if any(part in name for part in _LOWER_IS_BETTER):
        return False
    raise ValueError(f"cannot tell whether {monitor!r} should go up or down: pass mode='max' or mode='min'")


class _MonitorCallback(Callback):
    """What the callbacks that watch a logged value share (Keras's MonitorCallback): `current` improves on
    `reference` when it is better by more than min_delta, "better" meaning lower (mode="min"), higher
    (mode="max") or, with "auto", whichever suits the monitored metric."""

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0, baseline: float | None = None) -> None:
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor, self.mode, self.min_delta, self.best = monitor, mode, abs(min_delta), baseline

    _STATE = ("best",)  # what a resumed run needs back (BackupAndRestore saves it)

    def state_dict(self) -> dict[str, Any]:
        """What this callback carries from epoch to epoch, for BackupAndRestore (PyTorch's name)."""
        return {name: getattr(self, name) for name in self._STATE}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in self._STATE:
            setattr(self, name, state[name])

    def _is_improvement(self, current: float, reference: float | None) -> bool:
        if reference is None:
            return True
        if self.mode == "max" or (self.mode == "auto" and _higher_is_better(self.monitor)):
            return current - self.min_delta > reference
        return current + self.min_delta < reference

    def _monitored(self, logs: dict | None, what: str) -> float | None:
        """The monitored value, or None with Keras's warning when it is not logged."""
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"{what} is conditioned on {self.monitor!r}, which is not logged; logged: "
                          f"{', '.join(logs or {})}", stacklevel=3)
        return current


class ModelCheckpoint(_MonitorCallback):
    """Saves the model (or only its weights) after every epoch, or only when `monitor` improves.
    `filepath` may name the epoch and any logged value, e.g. "model-{epoch:02d}-{val_loss:.3f}.keras". As in
    Keras, a whole model goes to .keras (or this project's own archive, .npz), weights alone to .weights.h5
    (or .npz); Keras 2's legacy .h5/.hdf5 files are taken for both, as Keras 2 did (Keras 3 takes .h5 for a
    whole model only). Any other name is refused when the callback is made."""

    def __init__(self, filepath: str | os.PathLike, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False, mode: str = "auto") -> None:
        super().__init__(monitor, mode)
        self.filepath, self.verbose = os.fspath(filepath), verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        endings = (".weights.h5" if save_weights_only else ".keras", ".h5", ".hdf5", EXTENSION)  # .h5: Keras 2's
        if not self.filepath.endswith(endings) or (self.filepath.endswith(".weights.h5") and not save_weights_only):
            raise ValueError(f"When using `save_weights_only={save_weights_only}` in `ModelCheckpoint`, the filepath "
                             f"provided must end in {' or '.join(map(repr, endings))} (a "
                             f"{'weights' if save_weights_only else 'whole-model'} file). Received: "
                             f"filepath={self.filepath}")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                raise ValueError(f"ModelCheckpoint monitors {self.monitor!r}, which is not logged; "
                                 f"logged: {sorted(logs)}")
            if not self._is_improvement(current, self.best):
                return
            self.best = current
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        self.model.save_weights(path) if self.save_weights_only else self.model.save(path)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: finished saving model to {path}")


class EarlyStopping(_MonitorCallback):
    """Keras's EarlyStopping. From epoch start_from_epoch on, each epoch that does not improve `monitor`
    on the best so far (and, given a baseline, on it) adds one to `wait`; training stops once wait reaches
    `patience` (never at epoch 0). restore_best_weights: the best epoch's weights are put back when
    training ends, stopped early or not."""

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", baseline: float | None = None, restore_best_weights: bool = False,
                 start_from_epoch: int = 0) -> None:
        super().__init__(monitor, mode, min_delta)
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch
        self.wait, self.stopped_epoch, self.best_epoch, self.best_weights = 0, 0, 0, None

    _STATE = ("best", "wait", "stopped_epoch", "best_epoch", "best_weights")

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_epoch, self.best, self.best_weights = 0, 0, 0, None, None

    def on_epoch_end(self, epoch, logs=None):
        current = self._monitored(logs, "EarlyStopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # something to restore even when no epoch beats the baseline
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
        elif self.wait >= self.patience and epoch > 0:
            self.stopped_epoch, self.model.stop_training = epoch, True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ReduceLROnPlateau(_MonitorCallback):
    """Keras's ReduceLROnPlateau: after `patience` epochs without an improvement of `monitor` by more than
    min_delta, learning_rate becomes max(learning_rate * factor, min_lr) (unless it is at min_lr already),
    then `cooldown` epochs pass before epochs without improvement count again. Logs learning_rate."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, verbose: int = 0,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0) -> None:
        super().__init__(monitor, mode, min_delta)
        if not factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau's factor multiplies the learning rate: it must be < 1.0, got {factor}")
        self.factor, self.patience, self.verbose = factor, patience, verbose
        self.cooldown, self.min_lr = cooldown, min_lr
        self.wait, self.cooldown_counter = 0, 0

    _STATE = ("best", "wait", "cooldown_counter")

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.cooldown_counter = None, 0, 0

    def on_epoch_end(self, epoch, logs=None):
        logs = {} if logs is None else logs
        logs["learning_rate"] = _learning_rate(self.model)
        current = self._monitored(logs, "ReduceLROnPlateau")
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter, self.wait = self.cooldown_counter - 1, 0
        if self._is_improvement(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience and self._reduce(epoch, logs["learning_rate"]):
                self.cooldown_counter, self.wait = self.cooldown, 0

    def _reduce(self, epoch: int, old: float) -> bool:
        """Lower the learning rate unless it is at min_lr already (compared in float32, as Keras stores it)."""
        if not old > np.float32(self.min_lr):
            return False
        self.model.optimizer.learning_rate = max(old * self.factor, self.min_lr)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                  f"{self.model.optimizer.learning_rate}.")
        return True


class LearningRateScheduler(Callback):
    """At each epoch's start, learning_rate = schedule(epoch, learning_rate) (or schedule(epoch) for a
    function of one argument), epochs counted from 0; logs learning_rate at each epoch's end."""

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        if not callable(schedule):
            raise TypeError(f"schedule must be a function of (epoch, learning_rate) or (epoch), got {schedule!r}")
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        rate = self._scheduled(epoch, _learning_rate(self.model))
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
            raise ValueError(f"the schedule must return a number (the learning rate), got {rate!r} for epoch {epoch}")
        self.model.optimizer.learning_rate = float(rate)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(rate)}.")

    def _scheduled(self, epoch: int, rate: float) -> Any:
        try:
            inspect.signature(self.schedule).bind(epoch, rate)
        except TypeError:  # Keras 2's schedules take the epoch alone
            return self.schedule(epoch)
        except ValueError:  # no signature to read (some builtins): Keras 3's form
            pass
        return self.schedule(epoch, rate)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _learning_rate(self.model)
