"""Flatten, Activation and Reshape: shapes (with unknown sizes), values, masks, configs, clear errors,
and models holding them that train and come back from a file."""
import json
import re
import warnings

import numpy as np
import pytest

from tinygrad_embed import activations
from tinygrad_embed.layers import Activation, Dense, Dropout, Embedding, Flatten, Input, Reshape
from tinygrad_embed.models import Model, Sequential, load_model
from tinygrad_embed.optimizers import Adam
from tinygrad_embed.tensor import Tensor
from tinygrad_embed.utils import set_random_seed

X = np.arange(24, dtype=np.float32).reshape(2, 3, 4)


def test_flatten_keeps_the_batch_and_joins_the_rest_in_row_major_order():
    assert Flatten()(X).shape == (2, 12)
    np.testing.assert_array_equal(Flatten()(X).data, X.reshape(2, 12))
    np.testing.assert_array_equal(Flatten()(np.arange(3.0)).data, [[0.0], [1.0], [2.0]])  # (batch,) -> (batch, 1)


def test_flatten_channels_first_moves_the_channels_last_before_joining():
    # channels first: X[b] is 3 channels of 4 steps, so the flat order is step by step, channel inside
    np.testing.assert_array_equal(Flatten("channels_first")(X).data, X.transpose(0, 2, 1).reshape(2, 12))
    with pytest.raises(ValueError, match="'channels_middle'"):
        Flatten("channels_middle")


def test_flatten_output_shape_is_unknown_when_a_size_is():
    assert Flatten().compute_output_shape((None, 3, 4)) == (None, 12)
    assert Flatten().compute_output_shape((None, None, 4)) == (None, None)
    assert Flatten().compute_output_shape((None,)) == (None, 1)


def test_flatten_and_reshape_pass_the_gradient_back_in_the_input_shape():
    for layer in (Flatten(), Reshape((4, 3))):
        x = Tensor(X, requires_grad=True)
        (layer(x) * layer(Tensor(X))).sum().backward()  # d/dx sum(x * X) = X, whatever the reshaping
        np.testing.assert_array_equal(x.grad, X)


@pytest.mark.parametrize("name", sorted(activations.KNOWN))
def test_activation_applies_the_named_function(name):
    np.testing.assert_array_equal(Activation(name)(X - 10).data, activations.get(name)(Tensor(X - 10)).data)


def test_activation_takes_a_callable_and_names_known_ones_in_its_config():
    assert Activation(activations.relu).get_config()["activation"] == "relu"
    double = Activation(lambda x: x * 2)
    np.testing.assert_array_equal(double(X).data, 2 * X)
    with pytest.raises(ValueError, match="'swishy'"):
        Activation("swishy")


def test_reshape_resolves_its_minus_one():
    assert Reshape((-1, 2))(X).shape == (2, 6, 2)
    np.testing.assert_array_equal(Reshape((4, 3))(X).data, X.reshape(2, 4, 3))
    assert Reshape((-1, 2)).compute_output_shape((None, 3, 4)) == (None, 6, 2)
    assert Reshape((-1, 2)).compute_output_shape((None, None, 4)) == (None, None, 2)


@pytest.mark.parametrize("target, message", [((5,), r"\(3, 4\) \(12 elements\) to target_shape \(5,\) \(5 "),
                                             ((5, -1), r"target_shape \(5, -1\) \(5 elements times a whole")])
def test_reshape_to_another_size_names_both_shapes(target, message):
    with pytest.raises(ValueError, match=message):
        Reshape(target)(X)
    with pytest.raises(ValueError, match=message):
        Reshape(target)(Input((3, 4)))


@pytest.mark.parametrize("target", [(-1, -1), (0, 12), (-2, 6), (2.0, 6), 12])
def test_reshape_refuses_a_bad_target_shape(target):
    with pytest.raises((ValueError, TypeError), match=re.escape(repr(target))):
        Reshape(target)


def test_a_mask_passes_activation_and_is_dropped_by_flatten_and_reshape_with_a_warning():
    ids = np.array([[3, 5, 0], [2, 0, 0]])
    embedded = Embedding(10, 4, mask_zero=True)(ids)
    np.testing.assert_array_equal(Activation("tanh")(embedded)._keras_mask, ids != 0)
    for layer in (Flatten(), Reshape((-1,))):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = layer(embedded)
        assert getattr(out, "_keras_mask", None) is None
        assert any("does not support masking" in str(w.message) for w in caught)


@pytest.mark.parametrize("make", [lambda: Flatten("channels_first"), lambda: Activation("sigmoid"),
                                  lambda: Reshape([6, -1])])
def test_config_round_trips_through_json(make):
    layer = make()
    config = json.loads(json.dumps(layer.get_config()))
    twin = type(layer).from_config(config | {"name": layer.name + "_twin"})
    np.testing.assert_array_equal(twin(X).data, layer(X).data)
    assert json.loads(json.dumps(twin.get_config())) | {"name": layer.name} == config


def test_keras_names():
    assert [Flatten().name.split("_")[0], Activation("relu").name.split("_")[0], Reshape((12,)).name.split("_")[0]] \
        == ["flatten", "activation", "reshape"]


def tiny_task(n=128, seed=0):
    """Label 1 when the first token is below 4: only a model that keeps positions apart (Flatten) can tell."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 8, (n, 4))
    return x, (x[:, 0] < 4).astype(np.float32)


@pytest.mark.parametrize("api", ["sequential", "functional"])
def test_a_model_with_these_layers_trains_and_comes_back_from_a_file(api, tmp_path):
    set_random_seed(0)
    if api == "sequential":
        model = Sequential([Embedding(8, 3, input_length=4), Flatten(), Dropout(0.1), Dense(1),
                            Activation("sigmoid")])
    else:
        ids = Input((4,), dtype="int32")
        h = Reshape((2, 6))(Embedding(8, 3)(ids))
        model = Model(ids, Activation("sigmoid")(Dense(1)(Flatten()(Dropout(0.1)(h)))))
    model.compile(optimizer=Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    x, y = tiny_task()
    model.fit(x, y, epochs=30, batch_size=32, verbose=0)
    assert model.evaluate(x, y, verbose=0)[1] == 1.0  # a linear rule on the first token's embedding
    model.save(tmp_path / "m.npz")
    restored = load_model(tmp_path / "m.npz")
    assert [type(layer).__name__ for layer in restored.layers] == [type(layer).__name__ for layer in model.layers]
    np.testing.assert_array_equal(restored.predict(x), model.predict(x))
