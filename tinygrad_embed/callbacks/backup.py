"""BackupAndRestore: a run killed (or stopped with Ctrl-C) resumes exactly where its last finished epoch
left it, or says why it cannot. The backup is one pickle-free archive (saving/archive.py) holding all that
shapes the rest of the run: the weights and the optimizer's state, its learning rate (ReduceLROnPlateau
and LearningRateScheduler change it), the epochs done, the package's random state, where this project's
shuffled datasets are (data.shuffle_positions), and the state of every callback that has a state_dict()."""
from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from .. import helpers
from ..data import restore_shuffle_positions, shuffle_positions
from ..saving.archive import read_archive, write_archive
from .base import Callback


class BackupAndRestore(Callback):
    """Keras's BackupAndRestore. After every finished epoch it writes backup_dir/backup.npz (atomically: a
    kill mid-write leaves the previous backup whole); a later fit with the same callbacks on the same data
    starts from there and ends as a run never interrupted would. The backup is removed when training ends
    (delete_on_end, Keras's delete_checkpoint) but never after a Ctrl-C: that epoch was cut short, so it is
    not saved, and the next fit resumes from the one before. Its hooks run after every other callback's."""
    _run_last = True  # save what the others did at an epoch's end; restore after their on_train_begin reset
    _epochs_saved = 0  # the epochs done, as the backup on disk says

    def __init__(self, backup_dir: str | os.PathLike, delete_on_end: bool = True, *,
                 delete_checkpoint: bool | None = None) -> None:
        if not backup_dir:
            raise ValueError(f"Empty `backup_dir` argument passed: give the folder for the backup, got {backup_dir!r}")
        self.path = os.path.join(os.fspath(backup_dir), "backup.npz")
        self.delete_on_end = delete_on_end if delete_checkpoint is None else delete_checkpoint

    def on_train_begin(self, logs=None):
        if not os.path.exists(self.path):
            return
        arrays = read_archive(self.path)
        epochs, state = self._progress(arrays)  # checked, as the callbacks are, before anything changes
        stateful = self._matching_callbacks(arrays)
        restore_shuffle_positions(json.loads(str(arrays.get("training/shuffles", "[]"))), self.path)
        for index, callback in enumerate(stateful):
            callback.load_state_dict(_state_from_arrays(f"callback/{index:02d}", arrays))
        self.model._restore_from(arrays, self.path)
        if "training/learning_rate" in arrays:
            self.model.optimizer.learning_rate = float(arrays["training/learning_rate"])
        helpers.set_random_state(state)
        self.model._initial_epoch = self._epochs_saved = epochs

    def on_epoch_end(self, epoch, logs=None):
        if getattr(self.model, "_ctrl_c", False):  # stopped mid-epoch: the backup of the last whole one stays
            return
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        arrays = self.model._to_arrays()
        arrays["training/epochs_done"] = np.array(epoch + 1)
        arrays["training/random_state"] = np.array(json.dumps(helpers.get_random_state()))
        arrays["training/learning_rate"] = np.array(float(self.model.optimizer.learning_rate))
        arrays["training/shuffles"] = np.array(json.dumps(shuffle_positions()))
        for index, callback in enumerate(self._stateful()):
            arrays.update(_state_arrays(f"callback/{index:02d}", type(callback).__name__, callback.state_dict()))
        write_archive(self.path, arrays)
        self._epochs_saved = epoch + 1

    def on_train_end(self, logs=None):
        if getattr(self.model, "_ctrl_c", False) and os.path.exists(self.path):
            print(f"BackupAndRestore: kept {self.path} (after epoch {self._epochs_saved}); fit again with it "
                  "to resume there")
        elif self.delete_on_end and os.path.exists(self.path):
            os.remove(self.path)

    def _progress(self, arrays: dict) -> tuple[int, dict]:
        """The backup's epochs done and random state; ValueError naming the file when they are not what was written."""
        epochs, state = arrays.get("training/epochs_done"), arrays.get("training/random_state")
        try:
            if epochs is None or epochs.shape != () or epochs.dtype.kind not in "iu" or epochs < 0 or state is None:
                raise ValueError("its epoch count or random state is missing or not a count")
            state = json.loads(str(state))
            np.random.default_rng().bit_generator.state = state  # tried on a scratch generator first
        except (ValueError, TypeError, KeyError, RecursionError) as error:
            raise ValueError(f"{self.path!r} is not a backup this callback wrote: {error}") from None
        return int(epochs), state

    def _stateful(self) -> list[Callback]:
        """The run's other callbacks that carry a state (a state_dict method), in the list's order."""
        siblings = getattr(getattr(self, "_callback_list", None), "callbacks", [])
        return [c for c in siblings if c is not self and callable(getattr(c, "state_dict", None))]

    def _matching_callbacks(self, arrays: dict[str, np.ndarray]) -> list[Callback]:
        """This fit's stateful callbacks, if they are those of the run that was backed up; else ValueError."""
        saved = [str(arrays[key]) for key in sorted(k for k in arrays if k.startswith("callback/") and
                                                     k.endswith("/class"))]
        stateful = self._stateful()
        if saved != [type(c).__name__ for c in stateful]:
            raise ValueError(f"{self.path!r} was made by a run with the callbacks {saved} carrying state, this fit "
                             f"has {[type(c).__name__ for c in stateful]}: it cannot resume exactly. Pass the "
                             "callbacks the interrupted run had, or delete the backup to start over")
        return stateful


def _state_arrays(prefix: str, name: str, state: dict[str, Any]) -> dict[str, np.ndarray]:
    """A state_dict as archive entries: numbers, strings and None as JSON, arrays (and lists of them) as arrays."""
    scalars, arrays = {}, {f"{prefix}/class": np.array(name)}
    for key, value in state.items():
        if isinstance(value, np.ndarray):
            arrays[f"{prefix}/array/{key}"] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, np.ndarray) for v in value):
            scalars[key] = {"arrays": len(value)}
            arrays.update({f"{prefix}/list/{key}/{i:04d}": v for i, v in enumerate(value)})
        elif value is None or isinstance(value, (bool, int, float, str)):
            scalars[key] = value
        else:
            raise TypeError(f"{name}.state_dict() gave {key}={value!r:.60}: a backup holds numbers, strings, None, "
                            "numpy arrays and lists of arrays")
    arrays[f"{prefix}/scalars"] = np.array(json.dumps(scalars))
    return arrays


def _state_from_arrays(prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The inverse of _state_arrays."""
    state = {}
    for key, value in json.loads(str(arrays[f"{prefix}/scalars"])).items():
        is_list = isinstance(value, dict)
        state[key] = [arrays[f"{prefix}/list/{key}/{i:04d}"] for i in range(value["arrays"])] if is_list else value
    start = f"{prefix}/array/"
    state.update({k[len(start):]: v for k, v in arrays.items() if k.startswith(start)})
    return state
