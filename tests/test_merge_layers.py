"""The merge layers (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot) and their
functional forms: values against numpy, shapes with unknown sizes, Keras's mask rules worked out by hand,
gradients against finite differences, the tie gradient of Maximum and Minimum, clear errors, configs and
models that hold them."""
import functools
import json
import warnings

import numpy as np
import pytest

import tinygrad_embed as tg
from tinygrad_embed.layers import Dense, Embedding, Input
from tinygrad_embed.layers.merge import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add,
                                         average, concatenate, dot, maximum, minimum, multiply, subtract)
from tinygrad_embed.models import Model, load_model
from tinygrad_embed.tensor import Tensor

RNG = np.random.default_rng(0)
A, B, C = (RNG.standard_normal((2, 4, 3)) for _ in range(3))
ELEMENTWISE = {  # layer class -> the numpy reference of its merge
    Add: lambda xs: functools.reduce(np.add, xs), Subtract: lambda xs: xs[0] - xs[1],
    Multiply: lambda xs: functools.reduce(np.multiply, xs), Average: lambda xs: functools.reduce(np.add, xs) / len(xs),
    Maximum: lambda xs: functools.reduce(np.maximum, xs), Minimum: lambda xs: functools.reduce(np.minimum, xs)}
FUNCTIONAL = {Add: add, Subtract: subtract, Multiply: multiply, Average: average, Maximum: maximum, Minimum: minimum}


def masked(array, mask):
    tensor = Tensor(array)
    tensor._keras_mask = np.asarray(mask, bool)
    return tensor


@pytest.mark.parametrize("cls, count", [(cls, n) for cls in ELEMENTWISE for n in (2, 3)
                                        if cls is not Subtract or n == 2])
def test_elementwise_merges_compute_their_numpy_reference(cls, count):
    inputs = [A, B, C][:count]
    out = cls(dtype="float64")(inputs)
    np.testing.assert_allclose(out.data, ELEMENTWISE[cls](inputs), rtol=1e-15)
    np.testing.assert_array_equal(FUNCTIONAL[cls](inputs, dtype="float64").data, out.data)


@pytest.mark.parametrize("cls", ELEMENTWISE)
def test_lower_rank_inputs_gain_axes_after_the_batch_and_sizes_of_one_broadcast(cls):
    row, column = A[:, 0], B[:, :, :1]  # (2, 3): a new axis 1; (2, 4, 1): broadcast over the features
    np.testing.assert_allclose(cls(dtype="float64")([row, column]).data, ELEMENTWISE[cls]([row[:, None], column]),
                               rtol=1e-15)
    assert cls().compute_output_shape([(None, 3), (None, 4, 1)]) == (None, 4, 3)
    assert cls().compute_output_shape([(None, None, 3), (5, 1, 3)]) == (5, None, 3)


@pytest.mark.parametrize("make, shapes, message", [
    (Add, [(2, 3), (3, 3)], "different batch sizes"),
    (Add, [(2, 3), (2, 4)], "broadcast together"),
    (Subtract, [(2, 3)] * 3, "merges 2 inputs, got 3"),
    (lambda: Dot(1), [(2, 3)], "merges 2 inputs, got 1"),
    (lambda: Dot(1), [(2, 3), (2, 4)], "axis 1 of the first input has size 3, axis 1 of the second 4"),
    (lambda: Dot(0), [(2, 3), (2, 3)], "non-batch axis"),
    (lambda: Dot((1, 3)), [(2, 3), (2, 3, 4)], "non-batch axis"),
    (lambda: Concatenate(), [(2, 3), (2, 3, 1)], "one rank"),
    (lambda: Concatenate(axis=1), [(2, 3, 4), (2, 5, 3)], "agree on every other axis"),
    (lambda: Concatenate(axis=3), [(2, 3, 4), (2, 3, 4)], "one rank that have that axis")])
def test_inputs_that_do_not_fit_are_refused_naming_their_shapes(make, shapes, message):
    arrays = [np.ones(s) for s in shapes]
    with pytest.raises(ValueError, match=message):
        make()(arrays)
    with pytest.raises(ValueError, match=message):
        make()([Input(batch_shape=s) for s in shapes])


def test_a_single_input_is_refused():
    with pytest.raises(ValueError, match=r"merges a list of inputs, got one input of shape \(2, 4, 3\)"):
        Add()(A)
    with pytest.raises(ValueError, match="a list of inputs"):
        Concatenate()(Input((3,)))


@pytest.mark.parametrize("axis", [-1, 1, 2])
def test_concatenate_joins_along_its_axis(axis):
    other = RNG.standard_normal((2, 4, 3))
    expected = np.concatenate([A, other], axis).astype(np.float32)  # the layer computes in float32
    np.testing.assert_array_equal(Concatenate(axis)([A, other]).data, expected)
    np.testing.assert_array_equal(concatenate([A, other], axis=axis).data, Concatenate(axis)([A, other]).data)
    expected = [None, 8 if axis == 1 else 4, 6 if axis in (2, -1) else 3]
    assert Concatenate(axis).compute_output_shape([(None, 4, 3), (None, 4, 3)]) == tuple(expected)
    unknown = [None, 4, 3]
    unknown[axis] = None
    assert Concatenate(axis).compute_output_shape([tuple(unknown), (None, 4, 3)])[axis] is None


@pytest.mark.parametrize("shapes, axes, subscripts", [
    ([(2, 3), (2, 3)], 1, "bi,bi->b"), ([(2, 3), (2, 3)], -1, "bi,bi->b"),
    ([(2, 4, 3), (2, 5, 3)], 2, "bti,bsi->bts"), ([(2, 4, 3), (2, 4, 5)], (1, 1), "bti,btj->bij"),
    ([(2, 4, 3), (2, 3)], (2, 1), "bti,bi->bt"), ([(2, 3), (2, 3, 5)], (1, 1), "bi,bij->bj"),
    ([(2, 4, 3, 2), (2, 3, 5)], (2, 1), "btic,bij->btcj")])
def test_dot_is_a_per_sample_dot_product(shapes, axes, subscripts):
    x, y = (RNG.standard_normal(s) for s in shapes)
    expected = np.einsum(subscripts, x, y)
    expected = expected[:, None] if expected.ndim == 1 else expected  # Keras's (batch, 1) for two vectors
    out = Dot(axes, dtype="float64")([x, y])
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    assert Dot(axes).compute_output_shape([(None,) + s[1:] for s in shapes]) == (None,) + expected.shape[1:]
    np.testing.assert_array_equal(dot([x, y], axes=axes, dtype="float64").data, out.data)


def test_dot_with_normalize_gives_the_cosine():
    x, y = RNG.standard_normal((2, 5)), RNG.standard_normal((2, 5))
    cosine = (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
    np.testing.assert_allclose(Dot(1, normalize=True, dtype="float64")([x, y]).data[:, 0], cosine, rtol=1e-12)


def test_dot_refuses_bad_axes():
    for axes in ["1", (1,), (1, 2, 3), (1.0, 2), True]:
        with pytest.raises(ValueError, match="integer or a pair of integers"):
            Dot(axes)


# ---- masks, with Keras's rules: a is masked at some steps, b at others ----------------------------
MASK_A = np.array([[1, 1, 0, 0], [1, 0, 1, 0]], bool)
MASK_B = np.array([[1, 0, 1, 0], [1, 1, 1, 0]], bool)


@pytest.mark.parametrize("cls", ELEMENTWISE)
def test_elementwise_masks_are_ored_when_every_input_has_one(cls):
    out = cls(dtype="float64")([masked(A, MASK_A), masked(B, MASK_B)])
    np.testing.assert_array_equal(out._keras_mask, MASK_A | MASK_B)
    assert not hasattr(cls(dtype="float64")([masked(A, MASK_A), B]), "_keras_mask")  # one without: none
    assert cls().compute_mask([A, B], [MASK_A, None]) is None and cls().compute_mask([A, B], None) is None


def test_add_subtract_and_average_ignore_the_masks_in_their_values():
    for cls in (Add, Subtract, Average):
        np.testing.assert_array_equal(cls(dtype="float64")([masked(A, MASK_A), masked(B, MASK_B)]).data,
                                      cls(dtype="float64")([A, B]).data)


def test_multiply_counts_masked_entries_as_one_and_zeroes_where_all_are_masked():
    out = Multiply(dtype="float64")([masked(A, MASK_A), masked(B, MASK_B)]).data
    a_in, b_in = MASK_A[..., None], MASK_B[..., None]
    expected = np.where(a_in & b_in, A * B, np.where(a_in, A, np.where(b_in, B, 0.0)))
    np.testing.assert_array_equal(out, expected)
    only_a = Multiply(dtype="float64")([masked(A, MASK_A), B]).data  # b has no mask: nothing zeroed
    np.testing.assert_array_equal(only_a, np.where(a_in, A, 1.0) * B)


@pytest.mark.parametrize("cls, pick", [(Maximum, np.maximum), (Minimum, np.minimum)])
def test_maximum_and_minimum_let_only_unmasked_entries_compete(cls, pick):
    out = cls(dtype="float64")([masked(A, MASK_A), masked(B, MASK_B)]).data
    a_in, b_in = MASK_A[..., None], MASK_B[..., None]
    # both real: the extreme; one real: that one; neither: b takes a's value first, so a's value (Keras's order)
    expected = np.where(a_in & b_in, pick(A, B), np.where(b_in & ~a_in, B, A))
    np.testing.assert_array_equal(out, expected)


def test_concatenate_joins_the_masks_and_counts_a_missing_one_as_all_true():
    out = Concatenate(dtype="float64")([masked(A, MASK_A), masked(B, MASK_B)])
    np.testing.assert_array_equal(out._keras_mask, MASK_A | MASK_B)  # along the features: the OR
    np.testing.assert_array_equal(Concatenate(dtype="float64")([masked(A, MASK_A), B])._keras_mask, np.ones((2, 4)))
    over_time = Concatenate(axis=1, dtype="float64")([masked(A, MASK_A), B])
    np.testing.assert_array_equal(over_time._keras_mask, np.concatenate([MASK_A, np.ones((2, 4), bool)], axis=1))
    assert not hasattr(Concatenate(dtype="float64")([A, B]), "_keras_mask")


def test_dot_hands_on_no_mask_silently():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Dot supports masking: it drops the masks without a warning
        out = Dot(2, dtype="float64")([masked(A, MASK_A), masked(B, MASK_B)])
    assert not hasattr(out, "_keras_mask")


def test_masks_from_embeddings_flow_through_a_merge_in_a_model():
    ids_a, ids_b = Input((4,), dtype="int32"), Input((4,), dtype="int32")
    embed_a, embed_b, lstm = Embedding(10, 3, mask_zero=True), Embedding(10, 3, mask_zero=True), tg.layers.LSTM(2)
    model = Model([ids_a, ids_b], lstm(add([embed_a(ids_a), embed_b(ids_b)])))
    a, b = np.array([[1, 2, 0, 0]]), np.array([[3, 0, 0, 0]])
    # steps 3 and 4 are masked in both inputs, so the LSTM stops after step 2: the same as two steps unmasked
    two_steps = lstm(embed_a.embeddings[a[:, :2]] + embed_b.embeddings[b[:, :2]])
    np.testing.assert_allclose(model.predict([a, b]), two_steps.data, rtol=1e-6)


# ---- gradients ------------------------------------------------------------------------------------
def distinct(shape, seed):
    """Values at least 0.1 apart, so that a finite difference never crosses a tie of max or min."""
    values = np.random.default_rng(seed).permutation(np.prod(shape)) * 0.1 - 1.0
    return Tensor(values.reshape(shape), requires_grad=True)


@pytest.mark.parametrize("make", [Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate,
                                  lambda **kw: Concatenate(axis=1, **kw), lambda **kw: Dot((2, 2), **kw),
                                  lambda **kw: Dot((1, 1), normalize=True, **kw)])
@pytest.mark.parametrize("with_masks", [False, True])
def test_gradients_match_finite_differences(make, with_masks):
    x, y = distinct((2, 4, 3), 1), distinct((2, 4, 3), 2)
    layer = make(dtype="float64")

    def merged(x, y):
        if with_masks:
            x, y = x * 1.0, y * 1.0  # fresh tensors each time, to carry the masks
            x._keras_mask, y._keras_mask = MASK_A, MASK_B
        return layer([x, y])
    assert tg.gradcheck(merged, [x, y])


@pytest.mark.parametrize("cls", [Maximum, Minimum])
def test_a_tie_splits_the_gradient_evenly_as_keras_torch_backend_does(cls):
    # max(a, b) at a == b: each side gets g / 2 (torch's and JAX's rule; TensorFlow gives a all of it).
    # Three inputs merge from the left: max(max(a, b), c), so a three-way tie gives a and b g / 4, c g / 2.
    a, b, c = (Tensor(np.array([[1.0, 2.0, 5.0]]), requires_grad=True) for _ in range(3))
    b.data[0, 1] = 3.0 if cls is Maximum else 1.0  # element 1: b wins outright
    cls(dtype="float64")([a, b, c]).backward(np.array([[4.0, 4.0, 4.0]]))
    np.testing.assert_array_equal(a.grad, [[1.0, 0.0, 1.0]])
    np.testing.assert_array_equal(b.grad, [[1.0, 4.0, 1.0]])
    np.testing.assert_array_equal(c.grad, [[2.0, 0.0, 2.0]])


# ---- configs and models ---------------------------------------------------------------------------
@pytest.mark.parametrize("make", [Add, Subtract, Multiply, Average, Maximum, Minimum, lambda: Concatenate(axis=1),
                                  lambda: Dot((1, 2), normalize=True)])
def test_config_round_trips_through_json(make):
    layer = make()
    config = json.loads(json.dumps(layer.get_config()))
    twin = type(layer).from_config(config)
    assert twin.get_config() == config and twin.name == layer.name


def test_a_two_input_model_of_merges_trains_saves_and_loads(tmp_path):
    tg.utils.set_random_seed(0)
    left, right = Input((4,), name="left"), Input((4,), name="right")
    a, b = Dense(3)(left), Dense(3)(right)
    features = concatenate([add([a, b]), multiply([a, b]), maximum([a, b]), minimum([a, b]), subtract([a, b]),
                            average([a, b]), dot([a, b], axes=1)])
    model = Model([left, right], Dense(1)(features))
    assert model.layers[-2].compute_output_shape([(None, 3)] * 6 + [(None, 1)]) == (None, 19)
    model.compile(optimizer=tg.optimizers.Adam(learning_rate=0.02), loss="mse")
    x = [RNG.standard_normal((32, 4)).astype(np.float32) for _ in range(2)]
    y = (x[0][:, :1] - x[1][:, 1:2]).astype(np.float32)
    history = model.fit(x, y, epochs=20, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] / 2
    model.save(tmp_path / "merged.npz")
    np.testing.assert_allclose(load_model(tmp_path / "merged.npz").predict(x), model.predict(x), rtol=1e-6)
