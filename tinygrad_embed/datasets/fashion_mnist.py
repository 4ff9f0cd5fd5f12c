"""Fashion-MNIST (Zalando): 60,000 training and 10,000 test images of clothes in 10 classes, 28x28
uint8, labels 0-9 as uint8, as keras.datasets.fashion_mnist gives them, read from the four gzipped idx
files Keras downloads.

Where the files come from, first found wins (datasets/files.py): the environment variable
TINYGRAD_EMBED_FASHION_MNIST (a directory holding the four files); the cache directory's fashion-mnist/;
a download from Keras's storage into it. Keras's source gives these files no hash; each is checked against
the md5 Zalando publishes for it (github.com/zalandoresearch/fashion-mnist: Keras hosts those files, of
the same sizes), and every file's idx header against its contents.

    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()   # as keras.datasets.fashion_mnist
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from .files import obtain

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
ENV = "TINYGRAD_EMBED_FASHION_MNIST"
MD5 = {"train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",  # Zalando's published md5s
       "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
       "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
       "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79"}
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot")


def read_idx(path: Path, dimensions: int) -> np.ndarray:
    """A gzipped idx file of unsigned bytes (magic 0x0000080N, N the number of dimensions, then each
    dimension's size as a big-endian uint32, then the data) as a uint8 array of that shape."""
    try:
        with gzip.open(path, "rb") as file:
            raw = file.read()
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"{str(path)!r} is not a readable gzip file (truncated or damaged): {error}") from None
    header = 4 * (1 + dimensions)
    magic = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if magic != 0x0800 + dimensions or len(raw) < header:
        raise ValueError(f"{str(path)!r} is not an idx file of {dimensions}-D unsigned bytes: its magic number is "
                         f"{magic}, expected {0x0800 + dimensions}")
    shape = tuple(int.from_bytes(raw[4 * i:4 * i + 4], "big") for i in range(1, 1 + dimensions))
    if len(raw) - header != int(np.prod(shape)):
        raise ValueError(f"{str(path)!r} announces shape {shape} but holds {len(raw) - header} bytes of data")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def _part(name: str, dimensions: int) -> np.ndarray:
    return read_idx(obtain(name, ORIGIN + name, MD5[name], ENV, subdir="fashion-mnist", algorithm="md5",
                           main=False), dimensions)


def load_data():
    """((x_train, y_train), (x_test, y_test)): images (n, 28, 28) and labels (n,), both uint8."""
    splits = []
    for prefix in ("train", "t10k"):
        labels, images = _part(f"{prefix}-labels-idx1-ubyte.gz", 1), _part(f"{prefix}-images-idx3-ubyte.gz", 3)
        if len(images) != len(labels):
            raise ValueError(f"the {prefix} files of Fashion-MNIST disagree: {len(images)} images, {len(labels)} labels")
        splits.append((images, labels))
    return tuple(splits)
