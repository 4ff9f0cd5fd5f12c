"""TextVectorization: strings in, token ids (or one row of counts per text) out, Keras 3's layer on
numpy and Python's bytes methods. Keras's needs TensorFlow's string ops; this module never imports it.

A text goes through standardize (lower case, strip punctuation), split (into words or characters),
ngrams (joined by a space), then a lookup in the vocabulary that adapt() learned: in "int" mode ids with
0 for padding and 1 for "[UNK]", in the other modes a (batch, vocabulary size) matrix. The text work is
plain numpy in preprocessing/tokens.py and preprocessing/vocabulary.py; this layer holds Keras's
arguments and the vocabulary, and hands the ids to the model as a Tensor.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from ..helpers import positive_int
from ..preprocessing.texts import check_texts, text_array
from ..preprocessing.tokens import (STANDARDIZE, as_numpy, ngrams, standardized, token_rows, unicode,
                                    word_spans)
from ..preprocessing.vocabulary import (MASK, OOV, TokenCounts, Vocabulary, bag, given_vocabulary, padded)
from ..tensor import Tensor
from .base import Layer
from .symbolic import KerasTensor

OUTPUT_MODES = ("int", "multi_hot", "count", "tf_idf")


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
        self._special = [MASK, OOV] if output_mode == "int" else [OOV]  # Keras: no padding id outside int mode
        self.max_tokens = None if max_tokens is None else self._checked_max_tokens(max_tokens, output_mode)
        self.standardize, self.split, self.output_mode = standardize, split, output_mode
        self.ngrams = self._ngram_widths(ngrams)
        self.output_sequence_length = (None if output_sequence_length is None
                                       else positive_int(output_sequence_length, "output_sequence_length"))
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self._set([], None)
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
        elif idf_weights is not None:
            raise ValueError("idf_weights were given without a vocabulary")
        self.built = True

    def _checked_max_tokens(self, value: Any, output_mode: str) -> int:
        """max_tokens, room for the special tokens and one word: Keras refuses below 2, and in "int" mode
        fails at adapt with 2 (no room for a word); this layer refuses that at construction too."""
        needed = len(self._special) + 1
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value < needed:
            raise ValueError(f"max_tokens must be at least {needed} with output_mode={output_mode!r}, room for the "
                             f"special tokens {self._special} and one word, got max_tokens={value}")
        return positive_int(value, "max_tokens")

    @staticmethod
    def _ngram_widths(value: Any) -> tuple[int, ...] | None:
        """The ngrams argument as the widths to make: None, or a tuple of positive integers."""
        if value is None:
            return None
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return tuple(range(1, positive_int(value, "ngrams") + 1))  # Keras: ngrams=2 means 1- and 2-grams
        if isinstance(value, (tuple, list)) and value:
            return tuple(positive_int(w, "each ngrams width") for w in value)
        raise ValueError(f"ngrams must be None, an integer or a tuple of integers, got {value!r}")

    # ---- text to tokens ---------------------------------------------------------------------------
    @property
    def _whole_words(self) -> bool:
        """Words split at whitespace and no ngrams: the case that numpy handles as spans of one buffer."""
        return self.split == "whitespace" and self.ngrams is None

    def tokens(self, data: Any) -> list[list[str]]:
        """Each text's tokens after standardize, split and ngrams: what the vocabulary is looked up with."""
        return token_rows(standardized(data, self.standardize), self.split, self.ngrams)

    # ---- vocabulary -------------------------------------------------------------------------------
    def adapt(self, data: Any, batch_size: int | None = None, steps: int | None = None) -> None:
        """Learn the vocabulary: tokens by count, high to low, ties by token, high to low (Keras's order).
        data: strings (list or array) or an iterable of batches of strings (a dataset); batch_size
        changes nothing here (the counts are the same), steps caps the batches read."""
        whole = isinstance(data, (list, tuple, np.ndarray, str, bytes))
        counts, tf_idf = TokenCounts(), self.output_mode == "tf_idf"
        for step, batch in enumerate([data] if whole else data):
            if steps is not None and step >= steps:
                break
            if isinstance(batch, tuple):
                raise TypeError("adapt needs batches of strings, got (x, y) pairs: adapt on ds.map(lambda x, y: x)")
            what = "TextVectorization.adapt" + ("" if whole else f" (batch {step})")
            texts = standardized(batch, self.standardize, what)
            spans = word_spans(texts) if self._whole_words and not tf_idf else None  # tf-idf counts documents
            if spans is not None:
                counts.add_spans(spans)
            else:
                counts.add_rows(token_rows(texts, self.split, self.ngrams), documents=tf_idf)
        if counts.texts == 0:
            raise ValueError("adapt got no text: the data is empty")
        limit = None if self.max_tokens is None else max(self.max_tokens - len(self._special), 0)
        learned = counts.learned(limit)
        self._set(self._special + learned, counts.idf(learned) if tf_idf else None)

    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        """Use these tokens (a list, an array or a file with one per line); the special tokens ("" and
        "[UNK]" in int mode, "[UNK]" otherwise) are added first unless the list starts with them."""
        if (idf_weights is None) == (self.output_mode == "tf_idf"):
            raise ValueError("idf_weights are needed for output_mode='tf_idf' and only then, got "
                             f"idf_weights={'None' if idf_weights is None else 'an array'} with "
                             f"output_mode={self.output_mode!r}")
        self._set(*given_vocabulary(vocabulary, idf_weights, self._special, self.max_tokens))

    def _set(self, tokens: list[str], idf: np.ndarray | None) -> None:
        """Hold this vocabulary (and idf weights) as the layer's state."""
        self._vocabulary, self._idf = Vocabulary(tokens, unknown=self._special.index(OOV)), idf

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[str]:
        """The tokens in id order, with or without the special ones first."""
        return list(self._vocabulary.tokens[0 if include_special_tokens else len(self._special):])

    def vocabulary_size(self) -> int:
        """The number of ids the layer outputs, special tokens included (an Embedding's input_dim)."""
        return len(self._vocabulary.tokens)

    # ---- the call ---------------------------------------------------------------------------------
    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """The layer's call on texts; a list is checked as it is given, since numpy would turn the 1.5 in
        ["a", 1.5] into the word "1.5" before call saw it."""
        if isinstance(inputs, (list, tuple)) and not any(isinstance(t, KerasTensor) for t in inputs):
            inputs = text_array(inputs, "TextVectorization")
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs: Any) -> Tensor:
        """The texts' ids padded in rows ("int" mode), or one row of counts per text."""
        if not self._vocabulary.tokens:
            raise ValueError(f"TextVectorization {self.name!r} has no vocabulary yet: call adapt(texts) or "
                             "set_vocabulary(tokens) first, or give vocabulary=")
        array = np.asarray(as_numpy(inputs))
        check_texts(array, "TextVectorization")  # here, where an element's index is still in the input's shape
        if self.split is None or array.ndim == 0:
            return Tensor(self._keras_shaped(array))
        return Tensor(self._rows_out(*self._flat_ids(array)))

    def _rows_out(self, ids: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        """One output row per text: ids padded ("int" mode), or counts over the vocabulary."""
        if self.output_mode == "int":
            return padded(ids, sizes, self.output_sequence_length)
        depth = self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()
        return bag(ids, sizes, depth, self.output_mode, self._idf)

    def _keras_shaped(self, array: np.ndarray) -> np.ndarray:
        """Keras's shapes for one string, and for any input with split=None (then the last axis holds
        one sample's tokens): the output drops the axes that the input lacks."""
        if self.split is not None:  # one text: one row, as for a batch of one, without its batch axis
            return self._rows_out(*self._flat_ids(array.reshape(1)))[0]
        if array.ndim > 2:
            raise ValueError(f"TextVectorization with split=None takes strings of shape (), (n,) or (n, k), "
                             f"got shape {array.shape}")
        if array.ndim == 0 and self.output_mode == "int" and self.output_sequence_length is not None:
            raise ValueError("TextVectorization with split=None cannot pad one string (a scalar) to "
                             f"output_sequence_length={self.output_sequence_length}: give shape (1,) or (n, 1)")
        tokens = [unicode(t) for t in standardized(array.reshape(-1), self.standardize)]
        width = array.shape[-1] if array.ndim == 2 else len(tokens)
        rows = [tokens[i * width:(i + 1) * width] for i in range(len(array) if array.ndim == 2 else 1)]
        rows = rows if self.ngrams is None else [ngrams(row, self.ngrams) for row in rows]
        length = self.output_sequence_length
        out = self._rows_out(*self._vocabulary.row_ids([r[:length] for r in rows] if length else rows))
        if array.ndim == 0 and self.output_mode == "int":
            return out[0, 0]  # Keras's lookup gives a scalar id for a scalar
        return out if array.ndim == 2 else out[0]

    def _flat_ids(self, inputs: Any) -> tuple[np.ndarray, np.ndarray]:
        """Every token's id, text after text (each cut to output_sequence_length), and how many each text has."""
        texts, length = standardized(inputs, self.standardize), self.output_sequence_length
        spans = word_spans(texts) if self._whole_words else None
        if spans is not None:
            return self._vocabulary.span_ids(spans if length is None else spans.cut(length))
        rows = token_rows(texts, self.split, self.ngrams)
        return self._vocabulary.row_ids([row[:length] for row in rows] if length is not None else rows)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """(batch, output_sequence_length) in "int" mode, else (batch, the number of columns)."""
        if self.output_mode == "int":
            unsplit = self.split is None and len(input_shape) == 2  # (batch, tokens per sample)
            return (input_shape[0], self.output_sequence_length or (input_shape[1] if unsplit else None))
        return (input_shape[0], self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size())

    def check_inputs(self, texts: Iterable[Any]) -> None:
        """Refuse anything but texts before a model runs: this layer reads strings."""
        check_texts(np.asarray(texts), "TextVectorization")

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments with the current vocabulary (and idf weights): a saved model keeps them."""
        config = super().get_config()
        config.update(vocabulary=self.get_vocabulary() or None,
                      idf_weights=None if self._idf is None else self._idf.tolist())
        return config
