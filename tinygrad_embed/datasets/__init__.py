"""Datasets, as keras.datasets: imdb."""
from . import imdb  # noqa: F401  (keras.datasets.imdb after `import tinygrad_embed as keras`)
