"""Issue 30's text data promises: pad_sequences refuses a value its dtype cannot hold instead of wrapping it;
text_dataset_from_directory visits each real file once whatever the symlinks and refuses labels that are not
integers; Dataset.from_tensor_slices takes dicts and nested tuples as tf.data does, and refuses a list that
mixes texts with other things instead of letting numpy write them as words."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_embed.preprocessing.sequence import pad_sequences

INT_DTYPES = ["int8", "uint8", "int16", "uint16", "int32", "int64", "bool"]


def holds(dtype, v):
    """Whether an integer dtype holds the whole number v, from the dtype's documented range."""
    if dtype == "bool":
        return v in (0, 1)
    info = np.iinfo(dtype)
    return info.min <= v <= info.max


def first_unheld(sequences, width, truncating, dtype):
    """The (sequence, position, value) of the first kept id that dtype cannot hold, by a plain loop."""
    for i, s in enumerate(sequences):
        start = max(len(s) - width, 0) if truncating == "pre" else 0
        for j in range(start, min(start + width, len(s))):
            if not holds(dtype, s[j]):
                return i, j, s[j]
    return None


@given(st.lists(st.lists(st.integers(-2 ** 40, 2 ** 40) | st.integers(-300, 300), max_size=6), min_size=1, max_size=5),
       st.sampled_from(INT_DTYPES), st.none() | st.integers(1, 6), st.sampled_from(["pre", "post"]), st.booleans())
def test_pad_sequences_refuses_what_an_integer_dtype_cannot_hold(sequences, dtype, maxlen, truncating, as_arrays):
    """Lists (where Keras raises OverflowError too) and arrays (where Keras wraps 300 to 44 in int8) alike."""
    given_sequences = [np.array(s, np.int64) for s in sequences] if as_arrays else sequences
    width = maxlen if maxlen is not None else max(map(len, sequences))
    bad = first_unheld(sequences, width, truncating, dtype)
    if bad is None:
        out = pad_sequences(given_sequences, maxlen=maxlen, dtype=dtype, truncating=truncating)
        kept = [(s[max(len(s) - width, 0):] if truncating == "pre" else s[:width]) for s in sequences]
        assert out.tolist() == [[0] * (width - len(k)) + [bool(v) if dtype == "bool" else v for v in k] for k in kept]
        return
    i, j, v = bad
    with pytest.raises(OverflowError, match=f"sequence {i} at position {j} is {v}, which dtype {dtype} cannot hold"):
        pad_sequences(given_sequences, maxlen=maxlen, dtype=dtype, truncating=truncating)


@pytest.mark.parametrize("sequences, kwargs, error, match", [
    ([[1, 2.5]], {}, ValueError, "sequence 0 at position 1 is 2.5, which dtype int32 cannot hold .it would become 2"),
    ([[1], [math.nan, 3]], {}, ValueError, "sequence 1 at position 0 is nan, which dtype int32"),
    ([[math.inf]], {"dtype": "int64"}, ValueError, "position 0 is inf"),
    ([[1e40]], {"dtype": "float32"}, OverflowError, "is 1e.40, which dtype float32 cannot hold .it would become inf"),
    ([[70000]], {"dtype": "float16"}, OverflowError, "which dtype float16 cannot hold"),
    ([[1]], {"dtype": "int8", "value": 300}, OverflowError, "value is 300, which dtype int8 cannot hold"),
    ([[1]], {"dtype": "uint8", "value": -1}, OverflowError, "value is -1, which dtype uint8"),
    ([[1]], {"dtype": "int32", "value": -0.5}, ValueError, "value is -0.5"),
    ([[[1, 2], [3, 300]]], {"dtype": "int8"}, OverflowError, "sequence 0 at position 1 is 300"),
    ([np.array([5, 2 ** 64 - 1], np.uint64)], {"dtype": "int64"}, OverflowError, "position 1 is 18446744073709551615"),
])
def test_pad_sequences_refuses_fractions_nan_inf_and_float_overflow(sequences, kwargs, error, match):
    with pytest.raises(error, match=match):
        pad_sequences(sequences, **kwargs)


def test_pad_sequences_keeps_what_the_dtype_holds():
    assert pad_sequences([[1.0, 2.0]], dtype="int8").tolist() == [[1, 2]]  # whole floats are ids
    assert pad_sequences([[True, 3]], dtype="int8").tolist() == [[1, 3]]
    assert pad_sequences([[math.inf, 0.1]], dtype="float32").tolist() == [[math.inf, np.float32(0.1)]]  # rounding is fine
    assert pad_sequences([[300, 1]], maxlen=1, dtype="int8").tolist() == [[1]]  # 300 is cut: never cast
    assert pad_sequences([["a", "b"], ["c"]], dtype=object, value="").tolist() == [["a", "b"], ["", "c"]]
    out = pad_sequences([[2]], maxlen=2, dtype="float16", value=math.nan)  # NaN is a float16 value
    assert out.dtype == np.float16 and math.isnan(out[0, 0]) and out[0, 1] == 2


# ---- text_dataset_from_directory: each real file once, integer labels ----------------------------------------
from tinygrad_embed.utils import text_dataset_from_directory  # noqa: E402


def texts_and_labels(dataset):
    return sorted((text, label) for x, y in dataset for text, label in zip(x.tolist(), y.tolist()))


@pytest.fixture
def linked_tree(tmp_path):
    """pos/ and neg/ with loops back up (pos/again -> pos, neg/deeper/back -> neg), a second link to a file
    of the same class, and a folder outside the tree linked in (pos/outside -> elsewhere/)."""
    root, elsewhere = tmp_path / "reviews", tmp_path / "elsewhere"
    for folder in (root / "pos", root / "neg" / "deeper", elsewhere):
        folder.mkdir(parents=True)
    (root / "pos" / "a.txt").write_text("good")
    (root / "neg" / "b.txt").write_text("bad")
    (root / "neg" / "deeper" / "c.txt").write_text("worse")
    (elsewhere / "d.txt").write_text("fine")
    (root / "pos" / "again").symlink_to(root / "pos", target_is_directory=True)
    (root / "neg" / "deeper" / "back").symlink_to(root / "neg", target_is_directory=True)
    (root / "neg" / "b_again.txt").symlink_to(root / "neg" / "b.txt")
    (root / "pos" / "outside").symlink_to(elsewhere, target_is_directory=True)
    return root


def test_follow_links_visits_each_real_file_once_loops_included(linked_tree):
    dataset = text_dataset_from_directory(linked_tree, follow_links=True, shuffle=False, verbose=False)
    assert texts_and_labels(dataset) == [(b"bad", 0), (b"fine", 1), (b"good", 1), (b"worse", 0)]
    dataset = text_dataset_from_directory(linked_tree, follow_links=False, shuffle=False, verbose=False)
    assert texts_and_labels(dataset) == [(b"bad", 0), (b"good", 1), (b"worse", 0)]  # outside/ is not followed
    unlabelled = text_dataset_from_directory(linked_tree, labels=None, follow_links=True, shuffle=False, verbose=False)
    assert sorted(t for batch in unlabelled for t in batch.tolist()) == [b"bad", b"fine", b"good", b"worse"]


def test_a_file_linked_into_two_classes_is_refused(linked_tree):
    (linked_tree / "pos" / "b_too.txt").symlink_to(linked_tree / "neg" / "b.txt")
    with pytest.raises(ValueError, match=r"b_too.txt.*class 'pos'.*b.txt.*class 'neg'.*one label"):
        text_dataset_from_directory(linked_tree, follow_links=True, verbose=False)


@pytest.mark.parametrize("labels, label_mode, error, match", [
    ([0, 1.0, 1], "int", TypeError, "labels must be integers for label_mode='int', got 1.0 of type float at index 1"),
    ([0, 1, None], "binary", TypeError, "got None of type NoneType at index 2"),
    ([True, False, True], "binary", TypeError, "got True of type bool at index 0"),
    ([0, "1", 1], "categorical", TypeError, "got '1' of type str at index 1"),
    ([0, 1, 2], "binary", ValueError, "label 2 at index 2 is outside 0 to 1"),
    ([0, 2, 2], "categorical", ValueError, "label 2 at index 1 is outside 0 to 1.*2 distinct labels"),
    ([0, -1, 1], "categorical", ValueError, "label -1 at index 1 is outside 0 to 2"),
    ([0, 2 ** 31, 1], "int", ValueError, "label 2147483648 at index 1 is outside"),
])
def test_given_labels_must_be_integers_the_label_mode_takes(tmp_path, labels, label_mode, error, match):
    for i in range(3):
        (tmp_path / f"{i}.txt").write_text(f"text {i}")
    with pytest.raises(error, match=match):
        text_dataset_from_directory(tmp_path, labels=labels, label_mode=label_mode, verbose=False)


def test_given_integer_labels_of_any_kind_work(tmp_path):
    for i in range(3):
        (tmp_path / f"{i}.txt").write_text(f"text {i}")
    labels = (np.int64(1), 0, np.uint8(1))  # a tuple of numpy and Python integers
    dataset = text_dataset_from_directory(tmp_path, labels=labels, label_mode="binary", shuffle=False, verbose=False)
    assert texts_and_labels(dataset) == [(b"text 0", [1.0]), (b"text 1", [0.0]), (b"text 2", [1.0])]
    dataset = text_dataset_from_directory(tmp_path, labels=[5, -2, 5], shuffle=False, verbose=False)  # "int": as given
    assert texts_and_labels(dataset) == [(b"text 0", 5), (b"text 1", -2), (b"text 2", 5)]


# ---- Dataset.from_tensor_slices: dicts and nested tuples as tf.data; no list of texts stringified --------------
from tinygrad_embed.data import Dataset  # noqa: E402
from tinygrad_embed.layers import Concatenate, Dense, Input  # noqa: E402
from tinygrad_embed.models import Model  # noqa: E402
from tinygrad_embed.utils import set_random_seed  # noqa: E402

FEATURES = {"words": np.arange(12.0).reshape(6, 2), "year": np.linspace(0, 1, 6).reshape(6, 1)}
LABELS = np.array([0.0, 1, 1, 0, 1, 0])


def test_a_dict_of_arrays_gives_dicts_of_rows_and_batches_them_by_key():
    dataset = Dataset.from_tensor_slices((FEATURES, LABELS))
    elements = list(dataset.as_numpy_iterator())
    assert len(elements) == len(dataset) == 6
    features, label = elements[4]
    assert set(features) == {"words", "year"} and label == LABELS[4]
    np.testing.assert_array_equal(features["words"], FEATURES["words"][4])
    assert type(features["words"]) is np.ndarray  # plain numpy, as tf.data's as_numpy_iterator
    x, y = list(dataset.batch(4))[1]
    np.testing.assert_array_equal(x["year"], FEATURES["year"][4:])
    np.testing.assert_array_equal(y, LABELS[4:])
    again = list(dataset.batch(4).unbatch().as_numpy_iterator())
    np.testing.assert_array_equal(again[5][0]["words"], FEATURES["words"][5])
    doubled = dataset.map(lambda x, y: ({"twice": 2 * x["words"]}, y))  # a tuple is passed as separate arguments
    np.testing.assert_array_equal(next(iter(doubled))[0]["twice"], 2 * FEATURES["words"][0])
    alone = Dataset.from_tensor_slices(FEATURES).map(lambda x: x["year"])  # a dict is passed as one argument
    np.testing.assert_array_equal(np.concatenate(list(alone)), FEATURES["year"][:, 0])


def test_nested_tuples_keep_their_nesting():
    dataset = Dataset.from_tensor_slices(((np.arange(3), np.arange(3) * 10), (np.arange(3) * 100,)))
    (a, b), (c,) = list(dataset)[2]
    assert (int(a), int(b), int(c)) == (2, 20, 200)
    (a, b), (c,) = next(iter(dataset.batch(3)))
    assert b.tolist() == [0, 10, 20] and c.tolist() == [0, 100, 200]


def test_fit_on_a_dataset_of_feature_dicts_equals_fit_on_the_arrays():
    def trained(data, **kwargs):
        set_random_seed(3)
        words, year = Input((2,), name="words"), Input((1,), name="year")
        model = Model({"words": words, "year": year}, Dense(1)(Concatenate()([words, year])))
        model.compile(loss="mse", optimizer="sgd")
        model.fit(*data, epochs=2, verbose=0, **kwargs)
        return [w.data.copy() for w in model.trainable_weights]
    from_dataset = trained((Dataset.from_tensor_slices((FEATURES, LABELS)).batch(4),))
    from_arrays = trained((FEATURES, LABELS), batch_size=4, shuffle=False)
    for ours, theirs in zip(from_dataset, from_arrays):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("tensors, match", [
    (["good", None, "bad"], r"from_tensor_slices takes texts .* None of type NoneType at index 1"),
    (["good", 1.5], r"1.5 of type float at index 1"),  # np.asarray would make it the word "1.5"
    ([["good", "film"], ["bad", True]], r"True of type bool at index \(1, 1\)"),
    ((["a", "b"], ["c", math.nan]), r"\(part \[1\]\) takes texts .* nan of type float at index 1"),
    ({"text": np.array(["a", None], dtype=object), "n": np.arange(2)}, r"\(part \['text'\]\) .* None .* index 1"),
])
def test_texts_mixed_with_other_things_are_refused(tensors, match):
    with pytest.raises(TypeError, match=match):
        Dataset.from_tensor_slices(tensors)


def test_parts_without_rows_or_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match=r"same number of rows, got \[2, 3\]"):
        Dataset.from_tensor_slices({"a": np.zeros(3), "b": (np.zeros(2),)})
    with pytest.raises(ValueError, match=r"a scalar 3 at \['n'\]"):
        Dataset.from_tensor_slices({"n": 3})
    with pytest.raises(ValueError, match="empty dict at \\[0\\]: nothing to slice"):
        Dataset.from_tensor_slices(({}, np.zeros(2)))
    numbers = list(Dataset.from_tensor_slices([1, 2.5]).as_numpy_iterator())  # numbers alone stay numbers
    assert numbers == [1.0, 2.5]
