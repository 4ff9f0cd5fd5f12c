"""`examples/imdb_lstm.py --fast` and its input pipeline (examples/length_batches.py), on a small archive built
here: each epoch holds every review once, batches hold reviews of similar length padded at the front to their
own longest, the batch order is new each epoch and the same for the same seed, and a model with
mask_zero=True trains on these batches of different lengths and predicts what it predicts on reviews
padded to 500."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from test_imdb import build_archive
from tinygrad_embed.datasets import imdb
from tinygrad_embed.layers import LSTM, Dense, Embedding, Input
from tinygrad_embed.models import Sequential
from tinygrad_embed.preprocessing.sequence import pad_sequences
from tinygrad_embed.utils import set_random_seed

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
sys.path.insert(0, str(EXAMPLES))
from length_batches import LengthBatches  # noqa: E402

WORDS = "good bad great awful film story acting plot boring loved hated music ending".split()


def reviews(split: str, count: int, seed: int) -> dict[str, str]:
    """count reviews of 1 to 80 words (IMDB's shape in small: most short, a few long), half of each label."""
    rng = np.random.default_rng(seed)
    texts = {}
    for i in range(count):
        label = "pos" if i % 2 else "neg"
        length = int(min(80, 1 + rng.exponential(20)))
        texts[f"aclImdb/{split}/{label}/{i}_{8 if label == 'pos' else 2}.txt"] = " ".join(rng.choice(WORDS, length))
    return texts


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    folder = tmp_path_factory.mktemp("imdb_fast")
    return build_archive(folder / "aclImdb_v1.tar.gz", {**reviews("train", 300, 1), **reviews("test", 100, 2)})


@pytest.fixture(scope="module")
def train(archive, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TINYGRAD_EMBED_CACHE", str(tmp_path_factory.mktemp("cache")))
        (x_train, y_train), _ = imdb.load_data(archive, num_words=5000)
    return x_train, y_train


def epochs_of(batches: LengthBatches, count: int) -> list[list[np.ndarray]]:
    """The rows of each batch, for count epochs in a row (on_epoch_end between them, as fit calls it)."""
    epochs = []
    for _ in range(count):
        epochs.append([np.array(rows) for rows in batches.batches])
        batches.on_epoch_end()
    return epochs


def test_the_fast_run_trains_evaluates_and_reports_its_wall_time(archive, tmp_path):
    environment = {**os.environ, "TINYGRAD_EMBED_IMDB": str(archive), "TINYGRAD_EMBED_CACHE": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, str(EXAMPLES / "imdb_lstm.py"), "--fast", "--epochs", "2"],
                            env=environment, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1].startswith("test accuracy: 0.") and len(lines[-1]) == len("test accuracy: 0.XXXX")
    assert next(line for line in lines if line.startswith("seconds per epoch")).count(",") == 1  # two epochs
    total = next(line for line in lines if line.startswith("total seconds from the start of the script: "))
    assert float(total.rsplit(" ", 1)[1]) > 0
    padding = next(line for line in lines if line.startswith("loaded 400 reviews"))
    assert "padding:" in padding and "padded to 500" in padding


def test_every_review_is_in_exactly_one_batch_each_epoch(train):
    x_train, y_train = train
    data = LengthBatches(x_train, y_train, batch_size=16, seed=3)
    assert len(data) == 19  # 300 reviews: 18 batches of 16 and one of 12
    for epoch in epochs_of(data, 3):
        assert sorted(np.concatenate(epoch).tolist()) == list(range(300))
        assert sorted(len(rows) for rows in epoch) == [12] + [16] * 18


def test_a_batch_is_its_reviews_padded_at_the_front_to_its_longest_and_cut_to_their_last_words(train):
    x_train, y_train = train
    data = LengthBatches(x_train, y_train, batch_size=16, maxlen=40, seed=3)
    assert max(map(len, x_train)) > 40  # some reviews are cut
    widths = set()
    for index in range(len(data)):
        x, y = data[index]
        rows = data.batches[index]
        kept = [list(x_train[i])[-40:] for i in rows]  # "pre" truncation: the last 40 ids
        assert x.shape == (len(rows), max(map(len, kept)))
        assert x.tolist() == [[0] * (x.shape[1] - len(k)) + k for k in kept]
        assert y.tolist() == [float(y_train[i]) for i in rows]
        widths.add(x.shape[1])
    assert len(widths) > 5  # the batches differ in length


def test_without_maxlen_every_review_is_whole(train):
    x_train, y_train = train
    data = LengthBatches(x_train, y_train, batch_size=16, maxlen=None, seed=3)
    assert max(map(len, x_train)) > 40  # what maxlen=40 would cut (the test above)
    for index in range(len(data)):
        x, _ = data[index]
        kept = [list(x_train[i]) for i in data.batches[index]]
        assert x.tolist() == [[0] * (x.shape[1] - len(k)) + k for k in kept]


def test_batches_hold_reviews_of_similar_length_with_little_padding(train):
    x_train, y_train = train
    data = LengthBatches(x_train, y_train, batch_size=16, seed=3)
    lengths = np.array([len(r) for r in x_train])
    spans = sorted((lengths[rows].min(), lengths[rows].max()) for rows in data.batches)
    assert all(high <= next_low for (_, high), (next_low, _) in zip(spans, spans[1:]))  # neighbours in length
    padded_to_500 = 1 - lengths.mean() / 500
    assert padded_to_500 > 0.9 and data.padding_fraction() < padded_to_500 / 10
    steps = sum(data[i][0].size for i in range(len(data)))  # what the model is handed
    assert data.padding_fraction() == pytest.approx(1 - lengths.sum() / steps)


def test_the_order_changes_each_epoch_and_a_seed_repeats_it(train):
    x_train, y_train = train
    first, again = (epochs_of(LengthBatches(x_train, y_train, batch_size=16, seed=5), 3) for _ in range(2))
    other = epochs_of(LengthBatches(x_train, y_train, batch_size=16, seed=6), 3)
    flat = [[row.tolist() for row in epoch] for epoch in first]
    assert flat == [[row.tolist() for row in epoch] for epoch in again]
    assert flat != [[row.tolist() for row in epoch] for epoch in other]
    assert flat[0] != flat[1] != flat[2]
    lengths = np.array([len(r) for r in x_train])
    widths = [int(lengths[rows].max()) for rows in first[0]]
    assert widths != sorted(widths)  # not short to long: the batch order is shuffled


def test_evaluation_batches_keep_one_order_from_short_to_long(train):
    x_train, y_train = train
    data = LengthBatches(x_train, y_train, batch_size=16, shuffle=False)
    first, second = epochs_of(data, 2)
    assert [r.tolist() for r in first] == [r.tolist() for r in second]
    lengths = np.array([len(r) for r in x_train])
    assert np.all(np.diff(lengths[np.concatenate(first)]) >= 0)


class Recorded(LengthBatches):
    """Which batches fit asked for, and the widths it was handed."""

    def __getitem__(self, index):
        x, y = super().__getitem__(index)
        self.asked.append(index)
        self.widths.append(x.shape[1])
        return x, y


def test_fit_takes_batches_of_different_lengths_and_the_mask_makes_padding_harmless(train):
    x_train, y_train = train
    set_random_seed(2)
    model = Sequential([Input(shape=(None,)), Embedding(5000, 8, mask_zero=True), LSTM(6),
                        Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    data = Recorded(x_train, y_train, batch_size=32, seed=1)
    data.asked, data.widths = [], []
    history = model.fit(data, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and len(set(data.widths)) > 3
    assert sorted(data.asked[-len(data):]) == list(range(len(data)))  # the second epoch asked for each batch once
    ordered = LengthBatches(x_train, y_train, batch_size=32, shuffle=False)
    by_length = model.predict(ordered, verbose=0)[:, 0]
    rows = np.concatenate(ordered.batches)
    padded = pad_sequences(x_train, maxlen=500)[rows]  # the seed recipe's arrays, in the same order
    np.testing.assert_allclose(by_length, model.predict(padded, batch_size=32, verbose=0)[:, 0], rtol=1e-5, atol=1e-6)
    loss, accuracy = model.evaluate(ordered, verbose=0)
    dense_loss, dense_accuracy = model.evaluate(padded, y_train[rows], batch_size=32, verbose=0)
    assert accuracy == pytest.approx(dense_accuracy) and loss == pytest.approx(dense_loss, rel=1e-5)
