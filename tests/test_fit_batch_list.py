"""fit on a Python list of (x, y) batches (issue 28): read batch by batch, a pass per epoch, as the same
batches from a dataset or, for one epoch, a generator. Keras 3 refuses such a list (it reads a list as
arrays, one per input); this project trains on it, as the issue asks, and docs/models.md says so."""
import numpy as np
import pytest

import tinygrad_embed as keras


def model():
    keras.utils.set_random_seed(3)
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    m.compile("sgd", "mse", metrics=["mae"])
    return m


def batch_list(weights=False):
    rng = np.random.default_rng(0)
    return [(rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(4, 1)).astype("float32"))
            + ((rng.random(4).astype("float32"),) if weights else ()) for _ in range(3)]


@pytest.mark.parametrize("weights", [False, True])
def test_a_list_of_batches_trains_as_the_same_batches_from_a_generator(weights):
    def generator():
        yield from batch_list(weights)
    from_list, from_generator = model(), model()
    history = from_list.fit(batch_list(weights), epochs=1, verbose=0).history
    assert history == from_generator.fit(generator(), epochs=1, verbose=0).history
    for ours, theirs in zip(from_list.get_weights(), from_generator.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_a_list_of_batches_is_read_again_each_epoch_and_evaluated():
    trained = model()
    history = trained.fit(batch_list(), epochs=3, verbose=0).history["loss"]
    assert len(history) == 3 and history[-1] < history[0]
    assert trained.evaluate(batch_list(), verbose=0) == trained.evaluate(iter(batch_list()), verbose=0)
    assert trained.predict(batch_list(), verbose=0).shape == (12, 1)


def test_a_list_of_batches_with_y_is_refused():
    with pytest.raises(ValueError, match="y must not be given"):
        model().fit(batch_list(), np.zeros((12, 1)), verbose=0)


def test_rows_given_as_tuples_of_numbers_are_still_samples():
    rows = [(0.1, 0.2, 0.3), (0.4, 0.5, 0.6)]
    trained = model()
    trained.fit(rows, np.array([[1.0], [0.0]]), verbose=0)
    assert trained.predict(rows, verbose=0).shape == (2, 1)
