"""Datasets, as keras.datasets: imdb, reuters, mnist, fashion_mnist."""
# keras.datasets.<name> after `import tinygrad_embed as keras`
from . import fashion_mnist, imdb, mnist, reuters  # noqa: F401
