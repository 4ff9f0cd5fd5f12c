"""Initializers and the text hashing functions beside real Keras 3 (needs the `parity` extra: keras and
torch, Keras running on its torch backend). Skipped without them, except under `make parity` (and so
in CI), which sets TINYGRAD_EMBED_PARITY=required: there a missing Keras is an error, not a skip.

Constants must match exactly; random draws cannot (other generators), so each initializer's defaults
must match and both libraries' draws must show the distribution Keras defines."""

import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
require("torch")

from keras.src.initializers import ALL_OBJECTS_DICT  # noqa: E402  (Keras's table of names)
from keras.src.legacy.preprocessing import text as keras_text  # noqa: E402  (Keras 2's text functions)

from tinygrad_embed import initializers  # noqa: E402
from tinygrad_embed.preprocessing import text  # noqa: E402

OURS = {cls.__name__ for cls in initializers.CLASSES}


def draw(module, name, shape, **config):
    """A sample from module's (ours or keras.initializers) initializer `name`, as a numpy array."""
    return np.asarray(keras.ops.convert_to_numpy(getattr(module, name)(**config)(shape)))


def test_every_keras_name_of_a_class_here_resolves_to_that_class():
    names = [name for name, cls in ALL_OBJECTS_DICT.items() if cls.__name__ in OURS]
    assert len(names) == 36  # 15 classes, their snake_case names, zero, one, uniform, normal, and the
    # ...Initializer spellings of Orthogonal and Identity: all of Keras's table but STFT and the base class
    for name in names:  # Keras's own get("constant") fails (Constant.from_config needs a value): its table, then
        assert type(initializers.get(name)).__name__ == ALL_OBJECTS_DICT[name].__name__, name
    assert set(initializers.KNOWN) == set(names)


@pytest.mark.parametrize("name", sorted(OURS - {"Constant", "Identity"}))  # Identity: Keras's config drops gain
def test_default_configs_are_keras_defaults(name):
    theirs = getattr(keras.initializers, name)().get_config()
    ours = getattr(initializers, name)().get_config()
    assert {k: theirs[k] for k in ours} == ours


@pytest.mark.parametrize("name, config", [("Zeros", {}), ("Ones", {}), ("Constant", {"value": -0.25}),
                                          ("Constant", {"value": np.arange(6.0).reshape(2, 3)})])
def test_constants_are_exactly_keras(name, config):
    ours, theirs = draw(initializers, name, (2, 3), **config), draw(keras.initializers, name, (2, 3), **config)
    np.testing.assert_array_equal(ours, theirs)


def assert_same_distribution(ours, theirs, low, high, std):
    """Both samples inside [low, high] with the std Keras defines (each within 2%), means within 5
    standard errors of each other."""
    for values in (ours, theirs):
        assert low <= values.min() and values.max() <= high
        assert abs(values.std() / std - 1) < 0.02
    assert abs(ours.mean() - theirs.mean()) < 5 * std * np.sqrt(2 / ours.size)


def test_random_uniform_default_matches_keras():
    a = draw(initializers, "RandomUniform", (300, 400), seed=0)
    b = draw(keras.initializers, "RandomUniform", (300, 400), seed=0)
    assert_same_distribution(a, b, -0.05, 0.05, 0.1 / np.sqrt(12))


def test_random_normal_default_matches_keras():
    a = draw(initializers, "RandomNormal", (300, 400), seed=0)
    b = draw(keras.initializers, "RandomNormal", (300, 400), seed=0)
    assert_same_distribution(a, b, -np.inf, np.inf, 0.05)


@pytest.mark.parametrize("shape", [(300, 400), (3, 3, 40, 50)])
def test_glorot_uniform_matches_keras_including_convolution_fans(shape):
    a = draw(initializers, "GlorotUniform", shape, seed=0)
    b = draw(keras.initializers, "GlorotUniform", shape, seed=0)
    limit = max(np.abs(b).max(), np.abs(a).max())
    assert_same_distribution(a, b, -limit, limit, limit / np.sqrt(3))
    assert np.abs(a).max() / np.abs(b).max() == pytest.approx(1, abs=1e-3)  # the same limit


@pytest.mark.parametrize("shape", [(8, 8), (12, 5), (5, 12), (2, 3, 7)])
def test_orthogonal_has_keras_orthonormality_and_gain(shape):
    for values in (draw(initializers, "Orthogonal", shape, gain=1.5, seed=0),
                   draw(keras.initializers, "Orthogonal", shape, gain=1.5, seed=0)):
        assert values.shape == shape
        m = values.reshape(-1, shape[-1]).astype(np.float64)
        gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
        np.testing.assert_allclose(gram, 2.25 * np.eye(len(gram)), atol=1e-5)


TEXTS = ["The cat sat on the mat.", "Hello, World!  It's\tnice", "a-b c_d e", ""]


@pytest.mark.parametrize("options", [{}, {"lower": False}, {"filters": ""}, {"split": ","}])
def test_text_functions_give_keras_2s_words_and_ids(options):
    for sample in TEXTS:
        assert text.text_to_word_sequence(sample, **options) == keras_text.text_to_word_sequence(sample, **options)
        assert text.one_hot(sample, 20, **options) == keras_text.one_hot(sample, 20, **options)
        assert text.hashing_trick(sample, 7, "md5", **options) == keras_text.hashing_trick(sample, 7, "md5", **options)
