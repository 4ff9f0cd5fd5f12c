"""Texts to tokens as Keras 3's TextVectorization makes them, on numpy and Python's bytes methods:
standardize (lower case, strip punctuation), split (into words or characters), ngrams (joined by a space).
Keras's needs TensorFlow's string ops; this module never imports it.

Words split at whitespace without ngrams (the common case) never become Python objects one by one: the
batch is joined into one buffer and its words found as spans with numpy (`word_spans`), and a word of up to
8 UTF-8 bytes is named by those bytes read as one integer, its key (vocabulary.py counts and looks up
keys). Every other case splits each text into a list of Python strings (`token_rows`).
"""
from __future__ import annotations

import re
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from .texts import as_strs, decoded, text_array

STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
# Keras's regex [!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\'] as bytes to delete (",-\." is the range , - .):
# deleting them from the UTF-8 bytes is exact, since no byte of a multi-byte character is ASCII
_PUNCTUATION = b'!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\''
_WHITESPACE = b" \t\n\v\f\r"  # tf.strings.split's separators (Python's str.split knows more, bytes.split these)
_OTHER_SPACE = re.compile("[\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_WORD = re.compile(r"[^ \t\n\v\f\r]+")
_IS_WORD_BYTE = bytes(int(b not in _WHITESPACE) for b in range(256))  # a bytes.translate table
KEY_BYTES = 8
# a word's key: its first n bytes as a little-endian integer, n = its length; 0 for longer words (index 9)
_KEY_MASKS = np.array([(1 << 8 * n) - 1 for n in range(KEY_BYTES + 1)] + [0], np.uint64)


def as_numpy(value: Any) -> Any:
    """A TensorFlow tensor (or anything with .numpy()) as numpy: callables may use tf.strings ops."""
    return value.numpy() if hasattr(value, "numpy") and not isinstance(value, np.ndarray) else value


def utf8(text: str) -> bytes:
    """The text's UTF-8 bytes (a lone surrogate kept, so that unicode gives it back)."""
    return text.encode("utf-8", "surrogatepass")


def unicode(data: bytes) -> str:
    """utf8's inverse."""
    return data.decode("utf-8", "surrogatepass")


def as_texts(data: Any, what: str = "TextVectorization") -> list[str]:
    """A batch of strings, shape (n,) or (n, 1) as Keras accepts, as a list of n Python strings; anything
    but str and bytes refused by kind (texts.py)."""
    data = as_numpy(data)
    array = data if isinstance(data, np.ndarray) else np.asarray(data, dtype=object)  # never "1.5" for 1.5
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{what} takes a batch of strings of shape (n,) or (n, 1), got shape {array.shape}")
    return as_strs(array, what)


def _object_array(texts: list[str]) -> np.ndarray:
    """What a standardize or split callable gets: a numpy array of str (object dtype: a fixed-width
    unicode array of long reviews would take four bytes per character of the longest one)."""
    array = np.empty(len(texts), object)
    array[:] = texts
    return array


def standardized(data: Any, standardize: str | Callable | None, what: str = "TextVectorization") -> list[bytes]:
    """The texts in UTF-8 after standardize. Lower case is ASCII's only, as in tf.strings.lower."""
    texts = as_texts(data, what)
    if callable(standardize):
        return [utf8(t) for t in as_texts(standardize(_object_array(texts)), "the standardize callable's result")]
    encoded = [utf8(t) for t in texts]
    if standardize in ("lower", "lower_and_strip_punctuation"):
        encoded = [t.lower() for t in encoded]
    if standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
        encoded = [t.translate(None, _PUNCTUATION) for t in encoded]
    return encoded


# ---- tokens as lists of Python strings --------------------------------------------------------------
def token_rows(standardized_texts: list[bytes], split: str | Callable | None,
               widths: Sequence[int] | None) -> list[list[str]]:
    """Each standardized text's tokens after split and ngrams (of these widths, if any)."""
    texts = [unicode(t) for t in standardized_texts]
    if split == "whitespace":
        rows = [_words(t) for t in texts]
    elif split == "character":
        rows = [list(t) for t in texts]
    elif callable(split):
        rows = _rows_from_callable(split(_object_array(texts)), len(texts))
    else:
        rows = [[t] for t in texts]
    return rows if widths is None else [ngrams(row, widths) for row in rows]


def _words(text: str) -> list[str]:
    """tf.strings.split's words. str.split gives them unless the text has a separator only Python knows:
    in ASCII text (isascii is a stored flag) that is one of four control characters, a fast search."""
    if text.isascii():
        odd = "\x1c" in text or "\x1d" in text or "\x1e" in text or "\x1f" in text
    else:
        odd = _OTHER_SPACE.search(text) is not None
    return _WORD.findall(text) if odd else text.split()


def _rows_from_callable(result: Any, count: int) -> list[list[str]]:
    """A split callable's result (a tf.RaggedTensor, an array, or lists) as lists of strings."""
    rows = result.to_list() if hasattr(result, "to_list") else as_numpy(result)
    rows = [[decoded(token) for token in text_array(as_numpy(row), "the split callable's result").reshape(-1)]
            for row in rows]
    if len(rows) != count:
        raise ValueError(f"the split callable returned {len(rows)} rows for {count} texts")
    return rows


def ngrams(tokens: list[str], widths: Sequence[int]) -> list[str]:
    """tf.strings.ngrams: all n-grams of the first width, then of the next, each joined by a space."""
    return [" ".join(tokens[i:i + w]) for w in widths for i in range(len(tokens) - w + 1)]


# ---- words as spans of one buffer ---------------------------------------------------------------------
class Spans(NamedTuple):
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
        """The bytes of the words `which` selects."""
        return [self.buffer[a:b] for a, b in zip(self.starts[which].tolist(), self.ends[which].tolist())]

    def cut(self, length: int) -> Spans:
        """Only each text's first `length` words."""
        over = np.flatnonzero(self.counts > length)
        if not over.size:
            return self
        keep, firsts = np.ones(len(self.starts), bool), np.cumsum(self.counts) - self.counts
        for first, count in zip(firsts[over].tolist(), self.counts[over].tolist()):
            keep[first + length:first + count] = False
        return Spans(self.buffer, self.starts[keep], self.ends[keep], np.minimum(self.counts, length))


def word_spans(texts: list[bytes]) -> Spans | None:
    """The words of standardized texts, or None if a text holds a zero byte (the keys would be ambiguous)."""
    buffer = b" ".join([b"", *texts, bytes(KEY_BYTES)])
    if buffer.find(0, 0, len(buffer) - KEY_BYTES) >= 0:
        return None
    is_word = np.frombuffer(buffer.translate(_IS_WORD_BYTE), np.bool_)[:-KEY_BYTES]
    edges = np.flatnonzero(is_word[1:] != is_word[:-1]) + 1  # a word's first byte, then the byte after it
    starts, ends = edges[0::2], edges[1::2]
    sizes = np.fromiter(map(len, texts), np.int64, len(texts))
    text_starts = np.cumsum(sizes + 1) - sizes  # after the leading space and each text's separator
    firsts = np.searchsorted(starts, text_starts)
    return Spans(buffer, starts, ends, np.diff(firsts, append=len(starts)))
