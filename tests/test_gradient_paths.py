"""Every gradient path under test (docs/nothing-silent.md, "Gradients under test"): a second backward through a
retained graph adds exactly the first one's gradients again through every fused recurrence and each direction
of Bidirectional, with masks, initial states and dropout masks; and every argument of every loss that changes
its maths is in a gradient check against central differences."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_embed as tg
from tinygrad_embed import losses
from tinygrad_embed.fused_gru import FusedGRU
from tinygrad_embed.fused_lstm import FusedLSTM
from tinygrad_embed.fused_simple_rnn import FusedSimpleRNN
from tinygrad_embed.layers import GRU, LSTM, Bidirectional, Dense, SimpleRNN
from tinygrad_embed.models import Sequential
from tinygrad_embed.optimizers import SGD
from tinygrad_embed.testing import float64_arrays
from op_specs import gru_cases, lstm_cases, simple_rnn_cases


def assert_second_walk_doubles(loss, tensors):
    """backward(retain_graph=True), then backward: every gradient exactly twice the first walk's."""
    loss.backward(retain_graph=True)
    first = [t.grad.copy() for t in tensors]
    loss.backward()  # reads what forward saved: the first walk must have left it intact
    for tensor, grad in zip(tensors, first):
        np.testing.assert_array_equal(tensor.grad, 2 * grad)


@pytest.mark.parametrize("op, cases", [(FusedLSTM.apply, lstm_cases()), (FusedGRU.apply, gru_cases()),
                                       (FusedSimpleRNN.apply, simple_rnn_cases())], ids=["lstm", "gru", "simple_rnn"])
@given(data=st.data())  # masks, initial states and dropout masks among the cases
def test_retain_graph_twice_gives_twice_the_gradients_through_each_fused_recurrence(op, cases, data):
    arrays, _, kwargs = data.draw(cases)
    inputs = [tg.Tensor(a, requires_grad=True) for a in arrays]
    out = op(*inputs, **kwargs)
    upstream = np.random.default_rng(data.draw(st.integers(0, 99))).standard_normal(out.shape)
    assert_second_walk_doubles((out * upstream).sum(), inputs)


MASK = np.array([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [1, 1, 0, 1, 0]], bool)


@pytest.mark.parametrize("recurrent, states", [(LSTM, 2), (GRU, 1), (SimpleRNN, 1)])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_retain_graph_twice_through_each_direction_of_bidirectional(recurrent, states, return_sequences):
    rng = np.random.default_rng(4)
    layer = Bidirectional(recurrent(3, return_sequences=return_sequences, dtype="float64"), merge_mode="concat")
    x = tg.Tensor(rng.standard_normal((3, 5, 2)), requires_grad=True)
    initial = [tg.Tensor(rng.standard_normal((3, 3)), requires_grad=True) for _ in range(2 * states)]
    out = layer(x, mask=MASK, initial_state=initial)
    assert layer.forward_layer.fused and layer.backward_layer.fused
    loss = (out * rng.standard_normal(out.shape)).sum()
    assert_second_walk_doubles(loss, [x, *initial, *layer.trainable_weights])
    assert all(np.abs(t.grad).sum() > 0 for t in [x, *initial, *layer.trainable_weights])  # each direction reached


# ---- every argument of every loss, in the values (against plain numpy) and in the gradient ------------------
EPSILON = 1e-7


def log_sigmoid(x):
    return -np.logaddexp(0, -x)


def bce_numpy(y, p, from_logits, label_smoothing, axis):
    y = y * (1 - label_smoothing) + label_smoothing / 2
    if from_logits:
        log_p, log_not_p = log_sigmoid(p), log_sigmoid(-p)
    else:
        p = np.clip(p, EPSILON, 1 - EPSILON)
        log_p, log_not_p = np.log(p), np.log(1 - p)
    return -(y * log_p + (1 - y) * log_not_p).mean(axis=axis)


def cce_numpy(y, p, from_logits, label_smoothing, axis):
    y = y * (1 - label_smoothing) + label_smoothing / y.shape[axis]
    if from_logits:
        shifted = p - p.max(axis=axis, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    else:
        log_p = np.log(np.clip(p / p.sum(axis=axis, keepdims=True), EPSILON, 1 - EPSILON))
    return -(y * log_p).sum(axis=axis)


def reduce_numpy(values, weight, reduction, kept=None):
    """Keras's reduce_weighted_values, written plainly; kept: the values ignore_class keeps, which the averaging
    reductions divide by instead of all the values."""
    if kept is not None:
        scale = kept.size / kept.sum() if reduction in ("sum_over_batch_size", "mean") and kept.any() else 1.0
        weight = kept * scale * (1 if weight is None else weight)
    values = values if weight is None else values * weight
    if reduction in (None, "none"):
        return values
    if reduction == "sum":
        return values.sum()
    divisor = weight.sum() if reduction == "mean_with_sample_weight" and weight is not None else values.size
    return values.sum() / divisor if divisor else 0.0  # Keras's divide_no_nan: nothing kept weighs 0, not 0/0


def sparse_numpy(labels, p, from_logits, ignore_class):
    classes = p.shape[-1]
    values = cce_numpy(np.eye(classes)[np.where(labels == ignore_class, 0, labels)], p, from_logits, 0.0, -1)
    return values if ignore_class is None else values * (labels != ignore_class)


LOSSES = [losses.BinaryCrossentropy, losses.CategoricalCrossentropy, losses.SparseCategoricalCrossentropy,
          losses.MeanSquaredError, losses.MeanAbsoluteError, losses.Huber]


@st.composite
def loss_case(draw, cls):
    """(keyword arguments, y_true, x, y_pred as a function of x, the per-sample numpy loss of y_true and x) for a
    loss class, each of its arguments that changes the maths drawn."""
    rank = draw(st.integers(2, 3))
    shape = tuple(draw(st.integers(1, 4)) for _ in range(rank - 1)) + (draw(st.integers(2, 4)),)
    x = draw(float64_arrays(shape, -3, 3))
    rng = np.random.default_rng(draw(st.integers(0, 999)))
    logits = draw(st.booleans())
    as_probabilities = {losses.BinaryCrossentropy: lambda x: x.sigmoid()}.get(cls, lambda x: x.exp())
    predict = (lambda x: x) if logits else as_probabilities
    numpy_predict = (lambda x: x) if logits else lambda x: predict(tg.Tensor(x)).data
    if cls in (losses.BinaryCrossentropy, losses.CategoricalCrossentropy):
        axis = draw(st.sampled_from([a for a in range(-rank, rank) if a % rank != 0]))  # never the batch axis
        kwargs = {"from_logits": logits, "axis": axis, "label_smoothing": draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))}
        y = rng.random(shape)
        if cls is losses.CategoricalCrossentropy:
            y = y / y.sum(axis=axis, keepdims=True)  # a distribution over the classes on `axis`
        formula = bce_numpy if cls is losses.BinaryCrossentropy else cce_numpy
        return kwargs, y, x, predict, lambda y, x: formula(y, numpy_predict(x), **kwargs)
    if cls is losses.SparseCategoricalCrossentropy:
        kwargs = {"from_logits": logits, "ignore_class": draw(st.sampled_from([None, 0, 1]))}
        y = rng.integers(0, shape[-1], shape[:-1])
        return kwargs, y, x, predict, lambda y, x: sparse_numpy(y, numpy_predict(x), **kwargs)
    kwargs = {"delta": draw(st.sampled_from([0.5, 1.0, 2.0]))} if cls is losses.Huber else {}
    kink = {losses.MeanAbsoluteError: 0.0, losses.Huber: kwargs.get("delta")}.get(cls)
    if kink is not None:  # x is the error: within 1e-3 of a kink it moves away, so no difference crosses it
        x = np.where(np.abs(np.abs(x) - kink) < 1e-3, 2 * x + 0.01, x)
    y = rng.standard_normal(shape)
    x = y + x
    delta = kwargs.get("delta")
    error = {losses.MeanSquaredError: lambda d: d ** 2, losses.MeanAbsoluteError: np.abs,
             losses.Huber: lambda d: np.where(np.abs(d) <= delta, 0.5 * d ** 2, delta * np.abs(d) - 0.5 * delta ** 2)}
    return kwargs, y, x, lambda x: x, lambda y, x: error[cls](x - y).mean(-1)


@pytest.mark.parametrize("cls", LOSSES, ids=[cls.__name__ for cls in LOSSES])
@given(data=st.data())
def test_every_loss_argument_changes_values_as_keras_and_gradchecks(cls, data):
    """axis, from_logits, label_smoothing, ignore_class, delta, reduction and sample weights: the loss against
    plain numpy, and its gradient against central differences with a random upstream gradient."""
    kwargs, y, x, predict, reference = data.draw(loss_case(cls))
    values = reference(y, x)
    weight = data.draw(st.sampled_from([None, "per value", "per sample"]))  # per sample: (batch, 1, ...), broadcast
    shape = values.shape if weight == "per value" else values.shape[:1] + (1,) * (values.ndim - 1)
    weight = None if weight is None else np.random.default_rng(values.size).random(shape) + 0.1
    reduction = data.draw(st.sampled_from(losses.REDUCTIONS))
    loss = cls(reduction=reduction, **kwargs)
    kept = None if kwargs.get("ignore_class") is None else y != kwargs["ignore_class"]
    expected = reduce_numpy(values, weight, reduction, kept)
    np.testing.assert_allclose(loss(y, predict(tg.Tensor(x)), sample_weight=weight).data, expected, rtol=1e-10,
                               atol=1e-12)
    assert tg.gradcheck(lambda x: loss(y, predict(x), sample_weight=weight), [tg.Tensor(x, requires_grad=True)])


@given(st.integers(0, 999), st.sampled_from([{0: 2.0, 1: 0.5, 2: 3.0}, {1: 4.0}, {0: 0.0, 2: 1.5}]))
def test_class_weight_weighs_each_sample_in_the_gradient(seed, class_weight):
    """One SGD step (learning rate 1) with class_weight moves the kernel by minus the central-difference gradient
    of sum_i class_weight[y_i] loss_i / n, the loss written in plain numpy."""
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    model = Sequential([Dense(3, use_bias=False, dtype="float64")])
    model.compile(optimizer=SGD(learning_rate=1.0), loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    model.predict(x[:1])
    before = model.get_weights()[0]
    model.train_on_batch(x, y, class_weight=class_weight)
    step = before - model.get_weights()[0]
    weight = np.array([class_weight.get(label, 1.0) for label in y])

    def objective(kernel):
        return (weight * sparse_numpy(y, x @ kernel, True, None)).sum() / len(y)
    numeric = np.zeros_like(before)
    for index in np.ndindex(before.shape):
        probe = np.zeros_like(before)
        probe[index] = 1e-6
        numeric[index] = (objective(before + probe) - objective(before - probe)) / 2e-6
    np.testing.assert_allclose(step, numeric, rtol=1e-5, atol=1e-8)
