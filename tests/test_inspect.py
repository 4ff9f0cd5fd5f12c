"""tinygrad_embed.inspect, GradientStats and imdb.decode_review, each on a small case worked out by hand."""
import math

import numpy as np
import pytest

import tinygrad_embed as tg
from tinygrad_embed.callbacks import GradientStats
from tinygrad_embed.datasets import imdb
from tinygrad_embed.inspect import (export_projector, gate_saturation, gate_values, gradient_through_time,
                                    named_weights, nearest_words, rows_touched)
from tinygrad_embed.layers import LSTM, Dense, Embedding, Input, lstm_reference
from tinygrad_embed.losses import binary_crossentropy
from tinygrad_embed.models import Model, Sequential
from tinygrad_embed.optimizers import Adam

# ---- nearest_words ----------------------------------------------------------------------------------
# Row 0 is padding (no word). Against "king" = [1, 0]: "double" [2, 0] has cosine 1, "queen" [1, 1]
# 1/sqrt(2), "apple" [0, 1] 0, "anti" [-1, 0] -1.
TABLE = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [-1, 0], [2, 0]], np.float32)
WORD_INDEX = {"king": 1, "queen": 2, "apple": 3, "anti": 4, "double": 5}


def test_nearest_words_by_cosine_best_first():
    found = nearest_words(TABLE, WORD_INDEX, "king", k=10)
    assert [w for w, _ in found] == ["double", "queen", "apple", "anti"]  # the word itself is left out
    np.testing.assert_allclose([s for _, s in found], [1, 1 / math.sqrt(2), 0, -1], atol=1e-7)
    assert [w for w, _ in nearest_words(TABLE, WORD_INDEX, "king", k=2)] == ["double", "queen"]


def test_nearest_words_with_an_index_offset():
    shifted = {word: i - 3 for word, i in WORD_INDEX.items()}  # as imdb.get_word_index() with load_data's + 3
    assert nearest_words(TABLE, shifted, "king", k=4, index_offset=3) == nearest_words(TABLE, WORD_INDEX, "king", k=4)


def test_nearest_words_leaves_out_words_outside_the_table():
    assert "double" not in [w for w, _ in nearest_words(TABLE[:5], WORD_INDEX, "king")]


def test_nearest_words_names_a_missing_word_or_row():
    with pytest.raises(KeyError, match="'prince' is not in the word index"):
        nearest_words(TABLE, WORD_INDEX, "prince")
    with pytest.raises(IndexError, match="'double' has id 5.*outside the table's 4 rows"):
        nearest_words(TABLE[:4], WORD_INDEX, "double")
    with pytest.raises(ValueError, match="2-D float array"):
        nearest_words(TABLE[0], WORD_INDEX, "king")
    with pytest.raises(ValueError, match="k must be at least 1"):
        nearest_words(TABLE, WORD_INDEX, "king", k=0)


# ---- export_projector -------------------------------------------------------------------------------
def test_projector_files_read_back_exactly(tmp_path):
    table = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    words = ["<pad>", "the", "film", "é"]
    vectors, metadata = export_projector(table, words, tmp_path / "projector")
    lines = vectors.read_text().splitlines()
    assert len(lines) == 4 and all(len(line.split("\t")) == 3 for line in lines)  # no header, tab-separated
    read = np.array([[float(v) for v in line.split("\t")] for line in lines], np.float32)
    assert np.array_equal(read, table)
    assert metadata.read_text(encoding="utf-8").splitlines() == words  # one column: no header either


def test_projector_refuses_a_mismatch_or_a_tab(tmp_path):
    with pytest.raises(ValueError, match="the table has 2 rows, got 3 words"):
        export_projector(np.zeros((2, 3)), ["a", "b", "c"], tmp_path)
    with pytest.raises(ValueError, match="tab or a line break"):
        export_projector(np.zeros((2, 3)), ["a", "b\tc"], tmp_path)


# ---- rows_touched -------------------------------------------------------------------------------------
def test_rows_touched_counts_each_row_as_bincount():
    ids = np.random.default_rng(1).integers(0, 50, (8, 30))
    assert np.array_equal(rows_touched(ids, 60), np.bincount(ids.ravel(), minlength=60))


def test_rows_touched_are_the_rows_with_a_gradient():
    layer = Embedding(20, 4)
    ids = np.array([[3, 3, 7], [0, 7, 19]])
    layer(ids).sum().backward()
    has_grad = np.abs(layer.embeddings.grad).sum(axis=1) > 0
    assert np.array_equal(has_grad, rows_touched(ids, 20) > 0)


def test_rows_touched_refuses_an_id_outside_the_table():
    with pytest.raises(IndexError, match="index 9 at position"):
        rows_touched(np.array([[1, 9]]), 9)


# ---- gradient_through_time --------------------------------------------------------------------------
def seed_like(mask_zero=False, fused=True, functional=False):
    """Embedding -> LSTM -> Dense(sigmoid) in float64, compiled with binary cross-entropy."""
    layers = [Embedding(12, 3, mask_zero=mask_zero, dtype="float64"), LSTM(4, fused=fused, dtype="float64"),
              Dense(1, activation="sigmoid", dtype="float64")]
    if functional:
        inputs = Input((6,), dtype="int64")
        x = inputs
        for layer in layers:
            x = layer(x)
        model = Model(inputs, x)
    else:
        model = Sequential(layers)
        model(np.ones((1, 6), np.int64))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


IDS = np.array([[0, 0, 5, 2, 9, 1], [4, 11, 3, 3, 7, 8], [0, 0, 0, 0, 6, 10]])
LABELS = np.array([1.0, 0.0, 1.0])


def reference_gradient(model, ids, labels, mask=None):
    """d(mean binary cross-entropy)/d(embedding output), composed from ops: the reference LSTM."""
    table, kernel, recurrent, bias, dense_kernel, dense_bias = model.get_weights()
    e = tg.Tensor(table[ids], requires_grad=True)
    hc = lstm_reference(e, tg.Tensor(kernel), tg.Tensor(recurrent), tg.Tensor(bias), mask=mask)
    h = hc[:, -1, :4]
    prediction = (h @ tg.Tensor(dense_kernel) + tg.Tensor(dense_bias)).sigmoid()
    binary_crossentropy(labels[:, None], prediction).mean().backward()
    return e.grad


@pytest.mark.parametrize("mask_zero", [False, True])
def test_gradient_through_time_equals_the_composed_reference(mask_zero):
    model = seed_like(mask_zero)
    expected = reference_gradient(model, IDS, LABELS, mask=IDS != 0 if mask_zero else None)
    got = gradient_through_time(model, IDS, LABELS)
    assert got.shape == (3, 6)
    np.testing.assert_allclose(got, np.linalg.norm(expected, axis=-1), rtol=1e-10)


def test_gradient_through_time_equals_finite_differences():
    model = seed_like()
    lstm, dense = model.layers[1], model.layers[2]
    e = model.layers[0].get_weights()[0][IDS]

    def loss(values):
        with tg.no_grad():
            return float(binary_crossentropy(LABELS[:, None], dense(lstm(tg.Tensor(values)))).data.mean())
    numeric, eps = np.zeros_like(e), 1e-6
    for position in np.ndindex(e.shape):
        up, down = e.copy(), e.copy()
        up[position] += eps
        down[position] -= eps
        numeric[position] = (loss(up) - loss(down)) / (2 * eps)
    # central differences in float64: error ~ eps^2 (truncation) + 1e-16 / eps (rounding), about 1e-10
    np.testing.assert_allclose(gradient_through_time(model, IDS, LABELS), np.linalg.norm(numeric, axis=-1),
                               rtol=1e-6, atol=1e-9)


def test_functional_and_sequential_models_give_the_same_gradient():
    sequential, functional = seed_like(), seed_like(functional=True)
    functional.set_weights(sequential.get_weights())
    np.testing.assert_array_equal(gradient_through_time(functional, IDS, LABELS),
                                  gradient_through_time(sequential, IDS, LABELS))


def test_masked_steps_get_no_gradient_and_unmasked_padding_does():
    masked = gradient_through_time(seed_like(mask_zero=True), IDS, LABELS)
    assert np.all(masked[IDS == 0] == 0) and np.all(masked[IDS != 0] > 0)
    assert np.all(gradient_through_time(seed_like(), IDS, LABELS) > 0)  # without the mask padding is a word too


def test_the_loss_is_the_batch_mean():
    model = seed_like()
    whole = gradient_through_time(model, IDS, LABELS)
    alone = gradient_through_time(model, IDS[1:2], LABELS[1:2])
    np.testing.assert_allclose(whole[1] * 3, alone[0], rtol=1e-12)  # sample 1's share of a mean over 3


def test_gradient_through_time_leaves_the_weights_and_their_grads_alone():
    model = seed_like()
    before = model.get_weights()
    kernel = model.layers[1].kernel
    kernel.grad = np.full(kernel.shape, 7.0)
    gradient_through_time(model, IDS, LABELS)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert np.all(kernel.grad == 7.0) and model.layers[0].embeddings.grad is None


def test_gradient_through_time_refuses_bad_input():
    no_embedding = Sequential([Dense(1)])
    no_embedding.compile(loss="mse")
    with pytest.raises(ValueError, match="needs a model with an Embedding layer; this Sequential has \\['Dense'\\]"):
        gradient_through_time(no_embedding, IDS, LABELS)
    uncompiled = Sequential([Embedding(12, 3), LSTM(2)])
    with pytest.raises(ValueError, match="compiled model"):
        gradient_through_time(uncompiled, IDS, LABELS)
    with pytest.raises(ValueError, match=r"shape \(batch, steps\), got shape \(6,\)"):
        gradient_through_time(seed_like(), IDS[0], LABELS)


# ---- gate_saturation ------------------------------------------------------------------------------------
def constant_lstm(recurrent_kernel, bias, features=1, units=1):
    layer = LSTM(units, dtype="float64")
    layer(np.zeros((1, 1, features)))
    layer.set_weights([np.zeros((features, 4 * units)), np.array(recurrent_kernel, float), np.array(bias, float)])
    return layer


def test_gate_saturation_of_constant_gates():
    # kernels zero: every gate is the sigmoid of its bias. Unit 0: i = s(10) > 0.95, f = s(-10) < 0.05,
    # o = s(0) = 0.5; unit 1: i = f = s(0), o = s(3) = 0.9526 > 0.95. So half of each gate is saturated.
    layer = constant_lstm(np.zeros((2, 8)), [10, 0, -10, 0, 0, 0, 0, 3], units=2)
    fractions = gate_saturation(layer, np.zeros((3, 4, 1)))
    assert set(fractions) == {"input", "forget", "output"}
    for values in fractions.values():
        np.testing.assert_array_equal(values, [0.5] * 4)


def test_gate_saturation_follows_the_state_and_skips_masked_rows():
    # One unit, candidate bias 1, recurrent weights 100 (input gate), 0 (forget), -100 (output).
    # Step 0: h = 0, so i = f = o = s(0) = 0.5, none saturated; c = 0.5 tanh(1) = 0.3808,
    # h = 0.5 tanh(0.3808) = 0.1817. Step 1: i = s(18.2) and o = s(-18.2) saturate, f = s(0) does not.
    layer = constant_lstm([[100, 0, 0, -100]], [0, 0, 1, 0])
    fractions = gate_saturation(layer, np.zeros((1, 2, 1)))
    np.testing.assert_array_equal(fractions["input"], [0, 1])
    np.testing.assert_array_equal(fractions["forget"], [0, 0])
    np.testing.assert_array_equal(fractions["output"], [0, 1])
    model = Sequential([Embedding(3, 1, mask_zero=True, dtype="float64"), layer])
    model.layers[0].set_weights([np.zeros((3, 1))])
    masked = gate_saturation(model, np.array([[0, 1, 1]]))  # step 0 masked: the state is still 0 at step 1
    np.testing.assert_array_equal(masked["input"], [np.nan, 0, 1])


def test_gate_values_per_step_row_and_unit_nan_where_masked():
    model = Sequential([Embedding(4, 3, mask_zero=True, dtype="float64"), LSTM(2, dtype="float64")])
    values = gate_values(model, np.array([[0, 1, 2], [1, 2, 0]]))
    assert set(values) == {"input", "forget", "output"} and values["input"].shape == (3, 2, 2)  # steps, batch, units
    assert np.isnan(values["forget"][0, 0]).all() and np.isnan(values["output"][2, 1]).all()
    assert np.count_nonzero(np.isnan(values["input"])) == 4  # only the two masked (step, row) pairs
    assert np.all((values["input"][0, 1] > 0) & (values["input"][0, 1] < 1))


def test_gate_values_of_go_backwards_are_those_of_the_reversed_sequence():
    x = np.random.default_rng(2).standard_normal((2, 5, 4))
    forward, backward = LSTM(3, dtype="float64"), LSTM(3, go_backwards=True, dtype="float64")
    forward(x), backward(x)
    backward.set_weights(forward.get_weights())
    for name, values in gate_values(backward, x).items():
        np.testing.assert_array_equal(values, gate_values(forward, x[:, ::-1])[name])


def test_gate_saturation_refuses_a_model_without_lstm_and_bad_thresholds():
    with pytest.raises(ValueError, match="needs a model with an LSTM layer"):
        gate_saturation(Sequential([Embedding(3, 2)]), np.zeros((1, 2), int))
    with pytest.raises(ValueError, match="0 <= low < high <= 1"):
        gate_saturation(constant_lstm(np.zeros((1, 4)), np.zeros(4)), np.zeros((1, 2, 1)), low=0.9, high=0.1)


# ---- named_weights and decode_review ---------------------------------------------------------------------
def test_named_weights_follow_the_weights_order():
    model = seed_like(functional=True)
    _, embedding, lstm, dense = (layer.name for layer in model.layers)  # an InputLayer first
    names = named_weights(model)
    assert list(names) == [f"{embedding}/embeddings", f"{lstm}/kernel", f"{lstm}/recurrent_kernel", f"{lstm}/bias",
                           f"{dense}/kernel", f"{dense}/bias"]
    assert list(names.values()) == model.weights


def test_decode_review_puts_a_question_mark_for_ids_without_a_word():
    word_index = {"the": 1, "film": 2}  # load_data's ids: rank + 3
    assert imdb.decode_review([1, 4, 5, 2, 0, 9], word_index=word_index) == "? the film ? ? ?"
    assert imdb.decode_review([1, 2], index_offset=0, word_index=word_index) == "the film"
    with pytest.raises(ValueError, match="one review"):
        imdb.decode_review([[4, 5]], word_index=word_index)


def test_decode_review_reads_the_word_index_of_the_dataset(tmp_path, monkeypatch):
    from test_imdb import build_archive
    monkeypatch.setenv("TINYGRAD_EMBED_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TINYGRAD_EMBED_IMDB", str(build_archive(tmp_path / "small.tar.gz")))
    (x_train, _), _ = imdb.load_data()
    words = imdb.decode_review(x_train[0]).split(" ")
    assert words[0] == "?"  # the start mark, id 1
    texts = [t.lower() for t in imdb.load_texts()[0][0]]
    assert any(all(w in text for w in words[1:]) for text in texts)


# ---- GradientStats ------------------------------------------------------------------------------------------
def adam_by_hand(weights, gradient_of, steps, lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    """Keras's Adam, written out: the weights after each step and each step's gradients."""
    m = [np.zeros_like(w) for w in weights]
    v = [np.zeros_like(w) for w in weights]
    history = []
    for t in range(1, steps + 1):
        grads = gradient_of(weights)
        new = []
        for i, (w, g) in enumerate(zip(weights, grads)):
            m[i] = m[i] + (g - m[i]) * (1 - b1)
            v[i] = v[i] + (g * g - v[i]) * (1 - b2)
            new.append(w - lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m[i] / (np.sqrt(v[i]) + eps))
        history.append((weights, grads, new))
        weights = new
    return history


def small_regression():
    model = Sequential([Dense(2, input_shape=(3,), activation="tanh", dtype="float64", bias_initializer="ones"),
                        Dense(1, dtype="float64", bias_initializer="ones")])
    model.compile(optimizer=Adam(), loss="mse")
    rng = np.random.default_rng(3)
    return model, rng.standard_normal((5, 3)), rng.standard_normal((5, 1))


def test_gradient_stats_records_norms_and_ratios_of_a_manual_adam_step():
    model, x, y = small_regression()
    twin, _, _ = small_regression()

    def gradient_of(weights):
        twin.set_weights(weights)
        twin.loss(y, twin(x)).mean().backward()
        grads = [w.grad.copy() for w in twin.trainable_weights]
        for w in twin.trainable_weights:
            w.zero_grad()
        return grads
    expected = adam_by_hand(model.get_weights(), gradient_of, steps=3)
    history = model.fit(x, y, batch_size=5, epochs=3, shuffle=False, verbose=0, callbacks=[GradientStats()]).history
    names = list(named_weights(model))
    assert history["gradient_stats/step"] == [0, 1, 2]
    for i, name in enumerate(names):
        np.testing.assert_allclose(history[f"gradient_norm/{name}"], [np.linalg.norm(g[i]) for _, g, _ in expected],
                                   rtol=1e-12)
        ratios = [np.linalg.norm(new[i] - old[i]) / np.linalg.norm(old[i]) for old, _, new in expected]
        np.testing.assert_allclose(history[f"update_ratio/{name}"], ratios, rtol=1e-9)


def test_gradient_stats_every_n_batches_and_the_optimizer_put_back():
    model, x, y = small_regression()
    history = model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0, callbacks=[GradientStats(every=2)])
    assert history.history["gradient_stats/step"] == [0, 2, 4]  # 3 batches an epoch, 6 in all
    first = next(iter(named_weights(model)))
    assert len(history.history[f"gradient_norm/{first}"]) == 3
    assert "apply_gradients" not in vars(model.optimizer)  # the class's method again
    assert model.history is history
    with pytest.raises(ValueError, match="every must be at least 1"):
        GradientStats(every=0)


def test_gradient_stats_plot():
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    model, x, y = small_regression()
    history = model.fit(x, y, batch_size=5, epochs=2, verbose=0, callbacks=[GradientStats()])
    figure = GradientStats.plot(history.history)
    assert [len(axis.lines) for axis in figure.axes] == [4, 4]  # one line per weight, in each panel
    line = GradientStats.plot(history.history, window=2).axes[0].lines[0]
    first = history.history[next(k for k in history.history if k.startswith("gradient_norm/"))]
    assert list(line.get_xdata()) == [1] and list(line.get_ydata()) == [(first[0] + first[1]) / 2]
    with pytest.raises(ValueError, match="no GradientStats records"):
        GradientStats.plot({"loss": [1.0]})


# ---- attention_scores -------------------------------------------------------------------------------
def _attention_model():
    tg.utils.set_random_seed(3)
    ids = Input((5,), dtype="int32")
    x = Embedding(12, 8, mask_zero=True)(ids)
    x = tg.layers.MultiHeadAttention(2, 4, name="self_attention")(x, x)
    x = tg.layers.Attention(name="plain")([x, x])
    return Model(ids, Dense(1)(tg.layers.GlobalAveragePooling1D()(x)))


def test_attention_scores_are_the_layers_own_and_leave_the_model_as_it_was():
    model, ids = _attention_model(), np.array([[3, 4, 5, 0, 0], [1, 2, 3, 4, 5]])
    before = model.predict(ids, verbose=0)
    scores = tg.inspect.attention_scores(model, ids)  # the first attention layer: the MultiHeadAttention
    assert scores.shape == (2, 2, 5, 5)
    np.testing.assert_allclose(scores[0, :, :3].sum(-1), 1.0, rtol=1e-5)
    assert np.all(scores[0, :, :, 3:] == 0) and np.all(scores[0, :, 3:] == 0)  # padding: neither row nor column
    layer = model.get_layer("self_attention") if hasattr(model, "get_layer") else model.layers[2]
    x = model.layers[1](ids)
    _, direct = layer(x, x, return_attention_scores=True)
    np.testing.assert_allclose(scores, direct.data, rtol=1e-6)
    np.testing.assert_array_equal(model.predict(ids, verbose=0), before)
    assert tg.inspect.attention_scores(model, ids, layer="plain").shape == (2, 5, 5)


def test_attention_scores_names_the_layers_when_none_is_an_attention_layer():
    model = Sequential([Embedding(10, 4), LSTM(3)])
    with pytest.raises(ValueError, match=r"names none among \['embedding.*\(Embedding\)"):
        tg.inspect.attention_scores(model, np.array([[1, 2]]))
    with pytest.raises(ValueError, match="layer='lstm_9'"):
        tg.inspect.attention_scores(_attention_model(), np.array([[1, 2, 3, 0, 0]]), layer="lstm_9")


class _Block(tg.layers.Layer):
    """keras.io's TransformerBlock in miniature: the attention layer is a sublayer of the user's layer."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.att = tg.layers.MultiHeadAttention(2, 4, name="inner_attention")

    def call(self, x):
        return self.att(x, x)


def test_attention_scores_find_an_attention_layer_inside_a_users_layer():
    tg.utils.set_random_seed(4)
    block = _Block()
    ids = Input((5,), dtype="int32")
    model = Model(ids, Dense(1)(tg.layers.GlobalAveragePooling1D()(block(Embedding(12, 8)(ids)))))
    batch = np.array([[3, 4, 5, 1, 2]])
    by_default = tg.inspect.attention_scores(model, batch)
    by_name = tg.inspect.attention_scores(model, batch, layer="inner_attention")
    by_object = tg.inspect.attention_scores(model, batch, layer=block.att)
    assert by_default.shape == (1, 2, 5, 5)
    np.testing.assert_array_equal(by_default, by_object)
    np.testing.assert_array_equal(by_name, by_object)
