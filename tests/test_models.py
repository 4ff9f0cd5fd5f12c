"""Sequential: compile, fit, evaluate, predict, callbacks, errors before training, determinism."""
import os
import signal

import numpy as np
import pytest

from tinygrad_embed.callbacks import Callback, EarlyStopping, ModelCheckpoint
from tinygrad_embed.layers import LSTM, Dense, Embedding
from tinygrad_embed.models import Sequential
from tinygrad_embed.optimizers import Adam
from tinygrad_embed.utils import set_random_seed


def toy_data(n=96, steps=12, vocab=20, seed=0):
    """Sequences whose label says whether token 1 occurs: learnable by a small LSTM."""
    rng = np.random.default_rng(seed)
    x = rng.integers(2, vocab, (n, steps))
    y = rng.integers(0, 2, n)
    x[y == 1, rng.integers(0, steps, int(y.sum()))] = 1
    return x, y


def small_model(seed=0, mask_zero=False, learning_rate=0.01):
    set_random_seed(seed)
    model = Sequential([Embedding(20, 8, mask_zero=mask_zero), LSTM(6), Dense(1, activation="sigmoid")])
    model.compile(optimizer=Adam(learning_rate), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def test_fit_learns_and_history_has_keras_keys():
    x, y = toy_data()
    model = small_model()
    history = model.fit(x, y, epochs=12, batch_size=16, verbose=0, validation_data=toy_data(48, seed=1))
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 12 for v in history.history.values())
    assert history.history["loss"][-1] < history.history["loss"][0] - 0.1
    loss, accuracy = model.evaluate(x, y, verbose=0)
    assert accuracy > 0.8 and loss == pytest.approx(model.evaluate(x, y, batch_size=7, verbose=0)[0], rel=1e-5)


def test_predict_and_batch_methods():
    x, y = toy_data(10)
    model = small_model()
    assert model.predict(x, batch_size=3).shape == (10, 1)
    np.testing.assert_allclose(model.predict(x), model.predict_on_batch(x), rtol=1e-6)
    loss, accuracy = model.train_on_batch(x, y)
    assert np.isfinite(loss) and 0 <= accuracy <= 1
    assert model.test_on_batch(x, y)[0] < loss + 1


def test_validation_split_holds_out_the_last_samples():
    x, y = toy_data(40)
    model = small_model()
    seen = []

    class Spy(Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(batch)
    history = model.fit(x, y, epochs=1, batch_size=8, validation_split=0.25, verbose=0, callbacks=[Spy()])
    assert len(seen) == 4 and "val_loss" in history.history  # 30 training samples: 4 batches of 8


def test_same_seed_gives_bit_identical_training():
    x, y = toy_data()
    finals = []
    for _ in range(2):
        model = small_model(seed=7)
        model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        finals.append(model.get_weights())
    for a, b in zip(*finals):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad_x, bad_y, error, match", [
    (np.zeros((5, 12), int), np.zeros(4), ValueError, "5 and 4"),
    (np.zeros((4, 12), int), np.array([0, 1, np.nan, 0]), ValueError, "NaN"),
    (np.full((4, 12), 20), np.zeros(4), IndexError, "index 20 at position \\(0, 0\\).*input_dim=20"),
])
def test_bad_data_is_refused_before_any_training(bad_x, bad_y, error, match):
    model = small_model()
    model.fit(*toy_data(8), epochs=1, verbose=0)
    before = model.get_weights()
    with pytest.raises(error, match=match):
        model.fit(bad_x, bad_y, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_compile_refuses_unknown_names_listing_the_known_ones():
    model = small_model()
    with pytest.raises(ValueError, match="known: adagrad, adam, rmsprop, sgd"):
        model.compile(optimizer="adamw", loss="mse")
    with pytest.raises(ValueError, match="known: binary_crossentropy"):
        model.compile(optimizer="adam", loss="hinge")
    with pytest.raises(ValueError, match="unknown metric 'f1'; known names: accuracy"):
        model.compile(optimizer="adam", loss="mse", metrics=["f1"])


def test_categorical_accuracy_for_several_outputs():
    set_random_seed(0)
    model = Sequential([Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    x = np.eye(3, dtype=np.float32)
    model.build((None, 3))
    model.set_weights([np.eye(3) * 5, np.zeros(3)])
    assert model.evaluate(x, np.eye(3)[[0, 1, 2]], verbose=0)[1] == 1.0
    assert model.evaluate(x, np.eye(3)[[1, 2, 0]], verbose=0)[1] == 0.0


def test_verbose_two_prints_one_line_per_epoch_and_zero_prints_nothing(capsys):
    x, y = toy_data(16)
    small_model().fit(x, y, epochs=3, batch_size=8, verbose=2)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Epoch")]
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    small_model().fit(x, y, epochs=2, batch_size=8, verbose=0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_early_stopping_restores_the_best_weights():
    x, y = toy_data()
    model = small_model(learning_rate=0.05)
    stopper = EarlyStopping(monitor="loss", patience=0, restore_best_weights=True)

    class WorsenAfterSecondEpoch(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.optimizer.learning_rate = 5.0  # the next epoch gets worse
    history = model.fit(x, y, epochs=10, batch_size=16, verbose=0, callbacks=[WorsenAfterSecondEpoch(), stopper])
    assert stopper.stopped_epoch is not None and len(history.history["loss"]) < 10
    best = int(np.argmin(history.history["loss"]))
    assert history.history["loss"][best] == stopper.best


def test_model_checkpoint_writes_each_epoch_or_the_best(tmp_path):
    x, y = toy_data(32)
    model = small_model()
    model.fit(x, y, epochs=3, batch_size=16, verbose=0,
              callbacks=[ModelCheckpoint(str(tmp_path / "every-{epoch:02d}.npz"), save_best_only=False)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["every-01.npz", "every-02.npz", "every-03.npz"]
    best = tmp_path / "best.npz"
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_split=0.25,
              callbacks=[ModelCheckpoint(str(best), monitor="val_loss", save_best_only=True, save_weights_only=False)])
    assert best.exists()


def test_a_diverging_loss_stops_training_naming_epoch_and_batch(capsys):
    x, y = toy_data()
    model = small_model()

    class Poison(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                for w in self.model.trainable_weights:
                    w.data[...] = np.nan
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[Poison()])
    assert "loss became nan at epoch 1, batch 4" in capsys.readouterr().out
    assert model.stop_reason.startswith("TerminateOnNaN") and len(history.history["loss"]) == 1


def test_ctrl_c_stops_after_the_current_batch_and_keeps_history():
    x, y = toy_data()
    model = small_model()
    batches = []

    class PressCtrlC(Callback):
        def on_train_batch_begin(self, batch, logs=None):
            batches.append(batch)
            if batch == 1:
                os.kill(os.getpid(), signal.SIGINT)
    handler_before = signal.getsignal(signal.SIGINT)  # SIG_IGN when the tests run in the background
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=[PressCtrlC()])
    assert batches == [0, 1] and len(history.history["loss"]) == 1
    assert "interrupted" in model.stop_reason
    assert signal.getsignal(signal.SIGINT) is handler_before  # the handler is given back


def test_masked_model_trains():
    x, y = toy_data()
    x[:, :4] = 0  # pre-padding
    model = small_model(mask_zero=True)
    history = model.fit(x, y, epochs=6, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_summary_of_an_unbuilt_model_says_so(capsys):
    Sequential([Embedding(10, 2), LSTM(3)]).summary()
    printed = capsys.readouterr().out
    assert "0 (unbuilt)" in printed and "Total params: 20" in printed
