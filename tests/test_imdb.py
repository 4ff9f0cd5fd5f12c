"""The IMDB loader on small archives built here, the download path against a local server, and
(when the real archive is at hand) a short training on real reviews."""
import hashlib
import http.server
import io
import os
import tarfile
import threading
from pathlib import Path

import pytest

from tinygrad_embed.datasets import imdb

REVIEWS = {  # path inside the archive -> text
    "aclImdb/train/pos/0_9.txt": "A great film.<br /><br />Great acting, great story, great music.",
    "aclImdb/train/pos/12_10.txt": "Loved it: the best film of the year!",
    "aclImdb/train/neg/3_1.txt": "Awful. The worst film, boring and bad.",
    "aclImdb/train/neg/7_4.txt": "Boring, with a bad ending.",
    "aclImdb/test/pos/1_8.txt": "Une réussite — great, très bien.",
    "aclImdb/test/neg/2_2.txt": "Bad film, bad acting.",
}


def build_archive(path: Path, reviews=REVIEWS) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in {**reviews, "aclImdb/README": "not a review", "aclImdb/imdb.vocab": "the\nfilm"}.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_EMBED_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TINYGRAD_EMBED_IMDB", raising=False)


def test_texts_labels_and_ratings_from_an_archive(tmp_path):
    archive = build_archive(tmp_path / "small.tar.gz")
    (train_texts, train_labels), (test_texts, test_labels) = imdb.load_texts(archive)
    assert len(train_texts) == 4 and len(test_texts) == 2
    assert train_labels.tolist() == [0, 0, 1, 1] and test_labels.tolist() == [0, 1]
    assert "<br />" not in train_texts[2] and train_texts[2].startswith("A great film.")
    assert "réussite" in test_texts[1]
    reviews = imdb.load_reviews(archive)
    assert [(r.split, r.label, r.id, r.rating) for r in reviews][:2] == [("train", 0, 3, 1), ("train", 0, 7, 4)]


def test_an_extracted_directory_reads_the_same(tmp_path):
    archive = build_archive(tmp_path / "small.tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "extracted", filter="data")
    from_directory = imdb.load_reviews(tmp_path / "extracted" / "aclImdb")
    assert from_directory == imdb.load_reviews(archive)
    assert imdb.load_reviews(tmp_path / "extracted") == from_directory


def test_the_environment_variable_and_the_cache_are_found(tmp_path, monkeypatch):
    archive = build_archive(tmp_path / "small.tar.gz")
    monkeypatch.setenv("TINYGRAD_EMBED_IMDB", str(archive))
    assert imdb.locate() == archive
    monkeypatch.delenv("TINYGRAD_EMBED_IMDB")
    cached = Path(os.environ["TINYGRAD_EMBED_CACHE"]) / imdb.ARCHIVE_NAME
    cached.parent.mkdir(parents=True)
    cached.write_bytes(archive.read_bytes())
    assert imdb.locate() == cached


def test_keras_conventions_of_load_data(tmp_path):
    archive = build_archive(tmp_path / "small.tar.gz")
    index = imdb.get_word_index(archive)
    assert min(index, key=index.get) == "great"  # 5 uses, the most frequent word
    (x_train, y_train), (x_test, y_test) = imdb.load_data(archive, num_words=8)
    assert len(x_train) == 4 and len(x_test) == 2 and sorted(y_train.tolist()) == [0, 0, 1, 1]
    assert all(seq[0] == 1 and all(i == 2 or 3 <= i < 8 for i in seq[1:]) for seq in x_train)
    assert [seq.count(index["great"] + 3) for seq in x_train].count(4) == 1  # id = rank 1 + index_from 3
    (shuffled, _), _ = imdb.load_data(archive, seed=1)
    (again, _), _ = imdb.load_data(archive, seed=1)
    assert [list(s) for s in shuffled] == [list(s) for s in again]
    (short, _), _ = imdb.load_data(archive, maxlen=7)
    assert all(len(s) < 7 for s in short) and 0 < len(short) < 4
    (dropped, _), _ = imdb.load_data(archive, num_words=5, oov_char=None, start_char=None, index_from=0)
    assert all(all(i < 5 for i in s) for s in dropped)


def test_a_missing_path_says_what_it_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*aclImdb_v1.tar.gz"):
        imdb.load_texts(tmp_path / "nowhere.tar.gz")
    with pytest.raises(FileNotFoundError, match="TINYGRAD_EMBED_IMDB"):
        imdb.locate(download=False)


def test_a_truncated_archive_is_refused_clearly(tmp_path):
    archive = build_archive(tmp_path / "small.tar.gz")
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated or damaged"):
        imdb.load_texts(archive)


class _Server:
    """Serves one file on 127.0.0.1 for the download tests."""

    def __init__(self, payload: bytes):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass
        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/{imdb.ARCHIVE_NAME}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_download_checks_the_sha256_and_lands_atomically(tmp_path):
    payload = build_archive(tmp_path / "served.tar.gz").read_bytes()
    target = tmp_path / "cache" / imdb.ARCHIVE_NAME
    with _Server(payload) as server:
        path = imdb.fetch(server.url, hashlib.sha256(payload).hexdigest(), target)
    assert path == target and target.read_bytes() == payload
    assert len(imdb.load_texts(target)[0][0]) == 4
    assert [p.name for p in target.parent.iterdir()] == [imdb.ARCHIVE_NAME]


def test_a_checksum_mismatch_is_rejected_and_nothing_is_cached(tmp_path):
    payload = build_archive(tmp_path / "served.tar.gz").read_bytes()
    target = tmp_path / "cache" / imdb.ARCHIVE_NAME
    with _Server(payload) as server, pytest.raises(ValueError, match="sha256.*expected 0000"):
        imdb.fetch(server.url, "0" * 64, target)
    assert list(target.parent.iterdir()) == []


def test_no_network_and_no_copy_says_where_to_put_the_archive(tmp_path):
    with pytest.raises(OSError, match="could not download.*put aclImdb_v1.tar.gz"):
        imdb.fetch("http://127.0.0.1:9/aclImdb_v1.tar.gz", imdb.SHA256, tmp_path / "x.tar.gz", timeout=2)


REAL = os.environ.get("TINYGRAD_EMBED_IMDB") or str(Path(__file__).resolve().parents[2] / "shared/data/aclImdb_v1.tar.gz")


@pytest.mark.skipif(not Path(REAL).exists(), reason="the real IMDB archive is not at hand")
def test_a_short_training_on_real_reviews_beats_chance(monkeypatch):
    from tinygrad_embed.layers import LSTM, Dense, Embedding
    from tinygrad_embed.models import Sequential
    from tinygrad_embed.preprocessing.sequence import pad_sequences
    from tinygrad_embed.utils import set_random_seed

    (x_train, y_train), (x_test, y_test) = imdb.load_data(REAL, num_words=2000)
    set_random_seed(0)
    x, y = pad_sequences(x_train[:4000], maxlen=100), y_train[:4000]
    model = Sequential([Embedding(2000, 16, mask_zero=True), LSTM(16), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=64, verbose=0)
    _, accuracy = model.evaluate(pad_sequences(x_test[:2000], maxlen=100), y_test[:2000], verbose=0)
    assert accuracy > 0.7, f"held-out accuracy {accuracy:.3f}"
