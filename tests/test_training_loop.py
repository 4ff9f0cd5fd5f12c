"""The one training loop: argument checks shared by every entry point, metric names, the callback
protocol's order."""
import numpy as np
import pytest

from tinygrad_embed.callbacks import Callback
from tinygrad_embed.layers import Dense
from tinygrad_embed.layers import LSTM, Embedding, Input
from tinygrad_embed.models import Model, Sequential
from tinygrad_embed.optimizers import Adam
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
