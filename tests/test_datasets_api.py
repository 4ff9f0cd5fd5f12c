"""The tf.data-like Dataset (each method against the same thing done with plain Python lists) and
text_dataset_from_directory (Keras's class inference, split rule, label modes, printout, errors)."""
import itertools
import os

import numpy as np
import pytest

import tinygrad_embed
from tinygrad_embed.data import INFINITE, UNKNOWN, Dataset
from tinygrad_embed.utils import AUTOTUNE, PyDataset, Sequence, text_dataset_from_directory

NUMBERS = list(range(10))


def numbers() -> Dataset:
    return Dataset.from_tensor_slices(np.array(NUMBERS))


def values(dataset):
    return [np.asarray(e).tolist() for e in dataset]


def test_from_tensor_slices_and_iteration():
    assert values(numbers()) == NUMBERS and len(numbers()) == 10
    pairs = Dataset.from_tensor_slices((np.array(["a", "b"]), np.array([1, 2])))
    assert [(str(x), int(y)) for x, y in pairs.as_numpy_iterator()] == [("a", 1), ("b", 2)]
    with pytest.raises(ValueError, match="same number of rows"):
        Dataset.from_tensor_slices((np.zeros(2), np.zeros(3)))


def test_map_batch_unbatch():
    assert values(numbers().map(lambda x: x * 2)) == [2 * n for n in NUMBERS]
    batches = numbers().batch(4)
    assert values(batches) == [NUMBERS[0:4], NUMBERS[4:8], NUMBERS[8:10]] and len(batches) == 3
    assert values(numbers().batch(4, drop_remainder=True)) == [NUMBERS[0:4], NUMBERS[4:8]]
    assert values(batches.unbatch()) == NUMBERS
    assert batches.unbatch().cardinality() == UNKNOWN  # as tf.data: not known without reading it


def test_batches_of_texts_are_object_arrays_and_tuples_batch_column_by_column():
    pairs = Dataset.from_tensor_slices((np.array([b"x", b"yy", b"z"], dtype=object), np.array([0, 1, 0])))
    texts, labels = next(iter(pairs.batch(2)))
    assert texts.dtype == object and texts.tolist() == [b"x", b"yy"] and labels.tolist() == [0, 1]


def test_take_skip_repeat_and_their_lengths():
    assert values(numbers().take(3)) == NUMBERS[:3] and len(numbers().take(3)) == 3
    assert values(numbers().take(-1)) == NUMBERS
    assert values(numbers().skip(7)) == NUMBERS[7:] and len(numbers().skip(7)) == 3
    assert values(numbers().take(2).repeat(3)) == [0, 1] * 3 and len(numbers().take(2).repeat(3)) == 6
    forever = numbers().repeat()
    assert forever.cardinality() == INFINITE and values(itertools.islice(forever, 12)) == NUMBERS + NUMBERS[:2]
    with pytest.raises(TypeError, match="infinite"):
        len(forever)


def test_shuffle_is_a_permutation_reproducible_by_seed_and_new_each_pass():
    shuffled = numbers().shuffle(4, seed=1)
    first, second = values(shuffled), values(shuffled)
    assert sorted(first) == NUMBERS and sorted(second) == NUMBERS
    assert first != second  # reshuffle_each_iteration=True by default
    assert values(numbers().shuffle(4, seed=1)) == first  # same seed, same first pass
    fixed = numbers().shuffle(4, seed=1, reshuffle_each_iteration=False)
    assert values(fixed) == values(fixed)
    # a buffer of 1 can only hand on the element it holds: no shuffling at all
    assert values(numbers().shuffle(1, seed=3)) == NUMBERS


def test_cache_reads_the_source_once():
    reads = []
    source = numbers().map(lambda x: reads.append(int(x)) or x)
    cached = source.cache()
    assert values(cached) == NUMBERS and values(cached) == NUMBERS
    assert reads == NUMBERS  # the second pass came from memory


def test_prefetch_accepts_autotune_and_changes_nothing():
    assert AUTOTUNE == -1  # tf.data.AUTOTUNE's value, so the real one is accepted too
    assert values(numbers().prefetch(AUTOTUNE)) == NUMBERS and values(numbers().prefetch(2)) == NUMBERS


def test_pydataset_and_sequence_names():
    assert Sequence is PyDataset and tinygrad_embed.utils.PyDataset is PyDataset
    with pytest.raises(NotImplementedError, match="__getitem__"):
        PyDataset()[0]


@pytest.fixture
def review_tree(tmp_path):
    """Two classes of five reviews, a nested file, an unlabelled folder and stray files, as IMDB's train/."""
    for name, word in (("pos", "good"), ("neg", "bad")):
        os.makedirs(tmp_path / name)
        for i in range(5):
            (tmp_path / name / f"{word[0]}{i}.txt").write_text(f"{word} film {i}\n")
    os.makedirs(tmp_path / "neg" / "sub")
    (tmp_path / "neg" / "sub" / "z.txt").write_text("nested\n")
    os.makedirs(tmp_path / "unsup")
    (tmp_path / "unsup" / "u.txt").write_text("u\n")
    (tmp_path / "README.md").write_text("not a class")
    (tmp_path / "pos" / "notes.md").write_text("not a .txt file")
    return tmp_path


def pairs(dataset):
    return sorted((text, label) for x, y in dataset for text, label in zip(x.tolist(), y.tolist()))


def test_class_inference_sorted_sub_folders(review_tree, capsys):
    dataset = text_dataset_from_directory(review_tree, batch_size=100, shuffle=False)
    assert capsys.readouterr().out == "Found 12 files belonging to 3 classes.\n"
    assert dataset.class_names == ["neg", "pos", "unsup"]
    found = pairs(dataset)
    assert (b"nested\n", 0) in found and (b"u\n", 2) in found and (b"good film 3\n", 1) in found


def test_split_picks_keras_files_for_the_same_seed(review_tree, capsys):
    kwargs = dict(class_names=["neg", "pos"], validation_split=0.25, seed=42, batch_size=100)
    train = text_dataset_from_directory(review_tree, subset="training", **kwargs)
    validation = text_dataset_from_directory(review_tree, subset="validation", **kwargs)
    assert capsys.readouterr().out.splitlines() == [
        "Found 11 files belonging to 2 classes.", "Using 9 files for training.",
        "Found 11 files belonging to 2 classes.", "Using 2 files for validation."]
    # recorded from Keras 3.15.1 (TensorFlow 2.21) on this same tree with the same arguments
    assert pairs(validation) == [(b"bad film 3\n", 0), (b"good film 0\n", 1)]
    assert len(pairs(train)) == 9 and not set(pairs(train)) & set(pairs(validation))
    both = text_dataset_from_directory(review_tree, subset="both", **kwargs)
    assert [pairs(d) for d in both] == [pairs(train), pairs(validation)]


def test_label_modes_and_max_length(review_tree):
    kwargs = dict(class_names=["neg", "pos"], batch_size=3, shuffle=False)
    x, y = next(iter(text_dataset_from_directory(review_tree, label_mode="binary", **kwargs)))
    assert y.dtype == np.float32 and y.shape == (3, 1)
    x, y = next(iter(text_dataset_from_directory(review_tree, label_mode="categorical", **kwargs)))
    np.testing.assert_array_equal(y, [[1, 0]] * 3)  # the first three files are neg's (class 0)
    x = next(iter(text_dataset_from_directory(review_tree, label_mode=None, max_length=3, **kwargs)))
    assert x.tolist() == [b"bad"] * 3  # no labels: batches of texts alone, cut to 3 bytes


def test_given_labels_and_errors(review_tree, tmp_path_factory):
    with pytest.raises(ValueError, match="12 .txt files"):
        text_dataset_from_directory(review_tree, labels=[0, 1])
    with pytest.raises(ValueError, match="seed"):
        text_dataset_from_directory(review_tree, validation_split=0.2, subset="training")
    with pytest.raises(ValueError, match="subset"):
        text_dataset_from_directory(review_tree, validation_split=0.2, seed=1)
    with pytest.raises(ValueError, match="exactly 2 classes"):
        text_dataset_from_directory(review_tree, label_mode="binary")
    with pytest.raises(ValueError, match="not all sub-folders"):
        text_dataset_from_directory(review_tree, class_names=["pos", "train"])
    with pytest.raises(ValueError, match="no sub-folders"):
        text_dataset_from_directory(tmp_path_factory.mktemp("flat"))
