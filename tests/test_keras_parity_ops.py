"""tinygrad_embed.ops against real keras.ops (torch backend) on the same inputs: the same values and
dtypes from every function, and for the kinks and a few others the same gradients (torch autograd).
Skipped without Keras and torch, except under `make parity` (TINYGRAD_EMBED_PARITY=required)."""
import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
torch = require("torch")

import tinygrad_embed  # noqa: E402
from tinygrad_embed import ops  # noqa: E402

RNG = np.random.default_rng(0)
A = RNG.standard_normal((2, 3, 4))
B = RNG.standard_normal((3, 4))
POSITIVE = np.abs(A) + 0.1
MATRIX, COLUMN, ROW = RNG.standard_normal((3, 4)), RNG.standard_normal(4), RNG.standard_normal(3)
TIES = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, -1.0, -1.0]])
INTS = np.array([[0, 2, 1], [1, 1, 0]])
MASK = A > 0

# name: (positional arguments, keyword arguments), the same for keras.ops and tinygrad_embed.ops
CALLS = {
    "convert_to_tensor": [((A,), {}), (([1.0, 2.0],), {}), ((3,), {}), ((INTS,), {"dtype": "float32"})],
    "cast": [((A, "float32"), {}), ((A, "int32"), {}), ((INTS, "float64"), {})],
    "ones": [(((2, 3),), {}), ((4,), {"dtype": "int32"})],
    "zeros": [(((2, 3),), {}), (((1,),), {"dtype": "float64"})],
    "full": [(((2, 3), 0.5), {}), (((2,), 7), {"dtype": "float64"})],
    "arange": [((5,), {}), ((1, 2, 0.25), {}), ((2, 9, 3), {"dtype": "float32"})],
    "eye": [((3,), {}), ((2, 4, 1), {})],
    "ones_like": [((A,), {}), ((INTS,), {"dtype": "float32"})],
    "zeros_like": [((A,), {}), ((INTS,), {})],
    "add": [((A, B), {}), ((A, 2.5), {}), ((INTS, 2.5), {}), ((A.astype(np.float32), 2), {})],
    "subtract": [((A, B), {}), ((1.0, A), {})],
    "multiply": [((A, B), {}), ((INTS, 3), {})],
    "divide": [((A, POSITIVE), {}), ((A, 4.0), {})],
    "matmul": [((A, B.T), {}), ((COLUMN, B.T), {}), ((MATRIX, COLUMN), {}), ((COLUMN, COLUMN), {})],
    "dot": [((MATRIX, COLUMN), {}), ((A, B.T), {}), ((2.0, A), {}), ((ROW, MATRIX), {})],
    "einsum": [(("abc,cd->abd", A, B.T), {}), (("ij,ij->", MATRIX, MATRIX), {}), (("abc,ab->ac", A, A[..., 0]), {}),
               (("abc,dc->bad", A, B), {})],
    "exp": [((A,), {}), ((INTS,), {})],
    "log": [((POSITIVE,), {})],
    "sqrt": [((POSITIVE,), {}), ((INTS,), {})],
    "square": [((A,), {}), ((INTS,), {})],
    "abs": [((A,), {}), ((INTS - 1,), {})],
    "tanh": [((A,), {})],
    "power": [((POSITIVE, A), {}), ((A, 2), {}), ((A, 3.0), {})],
    "maximum": [((A, B), {}), ((TIES, 2.0), {}), ((INTS, 0.5), {})],
    "minimum": [((A, B), {}), ((TIES, 2.0), {})],
    "clip": [((A, -0.5, 0.5), {})],
    "sum": [((A,), {}), ((A,), {"axis": 1}), ((A,), {"axis": (0, 2), "keepdims": True})],
    "mean": [((A,), {}), ((A,), {"axis": -1, "keepdims": True}), ((INTS,), {"axis": 0})],
    "max": [((A,), {}), ((A,), {"axis": (0, 1)}), ((TIES,), {"axis": 1, "keepdims": True}),
            ((A,), {"axis": 0, "initial": 0.5})],
    "min": [((A,), {}), ((A,), {"axis": 2}), ((TIES,), {"axis": -1})],
    "argmax": [((A,), {}), ((A,), {"axis": 1}), ((TIES,), {"axis": 1, "keepdims": True})],
    "var": [((A,), {}), ((A,), {"axis": (1, 2)})],
    "std": [((A,), {}), ((A,), {"axis": 0, "keepdims": True})],
    "reshape": [((A, (4, -1)), {}), ((A, 24), {})],
    "transpose": [((A,), {}), ((A, (1, 0, 2)), {})],
    "expand_dims": [((A, 1), {}), ((A, -1), {}), ((A, (0, 2)), {})],
    "squeeze": [((A[:1, :, :1],), {}), ((A[:1],), {"axis": 0})],
    "concatenate": [(([A, A[:1]],), {}), (([B, B],), {"axis": -1})],
    "stack": [(([B, B * 2],), {}), (([B, B],), {"axis": -1})],
    # Not a negative index with axis=None: Keras's torch backend wraps it by x.shape[0], not by x.size
    "take": [((A, INTS - 1), {"axis": 1}), ((A, [0, 5]), {}), ((B, np.array([2, 0, 2])), {"axis": 0})],
    "tile": [((B, 2), {}), ((B, (2, 1, 3)), {})],
    "repeat": [((B, 2), {}), ((B, 3), {"axis": 1}), ((B, np.array([1, 0, 2])), {"axis": 0})],
    "where": [((MASK, A, 0.0), {}), ((MASK, A, A * 2), {}), ((MASK[0],), {})],
    "equal": [((TIES, 2.0), {}), ((INTS, INTS[::-1]), {})],
    "not_equal": [((TIES, 2.0), {})],
    "greater": [((A, B), {})],
    "less": [((A, 0), {})],
    "logical_and": [((MASK, A < 1), {})],
    "logical_or": [((MASK, A < -1), {})],
    "logical_not": [((MASK,), {}), ((INTS,), {})],
    "any": [((MASK,), {}), ((MASK,), {"axis": 1}), ((INTS,), {"axis": 0, "keepdims": True})],
    "all": [((MASK,), {}), ((MASK,), {"axis": (0, 2)})],
    "relu": [((A,), {})],
    "sigmoid": [((A * 10,), {})],
    "softmax": [((A,), {}), ((A,), {"axis": 1}), ((A,), {"axis": None}), ((A,), {"axis": (0, 2)})],
    "log_softmax": [((A * 10,), {}), ((A,), {"axis": 0})],
    "one_hot": [((INTS, 3), {}), ((INTS, 4), {"axis": 0}), ((np.array([2, -1]), 3), {"dtype": "int32"})],
    "convert_to_numpy": [((A,), {})],
    "shape": [((A,), {})],
}


# Keras's JAX-style type promotion, on every backend but TensorFlow's, makes float64 operands give float32
# in matmul, dot, maximum, minimum and var (keras/src/backend/common/dtypes.py, BIT64_TO_BIT32_DTYPE),
# and mean and std compute in float32; here float64 stays float64, as in numpy and in Keras's own add or
# sum. These are compared at float32's precision.
NARROWED = {"matmul", "dot", "maximum", "minimum", "var", "std", "mean"}


def keras_dtype(x):
    return keras.backend.standardize_dtype(x.dtype)


def same(ours, theirs, narrowed=False):
    """The same values and dtype (float32 from Keras for our float64 when narrowed)."""
    if isinstance(ours, (list, tuple)):  # split's parts, or a shape
        assert len(ours) == len(theirs)
        for mine, its in zip(ours, theirs):
            same(mine, its) if isinstance(mine, tinygrad_embed.Tensor) else assert_equal(mine, its)
        return
    mine = ours.data if isinstance(ours, tinygrad_embed.Tensor) else ours
    expected = keras_dtype(theirs)
    if narrowed and str(mine.dtype) == "float64" and expected == "float32":
        expected = "float64"
    assert str(mine.dtype) == expected, f"dtype {mine.dtype}, Keras {keras_dtype(theirs)}"
    precise = not narrowed and keras_dtype(theirs) not in ("float32", "float16")
    np.testing.assert_allclose(mine, keras.ops.convert_to_numpy(theirs), rtol=1e-12 if precise else 1e-6,
                               atol=1e-15 if precise else 1e-7)


def assert_equal(a, b):
    assert a == b


@pytest.mark.parametrize("name, args, kwargs", [(name, args, kwargs) for name, calls in CALLS.items()
                                                 for args, kwargs in calls])
def test_values_and_dtypes_match_keras(name, args, kwargs):
    same(getattr(ops, name)(*args, **kwargs), getattr(keras.ops, name)(*args, **kwargs), name in NARROWED)


def test_every_function_here_is_checked_against_keras():
    assert set(ops.__all__) - {"absolute"} == set(CALLS) | {"split"}


@pytest.mark.parametrize("sections, axis", [(2, 1), ([1, 3], -1), (3, 0)])
def test_split_matches_keras(sections, axis):
    x = A.reshape(3, 8)
    same(ops.split(x, sections, axis), keras.ops.split(x, sections, axis))


# ---- Gradients: torch autograd through keras.ops against this module's backward ---------------------------
GRADIENTS = {  # name: (function of the differentiable inputs, inputs)
    "abs at 0": (lambda ops_, x: ops_.abs(x), [np.array([-2.0, 0.0, 3.0])]),
    "relu at 0": (lambda ops_, x: ops_.relu(x), [np.array([-1.0, 0.0, 2.0])]),
    "maximum ties": (lambda ops_, x, y: ops_.maximum(x, y), [TIES, np.full(4, 2.0)]),
    "minimum ties": (lambda ops_, x, y: ops_.minimum(x, y), [TIES, np.full(4, 2.0)]),
    "max ties, axis": (lambda ops_, x: ops_.max(x, axis=1), [TIES]),
    "max ties, all": (lambda ops_, x: ops_.max(x), [np.array([3.0, 1.0, 3.0])]),
    "min ties": (lambda ops_, x: ops_.min(x, axis=1), [TIES]),
    "clip at bounds": (lambda ops_, x: ops_.clip(x, -1.0, 1.0), [np.array([-2.0, -1.0, 0.0, 1.0, 2.0])]),
    "power": (lambda ops_, x, y: ops_.power(x, y), [np.array([0.0, 0.0, 2.0, 1.5]), np.array([2.0, 0.0, 3.0, -1.0])]),
    "where": (lambda ops_, x, y: ops_.where(MASK, x, y), [A, B]),
    "std": (lambda ops_, x: ops_.std(x, axis=1), [A]),
    "softmax": (lambda ops_, x: ops_.softmax(x, axis=(0, 2)), [A]),
    "log_softmax": (lambda ops_, x: ops_.log_softmax(x), [A]),
    "take": (lambda ops_, x: ops_.take(x, INTS, axis=1), [A]),
    "dot": (lambda ops_, x, y: ops_.dot(x, y), [MATRIX, COLUMN]),
    "matmul": (lambda ops_, x, y: ops_.matmul(x, y), [COLUMN, B.T]),
    "tile": (lambda ops_, x: ops_.tile(x, (2, 1, 3)), [B]),
    "repeat": (lambda ops_, x: ops_.repeat(x, np.array([1, 0, 2]), axis=0), [B]),
}


@pytest.mark.parametrize("name", sorted(GRADIENTS))
def test_gradients_match_torch_autograd(name):
    function, arrays = GRADIENTS[name]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = function(keras.ops, *theirs)
    upstream = np.random.default_rng(1).standard_normal(tuple(out.shape))
    (out * torch.tensor(upstream)).sum().backward()
    ours = [tinygrad_embed.Tensor(a, requires_grad=True) for a in arrays]
    function(ops, *ours).backward(upstream)
    precise = out.dtype == torch.float64  # else Keras narrowed it (NARROWED)
    for mine, torch_input in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad, torch_input.grad.numpy(), rtol=1e-12 if precise else 1e-6,
                                   atol=1e-15 if precise else 1e-7)
