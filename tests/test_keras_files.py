"""Keras 3's .keras archive and .weights.h5 file, written and read here (tests/test_keras_parity_files.py
checks them against real Keras): round trips, Keras's layout, and files that must be refused."""
import json
import sys
import zipfile

import numpy as np
import pytest

from tinygrad_embed.layers import GRU, LSTM, Bidirectional, Dense, Embedding, Input, Layer
from tinygrad_embed.models import Model, Sequential, load_model
from tinygrad_embed.saving.keras_files import weight_groups

h5py = pytest.importorskip("h5py")  # the keras-files extra


def text_model():
    model = Sequential([Input((6,), dtype="int32"), Embedding(20, 4, mask_zero=True),
                        Bidirectional(LSTM(3, return_sequences=True)), GRU(3), Dense(2), Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    return model


def ids(seed=0):
    return np.random.default_rng(seed).integers(0, 20, (4, 6))


def trained(model, x):
    model.fit(x, np.arange(len(x)) % 2, epochs=2, batch_size=2, verbose=0)
    return model


def members(path):
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def rewrite(path, changes):
    """The archive at path with some members replaced (or added)."""
    content = {**members(path), **changes}
    with zipfile.ZipFile(path, "w") as archive:
        for name, payload in content.items():
            archive.writestr(name, payload)


def test_a_saved_archive_loads_back_with_its_weights_compile_settings_and_optimizer_state(tmp_path):
    model = trained(text_model(), ids())
    model.save(tmp_path / "m.keras")
    assert sorted(members(tmp_path / "m.keras")) == ["config.json", "metadata.json", "model.weights.h5"]
    back = load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(back.predict(ids(1)), model.predict(ids(1)))
    assert (type(back.optimizer), back.metrics) == (type(model.optimizer), model.metrics)
    assert (type(back.loss), back.loss.get_config()) == (type(model.loss), model.loss.get_config())
    mine, theirs = model.optimizer.get_state(), back.optimizer.get_state()
    assert sorted(mine) == sorted(theirs) and int(theirs["iterations"]) == 4  # 2 epochs of 2 batches
    for key in mine:
        np.testing.assert_array_equal(theirs[key], mine[key])


def test_a_functional_model_with_a_shared_layer_and_two_outputs_round_trips(tmp_path):
    left, right = Input((3,), name="left"), Input((3,), name="right")
    shared = Dense(2, name="shared")  # called twice: the file must keep both calls apart
    model = Model([left, right], [shared(left), Dense(1)(shared(right))])
    model.save(tmp_path / "m.keras")
    back = load_model(tmp_path / "m.keras")
    x = [np.ones((2, 3), "float32"), np.arange(6, dtype="float32").reshape(2, 3)]
    for ours, restored in zip(model.predict(x), back.predict(x)):
        np.testing.assert_array_equal(restored, ours)
    shared_entry = [e for e in json.loads(members(tmp_path / "m.keras")["config.json"])["config"]["layers"]
                    if e["name"] == "shared"][0]
    assert len(shared_entry["inbound_nodes"]) == 2


def test_weights_go_to_keras_h5_layout(tmp_path):
    # Keras names a layer's group by its class in snake case, numbered in layer order; RNNs keep their
    # weights in the cell, a Bidirectional in its two halves (keras/src/saving/saving_lib.py).
    model = text_model()
    assert [(path, len(weights)) for path, _, weights in weight_groups(model)] == [
        ("layers/embedding/vars", 1), ("layers/bidirectional/forward_layer/cell/vars", 3),
        ("layers/bidirectional/backward_layer/cell/vars", 3), ("layers/gru/cell/vars", 3),
        ("layers/dense/vars", 2), ("layers/dense_1/vars", 2)]
    model.save_weights(tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5") as h5:
        np.testing.assert_array_equal(h5["layers/dense_1/vars/0"][()], model.layers[-1].kernel.data)
        assert h5["layers/gru/cell/vars/2"].shape == (2, 9)  # reset_after: input and recurrent biases


def test_weights_files_load_into_a_fresh_model(tmp_path):
    model = trained(text_model(), ids())
    model.save_weights(tmp_path / "m.weights.h5")
    fresh = text_model()
    fresh.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_array_equal(fresh.predict(ids(1)), model.predict(ids(1)))


def test_other_file_names_keep_the_projects_own_format(tmp_path):
    model = text_model()
    model.save(tmp_path / "m.npz")
    assert "config.npy" in members(tmp_path / "m.npz")


def test_without_h5py_the_error_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)  # what `import h5py` meets when it is not installed
    with pytest.raises(ImportError, match=r"tinygrad_embed\[keras-files\]"):
        text_model().save(tmp_path / "m.keras")
    with pytest.raises(ImportError, match=r"keras-files"):
        text_model().load_weights(tmp_path / "m.weights.h5")


# ---- files that are refused ------------------------------------------------------------------------
def saved(tmp_path):
    path = tmp_path / "m.keras"
    text_model().save(path)
    return path


def edit_config(path, edit):
    config = json.loads(members(path)["config.json"])
    edit(config["config"]["layers"])
    rewrite(path, {"config.json": json.dumps(config)})


def test_a_lambda_layer_is_refused_by_name_and_nothing_is_run(tmp_path):
    path = saved(tmp_path)
    edit_config(path, lambda layers: layers.append({"class_name": "Lambda", "config": {"function": "print"}}))
    with pytest.raises(ValueError, match=r"is a Lambda.*never runs code from a file"):
        load_model(path)


def test_a_custom_object_registered_under_a_builtin_name_is_refused(tmp_path):
    path = saved(tmp_path)
    edit_config(path, lambda layers: layers[-1].update(registered_name="my_package>Dense"))
    with pytest.raises(ValueError, match=r"registered as 'my_package>Dense'"):
        load_model(path)


def test_a_custom_layer_is_written_as_keras_writes_it_and_read_only_when_handed_over(tmp_path):
    class Doubling(Layer):
        def call(self, inputs):
            return inputs * 2
    model = Sequential([Input((3,)), Doubling(), Dense(1)])
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        entry = json.loads(archive.read("config.json"))["config"]["layers"][1]
    assert (entry["module"], entry["class_name"], entry["registered_name"]) == (__name__, "Doubling", "Doubling")
    with pytest.raises(ValueError, match=r"Doubling.*not registered here.*custom_objects=\{'Doubling'"):
        load_model(tmp_path / "m.keras")
    x = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(load_model(tmp_path / "m.keras", custom_objects={"Doubling": Doubling}).predict(x),
                               model.predict(x))


def test_keras_features_this_project_lacks_are_named(tmp_path):
    path = saved(tmp_path)
    edit_config(path, lambda layers: layers[-1]["config"].update(kernel_regularizer={"class_name": "L2"}))
    with pytest.raises(ValueError, match=r"kernel_regularizer="):
        load_model(path)


def test_weights_of_the_wrong_shape_are_refused_before_any_is_copied(tmp_path):
    text_model().save_weights(tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5", "a") as h5:
        del h5["layers/dense_1/vars/0"]
        h5["layers/dense_1/vars/0"] = np.zeros((3, 2), "float32")
    model = text_model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"layers/dense_1/vars/0' has shape \(3, 2\).*\(2, 2\)"):
        model.load_weights(tmp_path / "m.weights.h5")
    for kept, original in zip(model.get_weights(), before):
        np.testing.assert_array_equal(kept, original)


def test_a_huge_declared_array_without_its_bytes_is_refused_before_reading(tmp_path):
    path = saved(tmp_path)
    edit_config(path, lambda layers: layers[1]["config"].update(input_dim=10**9))
    buffer = tmp_path / "weights.h5"
    buffer.write_bytes(members(path)["model.weights.h5"])
    with h5py.File(buffer, "a") as h5:
        del h5["layers/embedding/vars/0"]
        h5.create_dataset("layers/embedding/vars/0", shape=(10**9, 4), dtype="float32")  # declared, never written
    rewrite(path, {"model.weights.h5": buffer.read_bytes()})
    with pytest.raises(ValueError, match=r"declares shape \(1000000000, 4\).*stores only 0 bytes"):
        load_model(path)


def test_an_array_stored_in_another_file_is_refused(tmp_path):
    model = Sequential([Input((3,)), Dense(2)])
    model.save_weights(tmp_path / "m.weights.h5")
    (tmp_path / "secret").write_bytes(np.arange(6, dtype="float32").tobytes())
    with h5py.File(tmp_path / "m.weights.h5", "a") as h5:
        del h5["layers/dense/vars/0"]
        h5.create_dataset("layers/dense/vars/0", shape=(3, 2), dtype="float32",
                          external=[(str(tmp_path / "secret"), 0, 24)])
    with pytest.raises(ValueError, match=r"outside the file"):
        model.load_weights(tmp_path / "m.weights.h5")


@pytest.mark.parametrize("damage", ["truncated", "not a zip", "no config", "corrupt h5", "bomb"])
def test_damaged_archives_give_clear_errors(tmp_path, damage):
    path = saved(tmp_path)
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[:len(data) // 2])
    elif damage == "not a zip":
        path.write_bytes(b"certainly not a zip file")
    elif damage == "no config":
        content = members(path)
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("model.weights.h5", content["model.weights.h5"])
    elif damage == "corrupt h5":
        rewrite(path, {"model.weights.h5": b"\x89HDF\r\n\x1a\n" + bytes(200)})
    else:  # 100 MB of zeros deflate to about 100 kB: a ratio no weights file has
        config = members(path)["config.json"]
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("config.json", config)
            archive.writestr("model.weights.h5", bytes(100 << 20))
    expected = {"truncated": "truncated or corrupt", "not a zip": "truncated or corrupt",
                "no config": "no 'config.json'", "corrupt h5": "truncated or corrupt", "bomb": "zip bomb"}[damage]
    with pytest.raises(ValueError, match=expected):
        load_model(path)


def test_a_truncated_weights_file_gives_a_clear_error(tmp_path):
    text_model().save_weights(tmp_path / "m.weights.h5")
    data = (tmp_path / "m.weights.h5").read_bytes()
    (tmp_path / "m.weights.h5").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=r"truncated or corrupt"):
        text_model().load_weights(tmp_path / "m.weights.h5")


def test_a_subclassed_model_is_told_to_save_weights(tmp_path):
    class Mine(Model):
        def __init__(self):
            super().__init__()
            self.dense = Dense(1)

        def call(self, inputs):
            return self.dense(inputs)
    model = Mine()
    model(np.ones((1, 3), "float32"))
    with pytest.raises(NotImplementedError, match=r"weights.h5"):
        model.save(tmp_path / "m.keras")
    model.save_weights(tmp_path / "m.weights.h5")  # and that works, back here
    twin = Mine()
    twin(np.ones((1, 3), "float32"))
    twin.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_array_equal(twin.dense.kernel.data, model.dense.kernel.data)


def test_an_op_in_a_graph_is_refused_unless_it_is_an_embeddings_mask(tmp_path):
    ids = Input((4,), dtype="int32", name="ids")
    Model(ids, GRU(2)(Embedding(9, 3, mask_zero=True)(ids))).save(tmp_path / "m.keras")
    reference = {"class_name": "__keras_tensor__", "config": {"shape": [None, 4], "dtype": "int32",
                                                              "keras_history": ["ids", 0, 0]}}
    # Keras writes the mask as NotEqual(ids, 0); NotEqual(ids, 1) would be another computation, i.e. code
    op = {"module": "keras.src.ops.numpy", "class_name": "NotEqual", "config": {"name": "not_equal"},
          "name": "not_equal", "inbound_nodes": [{"args": [reference, 1], "kwargs": {}}]}
    mask = {"class_name": "__keras_tensor__", "config": {"shape": [None, 4], "dtype": "bool",
                                                         "keras_history": ["not_equal", 0, 0]}}

    def hand_mask(layers):
        layers.append(op)
        layers[-2]["inbound_nodes"][0]["kwargs"]["mask"] = mask  # the GRU gets it as mask=, as Keras writes masks
    edit_config(tmp_path / "m.keras", hand_mask)
    with pytest.raises(ValueError, match=r"the mask 'not_equal' handed to the layers is computed by ops in a way"):
        load_model(tmp_path / "m.keras")
