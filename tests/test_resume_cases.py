"""A run killed with SIGKILL in the middle of an epoch resumes from its last backup and ends bit for bit as
the run never interrupted, in each case where something besides the weights shapes the rest of the run:
the learning rate and counters of ReduceLROnPlateau, EarlyStopping's best weights and patience, the shuffle
of this project's datasets (a pass per epoch, and passes cut by steps_per_epoch)."""
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

TRAINING = """
import json, os, signal, sys
import numpy as np
from tinygrad_embed.callbacks import BackupAndRestore, Callback, EarlyStopping, ReduceLROnPlateau
from tinygrad_embed.data import Dataset
from tinygrad_embed.layers import LSTM, Dense, Embedding
from tinygrad_embed.models import Sequential
from tinygrad_embed.utils import set_random_seed

case, backup_dir, result, kill_epoch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rng = np.random.default_rng(0)
x, y = rng.integers(1, 30, (96, 15)), rng.integers(0, 2, 96).astype("float32")

class KillAt(Callback):  # dies mid-epoch, after the backup of the epoch before
    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == kill_epoch and batch == 2:
            os.kill(os.getpid(), signal.SIGKILL)
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

set_random_seed(3)
data, more, steps = (x, y), {"batch_size": 16}, None
if case == "plateau":  # min_delta so large that no epoch improves: the rate halves every other epoch
    callbacks = [ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, cooldown=1, min_delta=10.0)]
elif case == "early":  # the same: stops after 3 epochs without improvement, back to epoch 1's weights
    callbacks = [EarlyStopping(monitor="loss", min_delta=10.0, patience=3, restore_best_weights=True)]
elif case == "dataset":  # a new order each epoch, from a seed drawn from the package's generator
    data, more, callbacks = (Dataset.from_tensor_slices((x, y)).shuffle(40).batch(16),), {}, []
else:  # "dataset_steps": epochs of 4 batches over passes of 6: the backups fall in the middle of passes
    data = (Dataset.from_tensor_slices((x, y)).shuffle(40, seed=7).batch(16).repeat(),)
    more, callbacks = {"steps_per_epoch": 4}, []
model = Sequential([Embedding(30, 8), LSTM(8), Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy")
history = model.fit(*data, epochs=7, verbose=0, callbacks=[BackupAndRestore(backup_dir), *callbacks, KillAt()],
                    **more)
model.save_weights(result)
with open(result + ".json", "w") as file:
    json.dump({"epochs": history.epoch, "loss": history.history["loss"],
               "learning_rate": float(model.optimizer.learning_rate)}, file)
"""


def run(tmp_path, case, backup_dir, result, kill_epoch=-1):
    script = tmp_path / "train.py"
    script.write_text(TRAINING)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    process = subprocess.run([sys.executable, str(script), case, str(backup_dir), str(result), str(kill_epoch)],
                             env=env, capture_output=True, text=True, timeout=300)
    return process


def outcome(result):
    with np.load(result, allow_pickle=False) as stored:
        weights = [stored[k] for k in sorted(stored.files) if k.startswith("weight/")]
    with open(f"{result}.json") as file:
        return weights, json.load(file)


@pytest.mark.parametrize("case", ["plateau", "early", "dataset", "dataset_steps"])
def test_a_run_killed_mid_epoch_resumes_bit_for_bit(tmp_path, case):
    straight = run(tmp_path, case, tmp_path / "straight", tmp_path / "straight.npz")
    assert straight.returncode == 0, straight.stderr
    victim = run(tmp_path, case, tmp_path / "backup", tmp_path / "resumed.npz", kill_epoch=3)
    assert victim.returncode == -signal.SIGKILL, victim.stderr
    assert (tmp_path / "backup" / "backup.npz").exists()
    resumed = run(tmp_path, case, tmp_path / "backup", tmp_path / "resumed.npz")
    assert resumed.returncode == 0, resumed.stderr

    weights, log = outcome(tmp_path / "straight.npz")
    resumed_weights, resumed_log = outcome(tmp_path / "resumed.npz")
    assert resumed_log["epochs"][0] == 3  # epochs 0-2 were backed up, the kill came in epoch 3
    assert resumed_log["epochs"] == log["epochs"][3:]  # EarlyStopping stops at the same epoch
    assert resumed_log["loss"] == log["loss"][3:]
    assert resumed_log["learning_rate"] == log["learning_rate"]
    for a, b in zip(weights, resumed_weights, strict=True):
        np.testing.assert_array_equal(a, b)
    if case == "plateau":
        assert log["learning_rate"] < 0.001  # the case tests something: the rate was lowered
    if case == "early":
        assert log["epochs"][-1] < 6  # it stopped early
