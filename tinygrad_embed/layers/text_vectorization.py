"""TextVectorization: strings in, token ids (or one row of counts per text) out, Keras 3's layer on
numpy and Python's bytes methods. Keras's needs TensorFlow's string ops; this module never imports it.

A text goes through standardize (lower case, strip punctuation), split (into words or characters),
ngrams (joined by a space), then a lookup in the vocabulary that adapt() learned: in "int" mode ids with
0 for padding and 1 for "[UNK]", in the other modes a (batch, vocabulary size) matrix.

Words split at whitespace without ngrams (the common case) never become Python objects one by one: the
batch is joined into one buffer, its words found as spans with numpy, and a word of up to 8 UTF-8 bytes
is named by those bytes read as one integer, counted with np.unique and looked up in an integer hash
table. Longer words (about 7% in English reviews) go through a dict. Every other case splits each text
into a list of Python strings.
"""
from __future__ import annotations

import collections
import itertools
import re
from typing import Any, Callable, Iterable, NamedTuple, Sequence

import numpy as np

from ..tensor import Tensor
from ..helpers import positive_int
from .base import Layer

MASK, OOV = "", "[UNK]"
OUTPUT_MODES = ("int", "multi_hot", "count", "tf_idf")
STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
# Keras's regex [!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\'] as bytes to delete (",-\." is the range , - .):
# deleting them from the UTF-8 bytes is exact, since no byte of a multi-byte character is ASCII
_PUNCTUATION = b'!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\''
_WHITESPACE = b" \t\n\v\f\r"  # tf.strings.split's separators (Python's str.split knows more, bytes.split these)
_OTHER_SPACE = re.compile("[\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_WORD = re.compile(r"[^ \t\n\v\f\r]+")
_IS_WORD_BYTE = bytes(int(b not in _WHITESPACE) for b in range(256))  # a bytes.translate table
_KEY_BYTES = 8
# a word's key: its first n bytes as a little-endian integer, n = its length; 0 for longer words (index 9)
_KEY_MASKS = np.array([(1 << 8 * n) - 1 for n in range(_KEY_BYTES + 1)] + [0], np.uint64)
_FIBONACCI = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio: multiplicative hashing's constant


def _numpy(value: Any) -> Any:
    """A TensorFlow tensor (or anything with .numpy()) as numpy: callables may use tf.strings ops."""
    return value.numpy() if hasattr(value, "numpy") and not isinstance(value, np.ndarray) else value


def _text(item: Any) -> str:
    return item.decode("utf-8", errors="replace") if isinstance(item, bytes) else str(item)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _unicode(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass")


def as_texts(data: Any) -> list[str]:
    """A batch of strings, shape (n,) or (n, 1) as Keras accepts, as a list of n Python strings."""
    array = np.asarray(_numpy(data), dtype=object)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"TextVectorization takes a batch of strings of shape (n,) or (n, 1), got shape {array.shape}")
    return [_text(item) for item in array.tolist()]


def _object_array(texts: list[str]) -> np.ndarray:
    """What a standardize or split callable gets: a numpy array of str (object dtype: a fixed-width
    unicode array of long reviews would take four bytes per character of the longest one)."""
    array = np.empty(len(texts), object)
    array[:] = texts
    return array


def _words(text: str) -> list[str]:
    """tf.strings.split's words. str.split gives them unless the text has a separator only Python knows:
    in ASCII text (isascii is a stored flag) that is one of four control characters, a fast search."""
    if text.isascii():
        odd = "\x1c" in text or "\x1d" in text or "\x1e" in text or "\x1f" in text
    else:
        odd = _OTHER_SPACE.search(text) is not None
    return _WORD.findall(text) if odd else text.split()


def ngrams(tokens: list[str], widths: Sequence[int]) -> list[str]:
    """tf.strings.ngrams: all n-grams of the first width, then of the next, each joined by a space."""
    return [" ".join(tokens[i:i + w]) for w in widths for i in range(len(tokens) - w + 1)]


def _most_frequent(counts: dict[str, int], limit: int | None) -> list[str]:
    """Tokens by count, high to low, ties by token, high to low (Keras's order), at most `limit` of them.
    With a limit only the tokens counted at least as often as the limit-th one are sorted."""
    tokens, values = list(counts), np.fromiter(counts.values(), np.int64, len(counts))
    keep = range(len(tokens))
    if limit is not None and limit < len(tokens):
        threshold = np.partition(values, len(values) - limit)[len(values) - limit]  # the limit-th largest count
        keep = np.flatnonzero(values >= threshold).tolist()
    ranked = sorted(((int(values[i]), tokens[i]) for i in keep), reverse=True)
    return [token for _, token in ranked[:limit]]


# ---- words as spans of one buffer ---------------------------------------------------------------------
class _Spans(NamedTuple):
    """A batch's words as [start, end) byte spans of one buffer: b" " + the texts joined by b" " + b" ",
    then 8 zero bytes so that reading 8 bytes at any word's start stays inside."""
    buffer: bytes
    starts: np.ndarray
    ends: np.ndarray
    counts: np.ndarray  # words per text

    def keys(self) -> np.ndarray:
        """Each word's key: its bytes as a little-endian integer if it has at most 8, else 0."""
        windows = np.ndarray((len(self.buffer) - 7,), "<u8", self.buffer, strides=(1,))  # 8 bytes at every offset
        return windows[self.starts] & np.take(_KEY_MASKS, self.ends - self.starts, mode="clip")

    def words(self, which: np.ndarray) -> list[bytes]:
        return [self.buffer[a:b] for a, b in zip(self.starts[which].tolist(), self.ends[which].tolist())]

    def cut(self, length: int) -> _Spans:
        """Only each text's first `length` words."""
        over = np.flatnonzero(self.counts > length)
        if not over.size:
            return self
        keep, firsts = np.ones(len(self.starts), bool), np.cumsum(self.counts) - self.counts
        for first, count in zip(firsts[over].tolist(), self.counts[over].tolist()):
            keep[first + length:first + count] = False
        return _Spans(self.buffer, self.starts[keep], self.ends[keep], np.minimum(self.counts, length))


def _spans(texts: list[bytes]) -> _Spans | None:
    """The words of standardized texts, or None if a text holds a zero byte (the keys would be ambiguous)."""
    buffer = b" ".join([b"", *texts, bytes(_KEY_BYTES)])
    if buffer.find(0, 0, len(buffer) - _KEY_BYTES) >= 0:
        return None
    is_word = np.frombuffer(buffer.translate(_IS_WORD_BYTE), np.bool_)[:-_KEY_BYTES]
    edges = np.flatnonzero(is_word[1:] != is_word[:-1]) + 1  # a word's first byte, then the byte after it
    starts, ends = edges[0::2], edges[1::2]
    sizes = np.fromiter(map(len, texts), np.int64, len(texts))
    text_starts = np.cumsum(sizes + 1) - sizes  # after the leading space and each text's separator
    firsts = np.searchsorted(starts, text_starts)
    return _Spans(buffer, starts, ends, np.diff(firsts, append=len(starts)))


def _count(spans: _Spans, short: list[tuple[np.ndarray, np.ndarray]], long: collections.Counter) -> None:
    """Add the words' counts: (distinct keys, counts) to `short`, words longer than 8 bytes to `long`."""
    keys = spans.keys()
    short.append(np.unique(keys[keys != 0], return_counts=True))
    long.update(spans.words(keys == 0))


def _short_counts(short: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, int]:
    """The counts of every batch's short words together, by word."""
    keys, inverse = np.unique(np.concatenate([k for k, _ in short]), return_inverse=True)
    counts = np.bincount(inverse, np.concatenate([c for _, c in short]), len(keys)).astype(np.int64)
    words = keys.astype("<u8").view(f"S{_KEY_BYTES}").tolist()  # S8 drops the key's zero padding
    return dict(zip(map(_unicode, words), counts.tolist()))


class _KeyTable:
    """Short words' ids by key, looked up in numpy: open addressing with linear probing, at most 1/8 full."""

    def __init__(self, vocabulary: list[str], missing: int) -> None:
        entries = [(int.from_bytes(w, "little"), i) for i, w in enumerate(map(_utf8, vocabulary))
                   if 0 < len(w) <= _KEY_BYTES and 0 not in w]
        self.bits = max((8 * len(entries)).bit_length(), 1)
        size = 1 << self.bits
        keys, ids = [0] * size, [missing] * size  # key 0 marks an empty slot: no word has it
        slots = self._slots(np.array([k for k, _ in entries], np.uint64)).tolist()
        for (key, index), slot in zip(entries, slots):
            while keys[slot]:
                slot = (slot + 1) % size
            keys[slot], ids[slot] = key, index
        self.keys, self.ids = np.array(keys, np.uint64), np.array(ids, np.int64)

    def _slots(self, keys: np.ndarray) -> np.ndarray:
        return (keys * _FIBONACCI) >> np.uint64(64 - self.bits)

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Each key's id (an empty slot's id, `missing`, if it is not in the table)."""
        slots = self._slots(keys)
        found, ids = self.keys[slots], self.ids[slots]
        probing = np.flatnonzero((found != keys) & (found != 0))  # another key sits there: look further
        slots, last = slots[probing], np.uint64(len(self.keys) - 1)
        while probing.size:
            slots = (slots + np.uint64(1)) & last
            found, ids[probing] = self.keys[slots], self.ids[slots]
            still = (found != keys[probing]) & (found != 0)
            probing, slots = probing[still], slots[still]
        return ids


class TextVectorization(Layer):
    """Keras 3's TextVectorization: standardize -> split -> ngrams -> vocabulary lookup. No weights."""
    string_inputs = True

    def __init__(self, max_tokens: int | None = None,
                 standardize: str | Callable | None = "lower_and_strip_punctuation",
                 split: str | Callable | None = "whitespace", ngrams: int | tuple | None = None,
                 output_mode: str = "int", output_sequence_length: int | None = None, pad_to_max_tokens: bool = False,
                 vocabulary: Any = None, idf_weights: Any = None, **kwargs: Any) -> None:
        super().__init__(trainable=False, **{k: v for k, v in kwargs.items() if k != "trainable"})
        if output_mode not in OUTPUT_MODES:
            raise ValueError(f"output_mode must be one of {', '.join(OUTPUT_MODES)}, got {output_mode!r}")
        if not (standardize in (None, *STANDARDIZE) or callable(standardize)):
            raise ValueError("standardize must be 'lower_and_strip_punctuation', 'lower', 'strip_punctuation', "
                             f"None or a callable, got {standardize!r}")
        if not (split in (None, "whitespace", "character") or callable(split)):
            raise ValueError(f"split must be 'whitespace', 'character', None or a callable, got {split!r}")
        if output_sequence_length is not None and output_mode != "int":
            raise ValueError(f"output_sequence_length is for output_mode='int' only, got output_mode={output_mode!r}")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError("pad_to_max_tokens=True needs max_tokens")
        self.max_tokens = None if max_tokens is None else positive_int(max_tokens, "max_tokens")
        self.standardize, self.split, self.output_mode = standardize, split, output_mode
        self.ngrams = self._ngram_widths(ngrams)
        self.output_sequence_length = (None if output_sequence_length is None
                                       else positive_int(output_sequence_length, "output_sequence_length"))
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self._special = [MASK, OOV] if output_mode == "int" else [OOV]  # Keras: no padding id outside int mode
        self._set([], None)
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
        elif idf_weights is not None:
            raise ValueError("idf_weights were given without a vocabulary")
        self.built = True

    @staticmethod
    def _ngram_widths(value: Any) -> tuple[int, ...] | None:
        if value is None:
            return None
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return tuple(range(1, positive_int(value, "ngrams") + 1))  # Keras: ngrams=2 means 1- and 2-grams
        if isinstance(value, (tuple, list)) and value:
            return tuple(positive_int(w, "each ngrams width") for w in value)
        raise ValueError(f"ngrams must be None, an integer or a tuple of integers, got {value!r}")

    # ---- text to tokens ---------------------------------------------------------------------------
    def _standardized(self, data: Any) -> list[bytes]:
        """The texts in UTF-8 after standardize. Lower case is ASCII's only, as in tf.strings.lower."""
        texts = as_texts(data)
        if callable(self.standardize):
            return [_utf8(t) for t in as_texts(self.standardize(_object_array(texts)))]
        encoded = [_utf8(t) for t in texts]
        if self.standardize in ("lower", "lower_and_strip_punctuation"):
            encoded = [t.lower() for t in encoded]
        if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            encoded = [t.translate(None, _PUNCTUATION) for t in encoded]
        return encoded

    @property
    def _whole_words(self) -> bool:
        """Words split at whitespace and no ngrams: the case that numpy handles as spans of one buffer."""
        return self.split == "whitespace" and self.ngrams is None

    def tokens(self, data: Any) -> list[list[str]]:
        """Each text's tokens after standardize, split and ngrams: what the vocabulary is looked up with."""
        return self._rows(self._standardized(data))

    def _rows(self, standardized: list[bytes]) -> list[list[str]]:
        texts = [_unicode(t) for t in standardized]
        if self.split == "whitespace":
            rows = [_words(t) for t in texts]
        elif self.split == "character":
            rows = [list(t) for t in texts]
        elif callable(self.split):
            rows = self._rows_from_callable(self.split(_object_array(texts)), len(texts))
        else:
            rows = [[t] for t in texts]
        return rows if self.ngrams is None else [ngrams(row, self.ngrams) for row in rows]

    def _rows_from_callable(self, result: Any, count: int) -> list[list[str]]:
        """A split callable's result (a tf.RaggedTensor, an array, or lists) as lists of strings."""
        rows = result.to_list() if hasattr(result, "to_list") else _numpy(result)
        rows = [[_text(token) for token in np.asarray(_numpy(row), dtype=object).reshape(-1)] for row in rows]
        if len(rows) != count:
            raise ValueError(f"the split callable returned {len(rows)} rows for {count} texts")
        return rows

    # ---- vocabulary -------------------------------------------------------------------------------
    def adapt(self, data: Any, batch_size: int | None = None, steps: int | None = None) -> None:
        """Learn the vocabulary: tokens by count, high to low, ties by token, high to low (Keras's order).
        data: strings (list or array) or an iterable of batches of strings (a dataset); batch_size
        changes nothing here (the counts are the same), steps caps the batches read."""
        batches = [data] if isinstance(data, (list, tuple, np.ndarray, str, bytes)) else data
        counts, documents, seen = collections.Counter(), collections.Counter(), 0
        short, long = [], collections.Counter()  # the numpy path's counts, words of up to 8 bytes and longer
        for step, batch in enumerate(batches):
            if steps is not None and step >= steps:
                break
            if isinstance(batch, tuple):
                raise TypeError("adapt needs batches of strings, got (x, y) pairs: adapt on ds.map(lambda x, y: x)")
            texts = self._standardized(batch)
            seen += len(texts)
            spans = _spans(texts) if self._whole_words and self.output_mode != "tf_idf" else None
            if spans is not None:
                _count(spans, short, long)
                continue
            rows = self._rows(texts)
            counts.update(itertools.chain.from_iterable(rows))
            if self.output_mode == "tf_idf":
                for row in rows:
                    documents.update(set(row))
        if seen == 0:
            raise ValueError("adapt got no text: the data is empty")
        if short:
            counts.update(_short_counts(short))
            counts.update({_unicode(word): count for word, count in long.items()})
        for special in (MASK, OOV):
            counts.pop(special, None)
        limit = None if self.max_tokens is None else max(self.max_tokens - len(self._special), 0)
        learned = _most_frequent(counts, limit)
        idf = None
        if self.output_mode == "tf_idf":  # Keras: log(1 + N / (1 + document count)); OOV gets the mean
            idf = np.log1p(seen / (1 + np.array([documents[t] for t in learned], np.float64))).astype(np.float32)
            idf = np.concatenate([[idf.mean() if idf.size else 0.0], idf]).astype(np.float32)
        self._set(self._special + learned, idf)

    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        """Use these tokens (a list, an array or a file with one per line); the special tokens ("" and
        "[UNK]" in int mode, "[UNK]" otherwise) are added first unless the list starts with them."""
        if (idf_weights is None) == (self.output_mode == "tf_idf"):
            raise ValueError("idf_weights are needed for output_mode='tf_idf' and only then, got "
                             f"idf_weights={'None' if idf_weights is None else 'an array'} with "
                             f"output_mode={self.output_mode!r}")
        if isinstance(vocabulary, str):
            with open(vocabulary, encoding="utf-8") as file:
                vocabulary = file.read().splitlines()
        tokens = as_texts(list(vocabulary)) if len(vocabulary) else []
        if not tokens:
            raise ValueError("cannot set an empty vocabulary")
        has_special = tokens[:len(self._special)] == self._special
        learned = tokens[len(self._special):] if has_special else tokens
        repeated = sorted(t for t, n in collections.Counter(learned).items() if n > 1)
        if repeated or MASK in learned:
            raise ValueError("the vocabulary repeats tokens or holds the reserved '' outside index 0: "
                             f"{(repeated or [MASK])[:5]}")
        if self.max_tokens is not None and len(self._special) + len(learned) > self.max_tokens:
            raise ValueError(f"a vocabulary of {len(self._special) + len(learned)} tokens (with the special ones) "
                             f"is larger than max_tokens={self.max_tokens}")
        idf = None
        if idf_weights is not None:
            idf = np.asarray(_numpy(idf_weights), np.float32).reshape(-1)
            if len(idf) != len(tokens):
                raise ValueError(f"idf_weights has {len(idf)} values for a vocabulary of {len(tokens)} tokens")
            if not has_special:  # Keras: the special tokens' weight is the mean of the given ones
                idf = np.concatenate([np.full(len(self._special), idf.mean(), np.float32), idf])
        self._set(self._special + learned, idf)

    def _set(self, vocabulary: list[str], idf: np.ndarray | None) -> None:
        self._vocabulary = vocabulary
        self._index = {token: i for i, token in enumerate(vocabulary)}
        self._utf8_index = {_utf8(token): i for i, token in enumerate(vocabulary)}
        self._table = _KeyTable(vocabulary, missing=self._unknown)
        self._idf = idf

    @property
    def _unknown(self) -> int:
        return self._special.index(OOV)

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[str]:
        return list(self._vocabulary if include_special_tokens else self._vocabulary[len(self._special):])

    def vocabulary_size(self) -> int:
        """The number of ids the layer outputs, special tokens included (an Embedding's input_dim)."""
        return len(self._vocabulary)

    # ---- the call ---------------------------------------------------------------------------------
    def call(self, inputs: Any) -> Tensor:
        if not self._vocabulary:
            raise ValueError(f"TextVectorization {self.name!r} has no vocabulary yet: call adapt(texts) or "
                             "set_vocabulary(tokens) first, or give vocabulary=")
        ids, sizes = self._flat_ids(inputs)
        return Tensor(self._ids(ids, sizes) if self.output_mode == "int" else self._bag(ids, sizes))

    def _flat_ids(self, inputs: Any) -> tuple[np.ndarray, np.ndarray]:
        """Every token's id, text after text (each cut to output_sequence_length), and how many each text has."""
        texts, length = self._standardized(inputs), self.output_sequence_length
        spans = _spans(texts) if self._whole_words else None
        if spans is None:
            rows = [row[:length] for row in self._rows(texts)] if length is not None else self._rows(texts)
            sizes = np.fromiter(map(len, rows), np.int64, len(rows))
            tokens = itertools.chain.from_iterable(rows)
            return np.fromiter(map(self._index.get, tokens, itertools.repeat(self._unknown)), np.int64), sizes
        spans = spans if length is None else spans.cut(length)
        keys = spans.keys()
        ids = self._table.find(keys)
        long = np.flatnonzero(keys == 0)  # more than 8 bytes: looked up one by one (dict.get stays in C)
        ids[long] = np.fromiter(map(self._utf8_index.get, spans.words(long), itertools.repeat(self._unknown)),
                                np.int64, len(long))
        return ids, spans.counts

    def _ids(self, ids: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        """Ids padded with 0 at the end to output_sequence_length, else to the longest text."""
        width = self.output_sequence_length or int(sizes.max(initial=0))
        padded = np.zeros((len(sizes), width), np.int64)
        padded[np.arange(width) < sizes[:, None]] = ids  # row-major: each row's ids fill its first slots
        return padded

    def _bag(self, ids: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        """(batch, depth) counts of each id, as multi-hot (0/1), counts, or counts times idf."""
        depth = self.max_tokens if self.pad_to_max_tokens else len(self._vocabulary)
        row_of = np.repeat(np.arange(len(sizes)), sizes)
        counts = np.bincount(row_of * depth + ids, minlength=len(sizes) * depth).reshape(len(sizes), depth)
        if self.output_mode == "multi_hot":
            return (counts > 0).astype(np.float32)
        if self.output_mode == "count":
            return counts.astype(np.float32)
        idf = np.zeros(depth, np.float32)
        idf[:len(self._idf)] = self._idf  # pad_to_max_tokens: the unused columns weigh 0
        return (counts * idf).astype(np.float32)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        if self.output_mode == "int":
            return (input_shape[0], self.output_sequence_length)
        return (input_shape[0], self.max_tokens if self.pad_to_max_tokens else len(self._vocabulary))

    def check_inputs(self, texts: Iterable[Any]) -> None:
        if np.asarray(texts).dtype.kind in "biuf":
            raise TypeError("TextVectorization takes strings (str or bytes), got numbers")

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments with the current vocabulary (and idf weights): a saved model keeps them."""
        config = super().get_config()
        config.update(vocabulary=self.get_vocabulary() or None,
                      idf_weights=None if self._idf is None else self._idf.tolist())
        return config
