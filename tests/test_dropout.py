"""Dropout and SpatialDropout1D: identity outside training, inverted dropout while training (inside fit
too), noise_shape broadcasting, whole channels, reproducible masks, gradients, masks, configs, errors."""
import json

import numpy as np
import pytest

from tinygrad_embed.layers import Dense, Dropout, Embedding, Input, SpatialDropout1D
from tinygrad_embed.models import Sequential
from tinygrad_embed.tensor import Tensor
from tinygrad_embed.utils import set_random_seed

X = np.random.default_rng(0).standard_normal((200, 1000)).astype(np.float32)  # no zero among them


def five_sigma(rate, n):
    """Five standard deviations of the fraction of n independent Bernoulli(rate) draws."""
    return 5 * np.sqrt(rate * (1 - rate) / n)


@pytest.mark.parametrize("training", [None, False])
def test_outside_training_dropout_is_the_identity(training):
    for layer in (Dropout(0.5), SpatialDropout1D(0.5)):
        x = X.reshape(200, 10, 100)
        np.testing.assert_array_equal(layer(x, training=training).data, x)


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.75])
def test_training_drops_a_fraction_rate_and_scales_the_survivors(rate):
    set_random_seed(0)
    y = Dropout(rate)(X, training=True).data
    kept = y != 0
    assert abs((~kept).mean() - rate) < five_sigma(rate, X.size)
    np.testing.assert_array_equal(y[kept], X[kept] * np.float32(1 / (1 - rate)))


def test_rate_0_is_the_identity_and_rate_1_zeroes_everything_while_training():
    np.testing.assert_array_equal(Dropout(0)(X, training=True).data, X)
    np.testing.assert_array_equal(Dropout(1.0)(X, training=True).data, np.zeros_like(X))
    np.testing.assert_array_equal(Dropout(1.0)(X).data, X)


def test_the_gradient_reaches_only_the_kept_units_scaled():
    x = Tensor(X[:20, :50], requires_grad=True)
    y = Dropout(0.25)(x, training=True)
    y.sum().backward()  # dy/dx is the scaled mask itself: 1 / (1 - 0.25) where kept, 0 where dropped
    np.testing.assert_array_equal(x.grad, np.where(y.data != 0, np.float32(1 / 0.75), np.float32(0)))


def test_fit_trains_with_dropout_on_and_predict_runs_with_it_off():
    set_random_seed(0)
    model = Sequential([Dropout(1.0, input_shape=(3,)), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 3), np.float32), np.full(4, 5.0, np.float32)
    kernel, bias = model.get_weights()
    model.train_on_batch(x, y)
    model.fit(x, y, epochs=2, verbose=0)
    new_kernel, new_bias = model.get_weights()
    np.testing.assert_array_equal(new_kernel, kernel)  # every input was dropped: no gradient for the kernel
    assert new_bias[0] > bias[0]  # but the bias moved toward the targets
    np.testing.assert_allclose(model.predict(x), x @ new_kernel + new_bias, rtol=1e-6)


def test_set_random_seed_makes_the_masks_repeat():
    def draw(seed):
        set_random_seed(seed)
        return Dropout(0.5)(X, training=True).data
    np.testing.assert_array_equal(draw(3), draw(3))
    assert not np.array_equal(draw(3), draw(4))


def test_a_seeded_layer_repeats_its_own_sequence_whatever_the_global_seed():
    def two_draws(global_seed):
        set_random_seed(global_seed)
        layer = Dropout(0.5, seed=7)
        return layer(X, training=True).data, layer(X, training=True).data
    (a1, a2), (b1, b2) = two_draws(1), two_draws(2)
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert not np.array_equal(a1, a2)  # successive calls draw new masks


def test_noise_shape_broadcasts_the_mask_over_its_size_1_axes():
    set_random_seed(0)
    x = np.ones((8, 5, 4), np.float32)
    y = Dropout(0.5, noise_shape=(None, 1, 4))(x, training=True).data
    assert (y == y[:, :1, :]).all() and len(np.unique(y)) == 2  # the same at every step; zeros and twos
    y = Dropout(0.5, noise_shape=(1, 5, 1))(x, training=True).data
    assert (y == y[:1, :, :1]).all()


@pytest.mark.parametrize("noise_shape", [(None, 2, 4), (None, 4), (8, 5, 4, 1)])
def test_a_noise_shape_that_does_not_broadcast_names_both_shapes(noise_shape):
    with pytest.raises(ValueError) as error:
        Dropout(0.5, noise_shape=noise_shape)(np.ones((8, 5, 4), np.float32), training=True)
    assert f"noise_shape {noise_shape}" in str(error.value) and "shape (8, 5, 4)" in str(error.value)


def test_spatial_dropout_zeroes_whole_channels_of_each_sample():
    set_random_seed(0)
    y = SpatialDropout1D(0.5)(np.ones((64, 10, 16), np.float32), training=True).data
    assert (y == y[:, :1, :]).all()  # a channel is dropped at every step or at none
    dropped = y[:, 0, :] == 0
    assert abs(dropped.mean() - 0.5) < five_sigma(0.5, dropped.size)
    assert not (dropped == dropped[:1]).all()  # each sample draws its own channels


def test_spatial_dropout_needs_rank_3_and_chooses_its_own_noise_shape():
    with pytest.raises(ValueError, match=r"\(batch, steps, channels\), got shape \(2, 10\)"):
        SpatialDropout1D(0.5)(np.ones((2, 10), np.float32), training=True)
    with pytest.raises(ValueError, match=r"got shape \(None, 10\)"):
        SpatialDropout1D(0.5)(Input((10,)))
    with pytest.raises(TypeError, match="noise_shape"):
        SpatialDropout1D(0.5, noise_shape=(None, 1, 4))


@pytest.mark.parametrize("layer", [Dropout(0.5), SpatialDropout1D(0.5)], ids=["Dropout", "SpatialDropout1D"])
def test_a_mask_passes_through_while_training_too(layer):
    ids = np.array([[3, 5, 0], [2, 0, 0]])
    embedded = Embedding(10, 4, mask_zero=True)(ids)
    for training in (True, False):
        np.testing.assert_array_equal(layer(embedded, training=training)._keras_mask, ids != 0)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"rate": -0.1}, ValueError, r"rate must be in \[0, 1\] \(the fraction of units dropped\), got -0.1"),
    ({"rate": 1.5}, ValueError, "got 1.5"), ({"rate": "0.5"}, TypeError, "got '0.5'"),
    ({"rate": True}, TypeError, "got True"),
    ({"rate": 0.5, "noise_shape": "batch"}, TypeError, "noise_shape.*got 'batch'"),
    ({"rate": 0.5, "noise_shape": 3}, TypeError, "got 3"),
    ({"rate": 0.5, "noise_shape": (None, 0)}, ValueError, r"positive integers or None, got \(None, 0\)"),
    ({"rate": 0.5, "seed": -1}, ValueError, "seed must be a non-negative integer or None, got -1"),
    ({"rate": 0.5, "seed": 1.5}, TypeError, "got 1.5")])
def test_bad_arguments_are_refused_by_name(kwargs, error, message):
    with pytest.raises(error, match=message):
        Dropout(**kwargs)


def test_config_round_trips_through_json_and_names_are_keras_names():
    for layer in (Dropout(0.3, noise_shape=[None, 1, 4], seed=5), SpatialDropout1D(0.2, seed=5)):
        config = json.loads(json.dumps(layer.get_config()))
        twin = type(layer).from_config(config | {"name": layer.name + "_twin"})
        assert json.loads(json.dumps(twin.get_config())) | {"name": layer.name} == config
        x = np.ones((3, 6, 4), np.float32)  # the same seed, the same masks
        np.testing.assert_array_equal(twin(x, training=True).data, layer(x, training=True).data)
    assert set(SpatialDropout1D(0.2).get_config()) >= {"rate", "seed", "name"}
    assert "noise_shape" not in SpatialDropout1D(0.2).get_config()
    assert Dropout(0.1).name.split("_")[0] == "dropout"
    assert SpatialDropout1D(0.1).name.startswith("spatial_dropout1d")
