"""Models with several inputs and outputs: x and y as lists or dicts, loss, metrics and loss_weights per
output, Keras's log names and orders, and the symbolic model.input/output and layer.input/output from
which new models are cut out of a trained one."""
import numpy as np
import pytest

from tinygrad_embed import losses
from tinygrad_embed.layers import LSTM, Dense, Input
from tinygrad_embed.models import Model
from tinygrad_embed.optimizers import SGD
from tinygrad_embed.utils import set_random_seed

RNG = np.random.default_rng(0)
XA, XB = RNG.normal(size=(10, 3)).astype(np.float32), RNG.normal(size=(10, 2)).astype(np.float32)
YES, AMOUNT = (RNG.random((10, 1)) > 0.5).astype(np.float32), RNG.normal(size=(10, 2)).astype(np.float32)


def two_by_two(seed=0):
    """Inputs a and b; output "yes" (a probability) reads a, output "amount" (two numbers) reads b."""
    set_random_seed(seed)
    a, b = Input(shape=(3,), name="a"), Input(shape=(2,), name="b")
    hidden = Dense(4, activation="tanh", name="hidden")(a)
    side = Dense(4, activation="tanh", name="side")(b)
    return Model([a, b], [Dense(1, activation="sigmoid", name="yes")(hidden), Dense(2, name="amount")(side)])


def compiled(**settings):
    model = two_by_two()
    model.compile(optimizer=SGD(0.1), **{"loss": {"yes": "binary_crossentropy", "amount": "mse"}, **settings})
    return model


def test_history_keys_are_named_as_keras_names_them():
    model = compiled(metrics={"yes": ["accuracy"], "amount": ["mae"]})
    history = model.fit([XA, XB], [YES, AMOUNT], epochs=2, batch_size=4, verbose=0,
                        validation_data=([XA, XB], [YES, AMOUNT]))
    keys = ["loss", "yes_loss", "amount_loss", "yes_accuracy", "amount_mae"]
    assert sorted(history.history) == sorted(keys + [f"val_{key}" for key in keys])


def test_the_loss_is_the_weighted_sum_of_each_outputs_loss():
    model = compiled(loss_weights={"yes": 0.5, "amount": 2.0})
    logs = model.evaluate([XA, XB], [YES, AMOUNT], verbose=0, return_dict=True)
    yes, amount = model.predict([XA, XB])
    assert logs["yes_loss"] == pytest.approx(float(losses.get("binary_crossentropy")(YES, yes).data), rel=1e-6)
    assert logs["amount_loss"] == pytest.approx(float(((amount - AMOUNT) ** 2).mean()), rel=1e-6)
    assert logs["loss"] == pytest.approx(0.5 * logs["yes_loss"] + 2.0 * logs["amount_loss"], rel=1e-6)


def test_lists_and_dicts_train_alike():
    by_list = compiled(loss=["binary_crossentropy", "mse"], loss_weights=[0.5, 2.0], metrics=[["accuracy"], "mae"])
    by_name = compiled(loss_weights={"amount": 2.0, "yes": 0.5}, metrics={"amount": "mae", "yes": ["accuracy"]})
    listed = by_list.fit([XA, XB], [YES, AMOUNT], epochs=2, batch_size=4, shuffle=False, verbose=0).history
    named = by_name.fit({"b": XB, "a": XA}, {"amount": AMOUNT, "yes": YES}, epochs=2, batch_size=4, shuffle=False,
                        verbose=0).history
    assert listed == named
    for ours, theirs in zip(by_list.get_weights(), by_name.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_one_loss_serves_every_output():
    model = two_by_two()
    model.compile(optimizer="sgd", loss="mse")
    logs = model.evaluate([XA, XB], [YES, AMOUNT], verbose=0, return_dict=True)
    assert sorted(logs) == ["amount_loss", "loss", "yes_loss"]
    assert logs["loss"] == pytest.approx(logs["yes_loss"] + logs["amount_loss"], rel=1e-6)


def test_a_metric_named_twice_for_one_output_is_numbered():
    model = compiled(metrics=["mae", ["mse", "mse"]])
    logs = model.evaluate([XA, XB], [YES, AMOUNT], verbose=0, return_dict=True)
    assert {"yes_mae", "amount_mse", "amount_mse_1"} <= set(logs) and logs["amount_mse"] == logs["amount_mse_1"]


@pytest.mark.parametrize("call, match", [
    (lambda m: m.fit({"a": XA, "c": XB}, [YES, AMOUNT], verbose=0), "x has the key 'c', which names no input"),
    (lambda m: m.fit({"a": XA}, [YES, AMOUNT], verbose=0), "no entry for the input 'b'"),
    (lambda m: m.fit([XA, XB], {"yes": YES, "amont": AMOUNT}, verbose=0), "y has the key 'amont', which names no out"),
    (lambda m: m.evaluate([XA, XB], [YES, AMOUNT], sample_weight={"no": np.ones(10)}, verbose=0),
     "sample_weight has the key 'no'"),
    (lambda m: m.fit([XA, XB], YES, verbose=0), r"several outputs \(2\): give y as a list of 2 arrays"),
])
def test_data_naming_no_input_or_output_is_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call(compiled())


@pytest.mark.parametrize("settings, match", [
    ({"loss": {"yes": "mse", "nope": "mse"}}, "loss has the key 'nope', which names no output"),
    ({"loss_weights": {"Yes": 1.0}}, "loss_weights has the key 'Yes'"),
    ({"metrics": {"yes": ["mae"], "amount_": ["mae"]}}, "metrics has the key 'amount_'"),
    ({"loss": ["mse"] * 3}, "loss is a list of 3 for a model with 2 outputs"),
])
def test_compile_settings_naming_no_output_are_refused(settings, match):
    with pytest.raises(ValueError, match=match):
        compiled(**settings).fit([XA, XB], [YES, AMOUNT], verbose=0)


def test_predict_and_the_batch_methods_with_two_outputs():
    model = compiled(metrics={"yes": ["accuracy"], "amount": ["mae"]})
    yes, amount = model.predict({"a": XA, "b": XB}, batch_size=3)
    assert yes.shape == (10, 1) and amount.shape == (10, 2)
    logs = model.test_on_batch([XA, XB], [YES, AMOUNT], return_dict=True)
    assert logs == model.evaluate([XA, XB], [YES, AMOUNT], batch_size=10, verbose=0, return_dict=True)
    # Keras's order: loss, the outputs' losses, then the prefixed metrics sorted by name
    order = ("loss", "yes_loss", "amount_loss", "amount_mae", "yes_accuracy")
    assert model.test_on_batch([XA, XB], [YES, AMOUNT]) == [logs[key] for key in order]
    before = model.get_weights()
    trained = model.train_on_batch([XA, XB], [YES, AMOUNT], return_dict=True)
    assert trained == logs  # computed before the step, on the same batch
    assert any(not np.array_equal(b, a) for b, a in zip(before, model.get_weights()))


def test_model_input_and_output_are_given_back_as_given():
    a = Input(shape=(3,), name="alone")
    single = Model(a, Dense(2)(a))
    assert single.input is a and single.inputs == [a] and single.output is single.outputs[0]
    model = two_by_two()
    assert model.input == model.inputs and [t.name for t in model.input] == ["a", "b"]
    assert [t.node.layer.name for t in model.output] == ["yes", "amount"]


def test_a_model_cut_from_a_trained_one_shares_its_layers():
    model = compiled()
    model.fit([XA, XB], [YES, AMOUNT], epochs=2, verbose=0)
    hidden = model.get_layer("hidden")
    assert hidden.input is model.input[0] and hidden.output.shape == (None, 4)
    encoder = Model(model.input[0], hidden.output)
    kernel, bias = hidden.get_weights()
    np.testing.assert_allclose(encoder.predict(XA), np.tanh(XA @ kernel + bias), rtol=1e-5, atol=1e-6)
    model.fit([XA, XB], [YES, AMOUNT], epochs=1, verbose=0)  # training the whole moves the part too
    kernel, bias = hidden.get_weights()
    np.testing.assert_allclose(encoder.predict(XA), np.tanh(XA @ kernel + bias), rtol=1e-5, atol=1e-6)


def test_a_layer_never_called_on_a_keras_tensor_has_no_output():
    layer = Dense(2, name="loose")
    layer(np.ones((1, 3), np.float32))  # a call on data makes no graph node
    with pytest.raises(AttributeError, match="'loose' has never been called on a KerasTensor"):
        layer.output


def test_the_translation_examples_inference_models_from_the_trained_layers():
    """keras.io's character-level translation: train encoder and decoder together, then cut out an encoder
    Model(encoder_inputs, encoder_states) and a decoder fed those states; together they predict as the whole."""
    set_random_seed(0)
    encoder_inputs, decoder_inputs = Input(shape=(None, 5)), Input(shape=(None, 6))
    _, h, c = LSTM(8, return_state=True, name="encoder")(encoder_inputs)
    decoded, _, _ = LSTM(8, return_sequences=True, return_state=True, name="decoder")(decoder_inputs,
                                                                                      initial_state=[h, c])
    model = Model([encoder_inputs, decoder_inputs], Dense(6, activation="softmax", name="probs")(decoded))
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    rng = np.random.default_rng(1)
    source, target = rng.random((8, 4, 5)), rng.random((8, 3, 6))
    model.fit([source, target], np.eye(6)[rng.integers(0, 6, (8, 3))], epochs=2, verbose=0)

    _, state_h, state_c = model.get_layer("encoder").output
    encoder = Model(model.input[0], [state_h, state_c])
    given_h, given_c = Input(shape=(8,)), Input(shape=(8,))
    steps, step_h, step_c = model.get_layer("decoder")(model.input[1], initial_state=[given_h, given_c])
    decoder = Model([model.input[1], given_h, given_c], [model.get_layer("probs")(steps), step_h, step_c])
    probabilities, _, _ = decoder.predict([target, *encoder.predict(source)])
    np.testing.assert_allclose(probabilities, model.predict([source, target]), rtol=1e-5, atol=1e-7)
