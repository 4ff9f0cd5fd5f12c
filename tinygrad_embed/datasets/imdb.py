"""The Large Movie Review Dataset (Maas et al., 2011): 25,000 training and 25,000 test reviews of IMDB,
half positive, half negative, read straight from Stanford's aclImdb_v1.tar.gz or an extracted aclImdb/.

Where the archive comes from, first found wins:
  1. the `path` argument (an archive or a directory);
  2. the environment variable TINYGRAD_EMBED_IMDB (an archive or a directory);
  3. the cache directory, ~/.cache/tinygrad_embed/ (or $TINYGRAD_EMBED_CACHE): aclImdb_v1.tar.gz or aclImdb/;
  4. a download of the original from Stanford into the cache, checked against its published sha256.

    (x_train, y_train), (x_test, y_test) = load_data(num_words=5000)   # as keras.datasets.imdb

An archive may come from anywhere, so it is read as untrusted: only regular files are opened (a FIFO
would block the reader), nothing is extracted to disk, a review may hold at most MAX_REVIEW_BYTES (the
longest real one has 14 kB), and the archive may inflate to at most MAX_EXPANSION times its size on disk,
which keeps memory proportional to what is returned. A review that is not UTF-8 is named with its
archive member, and a token cache that is not what this module wrote is refused, naming the file.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import lzma
import tarfile
import zlib
from collections import Counter
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import numpy as np

from ..saving.archive import BOMB_FLOOR, MAX_EXPANSION, read_archive, regular_file, write_archive
from .files import cache_dir, download
from ..preprocessing.text import text_to_word_sequence

URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"  # of the original archive
ARCHIVE_NAME = "aclImdb_v1.tar.gz"
_REVIEW = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
_TOKENS_VERSION = 2  # bump when the tokenisation below changes, so old caches are not reused
MAX_REVIEW_BYTES = 1 << 20  # the longest review of the real archive has 13,704 bytes


class Review(NamedTuple):
    split: str  # "train" or "test"
    label: int  # 1 positive, 0 negative (from the pos/neg folder)
    rating: int  # the star rating, 1-4 or 7-10, from the file name <id>_<rating>.txt
    id: int
    text: str


def locate(path: str | os.PathLike | None = None, download: bool = True) -> Path:
    """The archive or directory to read, following the order above."""
    for candidate, source in ((path, "the path argument"), (os.environ.get("TINYGRAD_EMBED_IMDB"), "TINYGRAD_EMBED_IMDB")):
        if candidate:
            if not Path(candidate).exists():
                raise FileNotFoundError(f"{source} names {str(candidate)!r}, which does not exist; it should be "
                                        f"{ARCHIVE_NAME} or an extracted aclImdb/ directory")
            return Path(candidate)
    for cached in (cache_dir() / ARCHIVE_NAME, cache_dir() / "aclImdb"):
        if cached.exists():
            return cached
    if not download:
        raise FileNotFoundError(_where_to_put_it())
    return fetch()


def _where_to_put_it() -> str:
    return (f"no copy of the IMDB dataset was found: put {ARCHIVE_NAME} (from {URL}) in {cache_dir()}, or set "
            f"TINYGRAD_EMBED_IMDB to the archive or to an extracted aclImdb/ directory")


def fetch(url: str = URL, sha256: str = SHA256, destination: Path | None = None, timeout: float = 30) -> Path:
    """Download the archive into the cache, showing progress; it only lands under its final name once
    complete and matching `sha256`, so a partial or corrupt download never counts as the dataset."""
    return download(url, Path(destination or cache_dir() / ARCHIVE_NAME), sha256, timeout=timeout,
                    where_to_put_it=_where_to_put_it())


def _clean(raw: bytes, where: str) -> str:
    """A review's text, "<br />" tags turned into spaces; ValueError naming `where` when it is not UTF-8."""
    try:
        return raw.decode("utf-8").replace("<br />", " ")
    except UnicodeDecodeError as error:
        raise ValueError(f"{where} is not UTF-8 text: {error.reason} at byte {error.start}") from None


def _review_of(match: re.Match, size: int, where: str, read: Any) -> Review:
    if size > MAX_REVIEW_BYTES:
        raise ValueError(f"{where} holds {size} bytes, more than a review's limit of {MAX_REVIEW_BYTES} "
                         "(MAX_REVIEW_BYTES); refused")
    split, folder, review_id, rating = match.groups()
    return Review(split, int(folder == "pos"), int(rating), int(review_id), _clean(read(), where))


def _reviews_in_archive(archive: Path) -> Iterator[Review]:
    limit = max(BOMB_FLOOR, MAX_EXPANSION * archive.stat().st_size)
    try:
        with tarfile.open(regular_file(archive), "r:*") as tar:
            while (member := tar.next()) is not None:
                tar.members.clear()  # tarfile keeps every header it has read: memory would grow with the members
                where = f"member {member.name!r} of {str(archive)!r}"
                if member.offset_data + member.size > limit:
                    raise ValueError(f"{str(archive)!r} inflates past {limit} bytes at {where} ({MAX_EXPANSION} times "
                                     f"its size on disk, at least {BOMB_FLOOR}): refused as a decompression bomb")
                match = _REVIEW.search(member.name)
                if match and member.isfile():
                    yield _review_of(match, member.size, where, lambda: tar.extractfile(member).read())
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as error:
        raise ValueError(f"{str(archive)!r} is not a readable {ARCHIVE_NAME} (truncated or damaged): {error}") from None


def _reviews_in_directory(directory: Path) -> Iterator[Review]:
    root = directory if directory.name == "aclImdb" else directory / "aclImdb"
    for file in sorted(root.glob("*/*/*.txt")):
        match = _REVIEW.search(file.relative_to(root.parent).as_posix())
        if match:
            path = regular_file(file)  # a FIFO or a device among the reviews is refused, never read
            yield _review_of(match, os.path.getsize(path), repr(path), file.read_bytes)


def load_reviews(path: str | os.PathLike | None = None) -> list[Review]:
    """Every labelled review with its split, label, rating and id, in a fixed order: train before test,
    negative before positive, then by id."""
    source = locate(path)
    reviews = list(_reviews_in_directory(source) if source.is_dir() else _reviews_in_archive(source))
    if not reviews:
        raise ValueError(f"{str(source)!r} holds no reviews laid out as aclImdb/{{train,test}}/{{pos,neg}}/<id>_<rating>.txt")
    return sorted(reviews, key=lambda r: (r.split != "train", r.label, r.id))


def load_texts(path: str | os.PathLike | None = None):
    """((train_texts, train_labels), (test_texts, test_labels)): the raw reviews ("<br />" tags turned
    into spaces) and their labels, 1 positive, 0 negative. load_reviews also gives the ratings."""
    reviews = load_reviews(path)
    return tuple(([r.text for r in reviews if r.split == split],
                  np.array([r.label for r in reviews if r.split == split], np.int64)) for split in ("train", "test"))


def _tokenised(path) -> dict:
    """Every review as word ranks (1 = the most frequent word over all 50,000 reviews; ties in
    first-seen order), cached next to the archive's copy in the cache directory, keyed by the
    archive's path, size and time, so that a second load takes a fraction of a second."""
    source = locate(path).resolve()
    stat = source.stat()
    key = hashlib.sha256(f"{_TOKENS_VERSION}|{source}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    cached = cache_dir() / f"imdb-tokens-{key}.npz"
    if cached.exists():
        return _checked_cache(read_archive(cached), cached)
    reviews = load_reviews(source)
    words = [text_to_word_sequence(r.text) for r in reviews]
    counts = Counter(w for review in words for w in review)
    vocabulary = sorted(counts, key=counts.get, reverse=True)  # stable sort: ties keep first-seen order
    rank = {w: i for i, w in enumerate(vocabulary, start=1)}
    tokens = {"ids": np.array([rank[w] for review in words for w in review], np.int32),
              "lengths": np.array([len(review) for review in words], np.int64),
              "labels": np.array([r.label for r in reviews], np.int64),
              "is_train": np.array([r.split == "train" for r in reviews]),
              "vocabulary": np.array(json.dumps(vocabulary))}
    cached.parent.mkdir(parents=True, exist_ok=True)
    write_archive(cached, tokens)
    return tokens


def _checked_cache(tokens: dict, cached: Path) -> dict:
    """The token cache as _tokenised wrote it, or ValueError naming the file and what is wrong with it."""
    problem = _cache_problem(tokens)
    if problem:
        raise ValueError(f"{str(cached)!r} is not a token cache this module wrote ({problem}); delete it and it "
                         "is rebuilt from the archive")
    return tokens


def _cache_problem(tokens: dict) -> str | None:
    for name, kinds, dims in (("ids", "iu", 1), ("lengths", "iu", 1), ("labels", "iu", 1), ("is_train", "b", 1),
                              ("vocabulary", "U", 0)):
        if name not in tokens:
            return f"it has no {name!r}"
        if tokens[name].dtype.kind not in kinds or tokens[name].ndim != dims:
            return f"its {name!r} is a {tokens[name].ndim}-D array of {tokens[name].dtype}"
    ids, lengths, labels = tokens["ids"], tokens["lengths"], tokens["labels"]
    if not len(lengths) == len(labels) == len(tokens["is_train"]):
        return "its lengths, labels and splits differ in number"
    if lengths.size and (lengths.min() < 0 or lengths.max() > ids.size) or int(lengths.sum()) != ids.size:
        return f"its lengths do not add up to its {ids.size} ids"
    if not np.isin(labels, (0, 1)).all():
        return "its labels are not all 0 or 1"
    try:
        vocabulary = json.loads(str(tokens["vocabulary"]))
    except (ValueError, RecursionError):
        vocabulary = None
    if not isinstance(vocabulary, list) or not all(isinstance(word, str) for word in vocabulary):
        return "its vocabulary is not a JSON list of words"
    if ids.size and (ids.min() < 1 or ids.max() > len(vocabulary)):
        return f"its ids leave the range 1..{len(vocabulary)} of its vocabulary"
    return None


def get_word_index(path: str | os.PathLike | None = None) -> dict[str, int]:
    """word -> rank, 1 for the most frequent; load_data's ids are rank + index_from."""
    return {w: i for i, w in enumerate(json.loads(str(_tokenised(path)["vocabulary"])), start=1)}


def load_data(path: str | os.PathLike | None = None, num_words: int | None = None, skip_top: int = 0,
              maxlen: int | None = None, seed: int = 113, start_char: int | None = 1, oov_char: int | None = 2,
              index_from: int = 3):
    """((x_train, y_train), (x_test, y_test)) with keras.datasets.imdb.load_data's conventions: each
    review a list of ids, id = word rank + index_from, starting with start_char; words outside
    [skip_top, num_words) become oov_char (or are dropped when it is None); reviews of maxlen words or
    more are dropped; each split shuffled with `seed`."""
    tokens = _tokenised(path)
    starts = np.concatenate([[0], np.cumsum(tokens["lengths"])])
    sequences = [tokens["ids"][a:b].astype(np.int64) + index_from for a, b in zip(starts[:-1], starts[1:])]
    if start_char is not None:
        sequences = [np.concatenate([[start_char], s]) for s in sequences]
    limit = num_words if num_words else max(int(s.max(initial=0)) for s in sequences) + 1
    if oov_char is not None:
        sequences = [np.where((s >= skip_top) & (s < limit), s, oov_char) for s in sequences]
    else:
        sequences = [s[(s >= skip_top) & (s < limit)] for s in sequences]
    rng = np.random.RandomState(seed)
    splits = []
    for in_split in (tokens["is_train"], ~tokens["is_train"]):
        chosen = np.flatnonzero(in_split)
        rng.shuffle(chosen)
        if maxlen is not None:
            chosen = np.array([i for i in chosen if len(sequences[i]) < maxlen], np.int64)
        x = np.empty(len(chosen), dtype=object)
        x[:] = [sequences[i].tolist() for i in chosen]
        splits.append((x, tokens["labels"][chosen]))
    return tuple(splits)


def decode_review(ids: Any, index_offset: int = 3, word_index: dict[str, int] | None = None) -> str:
    """One review's words from load_data's ids, joined by spaces: id i is the word of rank
    i - index_offset, and "?" stands for an id that names no word (padding 0, start 1, out-of-vocabulary 2).
    word_index defaults to get_word_index(); pass it in when decoding many reviews."""
    ids = np.asarray(ids)
    if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
        raise ValueError(f"decode_review takes one review, a 1-D sequence of integer ids; got shape {ids.shape} "
                         f"of dtype {ids.dtype}")
    word_index = get_word_index() if word_index is None else word_index
    words = {rank + index_offset: word for word, rank in word_index.items()}
    return " ".join(words.get(int(i), "?") for i in ids)
