"""Keras's legacy HDF5 files (`.h5`) against real Keras 3 (the parity extra; Keras on its torch backend):
what is saved here Keras loads and predicts the same with, what Keras saves loads here with its optimizer's
state, and the Keras 2 files of legacy_h5_files.py read here as Keras 3 reads them. Skipped without the
extra, except under `make parity` (TINYGRAD_EMBED_PARITY=required), where a missing Keras is an error."""
import json
import warnings
from pathlib import Path

import numpy as np

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
require("torch")
h5py = require("h5py")

import tinygrad_embed  # noqa: E402
from legacy_h5_files import (KERAS22_TRAINING, TF_KERAS_TRAINING, adam_state, functional_weights,  # noqa: E402
                             keras22_functional_config, sequential_weights, tf_keras_sequential_config,
                             write_keras2_file)
from test_keras_parity_files import padded_ids  # noqa: E402
from tinygrad_embed.models import load_model  # noqa: E402


def text_model(api):
    return api.Sequential([api.Input((6,), dtype="int32"), api.layers.Embedding(20, 4, mask_zero=True),
                           api.layers.Bidirectional(api.layers.LSTM(3, return_sequences=True)),
                           api.layers.BatchNormalization(), api.layers.GRU(3), api.layers.Dense(2, activation="softmax")])


def two_inputs(api):
    left, right = api.Input((5,), dtype="int32"), api.Input((5,), dtype="int32")
    shared = api.layers.Embedding(12, 3)
    merged = api.layers.Concatenate()([shared(left), shared(right)])
    return api.Model([left, right], [api.layers.Dense(2, activation="softmax")(api.layers.GRU(4)(merged)),
                                     api.layers.Dense(1)(api.layers.SimpleRNN(2)(merged))])


def numpy(values):
    return [keras.ops.convert_to_numpy(v) for v in (values if isinstance(values, (list, tuple)) else [values])]


def assert_same(mine, theirs, atol=1e-6):
    for a, b in zip(numpy(mine), numpy(theirs)):
        np.testing.assert_allclose(a, b, atol=atol)


def fit(model, ids):
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(ids, np.arange(len(ids)) % 2, epochs=2, batch_size=4, shuffle=False, verbose=0)
    return model


def test_a_model_trained_here_opens_in_keras_compiled_and_predicts_the_same(tmp_path):
    ours = fit(text_model(tinygrad_embed), padded_ids(0))
    ours.save(tmp_path / "m.h5")
    theirs = keras.models.load_model(tmp_path / "m.h5")
    assert [type(layer).__name__ for layer in theirs.layers] == [type(layer).__name__ for layer in ours.layers]
    assert_same(ours.predict(padded_ids(1)), theirs.predict(padded_ids(1), verbose=0))
    assert type(theirs.optimizer).__name__ == "Adam" and int(theirs.optimizer.iterations.numpy()) == 4
    assert theirs.loss.__name__ == "sparse_categorical_crossentropy"


def test_a_model_keras_trained_loads_here_and_trains_on_as_keras_does(tmp_path):
    theirs = fit(text_model(keras), padded_ids(0))
    theirs.save(tmp_path / "k.h5")
    ours = load_model(tmp_path / "k.h5")
    assert_same(ours.predict(padded_ids(1)), theirs.predict(padded_ids(1), verbose=0))
    assert int(ours.optimizer.iterations) == 4  # Adam's moments came with the file
    # one more step on both sides, from the moments Keras saved, moves the weights alike
    x, y = padded_ids(2), np.arange(8) % 2
    ours.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    theirs.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    assert_same(ours.get_weights(), theirs.get_weights(), atol=1e-5)


def test_a_functional_model_with_two_inputs_and_outputs_both_ways(tmp_path):
    x = [padded_ids(3, 4, 5, 12), padded_ids(4, 4, 5, 12)]
    ours = two_inputs(tinygrad_embed)
    ours.save(tmp_path / "ours.h5")
    assert_same(ours.predict(x), keras.models.load_model(tmp_path / "ours.h5").predict(x, verbose=0))
    theirs = two_inputs(keras)
    theirs.save(tmp_path / "theirs.h5")
    assert_same(load_model(tmp_path / "theirs.h5").predict(x), theirs.predict(x, verbose=0))


def test_weights_alone_both_ways(tmp_path):
    ours, theirs = fit(text_model(tinygrad_embed), padded_ids(0)), text_model(keras)
    ours.save_weights(tmp_path / "ours.h5")
    theirs.load_weights(tmp_path / "ours.h5")
    assert_same(ours.predict(padded_ids(1)), theirs.predict(padded_ids(1), verbose=0))
    keras_trained = fit(text_model(keras), padded_ids(5))
    keras_trained.save(tmp_path / "theirs.h5")  # a whole model file: load_weights takes its model_weights
    ours.load_weights(tmp_path / "theirs.h5")
    assert_same(ours.predict(padded_ids(1)), keras_trained.predict(padded_ids(1), verbose=0))


def test_keras_2_files_read_here_as_keras_3_reads_them(tmp_path):
    """Keras 3 itself refuses two things real Keras 2 files hold (LSTM's time_major, SGD's lr), so here it
    reads the architecture without them, and uncompiled: the weights must land in the same places."""
    rng = np.random.default_rng(0)
    layers = sequential_weights(rng)
    config = tf_keras_sequential_config()
    del config["config"]["layers"][2]["config"]["time_major"]
    write_keras2_file(tmp_path / "tf.h5", config, layers, TF_KERAS_TRAINING, adam_state(layers))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras: input_length and decay are deprecated
        theirs, ours = keras.models.load_model(tmp_path / "tf.h5", compile=False), load_model(tmp_path / "tf.h5")
    x = rng.integers(0, 10, (4, 6))
    assert_same(ours.predict(x), theirs.predict(x, verbose=0))
    write_keras2_file(tmp_path / "k22.h5", keras22_functional_config(), functional_weights(rng), KERAS22_TRAINING,
                      version="2.2.4")
    theirs, ours = keras.models.load_model(tmp_path / "k22.h5", compile=False), load_model(tmp_path / "k22.h5")
    x = [rng.integers(0, 12, (3, 5)), rng.integers(0, 12, (3, 5))]
    assert_same(ours.predict(x), theirs.predict(x, verbose=0))


def test_keras_writes_the_layout_this_project_writes(tmp_path):
    """The same attributes and groups, the same layer_names, and weight_names of the same count per layer."""
    ours, theirs = fit(text_model(tinygrad_embed), padded_ids(0)), fit(text_model(keras), padded_ids(0))
    ours.save(tmp_path / "ours.h5")
    theirs.save(tmp_path / "theirs.h5")

    def outline(path):
        with h5py.File(path) as h5:
            weights = h5["model_weights"]
            names = [n.decode() if isinstance(n, bytes) else n for n in weights.attrs["layer_names"]]
            training = json.loads(h5.attrs["training_config"])
            return (sorted(h5.attrs), sorted(h5), sorted(weights.attrs), len(names),
                    [len(weights[name].attrs["weight_names"]) for name in names],
                    len(h5["optimizer_weights"].attrs["weight_names"]), sorted(training),
                    json.loads(h5.attrs["model_config"])["class_name"])
    assert outline(tmp_path / "ours.h5") == outline(tmp_path / "theirs.h5")


def test_a_real_keras_2_weights_file_loads_in_keras_3_and_here_alike():
    """tests/data's file from tf.keras 2.15 (Keras 3 refuses its whole-model files: LSTM's time_major)."""
    data = Path(__file__).parent / "data"
    with np.load(data / "keras2_expected.npz", allow_pickle=False) as expected:
        x, predictions = expected["x"], expected["sequential/predictions"]
    models = [api.Sequential([api.Input((6,), dtype="int32"), api.layers.Embedding(30, 4, mask_zero=True),
                              api.layers.LSTM(5), api.layers.Dense(1, activation="sigmoid")])
              for api in (tinygrad_embed, keras)]
    for model in models:
        model.load_weights(data / "keras2_sequential_weights.h5")
    assert_same(models[0].predict(x), predictions)
    assert_same(models[1].predict(x, verbose=0), predictions)
