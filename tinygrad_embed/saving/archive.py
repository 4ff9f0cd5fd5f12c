"""The pickle-free .npz archive: named arrays in one file, written whole and read without pickle. It
imports nothing of the package, so any floor may use it (the IMDB cache, BackupAndRestore, model files).

A file is a zip of .npy arrays (numpy's own format), so any numpy can read it; a model file holds:
    format          the string "tinygrad_embed/1"
    config          the model's architecture as JSON (absent from weights-only files)
    weight/0000 ..  every weight array, in Keras's order (model.get_weights())
    optimizer/...   the optimizer's step count and moments (when saved with it)
Writes go to a temporary file (.NAME.PID.XXXX.tmp beside it) that is renamed over the target, so a crash
mid-write leaves the old file whole; the next write of that name removes what a dead process left. Reads
check each array's declared size against the bytes really stored before allocating anything, and never
unpickle.
"""
from __future__ import annotations

import contextlib
import glob
import os
import tempfile
import zipfile
from typing import Any, BinaryIO, Callable

import numpy as np

FORMAT = "tinygrad_embed/1"
EXTENSION = ".npz"  # the name that says a file is this archive (ModelCheckpoint checks it)


def write_archive(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """The arrays, and the format's name, in one .npz file at `path`, replacing it whole or not at all."""
    write_atomically(path, lambda file: np.savez(file, format=np.array(FORMAT), **arrays))


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], Any]) -> None:
    """write(file) into a temporary file beside `path`, then renamed over it: a crash mid-write leaves the old
    file whole (every file this project saves is written so: this archive, .keras, .weights.h5)."""
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    _remove_leftovers(folder, name)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, os.path.join(folder, name))
    except BaseException:
        os.unlink(temporary)
        raise


def _remove_leftovers(folder: str, name: str) -> None:
    """The temporary files of earlier writes of `name` whose process is gone (killed mid-write): removed, so a
    crash costs no disk for longer than until the next save. A live process's (another writer) are left alone."""
    for leftover in glob.glob(os.path.join(glob.escape(folder), f".{glob.escape(name)}.*.tmp")):
        pid = os.path.basename(leftover)[len(name) + 2:].split(".")[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(FileNotFoundError):  # another writer removed it first
                os.unlink(leftover)


def _alive(pid: int) -> bool:
    """Whether process pid runs; where that cannot be asked without harm (not POSIX), assumed so."""
    if pid == os.getpid() or os.name != "posix":
        return True
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, only whether the process exists is checked
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: it exists
        return True
    return True


def read_archive(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array in a file that write_archive wrote; ValueError naming the problem for anything else."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no file at {path!r}")
    try:
        with zipfile.ZipFile(path) as archive:
            arrays = {_member_name(path, info): _read_member(path, archive, info) for info in archive.infolist()}
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise ValueError(f"{path!r} is not a readable tinygrad_embed file (truncated or not an .npz archive): {error}") from None
    if str(arrays.get("format", "")) != FORMAT:
        raise ValueError(f"{path!r} is not a tinygrad_embed file: its 'format' entry is "
                         f"{arrays.get('format', 'missing')!s:.40}, expected {FORMAT!r}")
    return arrays


def _member_name(path: str, info: zipfile.ZipInfo) -> str:
    if not info.filename.endswith(".npy"):
        raise ValueError(f"{path!r} holds {info.filename!r}, which is not a .npy array")
    return info.filename[:-len(".npy")]


def _read_member(path: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    with archive.open(info) as member:
        try:
            version = np.lib.format.read_magic(member)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(member)
        except ValueError as error:
            raise ValueError(f"{path!r}: entry {info.filename!r} is not a valid .npy array: {error}") from None
        if dtype.hasobject:
            raise ValueError(f"{path!r}: entry {info.filename!r} holds Python objects, which would need unpickling; refused")
        declared = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
        if declared > info.file_size:
            raise ValueError(f"{path!r}: entry {info.filename!r} declares shape {shape} of {dtype} ({declared} bytes) "
                             f"but stores only {info.file_size} bytes")
    with archive.open(info) as member:
        return np.lib.format.read_array(member, allow_pickle=False)
