"""The Embedding layer: Keras's contract, gather forward, scatter-add backward, masks, clear errors."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_embed as tg
from tinygrad_embed.layers import Embedding
from tinygrad_embed.testing import INTEGER_DTYPES, index_arrays


def test_weights_have_keras_layout_and_default_initialiser():
    layer = Embedding(5000, 32)
    (table,) = layer.get_weights()
    assert table.shape == (5000, 32) and table.dtype == np.float32
    assert -0.05 <= table.min() and table.max() <= 0.05 and table.std() > 0.02
    assert layer.trainable_weights[0].requires_grad and layer.count_params() == 160_000


@given(st.integers(1, 8), st.integers(1, 4), st.data())
def test_output_rows_are_table_rows_and_gradients_scatter_add(input_dim, output_dim, data):
    layer = Embedding(input_dim, output_dim, dtype="float64")
    indices = data.draw(index_arrays(input_dim))
    out = layer(indices)
    table = layer.get_weights()[0]
    assert out.shape == indices.shape + (output_dim,)
    np.testing.assert_array_equal(out.data, table[indices.astype(np.intp)])
    upstream = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(upstream)
    expected = np.zeros_like(table)
    np.add.at(expected, indices.astype(np.intp).reshape(-1), upstream.reshape(-1, output_dim))
    np.testing.assert_allclose(layer.trainable_weights[0].grad, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", INTEGER_DTYPES)
def test_every_integer_dtype_is_accepted(dtype):
    layer = Embedding(10, 3)
    np.testing.assert_array_equal(layer(np.array([[9, 0, 9]], dtype)).data, layer.get_weights()[0][[[9, 0, 9]]])


def test_gradcheck_of_the_layer_in_float64():
    layer = Embedding(40, 6, dtype="float64")  # 240 weights: checked along random directions
    indices = np.array([[1, 5, 5, 0], [39, 5, 1, 1]])
    assert tg.gradcheck(lambda table: layer(indices), layer.trainable_weights)


def test_rank_three_indices_work():
    layer = Embedding(7, 2)
    indices = np.arange(24).reshape(2, 3, 4) % 7
    assert layer(indices).shape == (2, 3, 4, 2)


def test_only_looked_up_rows_receive_gradient():
    layer = Embedding(6, 2)
    layer(np.array([[1, 3, 3]])).sum().backward()
    grad = layer.trainable_weights[0].grad
    np.testing.assert_array_equal(grad[[0, 2, 4, 5]], 0)
    np.testing.assert_array_equal(grad[3], [2, 2])


def test_mask_zero_produces_a_mask_and_keeps_row_zero_in_the_output():
    layer = Embedding(10, 3, mask_zero=True)
    data = np.array([[0, 0, 1, 2, 3, 4], [0, 1, 2, 5, 3, 4]])
    out = layer(data)
    np.testing.assert_array_equal(out._keras_mask, data != 0)
    np.testing.assert_array_equal(out.data[0, 0], layer.get_weights()[0][0])
    assert getattr(Embedding(10, 3)(data), "_keras_mask", None) is None


def test_input_length_is_validated():
    layer = Embedding(10, 3, input_length=6)
    assert layer(np.zeros((2, 6), int)).shape == (2, 6, 3)
    with pytest.raises(ValueError, match=r"input_length=6.*\(2, 5\)"):
        layer(np.zeros((2, 5), int))


@pytest.mark.parametrize("bad", [-1, 10, 2**40])
def test_an_index_out_of_range_names_value_position_and_input_dim(bad):
    with pytest.raises(IndexError, match=rf"index {bad} at position \(1, 2\).*input_dim=10.*vocabulary size \+ 1"):
        Embedding(10, 3)(np.array([[1, 2, 3], [4, 5, bad]]))


def test_an_out_of_range_index_anywhere_in_a_big_batch_is_caught_before_the_kernel():
    rng = np.random.default_rng(0)
    layer = Embedding(5000, 32)
    for _ in range(20):
        batch = rng.integers(0, 5000, (64, 500))
        row, col = rng.integers(0, 64), rng.integers(0, 500)
        batch[row, col] = rng.choice([-1, -5000, 5000, 10**9])
        with pytest.raises(IndexError, match=rf"position \({row}, {col}\)"):
            layer(batch)


@pytest.mark.parametrize("bad", [np.array([1.0, 2.5]), np.array([True, False]), np.array([np.nan]),
                                 np.array(["a", "b"]), [0.5]])
def test_non_integer_indices_are_refused(bad):
    with pytest.raises((TypeError, ValueError)):
        Embedding(10, 3)(bad)


@pytest.mark.parametrize("input_dim, output_dim", [(0, 3), (3, 0), (-2, 3)])
def test_dimensions_below_one_are_refused(input_dim, output_dim):
    with pytest.raises(ValueError, match="at least 1"):
        Embedding(input_dim, output_dim)


def test_set_weights_checks_shapes_and_names_the_array():
    layer = Embedding(4, 2)
    with pytest.raises(ValueError, match=r"weight 0 \(embeddings\) has shape \(4, 2\).*\(4, 3\)"):
        layer.set_weights([np.zeros((4, 3))])
    with pytest.raises(ValueError, match="1 weight arrays"):
        layer.set_weights([])
    new = np.arange(8.0).reshape(4, 2)
    layer.set_weights([new])
    np.testing.assert_array_equal(layer(np.array([3])).data, [[6.0, 7.0]])


def test_layer_names_follow_keras():
    first = Embedding(2, 2, name="words")
    assert first.name == "words"
    assert Embedding(2, 2).name.startswith("embedding")
