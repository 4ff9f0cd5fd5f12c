"""The functional API: Input and Model(inputs, outputs), masks along the graph, everything Sequential
offers, several inputs and outputs, save and load."""
import numpy as np
import pytest

from tinygrad_embed.callbacks import Callback
from tinygrad_embed.layers import LSTM, Dense, Embedding, Input, InputLayer
from tinygrad_embed.models import Model, Sequential, load_model
from tinygrad_embed.utils import set_random_seed
from test_models import toy_data


def seed_models(mask_zero=True):
    """The seed model twice, Sequential and functional, with the same weights."""
    set_random_seed(0)
    sequential = Sequential([Embedding(20, 8, mask_zero=mask_zero), LSTM(6), Dense(1, activation="sigmoid")])
    sequential.build((None, 12))
    ids = Input(shape=(12,), dtype="int32")
    x = Embedding(20, 8, mask_zero=mask_zero)(ids)
    x = LSTM(6)(x)
    functional = Model(ids, Dense(1, activation="sigmoid")(x))
    functional.set_weights(sequential.get_weights())
    return sequential, functional


def test_the_functional_seed_model_equals_the_sequential_one_with_masks_flowing():
    sequential, functional = seed_models()
    x, _ = toy_data()
    x[:, :5] = 0  # pre-padding: the mask must reach the LSTM, else the outputs differ
    np.testing.assert_array_equal(functional.predict(x), sequential.predict(x))
    unmasked = seed_models(mask_zero=False)[1]
    assert not np.allclose(unmasked.predict(x), functional.predict(x))
    assert [type(layer).__name__ for layer in functional.layers] == ["InputLayer", "Embedding", "LSTM", "Dense"]


def test_fit_evaluate_and_batch_methods_match_sequential():
    x, y = toy_data()
    runs = []
    for model in seed_models():
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        set_random_seed(3)
        history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_split=0.25)
        runs.append((history.history, model.evaluate(x, y, verbose=0), model.train_on_batch(x[:8], y[:8]),
                     model.test_on_batch(x[:8], y[:8]), model.predict_on_batch(x[:4])))
    (h1, e1, t1, s1, p1), (h2, e2, t2, s2, p2) = runs
    assert h1 == h2 and e1 == e2 and t1 == t2 and s1 == s2
    np.testing.assert_array_equal(p1, p2)
    assert set(h1) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_callbacks_see_a_functional_model():
    _, model = seed_models()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    seen = []

    class Spy(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((self.model is model, sorted(logs)))
    model.fit(*toy_data(32), epochs=2, verbose=0, callbacks=[Spy()])
    assert seen == [(True, ["loss"])] * 2


def test_summary_has_keras_connected_to_column(capsys):
    _, model = seed_models()
    model.summary()
    printed = capsys.readouterr().out
    assert "Connected to" in printed and "input_layer" in printed
    assert "embedding" in printed.split("lstm")[1]  # the LSTM's row names the Embedding it reads
    assert "Total params: 527 " in printed  # 160 + 4 * 6 * (8 + 6 + 1) + 7


def test_several_inputs_and_outputs():
    set_random_seed(0)
    words, extra = Input(shape=(5,), dtype="int64", name="words"), Input(shape=(3,), name="extra")
    shared = Dense(4, activation="tanh")
    left = shared(LSTM(4)(Embedding(10, 3)(words)))
    right = shared(Dense(4)(extra))  # one layer called twice: its weights are shared
    model = Model([words, extra], [Dense(1)(left), Dense(2)(right)])
    ids, features = np.random.default_rng(0).integers(0, 10, (6, 5)), np.ones((6, 3), np.float32)
    first, second = model.predict([ids, features], batch_size=4)
    assert first.shape == (6, 1) and second.shape == (6, 2)
    assert sum(1 for layer in model.layers if layer is shared) == 1
    with pytest.raises(ValueError, match="takes 2 inputs"):
        model.predict(ids)
    with pytest.raises(ValueError, match="several outputs"):
        model.compile(optimizer="adam", loss="mse")
        model.fit([ids, features], np.zeros(6), verbose=0)


def test_a_disconnected_or_misfed_graph_is_refused_clearly():
    a, b = Input(shape=(3,)), Input(shape=(3,))
    out = Dense(1)(b)
    with pytest.raises(ValueError, match="not among the model's inputs"):
        Model(a, out)
    with pytest.raises(TypeError, match="KerasTensors"):
        Model(a, np.zeros(3))
    model = Model(b, out)
    with pytest.raises(ValueError, match=r"expects shape \(None, 3\)"):
        model.predict(np.zeros((2, 4)))
    with pytest.raises(TypeError, match="placeholder"):
        np.asarray(out)


def test_save_and_load_a_functional_model_with_a_shared_layer(tmp_path):
    set_random_seed(0)
    ids = Input(shape=(6,), dtype="int32")
    shared = Dense(5, activation="relu")
    x = LSTM(5, return_sequences=True)(Embedding(10, 4, mask_zero=True)(ids))
    model = Model(ids, Dense(1, activation="sigmoid")(shared(shared(LSTM(5)(x)))))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["acc"])
    data = np.random.default_rng(1).integers(0, 10, (16, 6))
    labels = np.arange(16) % 2
    model.fit(data, labels, epochs=1, batch_size=4, verbose=0)
    model.save(tmp_path / "f.npz")
    restored = load_model(tmp_path / "f.npz")
    np.testing.assert_array_equal(restored.predict(data), model.predict(data))
    assert [l.name for l in restored.layers] == [l.name for l in model.layers]
    assert restored.metrics == ["acc"] and restored.optimizer.iterations == model.optimizer.iterations
    set_random_seed(5)
    a = model.fit(data, labels, epochs=1, batch_size=4, verbose=0).history
    set_random_seed(5)
    b = restored.fit(data, labels, epochs=1, batch_size=4, verbose=0).history
    assert a == b  # the optimizer's state came back too


def test_get_weights_follow_keras_order_and_set_weights_checks_them():
    sequential, functional = seed_models()
    shapes = [w.shape for w in functional.get_weights()]
    assert shapes == [(20, 8), (8, 24), (6, 24), (24,), (6, 1), (1,)]
    with pytest.raises(ValueError, match="6 weight arrays"):
        functional.set_weights(functional.get_weights()[:-1])


def test_sequential_accepts_an_input_first_as_keras3_writes_it():
    model = Sequential([Input(shape=(4,)), Dense(2)])
    assert model.built and model.input_shape == (None, 4)
    assert not any(isinstance(layer, InputLayer) for layer in model.layers)


def test_a_model_inside_a_model_runs_but_is_refused_when_saved(tmp_path):
    inner = Sequential([Dense(3, input_shape=(4,))])
    outer = Sequential([Input(shape=(4,)), inner, Dense(1)])
    assert outer.predict(np.ones((2, 4))).shape == (2, 1) and len(outer.get_weights()) == 4
    with pytest.raises(NotImplementedError, match="holds models as layers"):
        outer.save(tmp_path / "nested.npz")
    assert not (tmp_path / "nested.npz").exists()
    outer.save_weights(tmp_path / "w.npz")
