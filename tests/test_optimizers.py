"""Optimizers: Keras's update rules, computed by hand here, step after step."""
import math

import numpy as np
import pytest

import tinygrad_embed as tg
from tinygrad_embed.missing import NotInTinygradEmbed
from tinygrad_embed.optimizers import SGD, Adagrad, Adam, RMSprop, get


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


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("layout", ["fortran", "strided view"])
def test_adam_updates_a_strided_variable_as_a_contiguous_one(amsgrad, layout):
    """Adam's compiled pass reads flat arrays: a variable in Fortran order or a strided view of a larger array
    is updated through a copy, written back, to the same numbers as its C-order twin."""
    rng = np.random.default_rng(3)
    start, grads = rng.standard_normal((4, 3)), [rng.standard_normal((4, 3)) for _ in range(3)]
    base = np.zeros((4, 6))
    if layout == "fortran":
        data = np.asfortranarray(start)
    else:
        data = base[:, ::2]
        data[...] = start
    c_order, strided = tg.Tensor(start.copy()), tg.Tensor(data)
    assert not strided.data.flags.c_contiguous
    for variable in (c_order, strided):
        opt = Adam(0.1, amsgrad=amsgrad)
        for g in grads:
            opt.apply_gradients([(g, variable)])
    assert not np.array_equal(c_order.data, start)
    np.testing.assert_array_equal(c_order.data, strided.data)
    if layout == "strided view":
        np.testing.assert_array_equal(base[:, ::2], c_order.data)  # updated in place, in the array it views
        assert not base[:, 1::2].any()


@pytest.mark.parametrize("optimizer", [Adam(0.1), SGD(0.1)])
def test_an_integer_variable_is_refused_not_wrapped(optimizer):
    """Adam's compiled pass would write an int variable's steps as wrapped integers: every optimizer refuses it,
    naming the dtype, before anything changes."""
    w = tg.Tensor(np.arange(4))
    with pytest.raises(ValueError, match="dtype int64: optimizers update float variables"):
        optimizer.apply_gradients([(np.ones(4), w)])
    np.testing.assert_array_equal(w.data, np.arange(4))


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


def sgd_by_hand(w, grads, lr, momentum=0.0, nesterov=False):
    """SGD from its textbook form: velocity <- momentum velocity - lr g; Nesterov steps along the new
    velocity once more (momentum velocity - lr g); without momentum the velocity is just -lr g."""
    velocity = np.zeros_like(w)
    for g in grads:
        velocity = momentum * velocity - lr * g
        w = w + (momentum * velocity - lr * g if nesterov else velocity)
    return w


def rmsprop_by_hand(w, grads, lr, rho=0.9, momentum=0.0, eps=1e-7, centered=False):
    """RMSprop as Keras documents it; with momentum 0 the buffer is just the current increment."""
    mean_square, mean, buffer = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for g in grads:
        mean_square = rho * mean_square + (1 - rho) * g ** 2
        mean = rho * mean + (1 - rho) * g
        variance = mean_square - mean ** 2 if centered else mean_square
        buffer = momentum * buffer + lr * g / np.sqrt(variance + eps)
        w = w - buffer
    return w


def adagrad_by_hand(w, grads, lr, initial=0.1, eps=1e-7):
    """Adagrad: the accumulator is the initial value plus the running sum of squared gradients."""
    accumulator = np.full_like(w, initial)
    for g in grads:
        accumulator = accumulator + g ** 2
        w = w - lr * g / np.sqrt(accumulator + eps)
    return w


GRADS = np.random.default_rng(7).standard_normal((6, 4)) * [1.0, 0.01, 10.0, 1e-4]  # varied scales
W0 = np.array([0.5, -1.0, 2.0, 0.0])

RULES = {
    "sgd": (SGD(0.1), lambda: sgd_by_hand(W0, GRADS, 0.1)),
    "sgd-momentum": (SGD(0.1, momentum=0.9), lambda: sgd_by_hand(W0, GRADS, 0.1, momentum=0.9)),
    "sgd-nesterov": (SGD(0.1, momentum=0.9, nesterov=True), lambda: sgd_by_hand(W0, GRADS, 0.1, 0.9, nesterov=True)),
    "sgd-nesterov-no-momentum": (SGD(0.1, nesterov=True), lambda: sgd_by_hand(W0, GRADS, 0.1)),  # plain, as Keras
    "rmsprop": (RMSprop(0.01), lambda: rmsprop_by_hand(W0, GRADS, 0.01)),
    "rmsprop-rho-eps": (RMSprop(0.01, rho=0.5, epsilon=1e-3), lambda: rmsprop_by_hand(W0, GRADS, 0.01, 0.5, eps=1e-3)),
    "rmsprop-momentum": (RMSprop(0.01, momentum=0.8), lambda: rmsprop_by_hand(W0, GRADS, 0.01, momentum=0.8)),
    "rmsprop-centered": (RMSprop(0.01, centered=True), lambda: rmsprop_by_hand(W0, GRADS, 0.01, centered=True)),
    "rmsprop-centered-momentum": (RMSprop(0.01, momentum=0.8, centered=True),
                                  lambda: rmsprop_by_hand(W0, GRADS, 0.01, 0.9, 0.8, centered=True)),
    "adagrad": (Adagrad(0.1), lambda: adagrad_by_hand(W0, GRADS, 0.1)),
    "adagrad-zero-start": (Adagrad(0.1, initial_accumulator_value=0.0, epsilon=1e-3),
                           lambda: adagrad_by_hand(W0, GRADS, 0.1, 0.0, 1e-3)),
}


@pytest.mark.parametrize("opt, by_hand", RULES.values(), ids=RULES.keys())
def test_each_rule_matches_the_hand_written_one_over_several_steps(opt, by_hand):
    w = tg.Tensor(W0.copy(), requires_grad=True)
    for g in GRADS:
        opt.apply_gradients([(g, w)])
    # float64 both sides; only the order of a few roundings differs
    np.testing.assert_allclose(w.data, by_hand(), rtol=1e-12, atol=1e-15)


def test_rmsprop_puts_epsilon_inside_the_root():
    # First step, v = (1 - rho) g^2 = 0.1e-8: inside the root, epsilon 1e-3 dominates; outside, sqrt(v) ~ 3e-5 would
    w = tg.Tensor(np.array([0.0]), requires_grad=True)
    RMSprop(learning_rate=1.0, epsilon=1e-3).apply_gradients([(np.array([1e-4]), w)])
    assert w.data[0] == pytest.approx(-1e-4 / math.sqrt(0.1 * 1e-8 + 1e-3), rel=1e-12)


def test_centered_rmsprop_divides_by_the_variance_not_the_second_moment():
    # A constant gradient has zero variance: after one step, v = 0.1 g^2 and mean^2 = 0.01 g^2, so the root is
    # of 0.09 g^2 + eps (centered) against 0.1 g^2 + eps (plain): centered steps are larger.
    plain, centered = (tg.Tensor(np.array([0.0]), requires_grad=True) for _ in range(2))
    RMSprop(0.1).apply_gradients([(np.array([2.0]), plain)])
    RMSprop(0.1, centered=True).apply_gradients([(np.array([2.0]), centered)])
    assert plain.data[0] == pytest.approx(-0.1 * 2 / math.sqrt(0.4 + 1e-7), rel=1e-12)
    assert centered.data[0] == pytest.approx(-0.1 * 2 / math.sqrt(0.36 + 1e-7), rel=1e-12)


def test_adagrad_accumulator_starts_at_its_initial_value():
    opt = Adagrad(initial_accumulator_value=0.25)
    opt.build([tg.Tensor(np.ones((2, 3), np.float32), requires_grad=True)])
    np.testing.assert_array_equal(opt.get_state()["0/accumulator"], np.full((2, 3), 0.25, np.float32))


def test_clipnorm_is_per_variable():
    # A global norm would scale both; Keras's clipnorm scales only the gradient whose own norm is above 1.
    a, b = tg.Tensor(np.zeros(2), requires_grad=True), tg.Tensor(np.zeros(2), requires_grad=True)
    SGD(learning_rate=1.0, clipnorm=1.0).apply_gradients([(np.array([3.0, 4.0]), a), (np.array([0.3, 0.4]), b)])
    np.testing.assert_allclose(a.data, [-0.6, -0.8])
    np.testing.assert_allclose(b.data, [-0.3, -0.4])


def test_clipvalue_clips_each_element():
    w = tg.Tensor(np.zeros(3), requires_grad=True)
    SGD(learning_rate=1.0, clipvalue=0.5).apply_gradients([(np.array([3.0, -0.2, -4.0]), w)])
    np.testing.assert_array_equal(w.data, [-0.5, 0.2, 0.5])


@pytest.mark.parametrize("clip", [{"clipvalue": 0.3}, {"clipnorm": 0.3}])
def test_clipping_happens_before_the_rule_updates_its_slots(clip):
    clipped, by_hand = tg.Tensor(W0.copy(), requires_grad=True), tg.Tensor(W0.copy(), requires_grad=True)
    with_clip, without = RMSprop(0.01, momentum=0.5, **clip), RMSprop(0.01, momentum=0.5)
    for g in GRADS:
        with_clip.apply_gradients([(g, clipped)])
        norm = np.linalg.norm(g)
        g = np.clip(g, -0.3, 0.3) if "clipvalue" in clip else g * min(1.0, 0.3 / norm)
        without.apply_gradients([(g, by_hand)])
    np.testing.assert_allclose(clipped.data, by_hand.data, rtol=1e-14)


@pytest.mark.parametrize("cls", [SGD, Adam, RMSprop, Adagrad])
def test_lr_is_accepted_with_a_deprecation_warning_pointing_at_the_caller(cls):
    with pytest.warns(DeprecationWarning, match="use learning_rate") as record:
        opt = cls(lr=0.05)
    assert opt.learning_rate == 0.05 and opt.get_config()["learning_rate"] == 0.05
    assert record[0].filename == __file__


@pytest.mark.parametrize("cls", [SGD, Adam, RMSprop, Adagrad])
def test_lr_and_learning_rate_together_are_refused_even_when_equal_to_the_default(cls):
    default = cls().learning_rate
    with pytest.raises(TypeError, match="both learning_rate=.* and lr=0.5"):
        cls(learning_rate=default, lr=0.5)


FACTORIES = [lambda: Adam(0.05), lambda: Adam(0.05, amsgrad=True), lambda: SGD(0.05, momentum=0.9, nesterov=True),
             lambda: RMSprop(0.05), lambda: RMSprop(0.05, momentum=0.5, centered=True), lambda: Adagrad(0.05)]


@pytest.mark.parametrize("make", FACTORIES)
def test_state_round_trip_continues_identically(make):
    grads = np.random.default_rng(0).standard_normal((6, 3))
    w_a, w_b = (tg.Tensor(np.ones(3), requires_grad=True) for _ in range(2))
    a, b = make(), make()
    for g in grads:
        a.apply_gradients([(g, w_a)])
    for g in grads[:3]:
        b.apply_gradients([(g, w_b)])
    saved, saved_weights = b.get_state(), w_b.data.copy()
    resumed = make()
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


@pytest.mark.parametrize("cls, kwargs, message", [
    (Adam, {"learning_rate": -1}, "learning_rate must be a positive number, got -1"),
    (Adam, {"learning_rate": "0.1"}, "learning_rate must be a positive number, got '0.1'"),
    (Adam, {"beta_1": 1.0}, r"beta_1 must be in \[0, 1\), got 1.0"),
    (SGD, {"momentum": 1.5}, r"momentum must be in \[0, 1\], got 1.5"),
    (SGD, {"momentum": -0.1}, r"momentum must be in \[0, 1\], got -0.1"),
    (RMSprop, {"rho": 1.0}, r"rho must be in \[0, 1\), got 1.0"),
    (RMSprop, {"epsilon": 0}, "epsilon must be a positive number, got 0"),
    (Adagrad, {"initial_accumulator_value": -0.1}, "initial_accumulator_value must be a number >= 0, got -0.1"),
    (SGD, {"clipvalue": 0}, "clipvalue must be a positive number, got 0"),
    (SGD, {"clipnorm": 1.0, "clipvalue": 1.0}, "give clipnorm or clipvalue, not both"),
])
def test_bad_arguments_are_refused(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


def test_an_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match="global_clipnorm"):
        SGD(global_clipnorm=1.0)


@pytest.mark.parametrize("name, cls", [("rmsprop", RMSprop), ("RMSprop", RMSprop), ("SGD", SGD), ("sgd", SGD),
                                       ("adagrad", Adagrad), ("Adam", Adam)])
def test_get_takes_names_in_any_case(name, cls):
    assert type(get(name)) is cls


@pytest.mark.parametrize("make", FACTORIES + [lambda: SGD(clipnorm=2.0), lambda: Adagrad(clipvalue=0.5)])
def test_get_config_round_trips_through_get_and_names_the_clipping(make):
    opt = make()
    config = opt.get_config()
    assert {"learning_rate", "clipnorm", "clipvalue"} <= set(config)
    again = get({"class_name": type(opt).__name__, "config": config})
    assert type(again) is type(opt) and again.get_config() == config and again.slot_names == opt.slot_names


def test_get_refuses_unknown_optimizers_listing_the_known():
    with pytest.raises(ValueError, match="unknown optimizer 'nadam'; known: adagrad, adam, rmsprop, sgd"):
        get("nadam")
    with pytest.raises(ValueError, match="unknown optimizer"):
        get({"config": {}})
    opt = SGD()
    assert get(opt) is opt


def test_a_keras_optimizer_not_here_says_so():
    with pytest.raises(NotInTinygradEmbed, match="the optimizers here are: .*RMSprop"):
        from tinygrad_embed.optimizers import Nadam  # noqa: F401


def test_compile_defaults_to_rmsprop_with_keras_s_defaults():
    model = tg.Sequential([tg.layers.Dense(1)])
    model.compile(loss="mse")
    assert type(model.optimizer) is RMSprop and model.optimizer.get_config() == RMSprop().get_config()
