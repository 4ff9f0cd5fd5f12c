"""The one training loop: compile, fit, evaluate, predict and their *_on_batch forms, for every model.

It knows a model only through what every model offers: calling it on a batch (`model(x, training=...)`),
its `trainable_weights`, and `check_inputs(x)` (a model refuses data its layers cannot take, before any
training). Sequential and the functional Model inherit it; neither has a loop of its own.
The data comes as arrays (_ArrayBatches) or as a stream of batches (data.Stream: a Dataset, a generator,
a PyDataset, a tf.data.Dataset); either way each epoch is a sequence of (input, y, sample_weight).
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
from ..data import Stream, is_stream
from ..tensor import Tensor, no_grad
from ..utils import positive_int, random_generator


def _batch_size(batch_size: Any) -> int:
    return 32 if batch_size is None else positive_int(batch_size, "batch_size")  # Keras: None means 32


def _samples(data: Any, what: str, inputs: int = 1, text: bool = False) -> list[np.ndarray]:
    """x (or y) as a list of arrays, one per model input, each with the samples on axis 0. A list is
    one array of samples for a model with one input, and one array per input for a model with several.
    text: the model starts with a TextVectorization, so strings are data too."""
    if data is None:
        raise ValueError(f"{what} is missing: give an array of samples")
    if inputs > 1 and (not isinstance(data, (list, tuple)) or len(data) != inputs):
        raise ValueError(f"this model takes {inputs} inputs: give {what} as a list of {inputs} arrays")
    arrays = [np.asarray(a) for a in data] if inputs > 1 else [np.asarray(data)]
    for array in arrays:
        if array.ndim == 0 or len(array) == 0:
            raise ValueError(f"{what} must hold at least one sample, got shape {array.shape}")
        if array.dtype.kind not in "biuf" and not (text and array.dtype.kind in "OSU"):
            raise TypeError(f"{what} must hold numbers, got an array of dtype {array.dtype}"
                            + (" (strings need a TextVectorization layer first in the model)" if what == "x" else
                               " (string labels: turn them into class ids first)" if array.dtype.kind in "OSU" else ""))
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
        x = self._adjust_ranks(_samples(x, "x", self._input_count(), self._takes_text()))
        self._check_inputs(_take(x, slice(None)))
        if not need_y:
            return x, None
        (y,) = _samples(y, "y")
        if len(y) != len(x[0]):
            raise ValueError(f"x and y hold different numbers of samples: {len(x[0])} and {len(y)}")
        return x, y

    def _check_inputs(self, x: Any) -> None:
        """Refuse inputs the model cannot take; models that know their first layers override it."""

    def _takes_text(self) -> bool:
        """An Input(dtype="string"), or a first layer that reads strings (a Sequential's TextVectorization,
        or a model that starts with one)."""
        declared = [t.dtype for t in getattr(self, "inputs", None) or []]
        first = (getattr(self, "_layers", None) or [None])[0]
        reads_text = getattr(first, "string_inputs", False) or (isinstance(first, Trainer) and first._takes_text())
        return any(d.kind in "OSU" for d in declared) or reads_text

    def _adjust_ranks(self, x: list[np.ndarray]) -> list[np.ndarray]:
        """Keras's rule for a functional model's inputs: data of shape (n,) fits an Input of shape (1,), and
        data of shape (n, 1) one of shape () (texts come either way)."""
        declared = [t.shape for t in getattr(self, "inputs", None) or []]
        for i, shape in enumerate(declared[:len(x)]):
            if len(shape) == x[i].ndim + 1 and shape[-1] == 1:
                x[i] = x[i][..., None]
            elif len(shape) == x[i].ndim - 1 and x[i].shape[-1] == 1:
                x[i] = x[i][..., 0]
        return x

    def _as_tensor(self, value: Any) -> Any:
        """A model hands text on as a numpy array (its TextVectorization reads it); numbers become Tensors."""
        if not isinstance(value, Tensor) and np.asarray(value).dtype.kind in "OSU":
            return np.asarray(value)
        return super()._as_tensor(value)

    def _input_count(self) -> int:
        return len(getattr(self, "inputs", None) or [None])  # a functional model knows; others take one

    def _require_compiled(self) -> None:
        if self.optimizer is None or self.loss is None:
            raise ValueError("compile the model (optimizer and loss) before training or evaluating it")
        if len(getattr(self, "outputs", None) or [None]) > 1:
            raise ValueError("training or evaluating a model with several outputs is not supported yet "
                             "(predict works): build one with a single output")

    # ---- one batch --------------------------------------------------------------------------------
    def _compute(self, x: Any, y: np.ndarray, training: bool,
                 sample_weight: np.ndarray | None = None) -> tuple[Tensor, dict[str, float]]:
        """The batch's loss (each sample's loss times its weight, averaged over the batch, as Keras's
        default reduction) and metrics (weighted means)."""
        predictions = self(x, training=training)
        values = self.loss(y, predictions)
        if sample_weight is not None:
            values = values * Tensor(_per_sample(sample_weight, values.ndim).astype(values.dtype))
        loss = values.mean()
        logs = {"loss": float(loss.data)}
        for name in self.metrics:
            if sample_weight is None:
                logs[name] = metrics_module.mean(name, y, predictions.data)
            else:
                scores = metrics_module.get(name)(y, predictions.data)
                weights = np.broadcast_to(_per_sample(sample_weight, scores.ndim), scores.shape)
                logs[name] = float((scores * weights).sum() / weights.sum())
        return loss, logs

    def _train_step(self, x: Any, y: np.ndarray, sample_weight: np.ndarray | None = None) -> dict[str, float]:
        loss, logs = self._compute(x, y, training=True, sample_weight=sample_weight)
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
        return self.evaluate(x, y, batch_size=self._sample_count(x), verbose=0)

    def predict_on_batch(self, x: Any) -> np.ndarray:
        return self.predict(x, batch_size=self._sample_count(x))

    def _sample_count(self, x: Any) -> int:
        return len(_samples(x, "x", self._input_count(), self._takes_text())[0])

    def _build_for(self, x: Any) -> None:
        """Build on one sample of x: a list of arrays (one per input), or one array for a single input."""
        if not self.built:
            with no_grad():
                self(_take(x if isinstance(x, list) else [x], slice(0, 1)), training=False)

    # ---- where the batches come from --------------------------------------------------------------
    def _batches(self, x: Any, y: Any, batch_size: Any, steps: int | None, need_y: bool = True,
                 shuffle: bool = False, what: str = "x") -> _ArrayBatches | Stream:
        """Batches of (model input, y, sample_weight): from arrays, or from a stream (a dataset, generator,
        PyDataset or tf.data.Dataset) whose batches are checked as they come."""
        if not is_stream(x):
            x, y = self._check_data(x, y, need_y)
            return _ArrayBatches(x, y, _batch_size(batch_size), shuffle, steps)
        for name, value in (("y", y), ("batch_size", batch_size)):
            if value is not None:
                raise ValueError(f"{name} must not be given with a dataset or generator ({type(x).__name__}): "
                                 "its batches hold the targets and set the batch size")
        return Stream(x, steps, lambda batch: self._checked_batch(batch, need_y), what)

    def _checked_batch(self, batch: tuple, need_y: bool) -> tuple[Any, np.ndarray | None, np.ndarray | None]:
        x, y, sample_weight = batch
        if need_y and y is None:
            raise ValueError("training and evaluating need batches of (x, y) or (x, y, sample_weight), got x alone")
        x, y = self._check_data(x, y, need_y)
        if sample_weight is not None:
            (sample_weight,) = _samples(sample_weight, "sample_weight")
            if len(sample_weight) != len(x[0]):
                raise ValueError(f"a batch holds {len(x[0])} samples but {len(sample_weight)} sample weights")
        return _take(x, slice(None)), y, sample_weight

    # ---- loops ------------------------------------------------------------------------------------
    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1, verbose: int = 1,
            callbacks: Sequence[Callback] | None = None, validation_split: float = 0.0,
            validation_data: Any = None, shuffle: bool = True, initial_epoch: int = 0,
            steps_per_epoch: int | None = None, validation_steps: int | None = None, **kwargs: Any) -> History:
        """Train for `epochs` passes over (x, y) in batches; return the History of per-epoch logs.
        x may be arrays (with y) or a stream of (x, y[, sample_weight]) batches: a Dataset, a generator,
        a PyDataset, a tf.data.Dataset. A TerminateOnNaN is always among the callbacks; Ctrl-C stops
        after the current batch."""
        if "nb_epoch" in kwargs:
            warnings.warn("nb_epoch is Keras 1's spelling; use epochs", DeprecationWarning, stacklevel=2)
            epochs = kwargs.pop("nb_epoch")
        if kwargs:
            raise TypeError(f"fit() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        self._require_compiled()
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"epochs must be an integer >= 0, got {epochs!r}")
        if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float)) \
                or not 0 <= validation_split < 1:
            raise ValueError(f"validation_split must be a number in [0, 1), got {validation_split!r}")
        if validation_split and is_stream(x):
            raise ValueError("validation_split needs arrays; with a dataset or generator give validation_data")
        train = self._batches(x, y, batch_size, steps_per_epoch, shuffle=shuffle)
        if validation_data is None and validation_split:  # Keras holds out the last samples, before shuffling
            validation_data = train.split(validation_split)
        validation = None
        if validation_data is not None:
            if is_stream(validation_data):
                validation = self._batches(validation_data, None, None, validation_steps, what="validation_data")
            elif isinstance(validation_data, (tuple, list)) and len(validation_data) == 2:
                validation = self._batches(*validation_data, batch_size, validation_steps)
            else:
                raise ValueError("validation_data must be a tuple (x_val, y_val) or a dataset of (x, y) batches")
        self._build_for(train.first_inputs())
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
                logs = self._fit_epoch(train, epoch, epochs, verbose, callbacks)
                if logs is None:  # the stream ran out before this epoch's first batch
                    break
                if validation is not None:
                    val = self._evaluate(validation, verbose=0)
                    logs.update({f"val_{k}": v for k, v in val.items()})
                if verbose == 2 or (verbose == 1 and validation is not None):
                    print(f"Epoch {epoch + 1}/{epochs} - " + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
                callbacks.on_epoch_end(epoch, logs)
                if self.stop_training or getattr(train, "ran_out", False):
                    break
        callbacks.on_train_end({})
        self.history = history
        return history

    def _fit_epoch(self, train, epoch, epochs, verbose, callbacks) -> dict[str, float] | None:
        callbacks.on_epoch_begin(epoch, {})
        totals, seen = {}, 0
        with tqdm(total=train.steps, desc=f"Epoch {epoch + 1}/{epochs}", unit="step", disable=verbose != 1,
                  file=sys.stdout, dynamic_ncols=True) as bar:
            for batch, (x, y, sample_weight) in enumerate(train.epoch()):
                callbacks.on_train_batch_begin(batch, {})
                logs = self._train_step(x, y, sample_weight)
                seen += len(y)
                for key, value in logs.items():
                    totals[key] = totals.get(key, 0.0) + value * len(y)
                bar.set_postfix({k: f"{v / seen:.4f}" for k, v in totals.items()}, refresh=False)
                bar.update(1)
                callbacks.on_train_batch_end(batch, logs)
                if self.stop_training:
                    break
        if seen == 0:
            if getattr(train, "ran_out", False):
                return None
            raise ValueError(f"the training data gave no batch in epoch {epoch + 1}: a generator runs only once, "
                             "so give steps_per_epoch and make it repeat, or pass a dataset or PyDataset")
        return {key: value / seen for key, value in totals.items()}

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None, verbose: int = 1,
                 return_dict: bool = False, steps: int | None = None) -> float | list[float] | dict[str, float]:
        self._require_compiled()
        logs = self._evaluate(self._batches(x, y, batch_size, steps), verbose)
        return logs if return_dict else _as_keras_result(logs)

    def _evaluate(self, batches: _ArrayBatches | Stream, verbose: int) -> dict[str, float]:
        totals, seen = {}, 0
        with no_grad():
            for x, y, sample_weight in tqdm(batches.epoch(), total=batches.steps, desc="evaluate", unit="step",
                                            disable=verbose != 1):
                _, logs = self._compute(x, y, training=False, sample_weight=sample_weight)
                seen += len(y)
                for key, value in logs.items():
                    totals[key] = totals.get(key, 0.0) + value * len(y)
        if seen == 0:
            raise ValueError("the evaluation data gave no batch")
        return {key: value / seen for key, value in totals.items()}

    def predict(self, x: Any, batch_size: int | None = None, verbose: int = 0, steps: int | None = None) -> Any:
        """The model's outputs for every sample of x (arrays, or a stream of batches whose targets are ignored)."""
        batches = self._batches(x, None, batch_size, steps, need_y=False)
        if isinstance(batches, Stream):
            self._build_for(batches.first_inputs())
        parts = []
        with no_grad():
            for inputs, _, _ in tqdm(batches.epoch(), total=batches.steps, unit="step", disable=verbose != 1):
                out = self(inputs, training=False)
                parts.append([t.data for t in out] if isinstance(out, (list, tuple)) else out.data)
        if not parts:
            raise ValueError("predict got no batch: the data is empty")
        if isinstance(parts[0], list):  # several outputs: one array each
            return [np.concatenate(column) for column in zip(*parts)]
        return np.concatenate(parts)


class _ArrayBatches:
    """Batches of arrays in memory, as Stream gives those of a dataset: each epoch a pass in batch_size
    rows, in a new random order when shuffling (with steps: at most that many batches of the pass)."""

    def __init__(self, x: list[np.ndarray], y: np.ndarray | None, batch_size: int, shuffle: bool,
                 steps: int | None) -> None:
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self.limit = None if steps is None else positive_int(steps, "steps")

    @property
    def steps(self) -> int:
        batches = math.ceil(len(self.x[0]) / self.batch_size)
        return batches if self.limit is None else min(self.limit, batches)

    def split(self, fraction: float) -> tuple[Any, np.ndarray]:
        """Keep the first samples, return the last `fraction` of them (validation_split's rule)."""
        cut = int(len(self.y) * (1 - fraction))
        if cut == 0:
            raise ValueError(f"validation_split={fraction} leaves no sample of {len(self.y)} for training")
        held_out = (_take(self.x, slice(cut, None)), self.y[cut:])
        self.x, self.y = [a[:cut] for a in self.x], self.y[:cut]
        return held_out

    def first_inputs(self) -> list[np.ndarray]:
        return self.x

    def epoch(self) -> Iterator[tuple[Any, np.ndarray | None, None]]:
        count = len(self.x[0])
        order = random_generator().permutation(count) if self.shuffle else np.arange(count)
        for batch in range(self.steps):
            rows = order[batch * self.batch_size:(batch + 1) * self.batch_size]
            yield _take(self.x, rows), None if self.y is None else self.y[rows], None


def _per_sample(weights: np.ndarray, ndim: int) -> np.ndarray:
    """Sample weights of shape (batch,) with axes of 1 added, to scale values of rank ndim."""
    weights = np.asarray(weights).reshape(len(weights), *([1] * max(ndim - 1, 0)))
    return weights if ndim else weights.reshape(-1)


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
