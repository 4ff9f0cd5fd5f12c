"""Functional models with dict (and nested) inputs and outputs, as in the Keras functional API guide's
multi-input multi-output model: a dict's entries go by sorted key, fit takes dicts keyed by the model's
keys (losses, loss_weights and metrics as dicts or lists), predict and a call give dicts back."""
import numpy as np
import pytest

import tinygrad_embed as keras

layers = keras.layers
RNG = np.random.default_rng(0)
TITLE, TAGS = RNG.integers(0, 50, (16, 6)), RNG.integers(0, 2, (16, 5)).astype("float32")
PRIORITY, DEPARTMENT = RNG.random((16, 1)), np.eye(3)[RNG.integers(0, 3, 16)]


def ticket_model():
    keras.utils.set_random_seed(1)
    title, tags = keras.Input((None,), name="title"), keras.Input((5,), name="tags")
    x = layers.concatenate([layers.GlobalAveragePooling1D()(layers.Embedding(50, 4)(title)), tags])
    priority = layers.Dense(1, name="priority")(x)
    department = layers.Dense(3, name="department")(x)
    return keras.Model(inputs={"title": title, "tags": tags}, outputs={"priority": priority, "department": department})


X = {"title": TITLE, "tags": TAGS}
Y = {"priority": PRIORITY, "department": DEPARTMENT}


def test_inputs_and_outputs_are_taken_by_sorted_key_as_keras():
    model = ticket_model()
    assert [t.name for t in model.inputs] == ["tags", "title"]
    assert [t.node.layer.name for t in model.outputs] == ["department", "priority"]
    assert set(model.input) == {"title", "tags"} and set(model.output) == {"priority", "department"}


def test_a_call_and_predict_give_dicts():
    model = ticket_model()
    out = model({"title": TITLE[:2], "tags": TAGS[:2]})
    assert sorted(out) == ["department", "priority"] and out["department"].shape == (2, 3)
    predicted = model.predict(X, batch_size=5, verbose=0)
    assert sorted(predicted) == ["department", "priority"]
    np.testing.assert_allclose(predicted["priority"][:2], out["priority"].data, rtol=1e-6)
    assert predicted["department"].shape == (16, 3)


def test_a_call_refuses_a_dict_with_other_keys():
    with pytest.raises(ValueError, match=r"keys \['tags', 'title'\].*\['body', 'title'\]"):
        ticket_model()({"title": TITLE, "body": TAGS})


@pytest.mark.parametrize("spec", ["dicts", "lists"])
def test_fit_on_dicts_with_losses_weights_and_metrics_as_dicts_or_lists(spec):
    model = ticket_model()
    if spec == "dicts":
        model.compile("sgd", loss={"priority": "mse", "department": "categorical_crossentropy"},
                      loss_weights={"priority": 1.0, "department": 0.2},
                      metrics={"priority": ["mae"], "department": ["accuracy"]})
    else:  # lists follow the outputs' order: by sorted key, department first
        model.compile("sgd", loss=["categorical_crossentropy", "mse"], loss_weights=[0.2, 1.0],
                      metrics=[["accuracy"], ["mae"]])
    history = model.fit(X, Y, epochs=2, batch_size=8, verbose=0).history
    assert sorted(history) == ["department_accuracy", "department_loss", "loss", "priority_loss", "priority_mae"]
    logs = model.evaluate(X, Y, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], logs["priority_loss"] + 0.2 * logs["department_loss"], rtol=1e-5)


def test_dict_keys_name_the_logs_when_they_differ_from_the_layer_names():
    a = keras.Input((3,), name="a")
    model = keras.Model({"x": a}, {"score": layers.Dense(1, name="dense_out")(a)})
    model.compile("sgd", loss={"score": "mse"})
    history = model.fit({"x": np.ones((4, 3))}, {"score": np.ones((4, 1))}, verbose=0).history
    assert sorted(history) == ["loss"]  # one output: no per-output loss, as in Keras
    with pytest.raises(ValueError, match="'dense_out'.*names no output.*\\['score'\\]"):
        model.compile("sgd", loss={"dense_out": "mse"})
        model.fit({"x": np.ones((4, 3))}, {"score": np.ones((4, 1))}, verbose=0)


def test_nested_inputs_and_outputs():
    a, b, c = keras.Input((2,), name="a"), keras.Input((2,), name="b"), keras.Input((2,), name="c")
    total = layers.Add()([a, b, c])
    model = keras.Model([a, {"b": b, "c": c}], {"sum": total, "parts": [layers.Dense(1)(a), total]})
    ones = np.ones((3, 2))
    out = model([ones, {"b": 2 * ones, "c": 3 * ones}])
    assert sorted(out) == ["parts", "sum"] and isinstance(out["parts"], list) and len(out["parts"]) == 2
    np.testing.assert_array_equal(out["sum"].data, 6 * ones)
    predicted = model.predict([ones, {"b": ones, "c": ones}], verbose=0)
    np.testing.assert_array_equal(predicted["parts"][1], 3 * ones)


def test_a_model_built_from_lists_takes_a_dict_keyed_by_its_inputs_names_as_keras():
    a, b = keras.Input((2,), name="a"), keras.Input((3,), name="b")
    model = keras.Model([a, b], layers.Dense(1)(layers.concatenate([a, b])))
    x = {"b": np.ones((2, 3)), "a": np.zeros((2, 2))}
    np.testing.assert_array_equal(model(x).data, model([x["a"], x["b"]]).data)
    with pytest.raises(ValueError, match=r"keys \['a', 'b'\]"):
        model({"a": x["a"]})


def test_a_saved_dict_model_loads_and_takes_the_same_dict(tmp_path):
    model = ticket_model()
    model.save(tmp_path / "ticket.keras")
    loaded = keras.models.load_model(tmp_path / "ticket.keras")
    expected, got = model.predict(X, verbose=0), loaded.predict(X, verbose=0)
    for ours, theirs in zip(flatten_list(got), [expected[k] for k in sorted(expected)], strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def flatten_list(outputs):
    """A loaded model gives its outputs as a list in the saved order (saving keeps no dict yet)."""
    return [outputs[k] for k in sorted(outputs)] if isinstance(outputs, dict) else list(outputs)


def test_fit_on_targets_nested_as_the_outputs():
    a, b = keras.Input((2,), name="a"), keras.Input((2,), name="b")
    model = keras.Model({"a": a, "b": b}, {"sum": layers.Add()([a, b]),
                                           "scores": [layers.Dense(1, name="s1")(a), layers.Dense(2, name="s2")(b)]})
    model.compile("sgd", loss="mse")
    x = {"a": np.ones((4, 2)), "b": np.zeros((4, 2))}
    y = {"sum": np.ones((4, 2)), "scores": [np.zeros((4, 1)), np.ones((4, 2))]}
    history = model.fit(x, y, epochs=1, batch_size=2, verbose=0).history
    predicted = model.predict(x, verbose=0)
    expected_loss = sum(np.mean((p - t) ** 2) for p, t in zip(
        [predicted["scores"][0], predicted["scores"][1], predicted["sum"]], [*y["scores"], y["sum"]]))
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0, return_dict=True)["loss"], expected_loss, rtol=1e-5)
    assert "loss" in history
    with pytest.raises(ValueError, match="list of 2"):
        model.fit(x, {"sum": y["sum"], "scores": y["scores"][0]}, verbose=0)
