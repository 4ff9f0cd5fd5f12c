"""The vocabulary of Keras 3's TextVectorization: tokens counted and ranked as Keras ranks them, their
ids looked up, and the ids as padded rows or as one row of counts per text (multi-hot, count, tf-idf).

Words given as spans (tokens.word_spans) are handled by their keys, a word of up to 8 UTF-8 bytes read
as one integer: adapt counts keys with np.unique and the lookup finds them in an integer hash table,
both in numpy. Longer words (about 7% in English reviews) go through a Counter and a dict.
"""
from __future__ import annotations

import collections
import itertools
from typing import Any

import numpy as np

from .tokens import KEY_BYTES, Spans, as_numpy, as_texts, unicode, utf8

MASK, OOV = "", "[UNK]"
_FIBONACCI = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio: multiplicative hashing's constant


def most_frequent(counts: dict[str, int], limit: int | None) -> list[str]:
    """Tokens by count, high to low, ties by token, high to low (Keras's order), at most `limit` of them.
    With a limit only the tokens counted at least as often as the limit-th one are sorted."""
    tokens, values = list(counts), np.fromiter(counts.values(), np.int64, len(counts))
    keep = range(len(tokens))
    if limit is not None and limit < len(tokens):
        threshold = np.partition(values, len(values) - limit)[len(values) - limit]  # the limit-th largest count
        keep = np.flatnonzero(values >= threshold).tolist()
    ranked = sorted(((int(values[i]), tokens[i]) for i in keep), reverse=True)
    return [token for _, token in ranked[:limit]]


class TokenCounts:
    """adapt's counts over the batches: of each token, and of the texts (documents) holding it, for tf-idf."""

    def __init__(self) -> None:
        self.texts, self.counts, self.documents = 0, collections.Counter(), collections.Counter()
        self._short: list[tuple[np.ndarray, np.ndarray]] = []  # (distinct keys, counts) of each batch of spans
        self._long = collections.Counter()  # the spans' words longer than 8 bytes

    def add_spans(self, spans: Spans) -> None:
        """Count a batch's words given as spans (no document counts: the tf-idf mode adds rows)."""
        keys = spans.keys()
        self._short.append(np.unique(keys[keys != 0], return_counts=True))
        self._long.update(spans.words(keys == 0))
        self.texts += len(spans.counts)

    def add_rows(self, rows: list[list[str]], documents: bool) -> None:
        """Count a batch's tokens given as one list per text, and with `documents` the texts holding each."""
        self.counts.update(itertools.chain.from_iterable(rows))
        if documents:
            for row in rows:
                self.documents.update(set(row))
        self.texts += len(rows)

    def learned(self, limit: int | None) -> list[str]:
        """The most frequent tokens (at most `limit`), the special ones left out: once, after the last batch."""
        if self._short:
            self.counts.update(_short_counts(self._short))
            self.counts.update({unicode(word): count for word, count in self._long.items()})
        for special in (MASK, OOV):
            self.counts.pop(special, None)
        return most_frequent(self.counts, limit)

    def idf(self, learned: list[str]) -> np.ndarray:
        """Keras's idf weights: log(1 + texts / (1 + the texts holding the token)); OOV, first, gets the mean."""
        idf = np.log1p(self.texts / (1 + np.array([self.documents[t] for t in learned], np.float64))).astype(np.float32)
        return np.concatenate([[idf.mean() if idf.size else 0.0], idf]).astype(np.float32)


def _short_counts(short: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, int]:
    """The counts of every batch's short words together, by word."""
    keys, inverse = np.unique(np.concatenate([k for k, _ in short]), return_inverse=True)
    counts = np.bincount(inverse, np.concatenate([c for _, c in short]), len(keys)).astype(np.int64)
    words = keys.astype("<u8").view(f"S{KEY_BYTES}").tolist()  # S8 drops the key's zero padding
    return dict(zip(map(unicode, words), counts.tolist()))


def given_vocabulary(vocabulary: Any, idf_weights: Any, special: list[str],
                     max_tokens: int | None) -> tuple[list[str], np.ndarray | None]:
    """A vocabulary given as tokens (a list, an array or a file with one per line) with the special tokens
    first (added unless it starts with them), and its idf weights, checked."""
    if isinstance(vocabulary, str):
        with open(vocabulary, encoding="utf-8") as file:
            vocabulary = file.read().splitlines()
    tokens = as_texts(list(vocabulary), "set_vocabulary") if len(vocabulary) else []
    if not tokens:
        raise ValueError("cannot set an empty vocabulary")
    has_special = tokens[:len(special)] == special
    learned = tokens[len(special):] if has_special else tokens
    repeated = sorted(t for t, n in collections.Counter(learned).items() if n > 1)
    if repeated or MASK in learned:
        raise ValueError("the vocabulary repeats tokens or holds the reserved '' outside index 0: "
                         f"{(repeated or [MASK])[:5]}")
    if max_tokens is not None and len(special) + len(learned) > max_tokens:
        raise ValueError(f"a vocabulary of {len(special) + len(learned)} tokens (with the special ones) "
                         f"is larger than max_tokens={max_tokens}")
    idf = None
    if idf_weights is not None:
        idf = np.asarray(as_numpy(idf_weights), np.float32).reshape(-1)
        if len(idf) != len(tokens):
            raise ValueError(f"idf_weights has {len(idf)} values for a vocabulary of {len(tokens)} tokens")
        if not has_special:  # Keras: the special tokens' weight is the mean of the given ones
            idf = np.concatenate([np.full(len(special), idf.mean(), np.float32), idf])
    return special + learned, idf


# ---- lookup ---------------------------------------------------------------------------------------
class Vocabulary:
    """Tokens and their ids: a dict for tokens in lists, the key table (and a dict for longer words) for spans."""

    def __init__(self, tokens: list[str], unknown: int) -> None:
        self.tokens, self.unknown = tokens, unknown
        self._index = {token: i for i, token in enumerate(tokens)}
        self._utf8_index = {utf8(token): i for i, token in enumerate(tokens)}
        self._table = _KeyTable(tokens, missing=unknown)

    def row_ids(self, rows: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Every token's id, row after row, and how many tokens each row has."""
        sizes = np.fromiter(map(len, rows), np.int64, len(rows))
        tokens = itertools.chain.from_iterable(rows)
        return np.fromiter(map(self._index.get, tokens, itertools.repeat(self.unknown)), np.int64), sizes

    def span_ids(self, spans: Spans) -> tuple[np.ndarray, np.ndarray]:
        """Every word's id, text after text, and how many words each text has."""
        keys = spans.keys()
        ids = self._table.find(keys)
        long = np.flatnonzero(keys == 0)  # more than 8 bytes: looked up one by one (dict.get stays in C)
        ids[long] = np.fromiter(map(self._utf8_index.get, spans.words(long), itertools.repeat(self.unknown)),
                                np.int64, len(long))
        return ids, spans.counts


class _KeyTable:
    """Short words' ids by key, looked up in numpy: open addressing with linear probing, at most 1/8 full."""

    def __init__(self, vocabulary: list[str], missing: int) -> None:
        entries = [(int.from_bytes(w, "little"), i) for i, w in enumerate(map(utf8, vocabulary))
                   if 0 < len(w) <= KEY_BYTES and 0 not in w]
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
        """Each key's home slot: the top bits of its Fibonacci hash."""
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


# ---- ids to the layer's output ----------------------------------------------------------------------
def padded(ids: np.ndarray, sizes: np.ndarray, width: int | None) -> np.ndarray:
    """Ids padded with 0 at the end to `width`, else to the longest text."""
    width = width or int(sizes.max(initial=0))
    rows = np.zeros((len(sizes), width), np.int64)
    rows[np.arange(width) < sizes[:, None]] = ids  # row-major: each row's ids fill its first slots
    return rows


def bag(ids: np.ndarray, sizes: np.ndarray, depth: int, mode: str, idf: np.ndarray | None) -> np.ndarray:
    """(batch, depth) counts of each id, as multi-hot (0/1), counts, or counts times idf (mode "tf_idf")."""
    row_of = np.repeat(np.arange(len(sizes)), sizes)
    counts = np.bincount(row_of * depth + ids, minlength=len(sizes) * depth).reshape(len(sizes), depth)
    if mode == "multi_hot":
        return (counts > 0).astype(np.float32)
    if mode == "count":
        return counts.astype(np.float32)
    weights = np.zeros(depth, np.float32)
    weights[:len(idf)] = idf  # pad_to_max_tokens: the unused columns weigh 0
    return (counts * weights).astype(np.float32)
