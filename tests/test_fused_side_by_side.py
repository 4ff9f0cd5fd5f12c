"""The fused recurrences side by side on the cores (issue 32): a batch split into blocks of rows gives what one
block gives, and FusedPair (Bidirectional's two directions at once) gives what its two ops give one after
the other, in outputs and every gradient, with masks (rows and steps all masked), initial states and dropout."""
from unittest import mock

import numpy as np
import pytest
from hypothesis import given

import tinygrad_embed as tg
from tinygrad_embed import fused_rnn
from tinygrad_embed.fused_gru import FusedGRU
from tinygrad_embed.fused_lstm import FusedLSTM
from tinygrad_embed.fused_pair import FusedPair
from tinygrad_embed.fused_simple_rnn import FusedSimpleRNN
from tinygrad_embed.functions import OPS
from tinygrad_embed.layers import gru_reference, simple_rnn_reference
from op_specs import DIRECTIONS, gru_cases, simple_rnn_cases

BATCH = 2 * fused_rnn.ROWS_PER_BLOCK + 3  # two blocks of rows on two cores
# A product's rows do not depend on the other rows; only the sums over rows (the weights' gradients) add the
# blocks in another order, which moves a sum by a few roundings of its largest terms (float32: 6e-8 each)
TOLERANCES = {np.float64: 1e-12, np.float32: 1e-5}


def cores(count):
    """fused_rnn as on a machine of `count` cores, at the real ROWS_PER_BLOCK."""
    return mock.patch.object(fused_rnn, "CORES", count)


def case(name, dtype, seed=0, all_steps=True, states=True, dropout=True):
    """(inputs, options) for op `name` over BATCH rows: a mask with rows masked throughout, steps masked for
    every row, and the rest at random; initial states; Keras's dropout masks, one per gate."""
    gates, bias_shape, state_count = DIRECTIONS[name]
    rng = np.random.default_rng(seed)
    steps, features, units = 7, 3, 4
    mask = rng.random((BATCH, steps)) < 0.7
    mask[[0, 17, BATCH - 1]] = False  # all-masked rows, in both blocks
    mask[:, [0, 4]] = False  # all-masked steps: the first, and one in the middle
    inputs = [rng.standard_normal((BATCH, steps, features)), rng.standard_normal((features, gates * units)) * 0.5,
              rng.standard_normal((units, gates * units)) * 0.5, rng.standard_normal(bias_shape(units)) * 0.5,
              *(rng.standard_normal((BATCH, units)) for _ in range(state_count if states else 0))]
    keep = lambda size: (rng.random((gates, BATCH, size)) < 0.75) / 0.75  # noqa: E731
    options = dict(mask=mask, all_steps=all_steps, input_masks=keep(features) if dropout else None,
                   recurrent_masks=keep(units) if dropout else None)
    return [a.astype(dtype) for a in inputs], {k: v.astype(dtype) if k.endswith("masks") and v is not None else v
                                               for k, v in options.items()}


def run(function, arrays, upstream, twice=False):
    """[output, every input's gradient] for this upstream gradient; twice: two backwards, the graph retained."""
    inputs = [tg.Tensor(a, requires_grad=True) for a in arrays]
    out = function(*inputs)
    out.backward(upstream.astype(out.dtype), retain_graph=twice)
    if twice:
        out.backward(upstream.astype(out.dtype))
    return [out.data] + [t.grad for t in inputs]


def assert_same(got, expected, dtype):
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=TOLERANCES[dtype], atol=TOLERANCES[dtype] * np.abs(b).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("all_steps", [True, False])
@pytest.mark.parametrize("op", [FusedLSTM, FusedGRU, FusedSimpleRNN])
def test_two_blocks_of_rows_give_what_one_block_gives(op, all_steps, dtype):
    arrays, options = case(op.__name__, dtype, all_steps=all_steps)
    upstream = np.random.default_rng(1).standard_normal(op.apply(*arrays, **options).shape)
    with cores(1):
        one_block = run(lambda *ts: op.apply(*ts, **options), arrays, upstream)
    with cores(2):
        assert len(fused_rnn.batch_blocks(BATCH)) == 2
        two_blocks = run(lambda *ts: op.apply(*ts, **options), arrays, upstream)
        twice = run(lambda *ts: op.apply(*ts, **options), arrays, upstream, twice=True)
    assert_same(two_blocks, one_block, dtype)
    assert_same(twice, [one_block[0]] + [2 * g for g in one_block[1:]], dtype)  # retain_graph: all saved kept


@pytest.mark.parametrize("count", [2, 3])
def test_a_masked_batch_splits_into_blocks_of_about_as_many_unmasked_steps(count):
    """A block costs its unmasked steps (pre-padded reviews of any length): the bounds move so that each block
    holds its share within half the longest row's steps, where blocks of equal rows would be far from it."""
    rng = np.random.default_rng(3)
    lengths = np.concatenate([rng.integers(40, 50, 12), rng.integers(1, 6, BATCH - 12)])  # long rows first
    mask = np.arange(50) >= 50 - lengths[:, None]
    with mock.patch.multiple(fused_rnn, CORES=count, ROWS_PER_BLOCK=1):
        blocks, even = fused_rnn.batch_blocks(BATCH, mask), fused_rnn.batch_blocks(BATCH)
        assert fused_rnn.batch_blocks(BATCH, np.zeros_like(mask)) == even  # nothing unmasked: equal rows
    assert len(blocks) == len(even) == count and blocks[0].start == 0 and blocks[-1].stop == BATCH
    assert all(a.stop == b.start for a, b in zip(blocks, blocks[1:]))
    share, work = lengths.sum() / count, [lengths[block].sum() for block in blocks]
    assert np.abs(np.subtract(work, share)).max() <= lengths.max() / 2
    assert np.abs(np.subtract([lengths[block].sum() for block in even], share)).max() > lengths.max()


@pytest.mark.parametrize("op", [FusedGRU, FusedSimpleRNN])
def test_two_blocks_without_states_or_dropout_give_what_one_block_gives(op):
    arrays, options = case(op.__name__, np.float64, states=False, dropout=False)
    upstream = np.random.default_rng(2).standard_normal(op.apply(*arrays, **options).shape)
    with cores(1):
        one_block = run(lambda *ts: op.apply(*ts, **options), arrays, upstream)
    with cores(2):
        assert_same(run(lambda *ts: op.apply(*ts, **options), arrays, upstream), one_block, np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("op", [FusedLSTM, FusedGRU, FusedSimpleRNN])
def test_a_forward_under_no_grad_in_blocks_gives_the_recorded_result(op, dtype):
    arrays, options = case(op.__name__, dtype, all_steps=False)
    with cores(2):
        recorded = op.apply(*(tg.Tensor(a, requires_grad=True) for a in arrays), **options)
        with tg.no_grad():
            plain = op.apply(*arrays, **options)
    assert recorded._ctx is not None and plain._ctx is None
    np.testing.assert_array_equal(plain.data, recorded.data)


def blocks_of_one_row_on_three_cores():
    """Batches split into up to three blocks of rows even at the property tests' small sizes."""
    return mock.patch.multiple(fused_rnn, CORES=3, ROWS_PER_BLOCK=1)


def assert_equals_reference(op, reference, case):
    """In blocks of one row: outputs and every gradient equal the composed reference's, to 1e-10 in float64."""
    arrays, _, kwargs = case
    upstream = np.random.default_rng(1).standard_normal(op.apply(*arrays, **kwargs).shape)
    with blocks_of_one_row_on_three_cores():
        assert len(fused_rnn.batch_blocks(3)) == 3
        fused = run(lambda *ts: op.apply(*ts, **kwargs), arrays, upstream)
    for got, want in zip(fused, run(lambda *ts: reference(*ts, **kwargs), arrays, upstream)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)


@given(gru_cases())
def test_gru_in_blocks_of_rows_equals_the_reference(case):
    assert_equals_reference(FusedGRU, gru_reference, case)


@given(simple_rnn_cases())
def test_simple_rnn_in_blocks_of_rows_equals_the_reference(case):
    assert_equals_reference(FusedSimpleRNN, simple_rnn_reference, case)


# ---- FusedPair: Bidirectional's two directions at once ------------------------------------------------------
def pair_case(names, dtype, all_steps=True, states=(True, True)):
    """(inputs, FusedPair's keywords, each direction's (op, inputs, options)) for two directions over BATCH rows."""
    directions = [(OPS[name], *case(name, dtype, seed, all_steps, with_states))
                  for seed, (name, with_states) in enumerate(zip(names, states))]
    arrays = [a for _, inputs, _ in directions for a in inputs]
    keywords = dict(ops=tuple(op for op, _, _ in directions), split=len(directions[0][1]),
                    options=tuple(options for _, _, options in directions))
    return arrays, keywords, directions


def one_after_the_other(directions):
    """The two directions' own ops, one after the other, their outputs joined along the last axis."""
    split = len(directions[0][1])
    return lambda *ts: tg.concatenate([directions[0][0].apply(*ts[:split], **directions[0][2]),
                                       directions[1][0].apply(*ts[split:], **directions[1][2])], axis=-1)


PAIRS = [("FusedLSTM", "FusedLSTM"), ("FusedGRU", "FusedGRU"), ("FusedSimpleRNN", "FusedSimpleRNN"),
         ("FusedLSTM", "FusedGRU"), ("FusedSimpleRNN", "FusedLSTM")]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("all_steps", [True, False])
@pytest.mark.parametrize("names", PAIRS, ids="-".join)
def test_the_pair_gives_what_its_two_ops_give_one_after_the_other(names, all_steps, dtype):
    arrays, keywords, directions = pair_case(names, dtype, all_steps)
    upstream = np.random.default_rng(3).standard_normal(FusedPair.apply(*arrays, **keywords).shape)
    with cores(1):  # each op in one block, as the pair runs each direction
        expected = run(one_after_the_other(directions), arrays, upstream)
    with cores(2), mock.patch("tinygrad_embed.fused_pair.side_by_side", wraps=fused_rnn.side_by_side) as at_once:
        paired = run(lambda *ts: FusedPair.apply(*ts, **keywords), arrays, upstream)
        twice = run(lambda *ts: FusedPair.apply(*ts, **keywords), arrays, upstream, twice=True)
    assert at_once.call_count == 2 + 3  # side by side: each forward, each backward (the second run has two)
    assert_same(paired, expected, dtype)
    assert_same(twice, [expected[0]] + [2 * g for g in expected[1:]], dtype)


@pytest.mark.parametrize("states", [(False, False), (True, False), (False, True)])
def test_the_pair_gives_gradients_only_for_the_states_given(states):
    arrays, keywords, directions = pair_case(("FusedLSTM", "FusedGRU"), np.float64, states=states)
    upstream = np.random.default_rng(4).standard_normal(FusedPair.apply(*arrays, **keywords).shape)
    with cores(1):
        expected = run(one_after_the_other(directions), arrays, upstream)
    with cores(2):
        assert_same(run(lambda *ts: FusedPair.apply(*ts, **keywords), arrays, upstream), expected, np.float64)


def test_on_one_core_the_pair_runs_one_direction_after_the_other():
    arrays, keywords, directions = pair_case(("FusedGRU", "FusedLSTM"), np.float64)
    upstream = np.random.default_rng(5).standard_normal(FusedPair.apply(*arrays, **keywords).shape)
    with cores(1), mock.patch("tinygrad_embed.fused_pair.side_by_side") as at_once:
        paired = run(lambda *ts: FusedPair.apply(*ts, **keywords), arrays, upstream)
        expected = run(one_after_the_other(directions), arrays, upstream)
    assert at_once.call_count == 0
    assert_same(paired, expected, np.float64)


def test_a_pair_forward_under_no_grad_gives_the_recorded_result():
    arrays, keywords, _ = pair_case(("FusedLSTM", "FusedSimpleRNN"), np.float32, all_steps=False)
    with cores(2):
        recorded = FusedPair.apply(*(tg.Tensor(a, requires_grad=True) for a in arrays), **keywords)
        with tg.no_grad():
            plain = FusedPair.apply(*arrays, **keywords)
    assert recorded._ctx is not None and plain._ctx is None
    np.testing.assert_array_equal(plain.data, recorded.data)


def test_the_pair_refuses_directions_it_cannot_join():
    arrays, keywords, _ = pair_case(("FusedGRU", "FusedGRU"), np.float64)
    options = (keywords["options"][0], {**keywords["options"][1], "all_steps": False})
    with pytest.raises(ValueError, match=r"agree on all_steps, got .* all_steps True and False"):
        FusedPair.apply(*arrays, **{**keywords, "options": options})
    shorter = arrays[:keywords["split"]] + [arrays[keywords["split"]][:, :3]] + arrays[keywords["split"] + 1:]
    with pytest.raises(ValueError, match=r"same \(batch, steps\).*\(35, 7\) and \(35, 3\)"):
        FusedPair.apply(*shorter, **keywords)
    with pytest.raises(ValueError, match="FusedGRU takes x, kernel, recurrent_kernel, bias and maybe 1 initial"):
        FusedPair.apply(*arrays[:3], *arrays[keywords["split"]:], **{**keywords, "split": 3})
    with pytest.raises(TypeError, match="FusedPair holds FusedLSTM, FusedGRU, FusedSimpleRNN, got"):
        FusedPair.apply(*arrays, **{**keywords, "ops": (FusedGRU, OPS["Add"])})
