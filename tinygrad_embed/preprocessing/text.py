"""Text to word ids, with Keras 2's rules (keras.preprocessing.text).

Tokenizer: the most frequent word gets id 1 (0 is left for padding); ties keep first-seen order; with
num_words only ids below num_words are emitted, so Tokenizer(num_words) keeps num_words - 1 words; an
oov_token, when given, takes id 1 and stands in for every word that is left out.

hashing_trick and one_hot need no vocabulary: a word's id is its hash, folded into [1, n - 1].
"""
from __future__ import annotations

import hashlib
import json
from collections import OrderedDict, defaultdict
from typing import Callable, Iterable, Iterator, Union

from ..helpers import positive_int
from .texts import TEXT_TYPES, decoded, refuse

DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


def text_to_word_sequence(text: str, filters: str = DEFAULT_FILTERS, lower: bool = True, split: str = " ") -> list[str]:
    """The words of `text` (a str, or bytes decoded as UTF-8), split at `split` after each character of
    `filters` became `split` (and, with lower, every letter lower case); empty words are dropped."""
    if not isinstance(text, TEXT_TYPES):
        raise TypeError(f"text_to_word_sequence works on a string, got {type(text).__name__}: {text!r:.60} "
                        "(a text is str or bytes)")
    text = decoded(text)
    if lower:
        text = text.lower()
    text = text.translate(str.maketrans({c: split for c in filters}))
    return [word for word in text.split(split) if word]


def _md5(word: str) -> int:
    """A word's MD5 digest as an integer: the same in every process."""
    return int(hashlib.md5(word.encode()).hexdigest(), 16)


def hashing_trick(text: str, n: int, hash_function: Union[None, str, Callable[[str], int]] = None,
                  filters: str = DEFAULT_FILTERS, lower: bool = True, split: str = " ",
                  analyzer: Callable[[str], list[str]] | None = None) -> list[int]:
    """Each word's id, hash_function(word) % (n - 1) + 1, in [1, n - 1] (0 stays free for padding); two
    words may share an id. hash_function: None (Python's hash, which is salted per process unless
    PYTHONHASHSEED is set), "md5" (the same ids in every process) or any function from str to int.
    The words are analyzer(text) if given, else text_to_word_sequence's."""
    n = positive_int(n, "hashing_trick's n")
    if n < 2:
        raise ValueError(f"hashing_trick's n must be at least 2 (id 0 is reserved, so n = 1 leaves none), got {n}")
    if hash_function is None:
        hash_function = hash
    elif hash_function == "md5":
        hash_function = _md5
    elif not callable(hash_function):
        raise ValueError(f'hash_function must be None, "md5" or a function of a word, got {hash_function!r}')
    words = analyzer(text) if analyzer is not None else text_to_word_sequence(text, filters, lower, split)
    return [hash_function(word) % (n - 1) + 1 for word in words]


def one_hot(input_text: str, n: int, filters: str = DEFAULT_FILTERS, lower: bool = True, split: str = " ",
            analyzer: Callable[[str], list[str]] | None = None) -> list[int]:
    """hashing_trick with Python's hash, as Keras 2 (not one-hot vectors, despite the name): the ids
    change from one process to the next unless PYTHONHASHSEED is set; hashing_trick(..., "md5") does not."""
    return hashing_trick(input_text, n, hash, filters, lower, split, analyzer)


class Tokenizer:
    """Keras 2's Tokenizer: words numbered by frequency from 1, texts to id sequences and back."""
    def __init__(self, num_words: int | None = None, filters: str = DEFAULT_FILTERS, lower: bool = True,
                 split: str = " ", char_level: bool = False, oov_token: str | None = None, **_ignored) -> None:
        num_words = None if num_words is None else positive_int(num_words, "num_words")
        self.num_words, self.filters, self.lower, self.split = num_words, filters, lower, split
        self.char_level, self.oov_token = char_level, oov_token
        self.word_counts: OrderedDict[str, int] = OrderedDict()
        self.word_docs: defaultdict[str, int] = defaultdict(int)
        self.document_count = 0
        self.word_index: dict[str, int] = {}
        self.index_word: dict[int, str] = {}

    def _words(self, text: str | bytes, index: int, what: str) -> list[str]:
        """The words of the text at `index` of what `what` was given; anything but str and bytes refused."""
        if not isinstance(text, TEXT_TYPES):
            refuse(text, f"at index {index}", f"Tokenizer.{what}")
        text = decoded(text)
        if self.char_level:
            return list(text.lower() if self.lower else text)
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    def fit_on_texts(self, texts: Iterable[str | bytes]) -> None:
        if isinstance(texts, TEXT_TYPES):
            raise TypeError("fit_on_texts takes a list of texts, not one string")
        texts = list(texts)
        for index, text in enumerate(texts):  # all checked first: a refused text leaves the counts as they were
            if not isinstance(text, TEXT_TYPES):
                refuse(text, f"at index {index}", "Tokenizer.fit_on_texts")
        for index, text in enumerate(texts):
            words = self._words(text, index, "fit_on_texts")
            self.document_count += 1
            for word in words:
                self.word_counts[word] = self.word_counts.get(word, 0) + 1
            for word in set(words):
                self.word_docs[word] += 1
        vocabulary = sorted(self.word_counts, key=self.word_counts.get, reverse=True)  # stable: ties keep order
        if self.oov_token is not None:
            vocabulary = [self.oov_token] + [w for w in vocabulary if w != self.oov_token]
        self.word_index = {word: i for i, word in enumerate(vocabulary, start=1)}
        self.index_word = {i: word for word, i in self.word_index.items()}

    def _kept(self, index: int | None) -> int | None:
        """The id to emit for a word id (None: the word is not in the vocabulary)."""
        if index is not None and (self.num_words is None or index < self.num_words):
            return index
        return self.word_index.get(self.oov_token) if self.oov_token is not None else None

    def texts_to_sequences_generator(self, texts: Iterable[str | bytes]) -> Iterator[list[int]]:
        for index, text in enumerate(texts):
            ids = (self._kept(self.word_index.get(word)) for word in self._words(text, index, "texts_to_sequences"))
            yield [i for i in ids if i is not None]

    def texts_to_sequences(self, texts: Iterable[str | bytes]) -> list[list[int]]:
        if isinstance(texts, TEXT_TYPES):
            raise TypeError("texts_to_sequences takes a list of texts, not one string")
        return list(self.texts_to_sequences_generator(texts))

    def sequences_to_texts(self, sequences: Iterable[Iterable[int]]) -> list[str]:
        joiner = "" if self.char_level else " "
        texts = []
        for sequence in sequences:
            ids = (self._kept(int(i) if int(i) in self.index_word else None) for i in sequence)
            texts.append(joiner.join(self.index_word[i] for i in ids if i is not None))
        return texts

    def get_config(self) -> dict:
        return {"num_words": self.num_words, "filters": self.filters, "lower": self.lower, "split": self.split,
                "char_level": self.char_level, "oov_token": self.oov_token, "document_count": self.document_count,
                "word_counts": json.dumps(self.word_counts), "word_docs": json.dumps(self.word_docs),
                "word_index": json.dumps(self.word_index), "index_word": json.dumps(self.index_word)}

    def to_json(self, **json_kwargs) -> str:
        return json.dumps({"class_name": "Tokenizer", "config": self.get_config()}, **json_kwargs)


def tokenizer_from_json(json_string: str) -> Tokenizer:
    """The Tokenizer that to_json wrote, with its counts and word index."""
    data = json.loads(json_string)
    if not isinstance(data, dict) or data.get("class_name") != "Tokenizer":
        raise ValueError("not a Tokenizer's JSON: expected an object with class_name 'Tokenizer'")
    config = dict(data["config"])
    tables = {key: json.loads(config.pop(key)) for key in ("word_counts", "word_docs", "word_index", "index_word")}
    document_count = config.pop("document_count")
    tokenizer = Tokenizer(**config)
    tokenizer.word_counts = OrderedDict(tables["word_counts"])
    tokenizer.word_docs = defaultdict(int, tables["word_docs"])
    tokenizer.word_index = tables["word_index"]
    tokenizer.index_word = {int(k): v for k, v in tables["index_word"].items()}
    tokenizer.document_count = document_count
    return tokenizer
