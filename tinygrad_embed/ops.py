"""Keras 3's `keras.ops` for custom layers, losses and metrics: `from tinygrad_embed import ops`.

Keras's names and signatures, on Tensors and on numpy arrays, Python numbers and lists. Every function
returns a Tensor (as Keras returns its backend's tensor), except convert_to_numpy (an array), shape (a
tuple) and split (a list of Tensors). The maths functions are differentiable: on a Tensor that requires
grad the result is on the tape. Comparisons, logical functions, argmax and one_hot give Tensors outside
the tape (boolean, int32 or float32). A name keras.ops has and this module lacks raises
an error that says so: NotInTinygradEmbed (an ImportError) for `from tinygrad_embed.ops import name` and
`ops.name`, an AttributeError inside getattr() and hasattr(), so that hasattr(ops, "stft") is False.
"""
from __future__ import annotations

import builtins
from typing import Any, Callable, Sequence, Union

import numpy as np

from . import activations as _activations
from .attention_functions import Einsum as _Einsum
from .functions import OPS as _OPS, concatenate as _concatenate, stack as _stack
from .missing import not_here
from .tensor import Tensor

TensorLike = Union[Tensor, np.ndarray, float, int, bool, Sequence[Any]]
Axis = Union[int, Sequence[int], None]
DType = Any  # a numpy dtype or its name: "float32", np.int32, ...


# ---- Conversion ---------------------------------------------------------------------------------
def _dtype(dtype: DType, default: DType = None) -> np.dtype:
    """dtype as a numpy dtype; `default` when it is None (a test for None: numpy 1's dtypes are falsy)."""
    try:
        return np.dtype(default if dtype is None else dtype)
    except TypeError:
        raise ValueError(f"unknown dtype {dtype!r}; expected a numpy dtype or its name, e.g. 'float32'") from None


def _is_python_scalar(x: Any) -> bool:
    return isinstance(x, (bool, int, float))


def convert_to_tensor(x: TensorLike, dtype: DType = None, sparse: bool | None = None,
                      ragged: bool | None = None) -> Tensor:
    """x as a Tensor: a Tensor as it is (cast when dtype is given), numpy data with its dtype, Python
    numbers and lists with Keras's defaults (bool, int32, float32)."""
    if sparse or ragged:
        raise ValueError(f"tinygrad_embed has dense tensors only; got sparse={sparse!r}, ragged={ragged!r}")
    if isinstance(x, Tensor):
        return x if dtype is None else cast(x, dtype)
    if isinstance(x, (list, tuple)) and builtins.any(isinstance(item, Tensor) for item in x):
        return convert_to_tensor(_stack([convert_to_tensor(item) for item in x]), dtype)
    if dtype is not None:
        return Tensor(np.asarray(x, dtype=_dtype(dtype)))
    array = np.asarray(x)
    python_data = not isinstance(x, (np.ndarray, np.generic))
    if python_data and array.dtype.kind == "f":
        array = array.astype(np.float32)
    elif python_data and array.dtype.kind == "i" and _fits_int32(array):
        array = array.astype(np.int32)
    return Tensor(array)


def _fits_int32(array: np.ndarray) -> bool:
    return array.size == 0 or (array.min() >= -2**31 and array.max() < 2**31)


def convert_to_numpy(x: TensorLike) -> np.ndarray:
    """The values as a numpy array (a Tensor's own array, not a copy)."""
    return convert_to_tensor(x).data


def cast(x: TensorLike, dtype: DType) -> Tensor:
    """x converted to dtype: differentiable into a floating dtype, outside the tape into any other."""
    x, dtype = convert_to_tensor(x), _dtype(dtype)
    if x.dtype == dtype:
        return x
    if dtype.kind == "f":
        return _OPS["Cast"].apply(x, dtype)
    return Tensor(x.data.astype(dtype))


def shape(x: TensorLike) -> tuple[int, ...]:
    """The shape, a tuple of ints."""
    return convert_to_tensor(x).shape


def _float(x: TensorLike) -> Tensor:
    """x as a Tensor, integers and booleans cast to float32 first (Keras's rule for exp, log, mean...)."""
    x = convert_to_tensor(x)
    return x if x.dtype.kind == "f" else cast(x, "float32")


def _operands(x1: TensorLike, x2: TensorLike) -> tuple[Any, Any]:
    """Both as Tensors, except a Python number beside a tensor: it stays a number, so the tensor's dtype
    wins (float32 + 2.5 is float32), as in Keras; a float beside an integer tensor gives float32."""
    a, b = (x if _is_python_scalar(x) else convert_to_tensor(x) for x in (x1, x2))
    if _is_python_scalar(a) and _is_python_scalar(b):
        return convert_to_tensor(a), b
    if isinstance(a, float) or isinstance(b, float):  # numpy would make int32 and 2.5 float64
        return tuple(_float(x) if isinstance(x, Tensor) else x for x in (a, b))
    return a, b


def _axis(axis: Axis) -> int | tuple[int, ...] | None:
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


# ---- Creation (constants: no gradient) -------------------------------------------------------------
def _shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    return (int(shape),) if np.ndim(shape) == 0 else tuple(int(n) for n in shape)


def full(shape: int | Sequence[int], fill_value: TensorLike, dtype: DType = None) -> Tensor:
    """A tensor of that shape filled with fill_value (broadcast, if it is an array)."""
    value = convert_to_tensor(fill_value, dtype).data
    return Tensor(np.broadcast_to(value, _shape(shape)).copy())


def ones(shape: int | Sequence[int], dtype: DType = None) -> Tensor:
    """A tensor of ones, float32 unless dtype says otherwise."""
    return full(shape, 1, _dtype(dtype, "float32"))


def zeros(shape: int | Sequence[int], dtype: DType = None) -> Tensor:
    """A tensor of zeros, float32 unless dtype says otherwise."""
    return full(shape, 0, _dtype(dtype, "float32"))


def ones_like(x: TensorLike, dtype: DType = None) -> Tensor:
    """Ones in x's shape, with x's dtype unless dtype says otherwise."""
    x = convert_to_tensor(x)
    return full(x.shape, 1, _dtype(dtype, x.dtype))


def zeros_like(x: TensorLike, dtype: DType = None) -> Tensor:
    """Zeros in x's shape, with x's dtype unless dtype says otherwise."""
    x = convert_to_tensor(x)
    return full(x.shape, 0, _dtype(dtype, x.dtype))


def arange(start: float, stop: float | None = None, step: float | None = None, dtype: DType = None) -> Tensor:
    """start, start + step, ... up to stop (excluded); arange(n) counts 0 .. n - 1. Without dtype: int32
    from Python ints, float32 once a float is among them (numpy values keep theirs)."""
    start, stop = (0, start) if stop is None else (start, stop)
    values = np.arange(start, stop, 1 if step is None else step)
    from_python = dtype is None and not builtins.any(isinstance(v, np.generic) for v in (start, stop, step))
    return convert_to_tensor(values.tolist() if from_python else values, dtype)  # a list: Keras's defaults


def eye(N: int, M: int | None = None, k: int = 0, dtype: DType = None) -> Tensor:
    """An N x M matrix with ones on diagonal k (0: the main one), float32 unless dtype says otherwise."""
    return Tensor(np.eye(N, M, k, dtype=_dtype(dtype, "float32")))


# ---- Elementwise maths (differentiable) ---------------------------------------------------------------
def add(x1: TensorLike, x2: TensorLike) -> Tensor:
    """x1 + x2, broadcast."""
    a, b = _operands(x1, x2)
    return a + b


def subtract(x1: TensorLike, x2: TensorLike) -> Tensor:
    """x1 - x2, broadcast."""
    a, b = _operands(x1, x2)
    return a - b


def multiply(x1: TensorLike, x2: TensorLike) -> Tensor:
    """x1 * x2, elementwise and broadcast."""
    a, b = _operands(x1, x2)
    return a * b


def divide(x1: TensorLike, x2: TensorLike) -> Tensor:
    """x1 / x2, broadcast."""
    a, b = _operands(x1, x2)
    return a / b


def power(x1: TensorLike, x2: TensorLike) -> Tensor:
    """x1 ** x2, elementwise and broadcast; differentiable in both."""
    return _OPS["Power"].apply(*_operands(x1, x2))


def maximum(x1: TensorLike, x2: TensorLike) -> Tensor:
    """The larger of x1 and x2, elementwise; at a tie each gets half the gradient (as torch)."""
    return _OPS["Maximum"].apply(*_operands(x1, x2))


def minimum(x1: TensorLike, x2: TensorLike) -> Tensor:
    """The smaller of x1 and x2, elementwise: -maximum(-x1, -x2), so ties share the gradient too."""
    a, b = _operands(x1, x2)
    return -maximum(-a, -b)


def exp(x: TensorLike) -> Tensor:
    """e ** x."""
    return _float(x).exp()


def log(x: TensorLike) -> Tensor:
    """The natural logarithm."""
    return _float(x).log()


def sqrt(x: TensorLike) -> Tensor:
    """x ** 0.5 (its gradient at 0 is inf, as in torch and TensorFlow)."""
    return _float(x) ** 0.5


def square(x: TensorLike) -> Tensor:
    """x * x."""
    x = convert_to_tensor(x)
    return x * x


def abs(x: TensorLike) -> Tensor:
    """|x| = x * sign(x), the sign a constant: the gradient at 0 is sign(0) = 0, as torch and TensorFlow."""
    x = convert_to_tensor(x)
    return x if x.dtype == bool else x * Tensor(np.sign(x.data))


absolute = abs


def tanh(x: TensorLike) -> Tensor:
    """The hyperbolic tangent."""
    return _float(x).tanh()


def clip(x: TensorLike, x_min: TensorLike, x_max: TensorLike) -> Tensor:
    """x limited to [x_min, x_max]; the gradient passes where x_min <= x <= x_max (ends included, as torch)."""
    x = convert_to_tensor(x)
    low, high = (convert_to_numpy(bound) for bound in (x_min, x_max))
    return (cast(x, "int32") if x.dtype == bool else x).clip(low, high)


def matmul(x1: TensorLike, x2: TensorLike) -> Tensor:
    """The matrix product as numpy's: batch axes broadcast, and a 1-D operand is a row (x1) or a column (x2)."""
    a, b = convert_to_tensor(x1), convert_to_tensor(x2)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul needs operands with at least 1 dimension, got shapes {a.shape} and {b.shape}")
    out = (a.reshape((1,) + a.shape) if a.ndim == 1 else a) @ (b.reshape(b.shape + (1,)) if b.ndim == 1 else b)
    rows, columns = out.shape[-2:]
    return out.reshape(out.shape[:-2] + ((rows,) if a.ndim > 1 else ()) + ((columns,) if b.ndim > 1 else ()))


def einsum(subscripts: str, *operands: TensorLike) -> Tensor:
    """Keras's einsum for two operands and an explicit output ("bqd,bkd->bqk"): the Einsum op, whose
    gradient is an einsum too. One operand, three or more, "..." and a repeated letter are refused."""
    if len(operands) != 2:
        raise ValueError(f"einsum here takes exactly two operands, got {len(operands)} for {subscripts!r}")
    return _Einsum.apply(*(convert_to_tensor(x) for x in operands), subscripts)


def dot(x1: TensorLike, x2: TensorLike) -> Tensor:
    """numpy's dot: a product by a scalar; otherwise the sum over x1's last axis and x2's second-to-last
    (its only, when 1-D). (Keras's torch backend uses matmul instead, which differs for 3-D and up x2.)"""
    a, b = convert_to_tensor(x1), convert_to_tensor(x2)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim == 1 or b.ndim <= 2:
        return matmul(a, b)
    inner = b.transpose((b.ndim - 2,) + tuple(range(b.ndim - 2)) + (b.ndim - 1,))  # (k, ..., m)
    out = a.reshape(-1, a.shape[-1]) @ inner.reshape(inner.shape[0], -1)
    return out.reshape(a.shape[:-1] + b.shape[:-2] + b.shape[-1:])


# ---- Reductions --------------------------------------------------------------------------------------
def sum(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """The sum over axis (an int, a tuple, or None for all)."""
    return convert_to_tensor(x).sum(axis=_axis(axis), keepdims=keepdims)


def mean(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """The mean over axis (an int, a tuple, or None for all)."""
    return _float(x).mean(axis=_axis(axis), keepdims=keepdims)


def max(x: TensorLike, axis: Axis = None, keepdims: bool = False, initial: float | None = None) -> Tensor:
    """The largest value over axis, at least `initial` when given; tied maxima share the gradient
    evenly, as torch.amax and tf.reduce_max share it."""
    x = convert_to_tensor(x)
    if x.size == 0:
        if initial is None:
            raise ValueError(f"max of an empty tensor (shape {x.shape}) needs `initial`, the value to return")
        return Tensor(np.max(x.data, axis=_axis(axis), keepdims=keepdims, initial=initial))
    out = _OPS["Amax"].apply(x, axis=_axis(axis), keepdims=keepdims)
    return out if initial is None else maximum(out, initial)


def min(x: TensorLike, axis: Axis = None, keepdims: bool = False, initial: float | None = None) -> Tensor:
    """The smallest value over axis: -max(-x), so tied minima share the gradient as in max."""
    return -max(-convert_to_tensor(x), axis, keepdims, None if initial is None else -initial)


def argmax(x: TensorLike, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """The index of the (first) largest value along axis (of the flattened x when None), int32."""
    return Tensor(np.argmax(convert_to_numpy(x), axis=axis, keepdims=keepdims).astype(np.int32))


def var(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """The variance over axis, mean((x - mean(x))^2): divided by n, as numpy and Keras."""
    x, axis = _float(x), _axis(axis)
    centred = x - x.mean(axis=axis, keepdims=True)
    return (centred * centred).mean(axis=axis, keepdims=keepdims)


def std(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """The standard deviation over axis, sqrt(var)."""
    return sqrt(var(x, axis, keepdims))


# ---- Shapes and indexing (differentiable) --------------------------------------------------------------
def reshape(x: TensorLike, newshape: int | Sequence[int]) -> Tensor:
    """The same values in a new shape (one -1 stands for what is left)."""
    return convert_to_tensor(x).reshape(_shape(newshape))


def transpose(x: TensorLike, axes: Sequence[int] | None = None) -> Tensor:
    """The axes permuted (reversed when None)."""
    return convert_to_tensor(x).transpose(None if axes is None else tuple(axes))


def expand_dims(x: TensorLike, axis: int | Sequence[int]) -> Tensor:
    """x with a new axis of length 1 at each position in axis (positions in the result)."""
    x = convert_to_tensor(x)
    return x.reshape(np.expand_dims(x.data, _axis(axis)).shape)


def squeeze(x: TensorLike, axis: Axis = None) -> Tensor:
    """x without its axes of length 1 (only those in axis, when given)."""
    x = convert_to_tensor(x)
    return x.reshape(np.squeeze(x.data, _axis(axis)).shape)


def concatenate(xs: Sequence[TensorLike], axis: int = 0) -> Tensor:
    """The tensors joined along an existing axis."""
    return _concatenate([convert_to_tensor(x) for x in xs], axis=axis)


def stack(x: Sequence[TensorLike], axis: int = 0) -> Tensor:
    """The tensors joined along a new axis."""
    return _stack([convert_to_tensor(item) for item in x], axis=axis)


def split(x: TensorLike, indices_or_sections: int | Sequence[int], axis: int = 0) -> list[Tensor]:
    """x cut along axis into that many equal parts, or at those indices."""
    x = convert_to_tensor(x)
    length = x.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        if indices_or_sections <= 0 or length % indices_or_sections:
            raise ValueError(f"split into {indices_or_sections} equal parts needs a positive count dividing "
                             f"the axis's length, {length} (axis {axis} of shape {x.shape})")
        bounds = list(range(0, length + 1, length // indices_or_sections))
    else:
        bounds = [0, *(int(i) for i in indices_or_sections), length]
    before = (slice(None),) * (axis % x.ndim)
    return [x[before + (slice(start, end),)] for start, end in zip(bounds, bounds[1:])]


def take(x: TensorLike, indices: TensorLike, axis: int | None = None) -> Tensor:
    """The slices of x at those indices along axis (of the flattened x when None); a negative index
    counts from the end. The gradient adds up where an index repeats."""
    x, indices = convert_to_tensor(x), convert_to_numpy(indices)
    if indices.dtype.kind not in "iu":
        indices = indices.astype(np.intp)  # Keras casts float indices too
    if axis is None:
        x, axis = x.reshape(-1), 0
    return x[(slice(None),) * (axis % x.ndim) + (indices,)]


def tile(x: TensorLike, repeats: int | Sequence[int]) -> Tensor:
    """x repeated as a whole `repeats[i]` times along axis i, as np.tile."""
    x, repeats = convert_to_tensor(x), _shape(convert_to_numpy(repeats))
    rank = builtins.max(x.ndim, len(repeats))
    x = x.reshape((1,) * (rank - x.ndim) + x.shape)
    repeats = (1,) * (rank - len(repeats)) + repeats
    return x[np.ix_(*(np.tile(np.arange(n), r) for n, r in zip(x.shape, repeats)))]


def repeat(x: TensorLike, repeats: int | Sequence[int], axis: int | None = None) -> Tensor:
    """Each element (slice along axis; of the flattened x when None) repeated `repeats` times in place."""
    x = convert_to_tensor(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    return take(x, np.repeat(np.arange(x.shape[axis]), convert_to_numpy(repeats)), axis)


def where(condition: TensorLike, x1: TensorLike | None = None, x2: TensorLike | None = None) -> Tensor:
    """x1 where condition holds, x2 elsewhere (all three broadcast); the gradient goes to the side chosen.
    With condition alone: the indices where it holds, one row per axis (int64, as Keras's torch backend)."""
    condition = convert_to_numpy(condition).astype(bool)
    if x1 is None and x2 is None:
        return Tensor(np.stack(np.nonzero(condition)).astype(np.int64))
    if x1 is None or x2 is None:
        raise ValueError("where takes both x1 and x2, or neither (then it returns the indices of condition)")
    return _OPS["Where"].apply(*_operands(x1, x2), condition)


# ---- Comparisons and logic (boolean Tensors, no gradient) -----------------------------------------------
def _compare(test: Callable[..., np.ndarray]) -> Callable[..., Tensor]:
    """The numpy comparison `test` as an ops function: a boolean Tensor, outside the tape."""
    def compare(x1: TensorLike, x2: TensorLike) -> Tensor:
        return Tensor(test(*(x if _is_python_scalar(x) else convert_to_numpy(x) for x in (x1, x2))))
    compare.__name__ = compare.__qualname__ = test.__name__
    compare.__doc__ = f"np.{test.__name__}(x1, x2), elementwise and broadcast: a boolean Tensor, outside the tape."
    return compare


equal, not_equal = _compare(np.equal), _compare(np.not_equal)
greater, less = _compare(np.greater), _compare(np.less)
logical_and, logical_or = _compare(np.logical_and), _compare(np.logical_or)


def logical_not(x: TensorLike) -> Tensor:
    """Not x, elementwise (zero is False): a boolean Tensor."""
    return Tensor(np.logical_not(convert_to_numpy(x)))


def any(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Whether any element over axis is nonzero: a boolean Tensor."""
    return Tensor(np.any(convert_to_numpy(x), axis=_axis(axis), keepdims=keepdims))


def all(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Whether every element over axis is nonzero: a boolean Tensor."""
    return Tensor(np.all(convert_to_numpy(x), axis=_axis(axis), keepdims=keepdims))


# ---- Neural-network functions ----------------------------------------------------------------------------
def relu(x: TensorLike) -> Tensor:
    """max(x, 0); the gradient at 0 is 0."""
    return convert_to_tensor(x).relu()


def sigmoid(x: TensorLike) -> Tensor:
    """1 / (1 + e^-x), finite for any x."""
    return _float(x).sigmoid()


def softmax(x: TensorLike, axis: Axis = -1) -> Tensor:
    """e^x / sum(e^x) over axis (an int, a tuple, or None for all): activations.softmax."""
    return _activations.softmax(_float(x), _axis(axis))


def log_softmax(x: TensorLike, axis: Axis = -1) -> Tensor:
    """x - log(sum(e^x)) over axis: activations.log_softmax."""
    return _activations.log_softmax(_float(x), _axis(axis))


def one_hot(x: TensorLike, num_classes: int, axis: int = -1, dtype: DType = None, sparse: bool = False) -> Tensor:
    """1 at each index's class along a new axis (the last by default), 0 elsewhere; float32 unless dtype
    says otherwise. An index outside 0 .. num_classes - 1 gives a row of zeros (as TensorFlow; torch errs)."""
    if sparse:
        raise ValueError("tinygrad_embed has dense tensors only; got sparse=True")
    indices = convert_to_numpy(x).astype(np.int64)[..., None]
    hot = indices == np.arange(num_classes)
    return Tensor(np.moveaxis(hot, -1, axis).astype(_dtype(dtype, "float32")))


# ---- What keras.ops has beyond this module ---------------------------------------------------------------
__all__ = [name for name, value in globals().items()
           if not name.startswith("_") and callable(value) and getattr(value, "__module__", None) == __name__]
# keras.ops's public names (Keras 3.x, read from its source when this was written): a name among these
# that this module lacks is Keras's, and the error says so instead of reading like a typo.
KERAS_OPS = frozenset("""
abs absolute adaptive_average_pool adaptive_max_pool add all allclose amax amin angle any append arange
arccos arccosh arcsin arcsinh arctan arctan2 arctanh argmax argmin argpartition argsort array array_split
associative_scan average average_pool bartlett batch_normalization binary_crossentropy bincount
bitwise_and bitwise_invert bitwise_left_shift bitwise_not bitwise_or bitwise_right_shift bitwise_xor
blackman broadcast_to cast categorical_crossentropy cbrt cdist ceil celu cholesky cholesky_inverse clip
concatenate cond conj conjugate conv conv_transpose convert_to_numpy convert_to_tensor copy corrcoef
correlate cos cosh count_nonzero cross ctc_decode ctc_loss cumprod cumsum custom_gradient deg2rad
depth_to_space depthwise_conv det diag diagflat diagonal diff digitize divide divide_no_nan dot
dot_product_attention dsplit dstack dtype eig eigh einsum elu empty empty_like equal erf erfc erfinv exp
exp2 expand_dims expm1 extract_sequences eye fabs fft fft2 flip fliplr flipud floor floor_divide fmax
fmin fmod fold fori_loop full full_like gcd gelu geomspace get_item glu greater greater_equal hamming
hanning hard_shrink hard_sigmoid hard_silu hard_swish hard_tanh heaviside histogram hsplit hstack hypot
i0 identity ifft2 imag image in_top_k inner inv irfft is_tensor isclose isfinite isin isinf isnan
isneginf isposinf isreal istft jvp kaiser kron layer_normalization lcm ldexp leaky_relu left_shift less
less_equal linalg linspace log log10 log1p log2 log_sigmoid log_softmax logaddexp logaddexp2 logdet
logical_and logical_not logical_or logical_xor logspace logsumexp lstsq lu_factor map matmul
matrix_rank max max_pool maximum mean median meshgrid min minimum mod moments moveaxis multi_hot
multiply nan_to_num nanargmax nanargmin nancumprod nancumsum nanmax nanmean nanmedian nanmin
nanpercentile nanprod nanquantile nanstd nansum nanvar ndim negative nextafter nn nonzero norm normalize
not_equal numpy one_hot ones ones_like outer pad percentile pinv polar power prod psnr ptp qr quantile
rad2deg ravel real rearrange reciprocal relu relu6 repeat reshape rfft right_shift rms_normalization
roll rot90 round rsqrt saturate_cast scan scatter scatter_update searchsorted segment_max segment_min
segment_prod segment_sum select selu separable_conv shape sigmoid sign signbit silu sin sinc sinh size
slice slice_update slogdet soft_shrink softmax softplus softsign solve solve_triangular sort
space_to_depth sparse_categorical_crossentropy sparse_plus sparse_sigmoid sparsemax split sqrt square
squareplus squeeze stack std stft stop_gradient subtract sum svd swapaxes swish switch take
take_along_axis tan tanh tanh_shrink tensordot threshold tile top_k trace transpose trapezoid tri tril
triu true_divide trunc unfold unique unravel_index unstack vander var vdot vectorize vectorized_map view
view_as_complex view_as_real vsplit vstack where while_loop zeros zeros_like
""".split())


def __getattr__(name: str) -> object:
    if name in KERAS_OPS:
        raise not_here(f"keras.ops.{name} is not in tinygrad_embed.ops; the ops here are: "
                                 f"{', '.join(sorted(__all__))}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
