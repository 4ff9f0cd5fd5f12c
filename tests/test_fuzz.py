"""A hypothesis-driven fuzz suite over the public API. Every call either works (and then gives what
numpy or the reference gives) or raises TypeError, ValueError or IndexError (OSError for files) with
a message. Never an interpreter crash, a numba error or an AssertionError from inside the package.
The number of cases tried is printed at the end of the run."""
import io
import operator
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_embed as tg
from conftest import FUZZ_CASES
from tinygrad_embed import losses
from tinygrad_embed.datasets import imdb
from tinygrad_embed.layers import LSTM, Dense, Embedding
from tinygrad_embed.models import Sequential, load_model
from tinygrad_embed.preprocessing.sequence import pad_sequences
from tinygrad_embed.preprocessing.text import Tokenizer
from tinygrad_embed.utils import set_random_seed

ALLOWED = (TypeError, ValueError, IndexError)
DTYPES = ["int8", "int64", "uint8", "uint64", "bool", "float16", "float32", "float64", "object", "<U3"]
fuzz_settings = settings(suppress_health_check=list(HealthCheck), deadline=None, max_examples=250)


def attempt(target, call, *args, allowed=ALLOWED, **kwargs):
    """Run one call; return (True, result) or (False, None) when it raised an allowed, explained error."""
    FUZZ_CASES[target] += 1
    try:
        return True, call(*args, **kwargs)
    except allowed as error:
        assert not isinstance(error, AssertionError), f"{target}: an AssertionError reached the user: {error}"
        assert not type(error).__module__.startswith("numba"), f"{target}: a numba error reached the user: {error}"
        assert str(error), f"{target}: {type(error).__name__} without a message"
        return False, None


@st.composite
def any_arrays(draw, max_dims=3, max_side=4):
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=max_side))
    if dtype == "object":
        return np.array([draw(st.one_of(st.none(), st.text(max_size=2), st.integers()))] * int(np.prod(shape)),
                        dtype=object).reshape(shape)
    if dtype == "<U3":
        return draw(hnp.arrays(dtype, shape, elements=st.text(max_size=3)))
    elements = None
    if np.dtype(dtype).kind == "f":
        elements = st.one_of(st.floats(-1e4, 1e4, width=np.dtype(dtype).itemsize * 8),
                             st.sampled_from([np.nan, np.inf, -np.inf]))
    elif np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        elements = st.integers(int(info.min), int(info.max))
    return draw(hnp.arrays(dtype, shape, elements=elements))


def same(ours, reference):
    # numpy computes exp of int8 in float16, and so do we: compare at the precision numpy chose
    tolerance = 2e-3 if np.asarray(reference).dtype == np.float16 else 1e-5
    np.testing.assert_allclose(np.asarray(ours, dtype=np.float64), np.asarray(reference, dtype=np.float64),
                               rtol=tolerance, atol=tolerance / 10, equal_nan=True)


UNARY = {"exp": np.exp, "log": np.log, "tanh": np.tanh, "relu": lambda a: np.maximum(a, 0), "sum": np.sum,
         "max": np.max, "mean": np.mean, "T": np.transpose, "__neg__": np.negative,
         "sigmoid": lambda a: 1 / (1 + np.exp(-a))}


@fuzz_settings
@given(any_arrays(), st.booleans(), st.sampled_from(sorted(UNARY)))
def test_tensor_construction_and_unary_ops(data, requires_grad, name):
    ok, t = attempt("Tensor", tg.Tensor, data, requires_grad=requires_grad)
    if not ok:
        return
    with np.errstate(all="ignore"):
        ok, out = attempt(f"Tensor.{name}", lambda: getattr(t, name) if name == "T" else getattr(t, name)())
        if ok:
            same(out.data, UNARY[name](t.data))


@fuzz_settings
@given(any_arrays(max_side=3), any_arrays(max_side=3), st.sampled_from(["+", "-", "*", "/", "@", "**"]))
def test_binary_ops(a, b, op):
    ok_a, x = attempt("Tensor", tg.Tensor, a)
    ok_b, y = attempt("Tensor", tg.Tensor, b)
    if not (ok_a and ok_b):
        return
    square = lambda p, q: p ** 2  # noqa: E731
    function = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
                "@": operator.matmul, "**": square}[op]
    with np.errstate(all="ignore"):
        ok, out = attempt(f"Tensor {op}", function, x, y)
        if ok:
            same(out.data, function(x.data, y.data))


@fuzz_settings
@given(st.integers(-2, 40), st.integers(-2, 6), any_arrays(), st.booleans())
def test_embedding(input_dim, output_dim, indices, mask_zero):
    ok, layer = attempt("Embedding()", Embedding, input_dim, output_dim, mask_zero=mask_zero)
    if not ok:
        return
    ok, out = attempt("Embedding call", layer, indices)
    if ok:
        np.testing.assert_array_equal(out.data, layer.get_weights()[0][indices.astype(np.int64)])
    huge = np.array([[0, 2**62, -(2**62)]], dtype=np.int64)
    with pytest.raises(IndexError, match="out of range"):
        layer(huge)


@fuzz_settings
@given(st.integers(-1, 4), any_arrays(max_dims=4), st.booleans(), st.booleans())
def test_lstm_and_dense(units, data, return_sequences, with_mask):
    ok, lstm = attempt("LSTM()", LSTM, units, return_sequences=return_sequences, dtype="float64")
    if ok:
        mask = np.ones(data.shape[:2], bool) if with_mask and data.ndim >= 2 else None
        with np.errstate(all="ignore"):
            ok, out = attempt("LSTM call", lstm, data, mask=mask)
            if ok:  # it worked: then it must agree with the composed reference on the same weights
                reference = LSTM(units, return_sequences=return_sequences, dtype="float64", fused=False)
                reference(data, mask=mask)
                reference.set_weights(lstm.get_weights())
                same(out.data, reference(data, mask=mask).data)
    ok, dense = attempt("Dense()", Dense, units, activation="tanh")
    if ok:
        with np.errstate(all="ignore"):
            ok, out = attempt("Dense call", dense, data)
            if ok:
                kernel, bias = dense.get_weights()
                same(out.data, np.tanh(data.astype(np.float32) @ kernel + bias))


@fuzz_settings
@given(any_arrays(max_dims=2), any_arrays(max_dims=2), st.sampled_from(["binary_crossentropy", "categorical_crossentropy",
                                                                        "sparse_categorical_crossentropy",
                                                                        "mean_squared_error", "mean_absolute_error"]),
       st.booleans())
def test_losses(y_true, y_pred, name, from_logits):
    kwargs = {} if name.startswith("mean_") else {"from_logits": from_logits}
    with np.errstate(all="ignore"):
        attempt(f"losses.{name}", getattr(losses, name), y_true, y_pred, **kwargs)


@fuzz_settings
@given(any_arrays(max_dims=3, max_side=5), any_arrays(max_dims=2, max_side=5), st.integers(-1, 4),
       st.sampled_from(["fit", "predict", "evaluate"]))
def test_sequential(x, y, batch_size, method):
    model = Sequential([Embedding(10, 3), LSTM(2), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    with np.errstate(all="ignore"):
        if method == "fit":
            attempt("Sequential.fit", model.fit, x, y, batch_size=batch_size, epochs=1, verbose=0)
        elif method == "predict":
            attempt("Sequential.predict", model.predict, x, batch_size=max(batch_size, 1))
        else:
            attempt("Sequential.evaluate", model.evaluate, x, y, verbose=0)


texts = st.lists(st.one_of(st.text(max_size=12), st.none(), st.integers(), st.binary(max_size=4)), max_size=4)


@fuzz_settings
@given(texts, st.one_of(st.none(), st.integers(-2, 6)), st.one_of(st.none(), st.text(max_size=3)))
def test_tokenizer(corpus, num_words, oov_token):
    ok, tokenizer = attempt("Tokenizer()", Tokenizer, num_words, oov_token=oov_token)
    if ok:
        attempt("Tokenizer.fit_on_texts", tokenizer.fit_on_texts, corpus)
        attempt("Tokenizer.texts_to_sequences", tokenizer.texts_to_sequences, corpus)


sequences = st.one_of(any_arrays(max_dims=2), st.lists(st.one_of(
    st.lists(st.one_of(st.integers(-5, 5), st.floats(allow_nan=True), st.text(max_size=1)), max_size=4),
    st.integers(), st.text(max_size=2)), max_size=4))


@fuzz_settings
@given(sequences, st.one_of(st.none(), st.integers(-2, 6)), st.sampled_from(["pre", "post", "x"]),
       st.sampled_from(["pre", "post", "y"]), st.sampled_from(["int32", "float32", "U2", "nonsense"]))
def test_pad_sequences(data, maxlen, padding, truncating, dtype):
    with np.errstate(all="ignore"):
        attempt("pad_sequences", pad_sequences, data, maxlen=maxlen, padding=padding, truncating=truncating, dtype=dtype,
                allowed=ALLOWED + (OverflowError,))  # a value the dtype cannot hold: Keras's OverflowError


def _valid_model_file(path):  # fixed names: the file's length must not depend on how many layers exist
    set_random_seed(0)
    model = Sequential([Embedding(6, 2, input_length=3, name="e"), LSTM(2, name="l"), Dense(1, name="d")], name="m")
    model.compile(optimizer="adam", loss="mse")
    model.build()
    model.save(path)
    return path.read_bytes()


@fuzz_settings
@given(st.data())
def test_damaged_files(tmp_path_factory, data):
    directory = tmp_path_factory.mktemp("files")
    original = _valid_model_file(directory / "model.npz")
    kind = data.draw(st.sampled_from(["truncate", "flip", "random"]))
    if kind == "truncate":
        damaged = original[:data.draw(st.integers(0, len(original) - 1))]
    elif kind == "flip":
        position = data.draw(st.integers(0, len(original) - 1))
        damaged = original[:position] + bytes([original[position] ^ data.draw(st.integers(1, 255))]) + original[position + 1:]
    else:
        damaged = data.draw(st.binary(max_size=300))
    path = directory / "damaged.npz"
    path.write_bytes(damaged)
    allowed = ValueError  # issue 29: a damaged file is a ValueError, whatever zipfile, numpy or tarfile raised
    ok, restored = attempt("load_model", load_model, path, allowed=allowed)
    model = Sequential([Embedding(6, 2, input_length=3), LSTM(2), Dense(1)])
    attempt("load_weights", model.load_weights, path, allowed=allowed)
    attempt("imdb.load_texts", imdb.load_texts, path, allowed=allowed)
    if ok:  # a flip that left the file loadable must have hit bytes that do not matter, or a weight value
        assert [w.shape for w in restored.get_weights()] == [w.shape for w in load_model(directory / "model.npz").get_weights()]


def test_a_crafted_architecture_declaring_billions_of_weights_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    _valid_model_file(path)
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    config = np.lib.format.read_array(io.BytesIO(members["config.npy"]))
    members["config.npy"] = _npy(np.array(str(config).replace('"input_dim": 6', '"input_dim": 1000000000')))
    with zipfile.ZipFile(path, "w") as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    with pytest.raises(ValueError, match=r"declares weights of shapes \[\(1000000000, 2\)"):
        load_model(path)


def _npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array)
    return buffer.getvalue()


def _valid_keras_files(directory):
    """A .keras archive and a .weights.h5 file (Keras's formats, tinygrad_embed.saving.keras_files)."""
    set_random_seed(0)
    model = Sequential([tg.layers.Input((3,), dtype="int32", name="i"), Embedding(6, 2, name="e"), LSTM(2, name="l"),
                        Dense(1, name="d")], name="m")  # fixed names: the files' lengths must not vary between runs
    model.compile(optimizer="adam", loss="mse")
    model.save(directory / "model.keras")
    model.save_weights(directory / "model.weights.h5")
    return (directory / "model.keras").read_bytes(), (directory / "model.weights.h5").read_bytes()


@fuzz_settings
@given(st.data())
def test_damaged_keras_files(tmp_path_factory, data):
    pytest.importorskip("h5py")  # the keras-files extra
    directory = tmp_path_factory.mktemp("keras_files")
    archive, weights = _valid_keras_files(directory)
    kind = data.draw(st.sampled_from(["truncate", "flip", "random", "truncate weights", "flip weights"]))
    if kind == "truncate weights":
        (directory / "damaged.weights.h5").write_bytes(weights[:data.draw(st.integers(0, len(weights) - 1))])
    elif kind == "flip weights":  # the bare HDF5 file has no checksum: the flip reaches h5py, whose errors are wrapped
        position = data.draw(st.integers(0, len(weights) - 1))
        flipped = bytes([weights[position] ^ data.draw(st.integers(1, 255))])
        (directory / "damaged.weights.h5").write_bytes(weights[:position] + flipped + weights[position + 1:])
    elif kind == "truncate":
        (directory / "damaged.keras").write_bytes(archive[:data.draw(st.integers(0, len(archive) - 1))])
    elif kind == "flip":  # inside the zip a flipped byte meets the CRC before HDF5 parses anything
        position = data.draw(st.integers(0, len(archive) - 1))
        flipped = bytes([archive[position] ^ data.draw(st.integers(1, 255))])
        (directory / "damaged.keras").write_bytes(archive[:position] + flipped + archive[position + 1:])
    else:
        (directory / "damaged.keras").write_bytes(data.draw(st.binary(max_size=300)))
    allowed = ValueError  # issue 29: never h5py's KeyError, RuntimeError or OSError
    if kind.endswith("weights"):
        model = Sequential([tg.layers.Input((3,), dtype="int32"), Embedding(6, 2), LSTM(2), Dense(1)])
        attempt("load_weights .weights.h5", model.load_weights, directory / "damaged.weights.h5", allowed=allowed)
        return
    ok, restored = attempt("load_model .keras", load_model, directory / "damaged.keras", allowed=allowed)
    if ok:  # a flip that left the file loadable hit bytes never read (metadata.json, its date)
        assert len(restored.get_weights()) == 6  # Embedding 1, LSTM 3, Dense 2
