"""Issue 29: every malformed file gets a ValueError naming the file and what is wrong, whatever the library
underneath raised, and the model in memory is left unchanged. Zip features the readers do not support,
member names leaving the archive, configurations nested thousands deep or holding non-finite or absurd
numbers, unknown layers, HDF5 groups where datasets belong, weights and optimizer states that do not fit."""
import io
import shutil
import zipfile

import numpy as np
import pytest

from tinygrad_embed.datasets import imdb
from tinygrad_embed.saving import archive
from untrusted_files import (imdb_archive, load, members, npy, rezip, small_model, trained_model, valid_files)

h5py = pytest.importorskip("h5py")  # the keras-files extra
ZIPPED = ["npz model", "npz weights", "keras", "backup"]


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    return valid_files(tmp_path_factory.mktemp("valid"))


@pytest.fixture
def files(originals, tmp_path):
    """Fresh copies of the valid files, for one test to damage."""
    copies = {}
    for kind, path in originals.items():
        copies[kind] = tmp_path / path.relative_to(originals["keras"].parent)
        copies[kind].parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, copies[kind])
    return copies


def refused(kind, path, *expected, model=None):
    """The ValueError loading `path` raised, checked to name the file and each of `expected`."""
    with pytest.raises(ValueError) as caught:
        load(kind, path, model)
    message = str(caught.value)
    assert str(path) in message, message
    for text in expected:
        assert text in message, message
    return message


def patch_headers(path, local_at, central_at, value):
    """Every zip entry's 2-byte field at `local_at` of its local header and `central_at` of its central one."""
    data = bytearray(path.read_bytes())
    for signature, at in ((b"PK\x03\x04", local_at), (b"PK\x01\x02", central_at)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            data[start + at:start + at + 2] = value.to_bytes(2, "little")
            start += 4
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("kind", ZIPPED)
@pytest.mark.parametrize("feature, fields, expected", [("encryption", (6, 8, 1), "is encrypted"),
                                                       ("unknown method", (8, 10, 99), "compression method 99"),
                                                       ("newer version", (4, 6, 255), "zip file version 25.5")])
def test_zip_features_the_reader_lacks_are_named(files, kind, feature, fields, expected):
    patch_headers(files[kind], *fields)
    refused(kind, files[kind], expected)


@pytest.mark.parametrize("kind", ZIPPED)
@pytest.mark.parametrize("name", ["../evil.npy", "/tmp/evil.npy", "weight/../../evil.npy", "C:\\evil.npy",
                                  "..\\evil.npy"])
def test_a_member_leaving_the_archive_is_refused_and_nothing_is_written(files, tmp_path, kind, name):
    rezip(files[kind], {**members(files[kind]), name: npy(np.zeros(2))})
    before = sorted(p for p in tmp_path.parent.rglob("*evil*"))
    refused(kind, files[kind], repr(name), "absolute path or '..'")
    assert sorted(p for p in tmp_path.parent.rglob("*evil*")) == before


def test_a_member_named_twice_is_refused(files):
    content = members(files["npz weights"])
    with pytest.warns(UserWarning, match="Duplicate name"):
        rezip(files["npz weights"], {**content, "weight/0000.npy": npy(np.zeros(3))})
        with zipfile.ZipFile(files["npz weights"], "a") as extra:
            extra.writestr("weight/0000.npy", npy(np.ones((6, 2), np.float32)))
    refused("npz weights", files["npz weights"], "appears twice")


def _edit_config_text(kind, path, old, new):
    """The model file at `path` with `old` replaced by `new` in the text of its JSON config."""
    content = members(path)
    if kind == "keras":
        text = content["config.json"].decode()
        assert old in text
        content["config.json"] = text.replace(old, new, 1).encode()
    else:
        text = str(np.lib.format.read_array(io.BytesIO(content["config.npy"])))
        assert old in text
        content["config.npy"] = npy(np.array(text.replace(old, new, 1)))
    rezip(path, content)


DENSE_UNITS = '"units": 1, "name": "d"'
CONFIG_ABUSE = {  # the Dense layer's units -> what the message must say
    "NaN": "NaN is not a number", "Infinity": "Infinity is not a number", "-Infinity": "-Infinity is not a number",
    "1e999": "overflows to infinity", "[" * 5000 + "]" * 5000: "nests deeper", "[" * 80 + "]" * 80: "deeper than 64",
    "1" + "0" * 5000: "", "-3": "units", "1000000000000": "", '"four"': "units", "2.5": "units", "true": "units"}


@pytest.mark.parametrize("kind", ["npz model", "keras"])
@pytest.mark.parametrize("units", sorted(CONFIG_ABUSE), ids=lambda units: units[:12])
def test_config_values_that_no_model_holds_are_refused(files, kind, units):
    _edit_config_text(kind, files[kind], DENSE_UNITS, DENSE_UNITS.replace("1", units, 1))
    refused(kind, files[kind], CONFIG_ABUSE[units])


@pytest.mark.parametrize("kind", ["npz model", "keras"])
@pytest.mark.parametrize("class_name", ["EvilLayer", "os.system", "builtins.eval", "Model"])
def test_a_config_naming_an_unknown_layer_is_refused(files, kind, class_name):
    _edit_config_text(kind, files[kind], '"class_name": "Dense"', f'"class_name": "{class_name}"')
    refused(kind, files[kind], class_name)


@pytest.mark.parametrize("kind", ["npz model", "keras"])
@pytest.mark.parametrize("shape", ["[null, -3]", "[null, 0.5]", "[null, 1e300]", '"3"', "[]"])
def test_absurd_input_shapes_are_refused(files, kind, shape):
    _edit_config_text(kind, files[kind], '"input_shape": [null, 3]' if kind == "npz model" else '"batch_shape": [null, 3]',
                      ('"input_shape": ' if kind == "npz model" else '"batch_shape": ') + shape)
    refused(kind, files[kind])


@pytest.mark.parametrize("kind", ["weights.h5", "keras"])
@pytest.mark.parametrize("damage", ["group for a dataset", "dataset for a group", "strings", "compound",
                                    "one array short", "an array too many", "bad superblock"])
def test_hdf5_damage_gives_a_value_error_and_leaves_the_model(files, tmp_path, kind, damage):
    h5_path = tmp_path / "inner.weights.h5"
    h5_path.write_bytes(members(files["keras"])["model.weights.h5"] if kind == "keras"
                        else files["weights.h5"].read_bytes())
    if damage == "bad superblock":
        data = bytearray(h5_path.read_bytes())
        data[8:24] = bytes(range(200, 216))
        h5_path.write_bytes(bytes(data))
    else:
        with h5py.File(h5_path, "a") as h5:
            if damage == "dataset for a group":
                del h5["layers/dense/vars"]
                h5["layers/dense/vars"] = np.zeros(3)
            elif damage == "an array too many":
                h5["layers/dense/vars/2"] = np.zeros(3)
            else:
                del h5["layers/dense/vars/1"]
                if damage == "group for a dataset":
                    h5.create_group("layers/dense/vars/1")
                elif damage == "strings":
                    h5["layers/dense/vars/1"] = np.array([b"x"], dtype=h5py.string_dtype())
                elif damage == "compound":
                    h5["layers/dense/vars/1"] = np.zeros(1, dtype=[("a", "f4"), ("b", "i4")])
    path = h5_path if kind == "weights.h5" else rezip(files["keras"], {**members(files["keras"]),
                                                                       "model.weights.h5": h5_path.read_bytes()})
    model = small_model()
    model.build()
    before = model.get_weights()
    refused(kind, path, model=model)
    for kept, original in zip(model.get_weights(), before):
        np.testing.assert_array_equal(kept, original)


@pytest.mark.parametrize("damage", ["shape", "count", "strings", "optimizer state", "epochs", "random state"])
def test_a_backup_that_does_not_fit_leaves_the_model_and_its_optimizer_as_they_were(files, damage):
    path = files["backup"]
    content = members(path)
    if damage == "shape":
        content["weight/0000.npy"] = npy(np.zeros((2, 6), np.float32))
    elif damage == "count":
        del content["weight/0004.npy"]
    elif damage == "strings":
        content["weight/0005.npy"] = npy(np.array(["x"]))
    elif damage == "optimizer state":
        content["optimizer/5/v.npy"] = npy(np.zeros(7, np.float32))
    elif damage == "epochs":
        content["training/epochs_done.npy"] = npy(np.array([1, 2]))
    else:
        content["training/random_state.npy"] = npy(np.array('{"bit_generator": "MT19937"}'))
    rezip(path, content)
    model = trained_model()
    weights, state, step = model.get_weights(), model.optimizer.get_state(), model.optimizer.iterations
    refused("backup", path, model=model)
    for kept, original in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(kept, original)
    assert model.optimizer.iterations == step
    assert {k: v.tolist() for k, v in model.optimizer.get_state().items()} == {k: v.tolist() for k, v in state.items()}


@pytest.mark.parametrize("damage", ["shape", "count", "dtype", "not npy", "format"])
def test_native_weights_that_do_not_fit_leave_the_model(files, damage):
    path = files["npz weights"]
    content = members(path)
    if damage == "shape":
        content["weight/0001.npy"] = npy(np.zeros((3, 8), np.float32))
    elif damage == "count":
        content["weight/0006.npy"] = npy(np.zeros(1, np.float32))
    elif damage == "dtype":
        content["weight/0005.npy"] = npy(np.array([True]))
    elif damage == "not npy":
        content["weight/0002.npy"] = b"certainly not an array"
    else:
        content["format.npy"] = npy(np.array("someone else's/1"))
    rezip(path, content)
    model = trained_model()
    before = model.get_weights()
    refused("npz weights", path, model=model)
    for kept, original in zip(model.get_weights(), before):
        np.testing.assert_array_equal(kept, original)


def test_an_undecodable_imdb_review_names_its_member(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_EMBED_CACHE", str(tmp_path / "cache"))
    path = imdb_archive(tmp_path / imdb.ARCHIVE_NAME, {"aclImdb/train/pos/0_9.txt": b"Fine.",
                                                       "aclImdb/train/neg/5_1.txt": b"Bad \xff\xfe film."})
    refused("imdb", path, "aclImdb/train/neg/5_1.txt", "not UTF-8", "at byte 4")
    folder = tmp_path / "aclImdb" / "test" / "neg"
    folder.mkdir(parents=True)
    (folder / "9_2.txt").write_bytes(b"\xc3")
    with pytest.raises(ValueError, match=r"9_2\.txt.*not UTF-8"):
        imdb.load_texts(tmp_path / "aclImdb")


@pytest.mark.parametrize("damage", ["no labels", "lengths", "labels", "ids", "vocabulary", "strings for ids"])
def test_a_damaged_token_cache_is_named_and_never_used(tmp_path, monkeypatch, damage):
    monkeypatch.setenv("TINYGRAD_EMBED_CACHE", str(tmp_path / "cache"))
    source = imdb_archive(tmp_path / imdb.ARCHIVE_NAME)
    imdb.get_word_index(source)  # writes the cache
    (cached,) = (tmp_path / "cache").glob("imdb-tokens-*.npz")
    tokens = archive.read_archive(cached)
    del tokens["format"]
    if damage == "no labels":
        del tokens["labels"]
    elif damage == "lengths":
        tokens["lengths"] = tokens["lengths"] + 1
    elif damage == "labels":
        tokens["labels"] = tokens["labels"] + 5
    elif damage == "ids":
        tokens["ids"] = tokens["ids"] * 1000
    elif damage == "vocabulary":
        tokens["vocabulary"] = np.array('{"not": "a list"}')
    else:
        tokens["ids"] = tokens["ids"].astype(str)
    archive.write_archive(cached, tokens)
    with pytest.raises(ValueError, match=r"imdb-tokens-.*is not a token cache this module wrote.*delete it"):
        imdb.load_data(source)
