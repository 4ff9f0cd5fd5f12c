"""tinygrad_embed.ops, Keras 3's ops namespace: each differentiable function against numpy and gradcheck
(float64, random upstream gradient) over hypothesis-drawn inputs away from kinks; the kinks' gradients
pinned as torch defines them; dtypes, non-differentiable results and errors."""
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_embed as tg
from tinygrad_embed import ops
from tinygrad_embed.missing import NotInTinygradEmbed
from tinygrad_embed.testing import broadcastable_pairs, float64_arrays, shapes


@dataclass
class Case:
    arrays: st.SearchStrategy  # draws a tuple of float64 arrays, the differentiable inputs
    function: Callable  # the ops call on those inputs (Tensors)
    reference: Callable  # numpy's answer on the arrays


def one(low=-3.0, high=3.0, **kw):
    return float64_arrays(None, low, high, **kw).map(lambda a: (a,))


def with_axis(min_dims=1, distinct=False):
    """An array and a reduction axis: None, an int or a tuple of distinct axes."""
    @st.composite
    def draw_case(draw):
        x = draw(float64_arrays(shapes(min_dims=min_dims), distinct=distinct))
        axes = st.lists(st.integers(0, x.ndim - 1), min_size=1, unique=True).map(tuple)
        return x, draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1), axes)), draw(st.booleans())
    return draw_case()


def reduced_size(x, axis):
    return x.size if axis is None else int(np.prod(np.array(x.shape)[np.atleast_1d(axis)]))


def reduction(name, reference, distinct=False, min_group=1):
    """A Case whose axis and keepdims ride along as constants in the function; each reduced group has
    at least min_group elements."""
    cases = with_axis(distinct=distinct).filter(lambda c: reduced_size(c[0], c[1]) >= min_group)
    return cases.map(lambda c: Case(
        st.just((c[0],)), lambda t: getattr(ops, name)(t, axis=c[1], keepdims=c[2]),
        lambda x: reference(x, axis=c[1], keepdims=c[2])))


def untied(pair):
    return np.all(np.abs(np.subtract(*pair)) > 1e-3)


@st.composite
def matmul_pairs(draw):
    """Operands of any rank from 1 to 3 with a shared inner length (batch axes broadcast)."""
    k = draw(st.integers(1, 3))
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=1, max_side=3)).input_shapes
    a = (k,) if draw(st.booleans()) else batch[0] + (draw(st.integers(1, 3)), k)
    b = (k,) if draw(st.booleans()) else batch[1] + (k, draw(st.integers(1, 3)))
    return draw(float64_arrays(a)), draw(float64_arrays(b))


@st.composite
def dot_pairs(draw):
    """numpy dot's cases: a scalar operand; 1-D and N-D; N-D and M-D (M >= 2, x2 up to 4-D)."""
    k = draw(st.integers(1, 3))
    a = draw(st.sampled_from([(), (k,), (2, k), (2, 1, k)]))
    b = () if a == () else draw(st.sampled_from([(k,), (k, 2), (3, k, 2), (2, 1, k, 3)]))
    if a == ():
        b = draw(shapes())
    return draw(float64_arrays(a)), draw(float64_arrays(b))


@st.composite
def array_and_indices(draw):
    x = draw(float64_arrays(shapes(min_dims=1)))
    axis = draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    length = x.size if axis is None else x.shape[axis]
    indices = draw(hnp.arrays(np.int64, shapes(0, 2), elements=st.integers(-length, length - 1)))
    return x, indices, axis


@st.composite
def split_cases(draw):
    x = draw(float64_arrays(shapes(min_dims=1)))
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    length = x.shape[axis]
    sections = draw(st.one_of(st.sampled_from([n for n in range(1, length + 1) if length % n == 0]),
                              st.lists(st.integers(0, length), max_size=3).map(sorted)))
    return x, sections, axis


@st.composite
def where_cases(draw):
    x, y = draw(broadcastable_pairs())
    return x, y, draw(hnp.arrays(bool, draw(st.sampled_from([np.broadcast_shapes(x.shape, y.shape), ()]))))


def binary(name, reference, pairs=None):
    return st.just(Case(broadcastable_pairs() if pairs is None else pairs, getattr(ops, name), reference))


def unary(name, reference, **domain):
    return st.just(Case(one(**domain), getattr(ops, name), reference))


def numpy_softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def numpy_var(x, axis, keepdims):
    return np.var(x, axis=axis, keepdims=keepdims)


CASES = {
    "add": binary("add", np.add),
    "subtract": binary("subtract", np.subtract),
    "multiply": binary("multiply", np.multiply),
    "divide": binary("divide", np.divide, broadcastable_pairs().map(lambda p: (p[0], np.abs(p[1]) + 0.5))),
    "power": binary("power", np.power, broadcastable_pairs().map(lambda p: (np.abs(p[0]) + 0.5, p[1]))),
    "maximum": binary("maximum", np.maximum, broadcastable_pairs().filter(untied)),
    "minimum": binary("minimum", np.minimum, broadcastable_pairs().filter(untied)),
    "matmul": binary("matmul", np.matmul, matmul_pairs()),
    "dot": binary("dot", np.dot, dot_pairs()),
    "exp": unary("exp", np.exp),
    "log": unary("log", np.log, low=0.1, high=5.0),
    "sqrt": unary("sqrt", np.sqrt, low=0.1, high=5.0),
    "square": unary("square", np.square),
    "abs": unary("abs", np.abs, avoid=1e-3),
    "tanh": unary("tanh", np.tanh),
    "relu": unary("relu", lambda x: np.maximum(x, 0), avoid=1e-3),
    "sigmoid": unary("sigmoid", lambda x: 1 / (1 + np.exp(-x))),
    "clip": st.just(Case(float64_arrays().filter(lambda a: np.all(np.abs(np.abs(a) - 1) > 1e-3)).map(lambda a: (a,)),
                         lambda t: ops.clip(t, -1.0, 1.0), lambda x: np.clip(x, -1.0, 1.0))),
    "sum": reduction("sum", np.sum),
    "mean": reduction("mean", np.mean),
    "max": reduction("max", np.max, distinct=True),
    "min": reduction("min", np.min, distinct=True),
    "var": reduction("var", numpy_var),
    "std": reduction("std", np.std, distinct=True, min_group=2),  # sqrt's gradient at a variance of 0 is inf
    "softmax": with_axis().map(lambda c: Case(st.just((c[0],)), lambda t: ops.softmax(t, axis=c[1]),
                                              lambda x: numpy_softmax(x, c[1]))),
    "log_softmax": with_axis().map(lambda c: Case(st.just((c[0],)), lambda t: ops.log_softmax(t, axis=c[1]),
                                                  lambda x: np.log(numpy_softmax(x, c[1])))),
    "reshape": float64_arrays().map(lambda x: Case(st.just((x,)), lambda t: ops.reshape(t, (-1, 1)),
                                                   lambda a: a.reshape(-1, 1))),
    "transpose": float64_arrays(shapes(min_dims=1)).flatmap(lambda x: st.permutations(range(x.ndim)).map(
        lambda axes: Case(st.just((x,)), lambda t: ops.transpose(t, axes), lambda a: np.transpose(a, axes)))),
    "expand_dims": float64_arrays().flatmap(lambda x: st.integers(-x.ndim - 1, x.ndim).map(
        lambda axis: Case(st.just((x,)), lambda t: ops.expand_dims(t, axis), lambda a: np.expand_dims(a, axis)))),
    "squeeze": float64_arrays(shapes(min_side=1, max_side=2)).map(
        lambda x: Case(st.just((x,)), ops.squeeze, np.squeeze)),
    "concatenate": st.tuples(shapes(min_dims=1), st.integers(1, 3)).map(lambda c: Case(
        st.tuples(float64_arrays(c[0]), float64_arrays((c[1],) + c[0][1:])),
        lambda a, b: ops.concatenate([a, b], axis=0), lambda a, b: np.concatenate([a, b]))),
    "stack": st.tuples(shapes(), st.integers(-4, 3)).filter(lambda c: -len(c[0]) - 1 <= c[1] <= len(c[0])).map(
        lambda c: Case(st.tuples(float64_arrays(c[0]), float64_arrays(c[0])),
                       lambda a, b: ops.stack([a, b], c[1]), lambda a, b: np.stack([a, b], c[1]))),
    "split": split_cases().map(lambda c: Case(st.just((c[0],)), lambda t: ops.concatenate(
        [p * (i + 1) for i, p in enumerate(ops.split(t, c[1], c[2]))], c[2]), lambda x: np.concatenate(
        [p * (i + 1) for i, p in enumerate(np.split(x, c[1], c[2]))], c[2]))),
    "take": array_and_indices().map(lambda c: Case(st.just((c[0],)), lambda t: ops.take(t, c[1], c[2]),
                                                   lambda x: np.take(x, c[1], c[2]))),
    "tile": float64_arrays().flatmap(lambda x: st.lists(st.integers(1, 3), max_size=3).map(lambda reps: Case(
        st.just((x,)), lambda t: ops.tile(t, reps), lambda a: np.tile(a, reps)))),
    "repeat": array_and_indices().map(lambda c: Case(st.just((c[0],)), lambda t: ops.repeat(t, 2, c[2]),
                                                     lambda x: np.repeat(x, 2, c[2]))),
    "where": where_cases().map(lambda c: Case(st.just(c[:2]), lambda a, b: ops.where(c[2], a, b),
                                              lambda a, b: np.where(c[2], a, b))),
}


@st.composite
def drawn(draw, name):
    case = draw(CASES[name])
    return case, draw(case.arrays)


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=25)
@given(data=st.data())
def test_forward_matches_numpy_and_gradient_matches_finite_differences(name, data):
    case, arrays = data.draw(drawn(name))
    out = case.function(*(tg.Tensor(a) for a in arrays))
    assert isinstance(out, tg.Tensor)
    np.testing.assert_allclose(out.data, case.reference(*arrays), rtol=1e-12, atol=1e-15)
    assert tg.gradcheck(case.function, [tg.Tensor(a, requires_grad=True) for a in arrays])


def test_every_differentiable_function_the_issue_lists_has_a_case():
    listed = {"add", "subtract", "multiply", "divide", "matmul", "dot", "exp", "log", "sqrt", "square", "abs",
              "tanh", "power", "maximum", "minimum", "clip", "sum", "mean", "max", "min", "var", "std",
              "reshape", "transpose", "expand_dims", "squeeze", "concatenate", "stack", "split", "tile",
              "repeat", "take", "where", "relu", "sigmoid", "softmax", "log_softmax"}
    assert listed == set(CASES)  # cast: its own test below (a finite difference cannot cross float32 rounding)


# ---- Kinks: the gradient where the function has no derivative, as torch (and mostly TensorFlow) define it
def gradient(function, *values):
    inputs = [tg.Tensor(np.array(v, dtype=np.float64), requires_grad=True) for v in values]
    function(*inputs).sum().backward()
    return [t.grad for t in inputs]


def test_abs_has_gradient_sign_x_so_zero_at_zero():
    np.testing.assert_array_equal(gradient(ops.abs, [-2.0, 0.0, 3.0])[0], [-1.0, 0.0, 1.0])


def test_relu_has_gradient_zero_at_zero():
    np.testing.assert_array_equal(gradient(ops.relu, [-1.0, 0.0, 1.0])[0], [0.0, 0.0, 1.0])


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_and_minimum_split_a_tie_evenly(name):
    # x = [1, 2, 3], y = [2, 2, 2]: maximum picks y, tie, x; minimum x, tie, y. torch.maximum halves a tie.
    dx, dy = gradient(getattr(ops, name), [1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    picks_x = [0.0, 0.5, 1.0] if name == "maximum" else [1.0, 0.5, 0.0]
    np.testing.assert_array_equal(dx, picks_x)
    np.testing.assert_array_equal(dy, 1 - np.array(picks_x))


@pytest.mark.parametrize("name, values, shares", [("max", [[3.0, 1.0, 3.0, 3.0]], [[1 / 3, 0, 1 / 3, 1 / 3]]),
                                                  ("min", [[0.0, 1.0, 0.0, 2.0]], [[0.5, 0, 0.5, 0]])])
def test_max_and_min_share_the_gradient_among_ties(name, values, shares):
    # torch.amax and tf.reduce_max give each of k tied extremes 1/k of the gradient
    np.testing.assert_allclose(gradient(lambda t: getattr(ops, name)(t, axis=1), values)[0], shares, rtol=1e-15)
    np.testing.assert_allclose(gradient(getattr(ops, name), values)[0], shares, rtol=1e-15)


def test_clip_passes_the_gradient_at_its_bounds():
    # torch.clamp's mask is x_min <= x <= x_max, bounds included
    np.testing.assert_array_equal(gradient(lambda t: ops.clip(t, -1.0, 1.0), [-2.0, -1.0, 1.0, 2.0])[0], [0, 1, 1, 0])


def test_sqrt_has_an_infinite_gradient_at_zero():
    with np.errstate(divide="ignore"):
        assert gradient(ops.sqrt, [0.0])[0][0] == np.inf


def test_power_gradients_at_a_zero_base_and_a_zero_exponent():
    # d(x^y)/dy = x^y ln x, which torch takes as 0 at x = 0, y >= 0; d(x^0)/dx = 0 even at x = 0
    dx, dy = gradient(ops.power, [0.0, 0.0, 2.0], [2.0, 0.0, 3.0])
    np.testing.assert_array_equal(dx, [0.0, 0.0, 12.0])
    np.testing.assert_array_equal(dy, [0.0, 0.0, 8 * np.log(2.0)])


def test_where_sends_the_gradient_only_to_the_chosen_side_even_when_the_other_is_inf():
    dx, dy = gradient(lambda a, b: ops.where([True, False], a, b), [1.0, np.inf], [np.inf, 2.0])
    np.testing.assert_array_equal(dx, [1.0, 0.0])
    np.testing.assert_array_equal(dy, [0.0, 1.0])


# ---- Conversions and dtypes ----------------------------------------------------------------------------
@pytest.mark.parametrize("value, dtype", [(3, np.int32), (2**40, np.int64), (2.5, np.float32), (True, np.bool_),
                                          ([1, 2], np.int32), ([1, 2.5], np.float32),
                                          (np.arange(3), np.arange(3).dtype), (np.ones(2), np.float64),
                                          (np.float64(1.0), np.float64)])
def test_convert_to_tensor_gives_python_data_keras_default_dtypes_and_keeps_numpy_dtypes(value, dtype):
    t = ops.convert_to_tensor(value)
    assert isinstance(t, tg.Tensor) and t.dtype == dtype
    np.testing.assert_array_equal(t.data, value)


def test_convert_to_tensor_returns_a_tensor_itself_and_stacks_a_list_of_tensors_on_the_tape():
    t = tg.Tensor(np.ones(2), requires_grad=True)
    assert ops.convert_to_tensor(t) is t
    stacked = ops.convert_to_tensor([t, t * 2])
    assert stacked.shape == (2, 2) and stacked.requires_grad


def test_numpy_inputs_give_tensors_and_a_tensor_keeps_a_python_number_from_widening_it():
    out = ops.add(np.ones(2, np.float32), 2.5)
    assert isinstance(out, tg.Tensor) and out.dtype == np.float32
    assert ops.multiply(2, 3).dtype == np.int32 and ops.multiply(2, 3).item() == 6
    assert ops.add(np.arange(3), 0.5).dtype == np.float32  # not numpy's float64: Keras's weak float


def test_cast_is_differentiable_between_floating_dtypes_and_leaves_the_tape_for_others():
    t = tg.Tensor(np.array([1.5, -2.5]), requires_grad=True)
    low = ops.cast(t, "float32")
    assert low.dtype == np.float32 and low.requires_grad
    (low * 3).sum().backward()
    assert t.grad.dtype == np.float64
    np.testing.assert_array_equal(t.grad, [3.0, 3.0])
    as_int = ops.cast(t, "int32")
    assert as_int.dtype == np.int32 and not as_int.requires_grad
    np.testing.assert_array_equal(as_int.data, [1, -2])  # toward zero, as torch's .to(int)


def test_integer_inputs_of_float_functions_become_float32():
    for name in ("exp", "log", "sqrt", "tanh", "sigmoid", "mean", "softmax"):
        assert getattr(ops, name)(np.arange(1, 4)).dtype == np.float32, name


def test_creation_functions_shapes_and_dtypes():
    assert ops.ones((2, 3)).dtype == np.float32 and ops.zeros(4).shape == (4,)
    assert ops.full((2,), 7).dtype == np.int32 and ops.full((2, 2), 0.5, "float64").dtype == np.float64
    np.testing.assert_array_equal(ops.full((2, 3), [1, 2, 3]).data, [[1, 2, 3], [1, 2, 3]])
    assert ops.arange(5).dtype == np.int32 and ops.arange(0, 1, 0.5).dtype == np.float32
    np.testing.assert_array_equal(ops.arange(2, 8, 3).data, [2, 5])
    np.testing.assert_array_equal(ops.eye(2, 3, k=1).data, np.eye(2, 3, k=1))
    x = np.ones((2, 1), np.float64)
    assert ops.ones_like(x).dtype == np.float64 and ops.zeros_like(x, "int32").dtype == np.int32
    assert ops.shape(x) == (2, 1) and ops.shape([[1, 2, 3]]) == (1, 3)
    np.testing.assert_array_equal(ops.convert_to_numpy([[1.5]]), [[1.5]])


@given(broadcastable_pairs())
@settings(max_examples=20)
def test_comparisons_and_logic_are_boolean_tensors_off_the_tape(pair):
    x, y = (tg.Tensor(a, requires_grad=True) for a in pair)
    for name in ("equal", "not_equal", "greater", "less", "logical_and", "logical_or"):
        out = getattr(ops, name)(x, y)
        assert out.dtype == bool and not out.requires_grad
        np.testing.assert_array_equal(out.data, getattr(np, name)(*pair))
    np.testing.assert_array_equal(ops.logical_not(x).data, np.logical_not(pair[0]))
    for name in ("any", "all"):
        np.testing.assert_array_equal(getattr(ops, name)(ops.greater(x, 0), axis=None).data, getattr(np, name)(pair[0] > 0))


def test_argmax_is_int32_and_one_hot_float32_with_zero_rows_for_indices_out_of_range():
    assert ops.argmax(np.array([[1, 5, 2]]), axis=-1).dtype == np.int32
    np.testing.assert_array_equal(ops.argmax(np.array([[1, 5, 5]]), axis=1, keepdims=True).data, [[1]])
    hot = ops.one_hot(np.array([2, -1, 3]), 3)
    np.testing.assert_array_equal(hot.data, [[0, 0, 1], [0, 0, 0], [0, 0, 0]])
    assert hot.dtype == np.float32 and ops.one_hot([0, 1], 2, axis=0, dtype="int32").dtype == np.int32


def test_repeats_may_be_tensors_and_tiling_is_differentiable():
    np.testing.assert_array_equal(ops.repeat(np.arange(3), tg.Tensor(np.array([2, 0, 1]))).data, [0, 0, 2])
    np.testing.assert_array_equal(ops.tile(np.arange(2), ops.convert_to_tensor([2])).data, [0, 1, 0, 1])
    # each element of x appears 2 * 3 times in the tiling, so the gradient of the sum is 6 everywhere
    np.testing.assert_array_equal(gradient(lambda t: ops.tile(t, (2, 3)), [[1.0, 2.0]])[0], [[6.0, 6.0]])


def test_ops_is_keras_namespace_not_the_op_registry():
    assert not hasattr(ops, "OPS") and not hasattr(ops, "Function")
    assert {"matmul", "where", "softmax", "one_hot"} <= set(ops.__all__)


def test_where_with_the_condition_alone_gives_its_indices_one_row_per_axis():
    np.testing.assert_array_equal(ops.where(np.array([[True, False], [False, True]])).data, [[0, 1], [0, 1]])


# ---- Errors -------------------------------------------------------------------------------------------------
def test_a_keras_ops_name_this_module_lacks_says_so_on_import_and_on_attribute_access():
    with pytest.raises(NotInTinygradEmbed, match=r"keras\.ops\.logsumexp is not in tinygrad_embed\.ops.*softmax"):
        from tinygrad_embed.ops import logsumexp  # noqa: F401
    with pytest.raises(ImportError, match="keras.ops.tensordot"):
        ops.tensordot
    with pytest.raises(AttributeError, match="no attribute 'not_a_keras_op'"):
        ops.not_a_keras_op
    assert not hasattr(ops, "not_a_keras_op")


def test_every_function_here_is_a_keras_ops_name():
    assert set(ops.__all__) <= ops.KERAS_OPS


@pytest.mark.parametrize("call, message", [
    (lambda: ops.split(np.ones(5), 2), "split into 2 equal parts .* 5"),
    (lambda: ops.max(np.ones((0, 2))), "max of an empty tensor"),
    (lambda: ops.where([True], 1.0), "both x1 and x2"),
    (lambda: ops.cast(np.ones(2), "no_such_dtype"), "unknown dtype 'no_such_dtype'"),
    (lambda: ops.convert_to_tensor([1.0], sparse=True), "dense tensors only"),
    (lambda: ops.matmul(2.0, np.ones(2)), "at least 1 dimension"),
])
def test_bad_input_is_named_in_the_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_max_of_an_empty_tensor_with_initial_is_initial():
    np.testing.assert_array_equal(ops.max(np.ones((0, 2)), axis=0, initial=-1.0).data, [-1.0, -1.0])
    assert ops.min(np.array([3.0]), initial=1.0).item() == 1.0
