"""Layers with Keras's names, arguments and weight layouts."""
from ..missing import module_getattr
from .attention import AdditiveAttention, Attention
from .base import LAYERS, Layer, get_layer_class
from .bidirectional import Bidirectional
from .conv import Conv1D, Convolution1D
from .core import Activation, Flatten, RepeatVector, Reshape
from .dense import Dense
from .dropout import Dropout, SpatialDropout1D
from .einsum_dense import EinsumDense
from .embedding import Embedding
from .gru import GRU, gru_reference
from .input_layer import Input, InputLayer
from .lambda_layer import Lambda
from .lstm import LSTM, lstm_reference
from .masking import Masking
from .multi_head_attention import MultiHeadAttention
from .merge import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average, concatenate,
                    dot, maximum, minimum, multiply, subtract)
from .normalization import BatchNormalization, LayerNormalization
from .rnn import RNN, GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from .pooling import (AveragePooling1D, AvgPool1D, GlobalAveragePooling1D, GlobalAvgPool1D, GlobalMaxPool1D,
                      GlobalMaxPooling1D, MaxPool1D, MaxPooling1D)
from .simple_rnn import SimpleRNN, simple_rnn_reference
from .symbolic import KerasTensor
from .text_vectorization import TextVectorization
from .time_distributed import TimeDistributed

__all__ = ["Layer", "Dense", "Embedding", "Input", "InputLayer", "LSTM", "KerasTensor", "lstm_reference",
           "get_layer_class", "Conv1D", "Convolution1D", "MaxPooling1D", "MaxPool1D", "AveragePooling1D",
           "AvgPool1D", "GlobalMaxPooling1D", "GlobalMaxPool1D", "GlobalAveragePooling1D", "GlobalAvgPool1D",
           "Flatten", "Activation", "Reshape", "Dropout", "SpatialDropout1D", "GRU", "gru_reference",
           "SimpleRNN", "simple_rnn_reference", "Bidirectional", "TextVectorization",
           "BatchNormalization", "LayerNormalization", "RepeatVector", "TimeDistributed", "Masking", "Lambda", "Add",
           "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot", "add", "subtract", "multiply",
           "average", "maximum", "minimum", "concatenate", "dot", "RNN", "LSTMCell", "GRUCell", "SimpleRNNCell",
           "StackedRNNCells", "EinsumDense", "MultiHeadAttention", "Attention",
           "AdditiveAttention"]
__getattr__ = module_getattr(__name__, "layer", lambda: [n for n in LAYERS if n in globals()])
