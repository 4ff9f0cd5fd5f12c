"""The examples run end to end on a small archive built here (the real dataset is not needed)."""
import os
import subprocess
import sys
from pathlib import Path

from test_imdb import build_archive

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(tmp_path, script):
    archive = build_archive(tmp_path / "aclImdb_v1.tar.gz")
    environment = {**os.environ, "TINYGRAD_EMBED_IMDB": str(archive), "TINYGRAD_EMBED_CACHE": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, str(EXAMPLES / script), "--epochs", "1"], env=environment,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    reports = [line for line in result.stdout.splitlines() if "test accuracy" in line]
    assert all("1 epochs: " in line for line in reports)
    return [line.split(":")[0] for line in reports]


def test_text_models_trains_and_reports_each_model(tmp_path):
    assert run_example(tmp_path, "text_models.py") == ["fasttext", "cnn_lstm", "flatten"]


def test_imdb_recurrent_trains_and_reports_each_model(tmp_path):
    assert run_example(tmp_path, "imdb_recurrent.py") == ["bilstm", "gru", "stacked", "dropout"]


def test_seq2seq_addition_trains_and_reports_each_epoch():
    result = subprocess.run([sys.executable, str(EXAMPLES / "seq2seq_addition.py"), "--size", "2000", "--epochs", "2"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    epochs = [line for line in result.stdout.splitlines() if line.startswith("tinygrad_embed epoch")]
    assert len(epochs) == 2 and all("validation accuracy" in line and "seconds" in line for line in epochs)


def test_imdb_lstm_ends_with_the_test_accuracy_in_either_recipe(tmp_path):
    archive = build_archive(tmp_path / "aclImdb_v1.tar.gz")
    environment = {**os.environ, "TINYGRAD_EMBED_IMDB": str(archive), "TINYGRAD_EMBED_CACHE": str(tmp_path / "cache")}
    for recipe in ("seed", "best"):
        result = subprocess.run([sys.executable, str(EXAMPLES / "imdb_lstm.py"), "--recipe", recipe, "--epochs", "2"],
                                env=environment, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.strip().splitlines()
        assert lines[-1].startswith("test accuracy: 0.") and len(lines[-1]) == len("test accuracy: 0.XXXX")
        seconds = next(line for line in lines if line.startswith("seconds per epoch"))
        assert seconds.count(",") == 1  # two epochs ran
        assert ("Restoring model weights" in result.stdout) == (recipe == "best")


def test_training_by_hand_is_what_fit_does_without_the_bookkeeping(capsys):
    """examples/train_by_hand.py (the learner's first loop) learns, and ends with the weights that
    model.fit gives the same layers from the same seed and batches (no shuffling)."""
    import runpy

    import numpy as np

    from tinygrad_embed.layers import LSTM, Dense, Embedding
    from tinygrad_embed.models import Sequential
    from tinygrad_embed.optimizers import Adam
    from tinygrad_embed.utils import set_random_seed

    by_hand = runpy.run_path(str(EXAMPLES / "train_by_hand.py"), run_name="__main__")
    losses = [float(line.split("loss ")[1]) for line in capsys.readouterr().out.splitlines() if line.startswith("epoch")]
    assert len(losses) == 8 and losses[-1] < 0.75 * losses[0]
    set_random_seed(0)
    model = Sequential([Embedding(50, 8), LSTM(16), Dense(1, activation="sigmoid")])
    model.compile(optimizer=Adam(learning_rate=0.01), loss="binary_crossentropy")
    model.fit(by_hand["reviews"], by_hand["labels"], batch_size=64, epochs=8, shuffle=False, verbose=0)
    hand_weights = [w.data for layer in (by_hand["embed"], by_hand["lstm"], by_hand["dense"])
                    for w in layer.trainable_weights]
    for ours, fitted in zip(hand_weights, model.get_weights()):
        np.testing.assert_allclose(ours, fitted, rtol=1e-5, atol=1e-6)
