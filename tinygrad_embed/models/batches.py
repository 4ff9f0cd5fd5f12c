"""Where batches come from: arrays, checked whole here, or a stream, told apart once (`batches`)."""
from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass
from typing import Any, Iterator, Protocol

import numpy as np

from ..data import INFINITE, Dataset, PyDataset, shuffles_restored, to_numpy
from ..helpers import positive_int, random_generator
from ..tree import flatten_like, is_nested

Batch = tuple  # (x,), (x, y) or (x, y, sample_weight): Keras's form, which train_step takes


class Batches(Protocol):
    """What the training loop iterates, whether the data came as arrays or as a stream."""
    steps: int | None  # batches in an epoch; None: not known before the stream ends
    checked: bool  # True: the batches are valid (arrays, checked whole); False: the loop checks each one
    ran_out: bool  # a stream with steps_per_epoch gave fewer batches than asked: training stops

    def first(self) -> Batch:
        """The first batch, which the first epoch still yields (a model is built from it)."""

    def epoch(self) -> Iterator[Batch]:
        """One epoch's batches."""


def batches(model: Any, x: Any, y: Any = None, sample_weight: Any = None, batch_size: Any = None,
            steps: int | None = None, shuffle: bool = False, need_y: bool = True, what: str = "x",
            whole: bool = False) -> Batches:
    """The batches of x: a stream's (_stream), or batch_size rows (None: 32, as Keras) of arrays checked whole;
    whole: the arrays are one batch (Keras's *_on_batch take arrays only)."""
    if is_stream(x) and not whole:
        return _stream(x, y, sample_weight, batch_size, steps, what, need_y)
    samples = checked_samples(model, x, y, sample_weight, need_y)
    size = len(samples) if whole else 32 if batch_size is None else positive_int(batch_size, "batch_size")
    return ArrayBatches(samples, size, shuffle, steps)


def validation_batches(model: Any, data: Any, batch_size: Any, steps: int | None) -> Batches:
    """fit's validation_data: a tuple (x, y) or (x, y, sample_weight) of arrays, or a stream."""
    if is_stream(data):
        return batches(model, data, steps=steps, what="validation_data")
    if isinstance(data, (tuple, list)) and len(data) in (2, 3):
        return batches(model, *data, batch_size=batch_size, steps=steps)
    raise ValueError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight_val), or a "
                     "dataset of (x, y) batches")


def _stream(data: Any, y: Any, sample_weight: Any, batch_size: Any, steps: int | None, what: str,
            need_y: bool) -> Stream:
    """A stream's batches, which hold the targets and weights and set the batch size: none is given beside it."""
    if batch_size is not None:
        raise ValueError(f"batch_size must not be given with a dataset or generator ({type(data).__name__}): "
                         "its batches set the batch size")
    for name, value in (("y", y), ("sample_weight", sample_weight)):
        if value is not None:
            raise ValueError(f"{name} must not be given with a dataset or generator ({type(data).__name__}): "
                             "its batches hold the targets and the sample weights")
    return Stream(data, steps, what, need_y)


# ---- the array side ------------------------------------------------------------------------------------
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

    def rows(self, rows: Any) -> Batch:
        """The valid batch of these rows (an index array or a slice): (x, y, sample_weight) given."""
        given = [arrays for arrays in (self.x, self.y, self.sample_weight) if arrays is not None]
        return tuple(one_or_list([a[rows] for a in arrays]) for arrays in given)


class ArrayBatches:
    """Samples in memory, an epoch a pass in batches of batch_size rows (at most steps), shuffled if asked."""
    checked, ran_out = True, False

    def __init__(self, samples: _Samples, batch_size: int, shuffle: bool, steps: int | None) -> None:
        self.samples, self.batch_size, self.shuffle = samples, batch_size, shuffle
        self.limit = None if steps is None else positive_int(steps, "steps")

    @property
    def steps(self) -> int:
        batches = math.ceil(len(self.samples) / self.batch_size)
        return batches if self.limit is None else min(self.limit, batches)

    def first(self) -> Batch:
        return self.samples.rows(slice(0, self.batch_size))

    def epoch(self) -> Iterator[Batch]:
        count = len(self.samples)
        order = random_generator().permutation(count) if self.shuffle else np.arange(count)
        for batch in range(self.steps):
            yield self.samples.rows(order[batch * self.batch_size:(batch + 1) * self.batch_size])

    def split(self, fraction: float, steps: int | None) -> tuple[ArrayBatches, ArrayBatches]:
        """These batches without their last `fraction` of samples, and those held out (validation_split's
        rule: the last samples, before shuffling), in batches of the same size."""
        cut = int(len(self.samples) * (1 - fraction))
        if cut == 0:
            raise ValueError(f"validation_split={fraction} leaves no sample of {len(self.samples)} for training")
        kept, held_out = self.samples.part(slice(None, cut)), self.samples.part(slice(cut, None))
        return (ArrayBatches(kept, self.batch_size, self.shuffle, self.limit),
                ArrayBatches(held_out, self.batch_size, False, steps))

    def weighed(self, class_weight: dict | None, every_class_seen: bool = True) -> ArrayBatches:
        """These batches with each sample weighed by its class, when class_weight is given."""
        if class_weight is not None:
            self.samples = with_class_weight(self.samples, class_weight, every_class_seen)
        return self


def one_or_list(arrays: list[Any]) -> Any:
    """What the model is called on (or compared with): one array, or a list for several inputs (outputs)."""
    return arrays[0] if len(arrays) == 1 else arrays


def checked_samples(model: Any, x: Any, y: Any = None, sample_weight: Any = None, need_y: bool = True) -> _Samples:
    """Every check on the data, for every entry point, before anything runs on it."""
    x = _arrays(x, "x", layer_names(model, "inputs"), model, getattr(model, "_given", {}).get("input"))
    x = _input_ranks(x, model.inputs) if getattr(model, "inputs", None) else x
    model._check_inputs(one_or_list(x))
    if not need_y:
        return _Samples(x)
    outputs = layer_names(model, "outputs")
    y = _arrays(y, "y", outputs, model, getattr(model, "_given", {}).get("output"))
    if len(y[0]) != len(x[0]):
        raise ValueError(f"x and y hold different numbers of samples: {len(x[0])} and {len(y[0])}")
    if model._objectives is not None and any(a.ndim > 1 for a in y):  # targets a loss may assume things of
        model._objectives.check_targets(y, outputs)
    return _Samples(x, y, None if sample_weight is None else _weights(sample_weight, outputs, len(x[0]), model))


def _is_batch_list(data: Any) -> bool:
    """A Python list of (x, y) or (x, y, sample_weight) batches: read batch by batch, a pass per epoch, as
    the same batches from a dataset (Keras 3 refuses such a list; issue 28 asks that it train)."""
    return isinstance(data, list) and bool(data) and all(  # rows given as tuples of numbers are samples, not batches
        isinstance(b, tuple) and 1 <= len(b) <= 3 and (isinstance(b[0], dict) or np.ndim(b[0]) >= 1) for b in data)


def checked_batch(model: Any, batch: Batch, need_y: bool, class_weight: dict | None) -> Batch:
    """A streamed batch (x, y, sample_weight) checked as arrays are, made a valid batch."""
    x, y, sample_weight = batch
    if need_y and y is None:
        raise ValueError("training and evaluating need batches of (x, y) or (x, y, sample_weight), got x alone")
    samples = checked_samples(model, x, y, sample_weight, need_y)
    return with_class_weight(samples, class_weight, every_class_seen=False).rows(slice(None))


def layer_names(model: Any, side: str) -> list[str | None]:
    """A functional model's inputs or outputs ("inputs", "outputs") by their keys if Model was given a dict,
    else by the names of the layers that give them; one unnamed for any other model."""
    tensors, keys = getattr(model, side, None), getattr(model, "_keys", {}).get(side)
    return keys or ([t.node.layer.name for t in tensors] if tensors else [None])


def _arrays(data: Any, what: str, names: list, model: Any = None, structure: Any = None) -> list[np.ndarray]:
    """data as one checked array per model input (what="x") or output (y, sample_weight), samples on axis 0:
    one array, which nested Python lists are too, or for several a list or dict of them (_several)."""
    if data is None:
        raise ValueError(f"{what} is missing: give an array of samples")
    if isinstance(data, dict) or len(names) > 1:
        return _several(data, what, names, model, structure)
    texts = isinstance(data, list) and model is not None and model._takes_text()  # numpy writes 1.5 as "1.5"
    return [_checked(np.array(data, dtype=object) if texts else np.asarray(data), what, model)]


def _several(data: Any, what: str, names: list[str | None], model: Any, structure: Any) -> list[np.ndarray]:
    """The checked arrays of a model's several inputs or outputs, given as a list in order or a dict by name,
    or nested as the inputs (outputs) given to Model: its structure."""
    if is_nested(structure) and not (isinstance(data, (list, tuple)) and len(data) == len(names)):
        data = flatten_like(structure, data, what)  # else a flat list, in the order of model.inputs (outputs)
    arrays = [_checked(np.asarray(a), what, model) for a in _listed(data, what, names)]
    if len({len(a) for a in arrays}) > 1:
        raise ValueError(f"the arrays of {what} hold different numbers of samples: {[len(a) for a in arrays]}")
    return arrays


def _listed(data: Any, what: str, names: list[str | None]) -> list[Any]:
    """The data of a model with several inputs or outputs, given as a dict keyed by their names or a list."""
    kind = "input" if what == "x" else "output"
    if isinstance(data, dict):
        for key in data:
            if key not in names:
                raise ValueError(f"{what} has the key {key!r}, which names no {kind} of this model; its {kind}s: "
                                 f"{names}")
        missing = [name for name in names if name not in data]
        if missing:
            raise ValueError(f"{what} has no entry for the {kind} {missing[0]!r}: give one for each of {names}")
        return [data[name] for name in names]
    if not isinstance(data, (list, tuple)) or len(data) != len(names):
        several = f"takes {len(names)} inputs" if kind == "input" else f"has several outputs ({len(names)})"
        raise ValueError(f"this model {several}: give {what} as a list of {len(names)} arrays, or a dict keyed by "
                         f"the {kind} names {names}")
    return list(data)


def _checked(array: np.ndarray, what: str, model: Any) -> np.ndarray:
    """The array, if it holds samples of numbers (or texts, for a model that reads text)."""
    if array.ndim == 0 or len(array) == 0:
        raise ValueError(f"{what} must hold at least one sample, got shape {array.shape}")
    if array.dtype.kind not in "biuf" and not (array.dtype.kind in "OSU" and what == "x" and model._takes_text()):
        _not_numbers(array, what)
    return _in_range(array, what, model) if array.dtype.kind == "f" else array


def _in_range(array: np.ndarray, what: str, model: Any) -> np.ndarray:
    """The float array, unless it holds NaN or inf, or a number the model's float type cannot hold: finite in
    float64, it would become inf in float32 (docs/nothing-silent.md, "NaN and overflow")."""
    dtype = _float_type(model)
    bad = ~(np.abs(array) <= np.finfo(dtype).max)  # NaN fails the comparison too
    if bad.any():
        position = tuple(int(i) for i in np.argwhere(bad)[0])
        value = array[position]
        if np.isnan(value) or np.isinf(value):
            raise ValueError(f"{what} contains {'NaN' if np.isnan(value) else value} at position {position} "
                             f"(sample {position[0]})")
        raise ValueError(f"{what} holds {float(value)!r} at position {position} (sample {position[0]}), beyond {dtype}'s "
                         f"range (+-{np.finfo(dtype).max:.4g}): the model computes in {dtype}, where it would be "
                         "inf. Scale the data, or give every layer dtype='float64'")
    return array


def _float_type(model: Any) -> np.dtype:
    """The float type a model computes in: float64 when each of its layers of a float dtype is float64 (and it
    has one), else float32, Keras's default."""
    dtypes = {np.dtype(layer.dtype) for layer in getattr(model, "layers", None) or []
              if getattr(layer, "dtype", None) is not None and np.dtype(layer.dtype).kind == "f"}
    return np.dtype(np.float64) if dtypes == {np.dtype(np.float64)} else np.dtype(np.float32)


def _not_numbers(array: np.ndarray, what: str) -> None:
    """The TypeError for data that is not numbers, with the likely fix."""
    raise TypeError(f"{what} must hold numbers, got an array of dtype {array.dtype}"
                    + (" (strings need a TextVectorization layer first in the model)" if what == "x" else
                       " (string labels: turn them into class ids first)" if array.dtype.kind in "OSU" else ""))


def _input_ranks(x: list[np.ndarray], inputs: list[Any]) -> list[np.ndarray]:
    """Keras's rule for a functional model's inputs: data of shape (n,) fits an Input of shape (1,), and
    data of shape (n, 1) one of shape () (texts come either way)."""
    for i, shape in enumerate([t.shape for t in inputs][:len(x)]):
        if len(shape) == x[i].ndim + 1 and shape[-1] == 1:
            x[i] = x[i][..., None]
        elif len(shape) == x[i].ndim - 1 and x[i].shape[-1] == 1:
            x[i] = x[i][..., 0]
    return x


def _weights(sample_weight: Any, outputs: list[str | None], samples: int, model: Any) -> list[np.ndarray]:
    """sample_weight as one array per output (one array given for several outputs weighs each, as Keras)."""
    if len(outputs) > 1 and not isinstance(sample_weight, (list, tuple, dict)):
        sample_weight = [sample_weight] * len(outputs)
    weights = _arrays(sample_weight, "sample_weight", outputs, model)
    if len(weights[0]) != samples:
        raise ValueError(f"sample_weight holds {len(weights[0])} weights but x holds {samples} samples: "
                         "give one weight per sample")
    return weights


def with_class_weight(samples: _Samples, class_weight: dict | None, every_class_seen: bool) -> _Samples:
    """The samples weighed by their classes, when class_weight is given (see _class_weights)."""
    if class_weight is None:
        return samples
    if samples.sample_weight is not None:
        raise ValueError("give sample_weight or class_weight, not both")
    if len(samples.y) > 1:
        raise ValueError("class_weight is for models with one output: with several, give sample_weight")
    return _Samples(samples.x, samples.y, [_class_weights(samples.y[0], class_weight, every_class_seen)])


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
    for key, weight in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, (int, np.integer)):
            raise TypeError(f"class_weight's keys are class indices (integers), got {key!r}")
        _check_class_weight(key, weight)
        if every_class_seen and key not in labels:
            raise ValueError(f"class_weight names class {key}, which the targets never take "
                             f"(their classes: {sorted(set(labels.tolist()))})")
    return np.array([class_weight.get(int(label), 1.0) for label in labels], dtype=np.float32)


def _check_class_weight(key: int, weight: Any) -> None:
    """A class's weight is a real number, finite in float32, the type the weights are kept in: a NaN or infinite
    weight would make every loss of that class NaN or inf (Keras takes it silently; docs/nothing-silent.md)."""
    if isinstance(weight, bool) or not isinstance(weight, (int, float, np.integer, np.floating)):
        raise TypeError(f"class_weight[{key}] is {weight!r}: a class's weight is a number")
    if not abs(float(weight)) <= float(np.finfo(np.float32).max):
        raise ValueError(f"class_weight[{key}] is {float(weight)!r}: a class's weight must be a finite number "
                         f"(within float32's range, +-{np.finfo(np.float32).max:.4g})")


# ---- the stream side -----------------------------------------------------------------------------------
def _is_pydataset(data: Any) -> bool:
    """Ours, or Keras's own (duck-typed): indexed batches with a length and an epoch hook."""
    return isinstance(data, PyDataset) or all(hasattr(data, a) for a in ("__getitem__", "__len__", "on_epoch_end"))


def is_stream(data: Any) -> bool:
    """Batches to iterate (a dataset, generator, PyDataset, tf.data.Dataset), not arrays of samples."""
    if data is None or isinstance(data, (np.ndarray, list, tuple, dict, str, bytes)) or hasattr(data, "__array__"):
        return _is_batch_list(data)
    return _is_pydataset(data) or hasattr(data, "as_numpy_iterator") or hasattr(data, "__iter__")


def _iterate(data: Any) -> Iterator[Any]:
    if _is_pydataset(data):
        return (data[i] for i in range(len(data)))
    return iter(data.as_numpy_iterator() if hasattr(data, "as_numpy_iterator") else data)


def _length(data: Any) -> int | None:
    try:
        return len(data)
    except TypeError:  # a generator, or a dataset of unknown or infinite length (tf.data raises the same)
        return None


def unpack(batch: Any) -> Batch:
    """(x, y, sample_weight) from x, (x,), (x, y) or (x, y, sample_weight), None for the parts not given."""
    return (tuple(batch) + (None, None))[:3] if isinstance(batch, tuple) else (batch, None, None)


def _as_numpy(batch: Any) -> Batch:
    """A streamed batch unpacked, its parts numpy (TensorFlow tensors through .numpy())."""
    if isinstance(batch, tuple) and not 1 <= len(batch) <= 3:
        raise ValueError(f"a batch is x, (x, y) or (x, y, sample_weight); got a tuple of {len(batch)} parts")
    return tuple(None if part is None else to_numpy(part) for part in unpack(batch))


class Stream:
    """The batches of a stream, epoch after epoch, by Keras's rule. Without steps, each epoch is one
    full pass from the start. With steps, one iterator carries on across epochs, started again when a
    stream of known length has been read to its end; a stream that runs out stops training with Keras's
    warning. Each batch comes as (x, y, sample_weight), numpy, for the loop to check."""
    checked, class_weight = False, None

    def __init__(self, data: Any, steps: int | None = None, what: str = "x", need_y: bool = True) -> None:
        self.data, self.what, self.need_y = data, what, need_y
        self.length = _length(data)
        self.steps_per_epoch = None if steps is None else positive_int(steps, "steps")
        self.steps = self.steps_per_epoch or self.length  # None: not known before the epoch ends
        if self.steps is None and getattr(data, "cardinality", None) and int(data.cardinality()) == INFINITE:
            raise ValueError(f"{what} repeats forever: give steps_per_epoch (validation_steps, steps) to end an epoch")
        self.ran_out = False
        self._iterator: Iterator[Any] | None = None
        self._seen, self._fresh, self._restores = 0, False, shuffles_restored()

    def _start(self) -> None:
        self._iterator, self._seen, self._fresh = _iterate(self.data), 0, True
        self._restores = shuffles_restored()

    def first(self) -> Batch:
        """The first batch; the first epoch still yields it (a model is built from it first)."""
        if self._iterator is None:
            self._start()
        try:
            first = next(self._iterator)
        except StopIteration:
            raise ValueError(f"{self.what} is empty: it gave no batch") from None
        self._iterator = itertools.chain([first], self._iterator)
        return _as_numpy(first)

    def epoch(self) -> Iterator[Batch]:
        # a dataset's shuffles put back by BackupAndRestore after this one started (to build the model): again
        moved = isinstance(self.data, Dataset) and self._restores != shuffles_restored()
        if self._iterator is None or (self.steps_per_epoch is None and not self._fresh) or moved:
            self._start()
        self._fresh = False
        if self.steps is None:
            yield from (_as_numpy(batch) for batch in self._iterator)
        else:
            yield from self._counted()
        if hasattr(self.data, "on_epoch_end") and _is_pydataset(self.data):
            self.data.on_epoch_end()

    def _counted(self) -> Iterator[Batch]:
        for _ in range(self.steps):
            batch = next(self._iterator, None) if self.length is None or self._seen < self.length else None
            if batch is None:
                self._ran_out()
                return
            self._seen += 1
            yield _as_numpy(batch)
        if self.length is not None and self._seen >= self.length:
            self._start()

    def _ran_out(self) -> None:
        self.ran_out, self._iterator = True, None
        warnings.warn("Your input ran out of data; interrupting training. Make sure that your dataset or generator "
                      "can generate at least `steps_per_epoch * epochs` batches. You may need to use the "
                      "`.repeat()` function when building your dataset.", stacklevel=4)

    def split(self, fraction: float, steps: int | None) -> tuple[Stream, Stream]:
        raise ValueError("validation_split needs arrays; with a dataset or generator give validation_data")

    def weighed(self, class_weight: dict | None) -> Stream:
        """This stream, its batches to be weighed by their classes as the loop checks them."""
        self.class_weight = class_weight
        return self
