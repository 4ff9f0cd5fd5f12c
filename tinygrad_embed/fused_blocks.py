"""A fused recurrence run over blocks of a batch's rows, one block per core (FusedGRU, FusedSimpleRNN; FusedLSTM
writes the same out in its own forward and backward). The rows of a batch never meet in a recurrence, so
each block's whole recurrence, forward and backward, is one object of the op's rows class (_GRURows, ...),
and the blocks run side by side (fused_rnn.side_by_side: a thread each, BLAS on one thread).

A rows class is built as rows(keep, all_steps): keep says whether a backward may follow (so that forward
saves what it reads). Its forward(x, kernel, recurrent_kernel, bias, *states, mask, input_masks,
recurrent_masks) takes one block's rows and gives its output rows; its backward(grad, retain_graph) gives
(dx, d kernel, d recurrent_kernel, d bias, *d states) for those rows.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from .fused_rnn import batch_blocks, batch_rows, side_by_side
from .functions import Function

BLOCK_STEPS = 32  # the GRU and SimpleRNN compute x W + b this many steps at a time: large products, small buffers


def forward_in_blocks(op: Function, rows_class: type, x: np.ndarray, weights: tuple[np.ndarray, ...],
                      per_row: tuple[np.ndarray | None, ...], all_steps: bool) -> np.ndarray:
    """The recurrence of each block of x's rows, side by side, the output rows joined again. per_row: the
    arrays with a row per batch row (initial states, mask, dropout masks; None where not given). The op
    keeps the blocks for its backward."""
    blocks = batch_blocks(len(x))
    parts = [rows_class(op.needs_backward, all_steps) for _ in blocks]
    outputs = side_by_side([partial(part.forward, x[rows], *weights, *batch_rows(rows, *per_row))
                            for part, rows in zip(parts, blocks)])
    if op.needs_backward:
        op.parts, op.blocks = parts, blocks
    return outputs[0] if len(outputs) == 1 else np.concatenate(outputs)


def backward_in_blocks(op: Function, grad: np.ndarray) -> tuple[np.ndarray, ...]:
    """(dx, d kernel, d recurrent_kernel, d bias, *d states): each block's backward side by side, the rows of
    dx and of the states' gradients joined, the weights' gradients summed over the blocks."""
    grads = side_by_side([partial(part.backward, grad[rows], op.retain_graph)
                          for part, rows in zip(op.parts, op.blocks)])
    if len(grads) == 1:  # one block: its gradients as they are, no copies
        return grads[0]
    dx, d_kernel, d_recurrent, d_bias, *d_states = zip(*grads)
    return (np.concatenate(dx), sum(d_kernel), sum(d_recurrent), sum(d_bias),
            *(np.concatenate(d_state) for d_state in d_states))
