"""Keras 3's seams: fit calls train_step(data) on every batch and evaluate calls test_step(data), so a
subclass that overrides them trains and evaluates its own way, with compute_loss and compute_metrics
doing what compile asked for. The steps below are those of keras.io's guide "Customizing what happens
in fit() with PyTorch", in this project's words (docs/models.md says where they differ)."""
import numpy as np

import tinygrad_embed as keras
from tinygrad_embed.utils import set_random_seed

RNG = np.random.default_rng(0)
X = RNG.random((64, 8)).astype(np.float32)
Y = (X @ RNG.random((8, 1)) + 0.1).astype(np.float32)
WEIGHTS = RNG.random(64).astype(np.float32)


class GuideModel(keras.Model):
    """The guide's train_step and test_step: forward, compute_loss, backward, the optimizer's step on the
    trainable weights, the metrics updated, their results returned."""
    steps_trained = steps_tested = 0

    def train_step(self, data):
        if len(data) == 3:
            x, y, sample_weight = data
        else:
            sample_weight = None
            x, y = data
        y_pred = self(x, training=True)  # the forward pass
        loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
        loss.backward()
        trainable_weights = self.trainable_weights
        self.optimizer.apply_gradients([(v.grad, v) for v in trainable_weights])
        for v in trainable_weights:
            v.zero_grad()  # the leftover gradients, which torch's model.zero_grad() clears
        self.steps_trained += 1
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        self.compute_loss(y=y, y_pred=y_pred, training=False)
        self.steps_tested += 1
        return self.compute_metrics(x, y, y_pred)


def build(cls):
    set_random_seed(7)  # the same initial weights, and the same order of batches in the fit that follows
    inputs = keras.Input(shape=(8,))
    model = cls(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse", metrics=["mae"])
    return model


def trained(cls, **fit_arguments):
    model = build(cls)
    return model, model.fit(X, Y, batch_size=16, verbose=0, **fit_arguments).history


def test_fit_trains_through_an_overridden_train_step_as_through_the_default_one():
    model, history = trained(GuideModel, epochs=6)
    assert model.steps_trained == 24
    assert history["loss"][-1] < history["loss"][0] / 2
    default, expected = trained(keras.Model, epochs=6)
    assert history == expected
    for ours, theirs in zip(model.get_weights(), default.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_the_overridden_train_step_gets_the_sample_weights():
    model, history = trained(GuideModel, sample_weight=WEIGHTS, epochs=2)
    default, expected = trained(keras.Model, sample_weight=WEIGHTS, epochs=2)
    assert history == expected
    assert model.train_on_batch(X, Y, return_dict=True) == default.train_on_batch(X, Y, return_dict=True)
    assert model.steps_trained == 4 * 2 + 1


def test_evaluate_and_fit_validation_go_through_an_overridden_test_step():
    model, default = build(GuideModel), build(keras.Model)
    assert model.evaluate(X, Y, batch_size=16, verbose=0) == default.evaluate(X, Y, batch_size=16, verbose=0)
    assert model.steps_tested == 4
    model.fit(X, Y, batch_size=16, epochs=1, validation_data=(X[:32], Y[:32]), verbose=0)
    assert model.steps_tested == 4 + 2


def test_a_train_step_of_its_own_learns_what_it_was_written_to():
    class Halved(keras.Model):
        """Learns y / 2 from batches of (x, y): a train_step may do anything with `data`."""
        def train_step(self, data):
            x, y = data
            return super().train_step((x, y / 2))

    model, _ = trained(Halved, epochs=100)
    np.testing.assert_allclose(model.predict(X), Y / 2, atol=0.05)
