"""MultiHeadAttention, Attention, AdditiveAttention and their primitives (Einsum, MaskedSoftmax) without
Keras: shapes, masks, a fully masked row, functional and subclassed use, weights, configs, bad input.
Agreement with real Keras is in tests/test_keras_parity_attention.py."""
import ctypes
import platform

import numpy as np
import pytest

import tinygrad_embed as tg
from tinygrad_embed import layers, models, ops
from tinygrad_embed.attention_functions import leading_blocks
from tinygrad_embed.fused_rnn import keep_freed_memory
from tinygrad_embed.functions import OPS

RNG = np.random.default_rng(0)


def test_masked_softmax_gives_zeros_and_no_gradient_for_a_row_masked_throughout():
    x = tg.Tensor(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), requires_grad=True)
    mask = np.array([[True, False, True], [False, False, False]])
    z = OPS["MaskedSoftmax"].apply(x, mask, axis=-1)
    e = np.exp([1.0, 3.0])
    np.testing.assert_allclose(z.data, [[e[0] / e.sum(), 0.0, e[1] / e.sum()], [0.0, 0.0, 0.0]], rtol=1e-12)
    (z * np.arange(6.0).reshape(2, 3)).sum().backward()
    assert not np.isnan(x.grad).any() and np.all(x.grad[1] == 0) and x.grad[0, 1] == 0


@pytest.mark.parametrize("mask", [np.True_, np.array([True, False, True])], ids=["nothing masked", "masked"])
def test_masked_softmax_of_integers_is_float64_as_numpys_exp(mask):
    z = OPS["MaskedSoftmax"].apply(tg.Tensor(np.arange(6).reshape(2, 3)), mask, axis=-1)
    expected = np.where(mask, np.exp(np.arange(6.0).reshape(2, 3)), 0)
    assert z.dtype == np.float64
    np.testing.assert_allclose(z.data, expected / expected.sum(axis=-1, keepdims=True), rtol=1e-12)


def test_masked_softmax_refuses_a_mask_that_does_not_broadcast():
    with pytest.raises(ValueError, match=r"mask of shape \(3,\)"):
        OPS["MaskedSoftmax"].apply(tg.Tensor(np.zeros((2, 4))), np.ones(3, bool))


def test_ops_einsum_is_numpy_einsum_with_its_gradient():
    x, y = tg.Tensor(RNG.standard_normal((2, 3)), requires_grad=True), tg.Tensor(RNG.standard_normal((3, 4)))
    z = ops.einsum("ij,jk->ik", x, y)
    np.testing.assert_allclose(z.data, x.data @ y.data, rtol=1e-12)
    z.sum().backward()
    np.testing.assert_allclose(x.grad, np.ones((2, 4)) @ y.data.T, rtol=1e-12)


@pytest.mark.parametrize("equation, shapes, message", [
    ("ij,jk", ((2, 3), (3, 4)), "explicit output"),
    ("ij,jk->ik", ((2, 3), (4, 4)), "size 3 in the first operand"),
    ("ii,ij->j", ((2, 2), (2, 3)), "distinct letters"),
    ("ij,jk->iz", ((2, 3), (3, 4)), "letters of the inputs"),
    ("ij,jk->k", ((2, 3), (3, 4)), "also be in the other"),
])
def test_einsum_refuses_equations_it_cannot_differentiate_or_that_do_not_fit(equation, shapes, message):
    with pytest.raises(ValueError, match=message):
        ops.einsum(equation, *(np.ones(s) for s in shapes))


def test_multi_head_attention_weights_have_keras_names_shapes_and_order():
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4)
    out, scores = layer(np.ones((2, 5, 6)), np.ones((2, 7, 8)), return_attention_scores=True)
    assert out.shape == (2, 5, 6) and scores.shape == (2, 2, 5, 7)
    named = [(f"{d.name}/{n}", w.shape) for d in layer._layers for n, w in zip(d._weight_names, d._weights)]
    assert named == [("query/kernel", (6, 2, 3)), ("query/bias", (2, 3)), ("key/kernel", (8, 2, 3)),
                     ("key/bias", (2, 3)), ("value/kernel", (8, 2, 4)), ("value/bias", (2, 4)),
                     ("attention_output/kernel", (2, 4, 6)), ("attention_output/bias", (6,))]
    assert [w.shape for w in layer.weights] == [shape for _, shape in named]


def test_two_dimensional_attention_over_axes_2_and_3_as_the_keras_docstring():
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=2, attention_axes=(2, 3))
    x = RNG.standard_normal((2, 5, 3, 4, 16)).astype("float32")
    out, scores = layer(x, x, return_attention_scores=True)
    assert out.shape == (2, 5, 3, 4, 16) and scores.shape == (2, 5, 2, 3, 4, 3, 4)
    np.testing.assert_allclose(scores.data.sum(axis=(-2, -1)), 1.0, rtol=1e-5)


def test_value_mask_causal_mask_and_query_mask_reach_the_scores():
    layer = layers.MultiHeadAttention(num_heads=1, key_dim=2)
    x = tg.Tensor(RNG.standard_normal((1, 4, 3)))
    x._keras_mask = np.array([[True, True, True, False]])
    out, scores = layer(x, x, return_attention_scores=True, use_causal_mask=True)
    expected = np.tril(np.ones((4, 4), bool)) & np.array([True, True, True, False])[None, :]
    expected[3] = False  # the masked query row: Keras's Softmax gives zeros
    assert np.array_equal(scores.data[0, 0] > 0, expected)
    assert np.array_equal(out._keras_mask, x._keras_mask)


def test_embedding_mask_reaches_multi_head_attention_in_a_functional_model_that_trains():
    tg.utils.set_random_seed(1)
    ids = layers.Input((6,), dtype="int32")
    x = layers.Embedding(20, 8, mask_zero=True)(ids)
    x = layers.MultiHeadAttention(2, 4, dropout=0.1)(x, x)
    model = models.Model(ids, layers.Dense(1, activation="sigmoid")(layers.GlobalAveragePooling1D()(x)))
    model.compile(loss="binary_crossentropy", optimizer="adam")
    data = np.array([[1, 2, 3, 0, 0, 0], [4, 5, 6, 7, 8, 9]] * 4)
    history = model.fit(data, np.array([1, 0] * 4), epochs=3, verbose=0)
    assert np.all(np.isfinite(history.history["loss"])) and history.history["loss"][-1] < history.history["loss"][0]
    before = model.predict(np.array([[1, 2, 3, 0, 0, 0]]), verbose=0)
    table = model.layers[1].weights[0]
    table.data[0] = RNG.standard_normal(8)  # the padding's row: masked out everywhere, so nothing changes
    np.testing.assert_allclose(model.predict(np.array([[1, 2, 3, 0, 0, 0]]), verbose=0), before, rtol=1e-6)


def test_cross_attention_with_scores_and_an_attention_mask_input_in_a_functional_model():
    query, value, allowed = layers.Input((4, 8)), layers.Input((5, 6)), layers.Input((4, 5), dtype="bool")
    out, scores = layers.MultiHeadAttention(2, 2)(query, value, attention_mask=allowed, return_attention_scores=True)
    model = models.Model([query, value, allowed], [out, scores])
    mask = RNG.random((3, 4, 5)) > 0.4
    mask[:, :, 0] = True
    got_out, got_scores = model.predict([np.ones((3, 4, 8)), RNG.random((3, 5, 6)), mask], verbose=0)
    assert got_out.shape == (3, 4, 8) and np.all(got_scores.transpose(0, 2, 3, 1)[~mask] == 0)
    assert np.all(got_scores.transpose(0, 2, 3, 1)[mask] > 0)


def test_a_subclassed_transformer_block_holds_the_attention_weights():
    class Block(layers.Layer):
        def __init__(self):
            super().__init__()
            self.attention = layers.MultiHeadAttention(num_heads=2, key_dim=4)
            self.norm = layers.LayerNormalization()

        def call(self, x):
            return self.norm(x + self.attention(x, x))
    block = Block()
    x = tg.Tensor(RNG.standard_normal((2, 3, 8)).astype("float32"))
    block(x).sum().backward()
    assert len(block.trainable_weights) == 10 and all(w.grad is not None for w in block.trainable_weights)


def test_multi_head_attention_config_has_keras_keys_and_rebuilds():
    layer = layers.MultiHeadAttention(2, 3, output_shape=7, dropout=0.2)
    layer(np.ones((1, 2, 4)), np.ones((1, 3, 4)))
    config = layer.get_config()
    for key in ("num_heads", "key_dim", "value_dim", "dropout", "use_bias", "use_gate", "output_shape",
                "attention_axes", "sliding_window", "kernel_initializer", "bias_initializer", "kernel_regularizer",
                "bias_constraint", "seed", "name", "trainable", "dtype"):
        assert key in config, key
    assert config["value_dim"] == 3 and config["output_shape"] == (7,) and config["attention_axes"] == (1,)
    again = layers.MultiHeadAttention.from_config(config)
    assert again(np.ones((1, 2, 4)), np.ones((1, 3, 4))).shape == (1, 2, 7)


@pytest.mark.parametrize("arguments, error, message", [
    ({"num_heads": 0, "key_dim": 2}, ValueError, "num_heads must be at least 1, got 0"),
    ({"num_heads": 2, "key_dim": 0}, ValueError, "key_dim must be at least 1, got 0"),
    ({"num_heads": 2.5, "key_dim": 2}, TypeError, "num_heads must be an integer"),
    ({"num_heads": 2, "key_dim": 2, "attention_axes": "1"}, ValueError, "attention_axes must be an int"),
    ({"num_heads": 2, "key_dim": 2, "kernel_regularizer": "l2"}, ValueError, "kernel_regularizer"),
])
def test_multi_head_attention_refuses_bad_arguments(arguments, error, message):
    with pytest.raises(error, match=message):
        layers.MultiHeadAttention(**arguments)


@pytest.mark.parametrize("query, value, options, message", [
    ((2, 4, 5), (3, 6, 5), {}, "batch sizes"),
    ((2, 4, 5), (2, 6), {}, "one rank"),
    ((2, 4, 5), (2, 6, 5), {"attention_axes": 3}, r"attention_axes=\(3,\) is out of range"),
    ((2, 4, 5), (2, 6, 5), {"attention_axes": (0,)}, "out of range"),
])
def test_multi_head_attention_refuses_shapes_that_do_not_fit(query, value, options, message):
    with pytest.raises(ValueError, match=message):
        layers.MultiHeadAttention(2, 2, **options)(np.ones(query), np.ones(value))


def test_multi_head_attention_refuses_wrong_features_and_wrong_masks_before_any_arithmetic():
    layer = layers.MultiHeadAttention(2, 2)
    layer(np.ones((2, 4, 5)), np.ones((2, 6, 5)))
    with pytest.raises(ValueError, match=r"built for a value of 5 features on its last axis, got shape \(2, 6, 3\)"):
        layer(np.ones((2, 4, 5)), np.ones((2, 6, 3)))
    with pytest.raises(ValueError, match=r"value mask has shape \(2, 5\), expected .* \(2, 6\)"):
        layer(np.ones((2, 4, 5)), np.ones((2, 6, 5)), value_mask=np.ones((2, 5), bool))
    with pytest.raises(ValueError, match=r"attention_mask has shape \(2, 4, 5\), expected .* \(2, 4, 6\)"):
        layer(np.ones((2, 4, 5)), np.ones((2, 6, 5)), attention_mask=np.ones((2, 4, 5), bool))


def test_attention_layers_shapes_masks_and_a_row_masked_throughout_stay_finite():
    query, value = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 5, 4))
    value_mask = np.ones((2, 5), bool)
    value_mask[0] = False
    query_mask = np.array([[True, True, False], [True, True, True]])
    for layer in (layers.Attention(), layers.Attention(score_mode="concat", use_scale=True),
                  layers.AdditiveAttention()):
        out, scores = layer([query, value], mask=[query_mask, value_mask], return_attention_scores=True)
        assert out.shape == (2, 3, 4) and scores.shape == (2, 3, 5) and np.all(np.isfinite(scores.data))
        np.testing.assert_allclose(scores.data.sum(-1), 1.0, rtol=1e-5)
        assert np.all(out.data[0, 2] == 0) and np.array_equal(out._keras_mask, query_mask)


def test_attention_refuses_bad_calls():
    with pytest.raises(ValueError, match="score_mode must be 'dot' or 'concat'"):
        layers.Attention(score_mode="general")
    with pytest.raises(ValueError, match=r"AdditiveAttention's dropout must be in \[0, 1\), got 1.5"):
        layers.AdditiveAttention(dropout=1.5)
    with pytest.raises(ValueError, match="called on a list"):
        layers.Attention()(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="query's features"):
        layers.Attention()([np.ones((2, 3, 4)), np.ones((2, 5, 3))])
    with pytest.raises(ValueError, match="one batch size"):
        layers.AdditiveAttention()([np.ones((2, 3, 4)), np.ones((3, 5, 4))])
    with pytest.raises(ValueError, match=r"value mask has shape \(2, 4\)"):
        layers.Attention()([np.ones((2, 3, 4)), np.ones((2, 5, 4))], mask=[None, np.ones((2, 4), bool)])


def test_attention_in_a_functional_model_carries_the_embedding_mask():
    ids = layers.Input((5,), dtype="int32")
    x = layers.Embedding(10, 4, mask_zero=True)(ids)
    out = layers.Attention()([x, x], use_causal_mask=True)
    model = models.Model(ids, layers.GlobalAveragePooling1D()(out))
    got = model.predict(np.array([[1, 2, 0, 0, 0]]), verbose=0)
    assert got.shape == (1, 4) and np.all(np.isfinite(got))


def test_in_a_graph_the_output_carries_the_query_mask_and_the_scores_none():
    ids = layers.Input((5,), dtype="int32")
    x = layers.Embedding(10, 4, mask_zero=True)(ids)
    for layer, call in ((layers.MultiHeadAttention(1, 2), lambda layer: layer(x, x, return_attention_scores=True)),
                        (layers.Attention(), lambda layer: layer([x, x], return_attention_scores=True))):
        out, scores = call(layer)
        assert out._keras_mask.shape == (None, 5) and getattr(scores, "_keras_mask", None) is None
        eager_in = layers.Embedding(10, 4, mask_zero=True)(np.array([[1, 2, 0, 0, 0]]))
        eager_out, eager_scores = (layer(eager_in, eager_in, return_attention_scores=True)
                                   if isinstance(layer, layers.MultiHeadAttention)
                                   else layer([eager_in, eager_in], return_attention_scores=True))
        assert np.array_equal(eager_out._keras_mask, [[True, True, False, False, False]])
        assert getattr(eager_scores, "_keras_mask", None) is None


def test_an_explicit_value_mask_is_not_overridden_by_the_mask_the_value_carries():
    layer = layers.MultiHeadAttention(1, 2)
    x = tg.Tensor(RNG.standard_normal((1, 3, 4)))
    x._keras_mask = np.array([[True, True, False]])
    _, scores = layer(x, x, value_mask=np.array([[True, False, True]]), return_attention_scores=True)
    # the query's rows as its own mask says (row 2 masked); the columns as value_mask says, key being value
    assert np.array_equal(scores.data[0, 0] > 0, [[True, False, True], [True, False, True], [False, False, False]])


@pytest.mark.parametrize("batch, axis", [(3, (-2, -1)), (40, (-2, -1)), (40, -1), (40, (0, -1))])
def test_masked_softmax_equals_the_composed_ops_it_fuses(batch, axis):
    """MaskedSoftmax is one op for memory's sake: it must equal where -> softmax -> where, built from the
    registered ops, in value and in gradient; a batch of 40 is split among the cores, unless axis has 0."""
    from tinygrad_embed import activations
    x = RNG.standard_normal((batch, 2, 4, 5))
    mask = RNG.random((batch, 1, 4, 5)) > 0.4
    mask[0, 0, 1] = False  # a row masked throughout
    upstream = RNG.standard_normal(x.shape)
    fused_in, composed_in = tg.Tensor(x, requires_grad=True), tg.Tensor(x, requires_grad=True)
    fused = OPS["MaskedSoftmax"].apply(fused_in, mask, axis=axis)
    replaced = OPS["Where"].apply(composed_in, tg.Tensor(np.full(x.shape, -1e9)), mask)
    composed = OPS["Where"].apply(activations.softmax(replaced, axis=axis), tg.Tensor(np.zeros(x.shape)), mask)
    np.testing.assert_allclose(fused.data, composed.data, rtol=1e-12, atol=1e-300)
    (fused * upstream).sum().backward()
    (composed * upstream).sum().backward()
    np.testing.assert_allclose(fused_in.grad, composed_in.grad, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("equation", ["aecd,abcd->acbe", "ij,jk->ki", "aecd,acbe->abcd"])
def test_einsum_whose_output_takes_the_second_operands_letters_first_equals_numpy(equation):
    """Such a product runs as y @ x (no transposed copy of the output): the same values and gradients."""
    terms = equation.replace("->", ",").split(",")
    size = dict(zip("abcdeijk", (3, 4, 2, 5, 6, 3, 4, 5)))
    x, y = (tg.Tensor(RNG.standard_normal([size[c] for c in t]), requires_grad=True) for t in terms[:2])
    z = OPS["Einsum"].apply(x, y, equation)
    np.testing.assert_allclose(z.data, np.einsum(equation, x.data, y.data), rtol=1e-12, atol=1e-12)
    upstream = RNG.standard_normal(z.shape)
    (z * upstream).sum().backward()
    a, b, out = terms
    np.testing.assert_allclose(x.grad, np.einsum(f"{out},{b}->{a}", upstream, y.data), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y.grad, np.einsum(f"{a},{out}->{b}", x.data, upstream), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("equation, x_shape, y_shape", [("abc,acd->abd", (64, 5, 3), (64, 3, 4)),
                                                       ("abc,cde->abde", (8, 9, 3), (3, 2, 4))],
                         ids=["64 matrices", "one matrix of 72 rows"])
def test_einsum_split_among_threads_equals_numpy(equation, x_shape, y_shape):
    """Enough matrices, or rows of one matrix, for fused_rnn.batch_blocks to give each core a block."""
    x, y = RNG.standard_normal(x_shape).astype(np.float32), RNG.standard_normal(y_shape).astype(np.float32)
    z = OPS["Einsum"].apply(tg.Tensor(x), tg.Tensor(y), equation)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.data, np.einsum(equation, x, y), rtol=1e-5, atol=1e-5)


def test_a_batch_of_transposed_matrices_reaches_blas_uncopied_and_gives_numpys_product():
    from tinygrad_embed.attention_functions import blas_ordered
    x = RNG.standard_normal((4, 6, 5))
    assert blas_ordered(x.transpose(0, 2, 1)).base is x  # Fortran-ordered matrices: read as they are
    assert blas_ordered(x[:, ::2]).base is x  # rows a gap apart: BLAS's leading dimension, read as they are
    strided = blas_ordered(x[:, :, ::2])
    assert strided.flags.c_contiguous and not np.shares_memory(strided, x)  # any other view: a C-order copy
    y = RNG.standard_normal((4, 6, 3))
    z = OPS["Einsum"].apply(tg.Tensor(x), tg.Tensor(y), "abc,abd->acd")  # x's matrices transposed: a view
    np.testing.assert_allclose(z.data, np.einsum("abc,abd->acd", x, y), rtol=1e-12, atol=1e-12)


def test_einsum_of_integers_stays_integer():
    x, y = np.arange(6).reshape(2, 3), np.arange(12).reshape(3, 4)
    z = OPS["Einsum"].apply(tg.Tensor(x), tg.Tensor(y), "ij,jk->ik")
    assert z.dtype == x.dtype
    np.testing.assert_array_equal(z.data, x @ y)


@pytest.mark.parametrize("mask", [np.True_, np.ones((1, 2, 1, 5), bool)], ids=["True", "all-ones array"])
def test_masked_softmax_with_nothing_masked_is_the_plain_softmax(mask):
    """Nothing masked takes a path without the wheres (MultiHeadAttention without masks): it must equal
    softmax from the registered ops, in value and in gradient, float32 staying float32."""
    from tinygrad_embed import activations
    x, upstream = RNG.standard_normal((3, 2, 4, 5)) * 30, RNG.standard_normal((3, 2, 4, 5))
    for dtype, tolerance in ((np.float64, 1e-12), (np.float32, 1e-6)):
        fused_in, composed_in = (tg.Tensor(x.astype(dtype), requires_grad=True) for _ in range(2))
        fused = OPS["MaskedSoftmax"].apply(fused_in, mask, axis=-1)
        composed = activations.softmax(composed_in, axis=-1)
        assert fused.dtype == dtype
        np.testing.assert_allclose(fused.data, composed.data, rtol=tolerance, atol=tolerance * 1e-3)
        (fused * upstream.astype(dtype)).sum().backward()
        (composed * upstream.astype(dtype)).sum().backward()
        np.testing.assert_allclose(fused_in.grad, composed_in.grad, rtol=tolerance * 10, atol=tolerance)


def test_an_attention_mask_without_its_batch_axis_broadcasts_over_the_batch():
    layer = layers.MultiHeadAttention(2, 3)
    query, value = RNG.standard_normal((3, 4, 5)), RNG.standard_normal((3, 6, 5))
    allowed = RNG.random((4, 6)) > 0.5
    allowed[:, 0] = True
    _, shared = layer(query, value, attention_mask=allowed, return_attention_scores=True)
    _, tiled = layer(query, value, attention_mask=np.broadcast_to(allowed, (3, 4, 6)), return_attention_scores=True)
    np.testing.assert_array_equal(shared.data, tiled.data)
    assert np.all(shared.data[:, :, ~allowed] == 0)


def test_attention_axes_out_of_range_fail_before_any_sublayer_is_made():
    layer = layers.MultiHeadAttention(2, 3, attention_axes=(1, 5))
    with pytest.raises(ValueError, match=r"attention_axes=\(1, 5\) is out of range for a query of shape \(2, 3, 4, 5\)"):
        layer(np.ones((2, 3, 4, 5)), np.ones((2, 3, 4, 5)))
    assert layer._layers == [] and not layer.built


def test_dropout_on_the_scores_draws_from_the_package_generator_and_only_in_training():
    query, value = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 5, 4))
    for make in (lambda: layers.MultiHeadAttention(2, 2, dropout=0.5), lambda: layers.Attention(dropout=0.5)):
        layer = make()
        call = (lambda **kw: layer(query, value, return_attention_scores=True, **kw)) if isinstance(
            layer, layers.MultiHeadAttention) else (lambda **kw: layer([query, value], return_attention_scores=True, **kw))
        inference, inference_scores = call()
        np.testing.assert_array_equal(call(training=False)[0].data, inference.data)
        tg.utils.set_random_seed(5)
        first, first_scores = call(training=True)
        tg.utils.set_random_seed(5)
        again, _ = call(training=True)
        np.testing.assert_array_equal(first.data, again.data)
        assert not np.allclose(first.data, inference.data)
        if isinstance(layer, layers.Attention):  # Keras's Attention returns the scores after dropout
            kept = first_scores.data != 0
            np.testing.assert_allclose(first_scores.data[kept], 2 * inference_scores.data[kept], rtol=1e-6)
            assert not kept.all()
        else:  # MultiHeadAttention returns them before
            np.testing.assert_allclose(first_scores.data, inference_scores.data, rtol=1e-6)


def test_a_model_with_attention_layers_saves_and_loads_in_the_native_format(tmp_path):
    query, value, allowed = layers.Input((4, 8)), layers.Input((5, 6)), layers.Input((4, 5), dtype="bool")
    out, scores = layers.MultiHeadAttention(2, 2, use_gate=True)(query, value, attention_mask=allowed,
                                                                 return_attention_scores=True, use_causal_mask=True)
    model = models.Model([query, value, allowed], [layers.AdditiveAttention()([out, query]), scores])
    x = [RNG.random((2, 4, 8)), RNG.random((2, 5, 6)), RNG.random((2, 4, 5)) > 0.3]
    before = model.predict(x, verbose=0)
    model.save(str(tmp_path / "m.npz"))
    again = models.load_model(str(tmp_path / "m.npz"))
    for a, b in zip(before, again.predict(x, verbose=0)):
        np.testing.assert_array_equal(a, b)


def test_the_keras_docstring_examples_on_symbolic_inputs():
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=2)
    target, source = layers.Input(shape=[8, 16]), layers.Input(shape=[4, 16])
    output_tensor, weights = layer(target, source, return_attention_scores=True)
    assert output_tensor.shape == (None, 8, 16) and weights.shape == (None, 2, 8, 4)
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=2, attention_axes=(2, 3))
    input_tensor = layers.Input(shape=[5, 3, 4, 16])
    assert layer(input_tensor, input_tensor).shape == (None, 5, 3, 4, 16)


def test_einsum_dense_drops_a_mask_as_keras_does():
    """Keras 3's EinsumDense does not support masking: the mask stops there (with a warning), so a pooling
    after it averages every step, padding too; MultiHeadAttention's own projections drop it silently."""
    ids = np.array([[3, 4, 0, 0]])
    embedded = layers.Embedding(10, 3, mask_zero=True)(ids)
    with pytest.warns(UserWarning, match="mask"):
        projected = layers.EinsumDense("abc,cd->abd", (None, 2))(embedded)
    assert getattr(projected, "_keras_mask", None) is None
    pooled = layers.GlobalAveragePooling1D()(projected)
    np.testing.assert_allclose(pooled.data, projected.data.mean(axis=1), rtol=1e-6)


class _MallInfo2(ctypes.Structure):
    """glibc's struct mallinfo2 (malloc.h): fordblks is the free memory malloc holds."""
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                      "fsmblks", "uordblks", "fordblks", "keepcost")]


@pytest.mark.parametrize("equation", ["aecd,abcd->acbe", "acbe,aecd->abcd", "acbe,abcd->aecd", "abcd,acbe->aecd",
                                      "abc,cde->abde", "abde,cde->abc", "abc,abde->cde", "ab,ba->"])
def test_einsum_into_the_outputs_own_order_and_out_of_it_equals_numpy_with_its_gradient(equation):
    """The attention's products with heads between batch and steps: their operands and outputs are strided
    views BLAS reads and writes in place; each must still equal numpy's einsum, in C order."""
    a, b = equation.split("->")[0].split(",")
    sizes = dict(zip("abcde", (3, 5, 2, 4, 6)))
    x, y = (RNG.standard_normal([sizes[c] for c in term]) for term in (a, b))
    xt, yt = tg.Tensor(x, requires_grad=True), tg.Tensor(y, requires_grad=True)
    z = OPS["Einsum"].apply(xt, yt, equation)
    np.testing.assert_allclose(z.data, np.einsum(equation, x, y), rtol=1e-12, atol=1e-12)
    assert z.data.flags.c_contiguous
    upstream = RNG.standard_normal(z.shape)
    (z * upstream).sum().backward()
    out = equation.split("->")[1]
    np.testing.assert_allclose(xt.grad, np.einsum(f"{out},{b}->{a}", upstream, y), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(yt.grad, np.einsum(f"{a},{out}->{b}", x, upstream), rtol=1e-12, atol=1e-12)


def test_a_softmax_over_the_first_axis_is_not_split_among_threads():
    assert leading_blocks((40, 3), (0, 1)) == leading_blocks((40, 3), -2) == [slice(None)]
    assert sum(s.stop - s.start for s in leading_blocks((40, 3), -1)) == 40


def test_after_an_attention_step_glibc_keeps_freed_arrays_for_reuse_instead_of_returning_them():
    """Why it matters: pages returned to the system come back zeroed, one fault each, every step."""
    OPS["Einsum"].apply(tg.Tensor(np.ones((2, 3))), tg.Tensor(np.ones((3, 4))), "ab,bc->ac")
    if platform.libc_ver()[0] != "glibc":
        assert keep_freed_memory() is False  # not glibc: the allocator's own policy stays
        return
    assert keep_freed_memory() is True
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = _MallInfo2
    arrays = [np.ones(10 << 17) for _ in range(12)]  # 12 arrays of 10 MB, above glibc's default trim threshold
    del arrays
    assert libc.mallinfo2().fordblks >= 100 << 20  # freed yet kept (glibc's default would trim it to ~0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch, mask_shape", [(3, (3, 1, 6, 5)), (40, (40, 1, 6, 5)), (40, (1, 2, 6, 5)), (3, ())])
def test_dot_product_attention_equals_the_composed_ops_it_fuses(dtype, batch, mask_shape):
    """DotProductAttention is Einsum -> MaskedSoftmax -> Einsum as one op, for cache's sake: the same value and
    the same gradients, with a mask (a row masked throughout) or none; a batch of 40 is split among the cores."""
    x = [RNG.standard_normal(shape).astype(dtype) for shape in ((batch, 6, 2, 4), (batch, 5, 2, 4), (batch, 5, 2, 3))]
    mask = RNG.random(mask_shape) > 0.3
    if mask.ndim:
        mask[0, 0, 1] = False
    upstream = RNG.standard_normal((batch, 6, 2, 3)).astype(dtype)
    fused_in, composed_in = ([tg.Tensor(a, requires_grad=True) for a in x] for _ in range(2))
    fused = OPS["DotProductAttention"].apply(*fused_in, mask, 0.5)
    q, k, v = composed_in
    scores = OPS["MaskedSoftmax"].apply(OPS["Einsum"].apply(k, q * 0.5, "aecd,abcd->acbe"), mask, axis=-1)
    composed = OPS["Einsum"].apply(scores, v, "acbe,aecd->abcd")
    assert fused.dtype == dtype
    # The same sums in other orders (the scores as keys x queries, a reciprocal's product for a division; float32's
    # exp approximated within 1.2e-7): equal to rounding, not bit for bit
    tolerance = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-14}
    np.testing.assert_allclose(fused.data, composed.data, **tolerance)
    (fused * upstream).sum().backward()
    (composed * upstream).sum().backward()
    tolerance = {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-11, "atol": 1e-13}
    for a, b in zip(fused_in, composed_in):
        np.testing.assert_allclose(a.grad, b.grad, **tolerance)


def test_multi_head_attention_fuses_its_scores_unless_it_returns_them_or_drops_some():
    """Self-attention is one op with its projections (SelfAttention), cross-attention fuses the rest
    (DotProductAttention); returning the scores or dropping some takes the composed ops. All agree."""
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=3)
    x, y = (tg.Tensor(RNG.standard_normal((2, n, 4)), requires_grad=True) for n in (5, 6))
    fused, (composed, scores) = layer(x, x), layer(x, x, return_attention_scores=True)
    assert "SelfAttention" in ops_in(fused) and not {"MaskedSoftmax", "Einsum"} & ops_in(fused)
    assert type(scores._ctx).__name__ == "MaskedSoftmax" and "SelfAttention" not in ops_in(composed)
    np.testing.assert_allclose(fused.data, composed.data, rtol=1e-12)
    crossed, (crossed_composed, _) = layer(x, y), layer(x, y, return_attention_scores=True)
    assert "DotProductAttention" in ops_in(crossed) and "SelfAttention" not in ops_in(crossed)
    np.testing.assert_allclose(crossed.data, crossed_composed.data, rtol=1e-12)
    upstream, grads = RNG.standard_normal(fused.shape), []
    for out in (fused, composed):  # and every gradient: x's, each projection's kernel and bias
        for t in [x] + layer.trainable_weights:
            t.grad = None
        (out * upstream).sum().backward()
        grads.append([t.grad for t in [x] + layer.trainable_weights])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    dropping = layers.MultiHeadAttention(num_heads=2, key_dim=3, dropout=0.5)
    assert "MaskedSoftmax" in ops_in(dropping(x, x, training=True))


def test_dot_product_attention_refuses_operands_that_do_not_fit():
    q, k = np.zeros((2, 3, 2, 4)), np.zeros((2, 5, 2, 4))
    with pytest.raises(ValueError, match=r"k \(batch, S, heads, c\).*\(2, 5, 2, 3\)"):
        OPS["DotProductAttention"].apply(q, np.zeros((2, 5, 2, 3)), k, True)
    with pytest.raises(ValueError, match="broadcast to the scores' shape"):
        OPS["DotProductAttention"].apply(q, k, k, np.ones((2, 1, 3, 4), bool))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_self_attention_equals_its_projections_around_dot_product_attention(dtype):
    """SelfAttention against the ops it fuses (Einsum, DotProductAttention, Einsum and the biases' adds), on
    blocks of a 40-row batch, a mask per review and key: the outputs and the gradients of x and every weight."""
    shapes = [(40, 6, 5), (5, 2, 4 + 4 + 3), (2, 4 + 4 + 3), (2, 3, 7), (7,)]
    arrays = [RNG.standard_normal(shape).astype(dtype) for shape in shapes]
    mask, upstream = RNG.random((40, 1, 1, 6)) > 0.3, RNG.standard_normal((40, 6, 7)).astype(dtype)
    fused_in, parts_in = ([tg.Tensor(a, requires_grad=True) for a in arrays] for _ in range(2))
    fused = OPS["SelfAttention"].apply(*fused_in, mask, 4, 0.5)
    x, w, b, wo, bo = parts_in
    qkv = OPS["Einsum"].apply(x, w, "abc,cde->abde") + b
    z = OPS["DotProductAttention"].apply(qkv[..., :4], qkv[..., 4:8], qkv[..., 8:], mask, 0.5)
    parts = OPS["Einsum"].apply(z, wo, "abcd,cde->abe") + bo
    assert fused.dtype == dtype
    # The same sums, the biases added after their products, the weights' gradients summed a block at a time
    tolerance = {"rtol": 2e-5, "atol": 2e-5} if dtype == np.float32 else {"rtol": 1e-11, "atol": 1e-12}
    np.testing.assert_allclose(fused.data, parts.data, **tolerance)
    (fused * upstream).sum().backward()
    (parts * upstream).sum().backward()
    for ours, theirs in zip(fused_in, parts_in):
        assert ours.grad.dtype == dtype
        np.testing.assert_allclose(ours.grad, theirs.grad, **tolerance)
    with pytest.raises(ValueError, match=r"c = channels = 6 and e > 0; got shapes \(40, 6, 5\), \(5, 2, 11\)"):
        OPS["SelfAttention"].apply(*arrays, mask, 6)
    with pytest.raises(ValueError, match=r"wo \(heads, e, f\).*\(2, 3, 7\), \(6,\)"):
        OPS["SelfAttention"].apply(*arrays[:4], np.zeros(6), mask, 4)
    with pytest.raises(ValueError, match=r"\(2, 11\), \(2, 4, 7\), \(7,\)"):  # wo's e is not v's 3
        OPS["SelfAttention"].apply(*arrays[:3], np.zeros((2, 4, 7)), arrays[4], mask, 4)


def ops_in(t) -> set[str]:
    """The names of the ops in the graph behind a tensor."""
    return set() if t._ctx is None else {type(t._ctx).__name__}.union(*map(ops_in, t._ctx.parents))
