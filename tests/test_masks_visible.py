"""Masks are visible where Keras shows them: an eager output and a symbolic one carry `_keras_mask`, and
`layer.compute_mask(inputs, mask)` answers as Keras's (tests/test_keras_parity_masks.py compares them)."""
import numpy as np
import pytest

import tinygrad_embed as keras

L = keras.layers
IDS = np.array([[3, 0, 2, 0], [1, 1, 0, 4]])


def test_the_masking_guides_eager_mask():
    out = L.Embedding(5, 2, mask_zero=True)(IDS)
    np.testing.assert_array_equal(out._keras_mask, IDS != 0)
    x = np.ones((2, 3, 2), "float32")
    x[1, 2] = 0.0
    masked = L.Masking(0.0)(x)
    assert masked._keras_mask.tolist() == [[True, True, True], [True, True, False]]


def test_a_symbolic_output_carries_a_symbolic_mask():
    ids = keras.Input((4,), dtype="int32")
    embedded = L.Embedding(5, 2, mask_zero=True)(ids)
    assert embedded._keras_mask.shape == (None, 4) and embedded._keras_mask.dtype == np.dtype(bool)
    sequences = L.LSTM(3, return_sequences=True)(L.Dense(2)(embedded))
    assert sequences._keras_mask.shape == (None, 4)
    assert L.Masking()(keras.Input((None, 2)))._keras_mask.shape == (None, None)


@pytest.mark.parametrize("make", [lambda: keras.Input((4,)), lambda: L.LSTM(3)(L.Embedding(5, 2, mask_zero=True)(
    keras.Input((4,)))), lambda: L.GlobalAveragePooling1D()(L.Embedding(5, 2, mask_zero=True)(keras.Input((4,)))),
    lambda: L.Embedding(5, 2)(keras.Input((4,)))])
def test_no_mask_no_attribute_as_on_keras_tensors(make):
    tensor = make()
    assert not hasattr(tensor, "_keras_mask") and getattr(tensor, "_keras_mask", None) is None


def test_compute_mask_hands_on_the_incoming_mask_even_where_a_call_drops_it():
    """Keras's Layer.compute_mask returns the previous mask; only a call of a layer without masking support
    drops it (with a warning)."""
    mask = IDS != 0
    x = np.ones((2, 4, 3), "float32")
    flatten = L.Flatten()
    assert flatten.compute_mask(x, mask) is mask
    masked = L.Masking(0.0)(np.where(mask[..., None], x, 0.0))
    with pytest.warns(UserWarning, match="does not support masking"):
        out = flatten(masked)
    assert getattr(out, "_keras_mask", None) is None


def test_recurrent_layers_pass_the_mask_only_with_their_sequences():
    mask = IDS != 0
    x = np.ones((2, 4, 3), "float32")
    for cls in (L.LSTM, L.GRU, L.SimpleRNN):
        np.testing.assert_array_equal(cls(2, return_sequences=True).compute_mask(x, mask), mask)
        assert cls(2).compute_mask(x, mask) is None


class TemporalSplit(keras.layers.Layer):
    """The masking guide's layer that splits its input and its mask in two along time."""

    def call(self, inputs):
        return keras.ops.split(inputs, 2, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else keras.ops.split(mask, 2, axis=1)


class TemporalSoftmax(keras.layers.Layer):
    """The masking guide's layer that needs its mask, in a symbolic call too."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        assert mask is not None
        weights = keras.ops.expand_dims(keras.ops.cast(mask, "float32"), -1)
        exp = keras.ops.exp(inputs) * weights
        return exp / keras.ops.sum(exp, axis=-1, keepdims=True)


def test_the_masking_guides_custom_layers():
    x = np.ones((3, 6, 2), "float32")
    x[0, 3:] = 0.0
    first, second = TemporalSplit()(L.Masking(0.0)(x))
    assert np.asarray(first._keras_mask).tolist() == [[True] * 3] * 3
    assert np.asarray(second._keras_mask).tolist() == [[False] * 3, [True] * 3, [True] * 3]

    ids = keras.Input((None,), dtype="int32")
    hidden = L.Dense(4)(L.Embedding(10, 8, mask_zero=True)(ids))
    assert hidden._keras_mask.shape == (None, None)  # the time axis stays unknown
    model = keras.Model(ids, TemporalSoftmax()(hidden))  # called symbolically with a mask, as in Keras
    out = model(np.array([[1, 2, 0], [3, 0, 0]]))
    assert out.shape == (2, 3, 4) and np.allclose(np.asarray(out.data)[0, 0].sum(), 1.0)
