"""Bidirectional: equal to a forward layer and a go_backwards layer composed by hand, the real steps of a
padded row read both ways, gradients, Keras's errors, dropout's training flag, saving and loading."""
import itertools
from unittest import mock

import numpy as np
import pytest

import tinygrad_embed as tg
from tinygrad_embed import fused_rnn
from tinygrad_embed.layers import GRU, LSTM, Bidirectional, Dense, Embedding, Input, SimpleRNN
from tinygrad_embed.models import Model, Sequential, load_model
from tinygrad_embed.functions import concatenate
from test_models import toy_data

MERGES = {"concat": lambda a, b: np.concatenate([a, b], axis=-1), "sum": np.add, "mul": np.multiply,
          "ave": lambda a, b: (a + b) / 2, None: lambda a, b: [a, b]}
RECURRENT = {"LSTM": LSTM, "GRU": GRU, "SimpleRNN": SimpleRNN}


def padded(seed=0, batch=5, steps=6, features=3):
    rng = np.random.default_rng(seed)
    mask = np.ones((batch, steps), bool)
    mask[0, :2], mask[1, 4:], mask[2, 1:3], mask[3, :] = False, False, False, False  # pre, post, middle, all
    return rng.standard_normal((batch, steps, features)), mask


def as_list(outputs):
    return [o.data for o in outputs] if isinstance(outputs, list) else [outputs.data]


@pytest.mark.parametrize("kind, merge_mode, return_sequences, return_state",
                         list(itertools.product(RECURRENT, MERGES, (False, True), (False, True))))
def test_equals_a_forward_and_a_go_backwards_layer_composed_by_hand(kind, merge_mode, return_sequences, return_state):
    x, mask = padded()
    options = dict(units=4, return_sequences=return_sequences, return_state=return_state, dtype="float64")
    wrapper = Bidirectional(RECURRENT[kind](**options), merge_mode=merge_mode)
    got = as_list(wrapper(x, mask=mask))
    forward, backward = RECURRENT[kind](**options), RECURRENT[kind](go_backwards=True, **options)
    forward(x), backward(x)
    half = len(wrapper.get_weights()) // 2  # forward's weights first, as Keras
    forward.set_weights(wrapper.get_weights()[:half])
    backward.set_weights(wrapper.get_weights()[half:])
    y, y_rev = as_list(forward(x, mask=mask)), as_list(backward(x, mask=mask))
    if return_sequences:  # back in input order; masked steps output zeros (Keras forces zero_output_for_mask)
        y[0], y_rev[0] = y[0] * mask[:, :, None], y_rev[0][:, ::-1] * mask[:, :, None]
    merged = MERGES[merge_mode](y[0], y_rev[0])
    expected = (merged if merge_mode is None else [merged]) + (y[1:] + y_rev[1:] if return_state else [])
    assert len(got) == len(expected)
    for mine, theirs in zip(got, expected):
        np.testing.assert_array_equal(mine, theirs)
    shapes = wrapper.compute_output_shape((None, 6, 3))
    assert [(None,) + g.shape[1:] for g in got] == (shapes if isinstance(shapes, list) else [shapes])


@pytest.mark.parametrize("kind, return_sequences", list(itertools.product(RECURRENT, (False, True))))
def test_each_direction_reads_exactly_the_real_steps_of_a_padded_row(kind, return_sequences):
    """Pre, post and middle padding: row b gives what its real steps alone give, unmasked, both ways."""
    x, mask = padded(1)
    wrapper = Bidirectional(RECURRENT[kind](3, return_sequences=return_sequences, dtype="float64"))
    out = wrapper(x, mask=mask).data
    np.testing.assert_array_equal(out[3], 0)  # the all-masked row: both states stay at zero
    for b in (0, 1, 2, 4):
        real = x[b:b + 1, mask[b]]
        y, y_rev = wrapper.forward_layer(real).data[0], wrapper.backward_layer(real).data[0]
        if return_sequences:
            expected = np.zeros(out[b].shape)
            expected[mask[b]] = np.concatenate([y, y_rev[::-1]], axis=-1)
        else:
            expected = np.concatenate([y, y_rev])
        # the padded batch and the lone row sum their products in another order: float64 rounding only
        np.testing.assert_allclose(out[b], expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind, merge_mode, return_state",
                         [("LSTM", "concat", False), ("GRU", "mul", True), ("SimpleRNN", "ave", False),
                          ("LSTM", None, True), ("GRU", "sum", False)])
def test_gradients_match_finite_differences(kind, merge_mode, return_state):
    x, mask = padded(2, batch=4, steps=4)
    x = tg.Tensor(x, requires_grad=True)
    wrapper = Bidirectional(RECURRENT[kind](3, return_sequences=True, return_state=return_state,
                                            bias_initializer="uniform", dtype="float64"), merge_mode=merge_mode)
    wrapper(x)

    def flat(x, *weights):  # every output in one Tensor, for gradcheck's single random upstream gradient
        outputs = wrapper(x, mask=mask)
        return concatenate([o.reshape(4, -1) for o in outputs], axis=1) if isinstance(outputs, list) else outputs
    assert tg.gradcheck(flat, [x, *wrapper.trainable_weights])


def test_one_step_sequence():
    x = np.random.default_rng(3).standard_normal((2, 1, 3))
    wrapper = Bidirectional(GRU(2, return_sequences=True, dtype="float64"), merge_mode=None)
    y, y_rev = wrapper(x)
    np.testing.assert_array_equal(y.data, wrapper.forward_layer(x).data)  # one step: both read the same thing
    np.testing.assert_array_equal(y_rev.data, wrapper.backward_layer(x).data)


def test_names_copies_and_keras2_weights_keyword():
    lstm = LSTM(3, name="words")
    wrapper = Bidirectional(lstm)
    assert (wrapper.forward_layer.name, wrapper.backward_layer.name) == ("forward_words", "backward_words")
    assert wrapper.forward_layer is not lstm and not lstm.built  # fresh copies, as Keras: the layer is a template
    assert (wrapper.forward_layer.go_backwards, wrapper.backward_layer.go_backwards) == (False, True)
    flipped = Bidirectional(LSTM(3, go_backwards=True))  # the copy reads the other way (Keras 2; Keras 3 refuses)
    assert (flipped.forward_layer.go_backwards, flipped.backward_layer.go_backwards) == (True, False)
    frozen = Bidirectional(LSTM(3), trainable=False)
    frozen(np.ones((1, 4, 2)))
    assert len(frozen.weights) == 6 and not any(w.requires_grad for w in frozen.weights)
    weights = [np.full(s, i, np.float32) for i, s in enumerate([(2, 12), (3, 12), (12,)] * 2)]
    given = Bidirectional(LSTM(3), weights=weights)
    given(np.ones((1, 4, 2)))
    for mine, theirs in zip(given.get_weights(), weights):
        np.testing.assert_array_equal(mine, theirs)


def test_a_backward_layer_of_its_own():
    wrapper = Bidirectional(LSTM(3, return_sequences=True),
                            backward_layer=GRU(2, go_backwards=True, return_sequences=True, name="back"))
    out = wrapper(np.ones((2, 5, 4), np.float32))
    assert out.shape == (2, 5, 5) and wrapper.compute_output_shape((None, 5, 4)) == (None, 5, 5)
    assert wrapper.backward_layer.name == "back" and len(wrapper.get_weights()) == 6


@pytest.mark.parametrize("make, message", [
    (lambda: Bidirectional(LSTM(3), merge_mode="max"), "merge_mode must be one of"),
    (lambda: Bidirectional(Dense(3)), "recurrent Layer instance"),
    (lambda: Bidirectional("lstm"), "recurrent Layer instance"),
    (lambda: Bidirectional(LSTM(3), backward_layer=Dense(3)), "backward_layer must be a recurrent Layer"),
    (lambda: Bidirectional(LSTM(3), backward_layer=LSTM(3)), "opposite directions, but both have go_backwards=False"),
    (lambda: Bidirectional(LSTM(3), backward_layer=LSTM(3, go_backwards=True, return_sequences=True)),
     "same return_sequences, got False and True"),
    (lambda: Bidirectional(LSTM(3), dtype="float64"), "float64 for the wrapper, float32 and float32"),
])
def test_bad_arguments_are_refused_naming_them(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_the_training_flag_reaches_both_directions():
    x = np.random.default_rng(4).standard_normal((8, 5, 3))
    wrapper = Bidirectional(LSTM(4, dropout=0.5, recurrent_dropout=0.5, return_sequences=True, dtype="float64"),
                            merge_mode=None)
    plain = Bidirectional(LSTM(4, return_sequences=True, dtype="float64"), merge_mode=None)
    plain(x)
    wrapper(x)
    plain.set_weights(wrapper.get_weights())
    for dropped, kept, inference in zip(wrapper(x, training=True), wrapper(x), plain(x)):
        assert not np.allclose(dropped.data, inference.data)
        np.testing.assert_array_equal(kept.data, inference.data)


def test_stacked_in_a_model_it_trains_saves_and_loads(tmp_path):
    ids = Input(shape=(12,), dtype="int32")
    hidden = Bidirectional(LSTM(4, return_sequences=True))(Embedding(20, 5, mask_zero=True)(ids))
    hidden = Bidirectional(GRU(3), merge_mode="ave", backward_layer=GRU(3, go_backwards=True, reset_after=False))(hidden)
    model = Model(ids, Dense(1, activation="sigmoid")(hidden))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    x, y = toy_data(32)
    x[:8, 9:] = 0  # padding the masks must carry through both wrappers
    before = model.get_weights()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))  # every weight learnt
    model.save(tmp_path / "m.npz")
    restored = load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(restored.predict(x), model.predict(x))
    for mine, theirs in zip(restored.layers, model.layers):
        assert mine.get_config() == theirs.get_config()
    assert not restored.layers[3].backward_layer.reset_after


def test_a_sequential_model_with_merge_mode_none_saves_and_loads(tmp_path):
    model = Sequential([Embedding(20, 4), Bidirectional(SimpleRNN(3), merge_mode=None)])
    ids = toy_data(4)[0]
    y, y_rev = model.predict(ids)
    model.save(tmp_path / "m.npz")
    for mine, theirs in zip(load_model(tmp_path / "m.npz").predict(ids), (y, y_rev)):
        np.testing.assert_array_equal(mine, theirs)


def test_with_merge_mode_none_each_direction_hands_the_mask_on():
    ids = np.array([[0, 3, 4, 5], [6, 7, 0, 0]])
    embedded = Embedding(10, 3, mask_zero=True)(ids)
    forward, backward = Bidirectional(LSTM(2, return_sequences=True), merge_mode=None)(embedded)
    np.testing.assert_array_equal(forward._keras_mask, ids != 0)
    np.testing.assert_array_equal(backward._keras_mask, ids != 0)  # re-reversed with the outputs: input order
    single = Bidirectional(LSTM(2, return_sequences=True))(embedded)
    np.testing.assert_array_equal(single._keras_mask, ids != 0)


# ---- the two directions at once (FusedPair, issue 32): the same as the two layers run one after the other ----
def run_once(wrapper, x, mask, states, training, paired, monkeypatch):
    """[every output, then the gradients of x, of the initial states and of every weight] for a random upstream
    gradient, the directions paired (one FusedPair) or not (each layer's own call); dropout drawn afresh."""
    monkeypatch.setattr(Bidirectional, "_paired", lambda self, batch: paired)
    for seed, half in enumerate((wrapper.forward_layer, wrapper.backward_layer)):
        half._generator = np.random.default_rng(seed)
    x = tg.Tensor(x, requires_grad=True)
    states = None if states is None else [tg.Tensor(s, requires_grad=True) for s in states]
    for weight in wrapper.trainable_weights:
        weight.grad = None
    outputs = wrapper(x, mask=mask, initial_state=states, training=training)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    rng = np.random.default_rng(9)
    sum(((out * rng.standard_normal(out.shape).astype(out.dtype)).sum() for out in outputs), start=0).backward()
    return [out.data for out in outputs] + [x.grad] + [s.grad for s in states or ()] + \
        [weight.grad for weight in wrapper.trainable_weights]


# Alone, each layer splits the 40 rows into two blocks: its weights' gradients sum the blocks in another order,
# which moves a sum by a few roundings of its largest terms (float32: 6e-8 each), so the bound scales with them
TOLERANCES = {"float64": 1e-12, "float32": 1e-5}
PAIRED_CASES = [dict(kind=kind, merge_mode=merge, return_sequences=sequences, return_state=state)
                for kind, merge, sequences, state in itertools.product(RECURRENT, MERGES, (False, True), (False, True))
                if merge in ("concat", None) or (sequences and not state)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", PAIRED_CASES, ids=lambda c: "-".join(map(str, c.values())))
def test_the_paired_directions_give_what_the_two_layers_give(case, dtype, monkeypatch):
    """A batch of 40 (each direction on its own core), masks with a row and steps all masked, initial states,
    dropout: outputs, states and every gradient as each layer's own call gives them."""
    kind, merge_mode = case["kind"], case["merge_mode"]
    layer = RECURRENT[kind](4, dropout=0.3, recurrent_dropout=0.2, return_sequences=case["return_sequences"],
                            return_state=case["return_state"], dtype=dtype)
    wrapper = Bidirectional(layer, merge_mode=merge_mode)
    assert wrapper._paired(40)
    x, mask = padded(batch=40)
    mask[:, 2] = False  # a step masked in every row
    rng = np.random.default_rng(3)
    states = [rng.standard_normal((40, 4)).astype(dtype) for _ in range(wrapper.state_count)]
    paired = run_once(wrapper, x.astype(dtype), mask, states, True, True, monkeypatch)
    with mock.patch("tinygrad_embed.fused_pair.side_by_side", wraps=fused_rnn.side_by_side) as at_once:
        run_once(wrapper, x.astype(dtype), mask, states, True, True, monkeypatch)
    assert at_once.call_count == (2 if fused_rnn.CORES > 1 else 0)  # forward and backward, a direction per core
    alone = run_once(wrapper, x.astype(dtype), mask, states, True, False, monkeypatch)
    assert len(paired) == len(alone)
    for mine, theirs in zip(paired, alone):
        assert mine.dtype == theirs.dtype == np.dtype(dtype)
        tolerance = TOLERANCES[dtype]
        np.testing.assert_allclose(mine, theirs, rtol=tolerance, atol=tolerance * np.abs(theirs).max())


@pytest.mark.parametrize("options", [dict(go_backwards=True, return_sequences=True), dict(stateful=True),
                                     dict(return_sequences=True, return_state=True)])
def test_paired_go_backwards_stateful_and_a_backward_layer_of_its_own(options, monkeypatch):
    x, mask = padded(2, batch=20)
    results = []
    for paired in (True, False):
        wrapper = Bidirectional(GRU(3, dtype="float64", **options), merge_mode="concat",
                                backward_layer=None if "stateful" in options else
                                LSTM(2, dtype="float64", **{**options, "go_backwards": not options.get("go_backwards")}))
        wrapper(x)
        wrapper.set_weights([np.full_like(w, 0.1 * (i + 1)) for i, w in enumerate(wrapper.get_weights())])
        wrapper.reset_states()  # a stateful wrapper starts from zeros, whatever its first call with other weights left
        first = run_once(wrapper, x, mask, None, False, paired, monkeypatch)  # a stateful wrapper goes on from here
        results.append(first + run_once(wrapper, x[::-1].copy(), None, None, False, paired, monkeypatch))
    for mine, theirs in zip(*results):
        np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("make, paired", [
    (lambda: Bidirectional(LSTM(3)), True),
    (lambda: Bidirectional(SimpleRNN(3), backward_layer=GRU(2, go_backwards=True)), True),
    (lambda: Bidirectional(LSTM(3, fused=False)), False),  # the composed reference
    (lambda: Bidirectional(GRU(3, reset_after=False)), False),  # no fused op for this variant
    (lambda: Bidirectional(LSTM(3, activation="relu")), False),  # the fused kernels hard-wire tanh
    (lambda: Bidirectional(LSTM(3), backward_layer=LSTM(3, go_backwards=True, fused=False)), False),
    (lambda: Bidirectional(tg.layers.RNN(tg.layers.GRUCell(3))), False),  # a cell's step, composed
])
def test_only_two_fused_ops_are_paired(make, paired):
    assert make()._paired(64) is paired


def test_on_more_cores_a_large_batch_splits_its_rows_in_each_direction_instead():
    wrapper = Bidirectional(LSTM(3))
    with mock.patch.object(fused_rnn, "CORES", 4):
        assert wrapper._paired(47) and not wrapper._paired(48)  # 48 rows: three blocks of 16 in each direction
    with mock.patch.object(fused_rnn, "CORES", 2):
        assert wrapper._paired(48) and wrapper._paired(640)
