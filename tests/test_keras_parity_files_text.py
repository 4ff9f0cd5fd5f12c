"""TextVectorization in .keras files, both ways with real Keras 3: keras.io's "Text classification from
scratch" end-to-end model (a TextVectorization before a trained model, so that it predicts on raw strings)
and the TensorFlow tutorials' Sequential export. Keras's TextVectorization needs TensorFlow: this file is
skipped without it even under TINYGRAD_EMBED_PARITY=required (TensorFlow is not a test dependency), as
tests/test_keras_parity_text.py. In a Python with TensorFlow, run it with KERAS_BACKEND=tensorflow."""
import os

import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
if os.environ["KERAS_BACKEND"] == "torch":
    require("torch")
require("h5py")
# `make parity-tf` (CI) runs this file in a virtualenv with TensorFlow, KERAS_BACKEND=tensorflow: there a
# missing TensorFlow is an error; elsewhere (the torch backend) the file is skipped.
tf = (require("tensorflow") if os.environ["KERAS_BACKEND"] == "tensorflow"
      else pytest.importorskip("tensorflow", reason="Keras's TextVectorization runs on TensorFlow's string ops"))

import tinygrad_embed  # noqa: E402
from tinygrad_embed.models import load_model  # noqa: E402

TEXTS = ["The cat sat on the mat.", "the dog, the cat!  And the BIRD?", "a b a b c", "zebra zebra apple mango"]
QUERY = np.array([["the cat and a zebra"], ["unknown words only"], ["The   mat, the MAT"], [""]])


def end_to_end(api, mode):
    """keras.io's recipe: a model on token ids, then Model(strings, model(vectorize(strings)))."""
    vectorize = api.layers.TextVectorization(max_tokens=30, output_mode=mode, ngrams=2 if mode == "count" else None,
                                             output_sequence_length=7 if mode == "int" else None)
    vectorize.adapt(TEXTS)
    ids = api.Input((7,) if mode == "int" else (vectorize.vocabulary_size(),),
                    dtype="int64" if mode == "int" else "float32")
    x = api.layers.GlobalMaxPooling1D()(api.layers.Embedding(30, 4)(ids)) if mode == "int" else ids
    model = api.Model(ids, api.layers.Dense(1, activation="sigmoid", name="predictions")(api.layers.Dense(3)(x)))
    strings = api.Input((1,) if mode == "int" else (), dtype="string")  # Keras's shapes: (1,) in int mode only
    return api.Model(strings, model(vectorize(strings)))


def theirs_predict(model, texts):
    texts = texts if len(model.inputs[0].shape) == 2 else texts[:, 0]
    return keras.ops.convert_to_numpy(model(tf.constant(texts)))


def ours_predict(model, texts):
    return model.predict(texts if len(model.inputs[0].shape) == 2 else texts[:, 0])


@pytest.mark.parametrize("mode", ["int", "multi_hot", "count", "tf_idf"])
def test_an_end_to_end_text_model_saved_here_predicts_the_same_in_keras(tmp_path, mode):
    ours = end_to_end(tinygrad_embed, mode)
    ours.save(tmp_path / "m.keras")
    theirs = keras.models.load_model(tmp_path / "m.keras")
    assert theirs.layers[1].get_vocabulary() == ours.layers[1].get_vocabulary()
    np.testing.assert_allclose(ours_predict(ours, QUERY), theirs_predict(theirs, QUERY), atol=1e-6)


@pytest.mark.parametrize("mode", ["int", "multi_hot", "count", "tf_idf"])
def test_an_end_to_end_text_model_keras_saved_predicts_the_same_here(tmp_path, mode):
    theirs = end_to_end(keras, mode)
    theirs.save(tmp_path / "m.keras")
    ours = load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(ours_predict(ours, QUERY), theirs_predict(theirs, QUERY), atol=1e-6)
    ours.save(tmp_path / "back.keras")  # and back again
    np.testing.assert_allclose(theirs_predict(keras.models.load_model(tmp_path / "back.keras"), QUERY),
                               theirs_predict(theirs, QUERY), atol=1e-6)


def test_the_tensorflow_tutorials_sequential_export_crosses_both_ways(tmp_path):
    def export(api):
        vectorize = api.layers.TextVectorization(max_tokens=30, output_sequence_length=6)
        vectorize.adapt(TEXTS)
        model = api.Sequential([api.layers.Embedding(30, 4), api.layers.GlobalAveragePooling1D(), api.layers.Dense(1)])
        exported = api.Sequential([api.Input((1,), dtype="string"), vectorize, model, api.layers.Activation("sigmoid")])
        exported.compile("adam", "binary_crossentropy", ["accuracy"])
        return exported
    ours, theirs = export(tinygrad_embed), export(keras)
    ours.save(tmp_path / "ours.keras")
    theirs.save(tmp_path / "theirs.keras")
    np.testing.assert_allclose(ours.predict(QUERY),
                               theirs_predict(keras.models.load_model(tmp_path / "ours.keras"), QUERY), atol=1e-6)
    np.testing.assert_allclose(load_model(tmp_path / "theirs.keras").predict(QUERY), theirs_predict(theirs, QUERY),
                               atol=1e-6)


def test_a_vocabulary_given_to_the_constructor_stays_in_the_config(tmp_path):
    vectorize = keras.layers.TextVectorization(vocabulary=["cat", "dog", "the"], output_sequence_length=4)
    strings = keras.Input((1,), dtype="string")
    theirs = keras.Model(strings, vectorize(strings))
    theirs.save(tmp_path / "m.keras")
    ours = load_model(tmp_path / "m.keras")
    assert ours.layers[1].get_vocabulary() == ["", "[UNK]", "cat", "dog", "the"]
    np.testing.assert_array_equal(ours.predict(QUERY), theirs_predict(theirs, QUERY))


def test_a_registered_standardize_function_crosses_by_its_name(tmp_path):
    """TensorFlow's "Word embeddings" tutorial standardizes with a function of its own: registered under one
    name on both sides (here on numpy's strings, there on tf.strings), the file names it and each side finds
    its own."""
    @keras.saving.register_keras_serializable(package="tutorial", name="strip_html")
    def theirs_strip(texts):
        return tf.strings.regex_replace(tf.strings.lower(texts), "<br />", " ")

    @tinygrad_embed.saving.register_keras_serializable(package="tutorial", name="strip_html")
    def ours_strip(texts):
        return np.char.replace(np.char.lower(np.asarray(texts, dtype=str)), "<br />", " ")

    texts = ["A cat<br />sat", "the DOG<br />ran", "a cat"]
    for api, strip in ((keras, theirs_strip), (tinygrad_embed, ours_strip)):
        vectorize = api.layers.TextVectorization(standardize=strip, output_sequence_length=4)
        vectorize.adapt(texts)
        strings = api.Input((1,), dtype="string")
        api.Model(strings, vectorize(strings)).save(tmp_path / f"{api.__name__}.keras")
    query = np.array([["a CAT<br />ran"], ["dog<br />sat"]])
    theirs = keras.models.load_model(tmp_path / "tinygrad_embed.keras")
    ours = load_model(tmp_path / "keras.keras")
    assert ours.layers[1].standardize is ours_strip
    np.testing.assert_array_equal(ours.predict(query), theirs_predict(theirs, query))
