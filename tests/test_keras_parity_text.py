"""TextVectorization gives Keras 3's vocabulary and outputs on the same texts and settings (needs the
`parity` extra: keras and torch, Keras running on its torch backend). Skipped without them, except under
`make parity` (and so in CI), which sets TINYGRAD_EMBED_PARITY=required: there a missing Keras is an
error, not a skip. Keras's TextVectorization itself needs TensorFlow: without it this file is skipped
even then (TensorFlow is not a test dependency). In a Python with TensorFlow and no torch, run it with
KERAS_BACKEND=tensorflow: torch is then not needed."""
import os
import re
import string

import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
if os.environ["KERAS_BACKEND"] == "torch":
    require("torch")
# `make parity-tf` (CI) runs this file in a virtualenv with TensorFlow, KERAS_BACKEND=tensorflow: there a
# missing TensorFlow is an error; elsewhere (the torch backend) the file is skipped.
tf = (require("tensorflow") if os.environ["KERAS_BACKEND"] == "tensorflow"
      else pytest.importorskip("tensorflow", reason="Keras's TextVectorization runs on TensorFlow's string ops"))

from tinygrad_embed.layers import TextVectorization  # noqa: E402

TEXTS = ["The cat sat on the mat.", "the dog, the cat!  And\tthe BIRD?", "a b a b c", "Ça va? ÉCOLE école",
         "x-ray's e-mail: 3.14 <br />ok", "", "zebra zebra apple apple mango"]
QUERY = ["the cat and a zebra", "unknown words only", "The   mat, the MAT", "a", "école Ça"]


@pytest.mark.parametrize("settings", [
    {}, {"output_sequence_length": 4}, {"standardize": "lower"}, {"standardize": "strip_punctuation"},
    {"standardize": None}, {"split": "character", "output_sequence_length": 12}, {"ngrams": 2},
    {"ngrams": (2, 3)}, {"max_tokens": 6}, {"output_mode": "multi_hot"}, {"output_mode": "count", "ngrams": 2},
    {"output_mode": "tf_idf"}, {"output_mode": "multi_hot", "max_tokens": 8, "pad_to_max_tokens": True},
    {"output_mode": "tf_idf", "max_tokens": 9, "pad_to_max_tokens": True},
])
def test_same_vocabulary_and_output_as_keras(settings):
    theirs, ours = keras.layers.TextVectorization(**settings), TextVectorization(**settings)
    theirs.adapt(TEXTS)
    ours.adapt(TEXTS)
    assert ours.get_vocabulary() == theirs.get_vocabulary()
    expected = keras.ops.convert_to_numpy(theirs(np.array(QUERY)))
    np.testing.assert_allclose(ours(np.array(QUERY)).data, expected, rtol=1e-6)


def custom_standardization(input_data):
    """TensorFlow's "Word embeddings" tutorial's standardize, as written there: tf.strings ops that
    return a tf.Tensor of bytes, which our layer converts to numpy."""
    lowercase = tf.strings.lower(input_data)
    stripped_html = tf.strings.regex_replace(lowercase, '<br />', ' ')
    return tf.strings.regex_replace(stripped_html,
                                    '[%s]' % re.escape(string.punctuation), '')


def tf_split(input_data):
    """A split callable on tf.strings: it returns a tf.RaggedTensor of bytes."""
    return tf.strings.split(input_data, sep="a")


@pytest.mark.parametrize("settings", [
    {"standardize": custom_standardization},
    {"standardize": custom_standardization, "max_tokens": 10, "output_sequence_length": 6},
    {"standardize": custom_standardization, "output_mode": "count", "ngrams": 2},
    {"split": tf_split},
])
def test_tensorflow_string_op_callables_give_keras_vocabulary_and_ids(settings):
    theirs, ours = keras.layers.TextVectorization(**settings), TextVectorization(**settings)
    theirs.adapt(TEXTS)
    ours.adapt(TEXTS)
    assert ours.get_vocabulary() == theirs.get_vocabulary()
    for texts in (QUERY, TEXTS):
        expected = keras.ops.convert_to_numpy(theirs(np.array(texts)))
        np.testing.assert_allclose(ours(np.array(texts)).data, expected, rtol=1e-6)
