"""Ctrl-C during fit keeps BackupAndRestore's backup of the last finished epoch and never records the epoch it
cut short; the next fit resumes from there and ends as a run never interrupted. A backup made with other
callbacks, or other shuffled datasets, is refused rather than resumed inexactly."""
import json
import os
import signal

import numpy as np
import pytest

from tinygrad_embed.callbacks import BackupAndRestore, Callback, EarlyStopping, ReduceLROnPlateau
from tinygrad_embed.data import Dataset, restore_shuffle_positions, shuffle_positions
from tinygrad_embed.layers import LSTM, Dense, Embedding
from tinygrad_embed.models import Sequential
from tinygrad_embed.saving.archive import read_archive
from tinygrad_embed.utils import set_random_seed

X = np.random.default_rng(0).integers(1, 30, (64, 10))
Y = np.random.default_rng(1).integers(0, 2, 64).astype("float32")


class CtrlCAt(Callback):
    """Presses Ctrl-C (sends SIGINT to this process) after batch 1 of one epoch."""

    def __init__(self, epoch):
        self.at, self.epoch = epoch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == self.at and batch == 1:
            os.kill(os.getpid(), signal.SIGINT)


def model():
    set_random_seed(5)
    net = Sequential([Embedding(30, 4), LSTM(4), Dense(1, activation="sigmoid")])
    net.compile(optimizer="adam", loss="binary_crossentropy")
    return net


def fit(net, callbacks, epochs=5):
    return net.fit(X, Y, batch_size=16, epochs=epochs, verbose=0, callbacks=callbacks)


@pytest.mark.parametrize("delete_on_end", [True, False])
def test_ctrl_c_keeps_the_last_finished_epoch_and_the_next_fit_resumes_exactly(tmp_path, delete_on_end, capsys):
    straight = model()
    fit(straight, [])

    interrupted = model()
    history = fit(interrupted, [BackupAndRestore(tmp_path, delete_on_end=delete_on_end), CtrlCAt(2)])
    printed = capsys.readouterr().out
    assert "interrupted (Ctrl-C)" in printed and "kept" in printed and "(after epoch 2)" in printed
    assert history.epoch == [0, 1, 2]  # stopped in epoch 2 (its partial logs kept, as before)
    backup = tmp_path / "backup.npz"
    assert backup.exists()  # kept, even with delete_on_end
    assert int(read_archive(backup)["training/epochs_done"]) == 2  # epoch 2 was cut short: not recorded

    resumed = fit(interrupted, [BackupAndRestore(tmp_path, delete_on_end=delete_on_end)])
    assert resumed.epoch == [2, 3, 4]
    assert backup.exists() != delete_on_end
    for a, b in zip(straight.get_weights(), interrupted.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_keras_s_delete_checkpoint_is_understood(tmp_path):
    fit(model(), [BackupAndRestore(tmp_path, delete_checkpoint=False)], epochs=1)
    assert (tmp_path / "backup.npz").exists()
    with pytest.raises(ValueError, match="backup_dir"):
        BackupAndRestore("")


def test_the_backup_holds_the_learning_rate_and_the_callbacks_state(tmp_path):
    plateau = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=10.0)
    stopper = EarlyStopping(monitor="loss", min_delta=10.0, patience=10, restore_best_weights=True)
    net = model()
    fit(net, [BackupAndRestore(tmp_path, delete_on_end=False), plateau, stopper], epochs=3)
    arrays = read_archive(tmp_path / "backup.npz")
    assert float(arrays["training/learning_rate"]) == net.optimizer.learning_rate < 0.001
    states = {str(arrays[k]): json.loads(str(arrays[k[:-len("class")] + "scalars"]))
              for k in arrays if k.startswith("callback/") and k.endswith("/class")}
    assert states["ReduceLROnPlateau"] == {"best": plateau.best, "wait": plateau.wait,
                                           "cooldown_counter": plateau.cooldown_counter}
    assert states["EarlyStopping"]["wait"] == stopper.wait == 2
    best = [arrays[f"callback/01/list/best_weights/{i:04d}"] for i in range(len(stopper.best_weights))]
    for a, b in zip(best, stopper.best_weights, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_backup_made_with_other_callbacks_is_refused_and_left_alone(tmp_path):
    net = model()
    fit(net, [BackupAndRestore(tmp_path, delete_on_end=False), EarlyStopping(monitor="loss", patience=9)], epochs=2)
    before = net.get_weights()
    with pytest.raises(ValueError, match=r"callbacks \['EarlyStopping'\].*cannot resume exactly"):
        fit(net, [BackupAndRestore(tmp_path)])
    for a, b in zip(before, net.get_weights(), strict=True):  # refused before anything was restored
        np.testing.assert_array_equal(a, b)
    assert (tmp_path / "backup.npz").exists()


def test_a_backup_of_a_shuffle_this_run_lacks_is_refused_and_nothing_moves():
    live = Dataset.from_tensor_slices(np.arange(6)).shuffle(3, seed=24680)
    before = list(map(int, live))
    with pytest.raises(ValueError, match="shuffled from seed 123456789.*cannot resume exactly.*seed=123456789"):
        restore_shuffle_positions([[24680, 5, 2], [123456789, 2, 0]], "backup.npz")
    assert [p for p in shuffle_positions() if p[0] == 24680] == [[24680, 1, 0]]  # still after its first pass
    assert list(map(int, live)) != before  # its second pass: a new order, not a replay of a moved one


def test_a_shuffle_put_back_mid_pass_gives_the_rest_of_that_pass_then_the_next():
    def elements(dataset, count):
        iterator = iter(dataset.repeat())
        return [int(next(iterator)) for _ in range(count)]
    seed = 987654321  # unique to this test, so the position found is this dataset's
    straight = elements(Dataset.from_tensor_slices(np.arange(10)).shuffle(4, seed=seed), 27)
    first = Dataset.from_tensor_slices(np.arange(10)).shuffle(4, seed=seed)
    iterator = iter(first.repeat())
    seen = [int(next(iterator)) for _ in range(13)]  # pass 1, 3 elements in
    saved = [p for p in shuffle_positions() if p[0] == seed]
    assert saved == [[seed, 1, 3]]
    del iterator, first
    again = Dataset.from_tensor_slices(np.arange(10)).shuffle(4, seed=seed)
    restore_shuffle_positions(saved, "test")
    assert seen + elements(again, 14) == straight
    assert sorted(straight[:10]) == list(range(10)) and straight[:10] != straight[10:20]  # a new order per pass


def test_a_state_a_backup_cannot_hold_is_an_error_naming_it(tmp_path):
    class HoldsAnObject(Callback):
        def state_dict(self):
            return {"seen": {1, 2}}

        def load_state_dict(self, state):
            pass
    with pytest.raises(TypeError, match=r"HoldsAnObject.state_dict\(\) gave seen=\{1, 2\}"):
        fit(model(), [BackupAndRestore(tmp_path), HoldsAnObject()], epochs=1)
