"""examples/transformer_classifier.py runs end to end on a small archive built here: it prints the seconds
of each epoch and ends with the test accuracy; the arrays it exports for a peer Python (--export-data) train
the same as the archive they came from (--data)."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from test_imdb import build_archive

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "transformer_classifier.py"


def run(tmp_path: Path, *arguments: str) -> list[str]:
    archive = build_archive(tmp_path / "aclImdb_v1.tar.gz")
    environment = {**os.environ, "TINYGRAD_EMBED_IMDB": str(archive), "TINYGRAD_EMBED_CACHE": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, str(EXAMPLE), *arguments], env=environment, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()


def test_it_trains_and_reports_seconds_per_epoch_and_test_accuracy(tmp_path):
    weights = tmp_path / "model.weights.h5"
    lines = run(tmp_path, "--epochs", "2", "--seed", "4", "--save", str(weights))
    assert lines[:2] == ["4 Training sequences", "2 Validation sequences"]
    seconds = next(line for line in lines if line.startswith("tinygrad_embed seconds per epoch"))
    assert len(seconds.split(": ")[1].split(", ")) == 2  # two epochs, each timed
    assert lines[-1].startswith("test accuracy: ") and float(lines[-1].split(": ")[1]) in (0.0, 0.5, 1.0)
    assert weights.stat().st_size > 20000 * 32 * 4  # the token table alone is 20,000 x 32 float32


def test_exported_arrays_are_the_loaders_and_train_alike(tmp_path):
    exported = tmp_path / "arrays.npz"
    assert run(tmp_path, "--export-data", str(exported)) == [f"wrote {exported}"]
    arrays = np.load(exported)
    assert arrays["x_train"].shape == (4, 200) and arrays["x_val"].shape == (2, 200)
    assert arrays["y_train"].tolist().count(1) == 2 and arrays["x_train"].max() < 20000
    assert (arrays["x_train"][:, -1] != 0).all() and (arrays["x_train"][:, 0] == 0).all()  # padded in front
    from_archive = run(tmp_path, "--limit", "3", "--epochs", "1")
    from_file = run(tmp_path, "--limit", "3", "--epochs", "1", "--data", str(exported))
    assert from_archive[0] == "3 Training sequences" and from_archive[-1] == from_file[-1]


def test_the_attention_figure_is_drawn_from_saved_weights(tmp_path):
    """docs/figures/attention_heatmap.py reads the example's saved weights and draws real test reviews."""
    import pytest
    pytest.importorskip("matplotlib")
    weights, figure = tmp_path / "model.weights.h5", tmp_path / "heatmap.png"
    run(tmp_path, "--epochs", "1", "--save", str(weights))
    script = EXAMPLE.parent.parent / "docs" / "figures" / "attention_heatmap.py"
    environment = {**os.environ, "TINYGRAD_EMBED_IMDB": str(tmp_path / "aclImdb_v1.tar.gz"),
                   "TINYGRAD_EMBED_CACHE": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, str(script), str(weights), "--reviews", "2", "--out", str(figure)],
                            env=environment, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {figure}" and figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
