"""examples/length_batches.py, the input pipeline of `imdb_lstm.py --fast`, is Keras code: with `keras` for
`tinygrad_embed` in its import it runs in Keras 3 (needs the `parity` extra), gives the same batches, and
Keras's fit and evaluate take them, batches of different lengths, with Embedding(mask_zero=True) and LSTM."""
from pathlib import Path

import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")

SOURCE = Path(__file__).resolve().parent.parent / "examples" / "length_batches.py"


def pipeline(package: str) -> type:
    """LengthBatches, its module's imports taken from `package`."""
    text = SOURCE.read_text()
    assert "from tinygrad_embed.utils import PyDataset, pad_sequences" in text
    namespace: dict = {"__name__": f"length_batches_{package}"}
    exec(compile(text.replace("tinygrad_embed", package), str(SOURCE), "exec"), namespace)
    return namespace["LengthBatches"]


def some_reviews(count: int = 200, seed: int = 0) -> tuple[list[list[int]], np.ndarray]:
    rng = np.random.default_rng(seed)
    reviews = [[1] + rng.integers(2, 50, int(rng.integers(1, 60))).tolist() for _ in range(count)]
    return reviews, rng.integers(0, 2, count)


def test_the_pipeline_runs_in_keras_and_gives_the_same_batches():
    reviews, labels = some_reviews()
    ours, theirs = pipeline("tinygrad_embed")(reviews, labels, 32, 40, 7), pipeline("keras")(reviews, labels, 32, 40, 7)
    assert isinstance(theirs, keras.utils.PyDataset)
    for _ in range(2):
        for index in range(len(ours)):
            (x, y), (keras_x, keras_y) = ours[index], theirs[index]
            np.testing.assert_array_equal(x, keras_x)
            np.testing.assert_array_equal(y, keras_y)
        ours.on_epoch_end()
        theirs.on_epoch_end()


def test_keras_fit_and_evaluate_take_batches_of_different_lengths_with_a_mask():
    reviews, labels = some_reviews()
    LengthBatches = pipeline("keras")

    class Recorded(LengthBatches):
        def __getitem__(self, index):
            x, y = super().__getitem__(index)
            self.widths.append(x.shape[1])
            return x, y

    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input(shape=(None,)), keras.layers.Embedding(50, 8, mask_zero=True),
                              keras.layers.LSTM(6), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    train = Recorded(reviews, labels, batch_size=32, seed=3)
    train.widths = []
    history = model.fit(train, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and len(set(train.widths)) > 3
    ordered = LengthBatches(reviews, labels, batch_size=32, shuffle=False)
    loss, accuracy = model.evaluate(ordered, verbose=0)
    predictions = model.predict(ordered, verbose=0)[:, 0]
    rows = np.concatenate(ordered.batches)  # evaluate counts every review once, in the batches' order
    assert np.isfinite(loss) and accuracy == pytest.approx(np.mean((predictions > 0.5) == labels[rows]))
