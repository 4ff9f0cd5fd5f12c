"""Issue 30's text data promises: pad_sequences refuses a value its dtype cannot hold instead of wrapping it;
text_dataset_from_directory visits each real file once whatever the symlinks and refuses labels that are not
integers; Dataset.from_tensor_slices takes dicts and nested tuples as tf.data does, and refuses a list that
mixes texts with other things instead of letting numpy write them as words."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_embed.preprocessing.sequence import pad_sequences

INT_DTYPES = ["int8", "uint8", "int16", "uint16", "int32", "int64", "bool"]


def holds(dtype, v):
    """Whether an integer dtype holds the whole number v, from the dtype's documented range."""
    if dtype == "bool":
        return v in (0, 1)
    info = np.iinfo(dtype)
    return info.min <= v <= info.max


def first_unheld(sequences, width, truncating, dtype):
    """The (sequence, position, value) of the first kept id that dtype cannot hold, by a plain loop."""
    for i, s in enumerate(sequences):
        start = max(len(s) - width, 0) if truncating == "pre" else 0
        for j in range(start, min(start + width, len(s))):
            if not holds(dtype, s[j]):
                return i, j, s[j]
    return None


@given(st.lists(st.lists(st.integers(-2 ** 40, 2 ** 40) | st.integers(-300, 300), max_size=6), min_size=1, max_size=5),
       st.sampled_from(INT_DTYPES), st.none() | st.integers(1, 6), st.sampled_from(["pre", "post"]), st.booleans())
def test_pad_sequences_refuses_what_an_integer_dtype_cannot_hold(sequences, dtype, maxlen, truncating, as_arrays):
    """Lists (where Keras raises OverflowError too) and arrays (where Keras wraps 300 to 44 in int8) alike."""
    given_sequences = [np.array(s, np.int64) for s in sequences] if as_arrays else sequences
    width = maxlen if maxlen is not None else max(map(len, sequences))
    bad = first_unheld(sequences, width, truncating, dtype)
    if bad is None:
        out = pad_sequences(given_sequences, maxlen=maxlen, dtype=dtype, truncating=truncating)
        kept = [(s[max(len(s) - width, 0):] if truncating == "pre" else s[:width]) for s in sequences]
        assert out.tolist() == [[0] * (width - len(k)) + [bool(v) if dtype == "bool" else v for v in k] for k in kept]
        return
    i, j, v = bad
    with pytest.raises(OverflowError, match=f"sequence {i} at position {j} is {v}, which dtype {dtype} cannot hold"):
        pad_sequences(given_sequences, maxlen=maxlen, dtype=dtype, truncating=truncating)


@pytest.mark.parametrize("sequences, kwargs, error, match", [
    ([[1, 2.5]], {}, ValueError, "sequence 0 at position 1 is 2.5, which dtype int32 cannot hold .it would become 2"),
    ([[1], [math.nan, 3]], {}, ValueError, "sequence 1 at position 0 is nan, which dtype int32"),
    ([[math.inf]], {"dtype": "int64"}, ValueError, "position 0 is inf"),
    ([[1e40]], {"dtype": "float32"}, OverflowError, "is 1e.40, which dtype float32 cannot hold .it would become inf"),
    ([[70000]], {"dtype": "float16"}, OverflowError, "which dtype float16 cannot hold"),
    ([[1]], {"dtype": "int8", "value": 300}, OverflowError, "value is 300, which dtype int8 cannot hold"),
    ([[1]], {"dtype": "uint8", "value": -1}, OverflowError, "value is -1, which dtype uint8"),
    ([[1]], {"dtype": "int32", "value": -0.5}, ValueError, "value is -0.5"),
    ([[[1, 2], [3, 300]]], {"dtype": "int8"}, OverflowError, "sequence 0 at position 1 is 300"),
    ([np.array([5, 2 ** 64 - 1], np.uint64)], {"dtype": "int64"}, OverflowError, "position 1 is 18446744073709551615"),
])
def test_pad_sequences_refuses_fractions_nan_inf_and_float_overflow(sequences, kwargs, error, match):
    with pytest.raises(error, match=match):
        pad_sequences(sequences, **kwargs)


def test_pad_sequences_keeps_what_the_dtype_holds():
    assert pad_sequences([[1.0, 2.0]], dtype="int8").tolist() == [[1, 2]]  # whole floats are ids
    assert pad_sequences([[True, 3]], dtype="int8").tolist() == [[1, 3]]
    assert pad_sequences([[math.inf, 0.1]], dtype="float32").tolist() == [[math.inf, np.float32(0.1)]]  # rounding is fine
    assert pad_sequences([[300, 1]], maxlen=1, dtype="int8").tolist() == [[1]]  # 300 is cut: never cast
    assert pad_sequences([["a", "b"], ["c"]], dtype=object, value="").tolist() == [["a", "b"], ["", "c"]]
    out = pad_sequences([[2]], maxlen=2, dtype="float16", value=math.nan)  # NaN is a float16 value
    assert out.dtype == np.float16 and math.isnan(out[0, 0]) and out[0, 1] == 2
