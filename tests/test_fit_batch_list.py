"""fit on a Python list of (x, y) batches. Keras 3 refuses it (it reads a list as arrays, one per input:
"Invalid dtype: object"), so this project refuses it too, with an error that names the fix; the same
batches through an iterator train as they do from a generator."""
import numpy as np
import pytest

import tinygrad_embed as keras


def model():
    keras.utils.set_random_seed(3)
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    m.compile("sgd", "mse")
    return m


def batch_list():
    rng = np.random.default_rng(0)
    return [(rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(4, 1)).astype("float32")) for _ in range(3)]


@pytest.mark.parametrize("method", ["fit", "evaluate"])
def test_a_list_of_batches_is_refused_naming_the_fix(method):
    with pytest.raises(ValueError, match=r"list of 3 tuples.*iter\(batches\)"):
        getattr(model(), method)(batch_list(), verbose=0)


def test_the_same_batches_from_an_iterator_train_as_from_a_generator():
    def generator():
        yield from batch_list()
    from_iterator = model().fit(iter(batch_list()), epochs=1, verbose=0).history["loss"]
    from_generator = model().fit(generator(), epochs=1, verbose=0).history["loss"]
    assert from_iterator == from_generator
