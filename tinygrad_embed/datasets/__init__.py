"""Datasets, as keras.datasets: imdb."""
