"""TextVectorization's output shapes for inputs of shape (), (n,) and (n, 1), in every output mode, as Keras 3
gives them. Keras's layer needs TensorFlow, so the expected shapes are written down here from its source
(keras/src/layers/preprocessing/text_vectorization.py, index_lookup.py, utils/numerical_utils.py):

- with a split, an input of rank 2 is squeezed to rank 1 (its last axis must be 1), then split: a scalar
  gives one 1-D row of tokens, a batch a ragged (n, None) one; the lookup keeps that rank, and the
  non-int modes count over the last axis, so a scalar gives (length,) or (depth,), a batch (n, ...).
- with split=None nothing is squeezed: the last axis holds one sample's tokens, so (n,) is ONE sample
  ((n,) ids, (depth,) counts), (n, 1) is n samples of one token; a scalar gives a scalar id in "int"
  mode (index_lookup downranks it back) and (depth,) in the others (numerical_utils upranks it).
"""
import numpy as np
import pytest

from tinygrad_embed.layers import TextVectorization

VOCABULARY = ["a", "b", "c"]
MODES = ["int", "multi_hot", "count", "tf_idf"]
DEPTH = 4  # "[UNK]" + 3 tokens outside "int" mode (no padding id there)


def layer(mode, split="whitespace", **kwargs):
    idf = {"idf_weights": [1.0, 2.0, 3.0]} if mode == "tf_idf" else {}
    return TextVectorization(output_mode=mode, split=split, vocabulary=VOCABULARY, **idf, **kwargs)


def values(tensor):
    return np.asarray(tensor.data)


# (input, split) -> expected shape per mode ("int" first), from Keras's rules above
SHAPES = [
    ("a b c", "whitespace", (3,), (DEPTH,)),
    (["a b", "c"], "whitespace", (2, 2), (2, DEPTH)),
    ([["a b"], ["c"]], "whitespace", (2, 2), (2, DEPTH)),
    ("a", None, (), (DEPTH,)),
    (["a", "b", "b"], None, (3,), (DEPTH,)),
    ([["a"], ["b"], ["b"]], None, (3, 1), (3, DEPTH)),
    ([["a", "b"], ["c", "a"]], None, (2, 2), (2, DEPTH)),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("data, split, int_shape, bag_shape", SHAPES)
def test_output_shapes_follow_keras(mode, data, split, int_shape, bag_shape):
    out = values(layer(mode, split)(np.array(data)))
    assert out.shape == (int_shape if mode == "int" else bag_shape)


@pytest.mark.parametrize("mode", MODES)
def test_one_string_is_the_row_of_a_batch_of_one(mode):
    tv = layer(mode)
    np.testing.assert_array_equal(values(tv("a short b line b")), values(tv(["a short b line b"]))[0])


def test_one_string_gives_a_sequence_of_ids_that_ngrams_can_walk():
    tv = TextVectorization(vocabulary=["the", "cat", "sat"])
    ids = values(tv("the cat sat"))
    assert ids.tolist() == [2, 3, 4]
    assert [ids[:i + 1].tolist() for i in range(1, len(ids))] == [[2, 3], [2, 3, 4]]  # the course lab's n-grams


def test_output_sequence_length_pads_one_string_to_one_row():
    out = values(TextVectorization(vocabulary=VOCABULARY, output_sequence_length=5)("a c"))
    assert out.tolist() == [2, 4, 0, 0, 0]


def test_split_none_counts_one_already_split_sample():
    out = values(layer("count", None)(np.array(["b", "a", "b", "zzz"])))
    assert out.tolist() == [1.0, 1.0, 2.0, 0.0]  # [UNK] once, a once, b twice, c never


def test_split_none_int_gives_the_ids_of_the_tokens():
    tv = layer("int", None)
    assert values(tv(np.array(["c", "a", "zzz"]))).tolist() == [4, 2, 1]
    assert values(tv("b")).tolist() == 3  # a scalar id for a scalar
    assert values(tv(np.array([["c", "a"], ["b", "b"]]))).tolist() == [[4, 2], [3, 3]]


def test_split_none_standardizes_each_token():
    assert values(layer("int", None)(np.array(["A!", "b."]))).tolist() == [2, 3]


def test_split_none_output_sequence_length_cuts_and_pads_the_last_axis():
    tv = layer("int", None, output_sequence_length=2)
    assert values(tv(np.array(["a", "b", "c"]))).tolist() == [2, 3]
    assert values(tv(np.array([["a"], ["c"]]))).tolist() == [[2, 0], [4, 0]]


def test_split_none_scalar_with_output_sequence_length_is_refused_as_in_keras():
    with pytest.raises(ValueError, match="output_sequence_length=3"):
        layer("int", None, output_sequence_length=3)("a")


def test_a_split_refuses_a_last_axis_longer_than_one():
    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        layer("int")(np.array([["a", "b"], ["c", "a"]]))
