"""Optimizers: Keras's update rules, computed by hand here, step after step."""
import math

import numpy as np
import pytest

import tinygrad_embed as tg
from tinygrad_embed.optimizers import SGD, Adam, get


def keras_adam_by_hand(w, grads, lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    """Keras's Adam for one scalar weight, written from its documented rule, one step at a time."""
    m = v = 0.0
    for t, g in enumerate(grads, start=1):
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        w = w - lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (math.sqrt(v) + eps)
    return w


def test_adam_matches_keras_rule_over_several_steps():
    grads = [0.5, -1.25, 3.0, 1e-4, -0.7]
    w = tg.Tensor(np.array([0.3, -2.0]), requires_grad=True)
    opt = Adam(learning_rate=0.01)
    for g in grads:
        opt.apply_gradients([(np.array([g, 10 * g]), w)])
    assert opt.iterations == 5
    np.testing.assert_allclose(w.data, [keras_adam_by_hand(0.3, grads, lr=0.01),
                                        keras_adam_by_hand(-2.0, [10 * g for g in grads], lr=0.01)], rtol=1e-13)


def test_epsilon_sits_outside_the_bias_correction():
    # With a tiny gradient, where epsilon sits decides the step: Keras's rule and PyTorch's differ here.
    w = tg.Tensor(np.array([0.0]), requires_grad=True)
    Adam(learning_rate=1.0, epsilon=1e-3).apply_gradients([(np.array([1e-6]), w)])
    keras_step = math.sqrt(1 - 0.999) / (1 - 0.9) * (0.1 * 1e-6) / (math.sqrt(0.001 * 1e-12) + 1e-3)
    assert w.data[0] == pytest.approx(-keras_step, rel=1e-12)


def test_amsgrad_uses_the_largest_second_moment():
    w1, w2 = (tg.Tensor(np.array([1.0]), requires_grad=True) for _ in range(2))
    plain, ams = Adam(0.1), Adam(0.1, amsgrad=True)
    for g in [5.0, 0.1, 0.1]:
        plain.apply_gradients([(np.array([g]), w1)])
        ams.apply_gradients([(np.array([g]), w2)])
    assert w2.data[0] > w1.data[0]  # smaller steps once v falls, since v_hat keeps the peak


def test_clipnorm_rescales_each_gradient():
    w = tg.Tensor(np.zeros(2), requires_grad=True)
    SGD(learning_rate=1.0, clipnorm=1.0).apply_gradients([(np.array([3.0, 4.0]), w)])
    np.testing.assert_allclose(w.data, [-0.6, -0.8])


def test_sgd_with_momentum_follows_keras():
    w = tg.Tensor(np.array([1.0]), requires_grad=True)
    opt = SGD(learning_rate=0.1, momentum=0.9)
    velocity, expected = 0.0, 1.0
    for g in [1.0, 2.0, -1.0]:
        opt.apply_gradients([(np.array([g]), w)])
        velocity = 0.9 * velocity - 0.1 * g
        expected += velocity
    assert w.data[0] == pytest.approx(expected, rel=1e-14)


def test_step_reads_each_variables_grad_and_skips_those_without():
    a, b = tg.Tensor(np.array([1.0]), requires_grad=True), tg.Tensor(np.array([1.0]), requires_grad=True)
    (a * 2).sum().backward()
    SGD(learning_rate=0.5).step([a, b])
    assert a.data[0] == 0.0 and b.data[0] == 1.0


def test_state_round_trip_continues_identically():
    rng = np.random.default_rng(0)
    grads = rng.standard_normal((6, 3))
    w_a, w_b = (tg.Tensor(np.ones(3), requires_grad=True) for _ in range(2))
    a = Adam(0.05)
    for g in grads:
        a.apply_gradients([(g, w_a)])
    b = Adam(0.05)
    for g in grads[:3]:
        b.apply_gradients([(g, w_b)])
    saved, saved_weights = b.get_state(), w_b.data.copy()
    resumed = Adam(0.05)
    w_c = tg.Tensor(saved_weights, requires_grad=True)
    resumed.build([w_c])
    resumed.set_state(saved)
    for g in grads[3:]:
        resumed.apply_gradients([(g, w_c)])
    np.testing.assert_array_equal(w_c.data, w_a.data)


def test_state_that_does_not_fit_is_refused():
    opt = Adam()
    opt.build([tg.Tensor(np.ones(3), requires_grad=True)])
    with pytest.raises(ValueError, match="does not fit"):
        opt.set_state({"iterations": np.array(1), "0/m": np.zeros(4), "0/v": np.zeros(3)})


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="learning_rate"):
        Adam(learning_rate=-1)
    with pytest.raises(ValueError, match="beta_1"):
        Adam(beta_1=1.0)
    with pytest.raises(ValueError, match="known: adam, sgd"):
        get("rmsprop")
    assert isinstance(get("adam"), Adam)
