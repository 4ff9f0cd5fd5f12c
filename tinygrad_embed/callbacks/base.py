"""Callback (Keras 3's hooks), the CallbackList that forwards them, and what every fit runs: History, TerminateOnNaN."""
from __future__ import annotations

import numbers
from typing import Any, Callable

import numpy as np


class Callback:
    """Keras's hooks into fit, evaluate and predict: override the ones you need (docs/custom-layers.md)."""
    model = params = None  # until set_model and set_params give them

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
    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_batch_end(self, batch: int, logs: dict | None = None) -> None: ...

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.on_batch_begin(batch, logs)  # Keras 2's name of this hook, still called, as in Keras 3

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.on_batch_end(batch, logs)  # Keras 2's name of this hook


def _plain_logs(logs: dict | None) -> dict[str, Any]:
    """A new dict of the logs as Keras hands them on: keys sorted, nested dicts flattened, numbers as floats."""
    plain = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            plain.update(_plain_logs(value))
        else:
            scalar = isinstance(value, numbers.Real) or (isinstance(value, np.ndarray) and value.ndim == 0)
            plain[key] = float(value) if scalar else value
    return plain


class CallbackList(Callback):
    """Many callbacks as one (a Callback itself, as Keras's): each hook of HOOKS is forwarded to all of them
    (_forwarded); add_history adds fit's History if none is given."""

    def __init__(self, callbacks: list[Callback] | None = None, add_history: bool = False,
                 model: Any = None, **params: Any) -> None:
        self.callbacks: list[Callback] = []
        self.model, self.params = model, params
        for callback in callbacks or []:
            self.append(callback)
        if add_history and not any(isinstance(c, History) for c in self.callbacks):
            self.append(History())

    def append(self, callback: Callback) -> None:
        """Add a callback, handing it the list's params and model."""
        if not isinstance(callback, Callback):
            raise TypeError(f"callbacks must be Callback instances, got {type(callback).__name__}")
        self.callbacks.append(callback)
        callback._callback_list = self  # BackupAndRestore saves and restores the others' state_dict()
        if self.params:
            callback.set_params(self.params)
        if self.model is not None:
            callback.set_model(self.model)

    def set_model(self, model: Any) -> None:
        """Hand every callback this model (None changes nothing)."""
        if model is not None:
            self.model = model
            for callback in self.callbacks:
                callback.set_model(model)

    def set_params(self, params: dict[str, Any]) -> None:
        """Hand every callback these params (empty ones change nothing but the list's)."""
        self.params = params
        if params:
            for callback in self.callbacks:
                callback.set_params(params)

    def _forward(self, hook: str, index: list[int], logs: dict | None) -> None:
        """The hook of every callback, in order (those _run_last, BackupAndRestore, after all others), all given
        one new dict of the logs (_plain_logs): a key a callback adds reaches the callbacks after it, not the caller."""
        logs = _plain_logs(logs)
        for callback in sorted(self.callbacks, key=lambda c: getattr(c, "_run_last", False)):
            getattr(callback, hook)(*index, logs)


class History(Callback):
    """Each epoch's logs, history.history["loss"][epoch] and so on, and history.epoch: fit returns a new one."""

    def __init__(self) -> None:
        self.history: dict[str, list[Any]] = {}
        self.epoch: list[int] = []

    def set_model(self, model: Any) -> None:
        self.model = model
        model.history = self  # the run's record is on the model from the start (Keras 3 puts it after each epoch)

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
        if loss is not None and not np.isfinite(loss):
            self._stop(loss, batch)

    def _stop(self, loss: float, batch: int) -> None:
        """Stop training, with the reason on the model and printed."""
        self.model.stop_training = True
        self.model.stop_reason = (f"TerminateOnNaN: the loss became {loss} at epoch {self.current_epoch + 1}, "
                                  f"batch {batch + 1}; training stopped (try a smaller learning rate)")
        print(self.model.stop_reason)

HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
         "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
         "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end",
         "on_batch_begin", "on_batch_end")  # the last two: Keras 2's names of the training batch hooks


def _forwarded(hook: str) -> Callable[..., None]:
    """CallbackList's method for a hook: an epoch's or a batch's takes its index before the logs."""
    if "epoch" in hook or "batch" in hook:
        return lambda self, index, logs=None: self._forward(hook, [index], logs)
    return lambda self, logs=None: self._forward(hook, [], logs)


for _hook in HOOKS:
    setattr(CallbackList, _hook, _forwarded(_hook))


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


def _learning_rate(model: Any) -> float:
    optimizer = getattr(model, "optimizer", None)
    if not hasattr(optimizer, "learning_rate"):
        raise ValueError(f"this callback sets the optimizer's learning_rate, and the model's optimizer "
                         f"({type(optimizer).__name__}) has none: compile the model first")
    return float(optimizer.learning_rate)
