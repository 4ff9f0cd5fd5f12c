"""BatchNormalization and LayerNormalization: their formulas against numpy, the moving statistics,
masks, frozen layers, gradients (gradcheck in float64), weights in Keras's order, saving, errors."""
import numpy as np
import pytest

import tinygrad_embed as tg
from tinygrad_embed import layers
from tinygrad_embed.functions import OPS
from tinygrad_embed.layers import Dense, Embedding, GlobalAveragePooling1D
from tinygrad_embed.layers.normalization import BatchNormalization, LayerNormalization
from tinygrad_embed.models import Sequential, load_model
from tinygrad_embed.utils import set_random_seed

RNG = np.random.default_rng(0)
X = RNG.standard_normal((6, 4, 3)) * 2.0 + 0.5  # (batch, steps, features), far from normalized


def built_batch_norm(**options):
    """A float64 BatchNormalization with random gamma, beta and moving statistics (positive variance)."""
    layer = BatchNormalization(dtype="float64", **options)
    layer(X)
    layer.set_weights([RNG.standard_normal(w.shape) if "variance" not in name else RNG.uniform(0.5, 2.0, w.shape)
                       for w, name in zip(layer.weights, layer._weight_names)])
    return layer


def reference(x, mean, variance, gamma, beta, epsilon=1e-3):
    return gamma * (x - mean) / np.sqrt(variance + epsilon) + beta


def test_batch_norm_training_uses_the_batch_mean_and_biased_variance_per_feature():
    layer = built_batch_norm()
    gamma, beta, _, _ = layer.get_weights()
    expected = reference(X, X.mean(axis=(0, 1)), X.var(axis=(0, 1)), gamma, beta)  # np.var: biased, as Keras
    np.testing.assert_allclose(layer(X, training=True).data, expected, rtol=1e-12, atol=1e-12)


def test_batch_norm_moves_its_statistics_only_when_training():
    layer = built_batch_norm(momentum=0.9)
    _, _, mean, variance = layer.get_weights()
    layer(X, training=True)
    np.testing.assert_allclose(layer.moving_mean.data, 0.9 * mean + 0.1 * X.mean(axis=(0, 1)), rtol=1e-12)
    np.testing.assert_allclose(layer.moving_variance.data, 0.9 * variance + 0.1 * X.var(axis=(0, 1)), rtol=1e-12)
    moved = layer.get_weights()
    layer(X)  # training=None: inference, as Keras
    layer(X, training=False)
    for before, after in zip(moved, layer.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_batch_norm_inference_uses_the_moving_statistics():
    layer = built_batch_norm()
    gamma, beta, mean, variance = layer.get_weights()
    np.testing.assert_allclose(layer(X).data, reference(X, mean, variance, gamma, beta), rtol=1e-12, atol=1e-12)


def test_a_frozen_batch_norm_runs_in_inference_mode_even_when_training():
    layer = built_batch_norm()
    gamma, beta, mean, variance = layer.get_weights()
    layer.trainable = False
    np.testing.assert_allclose(layer(X, training=True).data, reference(X, mean, variance, gamma, beta), rtol=1e-12)
    np.testing.assert_array_equal(layer.moving_mean.data, mean)


def test_batch_norm_on_another_axis_normalizes_that_axis():
    layer = built_batch_norm(axis=1)
    gamma, beta, _, _ = (w[None, :, None] for w in layer.get_weights())
    expected = reference(X, X.mean(axis=(0, 2), keepdims=True), X.var(axis=(0, 2), keepdims=True), gamma, beta)
    np.testing.assert_allclose(layer(X, training=True).data, expected, rtol=1e-12, atol=1e-12)
    assert layer.moving_mean.shape == (4,)


def test_batch_norm_without_center_and_scale_has_only_the_moving_statistics():
    layer = BatchNormalization(center=False, scale=False, dtype="float64")
    out = layer(X, training=True).data
    assert [w.shape for w in layer.weights] == [(3,), (3,)] and layer.trainable_weights == []
    np.testing.assert_allclose(out, (X - X.mean(axis=(0, 1))) / np.sqrt(X.var(axis=(0, 1)) + 1e-3), rtol=1e-12)


def test_masked_steps_are_left_out_of_the_batch_statistics_and_the_mask_passes_on():
    layer = built_batch_norm(momentum=0.0)  # momentum 0: the moving statistics become the batch's own
    mask = RNG.random((6, 4)) > 0.4
    out = layer(X, training=True, mask=mask)
    kept = X[mask]  # (unmasked steps, features)
    # Keras divides by (count + 1e-7): relative to a count of about 14 that is below 1e-8
    np.testing.assert_allclose(layer.moving_mean.data, kept.mean(axis=0), rtol=1e-7)
    np.testing.assert_allclose(layer.moving_variance.data, kept.var(axis=0), rtol=1e-7)
    np.testing.assert_array_equal(out._keras_mask, mask)


def test_an_embedding_mask_reaches_batch_norm_in_a_model():
    set_random_seed(0)
    ids = np.array([[3, 4, 0, 0], [5, 6, 7, 8]])
    model = Sequential([Embedding(10, 3, mask_zero=True), BatchNormalization(momentum=0.0), GlobalAveragePooling1D()])
    model(ids, training=True)
    rows = model.layers[0].get_weights()[0][ids[ids != 0]]  # the unmasked steps' vectors
    np.testing.assert_allclose(model.layers[1].moving_mean.data, rows.mean(axis=0), rtol=1e-5)


def test_a_mask_of_the_wrong_rank_is_refused_naming_both_shapes():
    with pytest.raises(ValueError, match=r"mask of shape \(6,\) for input of shape \(6, 4, 3\)"):
        built_batch_norm()(X, training=True, mask=np.ones(6, bool))


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("masked", [False, True])
def test_batch_norm_gradients(training, masked):
    layer = built_batch_norm()
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1], [0, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 0], [0, 0, 1, 1]], bool)
    x = tg.Tensor(X.copy(), requires_grad=True)
    assert tg.gradcheck(lambda x, gamma, beta: layer(x, training=training, mask=mask if masked else None),
                        [x, *layer.trainable_weights])


def test_layer_norm_normalizes_each_sample_over_its_features():
    layer = LayerNormalization(dtype="float64", gamma_initializer="random_normal", beta_initializer="random_normal")
    out = layer(X).data
    gamma, beta = layer.get_weights()
    expected = reference(X, X.mean(axis=-1, keepdims=True), X.var(axis=-1, keepdims=True), gamma, beta)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(layer(X, training=True).data, out)  # the same in training


@pytest.mark.parametrize("axis", [[1, 2], [-2, -1], 1, [0, 2]])
def test_layer_norm_over_several_axes_has_gamma_of_their_shape(axis):
    layer = LayerNormalization(axis=axis, dtype="float64", gamma_initializer="random_normal")
    out = layer(X).data
    axes = tuple(sorted(a % 3 for a in (axis if isinstance(axis, list) else [axis])))
    shape = [X.shape[i] if i in axes else 1 for i in range(3)]
    gamma = layer.get_weights()[0]
    assert gamma.shape == tuple(X.shape[i] for i in axes)
    expected = reference(X, X.mean(axis=axes, keepdims=True), X.var(axis=axes, keepdims=True), gamma.reshape(shape), 0)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("axis", [-1, [1, 2]])
def test_layer_norm_gradients(axis):
    layer = LayerNormalization(axis=axis, dtype="float64", gamma_initializer="random_normal",
                               beta_initializer="random_normal")
    x = tg.Tensor(X.copy(), requires_grad=True)
    layer(x)
    assert tg.gradcheck(lambda x, gamma, beta: layer(x), [x, *layer.trainable_weights])


@pytest.mark.parametrize("dtype", ["float64", "float32"])  # float32: the input is cast, its mask kept
def test_layer_norm_passes_a_mask_on(dtype):
    x = tg.Tensor(X)
    x._keras_mask = np.array([[True, False, True, True]] * 6)  # as a layer before would hand it on
    np.testing.assert_array_equal(LayerNormalization(dtype=dtype)(x)._keras_mask, x._keras_mask)


@pytest.mark.parametrize("shape, make, message", [
    ((4, 3), lambda: BatchNormalization(axis=3), r"axis 3 is out of bounds for input shape \(None, 4, 3\)"),
    ((4, 3), lambda: LayerNormalization(axis=[1, -4]), r"axis -4 is out of bounds"),
    ((None, 3), lambda: BatchNormalization(axis=1), r"size of the normalized axis \[1\] must be known"),
])
def test_bad_axes_are_refused_naming_them(shape, make, message):
    with pytest.raises(ValueError, match=message):
        Sequential([tg.Input(shape), make()])


@pytest.mark.parametrize("make", [lambda: BatchNormalization(axis=1.5), lambda: LayerNormalization(axis="last")])
def test_an_axis_that_is_not_an_integer_is_refused(make):
    with pytest.raises(TypeError, match="axis must be an integer"):
        make()


def test_moving_statistics_are_non_trainable_weights_in_keras_order():
    layer = built_batch_norm()
    assert layer._weight_names == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert layer.trainable_weights == [layer.gamma, layer.beta]
    assert layer.non_trainable_weights == [layer.moving_mean, layer.moving_variance]
    assert layer.weights == layer.trainable_weights + layer.non_trainable_weights


def batch_norm_model(compiled=True):
    set_random_seed(0)
    model = Sequential([tg.Input((3,)), Dense(4), BatchNormalization(momentum=0.5), Dense(1)])
    if compiled:
        model.compile(optimizer="sgd", loss="mse")
    return model


def test_fit_moves_the_statistics_and_never_hands_them_to_the_optimizer():
    model = batch_norm_model()
    x, y = RNG.standard_normal((32, 3)).astype(np.float32), RNG.standard_normal((32, 1)).astype(np.float32)
    norm = model.layers[1]
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert not np.allclose(norm.moving_mean.data, 0) and not np.allclose(norm.moving_variance.data, 1)
    assert all(w is not norm.moving_mean and w is not norm.moving_variance for w in model.trainable_weights)
    before = norm.get_weights()
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    for a, b in zip(before, norm.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_saving_keeps_the_moving_statistics(tmp_path):
    model = batch_norm_model(compiled=False)
    x = RNG.standard_normal((8, 3)).astype(np.float32)
    model(x, training=True)
    model.save(tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    for a, b in zip(model.layers[1].get_weights(), loaded.layers[1].get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axes, center, scale", [((2,), True, True), ((1, 2), True, True), ((2,), False, True),
                                                 ((2,), True, False), ((0, 2), False, False)])
def test_the_layer_norm_op_equals_the_composed_ops_it_fuses(dtype, axes, center, scale):
    """LayerNorm is one op for speed only: the same value and the same gradients as the ten composed ops it
    replaces (mean, subtract, square, mean, add epsilon, power, multiply, gamma, beta), to rounding: over the
    last axes its means are np.einsum's sums, which add in another order than np.sum, and its row-wise passes
    (attention_kernels.scale_rows) may fuse a multiply and an add."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((4, 3, 5)) * 3 + 1).astype(dtype)
    weights = tuple(n if i in axes else 1 for i, n in enumerate(x.shape))
    gamma, beta = rng.standard_normal(weights).astype(dtype), rng.standard_normal(weights).astype(dtype)
    upstream = rng.standard_normal(x.shape).astype(dtype)
    inputs = [[tg.Tensor(a, requires_grad=True) for a in (x, gamma, beta)] for _ in range(2)]
    xf, gf, bf = inputs[0]
    fused = OPS["LayerNorm"].apply(xf, gf if scale else 1, bf if center else 0, axes, 1e-3)
    xc, gc, bc = inputs[1]
    mean = xc.mean(axis=axes, keepdims=True)
    composed = (xc - mean) * (((xc - mean) ** 2).mean(axis=axes, keepdims=True) + 1e-3) ** -0.5
    composed = composed * gc if scale else composed
    composed = composed + bc if center else composed
    tolerance = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}
    assert fused.dtype == dtype
    np.testing.assert_allclose(fused.data, composed.data, **({"rtol": 1e-6, "atol": 1e-6} if dtype == np.float32
                                                              else {"rtol": 1e-14, "atol": 1e-14}))
    (fused * upstream).sum().backward()
    (composed * upstream).sum().backward()
    for used, a, b in ((True, xf, xc), (scale, gf, gc), (center, bf, bc)):
        if used:
            np.testing.assert_allclose(a.grad, b.grad, **tolerance)


def test_layer_normalization_runs_as_one_op():
    layer = layers.LayerNormalization()
    x = tg.Tensor(np.random.default_rng(0).standard_normal((2, 3, 4)), requires_grad=True)
    assert type(layer(x)._ctx).__name__ == "LayerNorm"
