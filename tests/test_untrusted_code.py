"""Issue 29: no loader ever unpickles (object arrays are refused) or imports a module named in a file. The
witnesses: a pickle that would create a file when loaded, and a module on sys.path that creates a file
when imported; neither file may ever appear, whatever the loader answers."""
import io
import pickle
import sys

import numpy as np
import pytest

from tinygrad_embed.datasets import imdb
from untrusted_files import edit_keras_config, edit_native_config, imdb_archive, load, members, rezip, valid_files

h5py = pytest.importorskip("h5py")  # the keras-files extra
MODULE = "untrusted_witness_module"


@pytest.fixture
def files(tmp_path):
    return valid_files(tmp_path)


class _Witness:
    """Unpickled, it creates the file at `path`: proof that a loader ran a pickle."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def pickled_npy(witness_path) -> bytes:
    """A .npy of dtype object whose pickle, if loaded, creates `witness_path`."""
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array([0, 1], dtype=object), allow_pickle=True)
    header_end = buffer.getvalue().index(b"\n") + 1
    return buffer.getvalue()[:header_end] + pickle.dumps(_Witness(witness_path), protocol=2)


@pytest.mark.parametrize("kind, member", [("npz model", "config.npy"), ("npz weights", "weight/0000.npy"),
                                          ("backup", "training/random_state.npy"), ("backup", "optimizer/0/m.npy")])
def test_an_object_array_is_refused_and_its_pickle_never_runs(files, tmp_path, kind, member):
    witness = tmp_path / "pickle-ran"
    rezip(files[kind], {**members(files[kind]), member: pickled_npy(witness)})
    with pytest.raises(ValueError, match="Python objects.*unpickling; refused"):
        load(kind, files[kind])
    assert not witness.exists()


def test_a_token_cache_holding_a_pickle_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_EMBED_CACHE", str(tmp_path / "cache"))
    source = imdb_archive(tmp_path / imdb.ARCHIVE_NAME)
    imdb.get_word_index(source)
    (cached,) = (tmp_path / "cache").glob("imdb-tokens-*.npz")
    witness = tmp_path / "pickle-ran"
    rezip(cached, {**members(cached), "vocabulary.npy": pickled_npy(witness)})
    with pytest.raises(ValueError, match="Python objects"):
        imdb.load_data(source)
    assert not witness.exists()


def test_an_hdf5_object_dataset_is_refused(files):
    with h5py.File(files["weights.h5"], "a") as h5:
        del h5["layers/dense/vars/1"]
        h5.create_dataset("layers/dense/vars/1", data=np.array([b"x"], dtype=object), dtype=h5py.string_dtype())
    with pytest.raises(ValueError, match="not an array of numbers"):
        load("weights.h5", files["weights.h5"])


@pytest.fixture
def witness_module(tmp_path, monkeypatch):
    """A module on sys.path that creates a file when imported; the file's path."""
    imported = tmp_path / "module-imported"
    (tmp_path / f"{MODULE}.py").write_text(f"open({str(imported)!r}, 'w').close()\nclass Evil:\n    pass\n"
                                           "def loss(*args):\n    return 0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    return imported


def _never_imported(kind, path, imported):
    try:
        load(kind, path)
    except ValueError as error:
        assert str(path) in str(error)
    assert MODULE not in sys.modules and not imported.exists()


NATIVE_EDITS = {
    "layer": lambda c: {**c, "layers": [{"class_name": f"{MODULE}.Evil", "config": {}}, *c["layers"]]},
    "model": lambda c: {**c, "class_name": f"{MODULE}.Evil"},
    "optimizer": lambda c: {**c, "compile": {**c["compile"], "optimizer": {"class_name": f"{MODULE}.Evil", "config": {}}}},
    "loss": lambda c: {**c, "compile": {**c["compile"], "loss": f"{MODULE}.loss"}},
    "loss object": lambda c: {**c, "compile": {**c["compile"], "loss": {"class_name": f"{MODULE}.Evil", "config": {}}}},
    "metric": lambda c: {**c, "compile": {**c["compile"], "metrics": [f"{MODULE}.loss"]}},
}


@pytest.mark.parametrize("where", sorted(NATIVE_EDITS))
def test_a_module_named_in_a_native_file_is_never_imported(files, witness_module, where):
    _never_imported("npz model", edit_native_config(files["npz model"], NATIVE_EDITS[where]), witness_module)


def _keras_layer(config, entry):
    config["config"]["layers"].insert(1, entry)
    return config


KERAS_EDITS = {
    "module": lambda c: _keras_layer(c, {"module": MODULE, "class_name": "Evil", "config": {}, "registered_name": None}),
    "registered name": lambda c: _keras_layer(c, {"module": "keras.layers", "class_name": "Evil", "config": {},
                                                  "registered_name": f"{MODULE}>Evil"}),
    "built-in name, foreign module": lambda c: _keras_layer(c, {"module": MODULE, "class_name": "Dense",
                                                                "config": {"units": 1}, "registered_name": None}),
    "model module": lambda c: {**c, "module": MODULE},
    "loss": lambda c: {**c, "compile_config": {**c["compile_config"], "loss": {"module": MODULE, "class_name": "loss",
                                                                               "config": {}, "registered_name": None}}},
    "optimizer": lambda c: {**c, "compile_config": {**c["compile_config"], "optimizer": {
        "module": MODULE, "class_name": "Evil", "config": {}, "registered_name": f"{MODULE}>Evil"}}},
}


@pytest.mark.parametrize("where", sorted(KERAS_EDITS))
def test_a_module_named_in_a_keras_file_is_never_imported(files, witness_module, where):
    _never_imported("keras", edit_keras_config(files["keras"], KERAS_EDITS[where]), witness_module)


def test_the_witnesses_work(tmp_path, witness_module):
    """The module and the pickle above do create their files when imported or unpickled: the tests can fail."""
    __import__(MODULE)
    assert witness_module.exists()
    np.lib.format.read_array(io.BytesIO(pickled_npy(tmp_path / "pickle-ran")), allow_pickle=True)
    assert (tmp_path / "pickle-ran").exists()
