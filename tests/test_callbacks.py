"""The callback protocol (Callback, CallbackList) and the callbacks Keras users reach for: LambdaCallback,
LearningRateScheduler, ReduceLROnPlateau, EarlyStopping, CSVLogger, TensorBoard. Monitoring callbacks
are driven with hand-picked sequences of logged values, their expected reactions worked out by hand
from Keras 3's rules in the comments; tests/test_keras_parity_callbacks.py runs Keras's own on the same."""
import sys
import warnings

import numpy as np
import pytest

from tinygrad_embed.callbacks import (Callback, CallbackList, CSVLogger, EarlyStopping, History, LambdaCallback,
                                      LearningRateScheduler, ReduceLROnPlateau, TensorBoard)
from tinygrad_embed.layers import Dense, Input
from tinygrad_embed.models import Sequential
from tinygrad_embed.optimizers import SGD
from tinygrad_embed.utils import set_random_seed


class StubModel:
    """What a monitoring callback touches: an optimizer, stop_training, and weights that say which
    epoch they are from (get_weights gives [epoch], set_weights records what was put back)."""

    def __init__(self, learning_rate=1.0):
        self.optimizer, self.stop_training, self.epoch, self.restored = SGD(learning_rate), False, None, None

    def get_weights(self):
        return [np.array(self.epoch)]

    def set_weights(self, weights):
        self.restored = int(weights[0])


def drive(callback, values, monitor="val_loss", model=None):
    """Epochs with `monitor` logged as `values`, until the callback stops training; the logs seen."""
    model = model or StubModel()
    callbacks = CallbackList([callback], model=model)
    callbacks.on_train_begin()
    seen = []
    for epoch, value in enumerate(values):
        model.epoch = epoch
        callbacks.on_epoch_begin(epoch)
        logs = {monitor: value}
        callback.on_epoch_end(epoch, logs)  # directly: the callback's additions to logs are kept
        seen.append(logs)
        if model.stop_training:
            break
    callbacks.on_train_end()
    return seen


def tiny_model(learning_rate=0.1):
    set_random_seed(0)
    model = Sequential([Input(shape=(3,)), Dense(1)])
    model.compile(optimizer=SGD(learning_rate), loss="mse")
    return model


X = np.random.default_rng(0).standard_normal((12, 3))
Y = X @ np.array([1.0, -2.0, 0.5])


# ---- the protocol -----------------------------------------------------------------------------------
def test_every_hook_gets_a_dict_of_its_own_never_none():
    received = []

    class Record(Callback):
        def on_train_begin(self, logs=None):
            received.append(logs)
            logs["added"] = 1.0  # seen by the callbacks after this one, not by the caller

        def on_epoch_end(self, epoch, logs=None):
            received.append(logs)
    first, second = Record(), Record()
    callbacks = CallbackList([first, second])
    callbacks.on_train_begin(None)
    assert received == [{"added": 1.0}, {"added": 1.0}] and received[0] is received[1]
    caller = {"loss": np.float32(0.5), "accuracy": np.array(0.25)}
    callbacks.on_epoch_end(0, caller)
    assert list(received[-1]) == ["accuracy", "loss"]  # Keras sorts the keys
    assert all(type(v) is float for v in received[-1].values()) and received[-1] is not caller


def test_keras_2_batch_hooks_are_called_through_the_train_batch_hooks():
    calls = []

    class Old(Callback):
        def on_batch_begin(self, batch, logs=None):
            calls.append(("begin", batch, logs))

        def on_batch_end(self, batch, logs=None):
            calls.append(("end", batch, logs))
    callbacks = CallbackList([Old()])
    callbacks.on_train_batch_begin(3)
    callbacks.on_train_batch_end(3, {"loss": 1.0})
    assert calls == [("begin", 3, {}), ("end", 3, {"loss": 1.0})]


def test_the_list_hands_on_model_params_and_its_history():
    model, given = StubModel(), Callback()
    callbacks = CallbackList([given], add_history=True, model=model, verbose=0, epochs=2, steps=3)
    history = callbacks.callbacks[-1]
    assert isinstance(history, History) and model.history is history
    assert given.model is model and given.params == {"verbose": 0, "epochs": 2, "steps": 3}
    late = Callback()
    callbacks.append(late)
    assert late.model is model and late.params == given.params
    with pytest.raises(TypeError, match="Callback instances, got function"):
        callbacks.append(lambda: None)


def test_a_new_learning_rate_takes_effect_at_the_next_batch():
    model = tiny_model()
    snapshots = []

    class Freeze(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 0:
                self.model.optimizer.learning_rate = 0.0
                snapshots.append(self.model.get_weights())
    model.fit(X, Y, batch_size=4, epochs=1, shuffle=False, verbose=0, callbacks=[Freeze()])
    for after_first, final in zip(snapshots[0], model.get_weights()):
        np.testing.assert_array_equal(after_first, final)


def test_evaluate_and_predict_run_their_own_hooks():
    model = tiny_model()
    calls = []
    spy = LambdaCallback(on_test_begin=lambda logs: calls.append(("test_begin", logs)),
                         on_test_batch_end=lambda batch, logs: calls.append(("test_batch_end", batch, sorted(logs))),
                         on_test_end=lambda logs: calls.append(("test_end", logs)),
                         on_predict_batch_end=lambda batch, logs: calls.append(("predict_batch_end", batch,
                                                                                logs["outputs"].shape)),
                         on_predict_end=lambda logs: calls.append(("predict_end", logs)))
    loss = model.evaluate(X, Y, batch_size=8, verbose=0, callbacks=[spy])
    model.predict(X, batch_size=8, callbacks=[spy])
    assert calls == [("test_begin", {}), ("test_batch_end", 0, ["loss"]), ("test_batch_end", 1, ["loss"]),
                     ("test_end", {"loss": loss}),  # 12 samples: batches of 8 and 4
                     ("predict_batch_end", 0, (8, 1)), ("predict_batch_end", 1, (4, 1)), ("predict_end", {})]


def test_lambda_callback_runs_the_functions_given_for_any_hook():
    calls = []
    callback = LambdaCallback(on_epoch_end=lambda epoch, logs: calls.append(("epoch", epoch)),
                              on_train_begin=lambda logs: calls.append(("train", logs)),
                              on_test_end=lambda logs: calls.append(("test", logs)))
    callbacks = CallbackList([callback])
    callbacks.on_train_begin()
    callbacks.on_epoch_end(4, {})
    callbacks.on_test_end({"loss": 2.0})
    callbacks.on_train_end()
    assert calls == [("train", {}), ("epoch", 4), ("test", {"loss": 2.0})]
    with pytest.raises(TypeError, match="on_epoch_finish=, which is not a callback hook"):
        LambdaCallback(on_epoch_finish=print)


# ---- learning rates --------------------------------------------------------------------------------
def test_learning_rate_scheduler_sets_the_rate_at_each_epoch_start_and_logs_it():
    model = tiny_model(learning_rate=0.1)
    seen = []
    watch = LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(model.optimizer.learning_rate))
    scheduler = LearningRateScheduler(lambda epoch, rate: rate * 0.5 if epoch else rate)
    history = model.fit(X, Y, epochs=3, verbose=0, callbacks=[scheduler, watch])
    assert seen == [0.1, 0.05, 0.025]
    assert history.history["learning_rate"] == seen  # History comes after the callbacks given, as in Keras
    model.optimizer.learning_rate = 0.1
    logs = drive(LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1)), [1.0, 1.0], model=model)  # Keras 2's form
    assert [entry["learning_rate"] for entry in logs] == [0.01, 0.02]


def test_learning_rate_scheduler_refuses_a_schedule_giving_no_number():
    with pytest.raises(ValueError, match="must return a number .* got None for epoch 0"):
        drive(LearningRateScheduler(lambda epoch, rate: None), [1.0])
    with pytest.raises(TypeError, match="schedule must be a function"):
        LearningRateScheduler(0.1)


def test_reduce_lr_on_plateau_waits_cools_down_and_stops_at_min_lr():
    # patience 2, cooldown 1: the first plateau counts epochs 2 and 3 and halves the rate at 3; from then
    # on each epoch of cooldown is followed by one that counts, so every second epoch halves it: 0.5 at 3,
    # 0.25 at 5, 0.125 at 7, max(0.0625, min_lr) = 0.1 at 9; at 11 the rate is min_lr and stays there.
    callback = ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1, min_lr=0.1, min_delta=0.0)
    model = StubModel(learning_rate=1.0)
    callback.set_model(model)
    callback.on_train_begin({})
    rates = []
    for epoch, value in enumerate([1.0, 0.9] + [0.95] * 10):
        logs = {"val_loss": value}
        callback.on_epoch_end(epoch, logs)
        rates.append(model.optimizer.learning_rate)
        assert logs["learning_rate"] == (rates[-2] if epoch else 1.0)  # logged before this epoch's reduction
    assert rates == [1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125, 0.1, 0.1, 0.1]


def test_reduce_lr_on_plateau_needs_a_factor_below_one_and_warns_of_an_unlogged_monitor():
    with pytest.raises(ValueError, match="must be < 1.0, got 1.5"):
        ReduceLROnPlateau(factor=1.5)
    with pytest.warns(UserWarning, match="'val_loss', which is not logged; logged: loss, learning_rate"):
        drive(ReduceLROnPlateau(), [1.0], monitor="loss")


# ---- early stopping --------------------------------------------------------------------------------
def stopped_at(values, **options):
    callback = EarlyStopping(monitor="loss", **options)
    model = StubModel()
    drive(callback, values, monitor="loss", model=model)
    return callback.stopped_epoch, model.restored


def test_early_stopping_counts_epochs_without_improvement():
    # patience 2: epochs 3 and 4 do not improve on 0.8, so training stops at epoch 4
    assert stopped_at([1.0, 0.9, 0.8, 0.95, 0.95, 0.7], patience=2) == (4, None)
    # min_delta 0.15: 0.9 is too small a step down from 1.0, so epochs 1 and 2 count and 2 stops
    assert stopped_at([1.0, 0.9, 0.9, 0.7], patience=2, min_delta=0.15) == (2, None)


def test_early_stopping_with_a_baseline_keeps_counting_until_it_is_beaten():
    # baseline 0.5 is never beaten: wait grows 1, 2, 3 through the improving epochs 0-2, and the first
    # epoch that does not improve (3) stops at once, where without a baseline it would stop at 4
    assert stopped_at([1.0, 0.9, 0.8, 0.95, 0.95], patience=2, baseline=0.5) == (3, None)
    assert stopped_at([1.0, 0.9, 0.8, 0.95, 0.95], patience=2) == (4, None)


def test_early_stopping_ignores_the_epochs_before_start_from_epoch():
    # from epoch 0, epoch 1 (4 > 1) ends training; from epoch 2, the best is 3 and epoch 3 ends it
    assert stopped_at([1, 4, 3, 3, 3], patience=1) == (1, None)
    assert stopped_at([1, 4, 3, 3, 3], patience=1, start_from_epoch=2) == (3, None)


def test_early_stopping_restores_the_best_weights_at_the_end_even_without_stopping():
    assert stopped_at([3.0, 1.0, 2.0], patience=5, restore_best_weights=True) == (0, 1)
    assert stopped_at([3.0, 1.0, 2.0, 2.0], patience=2, restore_best_weights=True) == (3, 1)
    # start_from_epoch 2: the best is chosen among epochs 2 and 3 only
    assert stopped_at([0.5, 1.0, 3.0, 2.0], patience=5, restore_best_weights=True, start_from_epoch=2) == (0, 3)


def test_early_stopping_in_fit_puts_back_the_best_epochs_weights():
    model = tiny_model(learning_rate=0.05)
    weights = []

    class Diverge(Callback):
        def on_epoch_end(self, epoch, logs=None):
            weights.append(self.model.get_weights())
            if epoch == 1:
                self.model.optimizer.learning_rate = 2.0  # the next epochs get worse
    stopper = EarlyStopping(monitor="loss", patience=20, restore_best_weights=True)
    history = model.fit(X, Y, epochs=5, verbose=0, shuffle=False, callbacks=[Diverge(), stopper])
    best = int(np.argmin(history.history["loss"]))
    assert stopper.stopped_epoch == 0 and best == stopper.best_epoch and history.history["loss"][-1] > 10 * min(
        history.history["loss"])
    for restored, kept in zip(model.get_weights(), weights[best]):
        np.testing.assert_array_equal(restored, kept)


def test_auto_mode_needs_a_metric_whose_direction_is_known():
    assert stopped_at([0.5, 0.6, 0.7], patience=0) == (1, None)  # loss: lower is better
    callback = EarlyStopping(monitor="val_accuracy", patience=0)
    drive(callback, [0.5, 0.6, 0.55], monitor="val_accuracy")
    assert callback.stopped_epoch == 2  # accuracy: higher is better
    callback = EarlyStopping(monitor="val_accuracy_loss", patience=0)  # the loss of an output named accuracy
    drive(callback, [0.5, 0.6], monitor="val_accuracy_loss")
    assert callback.stopped_epoch == 1
    with pytest.raises(ValueError, match="cannot tell whether 'val_score' should go up or down"):
        drive(EarlyStopping(monitor="val_score"), [1.0, 2.0], monitor="val_score")
    with pytest.raises(ValueError, match="mode must be 'auto', 'min' or 'max', got 'minimum'"):
        EarlyStopping(mode="minimum")


def test_early_stopping_warns_when_its_monitor_is_not_logged():
    with pytest.warns(UserWarning, match="EarlyStopping is conditioned on 'val_loss', which is not logged"):
        drive(EarlyStopping(), [1.0, 2.0], monitor="loss")


# ---- CSVLogger -------------------------------------------------------------------------------------
def log_epochs(callback, epochs):
    callbacks = CallbackList([callback])
    callbacks.on_train_begin()
    for epoch, logs in enumerate(epochs):
        callbacks.on_epoch_end(epoch, logs)
    callbacks.on_train_end()


def test_csv_logger_writes_a_row_per_epoch_in_sorted_columns(tmp_path):
    path = tmp_path / "log.csv"
    log_epochs(CSVLogger(path), [{"loss": 0.5, "accuracy": 0.25}, {"loss": 0.25, "accuracy": 0.5}])
    # without validation Keras adds the val_ columns anyway, filled with NA; csv's rows end in \r\n
    assert path.read_bytes() == (b"epoch,accuracy,loss,val_accuracy,val_loss\r\n"
                                 b"0,0.25,0.5,NA,NA\r\n1,0.5,0.25,NA,NA\r\n")
    log_epochs(CSVLogger(path, separator=";", append=True), [{"loss": 0.125, "val_loss": 1.5}])
    assert path.read_bytes().endswith(b"1,0.5,0.25,NA,NA\r\n0;0.125;1.5\r\n")  # appended: no second header
    log_epochs(CSVLogger(path, separator=";"), [{"loss": 0.125, "val_loss": 1.5}])
    assert path.read_bytes() == b"epoch;loss;val_loss\r\n0;0.125;1.5\r\n"


def test_csv_logger_in_fit_logs_what_history_records(tmp_path):
    path = tmp_path / "fit.csv"
    history = tiny_model().fit(X, Y, epochs=2, verbose=0, validation_data=(X, Y), callbacks=[CSVLogger(path)])
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,loss,val_loss"
    assert [float(line.split(",")[1]) for line in lines[1:]] == history.history["loss"]


# ---- TensorBoard -----------------------------------------------------------------------------------
def read_scalars(run_dir):
    """{tag: [(step, value)]} as TensorBoard itself reads the event files of run_dir."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "histograms": 0})
    events.Reload()
    scalars = {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}
    return scalars, events.Tags()["histograms"]


def test_tensorboard_writes_the_logged_values_as_event_files(tmp_path):
    pytest.importorskip("tensorboardX")
    pytest.importorskip("tensorboard")
    model = tiny_model()
    board = TensorBoard(tmp_path, histogram_freq=1, update_freq="batch")
    history = model.fit(X, Y, batch_size=4, epochs=2, verbose=0, validation_data=(X, Y), callbacks=[board])
    train, histograms = read_scalars(tmp_path / "train")
    validation, _ = read_scalars(tmp_path / "validation")
    assert set(train) == {"epoch_loss", "epoch_learning_rate", "batch_loss"}
    np.testing.assert_allclose([v for _, v in train["epoch_loss"]], history.history["loss"], rtol=1e-6)  # float32
    assert [step for step, _ in train["epoch_loss"]] == [0, 1] and [v for _, v in train["epoch_learning_rate"]] \
        == pytest.approx([0.1, 0.1])
    assert [step for step, _ in train["batch_loss"]] == list(range(1, 7))  # 3 batches an epoch, counted on
    np.testing.assert_allclose([v for _, v in validation["epoch_loss"]], history.history["val_loss"], rtol=1e-6)
    dense = model.layers[0].name
    assert sorted(histograms) == [f"{dense}/bias/histogram", f"{dense}/kernel/histogram"]


def test_tensorboard_writes_evaluations_at_the_optimizer_step(tmp_path):
    pytest.importorskip("tensorboard")
    model = tiny_model()
    model.optimizer.iterations = 7
    callbacks = CallbackList([TensorBoard(tmp_path)], model=model)
    callbacks.on_test_begin()
    callbacks.on_test_end({"loss": 0.75})
    validation, _ = read_scalars(tmp_path / "validation")
    assert validation == {"evaluation_loss_vs_iterations": [(7, 0.75)]}


def test_tensorboard_says_which_extra_it_needs_and_what_it_does_not_write(tmp_path, monkeypatch):
    pytest.importorskip("tensorboardX")
    with pytest.raises(ValueError, match="write_images=True. is not supported"):
        TensorBoard(tmp_path, write_images=True)
    with pytest.raises(TypeError, match="unexpected keyword argument 'log_directory'"):
        TensorBoard(log_directory=tmp_path)
    with pytest.raises(ValueError, match="histogram_freq"):
        TensorBoard(tmp_path, histogram_freq=-1)
    with pytest.raises(TypeError, match="update_freq"):
        TensorBoard(tmp_path, update_freq="step")
    TensorBoard(tmp_path, write_graph=False, profile_batch=0)  # Keras's "off" values are accepted
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"pip install 'tinygrad_embed\[tensorboard\]'"):
        TensorBoard(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not list(tmp_path.iterdir())  # nothing written before training
