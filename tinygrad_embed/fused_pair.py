"""Bidirectional's two directions as one op, each on a core of its own: the two recurrences never meet, so
each runs its whole forward, and later its whole backward, in a thread with BLAS on one thread
(fused_rnn.side_by_side), as the blocks of a batch's rows do inside one fused op. Each direction keeps all
the batch's rows in one block (no splitting within a direction: the two threads already fill two cores).
"""
from __future__ import annotations

from functools import partial

import numpy as np

from .fused_gru import FusedGRU, _GRURows
from .fused_lstm import FusedLSTM, _LSTMRows
from .fused_rnn import batch_blocks, one_float_type, side_by_side
from .fused_simple_rnn import FusedSimpleRNN, _SimpleRNNRows
from .functions import Function, register

# The fused ops a pair can hold, and the class that runs one block of rows of each (fused_blocks.py)
ROWS = {FusedLSTM: _LSTMRows, FusedGRU: _GRURows, FusedSimpleRNN: _SimpleRNNRows}


@register()
class FusedPair(Function):
    """[ops[0](*inputs[:split], **options[0]) | ops[1](*inputs[split:], **options[1])] along the last axis:
    two fused recurrences over the same batch and steps, run at once; backward gives each its gradients."""
    arity = None  # every positional argument is a tensor: the first direction's inputs, then the second's

    def forward(self, *arrays, ops, split, options):
        directions = list(zip(ops, (arrays[:split], arrays[split:]), options))
        _check_directions(directions)
        self.parts = [ROWS[op](self.needs_backward, option.get("all_steps", True)) for op, _, option in directions]
        outputs = _at_once([partial(_forward, part, *direction) for part, direction in zip(self.parts, directions)],
                           len(arrays[0]))
        self.counts, self.width = (split, len(arrays) - split), outputs[0].shape[-1]
        return np.concatenate(outputs, axis=-1)

    def backward(self, grad):
        halves = np.split(grad, [self.width], axis=-1)
        directions = _at_once([partial(part.backward, half, self.retain_graph) for part, half in zip(self.parts, halves)],
                              len(grad))
        # each direction's gradients for the inputs it was given (the initial states only when given)
        return [d for direction, count in zip(directions, self.counts) for d in direction[:count]]


@register()
class Columns(Function):
    """z = x[..., start:stop];  dx = zeros with g in those columns (one direction's part of a FusedPair's result)"""
    # GetItem's backward adds through np.add.at, which any index needs (an element may be read twice) and which
    # takes several times as long as this plain write for a pair's sequences of outputs (batch x steps x width)
    def forward(self, x, start: int, stop: int):
        self.shape, self.columns = x.shape, slice(start, stop)
        return x[..., self.columns]

    def backward(self, g):
        dx = np.zeros(self.shape, dtype=g.dtype)
        dx[..., self.columns] = g
        return (dx,)


def _forward(part, op: type, arrays: tuple, options: dict) -> np.ndarray:
    """One direction's output, its fused op's forward on a single block of all the batch's rows."""
    x, kernel, recurrent_kernel, bias = one_float_type(op.__name__, *arrays[:4])
    states = arrays[4:] or (None,) * (op.arity - 4)
    return part.forward(x, kernel, recurrent_kernel, bias, *states, options.get("mask"),
                        options.get("input_masks"), options.get("recurrent_masks"))


def _at_once(tasks: list, batch: int) -> list:
    """The two directions' results, run side by side when the rows of both, as one batch, would be split
    into blocks (cores to spare, BLAS held to one thread, rows enough: fused_rnn.batch_blocks), else one
    after the other."""
    return side_by_side(tasks) if len(batch_blocks(2 * batch)) > 1 else [task() for task in tasks]


def _check_directions(directions: list) -> None:
    """Refuse ops the pair cannot hold, a wrong count of inputs, or directions whose outputs cannot be joined."""
    for op, arrays, options in directions:
        if op not in ROWS:
            raise TypeError(f"FusedPair holds {', '.join(o.__name__ for o in ROWS)}, got {op!r}")
        if len(arrays) not in (4, op.arity):
            raise ValueError(f"FusedPair: {op.__name__} takes x, kernel, recurrent_kernel, bias and maybe "
                             f"{op.arity - 4} initial state(s), got {len(arrays)} inputs")
    (_, first, first_options), (_, second, second_options) = directions
    shapes = [arrays[0].shape[:2] for arrays in (first, second)]
    all_steps = [options.get("all_steps", True) for options in (first_options, second_options)]
    if shapes[0] != shapes[1] or all_steps[0] != all_steps[1]:
        raise ValueError(f"FusedPair's two directions must read the same (batch, steps) and agree on all_steps, "
                         f"got x of (batch, steps) {shapes[0]} and {shapes[1]}, all_steps {all_steps[0]} and "
                         f"{all_steps[1]}")
