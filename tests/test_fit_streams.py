"""fit, evaluate and predict on streams of batches: each kind of input trains to exactly the weights
that fit on the same batches as arrays gives (same seed, no shuffling), and bad streams are refused."""
import warnings

import numpy as np
import pytest

from tinygrad_embed.data import Dataset
from tinygrad_embed.layers import Dense, Embedding, GlobalAveragePooling1D, Input, TextVectorization
from tinygrad_embed.models import Sequential
from tinygrad_embed.utils import PyDataset, set_random_seed

rng = np.random.default_rng(0)
X = rng.standard_normal((12, 4)).astype(np.float32)
Y = rng.integers(0, 2, (12, 1)).astype(np.float32)
BATCH = 4  # three batches per pass


def model():
    set_random_seed(7)
    net = Sequential([Input(shape=(4,)), Dense(3, activation="relu"), Dense(1, activation="sigmoid")])
    net.compile("adam", "binary_crossentropy", ["accuracy"])
    return net


def batches(x=X, y=Y):
    return [(x[i:i + BATCH], y[i:i + BATCH]) for i in range(0, len(x), BATCH)]


def fitted_on_arrays(epochs=1):
    net = model()
    history = net.fit(X, Y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0)
    return net.get_weights(), history.history


class Batches(PyDataset):
    def __init__(self):
        super().__init__()
        self.ends = 0

    def __len__(self):
        return len(batches())

    def __getitem__(self, index):
        return batches()[index]

    def on_epoch_end(self):
        self.ends += 1


class FakeTensor:
    """Stands for a tf.Tensor: data comes out through .numpy()."""

    def __init__(self, array):
        self._array = array

    def numpy(self):
        return self._array


class FakeTFDataset:
    """Stands for a tf.data.Dataset: as_numpy_iterator, a length, batches of tensors."""

    def __len__(self):
        return len(batches())

    def as_numpy_iterator(self):
        return iter([(FakeTensor(x), FakeTensor(y)) for x, y in batches()])


class Iterable:
    """Any object with __iter__: each pass a new iterator."""

    def __iter__(self):
        return iter(batches())


STREAMS = {
    "dataset": lambda: Dataset.from_tensor_slices((X, Y)).batch(BATCH),
    "pydataset": Batches,
    "tf.data stand-in": FakeTFDataset,
    "iterable": Iterable,
}


@pytest.mark.parametrize("kind", sorted(STREAMS))
def test_each_stream_trains_to_the_weights_of_the_same_batches_as_arrays(kind):
    expected, expected_logs = fitted_on_arrays(epochs=2)
    net = model()
    history = net.fit(STREAMS[kind](), epochs=2, verbose=0)
    for ours, theirs in zip(net.get_weights(), expected):
        np.testing.assert_array_equal(ours, theirs)
    assert history.history == expected_logs


def test_a_generator_with_steps_per_epoch():
    expected, _ = fitted_on_arrays(epochs=2)

    def forever():
        while True:
            yield from batches()
    net = model()
    net.fit(forever(), steps_per_epoch=3, epochs=2, verbose=0)
    for ours, theirs in zip(net.get_weights(), expected):
        np.testing.assert_array_equal(ours, theirs)


def test_steps_per_epoch_carries_one_pass_across_epochs():
    expected, _ = fitted_on_arrays(epochs=1)  # three epochs of one batch read the three batches of one pass
    net = model()
    history = net.fit(Dataset.from_tensor_slices((X, Y)).batch(BATCH), steps_per_epoch=1, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3
    for ours, theirs in zip(net.get_weights(), expected):
        np.testing.assert_array_equal(ours, theirs)


def test_pydataset_epoch_hook_runs_after_each_epoch():
    data = Batches()
    model().fit(data, epochs=3, verbose=0)
    assert data.ends == 3


def test_validation_evaluate_and_predict_on_datasets_equal_arrays():
    dataset = Dataset.from_tensor_slices((X, Y)).batch(BATCH)
    net = model()
    with_arrays = net.fit(X, Y, batch_size=BATCH, shuffle=False, verbose=0, validation_data=(X, Y)).history
    net = model()
    with_dataset = net.fit(dataset, verbose=0, validation_data=dataset).history
    assert with_dataset == with_arrays
    assert net.evaluate(dataset, verbose=0) == net.evaluate(X, Y, batch_size=BATCH, verbose=0)
    np.testing.assert_array_equal(net.predict(dataset), net.predict(X, batch_size=BATCH))
    np.testing.assert_array_equal(net.predict(dataset.map(lambda x, y: x)), net.predict(X))


def test_sample_weights_scale_each_sample_loss():
    net = model()
    plain = net.evaluate(X, Y, verbose=0)[0]
    doubled = net.evaluate(Dataset.from_tensor_slices((X, Y, np.full(12, 2.0))).batch(BATCH), verbose=0)[0]
    np.testing.assert_allclose(doubled, 2 * plain, rtol=1e-6)  # the mean of 2 * loss_i
    # the accuracy is a weighted mean: uniform weights leave it as it is
    ones = Dataset.from_tensor_slices((X, Y, np.ones(12))).batch(BATCH)
    weighted, plain = net.evaluate(ones, verbose=0)[1], net.evaluate(X, Y, verbose=0)[1]
    np.testing.assert_allclose(weighted, plain, rtol=1e-7)  # 8/12 either way, one in float64, one in float32


def test_progress_bar_shows_the_known_step_count(capsys):
    model().fit(Dataset.from_tensor_slices((X, Y)).batch(BATCH), epochs=1, verbose=1)
    assert "3/3" in capsys.readouterr().out


def test_a_text_dataset_trains_a_model_that_starts_from_strings():
    texts = np.array(["good film", "bad film", "good plot", "bad acting"] * 3)
    labels = np.array([1.0, 0.0, 1.0, 0.0] * 3)
    vectorize = TextVectorization(output_sequence_length=2)
    vectorize.adapt(texts)

    def text_model():
        set_random_seed(3)
        net = Sequential([vectorize, Embedding(vectorize.vocabulary_size(), 2), GlobalAveragePooling1D(), Dense(1)])
        net.compile("adam", "mse")
        return net
    net = text_model()
    net.fit(texts, labels, batch_size=BATCH, shuffle=False, verbose=0)
    expected = net.get_weights()
    net = text_model()
    net.fit(Dataset.from_tensor_slices((texts, labels)).batch(BATCH), verbose=0)
    for ours, theirs in zip(net.get_weights(), expected):
        np.testing.assert_array_equal(ours, theirs)


def test_bad_streams_are_refused_with_the_reason():
    dataset = Dataset.from_tensor_slices((X, Y)).batch(BATCH)
    with pytest.raises(ValueError, match="batch_size must not be given"):
        model().fit(dataset, batch_size=4, verbose=0)
    with pytest.raises(ValueError, match="y must not be given"):
        model().fit(dataset, Y, verbose=0)
    with pytest.raises(ValueError, match="empty"):
        model().fit(dataset.take(0), verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        model().fit(dataset, validation_split=0.5, verbose=0)
    with pytest.raises(TypeError, match="string labels"):
        model().fit(Dataset.from_tensor_slices((X, np.array(["pos"] * 12))).batch(BATCH), verbose=0)
    with pytest.raises(ValueError, match="x alone"):
        model().fit(Dataset.from_tensor_slices(X).batch(BATCH), verbose=0)
    with pytest.raises(ValueError, match="repeats forever"):
        model().fit(dataset.repeat(), verbose=0)
    with pytest.raises(ValueError, match="runs only once"):
        model().fit((b for b in batches()), epochs=2, verbose=0)


def test_running_out_of_data_warns_and_stops_as_keras():
    net = model()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = net.fit(iter(batches()), steps_per_epoch=2, epochs=5, verbose=0)
    assert any("ran out of data" in str(w.message) for w in caught)
    assert len(history.history["loss"]) == 2  # 2 batches, then the last one and the warning: training stops


def test_the_text_pipeline_example_runs_on_a_small_archive(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from test_imdb import build_archive
    reviews = {f"aclImdb/{split}/{label}/{i}_{7 if label == 'pos' else 2}.txt": f"{word} film number {i}<br />yes."
               for split in ("train", "test") for label, word in (("pos", "great"), ("neg", "awful")) for i in range(5)}
    archive = build_archive(tmp_path / "aclImdb_v1.tar.gz", reviews)
    environment = {**os.environ, "TINYGRAD_EMBED_IMDB": str(archive), "TINYGRAD_EMBED_CACHE": str(tmp_path / "cache")}
    script = Path(__file__).resolve().parent.parent / "examples" / "text_pipeline.py"
    result = subprocess.run([sys.executable, str(script), "--epochs", "1", "--out", str(tmp_path / "projector")],
                            env=environment, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "Using 8 files for training." in result.stdout and "test accuracy" in result.stdout
    words = (tmp_path / "projector" / "metadata.tsv").read_text().split()
    vectors = (tmp_path / "projector" / "vectors.tsv").read_text().splitlines()
    assert "great" in words and "br" not in words and len(vectors) == len(words)  # "<br />" went before the split
    assert all(len(line.split("\t")) == 16 for line in vectors)
