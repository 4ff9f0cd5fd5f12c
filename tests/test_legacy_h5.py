"""Keras's legacy HDF5 files (`model.save("m.h5")`), written and read here (tests/test_keras_parity_h5.py
checks them against real Keras 3): round trips, Keras's layout, files of the Keras 2 years (built by hand in
legacy_h5_files.py), the file names each call accepts, and files from strangers, which must be refused."""
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from tinygrad_embed.layers import GRU, LSTM, BatchNormalization, Bidirectional, Dense, Embedding, Input, concatenate
from tinygrad_embed.models import Model, Sequential, load_model

h5py = pytest.importorskip("h5py")  # the keras-files extra

from legacy_h5_files import (KERAS22_TRAINING, TF_KERAS_TRAINING, adam_state, functional_weights,  # noqa: E402
                             keras22_functional_config, sequential_weights, tf_keras_sequential_config,
                             write_keras2_file, write_keras2_weights)


def text_model():
    model = Sequential([Input((6,), dtype="int32"), Embedding(20, 4, mask_zero=True),
                        Bidirectional(LSTM(3, return_sequences=True)), BatchNormalization(), GRU(3),
                        Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    return model


def ids(seed=0, rows=4):
    return np.random.default_rng(seed).integers(0, 20, (rows, 6))


def trained(model):
    model.fit(ids(), np.arange(4) % 2, epochs=2, batch_size=2, verbose=0)
    return model


def assert_same_state(back, model):
    mine, theirs = model.optimizer.get_state(), back.optimizer.get_state()
    assert sorted(mine) == sorted(theirs)
    for key in mine:
        np.testing.assert_array_equal(theirs[key], mine[key])


@pytest.mark.parametrize("name", ["m.h5", "m.hdf5"])
def test_a_saved_h5_model_loads_back_with_weights_compile_settings_and_optimizer_state(tmp_path, name):
    model = trained(text_model())
    model.save(tmp_path / name)
    back = load_model(tmp_path / name)
    np.testing.assert_array_equal(back.predict(ids(1)), model.predict(ids(1)))
    assert (type(back.optimizer), back.metrics, back.loss.get_config()) == (type(model.optimizer), model.metrics,
                                                                            model.loss.get_config())
    assert int(back.optimizer.iterations) == 4
    assert_same_state(back, model)


def test_the_file_has_keras_s_legacy_layout(tmp_path):
    model = trained(text_model())
    model.save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5") as h5:
        assert {"keras_version", "backend", "model_config", "training_config"} <= set(h5.attrs)
        config, training = json.loads(h5.attrs["model_config"]), json.loads(h5.attrs["training_config"])
        weights = h5["model_weights"]
        names = [n.decode() for n in weights.attrs["layer_names"]]
        batch_norm = [n.decode() for n in weights[model.layers[2].name].attrs["weight_names"]]
        optimizer = list(h5["optimizer_weights"].attrs["weight_names"])
    assert config["class_name"] == "Sequential" and "module" not in config["config"]["layers"][1]
    assert training["optimizer_config"]["class_name"] == "Adam" and training["loss"] == "sparse_categorical_crossentropy"
    assert names == [layer.name for layer in model.layers]
    assert batch_norm == [f"{model.name}/{model.layers[2].name}/{w}" for w in ("gamma", "beta", "moving_mean",
                                                                            "moving_variance")]
    assert len(optimizer) == 2 + 2 * len(model.trainable_weights)  # step count, learning rate, Adam's m and v


def test_a_functional_model_with_a_shared_layer_and_two_inputs_round_trips(tmp_path):
    left, right = Input((5,), dtype="int32"), Input((5,), dtype="int32")
    shared = Embedding(12, 3)
    merged = concatenate([shared(left), shared(right)])
    model = Model([left, right], [Dense(2, activation="softmax")(GRU(4)(merged)), Dense(1)(LSTM(2)(merged))])
    model.save(tmp_path / "f.h5", include_optimizer=False)
    x = [ids(2, 3)[:, :5] % 12, ids(3, 3)[:, :5] % 12]
    for mine, theirs in zip(load_model(tmp_path / "f.h5").predict(x), model.predict(x)):
        np.testing.assert_array_equal(mine, theirs)


def test_weights_alone_both_ways_and_a_whole_model_file_s_weights(tmp_path):
    model = trained(text_model())
    model.save_weights(tmp_path / "w.h5")
    model.save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "w.h5") as h5:
        assert "layer_names" in h5.attrs and "model_config" not in h5.attrs  # Keras 2's weights-only layout
    for name in ("w.h5", "m.h5"):
        twin = text_model()
        twin.load_weights(tmp_path / name)
        np.testing.assert_array_equal(twin.predict(ids(1)), model.predict(ids(1)))
        assert twin.optimizer.iterations == 0  # load_weights never touches the optimizer, as Keras


def test_a_tf_keras_2_file_loads_with_its_weights_compile_settings_and_adam_s_state(tmp_path):
    layers = sequential_weights(np.random.default_rng(0))
    slots = adam_state(layers)
    path = write_keras2_file(tmp_path / "k2.h5", tf_keras_sequential_config(), layers, TF_KERAS_TRAINING, slots)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the optimizer's state fits: no "starts fresh"
        model = load_model(path)
    state, count = model.optimizer.get_state(), (len(slots) - 1) // 2
    assert int(state["iterations"]) == 3
    for i in range(count):  # tf.keras 2 kept every m, then every v; here they are per weight
        np.testing.assert_array_equal(state[f"{i}/m"], slots[1 + i][1])
        np.testing.assert_array_equal(state[f"{i}/v"], slots[1 + count + i][1])
    expected = [array for _, weights in layers for _, array in weights]
    for mine, theirs in zip(model.get_weights(), expected):
        np.testing.assert_array_equal(mine, theirs)
    assert model.metrics == ["accuracy"] and model.loss.name == "binary_crossentropy"
    assert type(model.optimizer).__name__ == "Adam" and model.optimizer.learning_rate == pytest.approx(0.002)
    built = Sequential([Input((6,), dtype="int32"), Embedding(10, 4), LSTM(5), Dense(1, activation="sigmoid")])
    built.set_weights(expected)
    x = np.random.default_rng(1).integers(0, 10, (3, 6))
    np.testing.assert_array_equal(model.predict(x), built.predict(x))
    model.fit(x, np.array([0, 1, 1]), epochs=1, verbose=0)  # compiled: it trains on


def test_a_keras_2_2_functional_file_with_old_style_calls_and_lr_loads(tmp_path):
    layers = functional_weights(np.random.default_rng(0))
    path = write_keras2_file(tmp_path / "k22.h5", keras22_functional_config(), layers, KERAS22_TRAINING,
                             version="2.2.4")
    model = load_model(path)
    assert [layer.name for layer in model.layers] == [name for name, _ in layers]
    assert model.optimizer.learning_rate == pytest.approx(0.05) and model.metrics == ["acc"]
    left, right = Input((5,), dtype="int32"), Input((5,), dtype="int32")
    shared = Embedding(12, 3)
    built = Model([left, right], Dense(2, activation="softmax")(GRU(4, reset_after=False)(
        concatenate([shared(left), shared(right)]))))
    built.set_weights([array for _, weights in layers for _, array in weights])
    x = [ids(4, 3)[:, :5] % 12, ids(5, 3)[:, :5] % 12]
    np.testing.assert_array_equal(model.predict(x), built.predict(x))


@pytest.mark.parametrize("era", ["2.2: no InputLayer entry", "2.1: the config a list of layers"])
def test_older_keras_2_sequential_configs_load(tmp_path, era):
    layers = sequential_weights(np.random.default_rng(3))
    config = tf_keras_sequential_config()
    del config["config"]["layers"][0]  # the first layer's batch_input_shape gives the input's shape
    if era.startswith("2.1"):
        config["config"] = config["config"]["layers"]
    model = load_model(write_keras2_file(tmp_path / "old.h5", config, layers, KERAS22_TRAINING, version="2.1.6"))
    assert model.input_shape == (None, 6) and type(model.optimizer).__name__ == "SGD"
    for mine, theirs in zip(model.get_weights(), [array for _, weights in layers for _, array in weights]):
        np.testing.assert_array_equal(mine, theirs)


def test_an_optimizer_state_that_fits_neither_layout_starts_fresh_with_a_warning(tmp_path):
    layers = sequential_weights(np.random.default_rng(0))
    renamed = [(f"training/Adam/Variable_{i}:0", array) for i, (_, array) in enumerate(adam_state(layers))]
    path = write_keras2_file(tmp_path / "k2.h5", tf_keras_sequential_config(), layers, TF_KERAS_TRAINING, renamed,
                             version="2.2.4")  # standalone Keras 2.2 named its slots by number
    with pytest.warns(UserWarning, match=r"state \(13 arrays\) does not fit Adam .* starts fresh"):
        model = load_model(path)
    assert model.optimizer.iterations == 0 and model.get_weights()[0].shape == (10, 4)


def test_a_keras_2_weights_file_loads_into_a_model_built_here(tmp_path):
    layers = sequential_weights(np.random.default_rng(2))
    with h5py.File(tmp_path / "w.h5", "w") as h5:
        write_keras2_weights(h5, layers)
    model = Sequential([Input((6,), dtype="int32"), Embedding(10, 4), LSTM(5), Dense(1, activation="sigmoid")])
    model.load_weights(tmp_path / "w.h5")
    for mine, theirs in zip(model.get_weights(), [array for _, weights in layers for _, array in weights]):
        np.testing.assert_array_equal(mine, theirs)


# ---- files real Keras 2 wrote (tf.keras 2.15; tests/data/make_keras2_files.py says how) -------------
DATA = Path(__file__).parent / "data"


def keras2_expected():
    with np.load(DATA / "keras2_expected.npz", allow_pickle=False) as stored:
        return dict(stored)


def test_a_real_keras_2_model_file_predicts_and_trains_on_as_keras_2_did():
    """The seed model with Embedding(input_length=6, mask_zero=True), Adam of tf.keras's optimizers before 2.11."""
    expected = keras2_expected()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is dropped: the optimizer's state fits
        model = load_model(DATA / "keras2_sequential.h5")
    np.testing.assert_allclose(model.predict(expected["x"]), expected["sequential/predictions"], atol=1e-6)
    assert model.metrics == ["accuracy"] and int(model.optimizer.iterations) == 4
    model.fit(expected["x2"], expected["y2"], epochs=1, batch_size=8, shuffle=False, verbose=0)
    for i, weight in enumerate(model.get_weights()):  # one step from Keras 2's Adam moments, as Keras 2 took it
        np.testing.assert_allclose(weight, expected[f"sequential/after/{i}"], atol=1e-6)


def test_a_real_keras_2_functional_file_with_tf_keras_2_15_s_own_adam_trains_on_as_keras_2_did():
    """Two inputs, a shared Embedding, Bidirectional(GRU), two outputs; "Custom>Adam" with "Adam/m/<weight>:0"."""
    expected = keras2_expected()
    model = load_model(DATA / "keras2_functional.h5")
    x, x2 = [expected["x"], expected["x"][::-1]], [expected["x2"], expected["x2"][::-1]]
    for i, output in enumerate(model.predict(x)):
        np.testing.assert_allclose(output, expected[f"functional/predictions/{i}"], atol=1e-6)
    model.fit(x2, [np.eye(2)[expected["y2"]], expected["y2"] * 0.5], epochs=1, batch_size=8, shuffle=False, verbose=0)
    for i, weight in enumerate(model.get_weights()):
        np.testing.assert_allclose(weight, expected[f"functional/after/{i}"], atol=1e-6)


def test_a_real_keras_2_weights_file_loads_into_the_model_built_here():
    expected = keras2_expected()
    model = Sequential([Embedding(30, 4, input_length=6, mask_zero=True), LSTM(5), Dense(1, activation="sigmoid")])
    model.load_weights(DATA / "keras2_sequential_weights.h5")
    np.testing.assert_allclose(model.predict(expected["x"]), expected["sequential/predictions"], atol=1e-6)


# ---- file names --------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, name", [("save", "m.tge"), ("save", "m"), ("save", "m.weights.h5"),
                                        ("save", "m.H5"), ("save_weights", "w.keras"), ("save_weights", "w.bin")])
def test_a_name_whose_format_is_not_written_is_refused_and_nothing_is_written(tmp_path, call, name):
    model = trained(text_model())
    with pytest.raises(ValueError, match=r"supports .*\.npz \(this project's archive\)"):
        getattr(model, call)(tmp_path / name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["m.tge", "m.zip", "m.pkl"])
def test_loading_an_unknown_name_is_refused_naming_the_supported_ones(tmp_path, name):
    (tmp_path / name).write_bytes(b"anything")
    with pytest.raises(ValueError, match=r"load_model supports \.keras .*\.h5 or \.hdf5 .*\.npz"):
        load_model(tmp_path / name)
    with pytest.raises(ValueError, match=r"load_weights supports \.weights\.h5 .*\.h5 or \.hdf5 .*\.npz"):
        text_model().load_weights(tmp_path / name)


def test_the_native_archive_keeps_its_own_extension(tmp_path):
    model = trained(text_model())
    model.save(tmp_path / "m.npz")
    assert np.load(tmp_path / "m.npz", allow_pickle=False)["format"] == "tinygrad_embed/1"  # an .npz, as named
    np.testing.assert_array_equal(load_model(tmp_path / "m.npz").predict(ids(1)), model.predict(ids(1)))


# ---- files from strangers ----------------------------------------------------------------------------
def saved(tmp_path, name="m.h5"):
    model = trained(text_model())
    model.save(tmp_path / name)
    return model, tmp_path / name


def edit(path, change):
    with h5py.File(path, "r+") as h5:
        change(h5)
    return path


def first_weight_group(h5):
    return h5["model_weights"][[n.decode() for n in h5["model_weights"].attrs["layer_names"]][0]]


def replace_config(h5, text):
    h5.attrs["model_config"] = text


@pytest.mark.parametrize("link", ["external", "soft"])
def test_links_to_elsewhere_are_refused_and_no_other_file_is_opened(tmp_path, link):
    model, path = saved(tmp_path)
    other = tmp_path / "other.h5"
    model.save(other)

    def swap(h5):
        name = [n.decode() for n in h5["model_weights"].attrs["layer_names"]][0]
        del h5["model_weights"][name]
        h5["model_weights"][name] = (h5py.ExternalLink(str(other), f"/model_weights/{name}") if link == "external"
                                     else h5py.SoftLink(f"/model_weights/{model.layers[-1].name}"))
    edit(path, swap)
    other.unlink()  # were the external link followed, h5py would now fail with its own error
    with pytest.raises(ValueError, match=f"{'ExternalLink' if link == 'external' else 'SoftLink'}.*refused"):
        load_model(path)
    twin = text_model()
    before = twin.get_weights()
    with pytest.raises(ValueError, match="refused"):
        twin.load_weights(path)
    for mine, theirs in zip(twin.get_weights(), before):  # the model in memory is left as it was
        np.testing.assert_array_equal(mine, theirs)


def test_an_array_stored_in_another_file_is_refused(tmp_path):
    _, path = saved(tmp_path)
    (tmp_path / "raw.bin").write_bytes(np.zeros(80, np.float32).tobytes())

    def external(h5):
        group = first_weight_group(h5)
        name = [n.decode() for n in group.attrs["weight_names"]][0]
        del group[name]
        group.create_dataset(name, shape=(20, 4), dtype="float32", external=[(str(tmp_path / "raw.bin"), 0, 320)])
    edit(path, external)
    with pytest.raises(ValueError, match="outside the file; refused"):
        load_model(path)


def test_a_dataset_claiming_billions_of_elements_is_refused_before_anything_is_allocated(tmp_path):
    _, path = saved(tmp_path)

    def huge(h5):
        config = json.loads(h5.attrs["model_config"])
        config["config"]["layers"][1]["config"]["input_dim"] = 10 ** 9
        h5.attrs["model_config"] = json.dumps(config)
        group = first_weight_group(h5)
        name = [n.decode() for n in group.attrs["weight_names"]][0]
        del group[name]
        group.create_dataset(name, shape=(10 ** 9, 4), dtype="float32", chunks=(1024, 4))  # nothing written
    edit(path, huge)
    with pytest.raises(ValueError, match="declares shape \\(1000000000, 4\\).*stores only"):
        load_model(path)


@pytest.mark.parametrize("text, message", [
    ("[" * 100_000 + "]" * 100_000, "not JSON|nests more than"),
    ('{"class_name": "Sequential", "config": ' + "[" * 80 + "]" * 80 + "}", "nests more than 64 levels"),
    ("{not json", "not JSON"),
    (json.dumps([1, 2]), "model_config is not"),
    (json.dumps({"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "Lambda", "config": {"function": "os.system"}}]}}), "is a Lambda.*loading never runs code from a file"),
    (json.dumps({"class_name": "Subclassed", "config": {"layers": []}}), "unknown model class 'Subclassed'"),
])
def test_a_malformed_architecture_is_a_value_error_naming_the_file(tmp_path, text, message):
    _, path = saved(tmp_path)
    edit(path, lambda h5: replace_config(h5, text))
    with pytest.raises(ValueError, match=message) as error:
        load_model(path)
    assert str(path) in str(error.value)


def test_a_module_named_in_the_file_is_never_imported(tmp_path):
    _, path = saved(tmp_path)

    def rename(h5):
        config = json.loads(h5.attrs["model_config"])
        for entry in config["config"]["layers"]:
            entry["module"] = "tinygrad_embed_never_imported_module"
        h5.attrs["model_config"] = json.dumps(config)
    edit(path, rename)
    with pytest.raises(ValueError, match="tinygrad_embed_never_imported_module.Embedding.*a file never brings code"):
        load_model(path)  # a built-in's name from another module is that module's class: refused, never imported
    assert "tinygrad_embed_never_imported_module" not in sys.modules


@pytest.mark.parametrize("change, message", [
    (lambda h5: h5.attrs.__setitem__("model_config", 7), "not JSON text"),
    (lambda h5: h5.__delitem__("model_weights"), "has no member 'model_weights'"),
    (lambda h5: h5["model_weights"].attrs.__setitem__("layer_names", np.array([b"ghost"])), "no member 'ghost'"),
    (lambda h5: h5["model_weights"].attrs.__setitem__("layer_names", np.array([1.5, 2.5])), "not a name"),
    (lambda h5: first_weight_group(h5).attrs.__setitem__("weight_names", np.array([b"nowhere"])), "no member"),
])
def test_a_malformed_layout_is_a_value_error_naming_the_file(tmp_path, change, message):
    _, path = saved(tmp_path)
    edit(path, change)
    with pytest.raises(ValueError, match=message) as error:
        load_model(path)
    assert str(path) in str(error.value)


def test_an_array_of_python_objects_is_refused(tmp_path):
    _, path = saved(tmp_path)

    def strings(h5):
        group = first_weight_group(h5)
        name = [n.decode() for n in group.attrs["weight_names"]][0]
        del group[name]
        group.create_dataset(name, data=np.array([["a"] * 4] * 20, dtype=object), dtype=h5py.string_dtype())
    edit(path, strings)
    with pytest.raises(ValueError, match="is not an array of numbers"):
        load_model(path)


def test_weights_that_do_not_fit_are_refused_and_the_model_is_left_unchanged(tmp_path):
    _, path = saved(tmp_path)
    other = Sequential([Input((6,), dtype="int32"), Embedding(20, 4), LSTM(3), Dense(2)])
    before = other.get_weights()
    with pytest.raises(ValueError, match=r"holds the weights of 5 layers .* has 3 with weights"):
        other.load_weights(path)
    wrong = Sequential([Input((6,), dtype="int32"), Embedding(20, 4, mask_zero=True),
                        Bidirectional(LSTM(3, return_sequences=True)), BatchNormalization(), GRU(3), Dense(5)])
    untouched = wrong.get_weights()
    with pytest.raises(ValueError, match=r"has shape \(3, 2\), but weight 'kernel' of layer .* has shape \(3, 5\)"):
        wrong.load_weights(path)
    for mine, theirs in zip(other.get_weights() + wrong.get_weights(), before + untouched):
        np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("content", [b"", b"not an hdf5 file at all", b"\x89HDF\r\n\x1a\n" + b"\0" * 40])
def test_what_is_not_an_hdf5_file_is_a_value_error(tmp_path, content):
    (tmp_path / "m.h5").write_bytes(content)
    with pytest.raises(ValueError, match="not a readable Keras HDF5 file"):
        load_model(tmp_path / "m.h5")
    with pytest.raises(ValueError, match="not a readable Keras HDF5 file"):
        text_model().load_weights(tmp_path / "m.h5")


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file at"):
        load_model(tmp_path / "absent.h5")


def test_damaged_bytes_anywhere_give_a_value_error_or_a_loadable_model(tmp_path):
    """Truncations and flipped bytes all through a valid file: h5py's own errors never escape."""
    _, path = saved(tmp_path)
    original = path.read_bytes()
    rng = np.random.default_rng(0)
    damaged = tmp_path / "damaged.h5"
    cases = [original[:cut] for cut in rng.integers(0, len(original), 12)]
    for offset in rng.integers(0, len(original), 48):
        flipped = bytearray(original)
        flipped[offset] ^= 0xFF
        cases.append(bytes(flipped))
    twin = text_model()
    for content in cases:
        damaged.write_bytes(content)
        for load in (load_model, twin.load_weights):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    load(damaged)
            except ValueError as error:
                assert str(damaged) in str(error)


def test_a_weights_only_file_given_to_load_model_says_what_it_is(tmp_path):
    trained(text_model()).save_weights(tmp_path / "w.h5")
    with pytest.raises(ValueError, match="holds no model_config: a weights-only file"):
        load_model(tmp_path / "w.h5")


def test_a_list_of_names_too_long_for_one_attribute_is_split_as_keras_splits_it(tmp_path):
    from tinygrad_embed.saving.legacy_h5 import HEADER_LIMIT, _names, _write_names
    names = [f"layer_{i:05d}_{'x' * 40}" for i in range(2000)]  # 100 kB of names
    with h5py.File(tmp_path / "n.h5", "w") as h5:
        _write_names(h5, "layer_names", names)
        assert "layer_names" not in h5.attrs and all(h5.attrs[k].nbytes <= HEADER_LIMIT for k in h5.attrs)
        assert _names(h5, "layer_names", "n.h5") == names


def test_load_model_h5_without_compile_leaves_the_model_uncompiled(tmp_path):
    from tinygrad_embed.saving.legacy_h5 import load_model_h5
    model, path = saved(tmp_path)
    back = load_model_h5(path, compile=False)
    assert back.optimizer is None
    np.testing.assert_array_equal(back.predict(ids(1)), model.predict(ids(1)))


def test_keras_2_s_checkpoint_recipe_writes_legacy_files_that_load(tmp_path):
    """ModelCheckpoint("weights.{epoch:02d}.hdf5"), as Keras 2 tutorials wrote it, and a whole model as .h5."""
    from tinygrad_embed.callbacks import ModelCheckpoint
    model = text_model()
    model.fit(ids(), np.arange(4) % 2, epochs=2, batch_size=2, verbose=0,
              callbacks=[ModelCheckpoint(str(tmp_path / "weights.{epoch:02d}.hdf5"), monitor="loss"),
                         ModelCheckpoint(str(tmp_path / "best.h5"), monitor="loss", save_best_only=True,
                                         save_weights_only=False)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.h5", "weights.01.hdf5", "weights.02.hdf5"]
    twin = text_model()
    twin.load_weights(tmp_path / "weights.02.hdf5")
    np.testing.assert_array_equal(twin.predict(ids(1)), model.predict(ids(1)))
    assert load_model(tmp_path / "best.h5").optimizer.iterations in (2, 4)
