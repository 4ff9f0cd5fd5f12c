"""The layers beyond the first ones in .keras files, read and written by real Keras 3 (needs the `parity`
extra; Keras on its torch backend): graphs with keras.ops between layers and masks from Masking, RNN with
cells, BatchNormalization's moving statistics, Lambda, custom layers registered under the same name on both
sides. TextVectorization needs TensorFlow in Keras: tests/test_keras_parity_files_text.py."""
import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
require("torch")
require("h5py")

import tinygrad_embed  # noqa: E402
from tinygrad_embed.models import load_model  # noqa: E402
from tinygrad_embed.saving import register_keras_serializable  # noqa: E402


def data(seed, shape=(4, 5, 3)):
    x = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    x[0, 3:], x[1, :2] = 0.0, 0.0  # padded steps, which Masking masks
    return x


def same(ours, theirs, x):
    np.testing.assert_allclose(ours.predict(x), keras.ops.convert_to_numpy(theirs.predict(x, verbose=0)), atol=1e-5)


def masking_graph(api):
    x = api.Input((5, 3))
    h = api.layers.LSTM(4, return_sequences=True)(api.layers.Masking(0.0)(x))
    return api.Model(x, api.layers.Dense(2)(api.layers.GRU(3)(h)))


def test_a_masking_graph_keras_wrote_with_its_mask_ops_loads_and_predicts_the_same(tmp_path):
    theirs = masking_graph(keras)
    theirs.save(tmp_path / "m.keras")
    same(load_model(tmp_path / "m.keras"), theirs, data(0))


def ops_graph(api):
    x = api.Input((5, 3))
    h = api.layers.Dense(4)(x)
    pooled = api.ops.mean(h, axis=1)
    scaled = api.ops.subtract(1.0, api.ops.multiply(api.ops.tanh(pooled), 2.0))  # a constant first, too
    both = api.ops.concatenate([scaled, api.ops.max(h, axis=1)], axis=-1)
    return api.Model(x, api.layers.Dense(1)(both))


def test_keras_ops_between_layers_load_as_nodes_and_go_back_to_keras(tmp_path):
    theirs = ops_graph(keras)
    theirs.save(tmp_path / "m.keras")
    ours = load_model(tmp_path / "m.keras")
    same(ours, theirs, data(1))
    ours.save(tmp_path / "back.keras")
    same(ours, keras.models.load_model(tmp_path / "back.keras"), data(2))


def test_an_op_this_project_lacks_is_refused_by_name(tmp_path):
    x = keras.Input((5, 3))
    keras.Model(x, keras.layers.Dense(1)(keras.ops.cumsum(x, axis=1))).save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match=r"keras\.ops\.cumsum \(Cumsum\).*ops do not have"):
        load_model(tmp_path / "m.keras")


def rnn_graph(api):
    x = api.Input((5, 3))
    h = api.layers.RNN([api.layers.LSTMCell(4), api.layers.GRUCell(2)], return_sequences=True)(x)
    h = api.layers.BatchNormalization()(api.layers.RNN(api.layers.SimpleRNNCell(3))(h))
    return api.Model(x, api.layers.LayerNormalization()(h))


@pytest.mark.parametrize("direction", ["keras to here", "here to keras"])
def test_rnn_cells_and_trained_normalization_statistics_cross_both_ways(tmp_path, direction):
    source = rnn_graph(keras if direction == "keras to here" else tinygrad_embed)
    source.compile("adam", "mse")
    source.fit(data(3), np.ones((4, 3), np.float32), epochs=2, verbose=0)  # moving mean and variance move
    source.save(tmp_path / "m.keras")
    if direction == "keras to here":
        same(load_model(tmp_path / "m.keras"), source, data(4))
    else:
        same(source, keras.models.load_model(tmp_path / "m.keras"), data(4))


def test_a_lambda_saved_here_loads_in_keras_with_safe_mode_off(tmp_path):
    x = tinygrad_embed.layers.Input((3,))
    ours = tinygrad_embed.models.Model(x, tinygrad_embed.layers.Dense(2)(
        tinygrad_embed.layers.Lambda(lambda t: t * 2.0 + 1.0)(x)))
    ours.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="safe_mode"):  # Keras refuses it where this project does
        keras.models.load_model(tmp_path / "m.keras")
    same(ours, keras.models.load_model(tmp_path / "m.keras", safe_mode=False), data(5, (4, 3)))


def test_a_lambda_keras_wrote_is_refused_here_and_its_weights_load_into_a_twin(tmp_path):
    def build(api):
        x = api.Input((3,))
        return api.Model(x, api.layers.Dense(2)(api.layers.Lambda(lambda t: t * 2.0)(x)))
    theirs = build(keras)
    theirs.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match=r"is a Lambda.*build it in code"):
        load_model(tmp_path / "m.keras")
    twin = build(tinygrad_embed)
    twin.load_weights(tmp_path / "m.keras")
    same(twin, theirs, data(6, (4, 3)))


def scale_class(api, register):
    @register(package="tutorial", name="Amplify")
    class Amplify(api.layers.Layer):
        def __init__(self, start=1.0, **kwargs):
            super().__init__(**kwargs)
            self.start = start

        def build(self, input_shape):
            self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")

        def call(self, inputs):
            return inputs * self.scale * self.start

        def get_config(self):
            return {**super().get_config(), "start": self.start}
    return Amplify


def test_a_custom_layer_registered_on_both_sides_round_trips(tmp_path):
    theirs_class = scale_class(keras, keras.saving.register_keras_serializable)
    ours_class = scale_class(tinygrad_embed, register_keras_serializable)
    ours = tinygrad_embed.models.Sequential([tinygrad_embed.layers.Input((3,)), ours_class(start=3.0),
                                              tinygrad_embed.layers.Dense(2)])
    ours.layers[0].scale.data[...] = [0.5, 1.0, 2.0]
    ours.save(tmp_path / "m.keras")
    theirs = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(theirs.layers[0], theirs_class)
    same(ours, theirs, data(7, (4, 3)))
    theirs.save(tmp_path / "back.keras")
    back = load_model(tmp_path / "back.keras")
    assert isinstance(back.layers[0], ours_class) and back.layers[0].start == 3.0
    same(back, theirs, data(8, (4, 3)))


def nested(api, tail):
    """keras.io's end-to-end pattern without the strings: a trained functional model called inside another
    (its output the model's, where Keras numbers its call differently), or with a Sequential after it."""
    ids = api.Input((None,), dtype="int64")
    inner = api.Model(ids, api.layers.Dense(1, activation="sigmoid", name="predictions")(
        api.layers.GlobalMaxPooling1D()(api.layers.Embedding(20, 4)(ids))))
    outer_ids = api.Input((6,), dtype="int64")
    out = inner(outer_ids)
    return api.Model(outer_ids, api.Sequential([api.layers.Dense(2)])(out) if tail else out)


@pytest.mark.parametrize("tail", [False, True])
@pytest.mark.parametrize("direction", ["keras to here", "here to keras"])
def test_models_inside_a_model_cross_both_ways(tmp_path, direction, tail):
    source = nested(keras if direction == "keras to here" else tinygrad_embed, tail)
    source.save(tmp_path / "m.keras")
    ids = np.random.default_rng(9).integers(0, 20, (4, 6))
    if direction == "keras to here":
        same(load_model(tmp_path / "m.keras"), source, ids)
    else:
        same(source, keras.models.load_model(tmp_path / "m.keras"), ids)


def token_and_position(api, register):
    """keras.io's "Text classification with Transformer" embedding layer: sublayers held as attributes."""
    @register(package="tutorial", name="TokenAndPositionEmbedding")
    class TokenAndPositionEmbedding(api.layers.Layer):
        def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
            super().__init__(**kwargs)
            self.token_emb = api.layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.pos_emb = api.layers.Embedding(input_dim=maxlen, output_dim=embed_dim)
            self._mix = api.layers.Dense(3)  # a private attribute: Keras visits those last
            self.maxlen, self.vocab_size, self.embed_dim = maxlen, vocab_size, embed_dim

        def call(self, x):
            positions = self.pos_emb(api.ops.arange(0, self.maxlen, 1))
            return self._mix(self.token_emb(x) + positions)

        def get_config(self):
            return {**super().get_config(), "maxlen": self.maxlen, "vocab_size": self.vocab_size,
                    "embed_dim": self.embed_dim}
    return TokenAndPositionEmbedding


@pytest.mark.parametrize("direction", ["keras to here", "here to keras"])
def test_a_tutorial_layer_with_sublayers_keeps_keras_layout_both_ways(tmp_path, direction):
    theirs_class = token_and_position(keras, keras.saving.register_keras_serializable)
    ours_class = token_and_position(tinygrad_embed, register_keras_serializable)
    api, cls = (keras, theirs_class) if direction == "keras to here" else (tinygrad_embed, ours_class)
    source = api.Sequential([api.Input((4,), dtype="int32"), cls(4, 10, 3), api.layers.GlobalAveragePooling1D()])
    source.save(tmp_path / "m.keras")
    ids = np.random.default_rng(10).integers(0, 10, (3, 4))
    if direction == "keras to here":
        same(load_model(tmp_path / "m.keras"), source, ids)
    else:
        same(source, keras.models.load_model(tmp_path / "m.keras"), ids)


def custom_losses(api, register):
    @register(package="tutorial")
    def squared(y_true, y_pred):
        return api.ops.mean(api.ops.square(y_true - y_pred), axis=-1)

    @register(package="tutorial")
    def absolute(y_true, y_pred):
        return api.ops.mean(api.ops.abs(y_true - y_pred), axis=-1)

    @register(package="tutorial")
    class Scaled(api.losses.Loss):
        def __init__(self, scale=1.0, **kwargs):
            super().__init__(**kwargs)
            self.scale = scale

        def call(self, y_true, y_pred):
            return self.scale * api.ops.mean(api.ops.square(y_true - y_pred), axis=-1)

        def get_config(self):
            return {**super().get_config(), "scale": self.scale}
    return squared, absolute, Scaled


@pytest.mark.parametrize("loss", ["function", "class"])
@pytest.mark.parametrize("direction", ["keras to here", "here to keras"])
def test_registered_losses_and_metrics_come_back_compiled_and_train_the_same(tmp_path, direction, loss):
    x = np.random.default_rng(11).normal(size=(8, 3)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    sides = {}
    for api, register in ((keras, keras.saving.register_keras_serializable),
                          (tinygrad_embed, register_keras_serializable)):
        squared, absolute, scaled = custom_losses(api, register)
        model = api.Sequential([api.Input((3,)), api.layers.Dense(1)])
        model.compile("sgd", squared if loss == "function" else scaled(2.0), metrics=[absolute])
        sides[api] = model
    source, other = (sides[keras], sides[tinygrad_embed]) if direction == "keras to here" else \
        (sides[tinygrad_embed], sides[keras])
    other.set_weights(source.get_weights())
    source.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras") if direction == "keras to here" else \
        keras.models.load_model(tmp_path / "m.keras")
    histories = [m.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history for m in (loaded, other)]
    assert len(histories[0]) == len(histories[1]) == 2  # the loss and the custom metric, on both
    for key in histories[1]:
        np.testing.assert_allclose(histories[0][key], histories[1][key], rtol=1e-4)


@pytest.mark.parametrize("direction", ["keras to here", "here to keras"])
def test_a_nested_model_trained_on_after_loading_moves_as_it_would_have(tmp_path, direction):
    source = nested(keras if direction == "keras to here" else tinygrad_embed, tail=True)
    ids = np.random.default_rng(12).integers(0, 20, (8, 6))
    y = np.random.default_rng(13).normal(size=(8, 2)).astype(np.float32)
    source.compile("adam", "mse")
    source.fit(ids, y, epochs=1, batch_size=4, shuffle=False, verbose=0)  # Adam's moments are not zero
    source.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras") if direction == "keras to here" else \
        keras.models.load_model(tmp_path / "m.keras")
    for model in (source, loaded):
        model.fit(ids, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    ours, theirs = (loaded, source) if direction == "keras to here" else (source, loaded)
    same(ours, theirs, ids)


def every_layer():
    from test_layer_contract import BUILT_INS
    return BUILT_INS


@pytest.mark.parametrize("kind", sorted(k for k in every_layer() if k != "TextVectorization"))  # that one: _text.py
def test_every_layer_crosses_to_keras_and_back_predicting_the_same(tmp_path, kind):
    make, x = every_layer()[kind]
    xs = x if isinstance(x, list) else [x]
    inputs = [tinygrad_embed.layers.Input(a.shape[1:], dtype=str(a.dtype)) for a in xs]
    outputs = make()(inputs if isinstance(x, list) else inputs[0])
    ours = tinygrad_embed.models.Model(inputs if isinstance(x, list) else inputs[0], outputs)
    ours.save(tmp_path / "m.keras")
    theirs = keras.models.load_model(tmp_path / "m.keras")
    theirs.save(tmp_path / "back.keras")  # and the file Keras writes of it comes back here
    back = load_model(tmp_path / "back.keras")
    keras_out = theirs.predict(x, verbose=0)
    for model in (ours, back):
        mine = model.predict(x)
        for a, b in zip(mine if isinstance(mine, list) else [mine],
                        keras_out if isinstance(keras_out, list) else [keras_out]):
            np.testing.assert_allclose(a, keras.ops.convert_to_numpy(b), atol=1e-5)
