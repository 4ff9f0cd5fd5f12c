"""Every numba kernel of the package, each beside its plain-numpy twin that the tests compare it with.

Kernels take plain arrays, the output buffer first, and never see a Tensor. They trust their inputs:
numba checks no bounds and wraps negative indices, so the callers validate first (ops.Gather does).
"""
import numba
import numpy as np


@numba.njit(cache=True)
def gather(out, table, indices):
    """out[k, :] = table[indices[k], :] for each position k of a flat index array."""
    for k in range(indices.shape[0]):
        row = indices[k]
        for j in range(table.shape[1]):
            out[k, j] = table[row, j]


def gather_numpy(out, table, indices):
    np.take(table, indices, axis=0, out=out)


@numba.njit(cache=True)
def scatter_add(out, indices, rows):
    """out[indices[k], :] += rows[k, :] for each k in order, so repeated indices accumulate.
    Serial on purpose: one pass over 32,000 rows of 32 takes well under a millisecond, and a fixed
    order of additions makes the result bit-for-bit the same on every run."""
    for k in range(indices.shape[0]):
        row = indices[k]
        for j in range(rows.shape[1]):
            out[row, j] += rows[k, j]


def scatter_add_numpy(out, indices, rows):
    np.add.at(out, indices, rows)
