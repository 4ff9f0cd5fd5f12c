"""Layers with Keras's names, arguments and weight layouts."""
from ..missing import module_getattr
from .base import LAYERS, Layer, get_layer_class
from .dense import Dense
from .embedding import Embedding
from .input_layer import Input, InputLayer
from .lstm import LSTM, lstm_reference
from .symbolic import KerasTensor

__all__ = ["Layer", "Dense", "Embedding", "Input", "InputLayer", "LSTM", "KerasTensor", "lstm_reference",
           "get_layer_class"]
__getattr__ = module_getattr(__name__, "layer", lambda: [n for n in LAYERS if n in globals()])
