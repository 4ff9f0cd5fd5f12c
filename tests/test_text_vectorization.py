"""TextVectorization: every standardize, split, ngrams and output mode on texts small enough to work out
by hand (each expectation says how), the vocabulary's order and ties, adapt on a dataset, a model
that starts from raw strings, saved and loaded, and the numpy path for whole words (8-byte keys, a hash
table) against the per-word split."""
import collections
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_embed.data import Dataset
from tinygrad_embed.layers import Dense, Embedding, GlobalAveragePooling1D, Input, TextVectorization
from tinygrad_embed.models import Model, Sequential, load_model

TEXTS = ["The cat sat.", "the dog, the cat!", "a b"]
# counts after lower + strip: the 3, cat 2, then sat dog a b once each; ties go high to low: sat dog b a
VOCAB = ["", "[UNK]", "the", "cat", "sat", "dog", "b", "a"]


def adapted(texts=TEXTS, **kwargs):
    layer = TextVectorization(**kwargs)
    layer.adapt(texts)
    return layer


def test_vocabulary_by_count_then_ties_high_to_low():
    layer = adapted()
    assert layer.get_vocabulary() == VOCAB
    assert layer.get_vocabulary(include_special_tokens=False) == VOCAB[2:]
    assert layer.vocabulary_size() == 8


def test_max_tokens_keeps_the_most_frequent_with_the_special_tokens():
    assert adapted(max_tokens=4).get_vocabulary() == ["", "[UNK]", "the", "cat"]
    assert adapted(max_tokens=5).get_vocabulary() == VOCAB[:5]  # the cut falls among the ties: "sat" ranks first


def test_int_mode_pads_to_the_longest_text_and_maps_unknown_words_to_1():
    ids = adapted()(["the cat ate", "dog"]).data
    np.testing.assert_array_equal(ids, [[2, 3, 1], [5, 0, 0]])  # "ate" is not in VOCAB: 1
    assert ids.dtype == np.int64


def test_output_sequence_length_pads_and_truncates_at_the_end():
    ids = adapted(output_sequence_length=2)(["the cat sat the", "b"]).data
    np.testing.assert_array_equal(ids, [[2, 3], [6, 0]])


def test_standardize_by_hand():
    texts = ["ÉCOLE! A.b"]
    assert adapted(texts).tokens(texts) == [["École", "ab"]]
    assert adapted(texts, standardize="lower").tokens(texts) == [["École!", "a.b"]]
    assert adapted(texts, standardize="strip_punctuation").tokens(texts) == [["ÉCOLE", "Ab"]]
    assert adapted(texts, standardize=None).tokens(texts) == [["ÉCOLE!", "A.b"]]
    upper = adapted(texts, standardize=lambda t: np.char.upper(t.astype(str)))  # callables get numpy strings
    assert upper.tokens(texts) == [["ÉCOLE!", "A.B"]]


def test_split_options():
    texts = [" ab  c\td "]
    assert adapted(texts).tokens(texts) == [["ab", "c", "d"]]  # runs of whitespace are one break
    assert adapted(texts, split="character").tokens(["ab c"]) == [["a", "b", " ", "c"]]
    assert adapted(texts, split=None).tokens(["ab c"]) == [["ab c"]]
    by_comma = adapted(["x,y"], standardize=None, split=lambda t: [s.split(",") for s in t])
    assert by_comma.tokens(["x,y"]) == [["x", "y"]]


def test_words_of_8_and_9_bytes_and_a_zero_byte():
    # whole words are read 8 UTF-8 bytes at a time as integers: 8 bytes, 9 bytes and "é" (2 bytes) around the edge
    texts = ["abcdefgh abcdefghi abcdefgh", "abcdefé abcdefgé"]  # abcdefé is 8 bytes, abcdefgé 9
    layer = adapted(texts, standardize=None)
    # abcdefgh twice, then the ties high to low: "é" (U+E9) sorts after "g" and "h"
    assert layer.get_vocabulary() == ["", "[UNK]", "abcdefgh", "abcdefé", "abcdefgé", "abcdefghi"]
    np.testing.assert_array_equal(layer(texts + ["abcdefg abcdefghij"]).data, [[2, 5, 2], [3, 4, 0], [1, 1, 0]])
    # "a" and "a\x00" would have the same key: texts with a zero byte take the per-word path
    zero = adapted(["a\x00 a a"], standardize=None)
    assert zero.get_vocabulary() == ["", "[UNK]", "a", "a\x00"]
    np.testing.assert_array_equal(zero(["a\x00 a b"]).data, [[3, 2, 1]])


def test_a_large_vocabulary_finds_every_word_and_no_other():
    words = [f"w{i}" for i in range(5000)] + [f"longword{i}" for i in range(100)]  # > 8 bytes: the dict
    layer = TextVectorization(vocabulary=words)
    queries = [" ".join(words), " ".join(f"x{i}" for i in range(5000))]
    ids = layer(queries).data
    np.testing.assert_array_equal(ids[0], np.arange(2, 5102))  # word i of the list has id i + 2
    np.testing.assert_array_equal(ids[1, :5000], 1)  # none known


# words of 1 to 5 characters of 1 to 4 UTF-8 bytes each, so 1 to 20 bytes, around the 8-byte boundary
WORD = st.text(st.sampled_from("abAB.é€😀\x1c\xa0\x00"), min_size=1, max_size=5)
TEXT = st.lists(st.tuples(WORD, st.sampled_from([" ", "  ", "\t", "\n", "\r\n", "\x0b", "\x0c"])), max_size=8)


@given(st.lists(TEXT.map(lambda pairs: "".join(w + gap for w, gap in pairs)), min_size=1, max_size=6),
       st.sampled_from(["lower_and_strip_punctuation", None]), st.sampled_from([None, 3]))
def test_whole_words_agree_with_the_per_word_split(texts, standardize, length):
    layer = adapted(texts, standardize=standardize, output_sequence_length=length)
    rows = layer.tokens(texts)  # Python's split of each text, the reference
    counts = collections.Counter(word for row in rows for word in row)
    expected_vocabulary = ["", "[UNK]"] + sorted(counts, key=lambda w: (counts[w], w), reverse=True)
    assert layer.get_vocabulary() == expected_vocabulary
    index = {word: i for i, word in enumerate(expected_vocabulary)}
    width = length or max(map(len, rows))
    expected = [[index[w] for w in row[:width]] + [0] * (width - len(row[:width])) for row in rows]
    np.testing.assert_array_equal(layer(texts).data.reshape(len(texts), width), expected)
    known = expected_vocabulary[3:] + ["\x01"]  # all but the most frequent word, and one never drawn
    bag = TextVectorization(output_mode="count", standardize=standardize, vocabulary=known)
    counted = [[sum(w not in known for w in row)] + [row.count(w) for w in known] for row in rows]  # 0: unknown
    np.testing.assert_array_equal(bag(texts).data, counted)


def test_ngrams_int_means_every_width_up_to_it_and_a_tuple_exactly_those():
    texts = ["a b c"]
    assert adapted(texts, ngrams=2).tokens(texts) == [["a", "b", "c", "a b", "b c"]]
    assert adapted(texts, ngrams=(2, 3)).tokens(texts) == [["a b", "b c", "a b c"]]
    assert adapted(["a"], ngrams=(2,)).tokens(["a"]) == [[]]  # shorter than the width: no n-gram


def test_multi_hot_count_and_tf_idf_with_a_given_vocabulary():
    texts = ["the the dog"]
    hot = TextVectorization(output_mode="multi_hot", vocabulary=["the", "cat"])
    assert hot.get_vocabulary() == ["[UNK]", "the", "cat"]  # no padding id outside int mode
    np.testing.assert_array_equal(hot(texts).data, [[1, 1, 0]])  # dog is unknown: column 0
    count = TextVectorization(output_mode="count", vocabulary=["the", "cat"])
    np.testing.assert_array_equal(count(texts).data, [[1, 2, 0]])
    tf_idf = TextVectorization(output_mode="tf_idf", vocabulary=["the", "cat"], idf_weights=[0.5, 2.0])
    # [UNK]'s weight is the mean of the given ones, 1.25: counts [1, 2, 0] times [1.25, 0.5, 2.0]
    np.testing.assert_allclose(tf_idf(texts).data, [[1.25, 1.0, 0.0]])


def test_tf_idf_weights_from_adapt():
    layer = adapted(["a a b", "a"], output_mode="tf_idf")
    assert layer.get_vocabulary() == ["[UNK]", "a", "b"]
    idf_a, idf_b = math.log(1 + 2 / 3), math.log(1 + 2 / 2)  # log(1 + documents / (1 + documents with it))
    expected = [[(idf_a + idf_b) / 2 * 1, idf_a * 1, idf_b * 2]]  # "zz a b b": one unknown, one a, two b
    np.testing.assert_allclose(layer(["zz a b b"]).data, expected, rtol=1e-6)


def test_pad_to_max_tokens_widens_the_matrix():
    layer = adapted(["a b"], output_mode="multi_hot", max_tokens=5, pad_to_max_tokens=True)
    np.testing.assert_array_equal(layer(["b"]).data, [[0, 1, 0, 0, 0]])  # vocab [UNK] b a; 5 columns


def test_inputs_of_shape_n_by_1_and_bytes():
    layer = adapted()
    expected = layer(["the cat", "dog"]).data
    np.testing.assert_array_equal(layer(np.array([[b"the cat"], [b"dog"]], dtype=object)).data, expected)
    with pytest.raises(ValueError, match="shape"):
        layer(np.array([["a", "b"]]))


def test_set_vocabulary_rules():
    layer = TextVectorization(max_tokens=4)
    layer.set_vocabulary(["", "[UNK]", "x", "y"])  # the special tokens may be given first
    assert layer.get_vocabulary() == ["", "[UNK]", "x", "y"]
    with pytest.raises(ValueError, match="repeats"):
        layer.set_vocabulary(["x", "x"])
    with pytest.raises(ValueError, match="max_tokens"):
        layer.set_vocabulary(["x", "y", "z"])
    with pytest.raises(ValueError, match="idf_weights"):
        TextVectorization(output_mode="tf_idf", vocabulary=["x"])
    with pytest.raises(ValueError, match="output_mode"):
        TextVectorization(output_mode="binary")
    with pytest.raises(ValueError, match="no vocabulary"):
        TextVectorization()(["a"])


def test_adapt_on_a_dataset_of_text_label_batches_equals_adapt_on_the_texts():
    labels = np.array([0, 1, 0])
    dataset = Dataset.from_tensor_slices((np.array(TEXTS), labels)).batch(2)
    layer = TextVectorization()
    layer.adapt(dataset.map(lambda x, y: x))
    assert layer.get_vocabulary() == VOCAB
    layer.adapt(dataset.map(lambda x, y: x), steps=1)  # the first batch only: the cat sat / the dog the cat
    assert layer.get_vocabulary() == ["", "[UNK]", "the", "cat", "sat", "dog"]
    with pytest.raises(TypeError, match="map"):
        layer.adapt(dataset)


def test_config_round_trip_keeps_the_vocabulary_and_the_layer_has_no_weights():
    layer = adapted(output_sequence_length=3, ngrams=2)
    clone = TextVectorization.from_config(layer.get_config())
    assert clone.get_vocabulary() == layer.get_vocabulary() and clone.weights == []
    np.testing.assert_array_equal(clone(["the cat sat"]).data, layer(["the cat sat"]).data)


def text_model(vectorize, inputs):
    x = Embedding(vectorize.vocabulary_size(), 4)(vectorize(inputs))
    return Model(inputs, Dense(1)(GlobalAveragePooling1D()(x)))


@pytest.mark.parametrize("shape", [(1,), ()])
def test_a_model_on_raw_strings_saved_and_loaded_predicts_the_same(tmp_path, shape):
    model = text_model(adapted(output_sequence_length=4), Input(shape=shape, dtype="string"))
    texts = ["a great movie", "the cat sat on the dog"]
    before = model.predict(texts)  # (n,) texts fit an Input of shape (1,) as in Keras, and (n, 1) one of shape ()
    np.testing.assert_array_equal(model.predict(np.array(texts)[:, None]), before)
    model.save(tmp_path / "text.npz")
    loaded = load_model(tmp_path / "text.npz")
    np.testing.assert_array_equal(loaded.predict(texts), before)
    assert loaded.layers[1].get_vocabulary() == VOCAB


def test_sequential_starting_with_the_layer_trains_on_strings():
    vectorize = adapted(output_sequence_length=3)
    model = Sequential([vectorize, Embedding(8, 3), GlobalAveragePooling1D(), Dense(1)])
    model.compile("adam", "mse")
    before = [w.copy() for w in model.get_weights()]
    model.fit(np.array(TEXTS), np.array([1.0, 0.0, 1.0]), epochs=2, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    with pytest.raises(TypeError, match="TextVectorization"):
        text_model(adapted(), Input(shape=(3,))).predict(np.zeros((2, 3)))
