"""Model utilities users reach for around training: Sequential.pop, get_layer with Keras's errors,
model.weights, summary's options, clear_session (utils and backend) and Keras 2's np_utils path."""
import numpy as np
import pytest

import tinygrad_embed as tg
from tinygrad_embed import backend, utils
from tinygrad_embed.layers import BatchNormalization, Dense, Embedding, Input, LSTM
from tinygrad_embed.models import Model, Sequential
from tinygrad_embed.utils import set_random_seed


def normalized_model():
    """Dense(4) -> BatchNormalization -> Dense(1) on 3 features. Parameters: 3 * 4 + 4 = 16; gamma, beta
    (8, trainable) and the moving mean and variance (8, not); 4 + 1 = 5: 37 in all, 29 trainable."""
    set_random_seed(0)
    return Sequential([Input((3,)), Dense(4), BatchNormalization(), Dense(1)])


def printed(model, **options):
    seen = []
    model.summary(print_fn=seen.append, **options)
    assert len(seen) == 1  # one string, as Keras 3 hands it over
    return seen[0]


# ---- Sequential.pop -------------------------------------------------------------------------------
def test_pop_removes_the_last_layer_and_the_model_takes_a_new_head():
    model = normalized_model()
    head = model.layers[-1]
    assert model.pop() is head and model.layers[-1].name.startswith("batch_normalization")
    assert model.predict(np.ones((2, 3)), verbose=0).shape == (2, 4)
    model.add(Dense(2, activation="softmax"))
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 3)), np.full((8, 2), 0.5), epochs=1, verbose=0)
    assert model.predict(np.ones((2, 3)), verbose=0).shape == (2, 2)
    assert "(None, 2)" in printed(model) and "(None, 1)" not in printed(model)


def test_pop_on_an_empty_model_says_so():
    with pytest.raises(ValueError, match="no layers to pop"):
        Sequential().pop()


# ---- get_layer ------------------------------------------------------------------------------------
def test_get_layer_by_name_and_by_index():
    model = normalized_model()
    first, norm, last = model.layers
    assert model.get_layer(norm.name) is norm
    assert model.get_layer(index=0) is first and model.get_layer(index=-1) is last
    assert model.get_layer(name=None, index=2) is last


def test_a_functional_model_lists_its_input_layer_first_as_keras():
    ids = Input((5,), dtype="int32", name="ids")
    model = Model(ids, Dense(1)(LSTM(2)(Embedding(10, 3)(ids))))
    assert model.get_layer(index=0).name == "ids" and model.get_layer("ids") is model.layers[0]


@pytest.mark.parametrize("arguments, message", [
    ({}, "either a layer name or a layer index, got name=None, index=None"),
    ({"name": "dense", "index": 0}, "either a layer name or a layer index, got name='dense', index=0"),
    ({"index": 3}, "layer index 3 is out of range: model '.+' has 3 layers"),
    ({"index": -4}, "layer index -4 is out of range"),
    ({"name": "nope"}, r"no layer named 'nope' in model '.+'; its layers: \['dense"),
])
def test_get_layer_errors_name_the_problem(arguments, message):
    with pytest.raises(ValueError, match=message):
        normalized_model().get_layer(**arguments)


# ---- model.weights --------------------------------------------------------------------------------
def test_model_weights_are_every_layers_weights_in_order_moving_statistics_included():
    model = normalized_model()
    expected = [w for layer in model.layers for w in layer.weights]
    assert model.weights == expected and len(expected) == 2 + 4 + 2
    norm = model.layers[1]
    assert [w for w in model.weights if w not in model.trainable_weights] == [norm.moving_mean, norm.moving_variance]
    for array, weight in zip(model.get_weights(), model.weights):
        np.testing.assert_array_equal(array, weight.data)


# ---- summary --------------------------------------------------------------------------------------
def test_summary_counts_the_moving_statistics_as_non_trainable():
    text = printed(normalized_model())
    # float32: 37 * 4 = 148 bytes, 29 * 4 = 116, 8 * 4 = 32
    for line in (" Total params: 37 (148.00 B)", " Trainable params: 29 (116.00 B)",
                 " Non-trainable params: 8 (32.00 B)"):
        assert line in text.splitlines()
    assert "Optimizer params" not in text


def test_summary_adds_the_optimizer_once_it_is_built():
    model = normalized_model()
    model.compile(optimizer="adam", loss="mse")
    model.train_on_batch(np.ones((4, 3)), np.ones((4, 1)))
    text = printed(model).splitlines()
    # Adam as Keras 3 counts it: the step count (int32, 4 bytes), the learning rate (float32, 4 bytes) and
    # two slots per trainable parameter: 2 + 2 * 29 = 60 numbers, 4 + 4 + 58 * 4 = 240 bytes
    assert " Optimizer params: 60 (240.00 B)" in text
    assert " Total params: 97 (388.00 B)" in text  # 37 + 60 numbers, 148 + 240 bytes


def table_lines(text):
    """The table's rows (the header and each layer), without the title, rules and totals."""
    return [line for line in text.splitlines()[2:] if line and line[0] == " " and "params:" not in line]


@pytest.mark.parametrize("make, length", [(normalized_model, 88), (lambda: tg.Model(*io()), 108)])
def test_summary_lines_have_keras_default_lengths(make, length):
    text = printed(make())
    assert {len(line) for line in text.splitlines() if set(line) <= set("_=")} == {length}
    assert all(len(line) == length for line in table_lines(text))


def io():
    inputs = Input((3,))
    return inputs, Dense(2)(inputs)


def test_line_length_and_positions_set_the_columns():
    model = normalized_model()
    header = table_lines(printed(model, line_length=60))[0]
    assert len(header) == 60 and header.index("Output Shape") == 1 + int(0.45 * 60)
    header = table_lines(printed(model, line_length=50, positions=[0.5, 0.8, 1.0]))[0]
    assert len(header) == 50 and header.index("Output Shape") == 26
    header = table_lines(printed(model, positions=[30, 55, 70]))[0]  # Keras 2's character positions
    assert len(header) == 70 and header.index("Output Shape") == 31


@pytest.mark.parametrize("options, message", [({"positions": [0.5, 1.0]}, "where each of its 3 columns ends"),
                                              ({"line_length": 10}, "each needs at least 4 characters")])
def test_impossible_layouts_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        normalized_model().summary(**options)


def test_show_trainable_marks_each_layer():
    model = Sequential([Input((3,)), Dense(4), tg.layers.Activation("relu"), Dense(1)])
    model.layers[0].trainable = False
    rows = table_lines(printed(model, show_trainable=True))
    assert rows[0].split()[-1] == "Trainable" and len(rows[0]) == 88 + 12
    assert [row.split()[-1] for row in rows[1:]] == ["N", "-", "Y"]  # frozen, no weights, trainable


def test_expand_nested_lists_an_inner_models_layers_under_it():
    set_random_seed(0)
    inner = Sequential([Dense(4), Dense(2)], name="inner")
    outer = Sequential([Input((3,)), inner, Dense(1)])
    collapsed, expanded = table_lines(printed(outer)), table_lines(printed(outer, expand_nested=True))
    assert len(expanded) == len(collapsed) + 2
    assert "└ dense" in expanded[2] and "(None, 4)" in expanded[2] and "16" in expanded[2]  # 3 * 4 + 4
    assert "└ dense" in expanded[3] and "(None, 2)" in expanded[3] and "10" in expanded[3]  # 4 * 2 + 2
    assert expanded[4].lstrip().startswith("dense") and "└" not in collapsed[1]


# ---- clear_session and np_utils -------------------------------------------------------------------
@pytest.mark.parametrize("clear_session", [utils.clear_session, backend.clear_session])
def test_clear_session_restarts_the_automatic_names(clear_session):
    Dense(1), Dense(1)
    assert Dense(1).name != "dense"
    clear_session()
    assert Dense(1).name == "dense" and Dense(1).name == "dense_1"
    clear_session(free_memory=False)
    assert Sequential().name == "sequential" and Dense(1).name == "dense"


def test_clear_session_at_keras_places():
    assert tg.backend.clear_session is tg.utils.clear_session  # import tinygrad_embed as keras; keras.backend...


def test_clear_session_leaves_the_random_seed_alone():
    set_random_seed(3)
    first = utils.random_generator().random()
    set_random_seed(3)
    utils.clear_session()
    assert utils.random_generator().random() == first


def test_to_categorical_at_keras_2s_path_too():
    from tinygrad_embed.utils import to_categorical
    from tinygrad_embed.utils.np_utils import to_categorical as keras2_to_categorical
    assert keras2_to_categorical is to_categorical
    np.testing.assert_array_equal(keras2_to_categorical([2, 0]), [[0, 0, 1], [1, 0, 0]])
