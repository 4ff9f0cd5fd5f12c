"""Layers with Keras's names, arguments and weight layouts."""
from .base import Layer
from .embedding import Embedding

__all__ = ["Layer", "Embedding"]
