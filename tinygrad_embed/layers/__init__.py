"""Layers with Keras's names, arguments and weight layouts."""
from .base import Layer
from .dense import Dense
from .embedding import Embedding
from .lstm import LSTM, lstm_reference

__all__ = ["Layer", "Dense", "Embedding", "LSTM", "lstm_reference"]
