"""Each numba kernel against its plain-numpy twin, on the awkward cases: empty batches, repeated
indices, a single row, input_dim 1, every integer dtype (through the op's index check)."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_embed import kernels
from tinygrad_embed.ops import check_indices
from tinygrad_embed.testing import index_arrays


@st.composite
def tables_and_indices(draw):
    input_dim, output_dim = draw(st.integers(1, 7)), draw(st.integers(1, 5))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    table = np.random.default_rng(draw(st.integers(0, 99))).standard_normal((input_dim, output_dim)).astype(dtype)
    return table, draw(index_arrays(input_dim))


@given(tables_and_indices())
def test_gather_equals_np_take(case):
    table, indices = case
    flat = check_indices(indices, table.shape[0])
    ours, twin = (np.full((flat.size, table.shape[1]), np.nan, table.dtype) for _ in range(2))
    kernels.gather(ours, table, flat)
    kernels.gather_numpy(twin, table, flat)
    np.testing.assert_array_equal(ours, twin)


@given(tables_and_indices())
def test_scatter_add_equals_np_add_at(case):
    table, indices = case
    flat = check_indices(indices, table.shape[0])
    rows = np.random.default_rng(flat.size).standard_normal((flat.size, table.shape[1])).astype(table.dtype)
    ours, twin = np.zeros_like(table), np.zeros_like(table)
    kernels.scatter_add(ours, flat, rows)
    kernels.scatter_add_numpy(twin, flat, rows)
    np.testing.assert_array_equal(ours, twin)  # both add in index order: bit for bit equal


def test_repeated_indices_accumulate():
    out = np.zeros((3, 2))
    kernels.scatter_add(out, np.array([1, 1, 1, 2]), np.ones((4, 2)))
    np.testing.assert_array_equal(out, [[0, 0], [3, 3], [1, 1]])


def test_scatter_add_is_deterministic_run_to_run():
    rng = np.random.default_rng(0)
    indices = rng.integers(0, 50, 32_000)
    rows = rng.standard_normal((32_000, 32)).astype(np.float32)
    results = []
    for _ in range(3):
        out = np.zeros((50, 32), np.float32)
        kernels.scatter_add(out, indices, rows)
        results.append(out)
    assert all(np.array_equal(results[0], r) for r in results[1:])
