"""The attention family in Keras's own files, both ways with real Keras 3 (torch backend): a .keras file
saved here loads in Keras and predicts the same, and one Keras saved loads here and predicts the same.
Functional graphs with MultiHeadAttention called as Keras calls it (self-attention mha(x, x) on
Embedding(mask_zero=True) masks, cross-attention with key= and an attention_mask input, the causal mask,
attention_axes=(2, 3) on 4-D inputs, the attention scores as a second output), Attention and
AdditiveAttention on masked inputs, keras.io's TokenAndPositionEmbedding and TransformerBlock as
registered custom layers, and .weights.h5 files of them.
Skipped without Keras and torch, except under `make parity` (TINYGRAD_EMBED_PARITY=required)."""
import json
import zipfile

import h5py
import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
require("torch")
require("h5py")

import tinygrad_embed  # noqa: E402
from tinygrad_embed.models import load_model  # noqa: E402
from tinygrad_embed.saving import register_keras_serializable  # noqa: E402

DIRECTIONS = ["keras to here", "here to keras"]


def ids(seed, shape=(4, 6), vocab=12, empty_row=False):
    """Word ids with padding zeros at the end of some rows; with empty_row, one row all padding (a pooling
    over it divides 0 by 0 in Keras, NaN, where this project gives a number)."""
    x = np.random.default_rng(seed).integers(1, vocab, shape)
    x[0, 4:], x[1, 2:] = 0, 0
    if empty_row:
        x[3, :] = 0
    return x


def randomized(model, seed):
    """Every weight drawn at random (biases too), so that a weight read into the wrong place shows."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(scale=0.5, size=np.shape(w)).astype(np.float32) for w in model.get_weights()])
    return model


def outputs(result):
    result = result if isinstance(result, (list, tuple)) else [result]
    return [keras.ops.convert_to_numpy(r) for r in result]


def crosses(tmp_path, build, direction, x, seed=0, kept=None):
    """Build the model with `direction`'s source API, save it as .keras, load it on the other side; the two
    predict the same on x (where `kept`, a (batch, steps) mask of the query, is True). Returns (source, loaded).

    Why `kept`: at a query step that its mask hides, Keras 3.15's output depends on its path, not on the
    weights: with dropout 0 and no scores asked for it calls ops.dot_product_attention, which does not give
    a row masked throughout the zeros its Softmax layer (its other path, and this project) gives."""
    source = randomized(build(keras if direction == "keras to here" else tinygrad_embed), seed)
    source.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras") if direction == "keras to here" else \
        keras.models.load_model(tmp_path / "m.keras")
    for a, b in zip(outputs(source.predict(x, verbose=0) if direction == "keras to here" else source.predict(x)),
                    outputs(loaded.predict(x) if direction == "keras to here" else loaded.predict(x, verbose=0))):
        if kept is not None:
            a, b = a[kept], b[kept]
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    return source, loaded


def self_attention(api):
    words = api.Input((6,), dtype="int32")
    x = api.layers.Embedding(12, 8, mask_zero=True)(words)
    h = api.layers.MultiHeadAttention(num_heads=2, key_dim=4)(x, x)
    return api.Model(words, api.layers.Dense(3)(api.layers.GlobalAveragePooling1D()(h)))


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_self_attention_on_embedding_masks_crosses_both_ways(tmp_path, direction):
    source, loaded = crosses(tmp_path, self_attention, direction, ids(1))
    ours = loaded if direction == "keras to here" else source
    x = ids(2)
    before = ours.predict(x)
    embedding = next(layer for layer in ours.layers if type(layer).__name__ == "Embedding")
    assert embedding.mask_zero  # the mask came with the file
    embedding.embeddings.data[0] += 5.0  # the padding id's vector: the masked steps it fills must not count
    np.testing.assert_allclose(ours.predict(x), before, rtol=1e-5, atol=1e-6)


def cross_attention(api):
    words = api.Input((6,), dtype="int32")
    memory, keys = api.Input((4, 5)), api.Input((4, 3))
    allowed = api.Input((6, 4), dtype="bool")
    x = api.layers.Embedding(12, 8, mask_zero=True)(words)
    h = api.layers.MultiHeadAttention(2, 3, value_dim=2, name="cross")(x, memory, key=keys, attention_mask=allowed)
    return api.Model([words, memory, keys, allowed], h)


def cross_inputs(seed):
    rng = np.random.default_rng(seed)
    allowed = rng.random((4, 6, 4)) > 0.3
    allowed[:, :, 0] = True  # no query step masked throughout (see crosses)
    return [ids(seed, empty_row=True), rng.normal(size=(4, 4, 5)).astype(np.float32),
            rng.normal(size=(4, 4, 3)).astype(np.float32), allowed]


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_cross_attention_with_key_and_an_attention_mask_input_crosses_both_ways(tmp_path, direction):
    x = cross_inputs(3)
    crosses(tmp_path, cross_attention, direction, x, kept=x[0] != 0)


def key_distinct_from_value(api):
    query, value, key = api.Input((3, 4)), api.Input((5, 6)), api.Input((5, 2))
    h = api.layers.MultiHeadAttention(2, 3, output_shape=(2, 4))(query, value, key)  # key given by position
    return api.Model([query, value, key], h)


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_a_key_of_its_own_given_by_position_crosses_both_ways(tmp_path, direction):
    rng = np.random.default_rng(4)
    crosses(tmp_path, key_distinct_from_value, direction,
            [rng.normal(size=s).astype(np.float32) for s in ((4, 3, 4), (4, 5, 6), (4, 5, 2))])


def causal(api):
    words = api.Input((6,), dtype="int32")
    x = api.layers.Embedding(12, 8, mask_zero=True)(words)
    h = api.layers.MultiHeadAttention(2, 4, dropout=0.3)(x, x, use_causal_mask=True)
    return api.Model(words, h)


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_the_causal_mask_crosses_both_ways(tmp_path, direction):
    source, loaded = crosses(tmp_path, causal, direction, ids(5, empty_row=True), kept=ids(5, empty_row=True) != 0)
    ours = loaded if direction == "keras to here" else source
    x, later = ids(6, empty_row=True), ids(6, empty_row=True)
    later[:, 3:] = np.where(later[:, 3:] > 0, (later[:, 3:] % 11) + 1, 0)  # later steps changed, padding kept
    np.testing.assert_allclose(ours.predict(x)[:, :3], ours.predict(later)[:, :3], rtol=1e-6)  # causal: unseen


def axes_2_3(api):
    x = api.Input((2, 3, 4, 5))
    return api.Model(x, api.layers.MultiHeadAttention(2, 3, attention_axes=(2, 3))(x, x))


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_attention_over_axes_2_and_3_of_a_4d_input_crosses_both_ways(tmp_path, direction):
    crosses(tmp_path, axes_2_3, direction, np.random.default_rng(7).normal(size=(3, 2, 3, 4, 5)).astype(np.float32))


def with_scores(api):
    words = api.Input((6,), dtype="int32")
    x = api.layers.Embedding(12, 8, mask_zero=True)(words)
    h, scores = api.layers.MultiHeadAttention(2, 4)(x, x, return_attention_scores=True)
    return api.Model(words, [api.layers.Dense(2)(h), scores])


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_the_attention_scores_as_a_second_output_cross_both_ways(tmp_path, direction):
    source, loaded = crosses(tmp_path, with_scores, direction, ids(8))
    assert len(outputs(loaded.predict(ids(8)) if direction == "keras to here" else loaded.predict(ids(8), verbose=0))) == 2


def dot_attention(api):
    words = api.Input((6,), dtype="int32")
    x = api.layers.Embedding(12, 8, mask_zero=True)(words)
    a = api.layers.Attention(use_scale=True, score_mode="concat")([x, x], use_causal_mask=True)
    b, scores = api.layers.AdditiveAttention()([x, api.layers.Dense(8)(x), x], return_attention_scores=True)
    return api.Model(words, [api.layers.Concatenate()([a, b]), scores])


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_attention_and_additive_attention_on_masks_cross_both_ways(tmp_path, direction):
    crosses(tmp_path, dot_attention, direction, ids(9))


def two_masks(api):
    query, value = api.Input((5, 3)), api.Input((4, 3))
    q, v = api.layers.Masking(0.0)(query), api.layers.Masking(0.0)(value)
    a = api.layers.Attention(score_mode="concat")([q, v])
    return api.Model([query, value], api.layers.Add()([a, api.layers.AdditiveAttention(use_scale=False)([q, v])]))


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_attention_layers_with_a_query_mask_and_another_value_mask_cross_both_ways(tmp_path, direction):
    rng = np.random.default_rng(14)
    x = [rng.normal(size=(3, 5, 3)).astype(np.float32), rng.normal(size=(3, 4, 3)).astype(np.float32)]
    x[0][0, 3:], x[1][1, 2:] = 0.0, 0.0  # query steps masked in row 0, value steps in row 1
    crosses(tmp_path, two_masks, direction, x)


def transformer_classes(api, register):
    """keras.io's "Text classification with Transformer", its two layers with get_config added."""
    @register(package="files_attention", name="TokenAndPositionEmbedding")
    class TokenAndPositionEmbedding(api.layers.Layer):
        def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
            super().__init__(**kwargs)
            self.token_emb = api.layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.pos_emb = api.layers.Embedding(input_dim=maxlen, output_dim=embed_dim)
            self.maxlen, self.vocab_size, self.embed_dim = maxlen, vocab_size, embed_dim

        def call(self, x):
            positions = self.pos_emb(api.ops.arange(start=0, stop=self.maxlen, step=1))
            return self.token_emb(x) + positions

        def get_config(self):
            return {**super().get_config(), "maxlen": self.maxlen, "vocab_size": self.vocab_size,
                    "embed_dim": self.embed_dim}

    @register(package="files_attention", name="TransformerBlock")
    class TransformerBlock(api.layers.Layer):
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1, **kwargs):
            super().__init__(**kwargs)
            self.att = api.layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.ffn = api.Sequential([api.layers.Dense(ff_dim, activation="relu"), api.layers.Dense(embed_dim)])
            self.layernorm1 = api.layers.LayerNormalization(epsilon=1e-6)
            self.layernorm2 = api.layers.LayerNormalization(epsilon=1e-6)
            self.dropout1 = api.layers.Dropout(rate)
            self.dropout2 = api.layers.Dropout(rate)
            self.embed_dim, self.num_heads, self.ff_dim, self.rate = embed_dim, num_heads, ff_dim, rate

        def call(self, inputs, training=None):
            attn_output = self.dropout1(self.att(inputs, inputs), training=training)
            out1 = self.layernorm1(inputs + attn_output)
            ffn_output = self.dropout2(self.ffn(out1), training=training)
            return self.layernorm2(out1 + ffn_output)

        def get_config(self):
            return {**super().get_config(), "embed_dim": self.embed_dim, "num_heads": self.num_heads,
                    "ff_dim": self.ff_dim, "rate": self.rate}
    return TokenAndPositionEmbedding, TransformerBlock


def transformer(api, classes, maxlen=6, vocab_size=12, embed_dim=8):
    embedding, block = classes
    inputs = api.Input((maxlen,), dtype="int32")
    x = block(embed_dim, 2, 16)(embedding(maxlen, vocab_size, embed_dim)(inputs))
    x = api.layers.Dropout(0.1)(api.layers.GlobalAveragePooling1D()(x))
    x = api.layers.Dropout(0.1)(api.layers.Dense(20, activation="relu")(x))
    return api.Model(inputs, api.layers.Dense(2, activation="softmax")(x))


@pytest.fixture(scope="module")
def both_classes():
    return {keras: transformer_classes(keras, keras.saving.register_keras_serializable),
            tinygrad_embed: transformer_classes(tinygrad_embed, register_keras_serializable)}


def h5_layout(path):
    """Every dataset of an HDF5 file: {path: shape}."""
    found = {}
    with h5py.File(path, "r") as h5:
        h5.visititems(lambda name, item: found.update({name: item.shape}) if isinstance(item, h5py.Dataset) else None)
    return found


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_keras_io_transformer_of_registered_custom_layers_crosses_both_ways(tmp_path, direction, both_classes):
    source, loaded = crosses(tmp_path, lambda api: transformer(api, both_classes[api]), direction, ids(10))
    for model, api in ((source, keras if direction == "keras to here" else tinygrad_embed),
                       (loaded, tinygrad_embed if direction == "keras to here" else keras)):
        assert [type(layer) for layer in model.layers[1:3]] == list(both_classes[api])
    keras_side = source if direction == "keras to here" else loaded
    (tmp_path / "k").mkdir()
    keras_side.save_weights(tmp_path / "k" / "m.weights.h5")
    ours = loaded if direction == "keras to here" else source
    ours.save_weights(tmp_path / "m.weights.h5")
    layout = h5_layout(tmp_path / "m.weights.h5")
    assert layout["layers/transformer_block/att/query_dense/vars/0"] == (8, 2, 8)  # where Keras keeps it
    assert layout["layers/transformer_block/ffn/layers/dense/vars/0"] == (8, 16)
    assert {k: v for k, v in layout.items() if k.startswith("layers/")} == \
        {k: v for k, v in h5_layout(tmp_path / "k" / "m.weights.h5").items() if k.startswith("layers/")}


def every_attention(api):
    words = api.Input((6,), dtype="int32")
    x = api.layers.Embedding(12, 8, mask_zero=True)(words)
    h = api.layers.MultiHeadAttention(2, 4)(x, x, use_causal_mask=True)
    # EinsumDense on an unmasked embedding: it drops a mask, with a warning, in Keras and here alike
    e = api.layers.EinsumDense("abc,cd->abd", (None, 8), bias_axes="d")(api.layers.Embedding(12, 8)(words))
    a = api.layers.AdditiveAttention()([h, e])
    return api.Model(words, api.layers.Attention()([a, h]))


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_weights_h5_of_the_attention_layers_load_into_a_twin_both_ways(tmp_path, direction):
    source = randomized(every_attention(keras if direction == "keras to here" else tinygrad_embed), 11)
    twin = every_attention(tinygrad_embed if direction == "keras to here" else keras)
    source.save_weights(tmp_path / "m.weights.h5")
    twin.load_weights(tmp_path / "m.weights.h5")
    x = ids(12)  # no query step masked throughout (see crosses)
    theirs, ours = (source, twin) if direction == "keras to here" else (twin, source)
    np.testing.assert_allclose(ours.predict(x), keras.ops.convert_to_numpy(theirs.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-5)


def inbound_node(path):
    """The first call of the first MultiHeadAttention as config.json records it: the tensors by position and
    the keywords, each tensor as the class of the layer that made it."""
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))["config"]
    classes = {entry["name"]: entry["class_name"] for entry in config["layers"]}
    node = next(e for e in config["layers"] if e["class_name"] == "MultiHeadAttention")["inbound_nodes"][0]
    made_by = lambda t: classes[t["config"]["keras_history"][0]] if isinstance(t, dict) else t  # noqa: E731
    return [made_by(t) for t in node["args"]], {k: made_by(v) for k, v in node["kwargs"].items()}


# (key_distinct_from_value is left out: its key, given by position, Keras writes by position; this project's
# graph does not record how the key was given and writes key=, which Keras reads the same)
@pytest.mark.parametrize("build", [self_attention, cross_attention, causal, with_scores])
def test_the_calls_written_here_are_keras_own(tmp_path, build):
    for api, name in ((keras, "k.keras"), (tinygrad_embed, "m.keras")):
        build(api).save(tmp_path / name)
    assert inbound_node(tmp_path / "m.keras") == inbound_node(tmp_path / "k.keras")


def test_a_query_mask_given_as_a_tensor_of_keras_graph_is_refused_by_name(tmp_path):
    words, steps = keras.Input((6,), dtype="int32"), keras.Input((6,), dtype="bool")
    x = keras.layers.Embedding(12, 8)(words)
    keras.Model([words, steps], keras.layers.MultiHeadAttention(2, 4)(x, x, query_mask=steps)).save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match=r"query_mask= as a tensor of the graph"):
        load_model(tmp_path / "m.keras")


def test_a_keyword_this_project_s_layer_does_not_take_is_refused_by_name(tmp_path):
    randomized(causal(keras), 0).save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    mha = next(e for e in config["config"]["layers"] if e["class_name"] == "MultiHeadAttention")
    mha["inbound_nodes"][0]["kwargs"]["flash"] = True
    members["config.json"] = json.dumps(config)
    with zipfile.ZipFile(tmp_path / "edited.keras", "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    with pytest.raises(ValueError, match=r"called with \['flash'\], which this project's MultiHeadAttention does not take"):
        load_model(tmp_path / "edited.keras")


def test_an_array_given_to_a_call_in_a_graph_is_refused_when_saving(tmp_path):
    x = tinygrad_embed.layers.Input((3, 4))
    h = tinygrad_embed.layers.MultiHeadAttention(2, 3)(x, x, attention_mask=np.tril(np.ones((3, 3), bool)))
    with pytest.raises(ValueError, match=r"called with arrays as \['attention_mask'\].*make each an Input"):
        tinygrad_embed.models.Model(x, h).save(tmp_path / "m.keras")


def attention_subclass(api, register):
    @register(package="files_attention", name="TemperedAttention")
    class TemperedAttention(api.layers.MultiHeadAttention):
        """A user's MultiHeadAttention with one more setting in its config: called and saved as Keras's."""
        def __init__(self, temper=1.0, **kwargs):
            super().__init__(**kwargs)
            self.temper = temper

        def get_config(self):
            return {**super().get_config(), "temper": self.temper}
    return TemperedAttention


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_a_registered_subclass_of_multi_head_attention_crosses_both_ways(tmp_path, direction):
    classes = {keras: attention_subclass(keras, keras.saving.register_keras_serializable),
               tinygrad_embed: attention_subclass(tinygrad_embed, register_keras_serializable)}

    def build(api):
        words, memory = api.Input((6,), dtype="int32"), api.Input((4, 5))
        x = api.layers.Embedding(12, 8)(words)
        return api.Model([words, memory], classes[api](temper=2.0, num_heads=2, key_dim=3)(x, memory, key=memory))
    x = [ids(13), np.random.default_rng(13).normal(size=(4, 4, 5)).astype(np.float32)]
    source, loaded = crosses(tmp_path, build, direction, x)
    tempered = next(layer for layer in loaded.layers if "Tempered" in type(layer).__name__)
    assert type(tempered) is classes[tinygrad_embed if direction == "keras to here" else keras] and tempered.temper == 2.0
