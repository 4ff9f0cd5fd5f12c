"""Issue 29: a model file never makes a loader open another file. A path in a configuration (a
TextVectorization vocabulary, as Keras's safe mode refuses), HDF5 soft and external links and external
storage are refused; a FIFO or a device named anywhere never blocks a loader. A FIFO is the witness:
a loader that opened one would block, which untrusted_files.never_blocks turns into a failure."""
import io
import os
import tarfile

import numpy as np
import pytest

from tinygrad_embed.datasets import imdb
from untrusted_files import (edit_keras_config, edit_native_config, fifo, imdb_archive, load, never_blocks,
                             small_model, valid_files)

h5py = pytest.importorskip("h5py")  # the keras-files extra


@pytest.fixture
def files(tmp_path):
    return valid_files(tmp_path)


def _text_vectorization(path, key="vocabulary"):
    config = {"name": "words", "max_tokens": 10, "output_mode": "int", key: str(path)}
    if key == "idf_weights":
        config.update(output_mode="tf_idf", vocabulary=["a", "b"])
    return {"class_name": "TextVectorization", "config": config}


@pytest.mark.parametrize("case", ["fifo vocabulary", "readable vocabulary", "idf_weights file", "wrapped layer"])
def test_a_path_in_a_native_config_is_never_opened(files, tmp_path, case):
    secret = tmp_path / "secret.txt"
    secret.write_text("password\nhunter2\n")
    target = fifo(tmp_path / "vocabulary") if case == "fifo vocabulary" else secret
    layer = _text_vectorization(target, "idf_weights" if case == "idf_weights file" else "vocabulary")
    if case == "wrapped layer":
        layer = {"class_name": "TimeDistributed", "config": {"name": "td", "layer": layer}}
    path = edit_native_config(files["npz model"], lambda config: {**config, "layers": [layer, *config["layers"]]})
    error = never_blocks(load, "npz model", path)
    # the message quotes the value's repr cut at 80 characters (a deep temporary directory is longer)
    assert isinstance(error, ValueError) and "names a file as its" in str(error)
    assert repr(str(target))[:80] in str(error)
    assert str(path) in str(error)


@pytest.mark.parametrize("key", ["vocabulary", "idf_weights"])
def test_a_path_in_a_keras_config_is_never_opened(files, tmp_path, key):
    target = fifo(tmp_path / "vocabulary.txt")
    layer = {"module": "keras.layers", "class_name": "TextVectorization", "registered_name": None,
             "config": _text_vectorization(target, key)["config"]}

    def add_layer(config):
        config["config"]["layers"].insert(1, layer)
        return config
    error = never_blocks(load, "keras", edit_keras_config(files["keras"], add_layer))
    assert isinstance(error, ValueError) and f"names a file as its {key}" in str(error)


def _relink(path, where, link):
    with h5py.File(path, "a") as h5:
        del h5[where]
        h5[where] = link


@pytest.mark.parametrize("case", ["soft link to a dataset", "soft link to a group", "external link to a FIFO",
                                  "external link to a valid file", "external link for a group"])
def test_hdf5_links_are_refused_and_the_model_is_unchanged(files, tmp_path, case):
    path = files["weights.h5"]
    other = tmp_path / "other.weights.h5"
    small_model().save_weights(other) if case == "external link to a valid file" else fifo(other)
    link = {"soft link to a dataset": ("layers/dense/vars/1", h5py.SoftLink("/layers/dense/vars/0")),
            "soft link to a group": ("layers/dense/vars", h5py.SoftLink("/layers/embedding/vars")),
            "external link to a FIFO": ("layers/dense/vars/0", h5py.ExternalLink(str(other), "/layers/dense/vars/0")),
            "external link to a valid file": ("layers/dense/vars/0",
                                              h5py.ExternalLink(str(other), "/layers/dense/vars/0")),
            "external link for a group": ("layers/lstm", h5py.ExternalLink(str(other), "/layers/lstm"))}[case]
    _relink(path, *link)
    model = small_model()
    model.build()
    before = model.get_weights()
    error = never_blocks(load, "weights.h5", path, model)
    assert isinstance(error, ValueError) and str(path) in str(error)
    assert ("SoftLink" if case.startswith("soft") else "ExternalLink") in str(error)
    for kept, original in zip(model.get_weights(), before):
        np.testing.assert_array_equal(kept, original)


@pytest.mark.parametrize("target", ["a FIFO", "/dev/zero", "another file"])
def test_external_storage_is_refused(files, tmp_path, target):
    path = files["weights.h5"]
    outside = {"a FIFO": lambda: str(fifo(tmp_path / "data")), "/dev/zero": lambda: "/dev/zero",
               "another file": lambda: (tmp_path / "data").write_bytes(bytes(8)) and str(tmp_path / "data")}[target]()
    with h5py.File(path, "a") as h5:
        del h5["layers/dense/vars/1"]
        h5.create_dataset("layers/dense/vars/1", shape=(1,), dtype="float32", external=[(outside, 0, 4)])
    error = never_blocks(load, "weights.h5", path)
    assert isinstance(error, ValueError) and "outside the file" in str(error)


@pytest.mark.parametrize("kind", ["npz model", "npz weights", "keras", "weights.h5", "backup", "imdb"])
def test_a_fifo_given_as_the_file_never_blocks(files, tmp_path, kind):
    name = files[kind].name
    files[kind].unlink()
    path = fifo(files[kind].parent / name)
    error = never_blocks(load, kind, path)
    assert isinstance(error, ValueError) and "a FIFO, not a regular file" in str(error) and str(path) in str(error)


@pytest.mark.parametrize("kind", ["npz model", "keras", "weights.h5", "imdb"])
def test_a_device_given_as_the_file_is_refused(tmp_path, kind):
    path = tmp_path / {"npz model": "m.npz", "keras": "m.keras", "weights.h5": "m.weights.h5",
                       "imdb": imdb.ARCHIVE_NAME}[kind]
    os.symlink("/dev/zero", path)  # read to its end, /dev/zero would never end
    error = never_blocks(load, kind, path)
    assert isinstance(error, ValueError) and "a device" in str(error)


def test_a_fifo_among_the_reviews_of_a_directory_is_refused(tmp_path):
    folder = tmp_path / "aclImdb" / "train" / "pos"
    folder.mkdir(parents=True)
    (folder / "0_9.txt").write_text("Great.")
    fifo(folder / "1_8.txt")
    error = never_blocks(imdb.load_texts, tmp_path / "aclImdb")
    assert isinstance(error, ValueError) and "1_8.txt" in str(error) and "FIFO" in str(error)


def test_links_and_fifos_inside_a_tar_are_never_followed(tmp_path):
    path = imdb_archive(tmp_path / imdb.ARCHIVE_NAME)
    with tarfile.open(path, "r:gz") as tar:
        kept = [(member, tar.extractfile(member).read()) for member in tar]
    extra = []
    for name, kind, target in [("aclImdb/train/pos/7_9.txt", tarfile.SYMTYPE, "/etc/passwd"),
                               ("aclImdb/train/pos/8_9.txt", tarfile.LNKTYPE, "aclImdb/train/neg/1_2.txt"),
                               ("aclImdb/train/pos/9_9.txt", tarfile.FIFOTYPE, ""),
                               ("aclImdb/train/pos/10_9.txt", tarfile.CHRTYPE, "")]:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, target
        extra.append((info, b""))
    with tarfile.open(path, "w:gz") as tar:
        for info, data in kept + extra:
            tar.addfile(info, io.BytesIO(data) if data else None)
    (train_texts, _), (test_texts, _) = imdb.load_texts(path)
    assert sorted(train_texts) == sorted(["A great film. Great acting.", "Awful, bad."])
    assert len(test_texts) == 2
