"""Callbacks: Keras 3's protocol of hooks into fit, evaluate and predict, the list that dispatches them,
and the callbacks Keras users reach for."""
from __future__ import annotations

import csv
import inspect
import json
import math
import numbers
import os
import warnings
from typing import Any, Callable

import numpy as np

from . import saving, utils
from .inspect import named_weights
from .missing import module_getattr


HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
         "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
         "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end",
         "on_batch_begin", "on_batch_end")  # the last two: Keras 2's names of the training batch hooks


class Callback:
    """Keras's hooks into fit, evaluate and predict: override the ones you need. `self.model` is the model
    they run on and `self.params` what fit or evaluate was asked ({"verbose", "epochs", "steps"}); `logs`
    is always a dict. Setting self.model.stop_training = True ends training after the current batch, and
    a new self.model.optimizer.learning_rate is used from the next batch on."""
    model: Any = None
    params: dict[str, Any] | None = None

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_test_begin(self, logs: dict | None = None) -> None: ...
    def on_test_end(self, logs: dict | None = None) -> None: ...
    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None: ...
    def on_predict_begin(self, logs: dict | None = None) -> None: ...
    def on_predict_end(self, logs: dict | None = None) -> None: ...
    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None: ...
    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Keras 2's name of on_train_batch_begin, still called by it."""

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Keras 2's name of on_train_batch_end, still called by it."""

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.on_batch_end(batch, logs)


def _plain_logs(logs: dict | None) -> dict[str, Any]:
    """A new dict of the logs as Keras hands them to callbacks: keys sorted, nested dicts flattened,
    numeric scalars (numpy's too) as Python floats, anything else (predict's outputs) as given."""
    plain = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            plain.update(_plain_logs(value))
        elif isinstance(value, numbers.Real) or (isinstance(value, np.ndarray) and value.ndim == 0):
            plain[key] = float(value)
        else:
            plain[key] = value
    return plain


class CallbackList(Callback):
    """Many callbacks as one: each hook calls every callback's in order, all with one new dict of the
    caller's logs (so `{}` for None, and a callback that adds a key, as LearningRateScheduler adds
    learning_rate, shows it to the callbacks after it but not to the caller). add_history appends a
    History when none is given, as fit does; the list's History becomes model.history."""

    def __init__(self, callbacks: list[Callback] | None = None, add_history: bool = False,
                 model: Any = None, **params: Any) -> None:
        self.callbacks: list[Callback] = []
        self.params = params
        for callback in callbacks or []:
            self.append(callback)
        if add_history and not any(isinstance(c, History) for c in self.callbacks):
            self.append(History())
        self.set_model(model)

    def append(self, callback: Callback) -> None:
        if not isinstance(callback, Callback):
            raise TypeError(f"callbacks must be Callback instances, got {type(callback).__name__}")
        self.callbacks.append(callback)
        if self.params:
            callback.set_params(self.params)
        if self.model is not None:
            self._give_model(callback)

    def set_model(self, model: Any) -> None:
        if model is None:
            return
        self.model = model
        for callback in self.callbacks:
            self._give_model(callback)

    def _give_model(self, callback: Callback) -> None:
        callback.set_model(self.model)
        if callback is self._history():
            self.model.history = callback  # the run's record is on the model from the start, as in Keras

    def _history(self) -> History | None:
        return next((c for c in self.callbacks if isinstance(c, History)), None)

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params
        if params:
            for callback in self.callbacks:
                callback.set_params(params)

    def _call(self, hook: str, *index_and_logs: Any) -> None:
        *index, logs = index_and_logs
        logs = _plain_logs(logs)
        for callback in self.callbacks:
            getattr(callback, hook)(*index, logs)

    def on_train_begin(self, logs=None): self._call("on_train_begin", logs)
    def on_train_end(self, logs=None): self._call("on_train_end", logs)
    def on_epoch_begin(self, epoch, logs=None): self._call("on_epoch_begin", epoch, logs)
    def on_epoch_end(self, epoch, logs=None): self._call("on_epoch_end", epoch, logs)
    def on_test_begin(self, logs=None): self._call("on_test_begin", logs)
    def on_test_end(self, logs=None): self._call("on_test_end", logs)
    def on_test_batch_begin(self, batch, logs=None): self._call("on_test_batch_begin", batch, logs)
    def on_test_batch_end(self, batch, logs=None): self._call("on_test_batch_end", batch, logs)
    def on_predict_begin(self, logs=None): self._call("on_predict_begin", logs)
    def on_predict_end(self, logs=None): self._call("on_predict_end", logs)
    def on_predict_batch_begin(self, batch, logs=None): self._call("on_predict_batch_begin", batch, logs)
    def on_predict_batch_end(self, batch, logs=None): self._call("on_predict_batch_end", batch, logs)
    def on_train_batch_begin(self, batch, logs=None): self._call("on_train_batch_begin", batch, logs)
    def on_train_batch_end(self, batch, logs=None): self._call("on_train_batch_end", batch, logs)
    def on_batch_begin(self, batch, logs=None): self._call("on_batch_begin", batch, logs)
    def on_batch_end(self, batch, logs=None): self._call("on_batch_end", batch, logs)


class History(Callback):
    """Records each epoch's logs: history.history["loss"][epoch], and so on; history.epoch lists the epochs.
    fit makes a new one for every run and returns it."""

    def __init__(self) -> None:
        self.history: dict[str, list[Any]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


class TerminateOnNaN(Callback):
    """Stops training at the first batch whose loss is NaN or infinite, saying where it happened."""
    current_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.model.stop_training = True
            self.model.stop_reason = (f"TerminateOnNaN: the loss became {loss} at epoch {self.current_epoch + 1}, "
                                      f"batch {batch + 1}; training stopped (try a smaller learning rate)")
            print(self.model.stop_reason)


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
    `filepath` may name the epoch and any logged value, e.g. "ckpt-{epoch:02d}-{val_loss:.3f}.npz"."""

    def __init__(self, filepath: str, monitor: str = "val_loss", save_best_only: bool = False,
                 save_weights_only: bool = True, mode: str = "auto") -> None:
        super().__init__(monitor, mode)
        self.filepath, self.save_best_only, self.save_weights_only = str(filepath), save_best_only, save_weights_only

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
        self.model.save_weights(path) if self.save_weights_only else self.model.save(path)


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


def _learning_rate(model: Any) -> float:
    optimizer = getattr(model, "optimizer", None)
    if not hasattr(optimizer, "learning_rate"):
        raise ValueError(f"this callback sets the optimizer's learning_rate, and the model's optimizer "
                         f"({type(optimizer).__name__}) has none: compile the model first")
    return float(optimizer.learning_rate)


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


class CSVLogger(Callback):
    """Keras's CSVLogger: one row per epoch, "epoch" then the logged values in sorted order (the columns
    fixed at the first epoch; without validation the val_ columns are added anyway and hold NA).
    append=True adds rows to an existing file, writing the header only into an empty one."""

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False) -> None:
        self.filename, self.separator, self.append = os.fspath(filename), separator, append
        self._file, self._writer, self.keys = None, None, None

    def on_train_begin(self, logs=None):
        header = not (self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0)
        self._close()
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._writer, self.keys, self._header = None, None, header

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if not any(key.startswith("val_") for key in self.keys):
                self.keys += [f"val_{key}" for key in self.keys]
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch", *self.keys], delimiter=self.separator)
            if self._header:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **{key: _csv_value(logs.get(key, "NA")) for key in self.keys}})
        self._file.flush()

    def on_train_end(self, logs=None):
        self._close()

    def _close(self) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()
        self._writer = None


def _csv_value(value: Any) -> Any:
    """A number or text as it is; a list or array as Keras writes one: "[a, b, ...]"."""
    if isinstance(value, str) or np.ndim(value) == 0:
        return value
    return f'"[{", ".join(map(str, np.ravel(value)))}]"'


class LambdaCallback(Callback):
    """A callback from functions: each keyword names a hook (any of Keras's, on_epoch_end=lambda epoch,
    logs: ...) and gives the function it runs, called with the hook's arguments."""

    def __init__(self, on_epoch_begin: Callable | None = None, on_epoch_end: Callable | None = None,
                 on_train_begin: Callable | None = None, on_train_end: Callable | None = None,
                 on_train_batch_begin: Callable | None = None, on_train_batch_end: Callable | None = None,
                 **hooks: Callable) -> None:
        hooks.update(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
                     on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end)
        for hook, function in hooks.items():
            if hook not in HOOKS:
                raise TypeError(f"LambdaCallback got {hook}=, which is not a callback hook; the hooks are: "
                                f"{', '.join(HOOKS)}")
            if function is not None:
                setattr(self, hook, function)  # an instance attribute: called without self


def _summary_writer() -> type:
    try:
        from tensorboardX import SummaryWriter  # optional (the tensorboard extra): only TensorBoard needs it
    except ImportError:
        raise ImportError("TensorBoard writes its event files with tensorboardX, which is not installed: "
                          "pip install 'tinygrad_embed[tensorboard]' (or pip install tensorboardX)") from None
    return SummaryWriter


# Keras's TensorBoard arguments for what is not written here, with the values that ask for nothing more.
_TENSORBOARD_OFF = {"write_images": False, "write_steps_per_second": False, "profile_batch": 0,
                    "embeddings_freq": 0, "embeddings_metadata": None}


class TensorBoard(Callback):
    """Writes the logged values as TensorBoard event files (`tensorboard --logdir log_dir` shows them), as
    Keras names them: each epoch's training values (learning_rate among them) as "epoch_<name>" in
    log_dir/train, its validation values as "epoch_<name>" in log_dir/validation, at step = epoch; each
    evaluation's results as "evaluation_<name>_vs_iterations" at the optimizer's step count; with
    update_freq="batch" (or N) every (N-th) training batch's as "batch_<name>"; with histogram_freq=N
    each weight's histogram every N epochs. No graph is written, whatever write_graph says.
    Needs tensorboardX (the tensorboard extra)."""

    def __init__(self, log_dir: str | os.PathLike = "logs", histogram_freq: int = 0, write_graph: bool = True,
                 update_freq: str | int = "epoch", **keras_options: Any) -> None:
        for name, value in keras_options.items():
            if name not in _TENSORBOARD_OFF:
                raise TypeError(f"TensorBoard() got an unexpected keyword argument {name!r}")
            if value != _TENSORBOARD_OFF[name]:
                raise ValueError(f"TensorBoard({name}={value!r}) is not supported here: only the logged values "
                                 f"and weight histograms are written ({name} must be {_TENSORBOARD_OFF[name]!r})")
        if histogram_freq:
            utils.positive_int(histogram_freq, "TensorBoard's histogram_freq (epochs between histograms, or 0)")
        if update_freq not in ("epoch", "batch"):
            utils.positive_int(update_freq, "TensorBoard's update_freq ('epoch', 'batch' or a number of batches)")
        self._writer_class = _summary_writer()
        self.log_dir, self.histogram_freq, self.write_graph = os.fspath(log_dir), histogram_freq, write_graph
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self._writers: dict[str, Any] = {}
        self._batches, self._training = 0, False

    def _writer(self, run: str) -> Any:
        """The event file writer of log_dir/run, made when first needed (no empty runs in TensorBoard)."""
        if run not in self._writers:
            self._writers[run] = self._writer_class(os.path.join(self.log_dir, run))
        return self._writers[run]

    def on_train_begin(self, logs=None):
        self._batches, self._training = 0, True

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1  # counted over the whole run, from 1
        if self.update_freq != "epoch" and self._batches % self.update_freq == 0:
            for name, value in (logs or {}).items():
                self._writer("train").add_scalar(f"batch_{name}", value, self._batches)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if logs and hasattr(getattr(self.model, "optimizer", None), "learning_rate"):
            logs["learning_rate"] = _learning_rate(self.model)
        for name, value in logs.items():
            run, tag = ("validation", name[4:]) if name.startswith("val_") else ("train", name)
            self._writer(run).add_scalar(f"epoch_{tag}", value, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            for name, weight in named_weights(self.model).items():
                self._writer("train").add_histogram(f"{name}/histogram", weight.data, epoch)

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            for name, value in (logs or {}).items():
                self._writer("validation").add_scalar(f"evaluation_{name}_vs_iterations", value,
                                                      optimizer.iterations)
        if not self._training:  # an evaluate of its own: no on_train_end will close the file
            self._close()

    def on_train_end(self, logs=None):
        self._training = False
        self._close()

    def _close(self) -> None:
        """Close the event files: only then has tensorboardX's writer thread written every event."""
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

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


__getattr__ = module_getattr(__name__, "callback", lambda: [n for n, v in globals().items() if not n.startswith("_")
                                                            and isinstance(v, type) and issubclass(v, Callback)])
