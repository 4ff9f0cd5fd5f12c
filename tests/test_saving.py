"""Saving and loading: bit-exact round trips, atomic writes, and clear errors for bad files."""
import io
import json
import zipfile

import numpy as np
import pytest

import tinygrad_embed as tg
from tinygrad_embed import saving
from tinygrad_embed.layers import LSTM, Dense, Embedding
from tinygrad_embed.models import Sequential, load_model
from tinygrad_embed.utils import set_random_seed
from test_models import small_model, toy_data


def trained_model():
    model = small_model()
    model.fit(*toy_data(32), epochs=2, batch_size=16, verbose=0)
    return model


def test_weights_round_trip_bit_exactly(tmp_path):
    model = trained_model()
    model.save_weights(tmp_path / "w.npz")
    other = small_model(seed=99)
    other.build((None, 12))
    other.load_weights(tmp_path / "w.npz")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_model_round_trip_with_optimizer_state_continues_identically(tmp_path):
    x, y = toy_data(32)
    model = trained_model()
    model.save(tmp_path / "m.npz")
    restored = load_model(tmp_path / "m.npz")
    assert [type(layer).__name__ for layer in restored.layers] == ["Embedding", "LSTM", "Dense"]
    assert restored.optimizer.iterations == model.optimizer.iterations == 4
    np.testing.assert_array_equal(restored.predict(x), model.predict(x))
    set_random_seed(5)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    set_random_seed(5)
    restored.fit(x, y, epochs=1, batch_size=16, verbose=0)
    for a, b in zip(model.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_set_weights_takes_another_models_get_weights():
    set_random_seed(1)
    a = Sequential([Embedding(30, 4, input_length=5), LSTM(3), Dense(1)])
    b = Sequential([Embedding(30, 4, input_length=5), LSTM(3), Dense(1)])
    a.build(), b.build()
    b.set_weights(a.get_weights())
    ids = np.arange(10).reshape(2, 5)
    np.testing.assert_array_equal(a.predict(ids), b.predict(ids))


def test_a_crash_while_writing_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "w.npz"
    model = trained_model()
    model.save_weights(path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full (simulated)")
    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="simulated"):
        model.save_weights(path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["w.npz"]


def test_a_truncated_file_is_refused_clearly(tmp_path):
    path = tmp_path / "w.npz"
    trained_model().save_weights(path)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(ValueError, match="truncated or not an .npz"):
        small_model().load_weights(path)


def test_a_foreign_file_is_refused(tmp_path):
    path = tmp_path / "foreign.npz"
    np.savez(path, something=np.arange(3))
    with pytest.raises(ValueError, match="format.*missing"):
        small_model().load_weights(path)
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match="not a readable"):
        small_model().load_weights(tmp_path / "text.npz")


def test_weights_for_another_architecture_are_refused_naming_the_misfit(tmp_path):
    path = tmp_path / "w.npz"
    trained_model().save_weights(path)
    other = Sequential([Embedding(20, 8), LSTM(7), Dense(1)])
    other.build((None, 12))
    with pytest.raises(ValueError, match=r"do not fit.*kernel.*\(8, 28\).*\(8, 24\)"):
        other.load_weights(path)


def test_missing_files_raise_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "nothing.npz")


def _archive_with(path, members: dict):
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in members.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=True)
            archive.writestr(name + ".npy", buffer.getvalue())


def test_pickled_objects_are_never_loaded(tmp_path):
    path = tmp_path / "evil.npz"
    _archive_with(path, {"format": np.array(saving.FORMAT), "weight/0000": np.array([object()], dtype=object)})
    with pytest.raises(ValueError, match="Python objects.*refused"):
        small_model().load_weights(path)


def test_an_absurd_declared_size_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge.npz"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**6, 10**6)})
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array(saving.FORMAT))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("format.npy", buffer.getvalue())
        archive.writestr("weight/0000.npy", b"\x93NUMPY\x01\x00" + header.getvalue()[8:] + b"\x00" * 16)
    with pytest.raises(ValueError, match=r"declares shape \(1000000, 1000000\).*stores only"):
        saving.read_archive(path)


def test_a_model_file_with_an_unknown_layer_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    trained_model().save(path)
    arrays = saving.read_archive(path)
    config = json.loads(str(arrays["config"]))
    config["layers"][1]["class_name"] = "Conv2D"
    arrays["config"] = np.array(json.dumps(config))
    saving.write_archive(path, {k: v for k, v in arrays.items() if k != "format"})
    with pytest.raises(ValueError, match="cannot rebuild.*GRU"):
        load_model(path)


def test_a_file_written_before_the_layer_contract_still_loads(tmp_path):
    """Files of 2026-11-24 have no input_dtype, and their layer configs no trainable or batch_input_shape."""
    path = tmp_path / "old.npz"
    model = trained_model()
    model.save(path)
    arrays = saving.read_archive(path)
    config = json.loads(str(arrays["config"]))
    del config["input_dtype"]
    for layer in config["layers"]:
        for key in ("trainable", "batch_input_shape", "bias_initializer"):
            layer["config"].pop(key, None)
    arrays["config"] = np.array(json.dumps(config))
    saving.write_archive(path, {k: v for k, v in arrays.items() if k != "format"})
    x, _ = toy_data(8)
    np.testing.assert_array_equal(load_model(path).predict(x), model.predict(x))


def test_initializer_objects_in_layer_configs_survive_save_and_load(tmp_path):
    from tinygrad_embed import initializers
    matrix = np.arange(30, dtype=np.float32).reshape(10, 3)
    model = Sequential([Embedding(10, 3, embeddings_initializer=initializers.Constant(matrix), input_length=4),
                        Dense(2, kernel_initializer=initializers.RandomNormal(stddev=0.1, seed=3))])
    model.build()
    model.save(tmp_path / "m.npz")
    restored = load_model(tmp_path / "m.npz")
    for a, b in zip(model.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(a, b)
    kernel_init = initializers.get(restored.layers[1].get_config()["kernel_initializer"])
    assert kernel_init.get_config() == {"mean": 0.0, "stddev": 0.1, "seed": 3}
    restored.save(tmp_path / "again.npz")  # the rebuilt config is JSON as it stands


def test_a_layer_config_holding_a_function_is_refused_when_saved(tmp_path):
    model = Sequential([Dense(2, kernel_initializer=lambda shape, dtype=None: np.zeros(shape, dtype), input_shape=(3,))])
    with pytest.raises(TypeError, match="cannot be saved"):
        model.save(tmp_path / "m.npz")


def test_a_model_compiled_but_never_trained_saves_and_loads(tmp_path):
    model = tg.Sequential([tg.Input((3,)), tg.layers.Dense(1)])
    model.compile("adam", "mse", metrics=[tg.metrics.AUC(), "mae"])
    model.save(tmp_path / "m.npz")
    back = tg.models.load_model(tmp_path / "m.npz")
    assert back.optimizer.iterations == 0 and [type(m).__name__ for m in back.metrics] == ["AUC", "str"]


def test_a_loss_function_of_ones_own_is_refused_when_saving_not_when_loading(tmp_path):
    model = tg.Sequential([tg.Input((3,)), tg.layers.Dense(1)])
    model.compile("adam", lambda y, p: ((p - y) ** 2).mean(axis=-1))
    with pytest.raises(ValueError, match="cannot be saved: compile with a name or a built-in class"):
        model.save(tmp_path / "m.npz")
