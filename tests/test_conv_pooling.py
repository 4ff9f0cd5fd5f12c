"""Conv1D and the 1-D poolings: shapes, a numpy reference of Keras's definitions, gradients, ties, masks."""
import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_embed as tg
from tinygrad_embed.layers import (AveragePooling1D, Conv1D, Embedding, GlobalAveragePooling1D, GlobalMaxPooling1D,
                                   MaxPooling1D)
from tinygrad_embed.layers.padding import padding_amounts
from tinygrad_embed.models import Sequential, load_model


def conv_reference(x, kernel, bias, stride, dilation, padding):
    """Keras's definition, written as plainly as possible: pad, then a dot product per output step."""
    size = kernel.shape[0]
    left, right = padding_amounts(x.shape[1], size, stride, dilation, padding)
    x = np.pad(x, ((0, 0), (left, right), (0, 0)))
    count = (x.shape[1] - (size - 1) * dilation - 1) // stride + 1
    out = np.zeros((x.shape[0], count, kernel.shape[2]))
    for t in range(count):
        for j in range(size):
            out[:, t] += x[:, t * stride + j * dilation] @ kernel[j]
    return out + bias


def pool_reference(x, size, stride, padding, reduce):
    """TensorFlow's pooling: windows over the real steps only (padding never counts)."""
    left, right = padding_amounts(x.shape[1], size, stride, 1, padding)
    count = (x.shape[1] + left + right - size) // stride + 1
    return np.stack([reduce(x[:, max(t * stride - left, 0):t * stride - left + size], axis=1) for t in range(count)], 1)


CONV_CASES = [(s, d, p, k) for s, d, p, k in itertools.product((1, 2, 3), (1, 2), ("valid", "same", "causal"), (1, 2, 3))
              if s == 1 or d == 1]


@pytest.mark.parametrize("stride, dilation, padding, size", CONV_CASES)
@pytest.mark.parametrize("steps", [7, 8])
def test_conv1d_matches_the_definition(stride, dilation, padding, size, steps):
    rng = np.random.default_rng(steps)
    x = rng.standard_normal((2, steps, 3))
    layer = Conv1D(4, size, strides=stride, dilation_rate=dilation, padding=padding, bias_initializer="uniform",
                   dtype="float64")
    out = layer(x)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (size, 3, 4) and bias.shape == (4,)
    np.testing.assert_allclose(out.data, conv_reference(x, kernel, bias, stride, dilation, padding), rtol=1e-12, atol=1e-12)
    assert layer.compute_output_shape((None, steps, 3)) == (None,) + out.shape[1:]


@settings(max_examples=25, deadline=None)
@given(size=st.integers(1, 3), stride=st.integers(1, 2), padding=st.sampled_from(["valid", "same", "causal"]),
       seed=st.integers(0, 2 ** 16))
def test_conv1d_gradients_match_finite_differences(size, stride, padding, seed):
    rng = np.random.default_rng(seed)
    layer = Conv1D(2, size, strides=stride, padding=padding, activation="tanh", bias_initializer="uniform",
                   dtype="float64")
    x = tg.Tensor(rng.standard_normal((2, 6, 3)), requires_grad=True)
    layer(x)
    assert tg.gradcheck(lambda x, kernel, bias: layer(x), [x, *layer.trainable_weights])


@pytest.mark.parametrize("layer_class, reduce", [(MaxPooling1D, np.max), (AveragePooling1D, np.mean)])
@pytest.mark.parametrize("size, stride, padding, steps",
                         list(itertools.product((1, 2, 3, 4), (None, 1, 2, 3), ("valid", "same"), (7, 8))))
def test_pooling_matches_tensorflows_definition(layer_class, reduce, size, stride, padding, steps):
    x = np.random.default_rng(size).standard_normal((2, steps, 3))
    layer = layer_class(size, strides=stride, padding=padding, dtype="float64")
    out = layer(x)
    expected = pool_reference(x, size, stride or size, padding, reduce)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    assert layer.compute_output_shape((None, steps, 3)) == (None,) + out.shape[1:]


@settings(max_examples=25, deadline=None)
@given(size=st.integers(1, 3), stride=st.integers(1, 3), padding=st.sampled_from(["valid", "same"]),
       average=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_pooling_gradients_match_finite_differences(size, stride, padding, average, seed):
    values = np.random.default_rng(seed).permutation(np.arange(2 * 7 * 2)) * 0.1  # distinct: no max ties
    x = tg.Tensor(values.reshape(2, 7, 2), requires_grad=True)
    layer = (AveragePooling1D if average else MaxPooling1D)(size, strides=stride, padding=padding, dtype="float64")
    assert tg.gradcheck(layer, [x])


def test_max_pooling_gives_a_tie_to_the_first_step_and_overlaps_add():
    x = tg.Tensor(np.array([[[1.0], [1.0], [0.0], [2.0], [2.0]]]), requires_grad=True)
    MaxPooling1D(2, strides=1)(x).backward(np.array([[[10.0], [20.0], [30.0], [40.0]]]))
    # windows (1, 1) -> step 0; (1, 0) -> step 1; (0, 2) -> step 3; (2, 2) -> step 3 (the first of the tie)
    np.testing.assert_array_equal(x.grad[0, :, 0], [10.0, 20.0, 0.0, 70.0, 0.0])


def test_global_poolings_and_the_mask():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 2))
    mask = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 1], [1, 1, 1, 1, 1]], bool)
    average = GlobalAveragePooling1D(dtype="float64")
    np.testing.assert_allclose(average(x).data, x.mean(axis=1))
    expected = np.stack([x[i][mask[i]].mean(axis=0) for i in range(3)])
    np.testing.assert_allclose(average(x, mask=mask).data, expected)
    assert average.compute_mask(x, mask) is None
    assert GlobalMaxPooling1D(keepdims=True)(x).shape == (3, 1, 2)


def test_a_mask_reaching_max_pooling_is_dropped_with_a_warning_as_in_keras():
    embedded = Embedding(10, 2, mask_zero=True)(np.array([[3, 4, 0, 0]]))
    for layer in (GlobalMaxPooling1D(), MaxPooling1D(2), Conv1D(2, 2)):
        with pytest.warns(UserWarning, match="does not support masking"):
            out = layer(embedded)
        assert getattr(out, "_keras_mask", None) is None
    np.testing.assert_array_equal(GlobalMaxPooling1D()(embedded).data, embedded.data.max(axis=1))  # padding counts


def test_masked_average_gradient_skips_the_masked_steps():
    x = tg.Tensor(np.random.default_rng(1).standard_normal((2, 4, 3)), requires_grad=True)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], bool)
    layer = GlobalAveragePooling1D(dtype="float64")
    assert tg.gradcheck(lambda x: layer(x, mask=mask), [x])
    x.zero_grad()
    layer(x, mask=mask).sum().backward()
    np.testing.assert_array_equal(x.grad[0, 2:], 0)
    np.testing.assert_allclose(x.grad[0, :2], 0.5)


def test_embedding_mask_reaches_the_global_average_in_a_model():
    model = Sequential([Embedding(10, 4, mask_zero=True), GlobalAveragePooling1D()])
    ids = np.array([[3, 4, 0, 0], [5, 6, 7, 8]])
    table = model.layers[0].get_weights()[0]
    np.testing.assert_allclose(model.predict(ids), np.stack([table[[3, 4]].mean(0), table[[5, 6, 7, 8]].mean(0)]),
                               rtol=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda: Conv1D(2, 3, padding="full"), "padding must be one of"),
    (lambda: Conv1D(2, 0), "kernel_size"),
    (lambda: Conv1D(2, (3, 3)), "tuple of one int"),
    (lambda: Conv1D(2, 3, strides=2, dilation_rate=2), "cannot be combined"),
    (lambda: Conv1D(2, 3, data_format="channels_first"), "channels_last"),
    (lambda: MaxPooling1D(2, padding="causal"), "padding must be one of"),
    (lambda: AveragePooling1D(-1), "pool_size"),
])
def test_bad_arguments_are_refused_at_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_inputs_too_short_or_of_the_wrong_rank_are_refused():
    with pytest.raises(ValueError, match=r"spanning 5 .* got shape \(1, 4, 2\)"):
        Conv1D(2, 3, dilation_rate=2)(np.zeros((1, 4, 2), np.float32))
    with pytest.raises(ValueError, match=r"\(batch, steps, channels\)"):
        Conv1D(2, 3)(np.zeros((4, 2), np.float32))
    layer = Conv1D(2, 3)
    layer(np.zeros((1, 5, 2), np.float32))
    with pytest.raises(ValueError, match=r"built for input of shape \(batch, steps, 2\)"):
        layer(np.zeros((1, 5, 3), np.float32))


def test_a_cnn_model_trains_saves_and_loads(tmp_path):
    tg.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 20, (64, 12))
    labels = (ids == 7).any(axis=1).astype("float32")  # the word 7 anywhere: a job for convolution and max
    model = Sequential([Embedding(20, 8), Conv1D(8, 3, padding="same", activation="relu"), MaxPooling1D(2),
                        Conv1D(8, 2, activation="relu"), GlobalMaxPooling1D(), tg.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=tg.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(ids, labels, epochs=15, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    model.save(tmp_path / "cnn.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = load_model(tmp_path / "cnn.keras")
    np.testing.assert_array_equal(loaded.predict(ids), model.predict(ids))
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]
