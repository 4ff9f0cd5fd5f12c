"""Flatten, Activation, Reshape, Dropout and SpatialDropout1D against real Keras 3 (torch backend): the
same outputs from the same inputs and weights, the same shapes, masks, configs and names, and dropout
masks with the same statistics (the random draws themselves differ: Keras's come from torch).
Skipped without Keras and torch, except under `make parity` (TINYGRAD_EMBED_PARITY=required)."""
import re
import warnings

import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
torch = require("torch")

import tinygrad_embed  # noqa: E402
from tinygrad_embed import activations  # noqa: E402
from tinygrad_embed.layers import Embedding  # noqa: E402
from tinygrad_embed.utils import set_random_seed  # noqa: E402

X = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
BIG = np.random.default_rng(1).standard_normal((100, 20, 50)).astype(np.float32)  # 100,000 units, none zero


def both(make):
    """The same layer built by the same code in Keras and here."""
    return make(keras), make(tinygrad_embed)


def run(layer, x, **kwargs):
    out = layer(x, **kwargs)
    return out.data if isinstance(out, tinygrad_embed.Tensor) else keras.ops.convert_to_numpy(out)


SHAPING = {
    "Flatten": (lambda api: api.layers.Flatten(), X),
    "Flatten_rank1": (lambda api: api.layers.Flatten(), X[:, 0, 0, 0]),
    "Flatten_channels_first": (lambda api: api.layers.Flatten("channels_first"), X),
    "Reshape": (lambda api: api.layers.Reshape((6, 10)), X),
    "Reshape_minus_one": (lambda api: api.layers.Reshape((-1, 2, 3)), X),
}


@pytest.mark.parametrize("case", sorted(SHAPING))
def test_shaping_layers_give_keras_outputs(case):
    make, x = SHAPING[case]
    theirs, ours = both(make)
    np.testing.assert_array_equal(run(ours, x), run(theirs, x))


@pytest.mark.parametrize("name", sorted(activations.KNOWN))
def test_activation_gives_keras_outputs(name):
    theirs, ours = both(lambda api: api.layers.Activation(name))
    np.testing.assert_allclose(run(ours, X), run(theirs, X), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("make", [lambda api: api.layers.Flatten(), lambda api: api.layers.Reshape((-1, 2)),
                                  lambda api: api.layers.Reshape((2, 2, -1)), lambda api: api.layers.Activation("relu"),
                                  lambda api: api.layers.Dropout(0.5), lambda api: api.layers.SpatialDropout1D(0.5)])
@pytest.mark.parametrize("shape", [(None, 3, 4), (None, None, 4), (None, 6, None)])
def test_output_shapes_with_unknown_sizes_are_keras_shapes(make, shape):
    theirs, ours = both(make)
    assert ours.compute_output_shape(shape) == tuple(theirs.compute_output_shape(shape))


@pytest.mark.parametrize("make", [lambda api: api.layers.Flatten(), lambda api: api.layers.Reshape((-1,)),
                                  lambda api: api.layers.Activation("tanh"), lambda api: api.layers.Dropout(0.5),
                                  lambda api: api.layers.SpatialDropout1D(0.5)])
def test_a_mask_is_kept_or_dropped_with_a_warning_as_keras_does(make):
    ids = np.array([[3, 5, 0], [2, 0, 0]])
    ours_in = Embedding(10, 4, mask_zero=True)(ids)
    theirs_in = torch.tensor(ours_in.data)
    theirs_in._keras_mask = torch.tensor(ids != 0)
    theirs, ours = both(make)
    results = []
    for layer, x in ((theirs, theirs_in), (ours, ours_in)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            mask = getattr(layer(x, training=True), "_keras_mask", None)
        warned = any("does not support masking" in str(w.message) for w in caught)
        results.append((None if mask is None else np.asarray(mask).tolist(), warned))
    assert results[1] == results[0]


def test_dropout_outside_training_is_the_identity_in_both():
    for make in (lambda api: api.layers.Dropout(0.5), lambda api: api.layers.SpatialDropout1D(0.5)):
        theirs, ours = both(make)
        np.testing.assert_array_equal(run(theirs, BIG), BIG)
        np.testing.assert_array_equal(run(ours, BIG), BIG)
        np.testing.assert_array_equal(run(ours, BIG, training=False), run(theirs, BIG, training=False))


def five_sigma(rate, n):
    """Five standard deviations of the fraction of n independent Bernoulli(rate) draws."""
    return 5 * np.sqrt(rate * (1 - rate) / n)


@pytest.mark.parametrize("rate", [0.2, 0.5])
@pytest.mark.parametrize("seed", [None, 3])
def test_dropout_while_training_has_keras_statistics(rate, seed):
    set_random_seed(0)
    for y in (run(layer, BIG, training=True) for layer in both(lambda api: api.layers.Dropout(rate, seed=seed))):
        kept = y != 0
        assert abs((~kept).mean() - rate) < five_sigma(rate, BIG.size)
        # Keras divides by 1 - rate, we multiply by its float32 inverse: at most an ulp apart
        np.testing.assert_allclose(y[kept], BIG[kept] / (1 - rate), rtol=1e-6)


def test_rate_1_zeroes_everything_in_both():
    for y in (run(layer, BIG, training=True) for layer in both(lambda api: api.layers.Dropout(1.0))):
        np.testing.assert_array_equal(y, np.zeros_like(BIG))


def test_spatial_dropout_zeroes_whole_channels_per_sample_in_both():
    set_random_seed(0)
    for y in (run(layer, BIG, training=True) for layer in both(lambda api: api.layers.SpatialDropout1D(0.3))):
        assert (y == 0).all(axis=1).sum() == (y == 0).any(axis=1).sum()  # every zero channel is zero at every step
        dropped = (y == 0).all(axis=1)  # (samples, channels)
        assert abs(dropped.mean() - 0.3) < five_sigma(0.3, dropped.size)


@pytest.mark.parametrize("noise_shape, repeated_axes", [((None, 1, 50), (1,)), ((1, 20, 1), (0, 2)),
                                                        ((100, 1, 1), (1, 2))])
def test_noise_shape_broadcasts_as_in_keras(noise_shape, repeated_axes):
    set_random_seed(0)
    x = np.ones_like(BIG)
    for layer in both(lambda api: api.layers.Dropout(0.5, noise_shape=noise_shape)):
        zeros = run(layer, x, training=True) == 0
        first = zeros[tuple(slice(0, 1) if axis in repeated_axes else slice(None) for axis in range(3))]
        assert (zeros == first).all() and 0 < zeros.mean() < 1


CONFIGS = [lambda api: api.layers.Dropout(0.3, noise_shape=(None, 1, 4), seed=5), lambda api: api.layers.Dropout(0.1),
           lambda api: api.layers.SpatialDropout1D(0.2, seed=1), lambda api: api.layers.Flatten(),
           lambda api: api.layers.Activation("softmax"), lambda api: api.layers.Reshape((-1, 2))]


@pytest.mark.parametrize("make", CONFIGS)
def test_config_holds_keras_keys_and_values_and_takes_a_keras_config(make):
    theirs, ours = both(make)
    keras_config = {k: v for k, v in theirs.get_config().items() if k != "dtype"}  # Keras writes a DTypePolicy
    ours_config = ours.get_config()
    assert {k: ours_config[k] for k in keras_config if k != "name"} == {k: v for k, v in keras_config.items()
                                                                        if k != "name"}
    rebuilt = type(ours).from_config(keras_config)
    assert rebuilt.name == theirs.name and rebuilt.get_config() | {"name": ours.name} == ours_config


def base_name(layer):
    """A layer's automatic name without the count that makes it unique ("dropout_3" -> "dropout")."""
    return re.sub(r"_\d+$", "", layer.name)


@pytest.mark.parametrize("make", CONFIGS)
def test_automatic_names_are_keras_names(make):
    theirs, ours = both(make)
    assert base_name(ours) == base_name(theirs)


def test_bad_rates_and_sizes_are_refused_by_both():
    for api in (keras, tinygrad_embed):
        with pytest.raises(ValueError):
            api.layers.Dropout(1.5)
        with pytest.raises(ValueError):
            api.layers.Reshape((-1, -1))
        with pytest.raises(ValueError):
            api.layers.Reshape((7,))(X)


def test_a_model_of_these_layers_with_keras_weights_predicts_as_keras():
    def graph(api):  # the same code for both: only the module differs
        ids = api.Input(shape=(6,), dtype="int32")
        x = api.layers.Embedding(20, 4)(ids)
        x = api.layers.SpatialDropout1D(0.5)(x)
        x = api.layers.Reshape((-1, 8))(x)
        x = api.layers.Dropout(0.5)(x)
        x = api.layers.Flatten()(x)
        x = api.layers.Dense(3)(x)
        return api.Model(ids, api.layers.Activation("softmax")(x))
    theirs, ours = both(graph)
    ours.set_weights(theirs.get_weights())
    ids = np.random.default_rng(2).integers(0, 20, (5, 6))
    np.testing.assert_allclose(ours.predict(ids), theirs.predict(ids, verbose=0), atol=1e-6)
    assert [base_name(layer) for layer in ours.layers] == [base_name(layer) for layer in theirs.layers]
