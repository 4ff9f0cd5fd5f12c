"""The pickle-free .npz archive: named arrays in one file, written whole and read without pickle. It
imports nothing of the package, so any floor may use it (the IMDB cache, BackupAndRestore, model files).

A file is a zip of .npy arrays (numpy's own format), so any numpy can read it; a model file holds:
    format          the string "tinygrad_embed/1"
    config          the model's architecture as JSON (absent from weights-only files)
    weight/0000 ..  every weight array, in Keras's order (model.get_weights())
    optimizer/...   the optimizer's step count and moments (when saved with it)
Writes go to a temporary file (.NAME.PID.XXXX.tmp beside it) that is renamed over the target, so a crash
mid-write leaves the old file whole; the next write of that name removes what a dead process left.

A file read here may come from a stranger, so the zip is checked before any member is inflated
(checked_members, which the .keras reader shares): names stay relative and free of "..", no
encryption, only the stored and deflated methods, and all members together may inflate to at most
MAX_EXPANSION times the file's size on disk (BOMB_FLOOR for small files), so memory stays
proportional to the file. Each .npy header's declared size is checked against its member's bytes
before anything is allocated, and nothing is ever unpickled.
"""
from __future__ import annotations

import contextlib
import glob
import os
import stat
import tempfile
import tokenize
import zipfile
from typing import Any, BinaryIO, Callable

import numpy as np

FORMAT = "tinygrad_embed/1"
MAX_EXPANSION, BOMB_FLOOR = 100, 64 << 20  # over 64 MB inflating more than 100-fold is a bomb, not weights
# What numpy's .npy header parser (tokenize, then ast.literal_eval) raises on a damaged header
_HEADER_ERRORS = (ValueError, TypeError, SyntaxError, tokenize.TokenError, RecursionError, MemoryError, OverflowError)
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}  # what numpy and Keras write
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


def regular_file(filepath: str | os.PathLike) -> str:
    """`filepath` as a str when it names a regular file; FileNotFoundError when nothing is there, and
    ValueError for a directory, a FIFO or a device, which a loader must never open (a FIFO would block it)."""
    path = os.fspath(filepath)
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(f"no file at {path!r}") from None
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
        raise ValueError(f"{path!r} is {kind}, not a regular file: a loader reads only regular files")
    return path


def inflation_budget(path: str) -> int:
    """How many bytes all the members of the zip at `path` may inflate to, together."""
    return max(BOMB_FLOOR, MAX_EXPANSION * os.path.getsize(path))


def checked_members(path: str, archive: zipfile.ZipFile, budget: int | None = None) -> dict[str, zipfile.ZipInfo]:
    """The archive's members by name, once each is known to be safe to inflate; ValueError naming the
    member and what is wrong otherwise. `budget` is the bytes all members may inflate to together."""
    budget, total, members = inflation_budget(path) if budget is None else budget, 0, {}
    for info in archive.infolist():
        name = info.filename
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":") or "\x00" in name:
            raise ValueError(f"{path!r}: member {name!r} has an absolute path or '..' in it; refused")
        if name in members:
            raise ValueError(f"{path!r}: member {name!r} appears twice; refused")
        if info.flag_bits & 0x1:
            raise ValueError(f"{path!r}: member {name!r} is encrypted, which this reader does not support")
        if info.compress_type not in _METHODS:
            raise ValueError(f"{path!r}: member {name!r} uses zip compression method {info.compress_type}; this "
                             f"reader supports {sorted(_METHODS.values())} only")
        total += info.file_size
        if total > budget:
            raise ValueError(f"{path!r}: member {name!r} declares {info.file_size} bytes from {info.compress_size} "
                             f"compressed, which brings the members past {budget} bytes ({MAX_EXPANSION} times the "
                             f"file's size, at least {BOMB_FLOOR}): refused as a zip bomb")
        members[name] = info
    return members
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
    path = regular_file(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = checked_members(path, archive)
            arrays = {_member_name(path, info): _read_member(path, archive, info) for info in members.values()}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as error:
        raise ValueError(f"{path!r} is not a readable tinygrad_embed file (truncated or not an .npz archive): "
                         f"{error}") from None
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
        except _HEADER_ERRORS as error:
            raise ValueError(f"{path!r}: entry {info.filename!r} is not a valid .npy array: {error}") from None
        if dtype.hasobject:
            raise ValueError(f"{path!r}: entry {info.filename!r} holds Python objects, which would need unpickling; refused")
        declared = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
        if any(side < 0 for side in shape) or declared > info.file_size:
            raise ValueError(f"{path!r}: entry {info.filename!r} declares shape {shape} of {dtype} ({declared} bytes) "
                             f"but stores only {info.file_size} bytes")
    # zipfile stops inflating a member at its declared size, which checked_members has counted
    with archive.open(info) as member:
        try:
            return np.lib.format.read_array(member, allow_pickle=False)
        except _HEADER_ERRORS as error:
            raise ValueError(f"{path!r}: entry {info.filename!r} is not a valid .npy array: {error}") from None
