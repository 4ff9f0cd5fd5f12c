"""examples/transformer_classifier.py builds Keras's model: the same file, imported once as Keras 3 code
(torch backend) and once as tinygrad_embed code, gives models with the same weights, by shape and order,
and, given Keras's weights, the same predictions and the same loss on a batch of reviews; the attention
scores that inspect.attention_scores reads are Keras's too.
Skipped without Keras and torch, except under `make parity` (TINYGRAD_EMBED_PARITY=required)."""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
require("torch")

import tinygrad_embed as tg  # noqa: E402
from tinygrad_embed import inspect  # noqa: E402

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "transformer_classifier.py"


def load_example(name: str, argv: list[str]):
    """The example as a module; it picks its library from sys.argv when imported, as when run."""
    saved = sys.argv
    sys.argv = [str(EXAMPLE), *argv]
    try:
        spec = importlib.util.spec_from_file_location(name, EXAMPLE)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.argv = saved
    return module


@pytest.fixture(scope="module")
def both_models():
    theirs_module = load_example("transformer_classifier_keras", ["--keras"])
    ours_module = load_example("transformer_classifier_ours", [])
    assert theirs_module.keras is keras and ours_module.keras is tg
    keras.utils.set_random_seed(3)
    theirs = theirs_module.build_model()
    ours = ours_module.build_model()
    ours.set_weights([np.asarray(w) for w in theirs.get_weights()])
    return theirs, ours


def reviews(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Padded id rows as the example feeds them: some zeros in front, ids below 20,000, labels 0 or 1."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 20000, size=(count, 200))
    for row, length in zip(x, rng.integers(20, 201, size=count)):
        row[:200 - length] = 0  # pad_sequences pads in front
    return x, rng.integers(0, 2, size=count)


def test_the_weights_have_keras_shapes_in_keras_order():
    keras.utils.set_random_seed(3)
    theirs = load_example("transformer_classifier_keras", ["--keras"]).build_model()
    ours = load_example("transformer_classifier_ours", []).build_model()
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    assert ours.count_params() == theirs.count_params()


def test_same_weights_give_keras_predictions_and_loss(both_models):
    theirs, ours = both_models
    x, y = reviews(16)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
    their_loss, _ = theirs.evaluate(x, y, verbose=0)
    our_loss, _ = ours.evaluate(x, y, verbose=0)
    np.testing.assert_allclose(our_loss, their_loss, rtol=1e-4)


def test_attention_scores_of_the_nested_layer_are_keras(both_models):
    theirs, ours = both_models
    x, _ = reviews(4, seed=1)
    block = next(layer for layer in ours.layers if type(layer).__name__ == "TransformerBlock")
    scores = inspect.attention_scores(ours, x, layer=block.att)
    their_block = next(layer for layer in theirs.layers if type(layer).__name__ == "TransformerBlock")
    embedded = next(layer for layer in theirs.layers if type(layer).__name__ == "TokenAndPositionEmbedding")(x)
    _, their_scores = their_block.att(embedded, embedded, return_attention_scores=True, training=False)
    assert scores.shape == (4, 2, 200, 200)
    np.testing.assert_allclose(scores, keras.ops.convert_to_numpy(their_scores), rtol=1e-4, atol=1e-6)
