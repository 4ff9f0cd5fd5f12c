"""RepeatVector, TimeDistributed, Masking and Lambda: values, shapes, masks, gradients against finite
differences, clear errors, configs, and the encoder-decoder they make with the LSTM."""
import json
import re
import warnings

import numpy as np
import pytest

import tinygrad_embed as tg
from tinygrad_embed.layers import LSTM, Conv1D, Dense, Embedding, Flatten, Input, Layer
from tinygrad_embed.layers.core import RepeatVector
from tinygrad_embed.layers.lambda_layer import Lambda
from tinygrad_embed.layers.masking import Masking
from tinygrad_embed.layers.time_distributed import TimeDistributed
from tinygrad_embed.models import Sequential, load_model
from tinygrad_embed.tensor import Tensor

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 5, 4))


def ops_in_graph(output):
    """The class names of the ops behind a tensor, each op once."""
    seen, stack, names = set(), [output], []
    while stack:
        tensor = stack.pop()
        if tensor._ctx is not None and id(tensor._ctx) not in seen:
            seen.add(id(tensor._ctx))
            names.append(type(tensor._ctx).__name__)
            stack.extend(tensor._ctx.parents)
    return names


# ---- RepeatVector ---------------------------------------------------------------------------------
def test_repeat_vector_copies_each_row_along_a_new_time_axis():
    x = RNG.standard_normal((2, 3))
    out = RepeatVector(4, dtype="float64")(x)
    np.testing.assert_array_equal(out.data, np.repeat(x[:, None, :], 4, axis=1))
    assert RepeatVector(4).compute_output_shape((None, 3)) == (None, 4, 3)
    assert RepeatVector(4)(Input((3,))).shape == (None, 4, 3)


def test_repeat_vector_gradient_sums_over_the_copies():
    x = Tensor(RNG.standard_normal((2, 3)), requires_grad=True)
    assert tg.gradcheck(RepeatVector(4, dtype="float64"), [x])
    x.zero_grad()
    RepeatVector(4, dtype="float64")(x).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 4.0))  # each element feeds 4 outputs


@pytest.mark.parametrize("n, error", [(0, ValueError), (-2, ValueError), (2.0, TypeError), (True, TypeError)])
def test_repeat_vector_refuses_a_bad_n(n, error):
    with pytest.raises(error, match=f"RepeatVector's n must be .*{n!r}"):
        RepeatVector(n)


def test_repeat_vector_needs_two_axes():
    with pytest.raises(ValueError, match=r"\(batch, features\), got shape \(3, 5, 4\)"):
        RepeatVector(2)(X)
    with pytest.raises(ValueError, match=r"got shape \(None, 5, 4\)"):
        RepeatVector(2)(Input((5, 4)))


# ---- TimeDistributed ------------------------------------------------------------------------------
def test_time_distributed_dense_is_one_product_over_batch_and_time():
    dense = Dense(6, dtype="float64")
    wrapper = TimeDistributed(dense)
    out = wrapper(X)
    kernel, bias = dense.get_weights()
    np.testing.assert_allclose(out.data, X @ kernel + bias, rtol=1e-13)
    x = Tensor(X, requires_grad=True)
    assert ops_in_graph(wrapper(x)).count("MatMul") == 1  # not one product per step
    assert wrapper.weights == dense.weights and wrapper.compute_output_shape((None, 5, 4)) == (None, 5, 6)


def test_time_distributed_casts_inputs_as_its_layer_does():
    ids = np.array([[[1, 2], [3, 0]]])
    assert TimeDistributed(Dense(2)).float_inputs and TimeDistributed(Dense(2))(ids).dtype == np.float32
    embedded = TimeDistributed(Embedding(4, 3))(ids)  # the ids stay integers: a lookup per id
    assert embedded.shape == (1, 2, 2, 3)


def test_time_distributed_applies_any_built_in_layer_to_each_step():
    conv = Conv1D(2, 3, dtype="float64")
    frames = RNG.standard_normal((2, 4, 6, 3))  # (batch, time, steps of a frame, channels)
    out = TimeDistributed(conv)(frames)
    for t in range(4):
        np.testing.assert_allclose(out.data[:, t], conv(frames[:, t]).data, rtol=1e-13)
    assert TimeDistributed(Flatten())(Input((4, 6, 3))).shape == (None, 4, 18)


class BatchCentred(Layer):
    """A user's layer that mixes the samples of a batch: x minus the batch mean."""

    def call(self, inputs):
        return inputs - inputs.mean(axis=0, keepdims=True)


def test_a_user_layer_is_called_on_each_step_in_turn():
    out = TimeDistributed(BatchCentred(dtype="float64"))(X)
    np.testing.assert_allclose(out.data, X - X.mean(axis=0, keepdims=True), rtol=1e-13)  # per step, not per batch*time


def test_batch_normalization_gets_the_statistics_of_each_step_not_of_batch_times_time():
    out = TimeDistributed(tg.layers.BatchNormalization(dtype="float64"))(X + np.arange(5)[:, None], training=True)
    # each step normalised over its own batch: mean 0 per step and feature (folded, the steps' means would differ)
    np.testing.assert_allclose(out.data.mean(axis=0), np.zeros((5, 4)), atol=1e-12)


class MaskReader(Layer):
    """A user's layer that shows the mask it receives: x * mask."""

    def call(self, inputs, mask=None):
        return inputs * mask[:, None].astype(inputs.dtype)


def test_the_mask_goes_to_the_wrapped_layer_step_by_step_and_on_unchanged():
    ids = np.array([[1, 2, 0], [3, 0, 0]])
    embedded = Embedding(5, 2, mask_zero=True, dtype="float64")(ids)
    out = TimeDistributed(MaskReader(dtype="float64"))(embedded)
    np.testing.assert_array_equal(out.data, embedded.data * (ids != 0)[..., None])
    np.testing.assert_array_equal(out._keras_mask, ids != 0)
    np.testing.assert_array_equal(TimeDistributed(Dense(3))(embedded)._keras_mask, ids != 0)
    with pytest.raises(ValueError, match=r"mask of shape \(3, 2\) for input of shape \(3, 5, 4\)"):
        TimeDistributed(Dense(3))(X, mask=np.ones((3, 2), bool))


def test_time_distributed_gradients_match_finite_differences():
    wrapper = TimeDistributed(Dense(3, bias_initializer="uniform", dtype="float64"))
    x = Tensor(RNG.standard_normal((2, 3, 4)), requires_grad=True)
    wrapper(x)
    assert tg.gradcheck(lambda x, kernel, bias: wrapper(x), [x, *wrapper.trainable_weights])
    user = TimeDistributed(BatchCentred(dtype="float64"))
    assert tg.gradcheck(user, [Tensor(RNG.standard_normal((3, 2, 2)), requires_grad=True)])


@pytest.mark.parametrize("make, message", [(lambda: TimeDistributed("dense"), "wraps a Layer instance"),
                                           (lambda: TimeDistributed(Dense(2))(np.ones((3, 4))), "at least 3 axes")])
def test_time_distributed_refuses_what_it_cannot_wrap(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_time_distributed_config_nests_the_layer_and_a_model_of_it_saves(tmp_path):
    wrapper = TimeDistributed(Dense(2, activation="softmax"), name="per_step")
    config = json.loads(json.dumps(wrapper.get_config()))
    assert config["layer"]["class_name"] == "Dense" and config["layer"]["config"]["units"] == 2
    twin = TimeDistributed.from_config(config)
    assert twin.name == "per_step" and twin.layer.units == 2 and twin.get_config() == config
    model = Sequential([Input((5, 4)), wrapper])
    model.save(tmp_path / "td.npz")
    np.testing.assert_allclose(load_model(tmp_path / "td.npz").predict(X), model.predict(X), rtol=1e-6)


# ---- Masking --------------------------------------------------------------------------------------
def padded():
    x = RNG.standard_normal((3, 5, 4))
    x[0, 3:] = 0.0  # padding at the end
    x[1, 0] = 0.0  # and a gap at the start
    x[2, 2, :2] = 0.0  # a step with only some features 0: real
    return x, np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 1], [1, 1, 1, 1, 1]], bool)


def test_masking_masks_steps_whose_features_all_equal_the_value():
    x, mask = padded()
    out = Masking(dtype="float64")(x)
    np.testing.assert_array_equal(out._keras_mask, mask)
    np.testing.assert_array_equal(out.data, x)  # masked steps hold zeros already
    minus_ones = np.where(x == 0, -1.0, x)
    shifted = Masking(mask_value=-1.0, dtype="float64")(minus_ones)
    np.testing.assert_array_equal(shifted._keras_mask, mask)
    np.testing.assert_array_equal(shifted.data, np.where(mask[..., None], minus_ones, 0.0))  # Keras zeroes them
    assert Masking().compute_output_shape((None, 5, 4)) == (None, 5, 4)


def test_masking_gradient_is_one_at_real_steps_and_zero_at_masked_ones():
    x, mask = padded()
    x = Tensor(np.where(x == 0, 2.0, x), requires_grad=True)
    layer = Masking(mask_value=2.0, dtype="float64")
    # A finite difference at a masked step would unmask it (the output jumps there), so the check perturbs
    # the real steps of the last sample only, the first two samples held constant.
    real = Tensor(x.data[2:], requires_grad=True)
    assert tg.gradcheck(lambda real: layer(tg.concatenate([Tensor(x.data[:2]), real])), [real])
    layer(x).sum().backward()
    np.testing.assert_array_equal(x.grad, np.broadcast_to(mask[..., None], x.shape).astype(float))


def test_an_lstm_after_masking_skips_the_masked_steps():
    x, mask = padded()
    lstm = LSTM(3, return_sequences=True, dtype="float64")
    np.testing.assert_array_equal(lstm(Masking(dtype="float64")(x)).data, lstm(x, mask=mask).data)
    model = Sequential([Input((5, 4)), Masking(), LSTM(3)])
    final = model.predict(x[:1])
    np.testing.assert_allclose(final, model.layers[1](x[:1, :3].astype(np.float32)).data, rtol=1e-6)


def test_masking_refuses_a_value_that_is_no_number():
    for value in ("0", None, [0.0], True):
        with pytest.raises(TypeError, match=re.escape(f"mask_value must be a number, got {value!r}")):
            Masking(value)
    with pytest.raises(ValueError, match=r"\(batch, \.\.\., features\), got shape \(3,\)"):
        Masking()(np.ones(3))


# ---- Lambda ---------------------------------------------------------------------------------------
def test_lambda_applies_its_function_with_its_arguments():
    layer = Lambda(lambda x, scale, shift=0.0: x * scale + shift, arguments={"scale": 2.0, "shift": 1.0},
                   dtype="float64")
    np.testing.assert_array_equal(layer(X).data, 2 * X + 1)
    assert layer(Input((5, 4))).shape == (None, 5, 4)  # found by running the function


def test_lambda_passes_mask_and_training_when_the_function_names_them():
    seen = {}

    def spy(x, mask=None, training=None):
        seen.update(mask=mask, training=training)
        return x
    embedded = Embedding(5, 2, mask_zero=True)(np.array([[1, 0]]))
    with pytest.warns(UserWarning, match="does not support masking"):  # spy reads the mask, but gives none
        Lambda(spy)(embedded, training=True)
    np.testing.assert_array_equal(seen["mask"], [[True, False]])
    assert seen["training"] is True


def test_lambda_output_shape_as_a_tuple_or_a_function():
    assert Lambda(lambda x: x[:, :2], output_shape=(2, 4))(Input((5, 4))).shape == (None, 2, 4)
    assert Lambda(lambda x: x, output_shape=lambda s: (s[0], 7)).compute_output_shape((None, 3)) == (None, 7)


def test_lambda_drops_a_mask_unless_given_one():
    embedded = Embedding(5, 2, mask_zero=True)(np.array([[1, 0]]))
    with pytest.warns(UserWarning, match="does not support masking"):
        assert not hasattr(Lambda(lambda x: x * 2)(embedded), "_keras_mask")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kept = Lambda(lambda x: x * 2, mask=lambda inputs, mask: mask)(embedded)
        fixed = Lambda(lambda x: x * 2, mask=np.array([[False, True]]))(embedded)
    np.testing.assert_array_equal(kept._keras_mask, [[True, False]])
    np.testing.assert_array_equal(fixed._keras_mask, [[False, True]])


def test_lambda_gradients_flow_through_its_function():
    assert tg.gradcheck(Lambda(lambda x: (x * x).tanh(), dtype="float64"), [Tensor(X, requires_grad=True)])


def test_lambda_refuses_what_is_not_a_function():
    with pytest.raises(TypeError, match="Lambda needs a function, got 'x'"):
        Lambda("x")
    with pytest.raises(TypeError, match="arguments must be a dict"):
        Lambda(abs, arguments=[1])


def square(x):
    return x * x


def test_a_model_with_a_lambda_saves_but_never_loads_its_code(tmp_path):
    model = Sequential([Input((4,)), Dense(3), Lambda(square)])
    config = model.layers[1].get_config()
    assert config["function"] == f"{__name__}.square" and json.dumps(config)
    model.save(tmp_path / "lambda.npz")
    with pytest.raises(ValueError, match="Lambda layer 'lambda.*' runs the function .*square.*never runs code"):
        load_model(tmp_path / "lambda.npz")
    rebuilt = Sequential([Input((4,)), Dense(3), Lambda(square)])  # the remedy the message gives
    rebuilt.load_weights(tmp_path / "lambda.npz")
    np.testing.assert_array_equal(rebuilt.predict(X[0]), model.predict(X[0]))


# ---- together: the encoder-decoder of the number-addition example ---------------------------------
def test_an_encoder_decoder_of_these_layers_learns_to_reverse_short_sequences():
    tg.utils.set_random_seed(0)
    digits = np.random.default_rng(1).integers(0, 4, (256, 3))
    one_hot = np.eye(4, dtype=np.float32)
    x, y = one_hot[digits], one_hot[digits[:, ::-1]]
    model = Sequential([Input((3, 4)), LSTM(16), RepeatVector(3), LSTM(16, return_sequences=True),
                        TimeDistributed(Dense(4, activation="softmax"))])
    model.compile(optimizer=tg.optimizers.Adam(learning_rate=0.02), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=30, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.9  # chance is 0.25
