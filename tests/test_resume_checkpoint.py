"""ModelCheckpoint in Keras 3's usual form writes whole-model .keras files that load_model opens; the file
name and save_weights_only must agree, as in Keras. And a save killed mid-write leaves the old file whole and,
after the next save, no temporary file behind."""
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from tinygrad_embed.callbacks import ModelCheckpoint
from tinygrad_embed.layers import LSTM, Dense, Embedding, Input
from tinygrad_embed.models import Sequential, load_model
from tinygrad_embed.saving.archive import read_archive, write_archive

pytest.importorskip("h5py")  # the keras-files extra: .keras and .weights.h5

X = np.random.default_rng(0).integers(1, 20, (32, 6))
Y = np.random.default_rng(1).integers(0, 2, 32).astype("float32")


def trained_with(checkpoint, epochs=2):
    model = Sequential([Input((6,), dtype="int32"), Embedding(20, 4), LSTM(3), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(X, Y, batch_size=16, epochs=epochs, verbose=0, callbacks=[checkpoint])
    return model


def test_model_checkpoint_in_keras_s_usual_form_writes_whole_keras_models(tmp_path):
    model = trained_with(ModelCheckpoint(str(tmp_path / "ckpt" / "model_{epoch}.keras")))
    assert sorted(os.listdir(tmp_path / "ckpt")) == ["model_1.keras", "model_2.keras"]
    last = load_model(tmp_path / "ckpt" / "model_2.keras")
    assert [type(layer).__name__ for layer in last.layers] == ["Embedding", "LSTM", "Dense"]
    for a, b in zip(model.get_weights(), last.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(X, verbose=0), last.predict(X, verbose=0))


@pytest.mark.parametrize("name, weights_only", [("w_{epoch}.weights.h5", True), ("w_{epoch}.npz", True),
                                                ("m_{epoch}.npz", False), ("m_{epoch}.h5", False),
                                                ("weights.{epoch:02d}.hdf5", True)])
def test_weights_only_and_native_checkpoints(tmp_path, name, weights_only):
    model = trained_with(ModelCheckpoint(str(tmp_path / name), save_weights_only=weights_only), epochs=1)
    path = tmp_path / name.format(epoch=1)
    fresh = Sequential([Input((6,), dtype="int32"), Embedding(20, 4), LSTM(3), Dense(1, activation="sigmoid")])
    fresh.load_weights(path)
    for a, b in zip(model.get_weights(), fresh.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    if name.endswith(".npz"):  # the native archive holds the architecture only when it is a whole model
        assert ("config" in read_archive(path)) == (not weights_only)


@pytest.mark.parametrize("name, weights_only, expected", [
    ("model.keras", True, "'.weights.h5' or '.h5' or '.hdf5' or '.npz'"),
    ("model.weights.h5", False, "'.keras' or '.h5' or '.hdf5' or '.npz'"),
    ("model_{epoch}.ckpt", False, "'.keras' or '.h5' or '.hdf5' or '.npz'"),
    ("model.h5x", True, "'.weights.h5' or '.h5' or '.hdf5' or '.npz'")])
def test_a_file_name_that_does_not_fit_save_weights_only_is_an_error(name, weights_only, expected):
    with pytest.raises(ValueError, match=rf"save_weights_only={weights_only}.*must end in {expected}.*{name}"):
        ModelCheckpoint(name, save_weights_only=weights_only)


KILLED_WRITER = """
import os, signal, sys
from tinygrad_embed.layers import Dense, Input
from tinygrad_embed.models import Sequential

def die_after_writing_more(fd):  # the file written, megabytes more, then the process is killed before the rename
    os.write(fd, b"x" * 3_000_000)
    os.kill(os.getpid(), signal.SIGKILL)

os.fsync = die_after_writing_more
model = Sequential([Input((3,)), Dense(2)])
model.compile(optimizer="adam", loss="mse")
model.save(sys.argv[1])
"""


@pytest.mark.parametrize("name", ["model.npz", "model.keras"])
def test_a_save_killed_mid_write_leaves_the_old_file_whole_and_the_next_save_no_leftover(tmp_path, name):
    target = tmp_path / name
    model = Sequential([Input((3,)), Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.save(target)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(target)], env=env, timeout=120)
    assert killed.returncode == -signal.SIGKILL
    leftovers = [entry for entry in os.listdir(tmp_path) if entry != name]
    assert len(leftovers) == 1 and os.path.getsize(tmp_path / leftovers[0]) >= 3_000_000  # the killed write's
    for a, b in zip(model.get_weights(), load_model(target).get_weights(), strict=True):  # the old file, whole
        np.testing.assert_array_equal(a, b)

    unrelated = tmp_path / f".other{name}.1.abc.tmp"  # another file's temporary: not this save's business
    unrelated.write_bytes(b"x")
    model.save(target)
    assert sorted(os.listdir(tmp_path)) == [unrelated.name, name]
    load_model(target)


def test_a_live_writer_s_temporary_file_is_left_alone(tmp_path):
    target = tmp_path / "model.npz"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        busy = tmp_path / f".model.npz.{sleeper.pid}.abc.tmp"  # as if that process were writing model.npz now
        busy.write_bytes(b"x")
        write_archive(target, {"weights": np.ones(2)})
        assert busy.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    write_archive(target, {"weights": np.ones(2)})
    assert not busy.exists()  # its process gone, the next save removes it
