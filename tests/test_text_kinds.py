"""Issue 30, "text inputs are refused by kind, not stringified": TextVectorization (call, adapt,
set_vocabulary, fit), Tokenizer and the text functions take str and bytes (and arrays and lists of them)
and refuse a number, a bool, None or NaN with a TypeError naming the first bad element and where it is;
bytes that are not UTF-8 stay words of their own (Python's surrogateescape), never one replacement
character shared by two different words."""
import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_embed.layers import Dense, Embedding, GlobalAveragePooling1D, TextVectorization
from tinygrad_embed.models import Sequential, load_model
from tinygrad_embed.preprocessing.text import Tokenizer, hashing_trick, text_to_word_sequence

WORDS = st.text(alphabet="abcdefgh ", max_size=12)
NOT_TEXTS = [None, math.nan, np.nan, np.float32("nan"), 0, 7, -3, 1.5, np.int64(4), np.float64(2.5), True, False,
             np.bool_(True), 3 + 1j]


def refused_at(error, bad, index):
    """The refusal names the bad element (its repr and type) and its index."""
    message = str(error.value)
    assert f"got {bad!r:.60} of type {type(bad).__name__}" in message, message
    assert re.search(rf"at index {re.escape(str(index))}(\D|$)", message), message


texts_with_one_bad = st.tuples(st.lists(WORDS, max_size=6), st.sampled_from(NOT_TEXTS), st.integers(0, 6))


def with_bad(texts, bad, where):
    where = min(where, len(texts))
    return texts[:where] + [bad] + texts[where:], where


@given(texts_with_one_bad, st.booleans())
def test_text_vectorization_refuses_each_kind_at_its_index_in_call_and_adapt(case, as_array):
    texts, where = with_bad(*case)
    data = np.array(texts, dtype=object) if as_array else texts
    layer = TextVectorization()
    with pytest.raises(TypeError) as error:
        layer.adapt(data)
    refused_at(error, texts[where], where)
    assert layer.get_vocabulary() == []  # nothing was learned from the good texts before it either
    layer = TextVectorization(vocabulary=["a", "none", "nan", "1.5", "true", "7"])
    with pytest.raises(TypeError) as error:
        layer(data)
    refused_at(error, texts[where], where)


@pytest.mark.parametrize("mode", ["int", "multi_hot", "count", "tf_idf"])
@pytest.mark.parametrize("split", ["whitespace", "character", None])
def test_every_mode_and_split_refuses_none_and_nan(mode, split):
    idf = [1.0] if mode == "tf_idf" else None
    layer = TextVectorization(output_mode=mode, split=split, vocabulary=["none"], idf_weights=idf)
    for bad in (None, math.nan):
        with pytest.raises(TypeError, match="at index 1"):
            layer(["none", bad])
        with pytest.raises(TypeError, match=r"at index \(1, 0\)"):
            layer(np.array([["none"], [bad]], dtype=object))
        with pytest.raises(TypeError, match="at index 0"):
            TextVectorization(output_mode=mode, split=split).adapt([bad, "none"])


def test_numpy_does_not_get_to_stringify_a_list_first():
    """np.asarray(["a", 1.5]) is the str array ['a', '1.5']: the layer checks the list as given."""
    layer = TextVectorization(vocabulary=["a", "1.5", "nan", "true"])
    for bad in (1.5, math.nan, True):
        with pytest.raises(TypeError, match="at index 1"):
            layer(["a", bad])
        with pytest.raises(TypeError, match="at index 1"):
            layer.adapt(["a", bad])


def test_adapt_on_batches_names_the_batch_and_set_vocabulary_refuses_too():
    layer = TextVectorization()
    with pytest.raises(TypeError, match=r"adapt \(batch 1\) takes texts.*None.*at index 2"):
        layer.adapt(iter([np.array(["a", "b"], object), np.array(["c", "d", None], object)]))
    with pytest.raises(TypeError, match="set_vocabulary takes texts.*nan.*at index 1"):
        layer.set_vocabulary(["a", math.nan])
    with pytest.raises(TypeError, match="standardize callable's result.*None"):
        TextVectorization(standardize=lambda texts: [None] * len(texts)).adapt(["a"])
    with pytest.raises(TypeError, match="split callable's result.*3"):
        TextVectorization(split=lambda texts: [[3]] * len(texts)).adapt(["a"])


@pytest.mark.parametrize("dtype", [np.int64, np.float32, np.bool_])
def test_arrays_of_numbers_are_refused_whole(dtype):
    with pytest.raises(TypeError, match=f"of type {np.dtype(dtype).type.__name__} at index 0"):
        TextVectorization().adapt(np.ones(3, dtype))


def test_a_model_starting_with_the_layer_refuses_none_before_training():
    layer = TextVectorization(output_sequence_length=3)
    layer.adapt(["good film", "bad film"])
    model = Sequential([layer, Embedding(layer.vocabulary_size(), 2), GlobalAveragePooling1D(), Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    x = np.array(["good film", None, "bad"], dtype=object)  # a pandas column with a missing review
    with pytest.raises(TypeError, match="None of type NoneType at index 1"):
        model.fit(x, np.zeros(3), epochs=1, verbose=0)
    with pytest.raises(TypeError, match="nan of type float at index 2"):
        model.predict(np.array(["good", "film", math.nan], dtype=object), verbose=0)


@pytest.mark.parametrize("bad, index", [(math.nan, 1), (1.5, 2), (True, 0), (None, 1)])
def test_fit_and_predict_on_a_python_list_refuse_numbers_among_the_texts(bad, index):
    """A list goes to fit as given, so numpy never writes NaN as the word "nan" (nor 1.5 as "1.5")."""
    layer = TextVectorization(output_sequence_length=3)
    layer.adapt(["good film", "bad film"])
    model = Sequential([layer, Embedding(layer.vocabulary_size(), 2), GlobalAveragePooling1D(), Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    texts = ["good film", "bad", "film"]
    texts[index] = bad
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(TypeError, match=f"of type {type(bad).__name__} at index {index}"):
        model.fit(texts, [0.0, 1.0, 0.0], epochs=1, verbose=0)
    with pytest.raises(TypeError, match=f"of type {type(bad).__name__} at index {index}"):
        model.predict(texts, verbose=0)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert model.predict(["good film", "bad", "film"], verbose=0).shape == (3, 1)


@given(st.lists(st.binary(max_size=6), min_size=1, max_size=8))
def test_bytes_that_are_not_utf8_stay_distinct_words(words):
    """Two different byte strings are two different words, whatever their bytes, in adapt and in call."""
    layer = TextVectorization(standardize=None, split=None)
    layer.adapt(np.array(words, dtype=object))
    distinct = {w for w in words if w}
    assert len(layer.get_vocabulary(include_special_tokens=False)) == len(distinct)
    ids = layer(np.array(words, dtype=object)).data
    by_word = {}
    for word, i in zip(words, ids.tolist()):
        assert by_word.setdefault(word, i) == i
    assert len(set(by_word.values())) == len(by_word)


def test_latin_1_words_keep_their_bytes_in_the_whole_word_path():
    layer = TextVectorization()
    layer.adapt([b"caf\xe9 caf\xe8 caf\xe9", b"na\xefve"])
    vocabulary = layer.get_vocabulary()
    assert vocabulary[2] == "caf\udce9" and len(vocabulary) == 5  # "", [UNK], and three words
    assert vocabulary[2].encode("utf-8", "surrogateescape") == b"caf\xe9"  # the bytes come back as they were
    ids = layer([b"caf\xe8 caf\xe9 caf\xe7"]).data
    assert ids.tolist() == [[vocabulary.index("caf\udce8"), 2, 1]]  # \xe7 was never seen: [UNK]


def test_tokenizer_takes_str_and_bytes_and_refuses_the_rest_leaving_its_counts():
    tokenizer = Tokenizer()
    tokenizer.fit_on_texts([b"caf\xe9 film", np.str_("Film"), np.bytes_(b"caf\xe8")])
    assert list(tokenizer.word_index.items()) == [("film", 1), ("caf\udce9", 2), ("caf\udce8", 3)]
    assert tokenizer.texts_to_sequences([b"caf\xe8 film", "caf\udce9"]) == [[3, 1], [2]]
    for bad in NOT_TEXTS:
        with pytest.raises(TypeError) as error:
            tokenizer.fit_on_texts(["film", "more film", bad])
        refused_at(error, bad, 2)
        with pytest.raises(TypeError) as error:
            tokenizer.texts_to_sequences(np.array(["film", bad], dtype=object))
        refused_at(error, bad, 1)
    assert tokenizer.document_count == 3 and tokenizer.word_counts["film"] == 2  # the refused calls counted nothing


def test_text_functions_take_bytes_and_refuse_none():
    assert text_to_word_sequence(b"Caf\xc3\xa9, OK") == ["café", "ok"]
    assert hashing_trick(b"a b a", 7, "md5") == hashing_trick("a b a", 7, "md5")
    with pytest.raises(TypeError, match="got NoneType"):
        text_to_word_sequence(None)


# ---- max_tokens: Keras refuses below 2; "int" mode needs 3 (Keras accepts 2, then fails in adapt) ----------------
@pytest.mark.parametrize("mode, needed", [("int", 3), ("multi_hot", 2), ("count", 2), ("tf_idf", 2)])
@pytest.mark.parametrize("max_tokens", [-1, 0, 1, 2])
def test_max_tokens_below_what_the_mode_needs_is_refused_at_construction(mode, needed, max_tokens):
    if max_tokens >= needed:
        TextVectorization(max_tokens=max_tokens, output_mode=mode)
        return
    with pytest.raises(ValueError, match=f"max_tokens must be at least {needed} with output_mode='{mode}'.*"
                                         f"got max_tokens={max_tokens}"):
        TextVectorization(max_tokens=max_tokens, output_mode=mode)
    with pytest.raises(TypeError, match="max_tokens must be an integer"):
        TextVectorization(max_tokens=float(needed), output_mode=mode)


# recorded from Keras 3.15.1 on TensorFlow 2.21: adapt on "a b b c c c", then called on "a b c d"
@pytest.mark.parametrize("max_tokens, mode, vocabulary, out", [
    (2, "multi_hot", ["[UNK]", "c"], [[1, 1]]),
    (2, "count", ["[UNK]", "c"], [[3, 1]]),
    (2, "tf_idf", ["[UNK]", "c"], [[1.2163952589035034, 0.40546509623527527]]),
    (3, "int", ["", "[UNK]", "c"], [[1, 1, 2, 1]]),
    (3, "count", ["[UNK]", "c", "b"], [[2, 1, 1]]),
])
def test_the_smallest_max_tokens_keras_accepts_work_as_in_keras(max_tokens, mode, vocabulary, out):
    layer = TextVectorization(max_tokens=max_tokens, output_mode=mode)
    layer.adapt(["a b b c c c"])
    assert layer.get_vocabulary() == vocabulary
    np.testing.assert_allclose(layer(["a b c d"]).data, out, rtol=1e-6)


def test_a_model_on_latin_1_bytes_saved_and_loaded_keeps_the_words_apart(tmp_path):
    layer = TextVectorization(output_sequence_length=3)
    layer.adapt([b"caf\xe9 ok", b"caf\xe8"])
    model = Sequential([layer, Embedding(layer.vocabulary_size(), 2), GlobalAveragePooling1D(), Dense(1)])
    x = np.array([b"caf\xe9", b"caf\xe8 ok"], dtype=object)
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert loaded.layers[0].get_vocabulary() == ["", "[UNK]", "ok", "caf\udce9", "caf\udce8"]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), before)
