"""reuters, mnist and fashion_mnist on small files of the real formats built here (tests/dataset_files.py):
Keras's rules for the Reuters ids by hand, the refusal of pickles that would run code, the hash checks of
cached copies and downloads, and where each loader finds its files. No test needs the network."""
import gzip
import hashlib
import io
import json
import pickle
import zipfile

import numpy as np
import pytest

from dataset_files import (FASHION_FILES, build_fashion, build_mnist, build_npz_member_by_hand, build_reuters,
                           idx_bytes, newswires, npy_of_pickle, numpy1_pickle, object_array)
from tinygrad_embed.datasets import fashion_mnist, files, mnist, reuters
from tinygrad_embed.datasets.npz import read_npz


def _npy(array: np.ndarray) -> bytes:
    stream = io.BytesIO()
    np.save(stream, array, allow_pickle=False)
    return stream.getvalue()


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_EMBED_CACHE", str(tmp_path / "cache"))
    for name in ("TINYGRAD_EMBED_REUTERS", "TINYGRAD_EMBED_MNIST", "TINYGRAD_EMBED_FASHION_MNIST"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def small_reuters(tmp_path, monkeypatch):
    path = build_reuters(tmp_path / "reuters.npz")
    monkeypatch.setenv("TINYGRAD_EMBED_REUTERS", str(path))
    return newswires()


def everything(splits):
    (x_train, y_train), (x_test, y_test) = splits
    return list(x_train) + list(x_test), np.concatenate([y_train, y_test])


def test_reuters_shuffles_with_the_seed_keeping_each_label_with_its_newswire(small_reuters):
    sequences, labels = small_reuters
    order = np.arange(len(sequences))
    np.random.RandomState(113).shuffle(order)
    xs, ys = everything(reuters.load_data(num_words=100))
    assert xs == [[1] + [w + 3 for w in sequences[i]] for i in order]
    assert ys.tolist() == labels[order].tolist()
    assert everything(reuters.load_data(num_words=100, seed=113))[0] == xs
    assert everything(reuters.load_data(num_words=100, seed=114))[0] != xs


@pytest.mark.parametrize("test_split", [0.2, 0.5, 0.0, 1.0, 0.33])
def test_reuters_splits_at_int_n_times_one_minus_test_split(small_reuters, test_split):
    (x_train, y_train), (x_test, y_test) = reuters.load_data(test_split=test_split)
    assert len(x_train) == len(y_train) == int(40 * (1 - test_split)) and len(x_test) == len(y_test) == 40 - len(x_train)
    assert x_train.dtype == object and x_train.ndim == 1 and y_train.dtype == np.int64


def test_reuters_num_words_and_skip_top_turn_ids_outside_into_oov_char(small_reuters):
    plain, _ = everything(reuters.load_data(num_words=100))
    cut, _ = everything(reuters.load_data(num_words=12, skip_top=5, oov_char=7))
    assert cut == [[w if 5 <= w < 12 else 7 for w in s] for s in plain]
    assert cut[0][0] == 7  # the start id 1 is below skip_top, and Keras replaces it too
    dropped, _ = everything(reuters.load_data(num_words=12, oov_char=None))
    assert dropped == [[w for w in s if w < 12] for s in plain]


def test_reuters_without_num_words_keeps_all_but_the_largest_id_as_keras_does(small_reuters):
    plain, _ = everything(reuters.load_data(oov_char=None, num_words=10 ** 6))
    largest = max(max(s) for s in plain)
    assert everything(reuters.load_data())[0] == [[2 if w == largest else w for w in s] for s in plain]


def test_reuters_maxlen_drops_newswires_of_maxlen_ids_or_more(small_reuters):
    sequences, labels = small_reuters
    xs, ys = everything(reuters.load_data(maxlen=6))
    assert all(len(s) < 6 for s in xs) and len(xs) == sum(len(s) + 1 < 6 for s in sequences) == len(ys)
    assert sorted(ys.tolist()) == sorted(labels[[len(s) + 1 < 6 for s in sequences]].tolist())


def test_reuters_index_from_and_start_char(small_reuters):
    sequences, _ = small_reuters
    raw, _ = everything(reuters.load_data(start_char=None, index_from=0, num_words=100, seed=0))
    order = np.arange(40)
    np.random.RandomState(0).shuffle(order)
    assert raw == [sequences[i] for i in order]
    shifted, _ = everything(reuters.load_data(start_char=9, index_from=10, num_words=100, seed=0))
    assert shifted == [[9] + [w + 10 for w in s] for s in raw]


def test_reuters_sequences_stay_a_1d_array_of_lists_even_when_all_are_as_long(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_EMBED_REUTERS", str(build_reuters(tmp_path / "r.npz", [[4, 5]] * 5, [0, 1, 2, 3, 4])))
    (x_train, _), (x_test, _) = reuters.load_data(num_words=100)
    assert x_train.shape == (4,) and x_test.shape == (1,) and x_train[0] == [1, 7, 8]


def test_reuters_word_index_labels_and_the_environment_variable_as_a_directory(tmp_path, monkeypatch):
    folder = tmp_path / "mine"
    folder.mkdir()
    build_reuters(folder / "reuters.npz")
    (folder / "reuters_word_index.json").write_text(json.dumps({"the": 1, "of": 2}), encoding="utf-8")
    monkeypatch.setenv("TINYGRAD_EMBED_REUTERS", str(folder))
    assert reuters.get_word_index() == {"the": 1, "of": 2}
    assert len(reuters.load_data()[0][0]) == 32
    monkeypatch.setenv("TINYGRAD_EMBED_REUTERS", str(folder / "reuters.npz"))  # the word index is found beside it
    assert reuters.get_word_index() == {"the": 1, "of": 2}
    labels = reuters.get_label_names()
    assert len(labels) == 46 and labels[3] == "earn" and labels[45] == "lead"


def test_a_missing_local_copy_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_EMBED_REUTERS", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="TINYGRAD_EMBED_REUTERS names .* reuters.npz"):
        reuters.load_data()


def test_a_bad_test_split_is_refused(small_reuters):
    with pytest.raises(ValueError, match=r"test_split must be in \[0, 1\], got 1.5"):
        reuters.load_data(test_split=1.5)


RAN = []


def record(what):
    RAN.append(what)


class _RunsCode:
    def __reduce__(self):  # unpickled by a trusting reader, this calls record("ran")
        return (record, ("ran",))


def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path, monkeypatch):
    tampered = object_array([[1, 2], _RunsCode()])
    path = build_npz_member_by_hand(tmp_path / "reuters.npz", {"x": npy_of_pickle(pickle.dumps(tampered, 3), (2,)),
                                                                "y": _npy(np.array([0, 1]))})
    monkeypatch.setenv("TINYGRAD_EMBED_REUTERS", str(path))
    with pytest.raises(ValueError, match="refusing to load test_more_datasets.record: .* made to run code"):
        reuters.load_data()
    assert RAN == []


def test_an_object_array_written_by_numpy_1_reads(tmp_path, monkeypatch):
    sequences, labels = newswires(6)
    pickled = numpy1_pickle(object_array(sequences))
    assert b"numpy.core.multiarray" in pickled
    path = build_npz_member_by_hand(tmp_path / "reuters.npz", {"x": npy_of_pickle(pickled, (6,)), "y": _npy(labels)})
    monkeypatch.setenv("TINYGRAD_EMBED_REUTERS", str(path))
    xs, _ = everything(reuters.load_data(seed=5, start_char=None, index_from=0, num_words=100))
    assert sorted(xs) == sorted(sequences)


def test_newswires_that_are_not_lists_of_ints_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_EMBED_REUTERS", str(build_reuters(tmp_path / "r.npz", [[1, 2], ["a", 3]], [0, 1])))
    with pytest.raises(ValueError, match="newswire 1 .* should be a list of integer word ids"):
        reuters.load_data()


def test_a_cached_copy_with_the_wrong_sha256_is_refused_naming_the_file_and_both_hashes(tmp_path):
    files.cache_dir().mkdir(parents=True)
    cached = build_reuters(files.cache_dir() / "reuters.npz")
    actual = hashlib.sha256(cached.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match=f"{cached}.*sha256 {actual}, expected {reuters.SHA256}"):
        reuters.load_data()
    elsewhere = build_mnist(tmp_path / "elsewhere.npz")  # a path argument is a copy in Keras's cache: checked too
    with pytest.raises(ValueError, match=f"elsewhere.npz.*sha256 {hashlib.sha256(elsewhere.read_bytes()).hexdigest()}, "
                                         f"expected {mnist.SHA256}"):
        mnist.load_data(path=elsewhere)


def test_a_missing_copy_is_downloaded_into_the_cache_checked_then_read(tmp_path, monkeypatch):
    (tmp_path / "served").mkdir()
    served = build_reuters(tmp_path / "served" / "reuters.npz")
    monkeypatch.setattr(reuters, "ORIGIN", (tmp_path / "served").as_uri() + "/")
    monkeypatch.setattr(reuters, "SHA256", hashlib.sha256(served.read_bytes()).hexdigest())
    assert len(reuters.load_data()[1][0]) == 8
    assert (files.cache_dir() / "reuters.npz").read_bytes() == served.read_bytes()
    monkeypatch.setattr(reuters, "SHA256", "0" * 64)
    (files.cache_dir() / "reuters.npz").unlink()
    with pytest.raises(ValueError, match="download from .*reuters.npz has sha256 .*expected 0{64}"):
        reuters.load_data()
    assert list(files.cache_dir().iterdir()) == []


def test_mnist_reads_keras_layout(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_EMBED_MNIST", str(build_mnist(tmp_path / "mnist.npz", train=6, test=2)))
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    assert x_train.shape == (6, 28, 28) and y_train.shape == (6,) and x_test.shape == (2, 28, 28)
    assert x_train.dtype == y_train.dtype == x_test.dtype == y_test.dtype == np.uint8
    np.testing.assert_array_equal(x_test, np.load(tmp_path / "mnist.npz")["x_test"])


def test_mnist_refuses_missing_arrays_and_pickles(tmp_path, monkeypatch):
    np.savez(tmp_path / "partial.npz", x_train=np.zeros((1, 28, 28), np.uint8))
    monkeypatch.setenv("TINYGRAD_EMBED_MNIST", str(tmp_path / "partial.npz"))
    with pytest.raises(ValueError, match=r"\['y_train', 'x_test', 'y_test'\] are missing"):
        mnist.load_data()
    np.savez(tmp_path / "objects.npz", x_train=object_array([[1]]), y_train=np.zeros(1), x_test=np.zeros(1),
             y_test=np.zeros(1))
    monkeypatch.setenv("TINYGRAD_EMBED_MNIST", str(tmp_path / "objects.npz"))
    with pytest.raises(ValueError, match="not a readable mnist.npz"):
        mnist.load_data()


def test_fashion_mnist_reads_the_four_idx_files(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_EMBED_FASHION_MNIST", str(build_fashion(tmp_path / "fashion", train=4, test=2)))
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    assert x_train.shape == (4, 28, 28) and y_train.shape == (4,) and x_test.shape == (2, 28, 28)
    assert x_train.dtype == y_test.dtype == np.uint8
    with gzip.open(tmp_path / "fashion" / FASHION_FILES[1]) as file:
        assert x_train.tobytes() == file.read()[16:]


def test_fashion_mnist_refuses_a_damaged_or_inconsistent_idx_file(tmp_path, monkeypatch):
    directory = build_fashion(tmp_path / "fashion")
    monkeypatch.setenv("TINYGRAD_EMBED_FASHION_MNIST", str(directory))
    with gzip.open(directory / FASHION_FILES[0], "wb") as file:
        file.write(idx_bytes(np.zeros((4, 2))))
    with pytest.raises(ValueError, match="not an idx file of 1-D unsigned bytes: its magic number is 2050"):
        fashion_mnist.load_data()
    with gzip.open(directory / FASHION_FILES[0], "wb") as file:
        file.write(idx_bytes(np.zeros(5))[:-1])
    with pytest.raises(ValueError, match=r"announces shape \(5,\) but holds 4 bytes"):
        fashion_mnist.load_data()
    with gzip.open(directory / FASHION_FILES[0], "wb") as file:
        file.write(idx_bytes(np.zeros(3)))
    with pytest.raises(ValueError, match="train files of Fashion-MNIST disagree: 4 images, 3 labels"):
        fashion_mnist.load_data()


def test_a_cached_fashion_mnist_file_is_checked_against_zalandos_md5(tmp_path):
    build_fashion(files.cache_dir() / "fashion-mnist")
    with pytest.raises(ValueError, match=f"train-labels-idx1-ubyte.gz.*md5 .*expected {fashion_mnist.MD5[FASHION_FILES[0]]}"):
        fashion_mnist.load_data()


def test_keras_spells_them_so():
    import tinygrad_embed as keras
    from tinygrad_embed.datasets import fashion_mnist as by_import
    assert keras.datasets.mnist.load_data is mnist.load_data and by_import is fashion_mnist
    assert callable(keras.datasets.reuters.get_word_index)


@pytest.mark.parametrize("header", [b"{'descr': '<i8', 'fortran_order': False, 'shape': (3,)}}",
                                    b"{'descr': '<i8', 'fortran_order': False, 'shape': (3,",
                                    b"{'descr': '<i8' 'fortran_order' False ]"])
def test_a_damaged_array_header_is_a_value_error_naming_the_member(tmp_path, header):
    """numpy's header parser raises tokenize's and ast's errors on a damaged header: a ValueError here."""
    buffer = io.BytesIO()
    np.save(buffer, np.arange(3))
    raw = buffer.getvalue()
    start, length = 10, int.from_bytes(raw[8:10], "little")  # version 1.0: magic, version, 2-byte length
    damaged = raw[:start] + header.ljust(length - 1) + b"\n" + raw[start + length:]
    path = tmp_path / "reuters.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", damaged)
    with pytest.raises(ValueError, match="x.npy in .*reuters.npz"):
        read_npz(path)
