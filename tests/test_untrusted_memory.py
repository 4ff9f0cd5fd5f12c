"""Issue 29 and 30: memory stays proportional to what a file really holds. A small file that honestly
declares a huge member (deflated zeros, about 1,000:1) is refused before that member is inflated, by
load_model, load_weights, the backup reader and the IMDB loader alike, with the limit named; an array
whose shape claims billions of elements is refused before anything is allocated. tracemalloc (which
sees numpy's allocations) shows the peak stays far below what the bombs would inflate to."""
import tracemalloc
import zipfile

import numpy as np
import pytest

from tinygrad_embed.datasets import imdb
from tinygrad_embed.saving import archive
from untrusted_files import imdb_archive, load, members, npy, rezip, valid_files

h5py = pytest.importorskip("h5py")  # the keras-files extra
BOMB = 200 << 20  # 200 MB of zeros deflate to about 200 kB


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return valid_files(tmp_path_factory.mktemp("valid"))


def peak_while(call, *args):
    """(the exception call raised, the peak of memory traced meanwhile, in bytes)."""
    tracemalloc.start()
    try:
        call(*args)
    except Exception as error:  # noqa: BLE001 - returned to the test
        caught = error
    else:
        caught = None
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return caught, peak


def npz_bomb(path, valid):
    """`valid`'s members, the first weight replaced by a float32 array of BOMB bytes of zeros, deflated."""
    content = members(valid)
    content["weight/0000.npy"] = npy(np.zeros(BOMB // 4, np.float32))
    return rezip(path, content, zipfile.ZIP_DEFLATED)


@pytest.mark.parametrize("kind", ["npz model", "npz weights", "backup"])
def test_a_deflated_bomb_in_the_native_archive_is_refused_before_inflating(files, tmp_path, kind):
    target = tmp_path / ("backup" if kind == "backup" else "") / files[kind].name
    target.parent.mkdir(exist_ok=True)
    path = npz_bomb(target, files[kind])
    assert path.stat().st_size < BOMB / 500  # honest: about 1,000 to 1
    error, peak = peak_while(load, kind, path)
    assert isinstance(error, ValueError) and "zip bomb" in str(error) and str(path) in str(error)
    assert f"{archive.MAX_EXPANSION} times" in str(error)
    assert peak < 32 << 20, f"peak {peak} bytes while refusing a {path.stat().st_size}-byte file"


def test_many_members_are_bounded_together_not_one_by_one(files, tmp_path):
    content = members(files["npz weights"])
    for index in range(4):  # each 40 MB, under the floor alone; 160 MB together from a few hundred kB
        content[f"padding/{index}.npy"] = npy(np.zeros(10 << 20, np.float32))
    path = rezip(tmp_path / "weights.npz", content, zipfile.ZIP_DEFLATED)
    error, peak = peak_while(archive.read_archive, path)
    assert isinstance(error, ValueError) and "padding/1.npy" in str(error) and "zip bomb" in str(error)
    assert peak < 64 << 20


def test_a_keras_archive_whose_members_together_inflate_too_far_is_refused(files, tmp_path):
    content = members(files["keras"])
    content["assets/a"], content["assets/b"] = bytes(40 << 20), bytes(40 << 20)
    path = rezip(tmp_path / "model.keras", content, zipfile.ZIP_DEFLATED)
    error, peak = peak_while(load, "keras", path)
    assert isinstance(error, ValueError) and "zip bomb" in str(error)
    assert peak < 32 << 20


def test_a_header_claiming_billions_of_elements_is_refused_before_allocating(files, tmp_path):
    content = members(files["npz weights"])
    header = npy(np.zeros((2, 1), np.float32))  # its header, with the shape rewritten to ten billion rows
    content["weight/0000.npy"] = header.replace(b"(2, 1)", b"(10000000000, 1)").ljust(len(header), b" ")
    path = rezip(tmp_path / "weights.npz", content)
    error, peak = peak_while(load, "npz weights", path)
    assert isinstance(error, ValueError) and "(10000000000, 1)" in str(error) and "stores only" in str(error)
    assert peak < 16 << 20


@pytest.mark.parametrize("kind", ["weights.h5", "keras"])
def test_a_dataset_claiming_billions_of_elements_is_refused_before_allocating(files, tmp_path, kind):
    h5_path = tmp_path / "model.weights.h5"
    h5_path.write_bytes(files["weights.h5"].read_bytes() if kind == "weights.h5"
                        else members(files["keras"])["model.weights.h5"])
    with h5py.File(h5_path, "a") as h5:
        del h5["layers/dense/vars/1"]
        h5.create_dataset("layers/dense/vars/1", shape=(1,), maxshape=(None,), chunks=(1 << 20,), dtype="float32")
        h5["layers/dense/vars/1"].resize((4 << 30,))  # four billion elements, none stored
    path = h5_path
    if kind == "keras":
        path = rezip(tmp_path / "model.keras", {**members(files["keras"]), "model.weights.h5": h5_path.read_bytes()})
    error, peak = peak_while(load, kind, path)
    assert isinstance(error, ValueError) and str(path) in str(error)
    assert "(1,)" in str(error) or "stores only" in str(error)  # the shape misfits, or the bytes are not there
    assert peak < 32 << 20


def test_an_imdb_review_inflating_a_thousandfold_is_refused_with_the_limit_named(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_EMBED_CACHE", str(tmp_path / "cache"))
    review = b"great" + b" " * (16 << 20)  # 16 MB, mostly spaces, compress to about 16 kB
    path = imdb_archive(tmp_path / imdb.ARCHIVE_NAME, {"aclImdb/train/pos/0_9.txt": review})
    assert path.stat().st_size * 1000 < len(review)
    error, peak = peak_while(imdb.load_texts, path)
    assert isinstance(error, ValueError) and "aclImdb/train/pos/0_9.txt" in str(error)
    assert "MAX_REVIEW_BYTES" in str(error) and str(imdb.MAX_REVIEW_BYTES) in str(error)
    assert peak < 4 << 20


def test_an_imdb_archive_inflating_past_its_bound_is_refused_without_holding_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_EMBED_CACHE", str(tmp_path / "cache"))
    path = imdb_archive(tmp_path / imdb.ARCHIVE_NAME, {"aclImdb/train/pos/0_9.txt": b"Great.",
                                                       "aclImdb/imdb.vocab": bytes(100 << 20)})
    error, peak = peak_while(imdb.load_texts, path)
    assert isinstance(error, ValueError) and "decompression bomb" in str(error) and "imdb.vocab" in str(error)
    assert str(archive.BOMB_FLOOR) in str(error)
    assert peak < 4 << 20


def test_an_imdb_archive_of_many_headers_keeps_none_of_them(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_EMBED_CACHE", str(tmp_path / "cache"))
    many = {f"aclImdb/unsup/{i}_0.txt": b"" for i in range(20000)}  # 10 MB of tar headers, not reviews
    path = imdb_archive(tmp_path / imdb.ARCHIVE_NAME, {"aclImdb/train/pos/0_9.txt": b"Great.", **many})
    tracemalloc.start()
    (texts, _), _ = imdb.load_texts(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert texts == ["Great."]
    assert peak < 4 << 20  # every TarInfo kept would take more than that


def test_one_hdf5_dataset_linked_in_many_places_counts_each_time(tmp_path):
    from tinygrad_embed.layers import Dense, Input
    from tinygrad_embed.models import Sequential

    model = Sequential([Input((500,)), *[Dense(500, name=f"d{i}") for i in range(8)]])
    path = tmp_path / "m.weights.h5"
    with h5py.File(path, "w") as h5:  # Keras's layout, every kernel a hard link to the first: one 1 MB array, read 8 times
        h5["layers/dense/vars/0"] = np.ones((500, 500), np.float32)
        for i in range(8):
            group = "layers/dense" + (f"_{i}" if i else "")
            if i:
                h5[f"{group}/vars/0"] = h5["layers/dense/vars/0"]
            h5[f"{group}/vars/1"] = np.zeros(500, np.float32)
    assert path.stat().st_size < 8 * 500 * 500 * 4 // 4
    with pytest.raises(ValueError, match=r"layers/dense_\d/vars/0.*stores only"):
        model.load_weights(path)
