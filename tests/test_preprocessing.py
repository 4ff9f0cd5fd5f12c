"""Tokenizer, hashing_trick, one_hot and pad_sequences against their documented Keras semantics."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_embed.preprocessing.sequence import pad_sequences
from tinygrad_embed.preprocessing.text import (Tokenizer, hashing_trick, one_hot, text_to_word_sequence,
                                               tokenizer_from_json)
from tinygrad_embed.utils import to_categorical

words = st.sampled_from(["the", "cat", "sat", "on", "mat", "dog", "ran", "a", "fast", "red"])
texts = st.lists(st.lists(words, min_size=0, max_size=8).map(" ".join), min_size=1, max_size=6)


@given(texts)
def test_ids_follow_frequency_with_ties_in_first_seen_order(corpus):
    tokenizer = Tokenizer()
    tokenizer.fit_on_texts(corpus)
    seen = []
    for word in " ".join(corpus).split():
        if word not in seen:
            seen.append(word)
    counts = {w: sum(t.split().count(w) for t in corpus) for w in seen}
    expected = sorted(seen, key=lambda w: (-counts[w], seen.index(w)))
    assert list(tokenizer.word_index) == expected
    assert list(tokenizer.word_index.values()) == list(range(1, len(expected) + 1))
    assert tokenizer.index_word == {i: w for w, i in tokenizer.word_index.items()}


@given(texts, st.integers(1, 12))
def test_only_ids_below_num_words_are_emitted(corpus, num_words):
    tokenizer = Tokenizer(num_words)
    tokenizer.fit_on_texts(corpus)
    sequences = tokenizer.texts_to_sequences(corpus)
    for text, sequence in zip(corpus, sequences):
        assert sequence == [tokenizer.word_index[w] for w in text.split() if tokenizer.word_index[w] < num_words]


@given(texts, st.integers(2, 12))
def test_oov_token_takes_id_one_and_replaces_dropped_words(corpus, num_words):
    tokenizer = Tokenizer(num_words, oov_token="<unk>")
    tokenizer.fit_on_texts(corpus)
    assert tokenizer.word_index["<unk>"] == 1
    for text, sequence in zip(corpus + ["zebra cat"], tokenizer.texts_to_sequences(corpus + ["zebra cat"])):
        assert len(sequence) == len(text.split())
        assert all(0 < i < num_words for i in sequence)


def test_filters_lowercase_and_split_as_keras():
    assert text_to_word_sequence("Hello, World!  It's\tnice.") == ["hello", "world", "it's", "nice"]
    tokenizer = Tokenizer(char_level=True)
    tokenizer.fit_on_texts(["abba"])
    assert tokenizer.word_index == {"a": 1, "b": 2}


@given(texts)
def test_json_round_trip_and_sequences_to_texts(corpus):
    tokenizer = Tokenizer(oov_token="?")
    tokenizer.fit_on_texts(corpus)
    restored = tokenizer_from_json(tokenizer.to_json())
    assert restored.word_index == tokenizer.word_index and restored.word_counts == tokenizer.word_counts
    assert restored.texts_to_sequences(corpus) == tokenizer.texts_to_sequences(corpus)
    assert tokenizer.sequences_to_texts(tokenizer.texts_to_sequences(corpus)) == [" ".join(t.split()) for t in corpus]


def test_tokenizer_refuses_a_bare_string_and_bad_num_words():
    with pytest.raises(TypeError, match="list of texts"):
        Tokenizer().fit_on_texts("one text")
    with pytest.raises(ValueError, match="num_words"):
        Tokenizer(0)


sequence_lists = st.lists(st.lists(st.integers(1, 99), max_size=9), min_size=1, max_size=6)


@given(sequence_lists, st.one_of(st.none(), st.integers(1, 10)), st.sampled_from(["pre", "post"]),
       st.sampled_from(["pre", "post"]), st.integers(-1, 0))
def test_pad_sequences_semantics(sequences, maxlen, padding, truncating, value):
    out = pad_sequences(sequences, maxlen=maxlen, padding=padding, truncating=truncating, value=value)
    width = maxlen if maxlen is not None else max(len(s) for s in sequences)
    assert out.shape == (len(sequences), width) and out.dtype == np.int32
    for row, s in zip(out, sequences):
        kept = (s[-width:] if truncating == "pre" else s[:width]) if width else []
        fill = [value] * (width - len(kept))
        assert row.tolist() == (fill + kept if padding == "pre" else kept + fill)


@pytest.mark.parametrize("kwargs, match", [({"padding": "middle"}, "padding"), ({"truncating": "both"}, "truncating"),
                                           ({"maxlen": 0}, "maxlen"), ({"maxlen": -3}, "maxlen")])
def test_pad_sequences_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pad_sequences([[1, 2]], **kwargs)


def test_to_categorical():
    np.testing.assert_array_equal(to_categorical([[1], [0], [2]]), np.eye(3)[[1, 0, 2]])
    assert to_categorical([1, 0], num_classes=4).shape == (2, 4)
    with pytest.raises(ValueError, match="class label 5"):
        to_categorical([5], num_classes=3)


def test_hashing_trick_md5_ids_match_the_hand_computed_digests():
    # With n = 16 the id is md5 % 15 + 1, and since 16 = 1 (mod 15) md5 % 15 is its hex digits' sum % 15:
    # "the" 8fc42c6ddf9966db3b09e84365034357 sums to 239 -> 239 % 15 + 1 = 15
    # "cat" d077f244def8a70e5ea758bd8352fcd8 sums to 272 -> 272 % 15 + 1 = 3
    # "sat" 53e8254b3222a33f42b5a6b3d156056c sums to 192 -> 192 % 15 + 1 = 13
    assert hashing_trick("The cat sat, the CAT!", 16, hash_function="md5") == [15, 3, 13, 15, 3]


@given(texts, st.integers(2, 40))
def test_one_hot_is_hashing_trick_with_pythons_hash_in_1_to_n_minus_1(corpus, n):
    for text in corpus:
        ids = one_hot(text, n)
        assert ids == hashing_trick(text, n) == [hash(w) % (n - 1) + 1 for w in text.split()]
        assert all(1 <= i <= n - 1 for i in ids)


def test_hashing_trick_takes_a_hash_function_an_analyzer_and_the_text_options():
    assert hashing_trick("a bb ccc", 10, hash_function=len) == [2, 3, 4]  # len % 9 + 1
    assert hashing_trick("x-yy", 10, hash_function=len, analyzer=lambda t: t.split("-")) == [2, 3]
    assert hashing_trick("AB;c", 10, hash_function=len, filters="", lower=False, split=";") == [3, 2]


@pytest.mark.parametrize("n, hash_function, error, match", [
    (1, None, ValueError, "n must be at least 2.*got 1"), (0, None, ValueError, "n must be at least 1, got 0"),
    (5.0, None, TypeError, "n must be an integer, got 5.0"),
    (5, "sha1", ValueError, "hash_function must be None, \"md5\" or a function of a word, got 'sha1'")])
def test_hashing_trick_refuses_bad_arguments(n, hash_function, error, match):
    with pytest.raises(error, match=match):
        hashing_trick("some text", n, hash_function=hash_function)


def test_text_functions_refuse_a_non_string():
    with pytest.raises(TypeError, match="works on a string, got list"):
        one_hot(["already", "split"], 10)
