"""The tape: construction rules, the backward sweep, accumulation, depth, memory, errors."""
import gc

import numpy as np
import pytest

import tinygrad_embed as tg
from tinygrad_embed.fused_lstm import FusedLSTM
from tinygrad_embed.layers import LSTM
from tinygrad_embed.functions import Function, Mul
from tinygrad_embed.tensor import _topological_order


def test_lists_become_float32_and_arrays_keep_their_dtype():
    assert tg.Tensor([1, 2, 3]).dtype == np.float32
    assert tg.Tensor(2.5).dtype == np.float32
    assert tg.Tensor([1, 2], dtype=np.int64).dtype == np.int64
    assert tg.Tensor(np.ones(2)).dtype == np.float64
    assert tg.Tensor(np.arange(3)).dtype == np.arange(3).dtype


def test_attributes_describe_the_array():
    t = tg.Tensor(np.zeros((2, 3)), requires_grad=True)
    assert (t.shape, t.ndim, t.size, t.grad, t.requires_grad) == ((2, 3), 2, 6, None, True)
    assert t.numpy() is t.data
    assert tg.Tensor(np.array([4.0])).item() == 4.0


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="int64"):
        tg.Tensor(np.arange(3, dtype=np.int64), requires_grad=True)


def test_non_numeric_data_is_refused():
    with pytest.raises(TypeError, match="numeric"):
        tg.Tensor(np.array(["a", "b"]))


def test_a_tensor_used_several_times_accumulates_every_contribution():
    x = tg.Tensor(np.array([1.5, -2.0]), requires_grad=True)
    y = x * x + x * 3 + x.exp()
    y.backward(np.ones(2))
    np.testing.assert_allclose(x.grad, 2 * x.data + 3 + np.exp(x.data))


def test_gradients_accumulate_across_backward_calls_until_zero_grad():
    x = tg.Tensor(np.array([2.0]), requires_grad=True)
    (x * 3).backward()
    (x * 3).backward()
    np.testing.assert_array_equal(x.grad, [6.0])
    x.zero_grad()
    assert x.grad is None


def test_a_chain_of_ten_thousand_ops_backpropagates():
    x = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0001 ** 10_000] * 2, rtol=1e-9)


def _live_functions() -> int:
    gc.collect()
    return sum(isinstance(o, Function) for o in gc.get_objects())


def test_backward_frees_the_graph_so_memory_stays_flat():
    w = tg.Tensor(np.ones((4, 4)), requires_grad=True)

    def step():
        loss = ((w @ w).tanh() * 2).sum()
        loss.backward()
        w.zero_grad()

    step()
    baseline = _live_functions()
    for _ in range(50):
        step()
    assert _live_functions() == baseline


def test_a_second_backward_through_a_freed_graph_raises_and_names_retain_graph():
    x = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()
    np.testing.assert_array_equal(x.grad, 2 * x.data)  # the refused walk added nothing


def test_a_tensor_from_a_freed_graph_reused_in_a_new_one_raises_before_any_gradient_changes():
    x = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = tg.Tensor(np.array([3.0, -1.0]), requires_grad=True)
    a = x.exp()
    (a * 2).sum().backward()  # frees the record of how a was made from x
    with pytest.raises(RuntimeError, match="retain_graph"):  # not a silent leaf: x would miss its share
        (w * a).sum().backward()
    assert w.grad is None
    np.testing.assert_allclose(x.grad, 2 * np.exp(x.data))


def test_retain_graph_keeps_the_graph_so_a_second_walk_adds_the_same_gradients():
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w = tg.Tensor(rng.standard_normal((4, 2)), requires_grad=True)
    y = ((x @ w).tanh() * x.sum() + (x @ w).sigmoid()).sum()
    y.backward(retain_graph=True)
    first = [x.grad.copy(), w.grad.copy()]
    y.backward()  # without retain_graph: this walk frees the graph
    np.testing.assert_array_equal(x.grad, 2 * first[0])
    np.testing.assert_array_equal(w.grad, 2 * first[1])
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_retain_graph_through_the_fused_lstm_gives_the_same_gradients_on_the_second_walk():
    rng = np.random.default_rng(1)
    layer = LSTM(4, dtype="float64", fused=True)
    x = tg.Tensor(rng.standard_normal((3, 5, 2)), requires_grad=True)
    mask = np.array([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [1, 1, 0, 1, 1]], bool)
    loss = (layer(x, mask=mask) * rng.standard_normal((3, 4))).sum()
    assert any(isinstance(t._ctx, FusedLSTM) for t in _topological_order(loss))
    tensors = [x, *layer.trainable_weights]
    loss.backward(retain_graph=True)
    first = [t.grad.copy() for t in tensors]
    loss.backward()  # reads the activations the first walk must have left intact
    for t, grad in zip(tensors, first):
        np.testing.assert_array_equal(t.grad, 2 * grad)


def test_no_grad_records_nothing():
    x = tg.Tensor(np.ones(3), requires_grad=True)
    with tg.no_grad():
        y = x * 2
    assert not y.requires_grad and y._ctx is None
    assert (x * 2).requires_grad


def test_detach_cuts_the_graph():
    x = tg.Tensor(np.ones(2), requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d._ctx is None


def test_backward_without_gradient_needs_one_element():
    x = tg.Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"one-element.*\(3,\)"):
        (x * 2).backward()


def test_backward_with_a_gradient_of_the_wrong_shape_names_both_shapes():
    x = tg.Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        (x * 2).backward(np.ones(2))


def test_backward_on_a_tensor_without_grad_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.Tensor(np.ones(1)).backward()


class WrongShape(Mul):
    """An op whose backward returns a gradient of the wrong shape."""
    def backward(self, g):
        return g.sum(), g.sum()


def test_a_gradient_of_the_wrong_shape_raises_naming_the_op():
    x = tg.Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"WrongShape.*\(\).*\(3,\)"):
        WrongShape.apply(x, x).backward(np.ones(3))


def test_broadcast_gradients_are_summed_back_to_each_shape():
    a = tg.Tensor(np.ones((2, 1, 3)), requires_grad=True)
    b = tg.Tensor(np.ones((4, 1)), requires_grad=True)
    (a * b).backward(np.ones((2, 4, 3)))
    np.testing.assert_array_equal(a.grad, np.full((2, 1, 3), 4.0))
    np.testing.assert_array_equal(b.grad, np.full((4, 1), 6.0))
