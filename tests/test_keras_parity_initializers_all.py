"""Keras 3's other initializers beside real Keras 3 (the parity extra): Identity exactly; the scaled and
truncated draws with Keras's support and spread (other generators: the same distribution, not the same
numbers); configs, dtypes and shapes as Keras's; and unknown names refused by both."""
import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
require("torch")

from tinygrad_embed import initializers  # noqa: E402
from tinygrad_embed.layers import Dense  # noqa: E402

SCALED = ["GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal"]


def draw(module, name, shape, dtype=None, **config):
    return np.asarray(keras.ops.convert_to_numpy(getattr(module, name)(**config)(shape, dtype)))


@pytest.mark.parametrize("shape, gain", [((3, 3), 1.0), ((2, 4), 2.5), ((4, 2), -1.0)])
def test_identity_is_exactly_keras(shape, gain):
    ours, theirs = draw(initializers, "Identity", shape, gain=gain), draw(keras.initializers, "Identity", shape,
                                                                          gain=gain)
    np.testing.assert_array_equal(ours, theirs)
    assert ours.dtype == theirs.dtype


@pytest.mark.parametrize("name", SCALED + ["TruncatedNormal", "VarianceScaling"])
@pytest.mark.parametrize("shape", [(300, 400), (3, 50, 60)])
def test_scaled_draws_share_keras_support_and_spread(name, shape):
    ours, theirs = draw(initializers, name, shape, seed=0), draw(keras.initializers, name, shape, seed=0)
    assert ours.shape == theirs.shape == shape and ours.dtype == theirs.dtype == np.float32
    bound = np.abs(ours).max()  # the uniform's limit, or the normal's cut at 2 stddev
    # the same limit or cut: Keras on torch redraws a value outside the cut at most 3 times, so about 4 in a
    # million stay outside; on its other backends none does, as here
    assert (np.abs(theirs) > 1.001 * bound).mean() < 1e-4 and np.abs(theirs).max() > 0.99 * bound
    assert ours.std() / theirs.std() == pytest.approx(1, abs=0.03)  # each within about 0.6%: 5 of them
    assert abs(ours.mean() - theirs.mean()) < 5 * theirs.std() * np.sqrt(2 / ours.size)


@pytest.mark.parametrize("config", [{"scale": 0.3, "mode": "fan_out", "distribution": "uniform"},
                                    {"scale": 2.0, "mode": "fan_avg", "distribution": "normal"},
                                    {"scale": 1.5, "distribution": "untruncated_normal"}])
def test_variance_scaling_configs_are_keras(config):
    ours = initializers.VarianceScaling(**config).get_config()
    assert ours == keras.initializers.VarianceScaling(**config).get_config()
    a = draw(initializers, "VarianceScaling", (200, 300), seed=1, **config)
    b = draw(keras.initializers, "VarianceScaling", (200, 300), seed=1, **config)
    assert a.std() / b.std() == pytest.approx(1, abs=0.03)


def test_float64_draws_are_float64_as_in_keras():
    for name in SCALED + ["TruncatedNormal", "Identity", "Orthogonal"]:
        shape = (4, 4)
        assert draw(initializers, name, shape, "float64").dtype == draw(keras.initializers, name, shape,
                                                                          "float64").dtype == np.float64, name


@pytest.mark.parametrize("name", ["glorot", "he_norm", "Xavier"])
def test_an_unknown_name_is_refused_by_both_at_construction(name):
    with pytest.raises(ValueError, match=name):
        keras.layers.Dense(2, kernel_initializer=name)
    with pytest.raises(ValueError, match=f"unknown initializer '{name}'; known: .*glorot_uniform"):
        Dense(2, kernel_initializer=name)


@pytest.mark.parametrize("name", SCALED + ["VarianceScaling"])
def test_the_named_members_scale_mode_and_distribution_are_keras(name):
    ours, theirs = getattr(initializers, name)(), getattr(keras.initializers, name)()
    assert (ours.scale, ours.mode, ours.distribution) == (theirs.scale, theirs.mode, theirs.distribution)
    assert ours.get_config() == theirs.get_config()
