"""The one training loop: argument checks shared by every entry point, metric names, the callback
protocol's order and logs, masked steps left out of the metrics."""
import numpy as np
import pytest

from tinygrad_embed.callbacks import Callback
from tinygrad_embed.layers import Dense
from tinygrad_embed.layers import LSTM, Embedding, Input
from tinygrad_embed.models import Model, Sequential
from tinygrad_embed.optimizers import Adam
from tinygrad_embed.utils import set_random_seed
from test_models import small_model, toy_data

X, Y = toy_data(16)


def entry_points(model, batch_size):
    return {
        "fit": lambda: model.fit(X, Y, batch_size=batch_size, verbose=0),
        "evaluate": lambda: model.evaluate(X, Y, batch_size=batch_size, verbose=0),
        "predict": lambda: model.predict(X, batch_size=batch_size),
    }


@pytest.mark.parametrize("entry", ["fit", "evaluate", "predict"])
@pytest.mark.parametrize("batch_size, error", [(0, ValueError), (-1, ValueError), (2.5, TypeError), ("8", TypeError)])
def test_every_entry_point_rejects_a_bad_batch_size(entry, batch_size, error):
    model = small_model()
    before = model.get_weights()
    with pytest.raises(error, match="batch_size"):
        entry_points(model, batch_size)[entry]()
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("entry", ["fit", "evaluate", "train_on_batch", "test_on_batch"])
def test_every_entry_point_rejects_mismatched_lengths(entry):
    model = small_model()
    with pytest.raises(ValueError, match="16 and 15"):
        getattr(model, entry)(X, Y[:15], **({"verbose": 0} if entry in ("fit", "evaluate") else {}))


@pytest.mark.parametrize("kwargs, match", [({"epochs": -1}, "epochs"), ({"epochs": 1.5}, "epochs"),
                                           ({"validation_split": 1.0}, "validation_split"),
                                           ({"validation_split": -0.1}, "validation_split"),
                                           ({"validation_data": (X,)}, "validation_data"),
                                           ({"validation_data": (X, Y[:3])}, "16 and 3"),
                                           ({"validation_split": 0.5}, "leaves no sample")])
def test_fit_rejects_bad_arguments_before_training(kwargs, match):
    model = small_model()
    with pytest.raises(ValueError, match=match):
        model.fit(X[:1] if "leaves" in match else X, Y[:1] if "leaves" in match else Y, verbose=0, **kwargs)


def test_batch_size_none_means_keras_default_of_32():
    model = small_model()
    batches = []

    class Count(Callback):
        def on_train_batch_end(self, batch, logs=None):
            batches.append(batch)
    model.fit(*toy_data(70), batch_size=None, verbose=0, callbacks=[Count()])
    assert batches == [0, 1, 2]


@pytest.mark.parametrize("name", ["acc", "accuracy"])
def test_metrics_are_logged_under_the_name_given(name):
    model = small_model()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[name])
    history = model.fit(X, Y, epochs=1, verbose=0, validation_data=(X, Y))
    assert set(history.history) == {"loss", name, f"val_{name}", "val_loss"}
    assert set(model.evaluate(X, Y, verbose=0, return_dict=True)) == {"loss", name}


def test_stop_training_is_reset_before_on_train_begin_and_hooks_get_dicts():
    model = small_model()
    calls = []

    class Recorder(Callback):
        def on_train_begin(self, logs=None):
            calls.append(("train_begin", self.model.stop_training, logs))
            self.model.stop_training = True  # a callback may stop training before the first epoch

        def on_epoch_begin(self, epoch, logs=None):
            calls.append(("epoch_begin", epoch, logs))
    model.stop_training = True
    history = model.fit(X, Y, epochs=3, verbose=0, callbacks=[Recorder()])
    assert calls[0] == ("train_begin", False, {})
    assert calls[1] == ("epoch_begin", 0, {}) and len(history.history["loss"]) == 1


def test_fit_needs_compile_and_a_callback_must_be_a_callback():
    model = Sequential([Dense(1)])
    with pytest.raises(ValueError, match="compile"):
        model.fit(np.ones((4, 2)), np.ones(4), verbose=0)
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(TypeError, match="Callback instances"):
        model.fit(np.ones((4, 2)), np.ones(4), verbose=0, callbacks=[print])


def test_the_same_loop_serves_a_subclassed_model():
    class TwoDense(Model):
        def __init__(self):
            super().__init__()
            self.hidden, self.out = Dense(8, activation="relu"), Dense(1)

        def call(self, inputs):
            return self.out(self.hidden(inputs))
    model = TwoDense()
    model.compile(optimizer=Adam(0.02), loss="mse")
    x = np.random.default_rng(0).standard_normal((64, 3)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    history = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] / 2
    assert len(model.trainable_weights) == 4 and model.predict(x).shape == (64, 1)
    with pytest.raises(NotImplementedError, match="save_weights"):
        model.save("never-written.npz")


def test_functional_input_is_checked_against_the_embedding_before_training():
    ids = Input(shape=(12,), dtype="int64")
    model = Model(ids, Dense(1)(LSTM(2)(Embedding(20, 3)(ids))))
    model.compile(optimizer="adam", loss="mse")
    bad = X.copy()
    bad[-1, -1] = 20  # in the last batch: found before the first
    before = model.get_weights()
    with pytest.raises(IndexError, match="input_dim=20"):
        model.fit(bad, Y, batch_size=4, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_python_list_is_one_input_for_a_single_input_model_and_y_is_required():
    model = small_model()
    rows = X[:4].tolist()  # nested Python lists, as in many tutorials
    np.testing.assert_array_equal(model.predict(rows), model.predict(X[:4]))
    for call in (lambda: model.fit(X, verbose=0), lambda: model.evaluate(X, verbose=0)):
        with pytest.raises(ValueError, match="y is missing"):
            call()


def test_a_model_with_two_inputs_wants_a_list_of_two():
    a, b = Input(shape=(2,)), Input(shape=(3,))
    model = Model([a, b], Dense(1)(b))
    with pytest.raises(ValueError, match="takes 2 inputs: give x as a list of 2 arrays"):
        model.predict(np.ones((4, 3)))
    assert model.predict([np.ones((4, 2)), np.ones((4, 3))]).shape == (4, 1)


class Recorder(Callback):
    """Every hook called, with its batch or epoch number and the sorted keys of its logs."""

    def __init__(self):
        self.calls = []

    def __getattribute__(self, name):
        if name.startswith("on_"):
            return lambda *args: self.calls.append((name, *args[:-1], sorted(args[-1])))
        return super().__getattribute__(name)


def test_hooks_come_in_keras_order_with_validation_inside_the_epoch():
    model = small_model()
    recorder = Recorder()
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0, validation_data=(X[:4], Y[:4]), callbacks=[recorder])
    model.evaluate(X, Y, batch_size=16, verbose=0, callbacks=[recorder])
    model.predict(X, batch_size=16, callbacks=[recorder])
    logs = ["accuracy", "loss"]
    # keras/src/backend/torch/trainer.py: fit runs evaluate (on_test_*) between the last batch and on_epoch_end
    assert recorder.calls == [
        ("on_train_begin", []), ("on_epoch_begin", 0, []),
        ("on_train_batch_begin", 0, []), ("on_train_batch_end", 0, logs),
        ("on_train_batch_begin", 1, []), ("on_train_batch_end", 1, logs),
        ("on_test_begin", []), ("on_test_batch_begin", 0, []), ("on_test_batch_end", 0, logs), ("on_test_end", logs),
        ("on_epoch_end", 0, logs + ["val_accuracy", "val_loss"]), ("on_train_end", logs + ["val_accuracy", "val_loss"]),
        ("on_test_begin", []), ("on_test_batch_begin", 0, []), ("on_test_batch_end", 0, logs), ("on_test_end", logs),
        ("on_predict_begin", []), ("on_predict_batch_begin", 0, []), ("on_predict_batch_end", 0, ["outputs"]),
        ("on_predict_end", [])]


def test_batch_logs_are_the_epochs_running_means_and_params_are_keras():
    model = small_model()
    seen = []

    class Watch(Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append((dict(self.params), logs["loss"]))
    history = model.fit(*toy_data(20), batch_size=8, epochs=2, verbose=0, callbacks=[Watch()])
    assert seen[0][0] == {"verbose": 0, "epochs": 2, "steps": 3}
    assert [loss for _, loss in seen[2::3]] == history.history["loss"]  # each epoch's last batch: the epoch's mean


def test_metrics_skip_the_steps_a_mask_hides():
    set_random_seed(0)
    model = Sequential([Input((5,), dtype="int64"), Embedding(10, 4, mask_zero=True), LSTM(4, return_sequences=True),
                        Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(1)
    ids, labels = rng.integers(1, 10, (6, 5)), rng.integers(0, 3, (6, 5))
    ids[:3, 3:] = 0
    right = model.predict(ids).argmax(-1) == labels
    accuracy = model.evaluate(ids, labels, verbose=0, return_dict=True)["accuracy"]
    assert accuracy == pytest.approx(right[ids != 0].mean()) and right[ids != 0].mean() != right.mean()
