"""Keras 3's .keras layout for the layers beyond the first ones (tests/test_keras_files.py): TextVectorization's
vocabulary as assets, Lambda as Keras writes it and refused when read, RNN's cells, custom layers by their
registered names, and the compile state, so that fit goes on from a loaded file as it would have without it."""
import io
import json
import zipfile

import numpy as np
import pytest

import tinygrad_embed as tg
from tinygrad_embed import layers
from tinygrad_embed.models import Model, Sequential, load_model
from tinygrad_embed.saving import custom_object_scope, get_registered_name, register_keras_serializable

h5py = pytest.importorskip("h5py")  # the keras-files extra

TEXTS = ["the cat sat", "the dog ran far", "a cat and a dog", "the end"]
QUERY = np.array([["the cat ran"], ["zebra a dog"], [""]])


def members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def h5_of(path):
    return h5py.File(io.BytesIO(members(path)["model.weights.h5"]), "r")


def text_model(mode):
    vectorize = layers.TextVectorization(max_tokens=20, output_mode=mode,
                                         output_sequence_length=5 if mode == "int" else None)
    vectorize.adapt(TEXTS)
    text = layers.Input((1,), dtype="string")
    x = vectorize(text)
    if mode == "int":
        x = layers.GlobalAveragePooling1D()(layers.Embedding(20, 3)(x))
    return Model(text, layers.Dense(1, activation="sigmoid")(x)), vectorize


@pytest.mark.parametrize("mode", ["int", "multi_hot", "tf_idf"])
def test_text_vectorization_keeps_its_vocabulary_in_keras_assets_and_predicts_the_same(tmp_path, mode):
    model, vectorize = text_model(mode)
    model.save(tmp_path / "m.keras")
    files = members(tmp_path / "m.keras")
    vocabulary = "\n".join(vectorize.get_vocabulary()).encode()
    assert files["assets/layers/text_vectorization/vocabulary.txt"] == vocabulary
    assert files["assets/layers/text_vectorization/_lookup_layer/vocabulary.txt"] == vocabulary
    entry = json.loads(files["config.json"])["config"]["layers"][1]
    assert entry["config"]["vocabulary"] is None and entry["config"]["vocabulary_size"] == len(vectorize.get_vocabulary())
    with h5_of(tmp_path / "m.keras") as h5:
        for where in ("layers/text_vectorization/vars", "layers/text_vectorization/_lookup_layer/vars"):
            assert (where + "/idf_weights" in h5) == (mode == "tf_idf")
            if mode == "tf_idf":
                np.testing.assert_allclose(h5[where + "/idf_weights"][()], vectorize._idf, rtol=1e-6)
    restored = load_model(tmp_path / "m.keras")
    assert restored.layers[1].get_vocabulary() == vectorize.get_vocabulary()
    np.testing.assert_allclose(restored.predict(QUERY), model.predict(QUERY), rtol=1e-6)


def test_a_vocabulary_missing_from_the_archive_is_named(tmp_path):
    model, _ = text_model("int")
    model.save(tmp_path / "m.keras")
    files = {k: v for k, v in members(tmp_path / "m.keras").items() if not k.startswith("assets/")}
    with zipfile.ZipFile(tmp_path / "cut.keras", "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    with pytest.raises(ValueError, match=r"text_vectorization' has no vocabulary.*vocabulary.txt"):
        load_model(tmp_path / "cut.keras")


def test_load_weights_from_a_keras_archive_brings_the_vocabulary_into_a_model_built_in_code(tmp_path):
    model, _ = text_model("int")
    model.save(tmp_path / "m.keras")
    vectorize = layers.TextVectorization(max_tokens=20, output_sequence_length=5)  # not adapted
    text = layers.Input((1,), dtype="string")
    twin = Model(text, layers.Dense(1, activation="sigmoid")(
        layers.GlobalAveragePooling1D()(layers.Embedding(20, 3)(vectorize(text)))))
    twin.load_weights(tmp_path / "m.keras")
    np.testing.assert_allclose(twin.predict(QUERY), model.predict(QUERY), rtol=1e-6)


def lambda_model():
    x = layers.Input((3,))
    return Model(x, layers.Dense(2)(layers.Lambda(lambda t: t * 2.0)(x)))


def test_a_lambda_is_written_as_keras_writes_it_and_never_run_when_read(tmp_path):
    model = lambda_model()
    model.save(tmp_path / "m.keras")
    entry = json.loads(members(tmp_path / "m.keras")["config.json"])["config"]["layers"][1]
    assert entry["class_name"] == "Lambda" and entry["config"]["function"]["class_name"] == "__lambda__"
    assert set(entry["config"]["function"]["config"]) == {"code", "defaults", "closure"}
    name = entry["config"]["name"]
    with pytest.raises(ValueError, match=rf"layer '{name}' is a Lambda.*never runs code.*load_weights"):
        load_model(tmp_path / "m.keras")
    with pytest.raises(ValueError, match=r"safe_mode=False does not change that"):
        load_model(tmp_path / "m.keras", safe_mode=False)
    twin = lambda_model()  # the way to load it: build it in code, then load the weights
    twin.load_weights(tmp_path / "m.keras")
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(twin.predict(x), model.predict(x))


def test_rnn_cells_are_where_keras_keeps_them(tmp_path):
    x = layers.Input((5, 3))
    h = layers.RNN([layers.LSTMCell(4), layers.GRUCell(2), layers.GRUCell(2)], return_sequences=True)(x)
    model = Model(x, layers.RNN(layers.SimpleRNNCell(3))(h))
    model.save(tmp_path / "m.keras")
    with h5_of(tmp_path / "m.keras") as h5:
        groups = []
        h5.visititems(lambda name, obj: groups.append(name) if name.endswith("/vars") else None)
    assert sorted(groups) == ["layers/rnn/cell/cells/gru_cell/vars", "layers/rnn/cell/cells/gru_cell_1/vars",
                              "layers/rnn/cell/cells/lstm_cell/vars", "layers/rnn_1/cell/vars"]
    data = np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(load_model(tmp_path / "m.keras").predict(data), model.predict(data), rtol=1e-6)


@register_keras_serializable(package="tests", name="Stretch")
class Stretch(layers.Layer):
    """A tutorial-style custom layer: one weight, one argument of its own."""

    def __init__(self, start=1.0, **kwargs):
        super().__init__(**kwargs)
        self.start = start

    def build(self, input_shape):
        self.scale = self.add_weight((input_shape[-1],), initializer="ones", name="scale")

    def call(self, inputs):
        return inputs * self.scale * self.start

    def get_config(self):
        return {**super().get_config(), "start": self.start}


class Unregistered(Stretch):
    pass


def test_a_registered_custom_layer_round_trips_by_its_registered_name(tmp_path):
    assert get_registered_name(Stretch) == "tests>Stretch"
    model = Sequential([layers.Input((3,)), Stretch(start=2.0), layers.Dense(1)])
    model.layers[0].scale.data[...] = [1.0, 2.0, 3.0]
    model.save(tmp_path / "m.keras")
    entry = json.loads(members(tmp_path / "m.keras")["config.json"])["config"]["layers"][1]
    assert (entry["module"], entry["class_name"], entry["registered_name"]) == (None, "Stretch", "tests>Stretch")  # as Keras
    x = np.ones((2, 3), np.float32)
    restored = load_model(tmp_path / "m.keras")
    assert isinstance(restored.layers[0], Stretch) and restored.layers[0].start == 2.0
    np.testing.assert_allclose(restored.predict(x), model.predict(x))


def test_an_unregistered_custom_layer_loads_only_when_handed_over(tmp_path):
    Sequential([layers.Input((3,)), Unregistered(), layers.Dense(1)]).save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match=r"Unregistered.*not registered here.*register_keras_serializable"):
        load_model(tmp_path / "m.keras")
    assert isinstance(load_model(tmp_path / "m.keras", custom_objects={"Unregistered": Unregistered}).layers[0],
                      Unregistered)
    with custom_object_scope({"Unregistered": Unregistered}):
        assert isinstance(load_model(tmp_path / "m.keras").layers[0], Unregistered)
    with pytest.raises(ValueError, match=r"not registered here"):  # the scope has ended
        load_model(tmp_path / "m.keras")


def test_a_class_path_in_a_file_is_never_imported(tmp_path):
    Sequential([layers.Input((3,)), layers.Dense(1)]).save(tmp_path / "m.keras")
    files = members(tmp_path / "m.keras")
    config = json.loads(files["config.json"])
    config["config"]["layers"][1].update(module="os", class_name="system", registered_name=None)
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "evil.keras", "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    with pytest.raises(ValueError, match=r"the class os\.system.*not registered here"):
        load_model(tmp_path / "evil.keras")


def test_fit_goes_on_from_a_loaded_file_as_without_the_save(tmp_path):
    def trained(epochs):
        tg.utils.set_random_seed(3)
        model = Sequential([layers.Input((6,), dtype="int32"), layers.Embedding(20, 4), layers.LSTM(5),
                            layers.BatchNormalization(), layers.Dense(1, activation="sigmoid")])
        model.compile("adam", "binary_crossentropy", ["accuracy"])
        ids = np.random.default_rng(0).integers(0, 20, (16, 6))
        return model, ids, model.fit(ids, ids[:, 0] % 2, epochs=epochs, batch_size=4, shuffle=False, verbose=0)
    straight, ids, history = trained(3)
    first, _, _ = trained(1)
    first.save(tmp_path / "m.keras")
    resumed = load_model(tmp_path / "m.keras")
    assert resumed.optimizer.iterations == first.optimizer.iterations == 4
    later = resumed.fit(ids, ids[:, 0] % 2, epochs=2, batch_size=4, shuffle=False, verbose=0)
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(later.history[key], history.history[key][1:], rtol=1e-5)
    np.testing.assert_allclose(resumed.predict(ids), straight.predict(ids), rtol=1e-5)


@register_keras_serializable(package="tests")
class Heads(layers.Layer):
    """Sublayers as attributes and in a list, the way Keras's walk finds them."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.first, self._last = layers.Dense(3), layers.Dense(2)
        self.middle = [layers.Dense(4), layers.Dense(3)]

    def call(self, inputs):
        return self._last(self.middle[1](self.middle[0](self.first(inputs))))


def test_a_custom_layers_sublayers_are_where_keras_walks_them(tmp_path):
    model = Sequential([layers.Input((5,)), Heads()])
    x = np.random.default_rng(1).normal(size=(2, 5)).astype(np.float32)
    model.save(tmp_path / "m.keras")
    with h5_of(tmp_path / "m.keras") as h5:
        groups = []
        h5.visititems(lambda name, obj: groups.append(name) if name.endswith("/vars") else None)
    assert groups == ["layers/heads/_last/vars", "layers/heads/first/vars", "layers/heads/middle/dense/vars",
                      "layers/heads/middle/dense_1/vars"]
    np.testing.assert_allclose(load_model(tmp_path / "m.keras").predict(x), model.predict(x), rtol=1e-6)


def test_a_layer_of_this_project_that_keras_lacks_is_refused_by_name(tmp_path):
    from tinygrad_embed.layers.base import LAYERS

    class Gate(layers.Layer):
        """A stand-in for a layer of this project's own that Keras 3 does not have."""

        def __init__(self, units=2, **kwargs):
            super().__init__(**kwargs)
            self.units, self.query_dense = units, layers.Dense(units)

        def build(self, input_shape):
            self.scale = self.add_weight((self.units,), initializer="ones", name="scale")

        def call(self, inputs):
            return self.query_dense(inputs) * self.scale

    Gate.__module__ = "tinygrad_embed.layers.gate"  # as if it were one of this project's own layers
    try:
        with pytest.raises(ValueError, match=r"Gate, which Keras does not have"):
            Sequential([layers.Input((3,)), Gate()]).save(tmp_path / "m.keras")
        assert not (tmp_path / "m.keras").exists()
    finally:  # the stand-in leaves no trace in the registry
        LAYERS.pop("Gate")


def test_load_model_takes_keras_arguments(tmp_path):
    model = Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(np.ones((4, 3)), np.ones((4, 1)), verbose=0)
    model.save(tmp_path / "m.keras")
    assert load_model(tmp_path / "m.keras").optimizer is not None
    assert load_model(tmp_path / "m.keras", compile=False).optimizer is None
    with pytest.raises(TypeError, match=r"custom_objects must be a dict.*list"):
        load_model(tmp_path / "m.keras", custom_objects=[Stretch])


def test_compile_false_also_for_this_projects_own_files(tmp_path):
    model = Sequential([layers.Input((3,)), layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(np.ones((4, 3)), np.ones((4, 1)), verbose=0)
    model.save(tmp_path / "m.npz")
    assert load_model(tmp_path / "m.npz").optimizer is not None
    restored = load_model(tmp_path / "m.npz", compile=False)
    assert restored.optimizer is None
    np.testing.assert_allclose(restored.predict(np.ones((2, 3))), model.predict(np.ones((2, 3))))


@register_keras_serializable(package="tests")
def no_digits(texts):
    return np.char.translate(np.char.lower(np.asarray(texts, dtype=str)), str.maketrans("", "", "0123456789"))


def test_a_registered_standardize_function_is_saved_by_name_and_a_lambda_refused(tmp_path):
    vectorize = layers.TextVectorization(standardize=no_digits, output_sequence_length=3)
    vectorize.adapt(["a1 b2 c3", "A b"])
    text = layers.Input((1,), dtype="string")
    model = Model(text, vectorize(text))
    model.save(tmp_path / "m.keras")
    entry = json.loads(members(tmp_path / "m.keras")["config.json"])["config"]["layers"][1]
    assert entry["config"]["standardize"] == {"module": "builtins", "class_name": "function",
                                              "config": "tests>no_digits", "registered_name": "function"}
    restored = load_model(tmp_path / "m.keras")
    assert restored.layers[1].standardize is no_digits
    np.testing.assert_array_equal(restored.predict(np.array([["B9 a"]])), model.predict(np.array([["B9 a"]])))
    vectorize.standardize = lambda texts: texts
    with pytest.raises(ValueError, match=r"has a lambda as its standardize.*register it"):
        model.save(tmp_path / "lambda.keras")


def test_an_op_entry_that_reads_no_tensor_or_is_no_graph_op_is_refused(tmp_path):
    ids = layers.Input((4,), name="x")
    Model(ids, layers.Dense(1)(ids)).save(tmp_path / "m.keras")
    files = members(tmp_path / "m.keras")
    reference = {"class_name": "__keras_tensor__", "config": {"shape": [None, 4], "dtype": "float32",
                                                              "keras_history": ["x", 0, 0]}}
    for op, args, message in (("Ones", [[10 ** 6, 10 ** 6]], r"reads no tensor"),
                              ("ConvertToNumpy", [reference], r"convert_to_numpy.*ops do not have")):
        config = json.loads(files["config.json"])
        config["config"]["layers"].append({"module": "keras.src.ops.numpy", "class_name": op, "config": {"name": "op"},
                                           "name": "op", "inbound_nodes": [{"args": args, "kwargs": {}}]})
        with zipfile.ZipFile(tmp_path / "op.keras", "w") as archive:
            for name, content in {**files, "config.json": json.dumps(config).encode()}.items():
                archive.writestr(name, content)
        with pytest.raises(ValueError, match=message):
            load_model(tmp_path / "op.keras")
