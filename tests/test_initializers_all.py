"""Every Keras 3 initializer: its names, its statistics against Keras's definition (mean, spread and
support, from 200,000 draws), the exact ones exactly, and the seeding."""
import numpy as np
import pytest

from tinygrad_embed import initializers
from tinygrad_embed.initializers import (GlorotNormal, GlorotUniform, HeNormal, HeUniform, Identity, LecunNormal,
                                         LecunUniform, TruncatedNormal, VarianceScaling, compute_fans)
from tinygrad_embed.layers import Conv1D, Dense
from tinygrad_embed.utils import set_random_seed

SHAPE = (400, 500)  # fan_in 400, fan_out 500, 200,000 draws
FANS = {"fan_in": 400, "fan_out": 500, "fan_avg": 450}

# Keras's definitions: (class, scale, mode, distribution)
NAMED = [(GlorotUniform, 1.0, "fan_avg", "uniform"), (GlorotNormal, 1.0, "fan_avg", "truncated_normal"),
         (HeUniform, 2.0, "fan_in", "uniform"), (HeNormal, 2.0, "fan_in", "truncated_normal"),
         (LecunUniform, 1.0, "fan_in", "uniform"), (LecunNormal, 1.0, "fan_in", "truncated_normal")]

ALL_NAMES = {
    "zeros": "Zeros", "zero": "Zeros", "ones": "Ones", "one": "Ones", "constant": "Constant",
    "identity": "Identity", "Identity": "Identity", "IdentityInitializer": "Identity",
    "random_uniform": "RandomUniform", "uniform": "RandomUniform", "random_normal": "RandomNormal",
    "normal": "RandomNormal", "truncated_normal": "TruncatedNormal", "TruncatedNormal": "TruncatedNormal",
    "variance_scaling": "VarianceScaling", "VarianceScaling": "VarianceScaling",
    "glorot_uniform": "GlorotUniform", "glorot_normal": "GlorotNormal", "GlorotNormal": "GlorotNormal",
    "he_uniform": "HeUniform", "HeUniform": "HeUniform", "he_normal": "HeNormal", "HeNormal": "HeNormal",
    "lecun_uniform": "LecunUniform", "LecunUniform": "LecunUniform", "lecun_normal": "LecunNormal",
    "LecunNormal": "LecunNormal", "orthogonal": "Orthogonal", "OrthogonalInitializer": "Orthogonal"}


def assert_moments(values, mean, std):
    """The sample mean within 5 standard errors of `mean`, the sample std within 2% of `std`."""
    assert abs(values.mean() - mean) < 5 * std / np.sqrt(values.size), values.mean()
    assert abs(values.std() / std - 1) < 0.02, (values.std(), std)


@pytest.mark.parametrize("name, class_name", ALL_NAMES.items())
def test_every_keras_name_and_alias_gives_its_class(name, class_name):
    assert type(initializers.get(name)).__name__ == class_name
    assert getattr(initializers, name) is getattr(initializers, class_name)  # the module's names are the classes


@pytest.mark.parametrize("cls, scale, mode, distribution", NAMED)
def test_the_named_members_have_keras_scale_mode_and_distribution(cls, scale, mode, distribution):
    init = cls(seed=1)
    assert (init.scale, init.mode, init.distribution) == (scale, mode, distribution)
    reference = VarianceScaling(scale, mode, distribution, seed=1)
    np.testing.assert_array_equal(init((30, 20)), reference((30, 20)))  # the same maths, the same draws


@pytest.mark.parametrize("scale, mode", [(1.0, "fan_avg"), (2.0, "fan_in"), (0.5, "fan_out")])
def test_uniform_scaling_keeps_to_sqrt_3_scale_over_n_with_its_spread(scale, mode):
    values = VarianceScaling(scale, mode, "uniform", seed=3)(SHAPE)
    limit = np.sqrt(3 * scale / FANS[mode])
    assert np.abs(values).max() <= limit and np.abs(values).max() > 0.999 * limit
    assert_moments(values, 0.0, limit / np.sqrt(3))  # U(-l, l): std l / sqrt(3), i.e. sqrt(scale / n)


@pytest.mark.parametrize("scale, mode", [(1.0, "fan_avg"), (2.0, "fan_in"), (0.5, "fan_out")])
def test_truncated_scaling_has_std_sqrt_scale_over_n_cut_at_two_of_its_wider_stddev(scale, mode):
    values = VarianceScaling(scale, mode, seed=4)(SHAPE)
    std = np.sqrt(scale / FANS[mode])
    bound = 2 * std / 0.87962566103423978  # drawn with stddev std / 0.8796, cut at two of those
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.99 * bound
    assert_moments(values, 0.0, std)


def test_untruncated_scaling_is_an_uncut_normal():
    values = VarianceScaling(2.0, "fan_in", "untruncated_normal", seed=5)(SHAPE)
    std = np.sqrt(2.0 / 400)
    assert_moments(values, 0.0, std)
    assert (np.abs(values) > 2.5 * std).mean() > 0.01  # about 1.2% lie past where a cut normal stops


@pytest.mark.parametrize("cls, scale, mode, distribution", NAMED)
def test_each_named_member_draws_keras_statistics(cls, scale, mode, distribution):
    values = cls(seed=6)(SHAPE)
    std = np.sqrt(scale / FANS[mode])
    bound = np.sqrt(3) * std if distribution == "uniform" else 2 * std / 0.87962566103423978
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.99 * bound
    assert_moments(values, 0.0, std)


def test_truncated_normal_stays_within_two_stddev_of_its_mean():
    values = TruncatedNormal(mean=1.0, stddev=0.3, seed=7)(SHAPE)
    assert values.min() >= 0.4 and values.max() <= 1.6
    assert values.min() < 0.41 and values.max() > 1.59
    assert_moments(values, 1.0, 0.3 * 0.87962566103423978)
    assert TruncatedNormal().get_config() == {"mean": 0.0, "stddev": 0.05, "seed": None}
    with pytest.raises(ValueError, match="stddev must be at least 0, got -0.1"):
        TruncatedNormal(stddev=-0.1)


@pytest.mark.parametrize("shape, gain", [((4, 4), 1.0), ((3, 5), 2.0), ((5, 3), 0.5)])
def test_identity_is_the_identity_matrix_times_gain(shape, gain):
    values = Identity(gain)(shape)
    np.testing.assert_array_equal(values, gain * np.eye(*shape))
    assert values.dtype == np.float32 and Identity()((2, 2), "float64").dtype == np.float64


def test_identity_refuses_other_than_a_matrix():
    with pytest.raises(ValueError, match=r"Identity needs a matrix's shape \(rank 2\), got \(2, 2, 2\)"):
        Identity()((2, 2, 2))


def test_orthogonal_through_its_keras_2_name_is_orthonormal():
    q = initializers.get("OrthogonalInitializer")((50, 20), "float64")
    np.testing.assert_allclose(q.T @ q, np.eye(20), atol=1e-12)


@pytest.mark.parametrize("name", ["glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
                                  "truncated_normal", "variance_scaling", "random_uniform", "orthogonal"])
def test_a_seed_repeats_the_draws_and_set_random_seed_repeats_the_unseeded(name):
    cls = getattr(initializers, name)
    np.testing.assert_array_equal(cls(seed=9)((6, 5)), cls(seed=9)((6, 5)))
    assert not np.array_equal(cls(seed=9)((6, 5)), cls(seed=10)((6, 5)))
    set_random_seed(12)
    first = cls()((6, 5))
    set_random_seed(12)
    np.testing.assert_array_equal(cls()((6, 5)), first)


def test_variance_scaling_refuses_bad_arguments_as_keras_does():
    with pytest.raises(ValueError, match="scale must be a positive number, got 0"):
        VarianceScaling(scale=0)
    with pytest.raises(ValueError, match="mode must be one of fan_in, fan_out, fan_avg, got 'fan'"):
        VarianceScaling(mode="fan")
    with pytest.raises(ValueError, match="distribution must be one of .*got 'gamma'"):
        VarianceScaling(distribution="gamma")
    assert VarianceScaling(distribution="Normal").distribution == "truncated_normal"  # Keras's alias


def test_fans_of_given_axes_multiply_those_sizes():
    assert compute_fans((3, 4, 5), input_axes=[0, 1], output_axes=[2]) == (12, 5)
    values = VarianceScaling(1.0, "fan_in", "uniform", seed=0, input_axes=[0], output_axes=[1, 2])((2, 300, 400))
    assert np.abs(values).max() <= np.sqrt(3 / 2) and np.abs(values).max() > 0.99 * np.sqrt(3 / 2)


@pytest.mark.parametrize("initializer", [Identity(3.0), TruncatedNormal(0.5, 2.0, seed=1),
                                         VarianceScaling(0.3, "fan_out", "uniform", seed=2, input_axes=[0],
                                                         output_axes=[1]), HeNormal(seed=3), LecunUniform(seed=4)])
def test_serialize_round_trip_of_the_new_initializers(initializer):
    rebuilt = initializers.get(initializers.serialize(initializer))
    assert type(rebuilt) is type(initializer) and rebuilt.get_config() == initializer.get_config()
    np.testing.assert_array_equal(rebuilt((3, 3)), initializer((3, 3)))


def test_layers_take_every_initializer_by_name():
    dense = Dense(4, kernel_initializer="identity", bias_initializer="he_normal")
    dense(np.zeros((1, 4), np.float32))
    np.testing.assert_array_equal(dense.kernel.data, np.eye(4))
    conv = Conv1D(8, 3, kernel_initializer="lecun_uniform")
    conv(np.zeros((1, 5, 200), np.float32))
    limit = np.sqrt(3 / 600)  # fan_in: kernel_size 3 * 200 channels
    assert np.abs(conv.kernel.data).max() <= limit and np.abs(conv.kernel.data).max() > 0.99 * limit
