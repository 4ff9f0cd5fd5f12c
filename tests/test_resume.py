"""A training killed with SIGKILL while it writes checkpoints resumes from its last backup and ends
with exactly the weights of a run that was never interrupted."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tinygrad_embed.models import load_model

TRAINING = """
import sys, time
import numpy as np
from tinygrad_embed.callbacks import BackupAndRestore, Callback
from tinygrad_embed.layers import LSTM, Dense, Embedding
from tinygrad_embed.models import Sequential
from tinygrad_embed.utils import set_random_seed

backup_dir, result, pause = sys.argv[1], sys.argv[2], float(sys.argv[3])
rng = np.random.default_rng(0)
x, y = rng.integers(1, 30, (96, 15)), rng.integers(0, 2, 96)

class Pause(Callback):  # gives the test time to kill the run between (and during) backups
    def on_train_batch_end(self, batch, logs=None):
        time.sleep(pause)

set_random_seed(3)
model = Sequential([Embedding(30, 8), LSTM(8), Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=8, batch_size=16, verbose=0, callbacks=[BackupAndRestore(backup_dir), Pause()])
model.save_weights(result)
"""


def run(tmp_path, backup_dir, result, pause=0.0, **popen):
    script = tmp_path / "train.py"
    script.write_text(TRAINING)
    return subprocess.Popen([sys.executable, str(script), str(backup_dir), str(result), str(pause)], **popen)


def weights(path):
    with np.load(path, allow_pickle=False) as stored:
        return [stored[k] for k in sorted(stored.files) if k.startswith("weight/")]


@pytest.mark.parametrize("kill_delay", [0.0, 0.13, 0.31])
def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path, kill_delay):
    straight = run(tmp_path, tmp_path / "straight", tmp_path / "straight.npz")
    assert straight.wait(timeout=300) == 0

    backup = tmp_path / "backup" / "backup.npz"
    victim = run(tmp_path, backup.parent, tmp_path / "resumed.npz", pause=0.02)
    deadline = time.time() + 120
    while not backup.exists():  # wait for the first backup, then kill it some time later, mid-training
        assert victim.poll() is None and time.time() < deadline, "the training ended before its first backup"
        time.sleep(0.01)
    time.sleep(kill_delay)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL

    checkpoint = load_model(backup)  # the last backup is whole and loads
    assert len(checkpoint.get_weights()) == 6 and checkpoint.optimizer.iterations > 0
    resumed = run(tmp_path, backup.parent, tmp_path / "resumed.npz")
    assert resumed.wait(timeout=300) == 0
    assert not backup.exists()  # removed once training completed
    for a, b in zip(weights(tmp_path / "straight.npz"), weights(tmp_path / "resumed.npz")):
        np.testing.assert_array_equal(a, b)
