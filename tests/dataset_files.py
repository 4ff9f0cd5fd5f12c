"""Small files in the formats of Keras's published datasets, built here so that no test needs the network:
a reuters.npz (x: an object array of lists of word ranks, pickled as numpy writes it; y: int64 topics), a
mnist.npz (uint8 images and labels) and Fashion-MNIST's four gzipped idx files."""
import gzip
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np

FASHION_FILES = ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz")


def newswires(count: int = 40, seed: int = 0) -> tuple[list[list[int]], np.ndarray]:
    """`count` newswires of varied lengths (1 to 13 words) over ranks 1-30, and their topics 0-45."""
    rng = np.random.RandomState(seed)
    sequences = [rng.randint(1, 31, size=1 + (7 * i) % 13).tolist() for i in range(count)]
    return sequences, rng.randint(0, 46, size=count).astype(np.int64)


def object_array(sequences: list) -> np.ndarray:
    array = np.empty(len(sequences), dtype=object)
    array[:] = sequences
    return array


def build_reuters(path: Path, sequences=None, labels=None) -> Path:
    if sequences is None:
        sequences, labels = newswires()
    np.savez(path, x=object_array(sequences), y=np.asarray(labels))
    return path


def build_npz_member_by_hand(path: Path, members: dict[str, bytes]) -> Path:
    """An .npz whose members are given as raw .npy bytes (to write pickles numpy itself would not)."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, raw in members.items():
            archive.writestr(f"{name}.npy", raw)
    return path


def npy_of_pickle(pickled: bytes, shape: tuple) -> bytes:
    """A version 1.0 .npy of an object array whose pickle stream is `pickled`."""
    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(stream, {"descr": "|O", "fortran_order": False, "shape": shape})
    return stream.getvalue() + pickled


def numpy1_pickle(array: np.ndarray) -> bytes:
    """The pickle numpy 1 writes for an object array: its _reconstruct lives in numpy.core.multiarray."""
    return pickle.dumps(array, protocol=3).replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


def build_mnist(path: Path, train: int = 5, test: int = 3, seed: int = 0) -> Path:
    rng = np.random.RandomState(seed)
    np.savez(path, x_train=rng.randint(0, 256, (train, 28, 28)).astype(np.uint8),
             y_train=rng.randint(0, 10, train).astype(np.uint8),
             x_test=rng.randint(0, 256, (test, 28, 28)).astype(np.uint8),
             y_test=rng.randint(0, 10, test).astype(np.uint8))
    return path


def idx_bytes(array: np.ndarray) -> bytes:
    """The idx format: magic 0x0000080N (unsigned bytes, N dimensions), each size big-endian, the data."""
    header = (0x0800 + array.ndim).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def build_fashion(directory: Path, train: int = 4, test: int = 2, seed: int = 0) -> Path:
    rng = np.random.RandomState(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = [rng.randint(0, 10, train), rng.randint(0, 256, (train, 28, 28)),
              rng.randint(0, 10, test), rng.randint(0, 256, (test, 28, 28))]
    for name, array in zip(FASHION_FILES, arrays):
        with gzip.open(directory / name, "wb") as file:
            file.write(idx_bytes(array))
    return directory
