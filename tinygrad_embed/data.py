"""Data in batches without TensorFlow: a small tf.data-like Dataset on numpy, Keras 3's PyDataset (and
Keras 2's Sequence), and text_dataset_from_directory. The training loop takes the batches of any of
these (or of a generator, or of a real tf.data.Dataset) through models/batches.py.
"""
from __future__ import annotations

import itertools
import math
import os
import weakref
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from .eager_array import eager, plain
from .helpers import positive_int, random_generator
from .preprocessing.texts import TEXT_TYPES, check_texts

AUTOTUNE = -1  # tf.data.AUTOTUNE's value: "let the runtime choose", accepted wherever a buffer size is
INFINITE, UNKNOWN = -1, -2  # cardinality() for a dataset that repeats forever / whose length is not known


def to_numpy(value: Any) -> Any:
    """A batch's parts as numpy: TensorFlow tensors through .numpy(), nested tuples, lists and dicts kept."""
    if isinstance(value, (tuple, list)):
        return type(value)(to_numpy(v) for v in value)
    if isinstance(value, dict):  # a model's inputs by name, as tf.data yields them
        return {key: to_numpy(v) for key, v in value.items()}
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        return value.numpy()
    return np.asarray(value)


def _each(fn: Callable[[Any], Any], element: Any) -> Any:
    """fn on each array of an element, its tuples and dicts (tf.data's structures) kept."""
    if isinstance(element, tuple):
        return tuple(_each(fn, part) for part in element)
    if isinstance(element, dict):
        return {key: _each(fn, part) for key, part in element.items()}
    return fn(element)


def _first(element: Any) -> Any:
    """An element's first array (tuples and dicts looked into)."""
    while isinstance(element, (tuple, dict)):
        element = next(iter(element.values() if isinstance(element, dict) else element))
    return element


def _stack(elements: list[Any]) -> Any:
    """Elements (each an array, or a tuple or dict of them) as one batch: stacked along a new first axis."""
    if isinstance(elements[0], tuple):
        return tuple(_stack(list(column)) for column in zip(*elements))
    if isinstance(elements[0], dict):
        return {key: _stack([element[key] for element in elements]) for key in elements[0]}
    arrays = [np.asarray(e) for e in elements]
    if arrays[0].dtype.kind in "OSU":  # texts: tf.data's batches of strings are object arrays
        return np.array([array.tolist() for array in arrays], dtype=object)
    return np.stack(arrays)


def _row(element: Any, i: int) -> Any:
    """Row i of an element (of each part of a tuple or dict), as an EagerArray: a number too answers .numpy()."""
    return _each(lambda array: eager(array[i]), element)


def _rows(element: Any) -> int:
    return len(_first(element))


def _sliceable(tensors: Any, where: str = "") -> Any:
    """from_tensor_slices' input as arrays in its tuples and dicts (a list is one array, as in tf.data), each
    with rows. A list or object array mixing texts with anything else is refused, as tf.data refuses it:
    numpy would write the 1.5 in ["a", 1.5] as the word "1.5"."""
    if isinstance(tensors, (tuple, dict)) and not tensors:
        raise ValueError(f"from_tensor_slices got an empty {type(tensors).__name__}"
                         f"{' at ' + where if where else ''}: nothing to slice")
    if isinstance(tensors, dict):
        return {key: _sliceable(part, f"{where}[{key!r}]") for key, part in tensors.items()}
    if isinstance(tensors, tuple):
        return tuple(_sliceable(part, f"{where}[{i}]") for i, part in enumerate(tensors))
    array = np.asarray(tensors, dtype=object) if isinstance(tensors, list) else np.asarray(to_numpy(tensors))
    if array.dtype == object and any(isinstance(item, TEXT_TYPES) for item in array.reshape(-1).tolist()):
        check_texts(array, f"from_tensor_slices{where and ' (part ' + where + ')'}")
    if array.ndim == 0:
        raise ValueError(f"from_tensor_slices needs arrays with rows to slice, got a scalar {array.item()!r:.40}"
                         + (f" at {where}" if where else ""))
    return np.asarray(tensors) if isinstance(tensors, list) else array


def _buffered_shuffle(elements: Iterable[Any], size: int, rng: np.random.Generator) -> Iterator[Any]:
    """One pass of tf.data's buffered shuffle over elements, drawing from rng."""
    buffer = []
    for element in elements:
        if len(buffer) < size:
            buffer.append(element)
            continue
        i = int(rng.integers(len(buffer)))
        yield buffer[i]
        buffer[i] = element
    while buffer:
        i = int(rng.integers(len(buffer)))
        buffer[i], buffer[-1] = buffer[-1], buffer[i]
        yield buffer.pop()


class _ShufflePosition:
    """Where one shuffle is: its seed (base), the passes started, and how many elements the last one gave.
    Every live one is listed (weakly, in order of creation), so that a backup can save them all."""
    live: list[weakref.ref] = []
    restores = 0  # how many times positions were restored: a stream started before must start again

    def __init__(self, base: int) -> None:
        self.base, self.passes, self.yielded, self.finished, self.skip, self.token = base, 0, 0, False, 0, None
        _ShufflePosition.live = [ref for ref in _ShufflePosition.live if ref() is not None] + [weakref.ref(self)]

    def start_pass(self) -> tuple[int, int, object]:
        """The index of the pass that starts, how many of its elements to skip (a resumed pass), and its token
        (a pass dropped late, after another started, must not mark that one finished)."""
        index, skip, self.token = self.passes, self.skip, object()
        self.passes, self.yielded, self.finished, self.skip = index + 1, 0, False, 0
        return index, skip, self.token


def shuffle_positions() -> list[list[int]]:
    """[seed, pass, elements read of it] of every live shuffle, in order of creation: where a resumed run
    must put them (a pass counts when it has started and is not finished; a finished one is passed)."""
    alive = [ref() for ref in _ShufflePosition.live]
    return [[p.base, p.passes - 1, p.yielded] if p.passes and not p.finished else [p.base, p.passes, 0]
            for p in alive if p is not None]


def restore_shuffle_positions(positions: list[list[int]], where: str) -> None:
    """Put the live shuffles where shuffle_positions found them, matched by seed in order of creation:
    each one's next pass is the saved one, replayed up to the saved element. ValueError, and nothing moved,
    when a saved shuffle has no live counterpart (the run was built differently: it cannot resume exactly)."""
    unused, matches = [p for p in (ref() for ref in _ShufflePosition.live) if p is not None], []
    for base, index, skip in positions:
        match = next((p for p in unused if p.base == base), None)
        if match is None:
            raise ValueError(f"{where} was made with a dataset shuffled from seed {base}, which this run does not "
                             f"have (its shuffles' seeds: {[p.base for p in unused]}): it cannot resume exactly. "
                             f"Give that dataset's shuffle seed={base} (a shuffle without seed draws one from the "
                             "package's generator), or delete the backup to start over")
        unused.remove(match)
        matches.append((match, index, skip))
    for match, index, skip in matches:
        match.passes, match.skip = index, skip
    _ShufflePosition.restores += 1


def shuffles_restored() -> int:
    """How many times restore_shuffle_positions ran: a stream of batches started before must start again."""
    return _ShufflePosition.restores


class Dataset:
    """tf.data.Dataset's methods that text tutorials chain, on numpy. Each method returns a new dataset;
    iterating one runs its pipeline from the start (shuffle draws a new order each time, as tf.data)."""

    def __init__(self, make: Callable[[], Iterable[Any]], length: int | None) -> None:
        self._make, self._length = make, length  # length: None unknown, INFINITE for repeat()

    @staticmethod
    def from_tensor_slices(tensors: Any) -> Dataset:
        """One element per row of the array, or of each array of a tuple or dict (nested too), all of one
        length: ({"text": texts, "year": years}, labels) gives ({"text": text, "year": year}, label)."""
        data, sizes = _sliceable(tensors), []
        _each(lambda array: sizes.append(len(array)), data)
        if len(set(sizes)) != 1:
            raise ValueError(f"from_tensor_slices needs arrays with the same number of rows, got {sorted(set(sizes))}")
        return Dataset(lambda: (_row(data, i) for i in range(_rows(data))), _rows(data))

    def __iter__(self) -> Iterator[Any]:
        return iter(self._make())

    def as_numpy_iterator(self) -> Iterator[Any]:
        """The elements as plain numpy, as tf.data's: arrays, and numpy scalars (bytes for texts) for 0-d parts."""
        return (_each(plain, element) for element in self)

    def __len__(self) -> int:
        if self._length is None or self._length == INFINITE:
            raise TypeError("this dataset's length is " + ("infinite" if self._length == INFINITE else "unknown"))
        return self._length

    def cardinality(self) -> int:
        """The number of elements, or INFINITE (-1) or UNKNOWN (-2), as tf.data."""
        return UNKNOWN if self._length is None else self._length

    def _derived(self, make: Callable[[], Iterable[Any]], length: int | None) -> Dataset:
        return Dataset(make, length)

    def map(self, map_func: Callable[..., Any], num_parallel_calls: int | None = None,
            deterministic: bool | None = None) -> Dataset:
        """map_func on each element (a tuple is passed as separate arguments); tensors it returns become
        EagerArrays, numpy arrays that answer .numpy()."""
        def apply(element: Any) -> Any:
            result = map_func(*element) if isinstance(element, tuple) else map_func(element)
            return _each(lambda part: eager(to_numpy(part)), result)
        return self._derived(lambda: map(apply, self), self._length)

    def batch(self, batch_size: int, drop_remainder: bool = False, num_parallel_calls: int | None = None,
              deterministic: bool | None = None) -> Dataset:
        """Consecutive elements stacked into batches; the last one is smaller unless drop_remainder."""
        size = positive_int(batch_size, "batch_size")

        def batches() -> Iterator[Any]:
            chunk = []
            for element in self:
                chunk.append(element)
                if len(chunk) == size:
                    yield eager(_stack(chunk))
                    chunk = []
            if chunk and not drop_remainder:
                yield eager(_stack(chunk))
        known = self._length not in (None, INFINITE)
        length = self._length
        if known:
            length = self._length // size if drop_remainder else math.ceil(self._length / size)
        return self._derived(batches, length)

    def unbatch(self) -> Dataset:
        """Each batch split back into its rows."""
        return self._derived(lambda: (_row(b, i) for b in self for i in range(_rows(b))),
                             INFINITE if self._length == INFINITE else None)

    def shuffle(self, buffer_size: int, seed: int | None = None, reshuffle_each_iteration: bool = True) -> Dataset:
        """tf.data's buffered shuffle: keep buffer_size elements, emit a random one and put the next in its
        place. The order is random but not TensorFlow's (its generator is not numpy's). Pass p draws its
        order from (seed, p); where the passes are is what BackupAndRestore saves (shuffle_positions)."""
        size = positive_int(buffer_size, "shuffle's buffer_size")
        position = _ShufflePosition(int(random_generator().integers(2 ** 31)) if seed is None else int(seed))

        def shuffled() -> Iterator[Any]:
            index, skip, token = position.start_pass()
            rng = np.random.default_rng([position.base, index if reshuffle_each_iteration else 0])
            try:
                for count, element in enumerate(_buffered_shuffle(self, size, rng), start=1):
                    position.yielded = count
                    if count > skip:  # a resumed pass replays, unseen, what the interrupted run had read of it
                        yield element
            finally:  # read to its end, or dropped (take(), a stream started again): this pass is over
                if position.token is token:
                    position.finished = True
        return self._derived(shuffled, self._length)

    def take(self, count: int) -> Dataset:
        """The first count elements (all of them for count=-1)."""
        if count == -1:
            return self
        count = int(count)
        length = None if self._length is None else count if self._length == INFINITE else min(count, self._length)
        return self._derived(lambda: itertools.islice(self, count), length)

    def skip(self, count: int) -> Dataset:
        count = int(count)
        length = self._length if self._length in (None, INFINITE) else max(self._length - count, 0)
        return self._derived(lambda: itertools.islice(self, count, None), length)

    def repeat(self, count: int | None = None) -> Dataset:
        """The elements count times over (forever for None or -1), each pass a new iteration."""
        forever = count is None or count == -1

        def repeated() -> Iterator[Any]:
            for _ in (itertools.count() if forever else range(int(count))):
                yield from self
        length = INFINITE if forever else (None if self._length is None else
                                           INFINITE if self._length == INFINITE else self._length * int(count))
        return self._derived(repeated, length)

    def cache(self, filename: str = "") -> Dataset:
        """Keep the elements in memory after the first full pass; later passes read them from there."""
        if filename:
            raise ValueError(f"cache keeps elements in memory only; got filename={filename!r} (give none)")
        store: list[Any] = []
        done = [False]

        def cached() -> Iterator[Any]:
            if done[0]:
                yield from store
                return
            store.clear()
            for element in self:
                store.append(element)
                yield element
            done[0] = True
        return self._derived(cached, self._length)

    def prefetch(self, buffer_size: int) -> Dataset:
        """Nothing to overlap in one numpy process: the same dataset (any buffer size, AUTOTUNE too)."""
        return self


class PyDataset:
    """Keras 3's base class for data in batches: define __len__ (the number of batches) and
    __getitem__(index) returning batch `index` as (x, y) or (x, y, sample_weight); on_epoch_end runs after
    each epoch. workers and use_multiprocessing are accepted and ignored: batches load here, in order."""

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10) -> None:
        self.workers, self.use_multiprocessing, self.max_queue_size = workers, use_multiprocessing, max_queue_size

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index) returning a batch")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__ (its number of batches)")

    def on_epoch_end(self) -> None:
        """Called after each epoch: shuffle the batches here if you want them shuffled."""


Sequence = PyDataset  # Keras 2's name


# ---- text_dataset_from_directory -------------------------------------------------------------------
def _class_folders(directory: str, class_names: list[str] | None) -> list[str]:
    """Keras's class inference: the sub-folders, sorted, hidden ones skipped; class_names picks some of them."""
    folders = [d for d in sorted(os.listdir(directory))
               if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")]
    if not folders:
        raise ValueError(f"directory {directory!r} has no sub-folders to infer the classes from: put each class's "
                         ".txt files in a folder named after it, or pass labels=[...] or labels=None")
    if class_names is not None:
        if not set(class_names) <= set(folders):
            raise ValueError(f"class_names {list(class_names)} are not all sub-folders of {directory!r}: {folders}")
        return list(class_names)  # Keras keeps the given order
    return folders


def _text_files(folder: str, follow_links: bool) -> list[str]:
    """The .txt files under folder (sub-folders too), sorted by folder then name, as Keras's index. A folder
    reached again through a symlink (a loop too) is walked once: Keras's os.walk would go round a loop until
    the path grew too long, listing every file on each turn."""
    walked, seen = [], set()
    for root, folders, files in os.walk(folder, followlinks=follow_links):
        folders.sort()  # depth first in name order: the first path to a folder is the one kept
        if _identity(root) in seen:
            folders.clear()
            continue
        seen.add(_identity(root))
        walked.append((root, files))
    return [os.path.join(root, name) for root, files in sorted(walked, key=lambda walk: walk[0])
            for name in sorted(files) if name.lower().endswith(".txt")]


def _identity(path: str) -> tuple[int, int]:
    """What names one real file or folder whatever the links to it: its device and inode."""
    status = os.stat(path)  # follows symlinks; a dangling one is a FileNotFoundError naming it
    return status.st_dev, status.st_ino


def _once(per_class: list[list[str]], names: list[str]) -> list[list[str]]:
    """Each real file once: a second link to a file in the same class is dropped; one in another class
    would give one text two labels, and is refused."""
    owner: dict[tuple[int, int], tuple[str, int]] = {}
    kept: list[list[str]] = []
    for label, paths in enumerate(per_class):
        kept.append([])
        for path in paths:
            first, first_label = owner.setdefault(_identity(path), (path, label))
            if first_label != label:
                raise ValueError(f"{path!r} (class {names[label]!r}) and {first!r} (class {names[first_label]!r}) are "
                                 "the same file: a text can have one label; remove one of the links")
            if first == path:
                kept[-1].append(path)
    return kept


def _split(paths: list, labels: Any, validation_split: float | None, subset: str) -> tuple[list, Any]:
    """Keras's rule: the last int(validation_split * n) files (after the seeded shuffle) are for validation."""
    if not validation_split:
        return paths, labels
    count = int(validation_split * len(paths))
    if count == 0:
        raise ValueError(f"validation_split={validation_split} of {len(paths)} files leaves none for validation")
    keep = slice(None, -count) if subset == "training" else slice(-count, None)
    print(f"Using {len(paths) - count if subset == 'training' else count} files for {subset}.")
    return paths[keep], None if labels is None else labels[keep]


def _check_split_arguments(validation_split: float | None, subset: str | None, shuffle: bool, seed: int | None) -> None:
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be between 0 and 1, got {validation_split}")
    if bool(validation_split) != bool(subset):
        raise ValueError("validation_split and subset go together: give both (subset='training', 'validation' "
                         f"or 'both') or neither; got validation_split={validation_split!r}, subset={subset!r}")
    if subset not in ("training", "validation", "both", None):
        raise ValueError(f"subset must be 'training', 'validation' or 'both', got {subset!r}")
    if validation_split and shuffle and seed is None:
        raise ValueError("validation_split with shuffle=True needs a seed, so that the training and validation "
                         "subsets do not overlap (Keras requires it too)")


def _labelled(paths: list[str], labels: Any, label_mode: str | None, classes: int, max_length: int | None,
              shuffle: bool, buffer: int, seed: int | None, batch_size: int | None) -> Dataset:
    def read(path: str) -> bytes:
        with open(path, "rb") as file:
            return file.read() if max_length is None else file.read(max_length)  # tf.strings.substr: bytes
    eye = np.eye(max(classes, 1), dtype=np.float32)
    encode = {"int": lambda i: np.int32(i), "binary": lambda i: np.array([i], np.float32),
              "categorical": lambda i: eye[i]}.get(label_mode)
    order = list(range(len(paths)))
    dataset = Dataset(lambda: iter(order), len(order))
    if shuffle:
        dataset = dataset.shuffle(buffer, seed=seed)
    if encode is None:
        dataset = dataset.map(lambda i: np.array(read(paths[i]), object))
    else:
        dataset = dataset.map(lambda i: (np.array(read(paths[i]), object), encode(labels[i])))
    return dataset if batch_size is None else dataset.batch(batch_size)


def text_dataset_from_directory(directory: str, labels: Any = "inferred", label_mode: str | None = "int",
                                class_names: list[str] | None = None, batch_size: int | None = 32,
                                max_length: int | None = None, shuffle: bool = True, seed: int | None = None,
                                validation_split: float | None = None, subset: str | None = None,
                                follow_links: bool = False, verbose: bool = True) -> Any:
    """Keras 3's function without TensorFlow: batches of (texts as bytes, labels) from one folder per class.
    The files (and the training/validation split) are Keras's for the same seed; the order of batches
    within an epoch is shuffled here by numpy, so it is not TensorFlow's."""
    _check_label_arguments(directory, labels, label_mode, class_names)
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    elif labels != "inferred":
        _check_given_labels(labels, label_mode)
    _check_split_arguments(validation_split, subset, shuffle, seed)
    seed = int(np.random.randint(1e6)) if seed is None else seed  # as Keras: a shuffle without seed gets one
    paths, labels, names = _files_and_labels(directory, labels, class_names, follow_links)
    if verbose:
        print(f"Found {len(paths)} files." if labels is None else
              f"Found {len(paths)} files belonging to {len(names)} classes.")
    if label_mode == "binary" and len(names) != 2:
        raise ValueError(f"label_mode='binary' needs exactly 2 classes, got class_names={names}")
    if shuffle:  # Keras's global shuffle: numpy's RandomState(seed) on the paths, then again on the labels
        np.random.RandomState(seed).shuffle(paths)
        if labels is not None:
            np.random.RandomState(seed).shuffle(labels)
    buffer = 1024 if batch_size is None else batch_size * 8
    subsets = ["training", "validation"] if subset == "both" else [subset]
    datasets = []
    for part in subsets:
        part_paths, part_labels = _split(paths, labels, validation_split, part)
        if not part_paths:
            raise ValueError(f"no .txt files for {part or 'the dataset'} in {directory!r}")
        dataset = _labelled(part_paths, part_labels, label_mode, len(names or []), max_length,
                            shuffle and not (subset == "both" and part == "validation"), buffer, seed, batch_size)
        dataset.class_names = names
        datasets.append(dataset)
    return datasets if subset == "both" else datasets[0]


def _check_label_arguments(directory: str, labels: Any, label_mode: str | None, class_names: Any) -> None:
    """text_dataset_from_directory's checks of where the labels come from, before any file is read."""
    if labels not in ("inferred", None) and not isinstance(labels, (list, tuple)):
        raise ValueError(f"labels must be 'inferred', None, or a list of integer labels (one per file), got {labels!r}")
    if labels not in ("inferred", None) and class_names:
        raise ValueError("class_names can be given only with labels='inferred'")
    if label_mode not in ("int", "binary", "categorical", None):
        raise ValueError(f"label_mode must be 'int', 'binary', 'categorical' or None, got {label_mode!r}")
    if not os.path.isdir(directory):
        raise ValueError(f"directory {directory!r} does not exist or is not a folder")


def _check_given_labels(labels: list | tuple, label_mode: str) -> None:
    """Given labels are integers (not bools, not floats), within int32 for "int", 0 or 1 for "binary", and
    below the number of distinct labels for "categorical", whose rows have one column per distinct label
    (where Keras casts 0.5 to a label, and its one_hot makes a row of zeros of a label out of range)."""
    for i, label in enumerate(labels):
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
            raise TypeError(f"labels must be integers for label_mode={label_mode!r}, got {label!r:.40} of type "
                            f"{type(label).__name__} at index {i}")
    classes = len(set(labels))
    low, high = {"int": (-2 ** 31, 2 ** 31 - 1), "binary": (0, 1), "categorical": (0, classes - 1)}[label_mode]
    for i, label in enumerate(labels):
        if not low <= label <= high:
            why = f" (one column for each of the {classes} distinct labels)" if label_mode == "categorical" else ""
            raise ValueError(f"label {label} at index {i} is outside {low} to {high}, the labels label_mode="
                             f"{label_mode!r} takes{why}")


def _files_and_labels(directory: str, labels: Any, class_names: list[str] | None,
                      follow_links: bool) -> tuple[list[str], np.ndarray | None, list[str] | None]:
    """The .txt files, their labels (from their folders when inferred) and the class names."""
    if labels == "inferred":
        names = _class_folders(directory, class_names)
        per_class = _once([_text_files(os.path.join(directory, name), follow_links) for name in names], names)
        paths = [p for files in per_class for p in files]
        return paths, np.repeat(np.arange(len(names), dtype=np.int32), [len(files) for files in per_class]), names
    paths = _once([_text_files(directory, follow_links)], [""])[0]
    if labels is not None and len(labels) != len(paths):
        raise ValueError(f"labels has {len(labels)} values but {directory!r} holds {len(paths)} .txt files")
    names = None if labels is None else [str(label) for label in sorted(set(labels))]
    return paths, None if labels is None else np.asarray(labels), names
