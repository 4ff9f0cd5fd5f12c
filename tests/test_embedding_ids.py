"""Embedding takes ids of any numeric dtype holding whole numbers, as Keras casts them, and refuses the
first value that is not one, naming it and its position."""
import numpy as np
import pytest

import tinygrad_embed as keras
from tinygrad_embed.layers import Embedding


@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "uint16", "int32", "int64"])
def test_ids_of_any_numeric_dtype_look_up_the_same_rows(dtype):
    layer = Embedding(10, 3)
    ids = np.array([[1, 9, 0], [4, 4, 2]])
    np.testing.assert_array_equal(layer(ids.astype(dtype)).data, layer.embeddings.data[ids])


@pytest.mark.parametrize("value, position", [(1.5, (1, 0)), (np.nan, (0, 2)), (np.inf, (1, 2)), (-0.25, (0, 0))])
def test_a_non_integer_value_is_refused_naming_it_and_its_position(value, position):
    ids = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    ids[position] = value
    with pytest.raises(ValueError, match=rf"{value!r}.*position \({position[0]}, {position[1]}\)"):
        Embedding(10, 3)(ids)


def test_a_float_id_out_of_range_is_still_an_index_error():
    with pytest.raises(IndexError, match=r"index 10 at position \(1,\)"):
        Embedding(10, 3)(np.array([3.0, 10.0]))


def test_the_transformer_examples_float_input_trains():
    """keras.io's Transformer example: Input(shape=(maxlen,)) is float32, fed to the token embedding."""
    inputs = keras.Input(shape=(4,))
    x = keras.layers.Embedding(20, 5)(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
    model.compile("adam", "binary_crossentropy")
    ids = np.random.default_rng(0).integers(0, 20, (8, 4))
    history = model.fit(ids.astype("float32"), np.arange(8) % 2, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    np.testing.assert_allclose(model.predict(ids.astype("float32"), verbose=0), model.predict(ids, verbose=0))
