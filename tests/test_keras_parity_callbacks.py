"""The callback protocol against real Keras 3 (torch backend): the hooks fit (with validation), evaluate
and predict call, in order, with the keys of each logs dict and the params; the values of the batch
logs; and EarlyStopping, ReduceLROnPlateau, LearningRateScheduler and CSVLogger reacting the same way
to the same sequences of logged values. Skipped without Keras and torch, except under `make parity`
(TINYGRAD_EMBED_PARITY=required)."""
from types import SimpleNamespace

import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
require("torch")

import tinygrad_embed  # noqa: E402

RNG = np.random.default_rng(3)
X = RNG.standard_normal((10, 3)).astype("float32")
Y = (X.sum(axis=1) > 0).astype("float32")
# 10 samples in batches of 4: 3 training batches of 4, 4 and 2; the 5 validation samples make 2
KERNEL, BIAS = RNG.standard_normal((3, 1)).astype("float32"), np.array([0.1], "float32")

HOOKS = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
         "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
         "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end"]


def recorder(api):
    """A callback of `api` (keras or tinygrad_embed) that records every hook: its name, its epoch or
    batch, the sorted keys of its logs, and the params at each begin hook; batch_logs keeps the
    training batches' logs."""
    class Recorder(api.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.calls, self.batch_logs = [], []

    def hook(name):
        def record(self, *index, logs=None):
            if index and not isinstance(index[-1], int):  # logs given by position
                *index, logs = index
            self.calls.append((name, *index, None if logs is None else sorted(logs)))
            if name.endswith("_begin") and "batch" not in name and "epoch" not in name:
                self.calls.append(("params", dict(self.params or {})))
            if name == "on_train_batch_end":
                self.batch_logs.append(dict(logs))
        return record
    for name in HOOKS:
        setattr(Recorder, name, hook(name))
    return Recorder()


def model(api):
    """The same model, weights and compile arguments in Keras and here."""
    built = api.Sequential([api.Input(shape=(3,)), api.layers.Dense(1, activation="sigmoid")])
    built.layers[0].set_weights([KERNEL, BIAS])
    built.compile(optimizer=api.optimizers.SGD(0.1), loss="binary_crossentropy", metrics=["accuracy"])
    return built


def run_all(api):
    network, spy = model(api), recorder(api)
    network.fit(X, Y, validation_data=(X[:5], Y[:5]), epochs=2, batch_size=4, shuffle=False, verbose=0,
                callbacks=[spy])
    fit_calls, spy.calls = spy.calls, []
    network.evaluate(X, Y, batch_size=4, verbose=0, callbacks=[spy])
    evaluate_calls, spy.calls = spy.calls, []
    network.predict(X, batch_size=4, verbose=0, callbacks=[spy])
    return {"fit": fit_calls, "evaluate": evaluate_calls, "predict": spy.calls}, spy.batch_logs


@pytest.fixture(scope="module")
def both():
    return run_all(keras), run_all(tinygrad_embed)


@pytest.mark.parametrize("entry", ["fit", "evaluate", "predict"])
def test_the_hooks_are_called_in_keras_order_with_keras_logs_keys_and_params(both, entry):
    (theirs, _), (ours, _) = both
    assert ours[entry] == theirs[entry]


def test_training_batch_logs_are_the_running_means_keras_gives(both):
    (_, theirs), (_, ours) = both
    assert [sorted(logs) for logs in ours] == [sorted(logs) for logs in theirs]
    for mine, keras_logs in zip(ours, theirs):
        for key in keras_logs:
            assert mine[key] == pytest.approx(keras_logs[key], rel=1e-5), key


# ---- callbacks fed the same logged values -----------------------------------------------------------
class Weights:
    """A stand-in model for Keras's callbacks and ours: its weights name the epoch they are from."""

    def __init__(self, learning_rate):
        self.optimizer = SimpleNamespace(learning_rate=learning_rate)
        self.stop_training, self.epoch, self.restored = False, 0, None

    def get_weights(self):
        return [np.array(self.epoch)]

    def set_weights(self, weights):
        self.restored = int(weights[0])


def drive(callback, values, monitor="val_loss", learning_rate=1.0):
    """Run the callback's hooks over epochs logging `values`, as fit would; what it did."""
    stand_in = Weights(learning_rate)
    callback.set_model(stand_in)
    callback.on_train_begin({})
    rates, logged = [], []
    for epoch, value in enumerate(values):
        stand_in.epoch = epoch
        callback.on_epoch_begin(epoch, {})
        logs = {monitor: float(value), "loss": float(value) + 1}
        callback.on_epoch_end(epoch, logs)
        rates.append(float(stand_in.optimizer.learning_rate))
        logged.append(logs)
        if stand_in.stop_training:
            break
    callback.on_train_end({})
    return {"rates": rates, "logged": logged, "restored": stand_in.restored}


def plateaus(seed, length=30):
    """Values that fall, stall and jump about, with repeats: every branch of the monitors' rules."""
    rng = np.random.default_rng(seed)
    steps = rng.choice([-0.2, -0.01, 0.0, 0.0, 0.05, 0.3], size=length)
    return np.round(2 + np.cumsum(steps), 3)


EARLY_STOPPING = [{}, {"patience": 3}, {"patience": 2, "min_delta": 0.05}, {"patience": 3, "baseline": 1.5},
                  {"patience": 4, "restore_best_weights": True}, {"patience": 2, "start_from_epoch": 5},
                  {"patience": 30, "restore_best_weights": True, "start_from_epoch": 3},
                  {"patience": 2, "mode": "max", "restore_best_weights": True}]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("options", EARLY_STOPPING, ids=str)
def test_early_stopping_stops_and_restores_where_keras_does(options, seed):
    theirs, ours = (api.callbacks.EarlyStopping(**options) for api in (keras, tinygrad_embed))
    assert drive(ours, plateaus(seed)) == drive(theirs, plateaus(seed))
    assert (ours.stopped_epoch, ours.best, ours.best_epoch, ours.wait) == \
           (theirs.stopped_epoch, theirs.best, theirs.best_epoch, theirs.wait)


REDUCE = [{}, {"patience": 2, "factor": 0.5}, {"patience": 1, "factor": 0.5, "cooldown": 2},
          {"patience": 2, "factor": 0.2, "min_lr": 0.01}, {"patience": 1, "min_delta": 0.1, "mode": "min"},
          {"patience": 1, "factor": 0.5, "mode": "max", "cooldown": 1}]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("options", REDUCE, ids=str)
def test_reduce_lr_on_plateau_lowers_the_rate_when_keras_does(options, seed):
    theirs, ours = (api.callbacks.ReduceLROnPlateau(**options) for api in (keras, tinygrad_embed))
    assert drive(ours, plateaus(seed)) == drive(theirs, plateaus(seed))  # the same float arithmetic: exact


@pytest.mark.parametrize("schedule", [lambda epoch, rate: rate * 0.9 if epoch % 2 else rate,
                                      lambda epoch: 0.1 / (1 + epoch)], ids=["keras-3", "keras-2"])
def test_learning_rate_scheduler_sets_and_logs_the_rates_keras_does(schedule):
    theirs, ours = (api.callbacks.LearningRateScheduler(schedule) for api in (keras, tinygrad_embed))
    assert drive(ours, plateaus(0, 6), learning_rate=0.1) == drive(theirs, plateaus(0, 6), learning_rate=0.1)


@pytest.mark.parametrize("monitor", ["val_loss", "accuracy"])
@pytest.mark.parametrize("separator, append", [(",", False), (";", True)])
def test_csv_logger_writes_the_file_keras_writes(tmp_path, monitor, separator, append):
    files = {}
    for api in (keras, tinygrad_embed):
        path = tmp_path / f"{api.__name__}.csv"
        path.write_text("epoch,loss\n0,1.5\n" if append else "")
        for _ in range(2 if append else 1):  # appending: two runs into the same file
            drive(api.callbacks.CSVLogger(str(path), separator=separator, append=append), plateaus(1, 4), monitor)
        files[api.__name__] = path.read_bytes()
    assert files["tinygrad_embed"] == files["keras"]
