"""The one training loop: compile, fit, evaluate, predict and their *_on_batch forms, for every model.

It knows a model only through what every model offers: calling it on a batch (`model(x, training=...)`),
its `trainable_weights`, and `check_inputs(x)` (a model refuses data its layers cannot take, before any
training). Sequential and the functional Model inherit it; neither has a loop of its own.
"""
from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
import warnings
from typing import Any, Iterator, Sequence

import numpy as np
from tqdm.auto import tqdm

from .. import losses, optimizers
from .. import metrics as metrics_module
from ..callbacks import Callback, CallbackList, History, TerminateOnNaN
from ..tensor import Tensor, no_grad
from ..utils import positive_int, random_generator


def _batch_size(batch_size: Any) -> int:
    return 32 if batch_size is None else positive_int(batch_size, "batch_size")  # Keras: None means 32


def _samples(data: Any, what: str, inputs: int = 1) -> list[np.ndarray]:
    """x (or y) as a list of arrays, one per model input, each with the samples on axis 0. A list is
    one array of samples for a model with one input, and one array per input for a model with several."""
    if data is None:
        raise ValueError(f"{what} is missing: give an array of samples")
    if inputs > 1 and (not isinstance(data, (list, tuple)) or len(data) != inputs):
        raise ValueError(f"this model takes {inputs} inputs: give {what} as a list of {inputs} arrays")
    arrays = [np.asarray(a) for a in data] if inputs > 1 else [np.asarray(data)]
    for array in arrays:
        if array.ndim == 0 or len(array) == 0:
            raise ValueError(f"{what} must hold at least one sample, got shape {array.shape}")
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{what} must hold numbers, got an array of dtype {array.dtype}")
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ValueError(f"{what} contains NaN or inf, first at sample {int(np.argwhere(~np.isfinite(array))[0][0])}")
    if len({len(a) for a in arrays}) > 1:
        raise ValueError(f"the arrays of {what} hold different numbers of samples: {[len(a) for a in arrays]}")
    return arrays


def _take(arrays: list[np.ndarray], rows: Any) -> Any:
    """The model's input for these rows: one array, or a list of them for a model with several inputs."""
    parts = [a[rows] for a in arrays]
    return parts[0] if len(parts) == 1 else parts


class Trainer:
    """Keras's Model methods for training and inference; see the module's docstring for what it needs."""
    optimizer: optimizers.Optimizer | None = None
    loss: Any = None
    metrics: list[str] = []
    stop_training = False
    history: History | None = None

    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Sequence[Any] | None = None) -> None:
        self.optimizer = optimizers.get(optimizer)
        self.loss = None if loss is None else losses.get(loss)
        self.metrics = metrics_module.names(metrics)  # the names logged, as given: acc logs acc, val_acc

    # ---- the data ---------------------------------------------------------------------------------
    def _check_data(self, x: Any, y: Any = None, need_y: bool = True) -> tuple[list[np.ndarray], np.ndarray | None]:
        """Every check on the data, for every entry point, before anything runs on it."""
        x = _samples(x, "x", self._input_count())
        self._check_inputs(_take(x, slice(None)))
        if not need_y:
            return x, None
        (y,) = _samples(y, "y")
        if len(y) != len(x[0]):
            raise ValueError(f"x and y hold different numbers of samples: {len(x[0])} and {len(y)}")
        return x, y

    def _check_inputs(self, x: Any) -> None:
        """Refuse inputs the model cannot take; models that know their first layers override it."""

    def _input_count(self) -> int:
        return len(getattr(self, "inputs", None) or [None])  # a functional model knows; others take one

    def _require_compiled(self) -> None:
        if self.optimizer is None or self.loss is None:
            raise ValueError("compile the model (optimizer and loss) before training or evaluating it")
        if len(getattr(self, "outputs", None) or [None]) > 1:
            raise ValueError("training or evaluating a model with several outputs is not supported yet "
                             "(predict works): build one with a single output")

    # ---- one batch --------------------------------------------------------------------------------
    def _compute(self, x: Any, y: np.ndarray, training: bool) -> tuple[Tensor, dict[str, float]]:
        predictions = self(x, training=training)
        loss = self.loss(y, predictions).mean()
        logs = {"loss": float(loss.data)}
        for name in self.metrics:
            logs[name] = metrics_module.mean(name, y, predictions.data)
        return loss, logs

    def _train_step(self, x: Any, y: np.ndarray) -> dict[str, float]:
        loss, logs = self._compute(x, y, training=True)
        weights = self.trainable_weights
        if loss.requires_grad:  # every layer frozen: nothing to learn
            loss.backward()
            self.optimizer.step(weights)
        for w in weights:
            w.zero_grad()
        return logs

    def train_on_batch(self, x: Any, y: Any) -> float | list[float]:
        self._require_compiled()
        x, y = self._check_data(x, y)
        self._build_for(x)
        return _as_keras_result(self._train_step(_take(x, slice(None)), y))

    def test_on_batch(self, x: Any, y: Any) -> float | list[float]:
        return self.evaluate(x, y, batch_size=len(_samples(x, "x", self._input_count())[0]), verbose=0)

    def predict_on_batch(self, x: Any) -> np.ndarray:
        return self.predict(x, batch_size=len(_samples(x, "x", self._input_count())[0]))

    def _build_for(self, x: list[np.ndarray]) -> None:
        if not self.built:
            with no_grad():
                self(_take(x, slice(0, 1)), training=False)

    # ---- loops ------------------------------------------------------------------------------------
    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1, verbose: int = 1,
            callbacks: Sequence[Callback] | None = None, validation_split: float = 0.0,
            validation_data: tuple | None = None, shuffle: bool = True, initial_epoch: int = 0,
            **kwargs: Any) -> History:
        """Train for `epochs` passes over (x, y) in batches; return the History of per-epoch logs.
        A TerminateOnNaN is always among the callbacks; Ctrl-C stops after the current batch."""
        if "nb_epoch" in kwargs:
            warnings.warn("nb_epoch is Keras 1's spelling; use epochs", DeprecationWarning, stacklevel=2)
            epochs = kwargs.pop("nb_epoch")
        if kwargs:
            raise TypeError(f"fit() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        self._require_compiled()
        batch_size = _batch_size(batch_size)
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"epochs must be an integer >= 0, got {epochs!r}")
        if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float)) \
                or not 0 <= validation_split < 1:
            raise ValueError(f"validation_split must be a number in [0, 1), got {validation_split!r}")
        x, y = self._check_data(x, y)
        if validation_data is None and validation_split:  # Keras holds out the last samples, before shuffling
            cut = int(len(y) * (1 - validation_split))
            if cut == 0:
                raise ValueError(f"validation_split={validation_split} leaves no sample of {len(y)} for training")
            validation_data = (_take(x, slice(cut, None)), y[cut:])
            x, y = [a[:cut] for a in x], y[:cut]
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a tuple (x_val, y_val)")
            validation_data = self._check_data(*validation_data)
        self._build_for(x)
        self.optimizer.build(self.trainable_weights)
        history = History()
        callbacks = CallbackList([history, *(callbacks or [])], model=self)
        if not any(isinstance(c, TerminateOnNaN) for c in callbacks.callbacks):
            callbacks.append(TerminateOnNaN())
        self.stop_training, self.stop_reason = False, None  # reset before on_train_begin, as Keras
        self._initial_epoch = initial_epoch  # a callback may move it on_train_begin (BackupAndRestore)
        callbacks.on_train_begin({})
        with _stop_after_batch_on_ctrl_c(self):
            for epoch in range(self._initial_epoch, epochs):
                logs = self._fit_epoch(x, y, batch_size, epoch, epochs, shuffle, verbose, callbacks)
                if validation_data is not None:
                    val = self._evaluate(*validation_data, batch_size, verbose=0)
                    logs.update({f"val_{k}": v for k, v in val.items()})
                if verbose == 2 or (verbose == 1 and validation_data is not None):
                    print(f"Epoch {epoch + 1}/{epochs} - " + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
                callbacks.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
        callbacks.on_train_end({})
        self.history = history
        return history

    def _fit_epoch(self, x, y, batch_size, epoch, epochs, shuffle, verbose, callbacks) -> dict[str, float]:
        callbacks.on_epoch_begin(epoch, {})
        order = random_generator().permutation(len(y)) if shuffle else np.arange(len(y))
        totals, seen = {}, 0
        steps = math.ceil(len(y) / batch_size)
        with tqdm(total=steps, desc=f"Epoch {epoch + 1}/{epochs}", unit="step", disable=verbose != 1,
                  file=sys.stdout, dynamic_ncols=True) as bar:
            for batch in range(steps):
                rows = order[batch * batch_size:(batch + 1) * batch_size]
                callbacks.on_train_batch_begin(batch, {})
                logs = self._train_step(_take(x, rows), y[rows])
                seen += len(rows)
                for key, value in logs.items():
                    totals[key] = totals.get(key, 0.0) + value * len(rows)
                bar.set_postfix({k: f"{v / seen:.4f}" for k, v in totals.items()}, refresh=False)
                bar.update(1)
                callbacks.on_train_batch_end(batch, logs)
                if self.stop_training:
                    break
        return {key: value / seen for key, value in totals.items()}

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None, verbose: int = 1,
                 return_dict: bool = False) -> float | list[float] | dict[str, float]:
        self._require_compiled()
        batch_size = _batch_size(batch_size)
        x, y = self._check_data(x, y)
        logs = self._evaluate(x, y, batch_size, verbose)
        return logs if return_dict else _as_keras_result(logs)

    def _evaluate(self, x: list[np.ndarray], y: np.ndarray, batch_size: int, verbose: int) -> dict[str, float]:
        totals = {}
        with no_grad():
            for start in tqdm(range(0, len(y), batch_size), desc="evaluate", unit="step", disable=verbose != 1):
                rows = slice(start, start + batch_size)
                _, logs = self._compute(_take(x, rows), y[rows], training=False)
                for key, value in logs.items():
                    totals[key] = totals.get(key, 0.0) + value * len(y[rows])
        return {key: value / len(y) for key, value in totals.items()}

    def predict(self, x: Any, batch_size: int | None = None, verbose: int = 0) -> Any:
        batch_size = _batch_size(batch_size)
        x, _ = self._check_data(x, need_y=False)
        parts = []
        with no_grad():
            for start in tqdm(range(0, len(x[0]), batch_size), unit="step", disable=verbose != 1):
                out = self(_take(x, slice(start, start + batch_size)), training=False)
                parts.append([t.data for t in out] if isinstance(out, (list, tuple)) else out.data)
        if isinstance(parts[0], list):  # several outputs: one array each
            return [np.concatenate(column) for column in zip(*parts)]
        return np.concatenate(parts)


def _as_keras_result(logs: dict[str, float]) -> float | list[float]:
    return logs["loss"] if len(logs) == 1 else list(logs.values())


@contextlib.contextmanager
def _stop_after_batch_on_ctrl_c(model: Trainer) -> Iterator[None]:
    """While fit runs, Ctrl-C asks it to stop after the current batch, keeping weights and history."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        model.stop_training = True
        model.stop_reason = "interrupted (Ctrl-C): stopped after the current batch; weights and history kept"
        print(f"\n{model.stop_reason}")
    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
