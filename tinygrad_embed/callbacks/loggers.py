"""The callbacks that write the logged values out of the process, for reading later: CSVLogger (a CSV
file, a row per epoch) and TensorBoard (event files, with weight histograms)."""
from __future__ import annotations

import csv
import os
from typing import Any

import numpy as np

from .. import helpers
from ..layers.weight_paths import named_weights
from .base import Callback, _learning_rate


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
            helpers.positive_int(histogram_freq, "TensorBoard's histogram_freq (epochs between histograms, or 0)")
        if update_freq not in ("epoch", "batch"):
            helpers.positive_int(update_freq, "TensorBoard's update_freq ('epoch', 'batch' or a number of batches)")
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
