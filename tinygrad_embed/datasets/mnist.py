"""MNIST: 60,000 training and 10,000 test images of handwritten digits, 28x28 uint8, with their labels
0-9 as uint8, as keras.datasets.mnist gives them, read from Keras's own mnist.npz (no pickle in it).

Where mnist.npz comes from, first found wins (datasets/files.py): the `path` argument (a place in the
cache directory, or an absolute path, as in Keras); the environment variable TINYGRAD_EMBED_MNIST (the
file, or a directory holding it); the cache directory; a download from Keras's storage into the cache,
checked against the sha256 Keras's source gives.

    (x_train, y_train), (x_test, y_test) = mnist.load_data()   # as keras.datasets.mnist
"""
from __future__ import annotations

import os
import zipfile

import numpy as np

from .files import obtain

URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"  # from Keras's source
ENV = "TINYGRAD_EMBED_MNIST"
_ARRAYS = ("x_train", "y_train", "x_test", "y_test")


def load_data(path: str | os.PathLike = "mnist.npz"):
    """((x_train, y_train), (x_test, y_test)): images (n, 28, 28) and labels (n,), both uint8."""
    file = obtain("mnist.npz", URL, SHA256, ENV, path)
    try:
        with np.load(file, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{str(file)!r} is not a readable mnist.npz (truncated, damaged or holding objects): "
                         f"{error}") from None
    missing = [name for name in _ARRAYS if name not in arrays]
    if missing:
        raise ValueError(f"{str(file)!r} should hold the arrays {list(_ARRAYS)}; {missing} are missing")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
