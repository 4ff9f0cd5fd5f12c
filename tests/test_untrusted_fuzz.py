"""Issue 29's fuzz: real files of every format a loader reads, corrupted by hypothesis (truncated, bytes
flipped, spans overwritten, inserted, deleted or repeated), either load or are refused with a ValueError
naming the file. Never a KeyError, RuntimeError or OSError from h5py or zipfile, never a hang. Zipped
formats are also corrupted inside (the member's bytes changed and the zip rebuilt, so its checksums hold
and the damage reaches the parsers of .npy, JSON and HDF5). The number of examples is the hypothesis
profile's (tests/conftest.py): 60 per format under HYPOTHESIS_PROFILE=ci; the count is printed at the end."""
import os
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FUZZ_CASES
from tinygrad_embed.datasets import imdb
from untrusted_files import load, members, rezip, valid_files

pytest.importorskip("h5py")  # the keras-files extra
fuzz_settings = settings(suppress_health_check=list(HealthCheck), deadline=None)
# numpy compiles a damaged .npy header as a Python literal, and Python warns about the escapes it finds there
pytestmark = pytest.mark.filterwarnings("ignore:invalid escape sequence:DeprecationWarning")
INSIDE = {"npz model": "config.npy", "npz weights": "weight/0001.npy", "backup": "optimizer/3/m.npy",
          "keras": "model.weights.h5", "keras config": "config.json"}
KINDS = ["npz model", "npz weights", "backup", "keras", "weights.h5", "imdb", "token cache"]


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    directory = tmp_path_factory.mktemp("valid")
    files = valid_files(directory)
    previous = os.environ.get("TINYGRAD_EMBED_CACHE")
    os.environ["TINYGRAD_EMBED_CACHE"] = str(directory / "cache")
    try:
        imdb.get_word_index(files["imdb"])  # writes the token cache
    finally:
        os.environ.pop("TINYGRAD_EMBED_CACHE") if previous is None else os.environ.update(TINYGRAD_EMBED_CACHE=previous)
    (files["token cache"],) = (directory / "cache").glob("imdb-tokens-*.npz")
    return files


@st.composite
def corrupted(draw, data: bytes) -> bytes:
    """`data` damaged once or a few times over."""
    for _ in range(draw(st.integers(1, 3))):
        size = len(data)
        at = draw(st.integers(0, max(size - 1, 0)))
        span = draw(st.integers(1, 64))
        how = draw(st.sampled_from(["truncate", "flip", "overwrite", "insert", "delete", "repeat"]))
        if how == "truncate":
            data = data[:at]
        elif how == "flip":
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:] if size else data
        elif how == "overwrite":
            data = data[:at] + draw(st.binary(min_size=1, max_size=span)) + data[at + span:]
        elif how == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=span)) + data[at:]
        elif how == "delete":
            data = data[:at] + data[at + span:]
        else:
            data = data[:at + span] + data[at:]
    return data


def loads_or_names_itself(kind: str, path, target: str) -> None:
    FUZZ_CASES[target] += 1
    try:
        load(kind, path)
    except ValueError as error:
        assert str(path) in str(error), f"{target}: the message does not name the file: {error}"


@pytest.mark.parametrize("kind", KINDS)
@fuzz_settings
@given(data=st.data())
def test_a_corrupted_file_loads_or_is_refused_naming_itself(originals, tmp_path_factory, kind, data):
    original = originals[kind]
    path = tmp_path_factory.mktemp("fuzz") / ("backup" if kind == "backup" else "") / original.name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data.draw(corrupted(original.read_bytes())))
    loads_or_names_itself(kind, path, f"{kind} file")


@pytest.mark.parametrize("inside", sorted(INSIDE))
@fuzz_settings
@given(data=st.data())
def test_a_member_corrupted_inside_its_zip_loads_or_is_refused_naming_the_file(originals, tmp_path_factory, inside,
                                                                                data):
    kind = "keras" if inside == "keras config" else inside
    content = members(originals[kind])
    content[INSIDE[inside]] = data.draw(corrupted(content[INSIDE[inside]]))
    path = tmp_path_factory.mktemp("fuzz") / ("backup" if kind == "backup" else "") / originals[kind].name
    path.parent.mkdir(exist_ok=True)
    rezip(path, content, data.draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])))
    loads_or_names_itself(kind, path, f"{inside} member")
