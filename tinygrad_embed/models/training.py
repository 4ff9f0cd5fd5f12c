"""The one training loop: compile, fit, evaluate, predict and their *_on_batch forms, for every model.

It knows a model only through what every model offers: calling it on a batch (`model(x, training=...)`),
its `trainable_weights`, `check_inputs(x)` (a model refuses data its layers cannot take, before any
training), and, for a functional model, its `inputs` and `outputs` (whose layers name them). Sequential and
the functional Model inherit it; neither has a loop of its own.
The data comes as arrays (_Samples in _ArrayBatches) or as a stream of batches (data.Stream: a Dataset, a
generator, a PyDataset, a tf.data.Dataset); either way each epoch is a sequence of batches
(model input, ys, sample weights): one y and one weights array per model output. What compile asked for,
output by output, and the running means that are logged live in compile_utils._Objectives.
"""
from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
import warnings
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np
from tqdm.auto import tqdm

from .. import losses, optimizers
from ..callbacks import Callback, CallbackList, History, TerminateOnNaN
from ..data import Stream, is_stream
from ..layers.symbolic import flatten
from ..tensor import Tensor, no_grad
from ..helpers import positive_int, random_generator
from .compile_utils import _Objectives


def _batch_size(batch_size: Any) -> int:
    return 32 if batch_size is None else positive_int(batch_size, "batch_size")  # Keras: None means 32


# ---- the data ----------------------------------------------------------------------------------------
def _arrays(data: Any, what: str, names: list[str | None], text: bool = False) -> list[np.ndarray]:
    """data as one array per model input (what="x") or output (y, sample_weight), in the model's order, each
    with the samples on axis 0: an array when there is one, else a list in order or a dict keyed by name.
    For a model with one input a list is the array itself (nested Python lists, as in many tutorials)."""
    kind = "input" if what == "x" else "output"
    if data is None:
        raise ValueError(f"{what} is missing: give an array of samples")
    if isinstance(data, dict):
        data = _by_name(data, what, names, kind)
    elif len(names) == 1:
        data = [data]
    elif not isinstance(data, (list, tuple)) or len(data) != len(names):
        several = f"takes {len(names)} inputs" if kind == "input" else f"has several outputs ({len(names)})"
        raise ValueError(f"this model {several}: give {what} as a list of {len(names)} arrays, or a dict keyed by "
                         f"the {kind} names {names}")
    arrays = [_checked(np.asarray(a), what, text) for a in data]
    if len({len(a) for a in arrays}) > 1:
        raise ValueError(f"the arrays of {what} hold different numbers of samples: {[len(a) for a in arrays]}")
    return arrays


def _by_name(data: dict, what: str, names: list[str | None], kind: str) -> list[Any]:
    for key in data:
        if key not in names:
            raise ValueError(f"{what} has the key {key!r}, which names no {kind} of this model; its {kind}s: {names}")
    missing = [name for name in names if name not in data]
    if missing:
        raise ValueError(f"{what} has no entry for the {kind} {missing[0]!r}: give one for each of {names}")
    return [data[name] for name in names]


def _checked(array: np.ndarray, what: str, text: bool) -> np.ndarray:
    """The array, if it holds samples of numbers (or texts, for a model that reads text)."""
    if array.ndim == 0 or len(array) == 0:
        raise ValueError(f"{what} must hold at least one sample, got shape {array.shape}")
    if array.dtype.kind not in "biuf" and not (text and array.dtype.kind in "OSU"):
        raise TypeError(f"{what} must hold numbers, got an array of dtype {array.dtype}"
                        + (" (strings need a TextVectorization layer first in the model)" if what == "x" else
                           " (string labels: turn them into class ids first)" if array.dtype.kind in "OSU" else ""))
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError(f"{what} contains NaN or inf, first at sample {int(np.argwhere(~np.isfinite(array))[0][0])}")
    return array


def _model_input(x: list[Any]) -> Any:
    """What the model is called on: one array, or a list of them for a model with several inputs."""
    return x[0] if len(x) == 1 else x


def _class_weights(y: np.ndarray, class_weight: dict, every_class_seen: bool) -> np.ndarray:
    """Each sample's weight from its class, by Keras's rule (the argmax of a one-hot row, the rounded label
    otherwise), 1 for a class that class_weight leaves out. every_class_seen: y is all the training targets,
    so a key that none of them takes is a mistake (Keras ignores it; a misspelt class should not go unnoticed)."""
    if not isinstance(class_weight, dict):
        raise TypeError(f"class_weight must be a dict {{class index: weight}}, got {type(class_weight).__name__}")
    if y.ndim > 1:
        labels = y.argmax(-1) if y.shape[-1] > 1 else y[..., 0]  # one-hot rows, or labels with an axis of 1
    else:
        labels = y
    if labels.ndim != 1:
        raise ValueError(f"class_weight needs one class per sample, but y of shape {y.shape} holds several")
    labels = np.round(labels).astype(np.int64)
    for key in class_weight:
        if isinstance(key, bool) or not isinstance(key, (int, np.integer)):
            raise TypeError(f"class_weight's keys are class indices (integers), got {key!r}")
        if every_class_seen and key not in labels:
            raise ValueError(f"class_weight names class {key}, which the targets never take "
                             f"(their classes: {sorted(set(labels.tolist()))})")
    return np.array([class_weight.get(int(label), 1.0) for label in labels], dtype=np.float32)


@dataclass
class _Samples:
    """A data set in memory: one array per model input (x) and per output (y; sample_weight or None)."""
    x: list[np.ndarray]
    y: list[np.ndarray] | None = None
    sample_weight: list[np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.x[0])

    def part(self, rows: Any) -> _Samples:
        """These rows (an index array or a slice) of every array."""
        def pick(arrays: list[np.ndarray] | None) -> list[np.ndarray] | None:
            return None if arrays is None else [a[rows] for a in arrays]
        return _Samples(pick(self.x), pick(self.y), pick(self.sample_weight))

    def rows(self, rows: Any) -> tuple[Any, list[np.ndarray] | None, list[np.ndarray] | None]:
        """The batch of these rows: (the model's input, the ys, the sample weights)."""
        batch = self.part(rows)
        return _model_input(batch.x), batch.y, batch.sample_weight

    def split(self, fraction: float) -> tuple[_Samples, _Samples]:
        """The first samples, and the last `fraction` of them held out (validation_split's rule)."""
        cut = int(len(self) * (1 - fraction))
        if cut == 0:
            raise ValueError(f"validation_split={fraction} leaves no sample of {len(self)} for training")
        return self.part(slice(None, cut)), self.part(slice(cut, None))


def _names(tensors: Any) -> list[str | None]:
    """A functional model's inputs or outputs by the names of the layers that give them; one unnamed else."""
    return [t.node.layer.name for t in tensors] if tensors else [None]


class Trainer:
    """Keras's Model methods for training and inference; see the module's docstring for what it needs."""
    optimizer: optimizers.Optimizer | None = None
    loss: Any = None
    metrics: Any = []
    stop_training = stop_evaluating = stop_predicting = False
    history: History | None = None
    _objectives: _Objectives | None = None

    def reset_states(self) -> None:
        """Every stateful layer (nested models' too) starts its next batch from zero states, as Keras's."""
        for layer in self.layers:
            if hasattr(layer, "reset_states"):
                layer.reset_states()

    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Any = None, loss_weights: Any = None,
                weighted_metrics: Any = None) -> None:
        """loss, metrics, weighted_metrics and loss_weights: one value for every output, a list in the order of
        model.outputs, or a dict keyed by output name (see _Objectives). metrics comes third, as in Keras 2 and
        this project's saved files; Keras 3 puts loss_weights there (give both by keyword to run anywhere)."""
        self.optimizer = optimizers.get(optimizer)
        self._objectives = _Objectives(loss, loss_weights, metrics, weighted_metrics)
        self.loss = losses.get(loss) if loss is not None and not isinstance(loss, (list, tuple, dict)) else loss
        self.metrics = metrics or []  # as given: the names saving.py records

    # ---- the data ---------------------------------------------------------------------------------
    def _samples(self, x: Any, y: Any = None, sample_weight: Any = None, need_y: bool = True) -> _Samples:
        """Every check on the data, for every entry point, before anything runs on it."""
        x = self._adjust_ranks(_arrays(x, "x", _names(getattr(self, "inputs", None)), self._takes_text()))
        self._check_inputs(_model_input(x))
        if not need_y:
            return _Samples(x)
        outputs = _names(getattr(self, "outputs", None))
        y = _arrays(y, "y", outputs)
        if len(y[0]) != len(x[0]):
            raise ValueError(f"x and y hold different numbers of samples: {len(x[0])} and {len(y[0])}")
        if sample_weight is None:
            return _Samples(x, y)
        if len(outputs) > 1 and not isinstance(sample_weight, (list, tuple, dict)):
            sample_weight = [sample_weight] * len(outputs)  # one array weighs every output's loss, as in Keras
        weights = _arrays(sample_weight, "sample_weight", outputs)
        if len(weights[0]) != len(x[0]):
            raise ValueError(f"sample_weight holds {len(weights[0])} weights but x holds {len(x[0])} samples: "
                             "give one weight per sample")
        return _Samples(x, y, weights)

    def _with_class_weight(self, samples: _Samples, class_weight: dict | None, every_class_seen: bool) -> _Samples:
        if class_weight is None:
            return samples
        if samples.sample_weight is not None:
            raise ValueError("give sample_weight or class_weight, not both")
        if len(samples.y) > 1:
            raise ValueError("class_weight is for models with one output: with several, give sample_weight")
        return _Samples(samples.x, samples.y, [_class_weights(samples.y[0], class_weight, every_class_seen)])

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
        """A model hands its input on uncast: its layers cast to their own dtypes (a functional model to its
        Inputs'), so float64 data reaches float64 layers whole. Text stays a numpy array (for TextVectorization)."""
        if isinstance(value, Tensor):
            return value
        array = np.asarray(value)
        return array if array.dtype.kind in "OSU" else Tensor(array)

    def _require_compiled(self) -> None:
        if self.optimizer is None or self._objectives is None or self.loss is None:
            raise ValueError("compile the model (optimizer and loss) before training or evaluating it")

    # ---- one batch --------------------------------------------------------------------------------
    def _run_batch(self, x: Any, ys: list[np.ndarray], weights: list[np.ndarray] | None, training: bool) -> Tensor:
        """The batch's total loss, its losses and metrics added to the running means."""
        predictions = self(x, training=training)
        predictions = list(predictions) if isinstance(predictions, (list, tuple)) else [predictions]
        if len(predictions) != len(ys):
            raise ValueError(f"the model gives {len(predictions)} outputs but y holds {len(ys)} arrays")
        if not self._objectives.built:
            names = _names(getattr(self, "outputs", None))
            self._objectives.build(names if len(names) == len(predictions) else [None] * len(predictions))
        return self._objectives.update(ys, predictions, weights, len(flatten(x)[0]))

    def _train_batch(self, x: Any, ys: list[np.ndarray], weights: list[np.ndarray] | None) -> None:
        loss = self._run_batch(x, ys, weights, training=True)
        variables = self.trainable_weights
        if loss.requires_grad:  # every layer frozen: nothing to learn
            loss.backward()
            self.optimizer.step(variables)
        for variable in variables:
            variable.zero_grad()

    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None, class_weight: dict | None = None,
                       return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """One gradient step on this batch; its loss and metrics (as evaluate gives them)."""
        self._require_compiled()
        samples = self._with_class_weight(self._samples(x, y, sample_weight), class_weight, every_class_seen=False)
        self._build_for(samples.x)
        self._objectives.reset()
        self._train_batch(*samples.rows(slice(None)))
        return self._logs(return_dict)

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                      return_dict: bool = False) -> float | list[float] | dict[str, float]:
        self._require_compiled()
        samples = self._samples(x, y, sample_weight)
        self._build_for(samples.x)
        self._objectives.reset()
        with no_grad():
            self._run_batch(*samples.rows(slice(None)), training=False)
        return self._logs(return_dict)

    def _logs(self, as_dict: bool) -> float | list[float] | dict[str, float]:
        logs = self._objectives.results()
        return logs if as_dict else self._objectives.ordered(logs)

    def predict_on_batch(self, x: Any) -> Any:
        return self.predict(x, batch_size=len(self._samples(x, need_y=False)))

    def _build_for(self, x: Any) -> None:
        """Build on one sample of x: a list of arrays (one per input), or one array for a single input."""
        if not self.built:
            with no_grad():
                self(_model_input([a[:1] for a in (x if isinstance(x, list) else [x])]), training=False)

    # ---- where the batches come from --------------------------------------------------------------
    def _batches(self, data: _Samples | Any, batch_size: Any, steps: int | None, need_y: bool = True,
                 shuffle: bool = False, what: str = "x", class_weight: dict | None = None) -> _ArrayBatches | Stream:
        """Batches of (model input, ys, sample weights): from samples in memory, or from a stream (a dataset,
        generator, PyDataset or tf.data.Dataset) whose batches are checked as they come."""
        if isinstance(data, _Samples):
            return _ArrayBatches(data, _batch_size(batch_size), shuffle, steps)
        if batch_size is not None:
            raise ValueError(f"batch_size must not be given with a dataset or generator ({type(data).__name__}): "
                             "its batches set the batch size")
        return Stream(data, steps, lambda batch: self._checked_batch(batch, need_y, class_weight), what)

    def _checked_batch(self, batch: tuple, need_y: bool, class_weight: dict | None) -> tuple:
        x, y, sample_weight = batch
        if need_y and y is None:
            raise ValueError("training and evaluating need batches of (x, y) or (x, y, sample_weight), got x alone")
        samples = self._samples(x, y, sample_weight, need_y)
        return self._with_class_weight(samples, class_weight, every_class_seen=False).rows(slice(None))

    def _data(self, x: Any, y: Any, sample_weight: Any, need_y: bool = True) -> _Samples | Any:
        """Arrays checked into _Samples; a stream as it is (its batches are checked as they come)."""
        if not is_stream(x):
            return self._samples(x, y, sample_weight, need_y)
        for name, value in (("y", y), ("sample_weight", sample_weight)):
            if value is not None:
                raise ValueError(f"{name} must not be given with a dataset or generator ({type(x).__name__}): "
                                 "its batches hold the targets and the sample weights")
        return x

    def _callbacks(self, callbacks: Sequence[Callback] | CallbackList | None, add_history: bool = False,
                   **params: Any) -> CallbackList:
        """The callbacks of one fit, evaluate or predict, each given the model and Keras's params."""
        if isinstance(callbacks, CallbackList):
            return callbacks
        return CallbackList(list(callbacks or []), add_history=add_history, model=self, **params)

    # ---- loops ------------------------------------------------------------------------------------
    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1, verbose: int = 1,
            callbacks: Sequence[Callback] | None = None, validation_split: float = 0.0,
            validation_data: Any = None, shuffle: bool = True, class_weight: dict | None = None,
            sample_weight: Any = None, initial_epoch: int = 0, steps_per_epoch: int | None = None,
            validation_steps: int | None = None, **kwargs: Any) -> History:
        """Train for `epochs` passes over (x, y) in batches; return the History of per-epoch logs.
        x may be arrays (with y, and sample_weight or class_weight) or a stream of (x, y[, sample_weight])
        batches: a Dataset, a generator, a PyDataset, a tf.data.Dataset. A TerminateOnNaN is always among
        the callbacks; Ctrl-C stops after the current batch."""
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
        data = self._data(x, y, sample_weight)
        if validation_data is None and validation_split:  # Keras holds out the last samples, before shuffling
            data, validation_data = data.split(validation_split)
        if isinstance(data, _Samples):
            data = self._with_class_weight(data, class_weight, every_class_seen=True)
        train = self._batches(data, batch_size, steps_per_epoch, shuffle=shuffle, class_weight=class_weight)
        validation = self._validation(validation_data, batch_size, validation_steps)
        self._build_for(train.first_inputs())
        self.optimizer.build(self.trainable_weights)
        callbacks = self._callbacks(callbacks, add_history=True, verbose=verbose, epochs=epochs, steps=train.steps)
        if not any(isinstance(c, TerminateOnNaN) for c in callbacks.callbacks):
            callbacks.append(TerminateOnNaN())
        self.stop_training, self.stop_reason = False, None  # reset before on_train_begin, as Keras
        self._initial_epoch = initial_epoch  # a callback may move it on_train_begin (BackupAndRestore)
        callbacks.on_train_begin({})
        logs: dict[str, float] = {}
        with _stop_after_batch_on_ctrl_c(self):
            for epoch in range(self._initial_epoch, epochs):
                epoch_logs = self._fit_epoch(train, epoch, epochs, verbose, callbacks)
                if epoch_logs is None:  # the stream ran out before this epoch's first batch
                    break
                logs = epoch_logs
                if validation is not None:
                    logs.update({f"val_{k}": v for k, v in self._evaluate(validation, callbacks, verbose=0).items()})
                if verbose == 2 or (verbose == 1 and validation is not None):
                    print(f"Epoch {epoch + 1}/{epochs} - " + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
                callbacks.on_epoch_end(epoch, logs)
                if self.stop_training or getattr(train, "ran_out", False):
                    break
        callbacks.on_train_end(logs)  # the last epoch's logs, as Keras
        return self.history

    def _validation(self, validation_data: Any, batch_size: Any, steps: int | None) -> _ArrayBatches | Stream | None:
        if validation_data is None:
            return None
        if is_stream(validation_data):
            return self._batches(validation_data, None, steps, what="validation_data")
        if isinstance(validation_data, _Samples):
            return self._batches(validation_data, batch_size, steps)
        if isinstance(validation_data, (tuple, list)) and len(validation_data) in (2, 3):
            return self._batches(self._samples(*validation_data), batch_size, steps)
        raise ValueError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight_val), or a "
                         "dataset of (x, y) batches")

    def _fit_epoch(self, train, epoch, epochs, verbose, callbacks) -> dict[str, float] | None:
        self._objectives.reset()
        callbacks.on_epoch_begin(epoch, {})
        logs, seen = {}, 0
        with tqdm(total=train.steps, desc=f"Epoch {epoch + 1}/{epochs}", unit="step", disable=verbose != 1,
                  file=sys.stdout, dynamic_ncols=True) as bar:
            for batch, (x, ys, weights) in enumerate(train.epoch()):
                callbacks.on_train_batch_begin(batch, {})
                self._train_batch(x, ys, weights)
                seen += 1
                logs = self._objectives.results()  # the epoch's running means, as Keras hands them on
                bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)
                bar.update(1)
                callbacks.on_train_batch_end(batch, logs)
                if self.stop_training:
                    break
        if seen == 0:
            if getattr(train, "ran_out", False):
                return None
            raise ValueError(f"the training data gave no batch in epoch {epoch + 1}: a generator runs only once, "
                             "so give steps_per_epoch and make it repeat, or pass a dataset or PyDataset")
        return dict(logs)

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None, verbose: int = 1,
                 sample_weight: Any = None, steps: int | None = None, callbacks: Sequence[Callback] | None = None,
                 return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """The loss and metrics over (x, y): a dict with return_dict, else Keras's list (or one value)."""
        self._require_compiled()
        batches = self._batches(self._data(x, y, sample_weight), batch_size, steps)
        callbacks = self._callbacks(callbacks, verbose=verbose, epochs=1, steps=batches.steps)
        logs = self._evaluate(batches, callbacks, verbose)
        return logs if return_dict else self._objectives.ordered(logs)

    def _evaluate(self, batches: _ArrayBatches | Stream, callbacks: CallbackList, verbose: int) -> dict[str, float]:
        self._objectives.reset()
        self.stop_evaluating = False
        callbacks.on_test_begin({})
        logs = None
        with no_grad():
            for step, (x, ys, weights) in enumerate(tqdm(batches.epoch(), total=batches.steps, desc="evaluate",
                                                         unit="step", disable=verbose != 1)):
                callbacks.on_test_batch_begin(step, {})
                self._run_batch(x, ys, weights, training=False)
                logs = self._objectives.results()
                callbacks.on_test_batch_end(step, logs)
                if self.stop_evaluating:
                    break
        if logs is None:
            raise ValueError("the evaluation data gave no batch")
        callbacks.on_test_end(logs)
        return logs

    def predict(self, x: Any, batch_size: int | None = None, verbose: int = 0, steps: int | None = None,
                callbacks: Sequence[Callback] | None = None) -> Any:
        """The model's outputs for every sample of x (arrays, or a stream of batches whose targets are
        ignored): one array, or a list of them for a model with several outputs."""
        batches = self._batches(self._data(x, None, None, need_y=False), batch_size, steps, need_y=False)
        if isinstance(batches, Stream):
            self._build_for(batches.first_inputs())
        callbacks = self._callbacks(callbacks, verbose=verbose, epochs=1, steps=batches.steps)
        self.stop_predicting, parts = False, []
        callbacks.on_predict_begin({})
        with no_grad():
            for step, (inputs, _, _) in enumerate(tqdm(batches.epoch(), total=batches.steps, unit="step",
                                                       disable=verbose != 1)):
                callbacks.on_predict_batch_begin(step, {})
                out = self(inputs, training=False)
                parts.append([t.data for t in out] if isinstance(out, (list, tuple)) else out.data)
                callbacks.on_predict_batch_end(step, {"outputs": parts[-1]})
                if self.stop_predicting:
                    break
        callbacks.on_predict_end({})
        if not parts:
            raise ValueError("predict got no batch: the data is empty")
        if isinstance(parts[0], list):  # several outputs: one array each
            return [np.concatenate(column) for column in zip(*parts)]
        return np.concatenate(parts)


class _ArrayBatches:
    """Batches of samples in memory, as Stream gives those of a dataset: each epoch a pass in batch_size
    rows, in a new random order when shuffling (with steps: at most that many batches of the pass)."""

    def __init__(self, samples: _Samples, batch_size: int, shuffle: bool, steps: int | None) -> None:
        self.samples, self.batch_size, self.shuffle = samples, batch_size, shuffle
        self.limit = None if steps is None else positive_int(steps, "steps")

    @property
    def steps(self) -> int:
        batches = math.ceil(len(self.samples) / self.batch_size)
        return batches if self.limit is None else min(self.limit, batches)

    def first_inputs(self) -> list[np.ndarray]:
        return self.samples.x

    def epoch(self) -> Iterator[tuple[Any, list[np.ndarray] | None, list[np.ndarray] | None]]:
        count = len(self.samples)
        order = random_generator().permutation(count) if self.shuffle else np.arange(count)
        for batch in range(self.steps):
            yield self.samples.rows(order[batch * self.batch_size:(batch + 1) * self.batch_size])


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
