"""The arguments of Keras 3's LSTM, GRU and SimpleRNN that change nothing here, and Keras 1's names.

`unroll`, `use_cudnn` and Keras 2's `implementation` pick how Keras computes the same maths (a Python
loop instead of a symbolic one, cuDNN's kernel, the gates in one product or four): here the recurrence
is always the fused op, so each is accepted and changes nothing. Regularizers and constraints would
change the training, and this project has neither: None (Keras's default) is accepted, anything else
refused naming the argument. An argument that only Keras 1 had is refused naming its Keras 3 spelling.
"""
from __future__ import annotations

from typing import Any

from .base import Layer

# Each layer's no-op arguments, as Keras 3 takes them (its SimpleRNN has no use_cudnn, its cells no unroll)
NO_OPS = {"LSTM": ("unroll", "use_cudnn", "implementation"), "GRU": ("unroll", "use_cudnn", "implementation"),
          "SimpleRNN": ("unroll",), "LSTMCell": ("implementation",), "GRUCell": ("implementation",)}
NOT_IMPLEMENTED = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
                   "kernel_constraint", "recurrent_constraint", "bias_constraint")
USE_CUDNN = ("auto", True, False)
KERAS_1 = {"output_dim": "units", "init": "kernel_initializer", "inner_init": "recurrent_initializer",
           "forget_bias_init": "unit_forget_bias=True (the forget gate's bias starts at one)",
           "inner_activation": "recurrent_activation", "W_regularizer": "kernel_regularizer",
           "U_regularizer": "recurrent_regularizer", "b_regularizer": "bias_regularizer",
           "W_constraint": "kernel_constraint", "U_constraint": "recurrent_constraint", "b_constraint": "bias_constraint",
           "dropout_W": "dropout", "dropout_U": "recurrent_dropout",
           "consume_less": "nothing (leave it out: Keras 3 picks the computation itself)",
           "input_length": "input_shape=(steps, features), or an Input(shape=(steps, features)) before the layer"}


def keras_arguments(layer: Layer, kwargs: dict[str, Any]) -> dict[str, Any]:
    """kwargs without the layer's no-op arguments and unused regularizers and constraints, after checking them;
    refuses a non-None regularizer or constraint (NotImplementedError) and Keras 1's names (TypeError)."""
    kind = type(layer).__name__
    no_ops = next((NO_OPS[cls.__name__] for cls in type(layer).__mro__ if cls.__name__ in NO_OPS), ())
    old = [name for name in kwargs if name in KERAS_1]
    if old:
        raise TypeError(f"{kind} got {', '.join(old)}, Keras 1's name(s); Keras 3 (and this project) spell them: "
                        + "; ".join(f"{name} -> {KERAS_1[name]}" for name in old))
    if kwargs.get("use_cudnn", "auto") not in USE_CUDNN:
        raise ValueError(f"{kind}'s use_cudnn must be one of 'auto', True, False, got {kwargs['use_cudnn']!r}")
    for name in NOT_IMPLEMENTED:
        if kwargs.get(name) is not None:
            raise NotImplementedError(f"{kind}'s {name}={kwargs[name]!r:.60} is not implemented here: this project has "
                                      f"no regularizers or constraints; leave {name} out (or None)")
    return {name: value for name, value in kwargs.items() if name not in no_ops + NOT_IMPLEMENTED}
