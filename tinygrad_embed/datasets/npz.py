"""Reading an .npz whose ragged sequences are object arrays (Keras's reuters.npz) without trusting pickle.

numpy can store an object array only as a pickle, and np.load(allow_pickle=True) would run whatever a
tampered file asks for. Rebuilding an array of lists takes three numpy names and nothing else, so the
unpickler below answers those three and refuses every other (os.system, builtins.eval, ...), as Keras's
own npz_utils does; the loaders then check that what came out is what the dataset holds."""
from __future__ import annotations

import io
import pickle
import tokenize
import zipfile
from pathlib import Path

import numpy as np

# The names a pickled object array uses, in numpy 1's spelling (numpy.core) and numpy 2's (numpy._core).
# They map to the objects directly, so a file written by either numpy reads without importing numpy.core.
_reconstruct = (np._core if hasattr(np, "_core") else np.core).multiarray._reconstruct
_ALLOWED = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
            ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): _reconstruct}


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays of plain Python values and nothing else."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a dataset array needs only numpy's "
                                         "array names, so the file is damaged or was made to run code")
        return _ALLOWED[module, name]


def _read_member(raw: bytes, where: str) -> np.ndarray:
    """One .npy member: numeric arrays with pickle off, object arrays through _ArraysOnly."""
    stream = io.BytesIO(raw)
    try:  # numpy parses the header with tokenize and ast: a damaged one raises their errors, not ValueError
        version = np.lib.format.read_magic(stream)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(stream)
    except (ValueError, TypeError, SyntaxError, tokenize.TokenError, RecursionError, MemoryError) as error:
        raise ValueError(f"{where} has a damaged array header: {error!r}") from None
    if not dtype.hasobject:
        return np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
    try:
        array = _ArraysOnly(stream).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise ValueError(f"{where} is not a readable object array: {error}") from None
    if not isinstance(array, np.ndarray) or array.shape != shape:
        raise ValueError(f"{where} should hold an array of shape {shape}, got {type(array).__name__}")
    return array


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz by name, its object arrays read without running any code."""
    try:
        with zipfile.ZipFile(path) as archive:
            return {member[:-4]: _read_member(archive.read(member), f"{member} in {str(path)!r}")
                    for member in archive.namelist() if member.endswith(".npy")}
    except (zipfile.BadZipFile, EOFError) as error:
        raise ValueError(f"{str(path)!r} is not a readable .npz archive (truncated or damaged): {error}") from None
