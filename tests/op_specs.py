"""One spec per registered op: how to draw its inputs (a hypothesis strategy giving the arrays, the
extra positional arguments and the keyword arguments) and a numpy reference for its forward pass.
tests/test_functions.py checks every op against its spec and fails when an op in functions.OPS has none."""
from dataclasses import dataclass
from typing import Callable

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_embed.testing import broadcastable_pairs, float64_arrays, index_arrays, shapes


@dataclass
class OpSpec:
    cases: st.SearchStrategy  # draws (arrays, args, kwargs)
    reference: Callable


def unary(low=-3.0, high=3.0, **kw):
    return float64_arrays(None, low, high, **kw).map(lambda a: ((a,), (), {}))


def binary(second_low=None):
    def adjust(pair):
        x, y = pair
        return (x, y if second_low is None else np.abs(y) + second_low), (), {}
    return broadcastable_pairs().map(adjust)


@st.composite
def matmul_cases(draw):
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3))
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    x = draw(float64_arrays(batch.input_shapes[0] + (n, k)))
    y = draw(float64_arrays(batch.input_shapes[1] + (k, m)))
    return (x, y), (), {}


@st.composite
def reduce_cases(draw, distinct=False):
    x = draw(float64_arrays(shapes(min_dims=1), distinct=distinct))
    axis = draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    return (x,), (), {"axis": axis, "keepdims": draw(st.booleans())}


@st.composite
def amax_cases(draw):
    x = draw(float64_arrays(shapes(min_dims=1), distinct=True))
    axes = st.lists(st.integers(-x.ndim, x.ndim - 1), min_size=1, max_size=x.ndim,
                    unique_by=lambda a: a % x.ndim).map(tuple)
    axis = draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1), axes))
    return (x,), (), {"axis": axis, "keepdims": draw(st.booleans())}


def untied_pairs():
    """Broadcastable pairs with no element within 1e-3 of its partner: maximum's kink is at x = y."""
    return broadcastable_pairs().filter(lambda p: np.all(np.abs(np.subtract(*p)) > 1e-3)).map(lambda p: (p, (), {}))


def power_cases():
    return broadcastable_pairs().map(lambda p: ((np.abs(p[0]) + 0.5, p[1]), (), {}))  # bases in [0.5, 3.5]


@st.composite
def where_cases(draw):
    x, y = draw(broadcastable_pairs())
    return (x, y), (draw(hnp.arrays(bool, np.broadcast_shapes(x.shape, y.shape))),), {}


@st.composite
def pow_cases(draw):
    return (draw(float64_arrays(None, 0.5, 3.0)),), (draw(st.sampled_from([-1.5, 0.5, 2, 3])),), {}


@st.composite
def reshape_cases(draw):
    x = draw(float64_arrays())
    return (x,), draw(st.sampled_from([(x.size,), (1, x.size), (x.shape[::-1],)])), {}


@st.composite
def transpose_cases(draw):
    x = draw(float64_arrays())
    axes = draw(st.one_of(st.none(), st.permutations(range(x.ndim)).map(tuple)))
    return (x,), (), {"axes": axes}


@st.composite
def getitem_cases(draw):
    x = draw(float64_arrays(shapes(min_dims=1)))
    basic = hnp.basic_indices(x.shape, allow_newaxis=True)
    repeated_rows = st.lists(st.integers(0, x.shape[0] - 1), min_size=1, max_size=5).map(np.array)
    return (x,), (draw(st.one_of(basic, repeated_rows)),), {}


@st.composite
def gather_cases(draw):
    input_dim, output_dim = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    table = draw(float64_arrays((input_dim, output_dim)))
    return (table,), (draw(index_arrays(input_dim)),), {}


@st.composite
def concatenate_cases(draw):
    shape = draw(shapes(min_dims=1))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    sizes = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    arrays = [draw(float64_arrays(shape[:axis % len(shape)] + (n,) + shape[axis % len(shape) + 1:]))
              for n in sizes]
    return tuple(arrays), (), {"axis": axis}


@st.composite
def sliding_windows_cases(draw):
    size, stride, dilation = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    span = (size - 1) * dilation + 1
    extra = draw(st.lists(st.integers(1, 3), max_size=2))  # channels and beyond (none: (batch, steps))
    x = draw(float64_arrays((draw(st.integers(1, 2)), span + draw(st.integers(0, 4)), *extra)))
    return (x,), (size, stride, dilation), {}


# Two-operand einsums as the attention layers take them: a plain and a batched matrix product, an outer
# product, a full contraction, projections onto heads and back, and the scores and combination over one
# attention axis and over two (keras.layers.MultiHeadAttention's own equations)
EINSUMS = ["ij,jk->ik", "bij,bjk->bik", "i,j->ij", "ij,ij->", "abc,cde->abde", "abcd,cde->abe",
           "aecd,abcd->acbe", "acbe,aecd->abcd", "abghef,abcdef->abecdgh",
           "abecdgh,abghef->abcdef"]


@st.composite
def einsum_cases(draw):
    equation = draw(st.sampled_from(EINSUMS))
    terms = equation.split("->")[0].split(",")
    sizes = {letter: draw(st.integers(1, 3)) for letter in sorted(set("".join(terms)))}
    # positive values: the op sums in matmul's order, numpy's einsum in its own, and with no cancellation the two
    # agree to a few ulps of the result (signs add nothing to a bilinear map's test)
    x, y = (draw(float64_arrays(tuple(sizes[c] for c in term), 0.1, 3.0)) for term in terms)
    return (x, y), (equation,), {}


@st.composite
def masked_softmax_cases(draw):
    x = draw(float64_arrays(shapes(min_dims=1)))
    kept = x.shape[draw(st.integers(0, x.ndim)):]  # the mask may lack leading axes, and have 1 for any axis
    mask_shape = tuple(draw(st.sampled_from([1, n])) for n in kept)
    mask = draw(hnp.arrays(bool, mask_shape))  # often a row all False: zeros, never NaN
    axes = st.lists(st.integers(-x.ndim, x.ndim - 1), min_size=1, max_size=x.ndim,
                    unique_by=lambda a: a % x.ndim).map(tuple)
    return (x,), (mask,), {"axis": draw(st.one_of(st.integers(-x.ndim, x.ndim - 1), axes))}


def masked_softmax_reference(x, mask, axis):
    """exp(x - logsumexp(x)) over the kept entries only, 0 at the masked ones (and in a row all masked)."""
    keep = np.broadcast_to(mask, x.shape)
    top = np.max(np.where(keep, x, -np.inf), axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.where(keep, np.exp(x - top), 0.0)
    total = e.sum(axis=axis, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


@st.composite
def dot_product_attention_cases(draw):
    """q (batch, T, heads, c), k (batch, S, heads, c), v (batch, S, heads, e) and a mask that broadcasts to the
    scores (batch, heads, T, S), often with a row masked throughout."""
    batch, steps, keys, heads, c, e = (draw(st.integers(1, n)) for n in (3, 4, 4, 2, 3, 3))
    q, k = draw(float64_arrays((batch, steps, heads, c))), draw(float64_arrays((batch, keys, heads, c)))
    v = draw(float64_arrays((batch, keys, heads, e)))
    mask_shape = tuple(draw(st.sampled_from([1, n])) for n in (batch, heads, steps, keys))
    return (q, k, v), (draw(hnp.arrays(bool, mask_shape)), draw(st.floats(0.25, 2.0))), {}


def dot_product_attention_reference(q, k, v, mask, scale):
    scores = masked_softmax_reference(np.einsum("bthc,bshc->bhts", q * scale, k), mask, -1)
    return np.einsum("bhts,bshe->bthe", scores, v)


@st.composite
def self_attention_cases(draw):
    """x (batch, T, d), w (d, heads, c + c + e), b (heads, c + c + e), wo (heads, e, f), bo (f,), a mask that
    broadcasts to the scores (batch, heads, T, T), c, scale."""
    batch, steps, heads, c, e, d, f = (draw(st.integers(1, n)) for n in (3, 4, 2, 3, 3, 3, 3))
    shapes = [(batch, steps, d), (d, heads, 2 * c + e), (heads, 2 * c + e), (heads, e, f), (f,)]
    mask_shape = tuple(draw(st.sampled_from([1, n])) for n in (batch, heads, steps, steps))
    arrays = tuple(draw(float64_arrays(shape)) for shape in shapes)
    return arrays, (draw(hnp.arrays(bool, mask_shape)), c, draw(st.floats(0.25, 2.0))), {}


def self_attention_reference(x, w, b, wo, bo, mask, c, scale):
    qkv = np.einsum("btd,dhw->bthw", x, w) + b
    z = dot_product_attention_reference(qkv[..., :c], qkv[..., c:2 * c], qkv[..., 2 * c:], mask, scale)
    return np.einsum("bthe,hef->btf", z, wo) + bo


@st.composite
def layer_norm_cases(draw):
    x = draw(float64_arrays(shapes(min_dims=1)))
    axes = tuple(sorted(draw(st.sets(st.integers(0, x.ndim - 1), min_size=1))))
    weights = tuple(n if i in axes else 1 for i, n in enumerate(x.shape))  # as the layer reshapes gamma and beta
    gamma, beta = draw(float64_arrays(weights)), draw(float64_arrays(weights))
    return (x, gamma, beta), (axes, 1e-3), {}


def layer_norm_reference(x, gamma, beta, axes, epsilon):
    return (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + epsilon) * gamma + beta


def sliding_windows_reference(x, size, stride, dilation):
    count = (x.shape[1] - (size - 1) * dilation - 1) // stride + 1
    return np.stack([np.stack([x[:, t * stride + j * dilation] for j in range(size)], axis=1)
                     for t in range(count)], axis=1)


@st.composite
def clip_cases(draw):
    x = draw(float64_arrays().filter(lambda a: np.all(np.abs(np.abs(a) - 1) > 1e-3)))  # no kinks
    return (x,), (-1.0, 1.0), {}


@st.composite
def dropout_masks(draw, gates, batch, features, units):
    """Keras's dropout masks, rows kept scaled by 1 / (1 - rate): none; or one for the input; or, with
    recurrent dropout on, one per gate for the state and (maybe) one per gate for the input."""
    def masks(count, size):
        return draw(hnp.arrays(bool, (count, batch, size))) / 0.75
    recurrent = draw(st.booleans())
    count = gates if recurrent else 1
    input_masks = masks(count, features) if draw(st.booleans()) else None
    return input_masks, masks(gates, units) if recurrent else None


@st.composite
def recurrent_cases(draw, gates, bias_shape, state_count=1, batch=None, steps=None, all_steps=None):
    """(x, kernel, recurrent_kernel, bias, and maybe the initial states), mask, dropout masks; batch, steps
    and all_steps drawn unless given."""
    batch, steps = batch or draw(st.integers(1, 3)), steps or draw(st.integers(1, 5))
    features, units = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    x = draw(float64_arrays((batch, steps, features)))
    kernel, recurrent = (draw(float64_arrays(shape, -1, 1)) for shape in ((features, gates * units),
                                                                          (units, gates * units)))
    bias = draw(float64_arrays(bias_shape(units), -1, 1))
    mask = draw(st.one_of(st.none(), hnp.arrays(bool, (batch, steps))))
    input_masks, recurrent_masks = draw(dropout_masks(gates, batch, features, units))
    states = [draw(float64_arrays((batch, units))) for _ in range(state_count)] if draw(st.booleans()) else []
    all_steps = draw(st.booleans()) if all_steps is None else all_steps
    return (x, kernel, recurrent, bias, *states), (), {"mask": mask, "all_steps": all_steps,
                                              "input_masks": input_masks, "recurrent_masks": recurrent_masks}


def lstm_cases():
    return recurrent_cases(4, lambda units: (4 * units,), state_count=2)


def gru_cases():
    return recurrent_cases(3, lambda units: (2, 3 * units))


def simple_rnn_cases():
    return recurrent_cases(1, lambda units: (units,))


# The fused recurrences a FusedPair holds: (gates, bias shape, state count) of each
DIRECTIONS = {"FusedLSTM": (4, lambda units: (4 * units,), 2), "FusedGRU": (3, lambda units: (2, 3 * units), 1),
              "FusedSimpleRNN": (1, lambda units: (units,), 1)}


@st.composite
def pair_cases(draw):
    """Two directions, each any fused recurrence, over one batch and one count of steps, as Bidirectional
    gives FusedPair: the first's inputs, then the second's; ops, where they split, and each one's options."""
    from tinygrad_embed.functions import OPS
    names = [draw(st.sampled_from(sorted(DIRECTIONS))) for _ in range(2)]
    batch, steps, all_steps = draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.booleans())
    first, second = (draw(recurrent_cases(*DIRECTIONS[name], batch=batch, steps=steps, all_steps=all_steps))
                     for name in names)
    return (*first[0], *second[0]), (), {"ops": tuple(OPS[name] for name in names), "split": len(first[0]),
                                         "options": (first[2], second[2])}


def pair_reference_numpy(*arrays, ops, split, options):
    """The two directions' references, joined along the last axis."""
    references = {"FusedLSTM": lstm_reference_numpy, "FusedGRU": gru_reference_numpy,
                  "FusedSimpleRNN": simple_rnn_reference_numpy}
    return np.concatenate([references[op.__name__](*inputs, **option)
                           for op, inputs, option in zip(ops, (arrays[:split], arrays[split:]), options)], axis=-1)


@st.composite
def columns_cases(draw):
    """An array of 1 to 3 axes and a run of its last axis's columns (maybe none, maybe all)."""
    x = draw(float64_arrays(draw(shapes(min_dims=1, max_dims=3))))
    start = draw(st.integers(0, x.shape[-1]))
    return (x,), (start, draw(st.integers(start, x.shape[-1]))), {}


def lstm_reference_numpy(*arrays, **options):
    from tinygrad_embed import Tensor
    from tinygrad_embed.layers import lstm_reference
    return lstm_reference(*map(Tensor, arrays), **options).data


def gru_reference_numpy(*arrays, **options):
    from tinygrad_embed import Tensor
    from tinygrad_embed.layers import gru_reference
    return gru_reference(*map(Tensor, arrays), **options).data


def simple_rnn_reference_numpy(*arrays, **options):
    from tinygrad_embed import Tensor
    from tinygrad_embed.layers import simple_rnn_reference
    return simple_rnn_reference(*map(Tensor, arrays), **options).data


SPECS = {
    "Add": OpSpec(binary(), np.add),
    "Sub": OpSpec(binary(), np.subtract),
    "Mul": OpSpec(binary(), np.multiply),
    "Div": OpSpec(binary(second_low=0.5), np.divide),
    "MatMul": OpSpec(matmul_cases(), np.matmul),
    "Neg": OpSpec(unary(), np.negative),
    "Pow": OpSpec(pow_cases(), np.power),
    "Exp": OpSpec(unary(), np.exp),
    "Log": OpSpec(unary(0.1, 5.0), np.log),
    "Tanh": OpSpec(unary(), np.tanh),
    "Sigmoid": OpSpec(unary(-8.0, 8.0), lambda x: 1 / (1 + np.exp(-x))),
    "LogSigmoid": OpSpec(unary(-40.0, 40.0), lambda x: -np.logaddexp(0, -x)),
    "Clip": OpSpec(clip_cases(), np.clip),
    "FusedLSTM": OpSpec(lstm_cases(), lstm_reference_numpy),
    "FusedGRU": OpSpec(gru_cases(), gru_reference_numpy),
    "FusedSimpleRNN": OpSpec(simple_rnn_cases(), simple_rnn_reference_numpy),
    "FusedPair": OpSpec(pair_cases(), pair_reference_numpy),
    "Columns": OpSpec(columns_cases(), lambda x, start, stop: x[..., start:stop]),
    "Relu": OpSpec(unary(avoid=1e-3), lambda x: np.maximum(x, 0)),
    "Sum": OpSpec(reduce_cases(), np.sum),
    "Max": OpSpec(reduce_cases(distinct=True), np.max),
    "Amax": OpSpec(amax_cases(), np.max),
    "Maximum": OpSpec(untied_pairs(), np.maximum),
    "Power": OpSpec(power_cases(), np.power),
    "Where": OpSpec(where_cases(), lambda x, y, condition: np.where(condition, x, y)),
    # float64 to float64 only: gradcheck needs float64 out; tests/test_keras_ops.py checks other dtypes
    "Cast": OpSpec(unary().map(lambda case: (case[0], ("float64",), {})), lambda x, dtype: x.astype(dtype)),
    "Reshape": OpSpec(reshape_cases(), lambda x, *shape: x.reshape(*shape)),
    "Transpose": OpSpec(transpose_cases(), np.transpose),
    "GetItem": OpSpec(getitem_cases(), lambda x, index: x[index]),
    "Gather": OpSpec(gather_cases(), lambda table, indices: np.take(table, indices.astype(np.intp), axis=0)),
    "SlidingWindows": OpSpec(sliding_windows_cases(), sliding_windows_reference),
    "Concatenate": OpSpec(concatenate_cases(), lambda *xs, axis: np.concatenate(xs, axis=axis)),
    "Einsum": OpSpec(einsum_cases(), lambda x, y, equation: np.einsum(equation, x, y)),
    "MaskedSoftmax": OpSpec(masked_softmax_cases(), masked_softmax_reference),
    "LayerNorm": OpSpec(layer_norm_cases(), layer_norm_reference),
    "DotProductAttention": OpSpec(dot_product_attention_cases(), dot_product_attention_reference),
    "SelfAttention": OpSpec(self_attention_cases(), self_attention_reference),
}
