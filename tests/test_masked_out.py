"""A sequence whose every step is masked (a review that is all padding) gives a defined output and finite
gradients, never 0 / 0 (docs/nothing-silent.md, "Masked-out sequences"): the recurrent layers give their
zero output, masked average pooling zeros, the masked losses and metrics 0, and fit trains on."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_embed as tg
from tinygrad_embed import losses, metrics
from tinygrad_embed.layers import (GRU, LSTM, Bidirectional, Dense, Embedding, GlobalAveragePooling1D, SimpleRNN,
                                   TextVectorization)
from tinygrad_embed.models import Sequential


@st.composite
def masks_with_an_empty_row(draw, batch=3, steps=5):
    """A (batch, steps) mask whose row 0 masks every step; the other rows keep at least one."""
    mask = draw(hnp.arrays(bool, (batch, steps)))
    mask[0] = False
    mask[1:, draw(st.integers(0, steps - 1))] = True
    return mask


def assert_finite_gradients(out, tensors):
    out.backward(np.random.default_rng(0).standard_normal(out.shape))
    for tensor in tensors:
        assert np.isfinite(tensor.grad).all()


@pytest.mark.parametrize("recurrent", [LSTM, GRU, SimpleRNN])
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(mask=masks_with_an_empty_row(), return_sequences=st.booleans(), go_backwards=st.booleans(),
       with_state=st.booleans())
def test_a_recurrent_layer_gives_zeros_for_a_sequence_with_every_step_masked(recurrent, fused, dtype, mask,
                                                                             return_sequences, go_backwards,
                                                                             with_state):
    rng = np.random.default_rng(1)
    layer = recurrent(2, return_sequences=return_sequences, go_backwards=go_backwards, fused=fused, dtype=dtype)
    x = tg.Tensor(rng.standard_normal((3, 5, 4)).astype(dtype), requires_grad=True)
    states = [tg.Tensor(rng.standard_normal((3, 2)).astype(dtype), requires_grad=True)
              for _ in range(2 if recurrent is LSTM else 1)] if with_state else None
    out = layer(x, mask=mask, initial_state=states)
    np.testing.assert_array_equal(out.data[0], 0)  # Keras's zero output at masked steps, as Keras 3 gives
    assert np.isfinite(out.data).all()
    assert_finite_gradients(out, [x, *layer.trainable_weights, *(states or [])])
    np.testing.assert_array_equal(x.grad[0], 0)  # nothing of the empty sequence was read


@pytest.mark.parametrize("recurrent", [LSTM, GRU, SimpleRNN])
def test_bidirectional_gives_zeros_in_both_directions_for_an_empty_sequence(recurrent):
    layer = Bidirectional(recurrent(2, return_sequences=True))
    x = tg.Tensor(np.random.default_rng(2).standard_normal((2, 4, 3)).astype(np.float32), requires_grad=True)
    out = layer(x, mask=np.array([[0, 0, 0, 0], [1, 1, 0, 1]], bool))
    np.testing.assert_array_equal(out.data[0], 0)
    assert_finite_gradients(out, [x, *layer.trainable_weights])


@given(mask=masks_with_an_empty_row(), keepdims=st.booleans(), dtype=st.sampled_from(["float32", "float64"]))
def test_masked_average_pooling_gives_zeros_for_an_empty_sequence_and_means_the_others(mask, keepdims, dtype):
    values = np.random.default_rng(3).standard_normal((3, 5, 2)).astype(dtype)
    x = tg.Tensor(values, requires_grad=True)
    out = GlobalAveragePooling1D(keepdims=keepdims)(x, mask=mask)
    expected = np.stack([values[row][mask[row]].mean(axis=0) if mask[row].any() else np.zeros(2, dtype)
                         for row in range(3)])
    np.testing.assert_allclose(out.data.reshape(3, 2), expected, rtol=1e-6)
    assert_finite_gradients(out, [x])
    np.testing.assert_array_equal(x.grad[0], 0)
    assert tg.gradcheck(lambda x: GlobalAveragePooling1D()(x, mask=mask),
                        [tg.Tensor(values.astype(np.float64), requires_grad=True)])


@pytest.mark.parametrize("head", [lambda: GlobalAveragePooling1D(), lambda: LSTM(3), lambda: GRU(3),
                                  lambda: Bidirectional(SimpleRNN(3))])
def test_fit_on_reviews_some_of_which_are_all_padding_stays_finite(head):
    tg.utils.set_random_seed(0)
    ids = np.random.default_rng(4).integers(1, 20, (8, 6))
    ids[::3] = 0  # three reviews of no word at all
    model = Sequential([Embedding(20, 4, mask_zero=True), head(), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(ids, np.array([0, 1] * 4), batch_size=4, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert np.isfinite(model.predict(ids[:1])).all()


def test_an_empty_text_reaches_the_model_as_a_sequence_of_padding_and_gives_a_number():
    vectorize = TextVectorization(max_tokens=20, output_sequence_length=5)
    vectorize.adapt(["a good film", "a bad film"])
    model = Sequential([vectorize, Embedding(20, 3, mask_zero=True), GlobalAveragePooling1D(), Dense(1)])
    out = model.predict(np.array(["", "a good film"]))
    assert np.isfinite(out).all()


def test_a_loss_and_a_metric_with_every_step_masked_give_zero():
    y_pred = tg.Tensor(np.full((2, 3, 1), 0.5), requires_grad=True)
    y_pred._keras_mask = np.zeros((2, 3), bool)
    for reduction in losses.REDUCTIONS:
        value = losses.BinaryCrossentropy(reduction=reduction)(np.ones((2, 3, 1)), y_pred)
        assert np.isfinite(value.data).all() and not value.data.any()
    loss = losses.BinaryCrossentropy()(np.ones((2, 3, 1)), y_pred)
    loss.backward()
    np.testing.assert_array_equal(y_pred.grad, 0)
    metric = metrics.BinaryAccuracy()
    metric.update_state(np.ones((2, 3, 1)), y_pred.data, sample_weight=np.zeros((2, 3)))  # every step weighs 0
    assert metric.result() == 0.0
