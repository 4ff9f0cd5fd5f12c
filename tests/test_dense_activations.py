"""Dense and the activations: Keras's layouts, names, stability, gradients."""
import numpy as np
import pytest
from hypothesis import given

import tinygrad_embed as tg
from tinygrad_embed import activations
from tinygrad_embed.layers import Dense
from tinygrad_embed.testing import float64_arrays, shapes


@pytest.mark.parametrize("activation", [None, "linear", "sigmoid", "tanh", "relu", "softmax"])
def test_dense_gradcheck_for_every_activation(activation):
    layer = Dense(3, activation=activation, dtype="float64")
    x = tg.Tensor(np.random.default_rng(0).standard_normal((4, 5)) + 0.05, requires_grad=True)
    layer(x)
    assert tg.gradcheck(lambda x, kernel, bias: layer(x), [x, *layer.trainable_weights])


def test_dense_layout_and_initialisation():
    layer = Dense(7)
    layer(np.zeros((2, 5), np.float32))
    kernel, bias = layer.get_weights()
    assert kernel.shape == (5, 7) and bias.shape == (7,) and not bias.any()
    assert np.abs(kernel).max() <= np.sqrt(6 / 12) and kernel.std() > 0.1  # glorot_uniform limit


def test_dense_applies_to_the_last_axis_of_rank_three_input():
    layer = Dense(2, dtype="float64")
    x = np.random.default_rng(1).standard_normal((3, 4, 5))
    out = layer(x)
    kernel, bias = layer.get_weights()
    np.testing.assert_allclose(out.data, x @ kernel + bias)
    assert tg.gradcheck(lambda x, *w: layer(x), [tg.Tensor(x, requires_grad=True), *layer.trainable_weights])


def test_dense_without_bias_has_one_weight():
    layer = Dense(2, use_bias=False)
    layer(np.ones((1, 3), np.float32))
    assert [w.shape for w in layer.get_weights()] == [(3, 2)]


def test_unknown_activation_fails_at_construction_listing_the_known_ones():
    with pytest.raises(ValueError, match="'swish'.*relu.*sigmoid.*softmax.*tanh"):
        Dense(2, activation="swish")


def test_dense_refuses_rank_one_input():
    with pytest.raises(ValueError, match="rank 2"):
        Dense(2)(np.ones(3, np.float32))


@given(float64_arrays(shapes(min_dims=1), -5, 5))
def test_softmax_matches_numpy_and_its_gradient_checks(x):
    t = tg.Tensor(x, requires_grad=True)
    expected = np.exp(x - x.max(-1, keepdims=True))
    np.testing.assert_allclose(activations.softmax(t).data, expected / expected.sum(-1, keepdims=True), rtol=1e-12)
    assert tg.gradcheck(activations.softmax, [t])


def test_softmax_and_sigmoid_are_stable_for_huge_inputs():
    x = tg.Tensor(np.array([[1000.0, 0.0, -1000.0]]), requires_grad=True)
    np.testing.assert_array_equal(activations.softmax(x).data, [[1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(activations.sigmoid(x).data, [[1.0, 0.5, 0.0]])
    activations.softmax(x).sum().backward()
    assert np.isfinite(x.grad).all()


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu"])
def test_named_activations_gradcheck(name):
    x = tg.Tensor(np.array([[-2.0, -0.5, 0.7, 3.0]]), requires_grad=True)
    assert tg.gradcheck(activations.get(name), [x])
