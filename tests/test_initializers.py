"""Initializers: names as Keras 3 resolves them, exact constants, seeded draws, and the distributions'
defining properties (range, moments, orthonormality)."""
import numpy as np
import pytest

from tinygrad_embed import initializers
from tinygrad_embed.initializers import (Constant, GlorotUniform, Ones, Orthogonal, RandomNormal, RandomUniform,
                                         Zeros, compute_fans)
from tinygrad_embed.layers import Dense, Embedding
from tinygrad_embed.utils import set_random_seed

NAMES = {"zeros": Zeros, "zero": Zeros, "Zeros": Zeros, "ones": Ones, "one": Ones, "Ones": Ones,
         "constant": Constant, "Constant": Constant, "uniform": RandomUniform, "random_uniform": RandomUniform,
         "RandomUniform": RandomUniform, "normal": RandomNormal, "random_normal": RandomNormal,
         "RandomNormal": RandomNormal, "glorot_uniform": GlorotUniform, "GlorotUniform": GlorotUniform,
         "orthogonal": Orthogonal, "Orthogonal": Orthogonal, "OrthogonalInitializer": Orthogonal}


@pytest.mark.parametrize("name, cls", NAMES.items())
def test_every_keras_name_gives_a_new_instance_of_its_class(name, cls):
    assert type(initializers.get(name)) is cls and initializers.get(name) is not initializers.get(name)


@pytest.mark.parametrize("name", ["zeros", "ones", "constant", "random_uniform", "random_normal", "glorot_uniform",
                                  "orthogonal", "zero", "one", "uniform", "normal"])
def test_lower_case_module_names_are_the_classes_as_in_keras(name):
    assert getattr(initializers, name) is NAMES[name]
    assert type(initializers.get(getattr(initializers, name))) is NAMES[name]  # a class is instantiated


def test_unknown_names_and_identifiers_are_refused_clearly():
    with pytest.raises(ValueError, match="unknown initializer 'glorot'; known: .*glorot_uniform"):
        initializers.get("glorot")
    with pytest.raises(ImportError, match="no initializer STFT; the initializers here are: Constant, GlorotNormal, "):
        exec("from tinygrad_embed.initializers import STFT")
    with pytest.raises(ValueError, match="cannot use 3 as an initializer"):
        initializers.get(3)
    with pytest.raises(ValueError, match="Dense is not an Initializer class"):
        initializers.get(Dense)


def test_callables_instances_and_none_pass_through():
    def mine(shape, dtype=None):
        return np.full(shape, 7.0, dtype)
    instance = Ones()
    assert initializers.get(mine) is mine and initializers.get(instance) is instance
    assert initializers.get(None) is None
    np.testing.assert_array_equal(initializers.get(np.eye(2))((2, 2)), np.eye(2))  # an array: Keras's direct value


@pytest.mark.parametrize("initializer", [Zeros(), Ones(), Constant(2.5), Constant([[1, 2], [3, 4]]),
                                         RandomUniform(-1, 2, seed=4), RandomNormal(1.0, 0.5, seed=5),
                                         GlorotUniform(seed=6), Orthogonal(gain=3.0, seed=7)])
def test_serialize_get_round_trip_gives_the_same_initializer(initializer):
    config = initializers.serialize(initializer)
    assert config["class_name"] == type(initializer).__name__
    rebuilt = initializers.get(config)
    assert type(rebuilt) is type(initializer) and rebuilt.get_config() == initializer.get_config()
    np.testing.assert_array_equal(rebuilt((2, 2)), initializer((2, 2)))  # seeded: the same draws


def test_zeros_ones_constant_are_exact_and_float32_by_default():
    assert Zeros()((2, 3)).dtype == np.float32 and not Zeros()((2, 3)).any()
    np.testing.assert_array_equal(Ones()((4,), "float64"), np.ones(4))
    assert Ones()((4,), "float64").dtype == np.float64
    np.testing.assert_array_equal(Constant(-1.5)((2, 2)), [[-1.5, -1.5], [-1.5, -1.5]])


def test_constant_takes_a_matrix_as_the_embedding_tutorials_do():
    matrix = np.arange(12, dtype=np.float64).reshape(4, 3)
    layer = Embedding(4, 3, embeddings_initializer=Constant(matrix))
    np.testing.assert_array_equal(layer.get_weights()[0], matrix)
    layer.embeddings.data[0, 0] = 99.0
    assert matrix[0, 0] == 0.0  # the weight is a copy: training does not write into the user's matrix
    np.testing.assert_array_equal(Constant([1, 2, 3])((2, 3)), [[1, 2, 3], [1, 2, 3]])  # broadcasts, as Keras


def test_constant_of_the_wrong_shape_names_both_shapes():
    with pytest.raises(ValueError, match=r"value has shape \(5, 3\).*weight's shape \(4, 3\)"):
        Embedding(4, 3, embeddings_initializer=Constant(np.zeros((5, 3))))
    with pytest.raises(TypeError, match="number or an array of numbers"):
        Constant("glove.txt")


def test_a_seed_repeats_the_draws_and_no_seed_follows_set_random_seed():
    np.testing.assert_array_equal(RandomNormal(seed=3)((5, 5)), RandomNormal(seed=3)((5, 5)))
    assert not np.array_equal(RandomNormal(seed=3)((5, 5)), RandomNormal(seed=4)((5, 5)))
    set_random_seed(11)
    first, second = RandomUniform()((5, 5)), RandomUniform()((5, 5))
    assert not np.array_equal(first, second)  # unseeded: each call draws anew
    set_random_seed(11)
    np.testing.assert_array_equal(RandomUniform()((5, 5)), first)
    with pytest.raises(TypeError, match="seed must be an integer or None, got 1.5"):
        GlorotUniform(seed=1.5)


def test_the_named_defaults_draw_from_the_generator_set_random_seed_seeds():
    """The layers' string defaults keep drawing exactly what earlier versions drew: trained results stay."""
    set_random_seed(7)
    drawn = initializers.get("uniform")((3, 4))
    np.testing.assert_array_equal(drawn, np.random.default_rng(7).uniform(-0.05, 0.05, (3, 4)).astype(np.float32))


def sample_moments_fit(values, mean, std):
    """The sample mean within 5 standard errors (std / sqrt(n)) of `mean`; the sample std within 2%."""
    return abs(values.mean() - mean) < 5 * std / np.sqrt(values.size) and abs(values.std() / std - 1) < 0.02


def test_random_uniform_stays_in_range_with_the_uniform_moments():
    values = RandomUniform(seed=0)((400, 500))
    assert values.min() >= -0.05 and values.max() < 0.05
    assert sample_moments_fit(values, 0.0, 0.1 / np.sqrt(12))  # U(a, b) has std (b - a) / sqrt(12)


def test_random_normal_has_keras_defaults_and_moments():
    assert RandomNormal().get_config() == {"mean": 0.0, "stddev": 0.05, "seed": None}
    assert sample_moments_fit(RandomNormal(2.0, 0.3, seed=1)((400, 500)), 2.0, 0.3)
    with pytest.raises(ValueError, match="stddev must be at least 0, got -1"):
        RandomNormal(stddev=-1)


@pytest.mark.parametrize("shape, fans", [((20, 30), (20, 30)), ((7,), (7, 7)), ((), (1, 1)),
                                         ((3, 3, 4, 8), (36, 72))])  # 3 * 3 receptive field * 4 in, * 8 out
def test_fans_as_keras_computes_them(shape, fans):
    assert compute_fans(shape) == fans


def test_glorot_uniform_limit_is_sqrt_6_over_fan_in_plus_fan_out():
    values = GlorotUniform(seed=2)((300, 500))
    limit = np.sqrt(6 / 800)
    assert np.abs(values).max() <= limit and np.abs(values).max() > 0.999 * limit
    assert sample_moments_fit(values, 0.0, limit / np.sqrt(3))  # U(-l, l): std l / sqrt(3)


@pytest.mark.parametrize("shape", [(6, 6), (10, 4), (4, 10), (2, 3, 5)])
def test_orthogonal_gives_orthonormal_columns_or_rows_times_gain(shape):
    matrix = Orthogonal(gain=2.0, seed=0)(shape, "float64").reshape(-1, shape[-1])
    gram = matrix.T @ matrix if matrix.shape[0] >= matrix.shape[1] else matrix @ matrix.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(len(gram)), atol=1e-12)  # (gain q)^T (gain q) = gain^2 I


def test_orthogonal_refuses_a_vector():
    with pytest.raises(ValueError, match=r"rank 2 or more, got \(5,\)"):
        Orthogonal()((5,))


def test_layers_take_initializer_objects_classes_and_names():
    layer = Dense(3, kernel_initializer=Constant(0.5), bias_initializer=initializers.ones)
    layer(np.zeros((1, 2), np.float32))
    np.testing.assert_array_equal(layer.kernel.data, np.full((2, 3), 0.5, np.float32))
    np.testing.assert_array_equal(layer.bias.data, np.ones(3, np.float32))
    assert layer.kernel.dtype == np.float32
