"""The Reuters newswire topics: 11,228 newswires as word ids, each labelled with one of 46 topics, as
keras.datasets.reuters gives them, read from Keras's own reuters.npz and reuters_word_index.json.

Where the files come from, first found wins (datasets/files.py):
  1. the `path` argument, a place in the cache directory (or an absolute path), as in Keras;
  2. the environment variable TINYGRAD_EMBED_REUTERS: a directory holding reuters.npz and
     reuters_word_index.json, or reuters.npz itself (the word index is then looked for beside it);
  3. the cache directory, ~/.cache/tinygrad_embed/ (or $TINYGRAD_EMBED_CACHE);
  4. a download from Keras's storage into the cache, checked against the hash Keras's source gives.

    (x_train, y_train), (x_test, y_test) = reuters.load_data(num_words=10000)   # as keras.datasets.reuters
"""
from __future__ import annotations

import json
import os

import numpy as np

from ..helpers import fraction
from .files import obtain
from .npz import read_npz

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
SHA256 = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"  # of reuters.npz, from Keras's source
WORD_INDEX_MD5 = "4d44cc38712099c9e383dc6e5f11a921"  # Keras's source gives the word index an md5, not a sha256
ENV = "TINYGRAD_EMBED_REUTERS"
LABEL_NAMES = ("cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply", "coffee",
               "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas", "cpi", "money-fx",
               "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin", "strategic-metal", "livestock",
               "retail", "ipi", "iron-steel", "rubber", "heat", "jobs", "lei", "bop", "zinc", "orange", "pet-chem",
               "dlr", "gas", "silver", "wpi", "hog", "lead")


def _newswires(path) -> tuple[list[list[int]], np.ndarray]:
    """reuters.npz's sequences (lists of word ranks) and labels, checked to be just that."""
    arrays = read_npz(path)
    x, y = arrays.get("x"), arrays.get("y")
    if x is None or y is None or x.ndim != 1 or y.shape != x.shape or y.dtype.kind not in "iu":
        raise ValueError(f"{str(path)!r} should hold x, a 1-D array of sequences, and y, as many integer labels; "
                         f"it holds {sorted(arrays)}")
    sequences = []
    for i, sequence in enumerate(x):
        if isinstance(sequence, np.ndarray) and sequence.ndim == 1 and sequence.dtype.kind in "iu":
            sequence = sequence.tolist()
        if not isinstance(sequence, list) or not all(type(w) is int for w in sequence):
            raise ValueError(f"newswire {i} of {str(path)!r} should be a list of integer word ids, got "
                             f"{type(sequence).__name__} {str(sequence)[:60]}")
        sequences.append(sequence)
    return sequences, y


def _ragged(sequences: list[list[int]]) -> np.ndarray:
    """A 1-D object array of lists, whatever their lengths (np.array would make equal lengths 2-D)."""
    array = np.empty(len(sequences), dtype=object)
    array[:] = sequences
    return array


def load_data(path: str | os.PathLike = "reuters.npz", num_words: int | None = None, skip_top: int = 0,
              maxlen: int | None = None, test_split: float = 0.2, seed: int = 113, start_char: int | None = 1,
              oov_char: int | None = 2, index_from: int = 3):
    """((x_train, y_train), (x_test, y_test)) exactly as keras.datasets.reuters.load_data: the newswires
    shuffled with `seed`; id = word rank + index_from, each newswire starting with start_char; those of
    maxlen ids or more dropped; ids outside [skip_top, num_words) become oov_char (or are dropped when it is
    None), where num_words=None means the largest id, which Keras therefore also turns into oov_char; the
    first int(n * (1 - test_split)) newswires train, the rest test."""
    test_split = fraction(test_split, "test_split", one_allowed=True)
    xs, labels = _newswires(obtain("reuters.npz", ORIGIN + "reuters.npz", SHA256, ENV, path))
    indices = np.arange(len(xs))
    np.random.RandomState(seed).shuffle(indices)
    xs, labels = [xs[i] for i in indices], labels[indices]
    if start_char is not None:
        xs = [[start_char] + [w + index_from for w in x] for x in xs]
    elif index_from:
        xs = [[w + index_from for w in x] for x in xs]
    if maxlen:
        kept = [i for i, x in enumerate(xs) if len(x) < maxlen]
        xs, labels = [xs[i] for i in kept], labels[kept]
    if not num_words:
        num_words = max((max(x, default=0) for x in xs), default=0)
    if oov_char is not None:
        xs = [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < num_words] for x in xs]
    split = int(len(xs) * (1 - test_split))
    return (_ragged(xs[:split]), labels[:split]), (_ragged(xs[split:]), labels[split:])


def get_word_index(path: str | os.PathLike = "reuters_word_index.json") -> dict[str, int]:
    """word -> rank, 1 for the most frequent; load_data's ids are rank + index_from."""
    with open(obtain("reuters_word_index.json", ORIGIN + "reuters_word_index.json", WORD_INDEX_MD5, ENV, path,
                     algorithm="md5", main=False), encoding="utf-8") as file:
        word_index = json.load(file)
    if not isinstance(word_index, dict):
        raise ValueError(f"the Reuters word index should be a JSON object of word -> rank, got {type(word_index).__name__}")
    return word_index


def get_label_names() -> tuple[str, ...]:
    """The 46 topics, label i named by element i."""
    return LABEL_NAMES
