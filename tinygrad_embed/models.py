"""Sequential: Keras's model API (compile, fit, evaluate, predict, summary, save) over the layers."""
from __future__ import annotations

import contextlib
import json
import math
import signal
import sys
import threading
import warnings
from typing import Any, Iterator, Sequence

import numpy as np
from tqdm.auto import tqdm

from . import losses, optimizers, saving
from .callbacks import Callback, History, TerminateOnNaN
from .layers import LSTM, Dense, Embedding, Layer
from .ops import check_indices
from .tensor import Tensor, no_grad
from .utils import positive_int, random_generator

LAYER_CLASSES = {"Embedding": Embedding, "LSTM": LSTM, "Dense": Dense}
METRICS = ("accuracy", "acc")


class Sequential:
    """A stack of layers, each feeding the next."""

    def __init__(self, layers: Sequence[Layer] | None = None, name: str = "sequential") -> None:
        self.name, self.layers = name, []
        self.optimizer: optimizers.Optimizer | None = None
        self.loss, self.metrics = None, []
        self.stop_training, self.history = False, None
        self._input_shape: tuple | None = None  # (None, ...) once the model has seen an input
        for layer in layers or []:
            self.add(layer)

    def add(self, layer: Layer) -> None:
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add needs a layer, got {type(layer).__name__}")
        self.layers.append(layer)

    def __call__(self, x: Any) -> Tensor:
        if not self.layers:
            raise ValueError("this Sequential model has no layers yet: add some first")
        if self._input_shape is None:
            self._input_shape = (None,) + np.shape(x.data if isinstance(x, Tensor) else x)[1:]
        for layer in self.layers:
            x = layer(x)
        return x

    def build(self, input_shape: Sequence[int | None] | None = None) -> None:
        """Create every weight by running a batch of one zero input through the layers."""
        shape = input_shape or self._input_shape
        if shape is None and isinstance(self.layers[0], Embedding) and self.layers[0].input_length:
            shape = (None, self.layers[0].input_length)
        if shape is None:
            raise ValueError("the input shape is unknown: give Embedding an input_length, call build(input_shape), "
                             "or call the model on data first")
        with no_grad():
            self(self._dummy_input(shape))
        self._input_shape = (None,) + tuple(shape[1:])

    def _dummy_input(self, shape: Sequence[int | None]) -> np.ndarray:
        """A batch of one zero input of `shape` (None dimensions as 1): ids for an Embedding, else floats."""
        dtype = np.int64 if isinstance(self.layers[0], Embedding) else self.layers[0].dtype
        return np.zeros((1,) + tuple(1 if d is None else d for d in shape[1:]), dtype)

    @property
    def built(self) -> bool:
        return bool(self.layers) and all(layer.built for layer in self.layers)

    @property
    def trainable_weights(self) -> list[Tensor]:
        return [w for layer in self.layers for w in layer.trainable_weights]

    def get_weights(self) -> list[np.ndarray]:
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights: Sequence[Any]) -> None:
        weights, expected = list(weights), len(self.trainable_weights)
        if not self.built or len(weights) != expected:
            raise ValueError(f"model {self.name!r} has {expected if self.built else 'no (unbuilt)'} weight arrays, "
                             f"got {len(weights)}")
        start = 0
        for layer in self.layers:
            count = len(layer.trainable_weights)
            layer.set_weights(weights[start:start + count])
            start += count

    # ---- training ---------------------------------------------------------------------------------
    def compile(self, optimizer: Any = "adam", loss: Any = None, metrics: Sequence[str] | None = None) -> None:
        self.optimizer = optimizers.get(optimizer)
        self.loss = None if loss is None else losses.get(loss)
        for metric in metrics or []:
            if metric not in METRICS:
                raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
        self.metrics = ["accuracy"] if metrics else []

    def _compute(self, x: Any, y: Any) -> tuple[Tensor, dict[str, float]]:
        predictions = self(x)
        loss = self.loss(y, predictions).mean()
        logs = {"loss": float(loss.data)}
        if self.metrics:
            p, y = predictions.data, np.asarray(y)
            if p.shape[-1] == 1:  # Keras picks binary accuracy for one output, categorical for several
                hits = (p > 0.5) == (y.reshape(p.shape) > 0.5)
            else:
                hits = p.argmax(-1) == (y.argmax(-1) if y.shape == p.shape else y)
            logs["accuracy"] = float(np.mean(hits))
        return loss, logs

    def _check_data(self, x: Any, y: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
        x = np.asarray(x)
        if x.ndim == 0 or len(x) == 0:
            raise ValueError(f"x must hold at least one sample, got shape {x.shape}")
        if isinstance(self.layers[0], Embedding):
            check_indices(x, self.layers[0].input_dim)  # an id out of range fails here, before any training
        elif x.dtype.kind not in "biuf":
            raise TypeError(f"x must hold numbers, got an array of dtype {x.dtype}")
        elif x.dtype.kind == "f" and not np.isfinite(x).all():
            raise ValueError(f"x contains NaN or inf, first at sample {int(np.argwhere(~np.isfinite(x))[0][0])}")
        if y is None:
            return x, None
        y = np.asarray(y)
        if len(y) != len(x):
            raise ValueError(f"x and y hold different numbers of samples: {len(x)} and {len(y)}")
        if y.dtype.kind not in "biuf":
            raise TypeError(f"labels must be numbers, got an array of dtype {y.dtype}")
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError(f"labels contain NaN or inf, first at sample {int(np.argwhere(~np.isfinite(y))[0][0])}")
        return x, y

    def _require_compiled(self) -> None:
        if self.optimizer is None or self.loss is None:
            raise ValueError("compile the model (optimizer and loss) before training or evaluating it")

    def train_on_batch(self, x: Any, y: Any) -> float | list[float]:
        self._require_compiled()
        logs = self._train_step(*self._check_data(x, y))
        return _as_keras_result(logs)

    def _train_step(self, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
        loss, logs = self._compute(x, y)
        loss.backward()
        weights = self.trainable_weights
        self.optimizer.step(weights)
        for w in weights:
            w.zero_grad()
        return logs

    def fit(self, x: Any = None, y: Any = None, batch_size: int = 32, epochs: int = 1, verbose: int = 1,
            validation_split: float = 0.0, validation_data: tuple | None = None, shuffle: bool = True,
            callbacks: Sequence[Callback] | None = None, initial_epoch: int = 0, **kwargs: Any) -> History:
        """Train for `epochs` passes over (x, y) in batches; return the History of per-epoch logs.
        A TerminateOnNaN is always among the callbacks; Ctrl-C stops after the current batch."""
        if "nb_epoch" in kwargs:
            warnings.warn("nb_epoch is Keras 1's spelling; use epochs", DeprecationWarning, stacklevel=2)
            epochs = kwargs.pop("nb_epoch")
        if kwargs:
            raise TypeError(f"fit() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        self._require_compiled()
        batch_size = positive_int(batch_size, "batch_size")
        if not 0 <= validation_split < 1:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}")
        x, y = self._check_data(x, y)
        if validation_data is None and validation_split:  # Keras holds out the last samples, before shuffling
            cut = int(len(x) * (1 - validation_split))
            x, y, validation_data = x[:cut], y[:cut], (x[cut:], y[cut:])
        if validation_data is not None:
            validation_data = self._check_data(*validation_data)
        if not self.built:
            self.build((None,) + x.shape[1:])
        self.optimizer.build(self.trainable_weights)
        history = History()
        self._initial_epoch = initial_epoch  # a callback may move it on_train_begin (BackupAndRestore)
        callbacks = [history, *(callbacks or [])]
        if not any(isinstance(c, TerminateOnNaN) for c in callbacks):
            callbacks.append(TerminateOnNaN())
        for callback in callbacks:
            callback.set_model(self)
            callback.on_train_begin()
        self.stop_training, self.stop_reason = False, None
        with _stop_after_batch_on_ctrl_c(self):
            for epoch in range(self._initial_epoch, epochs):
                logs = self._fit_epoch(x, y, batch_size, epoch, epochs, shuffle, verbose, callbacks)
                if validation_data is not None:
                    val = self.evaluate(*validation_data, batch_size=batch_size, verbose=0, return_dict=True)
                    logs.update({f"val_{k}": v for k, v in val.items()})
                if verbose == 2 or (verbose == 1 and validation_data is not None):
                    print(f"Epoch {epoch + 1}/{epochs} - " + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
                for callback in callbacks:
                    callback.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
        for callback in callbacks:
            callback.on_train_end()
        self.history = history
        return history

    def _fit_epoch(self, x, y, batch_size, epoch, epochs, shuffle, verbose, callbacks) -> dict[str, float]:
        for callback in callbacks:
            callback.on_epoch_begin(epoch)
        order = random_generator().permutation(len(x)) if shuffle else np.arange(len(x))
        totals, seen = {}, 0
        steps = math.ceil(len(x) / batch_size)
        with tqdm(total=steps, desc=f"Epoch {epoch + 1}/{epochs}", unit="step", disable=verbose != 1,
                  file=sys.stdout, dynamic_ncols=True) as bar:
            for batch in range(steps):
                rows = order[batch * batch_size:(batch + 1) * batch_size]
                for callback in callbacks:
                    callback.on_train_batch_begin(batch)
                logs = self._train_step(x[rows], y[rows])
                seen += len(rows)
                for key, value in logs.items():
                    totals[key] = totals.get(key, 0.0) + value * len(rows)
                bar.set_postfix({k: f"{v / seen:.4f}" for k, v in totals.items()}, refresh=False)
                bar.update(1)
                for callback in callbacks:
                    callback.on_train_batch_end(batch, logs)
                if self.stop_training:
                    break
        return {key: value / seen for key, value in totals.items()}

    def evaluate(self, x: Any, y: Any, batch_size: int = 32, verbose: int = 1,
                 return_dict: bool = False) -> float | list[float] | dict[str, float]:
        self._require_compiled()
        x, y = self._check_data(x, y)
        totals = {}
        with no_grad():
            for start in tqdm(range(0, len(x), batch_size), desc="evaluate", unit="step", disable=verbose != 1):
                _, logs = self._compute(x[start:start + batch_size], y[start:start + batch_size])
                for key, value in logs.items():
                    totals[key] = totals.get(key, 0.0) + value * len(x[start:start + batch_size])
        logs = {key: value / len(x) for key, value in totals.items()}
        return logs if return_dict else _as_keras_result(logs)

    def test_on_batch(self, x: Any, y: Any) -> float | list[float]:
        return self.evaluate(x, y, batch_size=len(x), verbose=0)

    def predict(self, x: Any, batch_size: int = 32, verbose: int = 0) -> np.ndarray:
        x, _ = self._check_data(x)
        with no_grad():
            parts = [self(x[start:start + batch_size]).data
                     for start in tqdm(range(0, len(x), batch_size), unit="step", disable=verbose != 1)]
        return np.concatenate(parts)

    def predict_on_batch(self, x: Any) -> np.ndarray:
        return self.predict(x, batch_size=len(x))

    # ---- description and files -------------------------------------------------------------------
    def summary(self, print_fn=print) -> None:
        """Keras's table: each layer's name and type, output shape and parameter count, then totals."""
        if not self.built:
            with contextlib.suppress(ValueError):  # an unknown input shape leaves the model unbuilt
                self.build()
        shapes = self._output_shapes() if self.built else ["?"] * len(self.layers)
        rule, lines = "_" * 65, [f'Model: "{self.name}"', "_" * 65,
                                 f" {'Layer (type)':<28}{'Output Shape':<26}{'Param #':>9}", "=" * 65]
        for layer, shape in zip(self.layers, shapes):
            params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
            lines.append(f" {f'{layer.name} ({type(layer).__name__})':<28}{shape:<26}{params:>9}")
        total = sum(layer.count_params() for layer in self.layers)
        lines += ["=" * 65, f"Total params: {total:,}", f"Trainable params: {total:,}", "Non-trainable params: 0", rule]
        print_fn("\n".join(lines))

    def _output_shapes(self) -> list[str]:
        x, shapes = self._dummy_input(self._input_shape), []
        with no_grad():
            for layer in self.layers:
                x = layer(x)
                first = x[0] if isinstance(x, list) else x
                shapes.append(str((None,) + first.shape[1:]))
        return shapes

    def get_config(self) -> dict[str, Any]:
        return {"class_name": "Sequential", "name": self.name, "input_shape": list(self._input_shape or []),
                "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()} for layer in self.layers],
                "compile": None if self.optimizer is None else {
                    "optimizer": {"class_name": type(self.optimizer).__name__, "config": self.optimizer.get_config()},
                    "loss": None if self.loss is None else self.loss.__name__, "metrics": self.metrics}}

    def save_weights(self, filepath: str) -> None:
        saving.write_archive(filepath, {f"weight/{i:04d}": w for i, w in enumerate(self.get_weights())})

    def load_weights(self, filepath: str) -> None:
        arrays = saving.read_archive(filepath)
        if not self.built:
            first = self.layers[0]
            length_unknown = self._input_shape is None and isinstance(first, Embedding) and not first.input_length
            self.build((None, 1) if length_unknown else None)  # weight shapes do not depend on the length
        self._set_weights_from(arrays, filepath)

    def _set_weights_from(self, arrays: dict[str, np.ndarray], filepath: str) -> None:
        stored = sorted(k for k in arrays if k.startswith("weight/"))
        try:
            self.set_weights([arrays[k] for k in stored])
        except (ValueError, TypeError) as error:
            raise ValueError(f"the weights in {filepath!r} do not fit model {self.name!r}: {error}") from None

    def save(self, filepath: str, include_optimizer: bool = True) -> None:
        """Architecture (JSON), weights and, optionally, the optimizer's state, in one file."""
        saving.write_archive(filepath, self._to_arrays(include_optimizer))

    def _to_arrays(self, include_optimizer: bool = True) -> dict[str, np.ndarray]:
        arrays = {f"weight/{i:04d}": w for i, w in enumerate(self.get_weights())}
        arrays["config"] = np.array(json.dumps(self.get_config()))
        if include_optimizer and self.optimizer is not None:
            arrays.update({f"optimizer/{k}": v for k, v in self.optimizer.get_state().items()})
        return arrays

    def _restore_from(self, arrays: dict[str, np.ndarray], filepath: str) -> None:
        """Weights and, when the file has it, the optimizer's state."""
        self._set_weights_from(arrays, filepath)
        state = {k[len("optimizer/"):]: v for k, v in arrays.items() if k.startswith("optimizer/")}
        if state and self.optimizer is not None:
            self.optimizer.build(self.trainable_weights)
            try:
                self.optimizer.set_state(state)
            except (ValueError, TypeError) as error:
                raise ValueError(f"the optimizer state in {filepath!r} does not fit: {error}") from None


def load_model(filepath: str) -> Sequential:
    """The model that Sequential.save wrote: same layers, weights, compile settings, optimizer state."""
    arrays = saving.read_archive(filepath)
    if "config" not in arrays:
        raise ValueError(f"{filepath!r} holds weights only (no architecture): build the model and call load_weights")
    try:
        config = json.loads(str(arrays["config"]))
        declared = _declared_weight_shapes(config)
    except (KeyError, TypeError, IndexError, json.JSONDecodeError) as error:
        raise ValueError(f"{filepath!r} has an architecture this version cannot rebuild: {error!r}") from None
    stored = [arrays[k].shape for k in sorted(arrays) if k.startswith("weight/")]
    if declared != stored:  # checked before building: a crafted config could declare billions of weights
        raise ValueError(f"{filepath!r}: its architecture declares weights of shapes {declared}, "
                         f"but the file stores {stored}")
    try:
        model = Sequential([LAYER_CLASSES[c["class_name"]].from_config(c["config"]) for c in config["layers"]],
                           name=config["name"])
        model.build(config["input_shape"])
    except (KeyError, TypeError) as error:
        raise ValueError(f"{filepath!r} has an architecture this version cannot rebuild: {error!r}") from None
    if config.get("compile"):
        settings = config["compile"]
        try:
            optimizer = getattr(optimizers, settings["optimizer"]["class_name"])(**settings["optimizer"]["config"])
        except (AttributeError, KeyError, TypeError) as error:
            raise ValueError(f"{filepath!r} names an optimizer this version cannot rebuild: {error!r}") from None
        model.compile(optimizer, settings["loss"], settings["metrics"])
    model._restore_from(arrays, filepath)
    return model


def _declared_weight_shapes(config: dict) -> list[tuple[int, ...]]:
    """The weight shapes a saved architecture would create, worked out without creating them."""
    features, shapes = config["input_shape"][-1] if config["input_shape"] else None, []
    for layer in config["layers"]:
        kind, settings = layer["class_name"], layer["config"]
        if kind not in LAYER_CLASSES:
            raise KeyError(kind)
        if kind == "Embedding":
            shapes.append((settings["input_dim"], settings["output_dim"]))
            features = settings["output_dim"]
            continue
        units = settings["units"]
        width = 4 * units if kind == "LSTM" else units  # an LSTM has four gates
        shapes += [(features, width)] + ([(units, width)] if kind == "LSTM" else [])
        shapes += [(width,)] if settings.get("use_bias", True) else []
        features = units
    return shapes


def _as_keras_result(logs: dict[str, float]) -> float | list[float]:
    return logs["loss"] if len(logs) == 1 else list(logs.values())


@contextlib.contextmanager
def _stop_after_batch_on_ctrl_c(model: Sequential) -> Iterator[None]:
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
