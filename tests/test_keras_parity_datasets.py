"""reuters, mnist and fashion_mnist give what Keras 3's own loaders give on the same small files (needs the
`parity` extra). Keras's loaders take their files from get_file, which would download them; here get_file
is replaced by one that hands over the small file, so Keras's own code reads it."""
import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

require("keras")
from keras.src.datasets import fashion_mnist as keras_fashion_mnist  # noqa: E402
from keras.src.datasets import mnist as keras_mnist  # noqa: E402
from keras.src.datasets import reuters as keras_reuters  # noqa: E402

from dataset_files import build_fashion, build_mnist, build_reuters  # noqa: E402
from tinygrad_embed.datasets import fashion_mnist, mnist, reuters  # noqa: E402


@pytest.fixture
def reuters_file(tmp_path, monkeypatch):
    path = build_reuters(tmp_path / "reuters.npz")
    monkeypatch.setattr(keras_reuters, "get_file", lambda *args, **kwargs: str(path))
    monkeypatch.setenv("TINYGRAD_EMBED_REUTERS", str(path))
    monkeypatch.setenv("TINYGRAD_EMBED_CACHE", str(tmp_path / "cache"))
    return path


def assert_same_splits(ours, theirs):
    for (x, y), (keras_x, keras_y) in zip(ours, theirs):
        assert [list(s) for s in x] == [list(s) for s in keras_x]
        assert all(type(w) is int for s in x for w in s)
        np.testing.assert_array_equal(y, keras_y)
        assert y.dtype == keras_y.dtype and x.ndim == 1


@pytest.mark.parametrize("settings", [
    {}, {"num_words": 12}, {"skip_top": 5}, {"num_words": 15, "skip_top": 6}, {"maxlen": 8}, {"maxlen": 3},
    {"test_split": 0.5}, {"test_split": 0.0}, {"test_split": 1.0}, {"seed": 7}, {"start_char": None},
    {"oov_char": None, "num_words": 10}, {"index_from": 0}, {"start_char": None, "index_from": 0},
    {"start_char": 9, "oov_char": 5, "index_from": 10, "num_words": 20, "skip_top": 3, "maxlen": 10, "seed": 3},
])
def test_reuters_load_data_matches_keras(reuters_file, settings):
    assert_same_splits(reuters.load_data(**settings), keras_reuters.load_data(**settings))


def test_reuters_word_index_and_label_names_match_keras(reuters_file, tmp_path, monkeypatch):
    index = tmp_path / "reuters_word_index.json"
    index.write_text('{"the": 1, "of": 2, "said": 3}', encoding="utf-8")
    monkeypatch.setattr(keras_reuters, "get_file", lambda *args, **kwargs: str(index))
    assert reuters.get_word_index() == keras_reuters.get_word_index()
    assert reuters.get_label_names() == keras_reuters.get_label_names()


def test_mnist_matches_keras(tmp_path, monkeypatch):
    path = build_mnist(tmp_path / "mnist.npz")
    monkeypatch.setattr(keras_mnist, "get_file", lambda *args, **kwargs: str(path))
    monkeypatch.setenv("TINYGRAD_EMBED_MNIST", str(path))
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    (keras_x_train, keras_y_train), (keras_x_test, keras_y_test) = keras_mnist.load_data()
    for ours, theirs in ((x_train, keras_x_train), (y_train, keras_y_train), (x_test, keras_x_test),
                         (y_test, keras_y_test)):
        np.testing.assert_array_equal(ours, theirs)
        assert ours.dtype == theirs.dtype == np.uint8 and ours.shape == theirs.shape


def test_fashion_mnist_matches_keras(tmp_path, monkeypatch):
    directory = build_fashion(tmp_path / "fashion")
    monkeypatch.setattr(keras_fashion_mnist, "get_file", lambda name, **kwargs: str(directory / name))
    monkeypatch.setenv("TINYGRAD_EMBED_FASHION_MNIST", str(directory))
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    (keras_x_train, keras_y_train), (keras_x_test, keras_y_test) = keras_fashion_mnist.load_data()
    for ours, theirs in ((x_train, keras_x_train), (y_train, keras_y_train), (x_test, keras_x_test),
                         (y_test, keras_y_test)):
        np.testing.assert_array_equal(ours, theirs)
        assert ours.dtype == theirs.dtype == np.uint8 and ours.shape == theirs.shape
