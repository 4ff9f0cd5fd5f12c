"""Tensors that numpy and Keras code accept (issue 28): numpy's protocols on Tensor, `.numpy()` on what
every eager call and every dataset hands back, Tensors wherever arrays go in, and the attribute protocol
of modules that answer a missing Keras name."""
import re

import numpy as np
import pytest

import tinygrad_embed as keras
from tinygrad_embed import ops
from tinygrad_embed.data import Dataset
from tinygrad_embed.missing import NotInTinygradEmbed
from tinygrad_embed.tensor import Tensor

RNG = np.random.default_rng(0)
ARRAYS = [np.float32(2.5) * np.ones(()), RNG.standard_normal((3, 4)).astype(np.float32),
          RNG.integers(-5, 5, (2, 3, 2)).astype(np.int32), np.array([True, False, True]),
          np.arange(4, dtype=np.int64), np.zeros((0, 3), np.float32)]


# ---- numpy's array protocol -----------------------------------------------------------------------------
@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: f"{a.dtype}{a.shape}")
def test_np_asarray_gives_the_numeric_array_never_an_object_array_of_tensors(array):
    for converted in (np.asarray(Tensor(array)), np.array(Tensor(array))):
        assert converted.dtype == array.dtype and converted.dtype != object
        assert converted.shape == array.shape
        np.testing.assert_array_equal(converted, array)


def test_a_list_of_tensors_becomes_a_numeric_array():
    rows = [Tensor(np.array([1.0, 2.0], np.float32)), Tensor(np.array([3.0, 4.0], np.float32))]
    stacked = np.asarray(rows)
    assert stacked.dtype == np.float32
    np.testing.assert_array_equal(stacked, [[1, 2], [3, 4]])


def test_np_array_with_a_dtype_and_numpy_2_copy_semantics():
    array = np.array([[1.5, -2.0]], np.float32)
    tensor = Tensor(array)
    converted = np.array(tensor, dtype=np.int64)
    assert converted.dtype == np.int64
    np.testing.assert_array_equal(converted, array.astype(np.int64))
    assert np.asarray(tensor) is tensor.data  # no copy when none is asked for, as for np.asarray(array)
    assert not np.shares_memory(np.array(tensor, copy=True), tensor.data)
    with pytest.raises(ValueError, match="copy"):  # numpy's own refusal: a cast cannot be done without a copy
        np.asarray(tensor, dtype=np.int64, copy=False)


def test_numpy_functions_on_a_tensor_give_numpy_values_as_for_its_array():
    array = RNG.standard_normal((3, 4)).astype(np.float32)
    tensor = Tensor(array, requires_grad=True)
    mean = np.mean(tensor)
    assert type(mean) is type(np.mean(array)) and mean == np.mean(array)
    np.testing.assert_array_equal(np.mean(tensor, axis=0), np.mean(array, axis=0))
    assert type(np.mean(tensor, axis=0)) is np.ndarray
    np.testing.assert_array_equal(np.concatenate([tensor, array]), np.concatenate([array, array]))
    np.testing.assert_array_equal(np.round(tensor, 1), np.round(array, 1))
    np.testing.assert_array_equal(np.sqrt(np.abs(tensor)), np.sqrt(np.abs(array)))  # a ufunc, not an operator
    assert np.argmax(tensor) == np.argmax(array) and np.shape(tensor) == array.shape


def test_tolist_as_the_arrays():
    for array in ARRAYS:
        assert Tensor(array).tolist() == array.tolist()


def _outcome(convert, value):
    """What convert(value) gives, or the type and message of the error it raises."""
    try:
        return convert(value)
    except (TypeError, ValueError) as error:
        return type(error), str(error)


@pytest.mark.parametrize("array", [np.array(2.75, np.float32), np.array([-3], np.int32), np.array([[0.0]]),
                                   np.array(7), np.array([[True]])])
def test_float_int_bool_on_one_element_of_any_shape(array):
    tensor = Tensor(array)
    for convert in (float, int, bool):
        value = convert(tensor)
        assert type(value) is convert and value == convert(array.item())


@pytest.mark.parametrize("array", [np.array([1.0, 2.0]), np.zeros((2, 2), np.int32), np.zeros((0,))])
def test_float_and_int_refuse_more_or_fewer_elements_naming_the_shape_and_bool_answers_as_numpy(array):
    tensor = Tensor(array)
    for convert in (float, int):
        expected = f"{convert.__name__}() needs a tensor of one element, got shape {array.shape}"
        with pytest.raises(TypeError, match=re.escape(expected)):
            convert(tensor)
    assert _outcome(bool, tensor) == _outcome(bool, array)


def test_a_one_element_integer_tensor_indexes_as_a_0d_integer_array():
    names = ["neg", "pos", "neutral"]
    assert names[Tensor(np.int32(1))] == "pos"
    assert list(range(Tensor(np.int64(3)))) == [0, 1, 2]
    with pytest.raises(TypeError):
        names[Tensor(np.array(1.0, np.float32))]
    np.testing.assert_array_equal(np.arange(5)[Tensor(np.array([4, 1]))], [4, 1])  # numpy indexes by its array


def test_len_and_iteration_over_the_first_axis_give_tensors_on_the_tape():
    array = RNG.standard_normal((3, 2)).astype(np.float32)
    tensor = Tensor(array, requires_grad=True)
    rows = list(tensor)
    assert len(tensor) == 3 and len(rows) == 3
    assert all(isinstance(row, Tensor) for row in rows)
    for row, expected in zip(rows, array):
        np.testing.assert_array_equal(row.numpy(), expected)
    (rows[0] * 2.0 + rows[2]).sum().backward()
    np.testing.assert_array_equal(tensor.grad, [[2, 2], [0, 0], [1, 1]])
    with pytest.raises(TypeError, match="0-d tensor"):
        iter(Tensor(np.float32(1.0)))


def test_formatting_as_for_the_array():
    one = np.array(3.14159, np.float32)
    assert "%.1f" % Tensor(one) == "%.1f" % one == "3.1"
    assert f"{Tensor(one):.3f}" == f"{one:.3f}"
    assert "%d" % Tensor(np.int32(7)) == "7"
    many = np.array([1.0, 2.0])
    assert _outcome(lambda v: f"{v:.2f}", Tensor(many))[0] is _outcome(lambda v: f"{v:.2f}", many)[0]
    assert f"{Tensor(many)}" == str(Tensor(many))


# ---- arithmetic with numpy keeps the tape -----------------------------------------------------------------
def test_an_operator_between_a_numpy_array_and_a_tensor_is_a_tensor_on_the_tape():
    array = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    tensor = Tensor(np.array([[0.5, 1.0], [2.0, 4.0]], np.float32), requires_grad=True)
    results = {"add": array + tensor, "sub": array - tensor, "mul": array * tensor, "div": array / tensor,
               "matmul": array @ tensor, "scalar": np.float32(3.0) * tensor}
    expected = {"add": array + tensor.data, "sub": array - tensor.data, "mul": array * tensor.data,
                "div": array / tensor.data, "matmul": array @ tensor.data, "scalar": 3.0 * tensor.data}
    for name, result in results.items():
        assert isinstance(result, Tensor) and result.requires_grad, name
        np.testing.assert_allclose(result.data, expected[name], rtol=1e-6, err_msg=name)
    (array - tensor).sum().backward()
    np.testing.assert_array_equal(tensor.grad, -np.ones((2, 2)))


def test_in_place_into_a_numpy_array_stays_numpy():
    total = np.zeros(2, np.float32)
    total += Tensor(np.array([1.0, 2.0], np.float32))
    assert type(total) is np.ndarray
    np.testing.assert_array_equal(total, [1, 2])


# ---- .numpy() on everything an eager call hands back ------------------------------------------------------
X = np.array([[1.0, 2.0, 0.5], [0.25, 3.0, 1.5], [2.0, 1.0, 4.0]], np.float32)
BINARY = ("add subtract multiply divide power maximum minimum matmul dot equal not_equal greater less "
          "logical_and logical_or").split()
OPS_ARGS = {"cast": (X, "int32"), "ones": ((2, 3),), "zeros": ((2, 3),), "full": ((2,), 1.5), "arange": (4,),
            "eye": (3,), "clip": (X, 0.5, 2.0), "reshape": (X, (9,)), "expand_dims": (X, 0),
            "concatenate": ([X, X],), "stack": ([X, X],), "take": (X, [0, 2]), "tile": (X, 2),
            "repeat": (X, 2), "where": (X > 1, X, -X), "einsum": ("ij,jk->ik", X, X), "one_hot": ([0, 2], 3), "split": (X, 3),
            **{name: (X, X) for name in BINARY}}
NOT_TENSORS = {"shape": tuple, "convert_to_numpy": np.ndarray}  # as in Keras: a tuple and a numpy array


@pytest.mark.parametrize("as_tensor", [False, True], ids=["arrays", "tensors"])
@pytest.mark.parametrize("name", sorted(ops.__all__))
def test_every_ops_result_answers_numpy(name, as_tensor):
    args = OPS_ARGS.get(name, (X,))
    if as_tensor:
        args = tuple(Tensor(a) if isinstance(a, np.ndarray) else a for a in args)
    result = getattr(ops, name)(*args)
    if name in NOT_TENSORS:
        assert isinstance(result, NOT_TENSORS[name])
        return
    for part in result if name == "split" else [result]:  # split: a list of Tensors, as Keras's
        assert isinstance(part.numpy(), np.ndarray) and part.numpy().dtype != object


def test_layer_model_and_text_vectorization_calls_answer_numpy():
    dense = keras.layers.Dense(2)
    model = keras.Sequential([keras.Input((3,)), dense])
    np.testing.assert_allclose(model(X).numpy(), dense(X).numpy(), rtol=1e-6)
    np.testing.assert_allclose(dense(X).numpy(), X @ dense.kernel.numpy() + dense.bias.numpy(), rtol=1e-6)
    vectorize = keras.layers.TextVectorization(output_sequence_length=4)
    vectorize.adapt(["the cat sat", "the dog"])
    ids = vectorize(np.array(["the dog sat"])).numpy()
    vocabulary = vectorize.get_vocabulary()
    assert [vocabulary[i] for i in ids[0]] == ["the", "dog", "sat", ""]


def test_from_tensor_slices_map_and_batch_elements_answer_numpy_as_tensorflow_s():
    features, labels = np.arange(10, dtype=np.float32).reshape(5, 2), np.array([0, 1, 1, 0, 1], np.int32)
    dataset = Dataset.from_tensor_slices((keras.ops.convert_to_tensor(features), labels))
    for i, (x, y) in enumerate(dataset):
        np.testing.assert_array_equal(x.numpy(), features[i])
        assert int(y) == labels[i] and y.numpy() == labels[i] and np.ndim(y.numpy()) == 0  # a scalar, as tf
    doubled = dataset.map(lambda x, y: (ops.multiply(x, 2.0), y)).batch(2)
    batches = list(doubled)
    assert [len(y.numpy()) for _, y in batches] == [2, 2, 1]
    np.testing.assert_array_equal(np.concatenate([x.numpy() for x, _ in batches]), features * 2)
    assert all(type(x) is np.ndarray for x, _ in doubled.as_numpy_iterator())  # plain numpy, as tf.data's
    assert [type(y) for _, y in dataset.as_numpy_iterator()] == [np.int32] * 5
    rows = list(doubled.unbatch())
    assert [int(y) for _, y in rows] == labels.tolist() and rows[3][0].numpy().tolist() == [12.0, 14.0]


@pytest.fixture
def reviews(tmp_path):
    texts = {"neg": ["bad film", "dull and long"], "pos": ["great film", "a joy", "loved it"]}
    for label, lines in texts.items():
        (tmp_path / label).mkdir()
        for i, line in enumerate(lines):
            (tmp_path / label / f"{i}.txt").write_text(line, encoding="utf-8")
    return tmp_path, texts


def test_text_dataset_batches_answer_numpy_with_bytes_as_tensorflow_s(reviews):
    directory, texts = reviews
    dataset = keras.utils.text_dataset_from_directory(directory, batch_size=2, seed=3, verbose=False)
    seen = []
    for text_batch, label_batch in dataset:
        for i in range(len(label_batch.numpy())):
            text, label = text_batch.numpy()[i], label_batch.numpy()[i]
            assert isinstance(text, bytes)
            seen.append((dataset.class_names[label], text.decode("utf-8")))
    assert sorted(seen) == sorted((label, line) for label, lines in texts.items() for line in lines)
    for text, label in dataset.unbatch():
        assert text.numpy().decode("utf-8") in texts[dataset.class_names[int(label)]]


def test_fit_evaluate_predict_and_adapt_on_a_text_dataset_of_eager_arrays(reviews):
    directory, _ = reviews
    dataset = keras.utils.text_dataset_from_directory(directory, batch_size=2, seed=3, verbose=False)
    vectorize = keras.layers.TextVectorization(max_tokens=20, output_sequence_length=3)
    vectorize.adapt(dataset.map(lambda text, label: text))
    assert "film" in vectorize.get_vocabulary()
    ids = dataset.map(lambda text, label: (vectorize(text), label))
    model = keras.Sequential([keras.layers.Embedding(20, 4), keras.layers.GlobalAveragePooling1D(),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    history = model.fit(ids, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    assert np.isfinite(model.evaluate(ids, verbose=0))
    assert model.predict(ids, verbose=0).shape == (5, 1)


# ---- Tensors wherever arrays go in ---------------------------------------------------------------------------
def _trained(x, y, **fit):
    """A fresh seeded model's fit history, evaluation, predictions and batch results on (x, y)."""
    keras.utils.set_random_seed(7)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("sgd", "categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=2, batch_size=4, verbose=0, **fit).history
    return (history, model.evaluate(x, y, verbose=0), model.predict(x, verbose=0),
            model.train_on_batch(x, y), model.test_on_batch(x, y), model.predict_on_batch(x))


def test_fit_evaluate_predict_and_the_batch_methods_take_tensors_as_they_take_arrays():
    x = RNG.standard_normal((12, 3)).astype(np.float32)
    y = RNG.integers(0, 3, 12)
    on_arrays = _trained(x, np.eye(3, dtype=np.float32)[y], sample_weight=np.linspace(0.5, 1.5, 12))
    x_tensor = ops.convert_to_tensor(x)
    on_tensors = _trained(x_tensor, ops.one_hot(ops.convert_to_tensor(y), 3),  # Keras's training guide
                          sample_weight=ops.convert_to_tensor(np.linspace(0.5, 1.5, 12)))
    assert on_tensors[0] == on_arrays[0] and on_tensors[1] == on_arrays[1]
    for a, b in zip(on_arrays[2:], on_tensors[2:]):
        np.testing.assert_array_equal(a, b)
    as_lists = _trained(list(x_tensor), list(ops.one_hot(ops.convert_to_tensor(y), 3)),
                        validation_data=(x_tensor, ops.one_hot(ops.convert_to_tensor(y), 3)),
                        sample_weight=np.linspace(0.5, 1.5, 12))
    assert as_lists[0]["loss"] == on_arrays[0]["loss"] and "val_loss" in as_lists[0]


def test_a_model_of_two_inputs_takes_a_list_of_tensors():
    inputs = [keras.Input((3,)), keras.Input((2,))]
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Concatenate()(inputs)))
    model.compile("sgd", "mse")
    x1, x2 = RNG.random((8, 3)).astype(np.float32), RNG.random((8, 2)).astype(np.float32)
    y = RNG.random((8, 1)).astype(np.float32)
    weights = model.get_weights()
    on_arrays = model.fit([x1, x2], y, epochs=1, shuffle=False, verbose=0).history
    model.set_weights(weights)
    tensors = [Tensor(x1), Tensor(x2)]
    assert model.fit(tensors, Tensor(y), epochs=1, shuffle=False, verbose=0).history == on_arrays
    np.testing.assert_array_equal(model.predict(tensors, verbose=0), model.predict([x1, x2], verbose=0))
    model.set_weights(weights)
    step_on_tensors = model.train_on_batch(tensors, Tensor(y))
    model.set_weights(weights)
    assert step_on_tensors == model.train_on_batch([x1, x2], y)


def test_pad_sequences_and_to_categorical_take_tensors():
    rows = [np.array([3, 1, 4]), np.array([1, 5])]
    np.testing.assert_array_equal(keras.utils.pad_sequences([Tensor(r) for r in rows], maxlen=4),
                                  keras.utils.pad_sequences(rows, maxlen=4))
    labels = np.array([[2], [0], [1]])
    hot = keras.utils.to_categorical(Tensor(labels), 3)
    assert isinstance(hot, Tensor)  # Keras returns its backend's tensor for a tensor
    np.testing.assert_array_equal(hot.numpy(), keras.utils.to_categorical(labels, 3))
    np.testing.assert_array_equal(keras.utils.to_categorical([Tensor(np.int32(2)), Tensor(np.int32(0))], 3),
                                  [[0, 0, 1], [1, 0, 0]])


@pytest.mark.parametrize("name", ["mean_squared_error", "categorical_crossentropy", "binary_crossentropy",
                                  "mean_absolute_error"])
def test_losses_take_tensors_and_lists_of_them(name):
    y_true = np.eye(3, dtype=np.float32)[[0, 2]]
    y_pred = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], np.float32)
    loss = keras.losses.get(name)
    expected = loss(y_true, y_pred).numpy()
    np.testing.assert_array_equal(loss(Tensor(y_true), Tensor(y_pred)).numpy(), expected)
    np.testing.assert_array_equal(loss(list(Tensor(y_true)), list(Tensor(y_pred))).numpy(), expected)


def test_metrics_take_tensors():
    y_true, y_pred = np.array([0, 1, 2, 1]), np.array([0, 2, 2, 1])
    on_arrays, on_tensors = keras.metrics.Accuracy(), keras.metrics.Accuracy()
    on_arrays.update_state(y_true, y_pred)
    on_tensors.update_state(Tensor(y_true), Tensor(y_pred))
    assert float(on_tensors.result()) == float(on_arrays.result()) == 0.75
    mean = keras.metrics.Mean()
    mean.update_state([Tensor(np.float32(1.0)), Tensor(np.float32(4.0))])
    assert float(mean.result()) == 2.5


# ---- Python's attribute protocol on modules that name what Keras has ------------------------------------------
@pytest.mark.parametrize("module, name, says", [(keras.ops, "stft", "keras.ops.stft is not in tinygrad_embed.ops"),
                                                (keras.layers, "Conv2D", "no layer Conv2D; the layers here")])
def test_hasattr_is_false_and_getattr_gives_the_default_for_a_keras_name_missing_here(module, name, says):
    assert not hasattr(module, name)
    sentinel = object()
    assert getattr(module, name, sentinel) is sentinel
    with pytest.raises(AttributeError, match=says):
        getattr(module, name)
    with pytest.raises(NotInTinygradEmbed, match=says):
        exec(f"from {module.__name__} import {name}")
    with pytest.raises(NotInTinygradEmbed, match=says):
        eval(f"module.{name}", {"module": module})  # module.Name, Python's syntax
