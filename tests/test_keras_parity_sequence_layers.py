"""RepeatVector, TimeDistributed, Masking, Lambda and the merge layers against real Keras 3 (torch backend),
in float64 from the same inputs, masks and weights: outputs, output masks, gradients (ties included),
shapes with unknown sizes, configs and names; Masking feeding an LSTM; a two-input model of merges.
Skipped without Keras and torch, except under `make parity` (TINYGRAD_EMBED_PARITY=required)."""
import re
from types import SimpleNamespace

import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
torch = require("torch")

import tinygrad_embed as tg  # noqa: E402
from tinygrad_embed.layers import core, lambda_layer, masking, merge, time_distributed  # noqa: E402

# Until tinygrad_embed.layers exports the new layers: its names, and the new ones from their modules.
NEW = {"RepeatVector": core, "Lambda": lambda_layer, "Masking": masking, "TimeDistributed": time_distributed,
       **{name: merge for name in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
                                   "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate",
                                   "dot")}}
OURS = SimpleNamespace(**{**vars(tg.layers), **{name: getattr(module, name) for name, module in NEW.items()}})
# Keras's torch backend computes matmul (Dense, Dot) and maximum / minimum of float64 operands in float32 (the
# first test pins this): its float64 results carry float32 rounding, which ours (exact float64) cannot.
FLOAT32_ROUNDING = dict(rtol=2 ** -24)  # one rounding to float32, for maximum and minimum
KERAS_FLOAT64 = dict(rtol=1e-5, atol=1e-6)  # sums of float32 products, as tests/test_keras_parity_recurrent.py
EXACT = dict(rtol=0, atol=0)

RNG = np.random.default_rng(0)
A, B, C = (RNG.standard_normal((3, 4, 2)) for _ in range(3))
B[0, 0, 0] = C[0, 0, 0] = A[0, 0, 0]  # ties, for the gradients of Maximum and Minimum
MASKS = [np.array(m, bool) for m in ([[1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]], [[1, 0, 1, 0], [1, 1, 1, 0], [0, 1, 0, 1]],
                                     [[0, 1, 1, 1], [1, 1, 1, 1], [0, 0, 1, 1]])]


def both(make):
    """The same layer built by the same code in Keras and here."""
    return make(keras.layers), make(OURS)


def numpy(value):
    return value.data if isinstance(value, tg.Tensor) else keras.ops.convert_to_numpy(value)


def test_kerass_torch_backend_takes_maximum_and_matmul_of_float64_in_float32():
    a, b = (keras.ops.convert_to_tensor(x) for x in (A, B))
    for result in (keras.ops.maximum(a, b), keras.ops.matmul(a, keras.ops.transpose(b, (0, 2, 1)))):
        assert keras.backend.standardize_dtype(result.dtype) == "float32"  # if this fails, tighten the tolerances


def run_with_masks(layer, arrays, masks, upstream):
    """The merge's output, its mask and the gradient of sum(output * upstream) for each input."""
    if isinstance(layer, tg.layers.Layer):
        inputs = [tg.Tensor(a, requires_grad=True) for a in arrays]
        fresh = [x * 1.0 for x in inputs]  # a tensor of the graph, to carry a mask
        for x, mask in zip(fresh, masks):
            if mask is not None:
                x._keras_mask = mask
        out = layer(fresh)
        out.backward(upstream)
        return out.data, getattr(out, "_keras_mask", None), [x.grad for x in inputs]
    inputs = [torch.tensor(a, requires_grad=True) for a in arrays]
    fresh = [x * 1.0 for x in inputs]
    for x, mask in zip(fresh, masks):
        if mask is not None:
            x._keras_mask = torch.tensor(mask)
    out = layer(fresh)
    (out * torch.tensor(upstream, dtype=out.dtype)).sum().backward()
    mask = getattr(out, "_keras_mask", None)
    return out.detach().numpy(), None if mask is None else mask.numpy(), [x.grad.numpy() for x in inputs]


MERGES = {"Add": 3, "Subtract": 2, "Multiply": 3, "Average": 3, "Maximum": 3, "Minimum": 3, "Concatenate": 3,
          "Concatenate_time": 3, "Dot": 2, "Dot_normalize": 2}


def make_merge(kind):
    name = kind.split("_")[0]
    arguments = {"Concatenate_time": {"axis": 1}, "Dot": {"axes": 2},
                 "Dot_normalize": {"axes": (1, 1), "normalize": True}}
    return lambda api: getattr(api, name)(dtype="float64", **arguments.get(kind, {}))


@pytest.mark.parametrize("kind", sorted(MERGES))
@pytest.mark.parametrize("masked", ["all", "some", "none"])
def test_merges_give_keras_outputs_masks_and_gradients(kind, masked):
    count = MERGES[kind]
    arrays = [A, B, C][:count]
    masks = {"all": MASKS, "some": [MASKS[0], None, MASKS[2]], "none": [None] * 3}[masked][:count]
    theirs, ours = both(make_merge(kind))
    shape = theirs.compute_output_shape([a.shape for a in arrays])
    upstream = np.random.default_rng(1).standard_normal(shape)
    (their_out, their_mask, their_grads), (out, mask, grads) = (run_with_masks(layer, arrays, masks, upstream)
                                                                for layer in (theirs, ours))
    tolerance = FLOAT32_ROUNDING if kind in ("Maximum", "Minimum") else KERAS_FLOAT64 if "Dot" in kind else EXACT
    np.testing.assert_allclose(out, their_out, **tolerance)
    assert (mask is None) == (their_mask is None)
    if mask is not None:
        np.testing.assert_array_equal(mask, their_mask)
    for grad, their_grad in zip(grads, their_grads):  # ties split as in torch (a TensorFlow-like rule fails here)
        np.testing.assert_allclose(grad, their_grad, **tolerance)


@pytest.mark.parametrize("kind, shapes", [
    ("Add", [(None, 4, 3), (None, 4, 3)]), ("Add", [(None, 1, 3), (5, 4, 1)]), ("Maximum", [(None, None, 3)] * 2),
    ("Concatenate", [(None, 4, 3), (None, 4, None)]), ("Concatenate_time", [(None, 4, 3), (None, None, 3)]),
    ("Concatenate_time", [(None, 4, 3), (None, 2, 3)]), ("Dot", [(None, 4, 3), (None, 5, 3)]),
    ("Dot_normalize", [(None, 4, 3), (None, 4, 2)]), ("Dot_normalize", [(None, 4), (None, 4)])])
def test_merge_output_shapes_with_unknown_sizes_are_keras_shapes(kind, shapes):
    theirs, ours = both(make_merge(kind))
    assert ours.compute_output_shape(shapes) == tuple(theirs.compute_output_shape(shapes))


def test_dot_of_vectors_and_of_mixed_ranks_gives_keras_outputs():
    x, y, z = RNG.standard_normal((3, 5)), RNG.standard_normal((3, 5)), RNG.standard_normal((3, 5, 4))
    for axes, pair in [(1, (x, y)), (-1, (x, y)), ((1, 1), (x, z)), ((2, 1), (z.transpose(0, 2, 1), y))]:
        theirs, ours = both(lambda api: api.Dot(axes, dtype="float64"))
        np.testing.assert_allclose(numpy(ours(list(pair))), numpy(theirs(list(pair))), **KERAS_FLOAT64)


def test_functional_forms_make_the_same_two_input_model_as_keras():
    def graph(api):  # the same code for both: only the module differs
        left, right = api.Input((4,)), api.Input((4,))
        layers = api.layers if api is keras else OURS
        a, b = layers.Dense(3)(left), layers.Dense(3)(right)
        merged = layers.concatenate([layers.add([a, b]), layers.subtract([a, b]), layers.multiply([a, b]),
                                     layers.average([a, b]), layers.maximum([a, b]), layers.minimum([a, b]),
                                     layers.dot([a, b], axes=1)])
        return api.Model([left, right], layers.Dense(2)(merged))
    theirs, ours = graph(keras), graph(tg)
    ours.set_weights(theirs.get_weights())
    x = [RNG.standard_normal((5, 4)).astype(np.float32) for _ in range(2)]
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


# ---- RepeatVector, TimeDistributed, Masking, Lambda -----------------------------------------------
def test_repeat_vector_gives_keras_outputs_and_shapes():
    theirs, ours = both(lambda api: api.RepeatVector(3, dtype="float64"))
    np.testing.assert_array_equal(numpy(ours(A[:, 0])), numpy(theirs(A[:, 0])))
    assert ours.compute_output_shape((None, 2)) == tuple(theirs.compute_output_shape((None, 2)))


def test_time_distributed_dense_gives_keras_outputs_from_keras_weights_and_keeps_the_mask():
    theirs, ours = both(lambda api: api.TimeDistributed(api.Dense(5, bias_initializer="random_uniform",
                                                                   dtype="float64"), dtype="float64"))
    expected = numpy(theirs(A))
    ours(A)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(numpy(ours(A)), expected, **KERAS_FLOAT64)
    their_input, our_input = torch.tensor(A), tg.Tensor(A)
    their_input._keras_mask, our_input._keras_mask = torch.tensor(MASKS[0]), MASKS[0]
    np.testing.assert_array_equal(ours(our_input)._keras_mask, theirs(their_input)._keras_mask.numpy())
    assert ours.compute_output_shape((None, None, 2)) == tuple(theirs.compute_output_shape((None, None, 2)))


def test_time_distributed_conv1d_on_frames_gives_keras_outputs():
    frames = RNG.standard_normal((2, 3, 6, 2))  # (batch, time, steps of a frame, channels)
    theirs, ours = both(lambda api: api.TimeDistributed(api.Conv1D(4, 3, dtype="float64"), dtype="float64"))
    expected = numpy(theirs(frames))
    ours(frames)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(numpy(ours(frames)), expected, **KERAS_FLOAT64)


def test_time_distributed_batch_normalization_while_training_gives_keras_outputs():
    x = A + np.arange(4)[:, None]  # steps of different means
    theirs, ours = both(lambda api: api.TimeDistributed(api.BatchNormalization(dtype="float64"), dtype="float64"))
    np.testing.assert_allclose(numpy(ours(x, training=True)), numpy(theirs(x, training=True)), **KERAS_FLOAT64)


@pytest.mark.parametrize("mask_value", [0.0, -1.0])
def test_masking_gives_keras_outputs_and_masks(mask_value):
    x = np.where(np.broadcast_to(~MASKS[1][..., None], A.shape), mask_value, A)
    x[2, 0, 0] = mask_value  # one feature at the value: the step stays real
    theirs, ours = both(lambda api: api.Masking(mask_value, dtype="float64"))
    their_out, out = theirs(x), ours(x)
    np.testing.assert_array_equal(numpy(out), numpy(their_out))
    np.testing.assert_array_equal(out._keras_mask, their_out._keras_mask.numpy())


@pytest.mark.parametrize("return_sequences", [False, True])
def test_masking_feeding_an_lstm_gives_keras_outputs(return_sequences):
    x = np.where(np.broadcast_to(~MASKS[2][..., None], A.shape), 0.0, A)

    def model(api):
        layers = api.layers if api is keras else OURS
        return api.Sequential([api.Input((4, 2), dtype="float64"), layers.Masking(dtype="float64"),
                               layers.LSTM(5, return_sequences=return_sequences, bias_initializer="random_uniform",
                                           dtype="float64")])
    theirs, ours = model(keras), model(tg)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), **KERAS_FLOAT64)


def test_lambda_gives_keras_outputs_and_both_refuse_to_load_its_code():
    theirs, ours = both(lambda api: api.Lambda(lambda x: x * 2.0 + 1.0, dtype="float64"))
    np.testing.assert_array_equal(numpy(ours(A)), numpy(theirs(A)))
    sliced = both(lambda api: api.Lambda(lambda x: x[:, :2], output_shape=(2, 2)))
    assert sliced[1].compute_output_shape((None, 4, 2)) == tuple(sliced[0].compute_output_shape((None, 4, 2)))
    with pytest.raises(ValueError):
        type(theirs).from_config(theirs.get_config())
    with pytest.raises(ValueError, match="never runs code"):
        type(ours).from_config(ours.get_config())


CONFIGS = [lambda api: api.RepeatVector(4), lambda api: api.Masking(-1.0), lambda api: api.Concatenate(axis=1),
           lambda api: api.Dot((1, 2), normalize=True), lambda api: api.Add(), lambda api: api.Maximum(),
           lambda api: api.TimeDistributed(api.Dense(3))]


@pytest.mark.parametrize("make", CONFIGS)
def test_configs_hold_keras_keys_and_values_and_names_are_keras_names(make):
    theirs, ours = both(make)
    their_config, our_config = theirs.get_config(), ours.get_config()
    assert set(our_config) == set(their_config)
    for key in set(their_config) - {"name", "dtype", "layer"}:
        assert our_config[key] == their_config[key]
    if "layer" in their_config:
        assert our_config["layer"]["class_name"] == their_config["layer"]["class_name"]
        assert our_config["layer"]["config"]["units"] == their_config["layer"]["config"]["units"]
    assert re.sub(r"_\d+$", "", ours.name) == re.sub(r"_\d+$", "", theirs.name)
