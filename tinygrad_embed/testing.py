"""Hypothesis strategies for property-testing ops, ours and yours (see docs/gradient-checking.md).

Requires hypothesis (the package's `dev` extra); the rest of the package does not.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

INTEGER_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4) -> st.SearchStrategy:
    """Array shapes, e.g. (), (3,), (2, 1, 4)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def float64_arrays(shape=None, low: float = -3.0, high: float = 3.0, *, avoid: float | None = None,
                   distinct: bool = False) -> st.SearchStrategy:
    """float64 arrays with every value in [low, high]: a domain, e.g. low=0.1 for log. `avoid` keeps
    values at least that far from 0 (relu's kink); `distinct` keeps values at least 1e-3 apart (max's
    ties), so that a finite difference never steps across a point where the function is not smooth."""
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False)
    if avoid is not None:
        elements = elements.filter(lambda v: abs(v) >= avoid)
    arrays = hnp.arrays(np.float64, shapes() if shape is None else shape, elements=elements, unique=distinct)
    if distinct:
        arrays = arrays.filter(lambda a: a.size < 2 or np.diff(np.sort(a, axis=None)).min() >= 1e-3)
    return arrays


@st.composite
def broadcastable_pairs(draw, low: float = -3.0, high: float = 3.0, max_dims: int = 3):
    """Two float64 arrays whose shapes broadcast together, e.g. (2, 3) and (3,) or (4, 1) and (1, 5)."""
    pair = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=max_dims, max_side=4))
    return tuple(draw(float64_arrays(shape, low, high)) for shape in pair.input_shapes)


@st.composite
def index_arrays(draw, input_dim: int, shape=None, dtypes=INTEGER_DTYPES):
    """Integer index arrays with values in [0, input_dim), of any integer dtype, that often repeat an
    index: a scatter-add that overwrites instead of accumulating fails on those."""
    shape = draw(shapes(min_dims=1, max_dims=2, min_side=0, max_side=6) if shape is None else shape)
    dtype = np.dtype(draw(st.sampled_from([d for d in dtypes if np.iinfo(d).max >= input_dim - 1])))
    pool = draw(st.lists(st.integers(0, input_dim - 1), min_size=1, max_size=3))  # few values: repeats
    values = st.one_of(st.sampled_from(pool), st.integers(0, input_dim - 1))
    return draw(hnp.arrays(dtype, shape, elements=values))
