"""The one training loop, compile, fit, evaluate and predict, and Keras 3's seams a model may override."""
from __future__ import annotations

import contextlib
import signal
import sys
import threading
import warnings
from typing import Any, Iterator, Sequence

import numpy as np
from tqdm.auto import tqdm

from .. import losses, optimizers
from ..callbacks import Callback, CallbackList, History, TerminateOnNaN
from ..helpers import fraction
from ..tensor import Tensor, no_grad
from ..tree import flatten, map_structure, pack_like
from .batches import Batches, batches, checked_batch, layer_names, unpack, validation_batches
from .compile_utils import _Objectives


class Trainer:
    """Keras's Model methods for training and inference, for any model called on a batch, with trainable_weights."""
    optimizer = loss = history = _objectives = None  # until compile and fit set them
    metrics: Any = []
    stop_training = stop_evaluating = stop_predicting = False

    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Any = None, loss_weights: Any = None,
                weighted_metrics: Any = None) -> None:
        """The optimizer, and what to minimise and log (_Objectives); metrics comes third, as in Keras 2."""
        self.optimizer = optimizers.get(optimizer)
        self._objectives = _Objectives(loss, loss_weights, metrics, weighted_metrics)
        self.loss = losses.get(loss) if loss is not None and not isinstance(loss, (list, tuple, dict)) else loss
        self.metrics = metrics or []  # as given: the names saving/native.py records

    def _require_compiled(self) -> None:
        if self.optimizer is None or self._objectives is None or self.loss is None:
            raise ValueError("compile the model (optimizer and loss) before training or evaluating it")

    # ---- Keras's seams: what the loops do with one batch ---------------------------------------------
    def train_step(self, data: tuple) -> dict[str, float]:
        """One gradient step on a batch (x, y) or (x, y, sample_weight); the logs so far (fit calls it on each)."""
        x, y, sample_weight = unpack(data)
        y_pred = self(x, training=True)
        loss = self.compute_loss(x, y, y_pred, sample_weight)
        variables = self.trainable_weights
        if loss.requires_grad:  # every layer frozen: nothing to learn
            loss.backward()
            self.optimizer.step(variables)
        for variable in variables:
            variable.zero_grad()
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def test_step(self, data: tuple) -> dict[str, float]:
        """The loss and metrics of a batch added to the running means, nothing learnt; the logs so far.
        evaluate, and fit's validation, call it on every batch."""
        x, y, sample_weight = unpack(data)
        y_pred = self(x, training=False)
        self.compute_loss(x, y, y_pred, sample_weight, training=False)
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def compute_loss(self, x: Any = None, y: Any = None, y_pred: Any = None, sample_weight: Any = None,
                     training: bool = True) -> Tensor:
        """The batch's loss to minimise, also added to the running means that are logged (docs/models.md)."""
        return self._objectives.loss(*self._per_output(y, y_pred, sample_weight))

    def compute_metrics(self, x: Any, y: Any, y_pred: Any, sample_weight: Any = None) -> dict[str, float]:
        """compile's metrics updated with the batch; the logs so far (the running means of the losses too)."""
        self._objectives.update_metrics(*self._per_output(y, y_pred, sample_weight))
        return self._objectives.results()

    def _per_output(self, y: Any, y_pred: Any, sample_weight: Any) -> tuple[list, list, list | None]:
        """y, y_pred and sample_weight as one entry per model output."""
        ys, predictions = [flatten(v) for v in (y, y_pred)]  # a dict's entries by sorted key, as the outputs
        if len(predictions) != len(ys):
            raise ValueError(f"the model gives {len(predictions)} outputs but y holds {len(ys)} arrays")
        if not self._objectives.built:  # now the outputs are known, a subclassed model's too
            names = layer_names(self, "outputs")
            self._objectives.build(names if len(names) == len(predictions) else [None] * len(predictions))
        if sample_weight is None or isinstance(sample_weight, (list, tuple)):
            return ys, predictions, sample_weight
        return ys, predictions, [sample_weight] * len(ys)  # one array weighs every output, as in Keras

    # ---- the batches, valid --------------------------------------------------------------------------
    def _epoch(self, source: Batches) -> Iterator[tuple]:
        """One epoch of valid batches: arrays were checked whole, a stream's batches are checked as they come."""
        if source.checked:
            return source.epoch()
        return (self._checked(source, batch) for batch in source.epoch())

    def _checked(self, source: Batches, batch: tuple) -> tuple:
        """A stream's batch, checked as arrays are, and weighed by class_weight if given."""
        return checked_batch(self, batch, source.need_y, source.class_weight)

    def _build_for(self, source: Batches) -> None:
        """An unbuilt model is built on one sample of the first batch (which fails an empty or bad stream)."""
        x = unpack(source.first() if source.checked else self._checked(source, source.first()))[0]
        if not self.built:
            with no_grad():
                self(x[:1] if not isinstance(x, list) else [a[:1] for a in x], training=False)

    def _callbacks(self, callbacks: Sequence[Callback] | CallbackList | None, fitting: bool = False,
                   **params: Any) -> CallbackList:
        """The callbacks of one fit (History and TerminateOnNaN too), evaluate or predict, given model and params."""
        if not isinstance(callbacks, CallbackList):
            callbacks = CallbackList(list(callbacks or []), add_history=fitting, model=self, **params)
        if fitting and not any(isinstance(c, TerminateOnNaN) for c in callbacks.callbacks):
            callbacks.append(TerminateOnNaN())
        return callbacks

    # ---- the loops -----------------------------------------------------------------------------------
    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1, verbose: int = 1,
            callbacks: Sequence[Callback] | None = None, validation_split: float = 0.0, validation_data: Any = None,
            shuffle: bool = True, class_weight: dict | None = None, sample_weight: Any = None, initial_epoch: int = 0,
            steps_per_epoch: int | None = None, validation_steps: int | None = None, **kwargs: Any) -> History:
        """Train for `epochs` passes over (x, y) in batches; the History of per-epoch logs (docs/models.md)."""
        epochs = self._fit_arguments(epochs, validation_split, kwargs)
        train, validation = batches(self, x, y, sample_weight, batch_size, steps_per_epoch, shuffle), None
        if class_weight is not None or validation_split or validation_data is not None:
            train, validation = self._weighed_and_validation(train, class_weight, validation_split, validation_data,
                                                             batch_size, validation_steps)
        self._build_for(train)
        self.optimizer.build(self.trainable_weights)
        callbacks = self._callbacks(callbacks, fitting=True, verbose=verbose, epochs=epochs, steps=train.steps)
        self.stop_training, self.stop_reason, self._ctrl_c = False, None, False  # reset before on_train_begin
        self._initial_epoch = initial_epoch  # a callback may move it on_train_begin (BackupAndRestore)
        callbacks.on_train_begin({})
        logs: dict[str, float] = {}
        with _stop_after_batch_on_ctrl_c(self):
            for epoch in range(self._initial_epoch, epochs):
                epoch_logs = self._fit_epoch(train, epoch, epochs, verbose, callbacks)
                if epoch_logs is None:  # the stream ran out before this epoch's first batch
                    break
                logs = epoch_logs
                if validation is not None or verbose == 2:
                    self._validate_and_print(logs, validation, callbacks, verbose, f"Epoch {epoch + 1}/{epochs}")
                callbacks.on_epoch_end(epoch, logs)
                if self.stop_training or train.ran_out:
                    break
        callbacks.on_train_end(logs)  # the last epoch's logs, as Keras
        return self.history

    def _fit_arguments(self, epochs: Any, validation_split: Any, kwargs: dict[str, Any]) -> int:
        """fit's checks before any data is read; the number of epochs."""
        epochs = _keras_1_epochs(epochs, kwargs) if kwargs else epochs
        self._require_compiled()
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"epochs must be an integer >= 0, got {epochs!r}")
        fraction(validation_split, "validation_split")
        return epochs

    def _weighed_and_validation(self, train: Batches, class_weight: dict | None, validation_split: float,
                                validation_data: Any, batch_size: Any, steps: int | None
                                ) -> tuple[Batches, Batches | None]:
        """fit's training batches weighed by class_weight, and its validation batches: validation_data, or the
        last validation_split of the samples, held out before shuffling, as Keras does."""
        if validation_data is None and validation_split:
            train, validation = train.split(validation_split, steps)
            return train.weighed(class_weight), validation
        train = train.weighed(class_weight)
        return train, None if validation_data is None else validation_batches(self, validation_data, batch_size, steps)

    def _fit_epoch(self, train: Batches, epoch: int, epochs: int, verbose: int,
                   callbacks: CallbackList) -> dict[str, float] | None:
        """train_step on every batch of an epoch, between the callbacks' hooks; the epoch's logs."""
        self._objectives.reset()
        callbacks.on_epoch_begin(epoch, {})
        logs = None  # until the first batch
        with tqdm(total=train.steps, desc=f"Epoch {epoch + 1}/{epochs}", unit="step", disable=verbose != 1,
                  file=sys.stdout, dynamic_ncols=True) as bar:
            for step, data in enumerate(self._epoch(train)):
                callbacks.on_train_batch_begin(step, {})
                logs = self.train_step(data)  # the epoch's running means, as Keras hands them on
                bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)
                bar.update(1)
                callbacks.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
        return _no_batch_in(train, epoch) if logs is None else dict(logs)

    def _validate_and_print(self, logs: dict[str, float], validation: Batches | None, callbacks: CallbackList,
                            verbose: int, title: str) -> None:
        """The validation's logs added to the epoch's as val_<key>; the epoch's line printed with verbose 2, or 1
        with validation (tqdm's bar shows the training logs only)."""
        if validation is not None:
            logs.update({f"val_{k}": v for k, v in self._evaluate(validation, callbacks, verbose=0).items()})
        if verbose == 2 or (verbose == 1 and validation is not None):
            print(f"{title} - " + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None, verbose: int = 1,
                 sample_weight: Any = None, steps: int | None = None, callbacks: Sequence[Callback] | None = None,
                 return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """The loss and metrics over (x, y): a dict with return_dict, else Keras's list (or one value)."""
        self._require_compiled()
        source = batches(self, x, y, sample_weight, batch_size, steps)
        callbacks = self._callbacks(callbacks, verbose=verbose, epochs=1, steps=source.steps)
        return self._logs(self._evaluate(source, callbacks, verbose), return_dict)

    def _evaluate(self, source: Batches, callbacks: CallbackList, verbose: int) -> dict[str, float]:
        """test_step on every batch, between the callbacks' hooks; the logs."""
        self._objectives.reset()
        self.stop_evaluating = False
        callbacks.on_test_begin({})
        logs = None
        with no_grad():
            for step, data in enumerate(tqdm(self._epoch(source), total=source.steps, desc="evaluate", unit="step",
                                             disable=verbose != 1)):
                callbacks.on_test_batch_begin(step, {})
                logs = self.test_step(data)
                callbacks.on_test_batch_end(step, logs)
                if self.stop_evaluating:
                    break
        if logs is None:
            raise ValueError("the evaluation data gave no batch")
        callbacks.on_test_end(logs)
        return logs

    def _logs(self, logs: dict[str, float], as_dict: bool) -> float | list[float] | dict[str, float]:
        return logs if as_dict else self._objectives.ordered(logs)

    def predict(self, x: Any, batch_size: int | None = None, verbose: int = 0, steps: int | None = None,
                callbacks: Sequence[Callback] | None = None) -> Any:
        """The model's outputs for every sample of x (arrays, or a stream of batches whose targets are
        ignored): one array, or a list of them for a model with several outputs."""
        return self._predict(batches(self, x, batch_size=batch_size, steps=steps, need_y=False), verbose, callbacks)

    def _predict(self, source: Batches, verbose: int, callbacks: Sequence[Callback] | None) -> Any:
        self._build_for(source)
        callbacks = self._callbacks(callbacks, verbose=verbose, epochs=1, steps=source.steps)
        self.stop_predicting, parts = False, []
        callbacks.on_predict_begin({})
        with no_grad():
            for step, data in enumerate(tqdm(self._epoch(source), total=source.steps, unit="step",
                                             disable=verbose != 1)):
                callbacks.on_predict_batch_begin(step, {})
                out = self(unpack(data)[0], training=False)
                parts.append(map_structure(lambda t: t.data, out))
                callbacks.on_predict_batch_end(step, {"outputs": parts[-1]})
                if self.stop_predicting:
                    break
        callbacks.on_predict_end({})
        if not parts:
            raise ValueError("predict got no batch: the data is empty")
        if isinstance(parts[0], (list, tuple, dict)):  # several outputs: one array each, shaped as the model's
            return pack_like(parts[0], [np.concatenate(column) for column in zip(*map(flatten, parts))])
        return np.concatenate(parts)

    # ---- one batch: Keras's *_on_batch forms (arrays only, as Keras's) ------------------------------
    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None, class_weight: dict | None = None,
                       return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """One gradient step (train_step) on this batch; its loss and metrics (as evaluate gives them)."""
        self._require_compiled()
        source = batches(self, x, y, sample_weight, whole=True).weighed(class_weight, every_class_seen=False)
        self._build_for(source)
        self._objectives.reset()
        return self._logs(self.train_step(source.first()), return_dict)

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None,
                      return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """The loss and metrics of this batch (test_step)."""
        self._require_compiled()
        source = batches(self, x, y, sample_weight, whole=True)
        self._build_for(source)
        self._objectives.reset()
        with no_grad():
            return self._logs(self.test_step(source.first()), return_dict)

    def predict_on_batch(self, x: Any) -> Any:
        """The model's outputs for this batch."""
        return self._predict(batches(self, x, need_y=False, whole=True), 0, None)


def _keras_1_epochs(epochs: Any, kwargs: dict[str, Any]) -> Any:
    """Keras 1's nb_epoch, taken (with a warning) for epochs; any other unknown keyword is an error."""
    if "nb_epoch" in kwargs:
        warnings.warn("nb_epoch is Keras 1's spelling; use epochs", DeprecationWarning, stacklevel=4)
        epochs = kwargs.pop("nb_epoch")
    if kwargs:
        raise TypeError(f"fit() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
    return epochs


def _no_batch_in(train: Batches, epoch: int) -> None:
    """An epoch without a batch: the end of training for a stream that ran out, else an error."""
    if not train.ran_out:
        raise ValueError(f"the training data gave no batch in epoch {epoch + 1}: a generator runs only once, "
                         "so give steps_per_epoch and make it repeat, or pass a dataset or PyDataset")


@contextlib.contextmanager
def _stop_after_batch_on_ctrl_c(model: Trainer) -> Iterator[None]:
    """While fit runs in the main thread (the one signals reach), Ctrl-C stops it after the current batch."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, lambda signum, frame: _interrupted(model)) if main else None
    try:
        yield
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)


def _interrupted(model: Trainer) -> None:
    """Ctrl-C during fit: training stops after the current batch, keeping the weights and the history. The
    epoch cut short is no finished one: BackupAndRestore keeps its backup of the last (model._ctrl_c)."""
    model.stop_training = model._ctrl_c = True
    model.stop_reason = "interrupted (Ctrl-C): stopped after the current batch; weights and history kept"
    print(f"\n{model.stop_reason}")
