"""Keras's cells and the RNN layer that loops one over time. A cell is one step: `call(inputs, states)`
returns (output, new_states), and its `state_size` says how many states of what size it carries.
LSTMCell, GRUCell and SimpleRNNCell have Keras's weights (kernel, recurrent_kernel, bias, in Keras's
layouts), so `RNN(LSTMCell(n))` computes what `LSTM(n)` does from the same weights; any layer with a
`state_size` and such a `call` is a cell too, and a list of cells is stacked (StackedRNNCells): each
cell's output is the input of the next, one step at a time.

Everything here is composed from Tensor ops, one step after another, so autograd does backpropagation
through time; LSTM, GRU and SimpleRNN remain the fast layers. Masked steps keep the states and repeat
the previous output (zeros with zero_output_for_mask), as Keras.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .. import initializers
from ..functions import stack
from ..tensor import Tensor
from .base import Layer, deserialize_layer, serialize_layer
from .recurrent_arguments import keras_arguments
from .recurrent import _RecurrentBase, draw_dropout_masks, dropped_product, kept_where_masked, set_cell_arguments
from .symbolic import flatten


def _nested(sizes: Any) -> list:
    """A cell's state_size as a list: an int n is one state, [n]."""
    return list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]


def _pack(flat: Sequence[Any], structure: list) -> list:
    """flat, in the nesting of structure (lists of ints)."""
    leaves = iter(flat)

    def fill(entry: Any) -> Any:
        return [fill(item) for item in entry] if isinstance(entry, (list, tuple)) else next(leaves)
    return [fill(entry) for entry in structure]


def _check_cell(cell: Any, what: str) -> None:
    missing = [name for name in ("call", "state_size") if not hasattr(cell, name)]
    if missing:
        raise ValueError(f"{what} must be a cell: an object with call(inputs, states) and state_size (an int or "
                         f"a list of ints, one per state); {cell!r:.80} has no {' or '.join(missing)}")
    for size in flatten(_nested(cell.state_size)):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"{what}'s state_size must hold positive integers, got {cell.state_size!r}")


def _forget_dropout_masks(cell: Any) -> None:
    """A new sequence draws new dropout masks (Keras resets its cells' masks the same way)."""
    if isinstance(cell, _Cell):
        cell.reset_dropout_mask()
    for inner in getattr(cell, "cells", ()):
        _forget_dropout_masks(inner)


class _Cell(Layer):
    """The built-in cells' shared part: units, activations, the kernel and recurrent kernel of `gates` blocks
    of `units` columns, and dropout masks drawn once per sequence (the RNN resets them)."""
    gates = 1

    def __init__(self, units: int, activation: Any, recurrent_activation: Any, use_bias: bool,
                 kernel_initializer: Any, recurrent_initializer: Any, bias_initializer: Any, dropout: float,
                 recurrent_dropout: float, seed: int | None, **kwargs: Any) -> None:
        super().__init__(**keras_arguments(self, kwargs))  # regularizers=None, Keras 1's names, ...
        set_cell_arguments(self, units, activation, recurrent_activation, use_bias, kernel_initializer,
                           recurrent_initializer, bias_initializer, dropout, recurrent_dropout, seed)
        self._masks: tuple[np.ndarray | None, np.ndarray | None] | None = None
        self.output_size = self.units

    def build(self, input_shape: tuple) -> None:
        n = self.gates * self.units
        self.kernel = self.add_weight((input_shape[-1], n), self.kernel_initializer, name="kernel")
        self.recurrent_kernel = self.add_weight((self.units, n), self.recurrent_initializer, name="recurrent_kernel")
        self.bias = self.add_weight(self.bias_shape, self.initialize_bias, name="bias") if self.use_bias else None

    bias_shape = property(lambda self: (self.gates * self.units,))

    def initialize_bias(self, shape: tuple, dtype: Any) -> np.ndarray:
        return initializers.get(self.bias_initializer)(shape, dtype)

    def dropout_masks(self, inputs: Tensor, training: bool | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        """This sequence's masks (count, batch, size) for the input and the state, or None; drawn at the
        first step, kept until reset_dropout_mask()."""
        if not training or not (self.dropout or self.recurrent_dropout):
            return None, None
        if self._masks is None:
            count = self.gates if self.recurrent_dropout else 1  # Keras's implementation=1: a mask per gate
            self._masks = draw_dropout_masks(self._generator, (self.dropout, self.recurrent_dropout), count,
                                             inputs.shape[0], (inputs.shape[1], self.units), inputs.dtype)
        return self._masks

    def reset_dropout_mask(self) -> None:
        self._masks = None

    def get_initial_state(self, batch_size: int) -> list[Tensor]:
        """Keras's start: zeros (batch_size, size) for each state."""
        return [Tensor(np.zeros((batch_size, size), self.dtype)) for size in _nested(self.state_size)]

    def _states(self, states: Any, count: int) -> list[Tensor]:
        states = flatten(states)
        if len(states) != count:
            raise ValueError(f"{type(self).__name__} {self.name!r} takes {count} state tensor(s), got {len(states)}")
        return states


class SimpleRNNCell(_Cell):
    """One step of SimpleRNN: h = activation(x W + b + h_prev U); output h, states [h]."""

    def __init__(self, units: int, activation: Any = "tanh", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(units, activation, "sigmoid", use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, dropout, recurrent_dropout, seed, **kwargs)
        self.state_size = self.units

    def call(self, inputs: Tensor, states: Any, training: bool | None = None) -> tuple[Tensor, list[Tensor]]:
        (h,) = self._states(states, 1)
        input_masks, recurrent_masks = self.dropout_masks(inputs, training)
        z = dropped_product(inputs, self.kernel, input_masks)
        if self.bias is not None:
            z = z + self.bias
        h = self.activation(z + dropped_product(h, self.recurrent_kernel, recurrent_masks))
        return h, [h]


class LSTMCell(_Cell):
    """One step of the LSTM, gates i, f, c, o in Keras's column order: c = f c_prev + i g, h = o tanh(c);
    output h, states [h, c]."""
    gates = 4

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, dropout, recurrent_dropout, seed, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]

    def initialize_bias(self, shape: tuple, dtype: Any) -> np.ndarray:
        bias = super().initialize_bias(shape, dtype)
        if self.unit_forget_bias:  # start by remembering: the forget gate's bias at one, as Keras
            bias[self.units:2 * self.units] = 1
        return bias

    def call(self, inputs: Tensor, states: Any, training: bool | None = None) -> tuple[Tensor, list[Tensor]]:
        h, c = self._states(states, 2)
        input_masks, recurrent_masks = self.dropout_masks(inputs, training)
        z = dropped_product(inputs, self.kernel, input_masks) + dropped_product(h, self.recurrent_kernel,
                                                                                recurrent_masks)
        if self.bias is not None:
            z = z + self.bias
        u = self.units
        i, f, o = (self.recurrent_activation(z[:, g * u:(g + 1) * u]) for g in (0, 1, 3))
        c = f * c + i * self.activation(z[:, 2 * u:3 * u])
        h = o * self.activation(c)
        return h, [h, c]


class GRUCell(_Cell):
    """One step of the GRU, gates z, r, h: h = z h_prev + (1 - z) candidate; output h, states [h].
    reset_after=True (Keras's default) has bias (2, 3 units): the input's, then the recurrent product's."""
    gates = 3

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros", dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, reset_after: bool = True, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, dropout, recurrent_dropout, seed, **kwargs)
        self.reset_after = bool(reset_after)
        self.state_size = self.units

    bias_shape = property(lambda self: (2, 3 * self.units) if self.reset_after else (3 * self.units,))

    def call(self, inputs: Tensor, states: Any, training: bool | None = None) -> tuple[Tensor, list[Tensor]]:
        (h,) = self._states(states, 1)
        input_masks, recurrent_masks = self.dropout_masks(inputs, training)
        bias = Tensor(np.zeros(self.bias_shape, inputs.dtype)) if self.bias is None else self.bias
        input_bias, recurrent_bias = (bias[0], bias[1]) if self.reset_after else (bias, None)
        x = dropped_product(inputs, self.kernel, input_masks) + input_bias
        u = self.units
        if self.reset_after:  # the reset gate scales the candidate's recurrent part, its bias included
            rec = dropped_product(h, self.recurrent_kernel, recurrent_masks) + recurrent_bias
            z = self.recurrent_activation(x[:, :u] + rec[:, :u])
            r = self.recurrent_activation(x[:, u:2 * u] + rec[:, u:2 * u])
            candidate = self.activation(x[:, 2 * u:] + r * rec[:, 2 * u:])
        else:  # the reset gate scales h_prev before its product
            dropped = [h] * 3 if recurrent_masks is None else [h * mask for mask in recurrent_masks]
            z = self.recurrent_activation(x[:, :u] + dropped[0] @ self.recurrent_kernel[:, :u])
            r = self.recurrent_activation(x[:, u:2 * u] + dropped[1] @ self.recurrent_kernel[:, u:2 * u])
            candidate = self.activation(x[:, 2 * u:] + (r * dropped[2]) @ self.recurrent_kernel[:, 2 * u:])
        h = z * h + (1 - z) * candidate
        return h, [h]


class StackedRNNCells(Layer):
    """Cells as one: each step runs them in order, each cell's output the next one's input. state_size
    and the states: one entry per cell (an int, or a list for a cell of several states)."""

    def __init__(self, cells: Sequence[Any], **kwargs: Any) -> None:
        cells = [deserialize_layer(cell) for cell in cells]
        if not cells:
            raise ValueError("StackedRNNCells needs at least one cell")
        for i, cell in enumerate(cells):
            _check_cell(cell, f"StackedRNNCells' cell {i}")
        super().__init__(**{"dtype": getattr(cells[0], "dtype", None), **kwargs})
        self.cells = cells
        self._layers.extend(cell for cell in cells if isinstance(cell, Layer))  # their weights are ours

    state_size = property(lambda self: [cell.state_size for cell in self.cells])
    output_size = property(lambda self: _output_size(self.cells[-1]))

    def build(self, input_shape: tuple) -> None:
        for cell in self.cells:
            if isinstance(cell, Layer):
                cell._maybe_build(tuple(input_shape))
            input_shape = (input_shape[0], _output_size(cell))

    def call(self, inputs: Tensor, states: Any, training: bool | None = None) -> tuple[Tensor, list]:
        if len(states) != len(self.cells):
            raise ValueError(f"StackedRNNCells {self.name!r} takes one state entry per cell ({len(self.cells)}), "
                             f"got {len(states)}")
        new_states = []
        for cell, cell_states in zip(self.cells, states):
            single = not isinstance(cell_states, (list, tuple))
            inputs, cell_states = _step(cell, inputs, [cell_states] if single else list(cell_states), training)
            new_states.append(cell_states[0] if single and len(cell_states) == 1 else cell_states)
        return inputs, new_states

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "cells": [serialize_layer(cell) for cell in self.cells]}


def _output_size(cell: Any) -> int:
    size = getattr(cell, "output_size", None)
    return size if size is not None else flatten(_nested(cell.state_size))[0]


def _step(cell: Any, inputs: Tensor, states: list, training: bool | None) -> tuple[Tensor, list]:
    """One call of a cell: a Layer through its __call__ (built on first use, training passed if taken)."""
    output, new_states = cell(inputs, states, training=training) if isinstance(cell, Layer) else \
        cell.call(inputs, states)
    return output, new_states if isinstance(new_states, (list, tuple)) else [new_states]


class RNN(_RecurrentBase):
    """A cell looped over (batch, time, features): output (batch, output_size), or with return_sequences
    (batch, time, output_size); return_state adds the final states, nested as the cell's state_size. A list
    of cells is stacked. unroll is accepted for Keras's signature: the loop here is always a Python loop."""

    def __init__(self, cell: Any, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, **kwargs: Any) -> None:
        cell = deserialize_layer(cell)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        _check_cell(cell, "RNN's cell")
        # The loop computes in the cell's dtype unless told otherwise (a float32 RNN around float64 cells
        # would mix the two)
        super().__init__(return_sequences, return_state, go_backwards, stateful,
                         **{"dtype": getattr(cell, "dtype", None), **kwargs})
        self.cell, self.unroll, self.zero_output_for_mask = cell, bool(unroll), bool(zero_output_for_mask)
        self._structure = _nested(cell.state_size)

    state_sizes = property(lambda self: flatten(self._structure))
    output_size = property(lambda self: _output_size(self.cell))

    def pack_states(self, states: list[Any]) -> list:
        return _pack(states, self._structure)

    def build_step(self, input_shape: tuple) -> None:
        self._features = input_shape[-1]
        if isinstance(self.cell, Layer):
            self.cell._maybe_build((input_shape[0], input_shape[-1]))

    def run(self, x, mask, training, initial_state):
        batch, steps, _ = x.shape
        states = initial_state or self._zero_states(batch, x.dtype)
        _forget_dropout_masks(self.cell)
        outputs, carried = [], None  # carried: the last output, which a masked step repeats
        for t in range(steps):
            output, new_states = _step(self.cell, x[:, t], self.pack_states(states), training)
            new_states = flatten(new_states)
            if len(new_states) != len(states):
                raise ValueError(f"RNN {self.name!r}: its cell returned {len(new_states)} state(s), but its "
                                 f"state_size {self.cell.state_size!r} says {len(states)}")
            if mask is not None:
                keep = Tensor(mask[:, t:t + 1].astype(x.dtype))
                new_states = [kept_where_masked(new, old, mask, t) for new, old in zip(new_states, states)]
                carried = keep * output if carried is None else keep * output + (1 - keep) * carried
                output = keep * output if self.zero_output_for_mask else carried
            states = new_states
            if self.return_sequences or t == steps - 1:
                outputs.append(output)
        _forget_dropout_masks(self.cell)
        return stack(outputs, axis=1), states

    def _zero_states(self, batch: int, dtype: Any) -> list[Tensor]:
        """The cell's get_initial_state if it has one (a user's cell may start elsewhere), else zeros."""
        if hasattr(self.cell, "get_initial_state"):
            return [s if isinstance(s, Tensor) else Tensor(np.asarray(s, dtype))
                    for s in flatten(self.cell.get_initial_state(batch_size=batch))]
        return [Tensor(np.zeros((batch, size), dtype)) for size in self.state_sizes]

    def get_config(self) -> dict[str, Any]:
        """Keras's: the cell nested as {"class_name", "config"}, plain JSON."""
        return {**super().get_config(), "cell": serialize_layer(self.cell)}
