"""Small valid files of every format a loader reads, built here, for tests/test_untrusted_*.py to damage:
the native .npz model and weights files, a BackupAndRestore backup, Keras's .keras and .weights.h5, an
IMDB archive and its token cache. Plus the tools those tests share: rezipping, loading every format,
and a guard that a loader never blocks (a FIFO it opened would)."""
import io
import json
import os
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np

from tinygrad_embed.callbacks import BackupAndRestore
from tinygrad_embed.datasets import imdb
from tinygrad_embed.layers import LSTM, Dense, Embedding, Input
from tinygrad_embed.models import Sequential, load_model
from tinygrad_embed.utils import set_random_seed

REVIEWS = {"aclImdb/train/pos/0_9.txt": "A great film.<br />Great acting.", "aclImdb/train/neg/1_2.txt": "Awful, bad.",
           "aclImdb/test/pos/2_8.txt": "Loved it, great.", "aclImdb/test/neg/3_1.txt": "Bad film, boring."}


def small_model(name: str = "m") -> Sequential:
    """Fixed names: a file's length must not depend on how many layers a test run has made."""
    model = Sequential([Input((3,), dtype="int32", name="i"), Embedding(6, 2, name="e"), LSTM(2, name="l"),
                        Dense(1, name="d")], name=name)
    model.compile(optimizer="adam", loss="mse")
    return model


def trained_model() -> Sequential:
    set_random_seed(0)
    model = small_model()
    model.fit(np.array([[1, 2, 3], [4, 5, 0]]), np.array([0.0, 1.0]), epochs=1, batch_size=2, verbose=0)
    return model


def valid_files(directory: Path) -> dict[str, Path]:
    """kind -> a valid file of that kind in `directory`."""
    model = trained_model()
    files = {"npz model": directory / "model.npz", "npz weights": directory / "weights.npz",
             "keras": directory / "model.keras", "weights.h5": directory / "model.weights.h5",
             "backup": directory / "backup" / "backup.npz", "imdb": directory / imdb.ARCHIVE_NAME}
    model.save(files["npz model"])
    model.save_weights(files["npz weights"])
    model.save(files["keras"])
    model.save_weights(files["weights.h5"])
    callback = BackupAndRestore(str(directory / "backup"))
    callback.set_model(model)
    callback.on_epoch_end(0)
    imdb_archive(files["imdb"])
    return files


def imdb_archive(path: Path, members: dict[str, bytes] | None = None, mode: str = "w:gz") -> Path:
    members = {name: text.encode() for name, text in REVIEWS.items()} if members is None else members
    with tarfile.open(path, mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def load(kind: str, path: Path, model: Sequential | None = None):
    """Read `path` as a file of `kind`, the way a user would; the model loaded into, or what was read."""
    if kind in ("npz model", "keras"):
        return load_model(path)
    if kind in ("npz weights", "weights.h5"):
        model = model or small_model()
        model.load_weights(path)
        return model
    if kind == "backup":
        callback = BackupAndRestore(str(path.parent))
        callback.set_model(model or small_model())
        callback.model.build()
        callback.on_train_begin()
        return callback.model
    if kind == "imdb":
        return imdb.load_texts(path)
    if kind == "token cache":
        return imdb._checked_cache(imdb.read_archive(path), path)
    raise AssertionError(kind)


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def rezip(path: Path, content: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, payload in content.items():
            archive.writestr(name, payload)
    return path


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def edit_native_config(path: Path, edit) -> Path:
    """The native model file at `path` with its JSON config changed by `edit` (which returns the new config)."""
    content = members(path)
    config = json.loads(str(np.lib.format.read_array(io.BytesIO(content["config.npy"]))))
    content["config.npy"] = npy(np.array(json.dumps(edit(config))))
    return rezip(path, content)


def edit_keras_config(path: Path, edit) -> Path:
    content = members(path)
    content["config.json"] = json.dumps(edit(json.loads(content["config.json"]))).encode()
    return rezip(path, content)


def never_blocks(call, *args, **kwargs):
    """call(*args, **kwargs)'s exception, run on a thread; AssertionError if it blocked reading a FIFO (after 20 s
    every FIFO it may be waiting on is opened for writing and closed, so that the test ends instead of hanging)."""
    outcome = {}

    def run():
        try:
            outcome["result"] = call(*args, **kwargs)
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(20)
    if thread.is_alive():
        for fifo in never_blocks.fifos:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(5)
        raise AssertionError(f"{getattr(call, '__name__', call)} blocked: it opened a FIFO")
    if "error" not in outcome:
        raise AssertionError(f"{getattr(call, '__name__', call)} read the file and returned {outcome['result']!r:.80}")
    return outcome["error"]


never_blocks.fifos = []


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    never_blocks.fifos.append(str(path))
    return path
