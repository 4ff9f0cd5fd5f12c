"""to_torch / from_torch over the constructor arguments of every module kind they convert (issue 30: bridges
refuse what they cannot copy). Each random module, or layer, either converts, and then both sides give the
same outputs on random input, and the way back gives them again; or it is refused with a ValueError naming
each argument whose meaning would be lost. Which arguments are refused is this file's spec, written out in
the `refused` lists below. Needs PyTorch: skipped without it, except under `make parity` (and so in CI)."""
import warnings

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from parity import require  # before keras: it sets KERAS_BACKEND

torch = require("torch")

from tinygrad_embed import layers  # noqa: E402
from tinygrad_embed.interop import from_torch, to_torch  # noqa: E402
from tinygrad_embed.models import Sequential  # noqa: E402

nn = torch.nn
TOLERANCE = {"float32": 2e-5, "float64": 1e-10}
def mostly(usual, *others):
    """`usual` three times in four, else one of `others`: most cases convert, every refusal is still tried."""
    return st.sampled_from([usual] * (3 * len(others)) + list(others))


DTYPES = mostly("float32", "float64", "float16", "bfloat16")
CARRIED_DTYPES = ("float32", "float64")
STEPS, BATCH = 9, 3


def floats(seed: int, shape: tuple, dtype: str) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def ids(seed: int, vocabulary: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, vocabulary, (BATCH, STEPS))


# ---- PyTorch modules with random arguments: (module, the arguments from_torch must refuse, an input) -------
@st.composite
def embeddings(draw):
    n, dim, dtype = draw(st.integers(2, 12)), draw(st.integers(1, 5)), draw(DTYPES)
    padding_idx = draw(st.none() | st.integers(-n, n - 1)) if draw(st.booleans()) else None
    max_norm = draw(st.none() | st.floats(0.5, 3.0)) if draw(st.booleans()) else None
    scale, sparse = draw(mostly(False, True)), draw(st.booleans())
    module = nn.Embedding(n, dim, padding_idx=padding_idx, max_norm=max_norm, scale_grad_by_freq=scale,
                          sparse=sparse, dtype=getattr(torch, dtype))
    refused = ["padding_idx"] * (padding_idx is not None) + ["max_norm"] * (max_norm is not None) + \
        ["scale_grad_by_freq"] * scale
    return module, refused, dtype, ids(draw(st.integers(0, 99)), n)


@st.composite
def linears(draw):
    features, dtype = draw(st.integers(1, 5)), draw(DTYPES)
    module = nn.Linear(features, draw(st.integers(1, 5)), bias=draw(st.booleans()), dtype=getattr(torch, dtype))
    return module, [], dtype, floats(draw(st.integers(0, 99)), (BATCH, STEPS, features), "float32")


@st.composite
def recurrents(draw):
    kind, features, units, dtype = draw(st.sampled_from([nn.LSTM, nn.GRU])), draw(st.integers(1, 4)), \
        draw(st.integers(1, 4)), draw(DTYPES)
    anything = draw(st.booleans())  # else only the arguments that convert: half the cases, every kind of them
    arguments = {"num_layers": draw(st.integers(1, 3)), "bias": draw(st.booleans()),
                 "batch_first": draw(mostly(True, False) if anything else st.just(True)),
                 "dropout": draw(st.sampled_from([0.0, 0.3])), "bidirectional": draw(st.booleans())}
    if kind is nn.LSTM and units > 1 and anything:
        arguments["proj_size"] = draw(mostly(0, *range(1, units)))
    with warnings.catch_warnings():  # dropout with one layer: PyTorch warns that it has no effect (true)
        warnings.simplefilter("ignore", UserWarning)
        module = kind(features, units, dtype=getattr(torch, dtype), **arguments)
    # carried: num_layers (a Sequential of layers, Dropout between), bidirectional (Bidirectional), bias, dropout
    refused = ["batch_first=False"] * (not arguments["batch_first"]) + ["proj_size"] * (arguments.get("proj_size", 0) > 0)
    return module, refused, dtype, floats(draw(st.integers(0, 99)), (BATCH, STEPS, features), "float32")


@st.composite
def convolutions(draw):
    channels, groups, dtype = draw(st.integers(1, 3)), draw(mostly(1, 2)), draw(DTYPES)
    size, stride, dilation = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    padding = draw(st.sampled_from([0, 1, 2, 3, "valid"] + ["same"] * (stride == 1)))  # PyTorch: 'same' needs stride 1
    mode = draw(mostly("zeros", "reflect", "replicate", "circular"))
    module = nn.Conv1d(channels * groups, groups * draw(st.integers(1, 3)), size, stride=stride, padding=padding,
                       dilation=dilation, groups=groups, bias=draw(st.booleans()), padding_mode=mode,
                       dtype=getattr(torch, dtype))
    amount = {"valid": 0, "same": dilation * (size - 1)}.get(padding, 2 * padding)  # steps added, both sides
    same = stride == 1 and amount == dilation * (size - 1)  # Keras's 'same' (for stride 1: the odd one at the end)
    refused = ["groups"] * (groups > 1) + ["padding="] * (amount > 0 and not same) \
        + ["padding_mode"] * (amount > 0 and mode != "zeros") + ["stride"] * (stride > 1 and dilation > 1)
    return module, refused, dtype, floats(draw(st.integers(0, 99)), (BATCH, STEPS, channels * groups), "float32")


@st.composite
def dropouts(draw):
    module = nn.Dropout(draw(st.sampled_from([0.0, 0.25, 0.5, 1.0])), inplace=draw(st.booleans()))
    return module, [], "float32", floats(draw(st.integers(0, 99)), (BATCH, STEPS, 2), "float32")


@st.composite
def flattens(draw):
    start, end = draw(mostly(1, 0, 2, -1)), draw(mostly(-1, 1, 2))
    refused = ["start_dim"] * ((start, end) != (1, -1))
    return nn.Flatten(start, end), refused, "float32", floats(draw(st.integers(0, 99)), (BATCH, STEPS, 2), "float32")


def run_plain(module, x: np.ndarray) -> np.ndarray:
    """What a plain PyTorch module gives for batch-first, channels-last x (as the layers here read it)."""
    t = torch.from_numpy(x)
    if isinstance(module, nn.RNNBase):
        return module(t)[0].detach().numpy()
    if isinstance(module, nn.Conv1d):
        return module(t.transpose(1, 2)).transpose(1, 2).detach().numpy()
    return module(t).detach().numpy()


@pytest.mark.parametrize("modules", [embeddings, linears, recurrents, convolutions, dropouts, flattens])
@given(data=st.data())
def test_from_torch_converts_each_module_kind_or_refuses_by_argument(modules, data):
    module, refused, dtype, x = data.draw(modules())
    refused = refused + ([f"{dtype}"] if dtype not in CARRIED_DTYPES else [])  # float16, bfloat16: by their name
    event(f"{type(module).__name__}: {'refused' if refused else 'converted'}")
    if refused:
        with pytest.raises(ValueError) as error:
            from_torch(module)
        assert all(name in str(error.value) for name in refused), (refused, str(error.value))
        return
    module.eval()  # Dropout: identity, as predict here
    x = x.astype(dtype) if x.dtype.kind == "f" else x
    expected = run_plain(module, x)
    layer = from_torch(module)
    np.testing.assert_allclose(layer(x).data, expected, atol=TOLERANCE[dtype], rtol=TOLERANCE[dtype])
    back = to_torch(layer).eval()  # and the way back: to_torch's module gives what the first one gave
    np.testing.assert_allclose(back(torch.from_numpy(x)).detach().numpy(), expected, atol=TOLERANCE[dtype],
                               rtol=TOLERANCE[dtype])
    assert all(w.data.dtype == np.dtype(dtype) for w in layer.weights)
    assert all(p.dtype == getattr(torch, dtype) for p in back.parameters())


# ---- layers with random arguments: (layer, the arguments to_torch must refuse, an input) ------------------
ACTIVATIONS = st.sampled_from([None, "linear", "relu", "tanh", "sigmoid", "softmax"])
CARRIED = st.sampled_from(CARRIED_DTYPES)


@st.composite
def embedding_layers(draw):
    n = draw(st.integers(2, 12))
    layer = layers.Embedding(n, draw(st.integers(1, 5)), mask_zero=draw(st.booleans()), dtype=draw(CARRIED))
    return layer, [], ids(draw(st.integers(0, 99)), n)


@st.composite
def dense_layers(draw):
    layer = layers.Dense(draw(st.integers(1, 5)), activation=draw(ACTIVATIONS), use_bias=draw(st.booleans()),
                         dtype=draw(CARRIED))
    return layer, [], floats(draw(st.integers(0, 99)), (BATCH, STEPS, draw(st.integers(1, 4))), layer.dtype)


@st.composite
def recurrent_layers(draw):
    kind = draw(st.sampled_from([layers.LSTM, layers.GRU]))
    maybe = (lambda usual, other: mostly(usual, other)) if draw(st.booleans()) else (lambda usual, other: st.just(usual))
    flags = {name: draw(maybe(False, True)) for name in ("return_state", "go_backwards", "stateful")}
    flags |= {name: draw(st.booleans()) for name in ("return_sequences", "use_bias")}
    rates = {name: draw(maybe(0.0, 0.2)) for name in ("dropout", "recurrent_dropout")}
    activation, recurrent = draw(maybe("tanh", "relu")), draw(maybe("sigmoid", "tanh"))
    extra = {"reset_after": draw(maybe(True, False))} if kind is layers.GRU else {}
    layer = kind(draw(st.integers(1, 4)), activation=activation, recurrent_activation=recurrent, dtype=draw(CARRIED),
                 **flags, **rates, **extra)
    refused = [name for name in ("return_state", "go_backwards", "stateful") if flags[name]] \
        + [name for name, rate in rates.items() if rate] + ["reset_after"] * (extra.get("reset_after") is False) \
        + ["activations"] * ((activation, recurrent) != ("tanh", "sigmoid"))
    if extra.get("reset_after") is False:
        refused = ["reset_after"]  # refused first, on its own: nn.GRU has no such gate at all
    return layer, refused, floats(draw(st.integers(0, 99)), (BATCH, STEPS, draw(st.integers(1, 4))), layer.dtype)


@st.composite
def bidirectional_layers(draw):
    layer, refused, x = draw(recurrent_layers())
    merge_mode = draw(mostly("concat", "sum", "mul", "ave", None))
    wrapper = layers.Bidirectional(layer, merge_mode=merge_mode)
    if merge_mode != "concat":  # the wrapper's merge is looked at first, then each direction
        refused = ["merge_mode"]
    return wrapper, refused, x


@st.composite
def conv_layers(draw):
    strides = draw(st.integers(1, 3))
    dilation = 1 if strides > 1 else draw(st.integers(1, 2))  # Keras refuses both above 1
    layer = layers.Conv1D(draw(st.integers(1, 3)), draw(st.integers(1, 4)), strides=strides,
                          padding=draw(st.sampled_from(["valid", "same", "causal"])), dilation_rate=dilation,
                          activation=draw(ACTIVATIONS), use_bias=draw(st.booleans()), dtype=draw(CARRIED))
    return layer, [], floats(draw(st.integers(0, 99)), (BATCH, STEPS, draw(st.integers(1, 3))), layer.dtype)


@st.composite
def weightless_layers(draw):
    choice = draw(st.sampled_from(["dropout", "flatten", "max", "average"]))
    if choice == "dropout":
        noise_shape = draw(mostly(None, (None, 1, 2)))
        layer, refused = layers.Dropout(draw(st.sampled_from([0.0, 0.5])), noise_shape=noise_shape), \
            ["noise_shape"] * (noise_shape is not None)
    elif choice == "flatten":
        data_format = draw(mostly("channels_last", "channels_first"))
        layer, refused = layers.Flatten(data_format), ["data_format"] * (data_format == "channels_first")
    else:
        pooling = layers.GlobalMaxPooling1D if choice == "max" else layers.GlobalAveragePooling1D
        layer, refused = pooling(keepdims=draw(st.booleans())), []
    return layer, refused, floats(draw(st.integers(0, 99)), (BATCH, STEPS, 2), "float32")


@pytest.mark.parametrize("kinds", [embedding_layers, dense_layers, recurrent_layers, bidirectional_layers, conv_layers,
                                   weightless_layers])
@given(data=st.data(), trainable=st.booleans())
def test_to_torch_converts_each_layer_kind_or_refuses_by_argument(kinds, data, trainable):
    layer, refused, x = data.draw(kinds())
    ours = layer(x)  # builds it
    layer.trainable = trainable
    event(f"{type(layer).__name__}: {'refused' if refused else 'converted'}")
    if refused:
        with pytest.raises(ValueError) as error:
            to_torch(layer)
        assert all(name in str(error.value) for name in refused), (refused, str(error.value))
        return
    module = to_torch(layer).eval()
    tolerance = TOLERANCE[layer.dtype.name]
    np.testing.assert_allclose(module(torch.from_numpy(x)).detach().numpy(), ours.data, atol=tolerance, rtol=tolerance)
    assert all(p.requires_grad == trainable and p.dtype == getattr(torch, layer.dtype.name) for p in module.parameters())
    back = from_torch(module)  # and the way back: the layer from PyTorch's module gives what the first one gave
    np.testing.assert_allclose(back(x).data, ours.data, atol=tolerance, rtol=tolerance)
    assert back.trainable == trainable or not layer.weights


# ---- each promise on its own ------------------------------------------------------------------------------
def test_a_time_first_lstm_is_refused_with_the_fix_and_the_fix_works():
    torch.manual_seed(0)
    lstm = nn.LSTM(4, 3)  # PyTorch's default: batch_first=False, input (time, batch, features)
    with pytest.raises(ValueError, match=r"batch_first=False: nn.LSTM reads \(time, batch, features\).*set "
                                         r"module.batch_first = True"):
        from_torch(lstm)
    x = floats(1, (STEPS, BATCH, 4), "float32")
    expected = lstm(torch.from_numpy(x))[0].detach().numpy()
    lstm.batch_first = True  # the fix the message gives: the same weights, batch-first input
    np.testing.assert_allclose(from_torch(lstm)(x.transpose(1, 0, 2)).data, expected.transpose(1, 0, 2), atol=1e-6)


def test_padding_idx_is_refused_and_converts_once_the_row_may_train():
    table = nn.Embedding(6, 3, padding_idx=0)
    with pytest.raises(ValueError, match=r"padding_idx=0: PyTorch never trains that row.*module.padding_idx = None"):
        from_torch(table)
    x = ids(2, 6)
    x[0, :2] = 0
    table(torch.from_numpy(x)).sum().backward()
    np.testing.assert_array_equal(table.weight.grad[0].numpy(), np.zeros(3))  # the reason: that row never moves there
    table.padding_idx = None
    layer = from_torch(table)  # the table as it is, row 0 (zeros, as PyTorch started it) included; it trains here
    np.testing.assert_allclose(layer(x).data, table(torch.from_numpy(x)).detach().numpy())
    layer(x).sum().backward()
    np.testing.assert_array_equal(layer.embeddings.grad[0], np.full(3, (x == 0).sum()))


def test_sparse_gradients_are_carried_as_the_same_numbers():
    torch.manual_seed(0)
    table, x = nn.Embedding(7, 3, sparse=True), ids(3, 7)
    (table(torch.from_numpy(x)) ** 2).sum().backward()
    layer = from_torch(table)
    (layer(x) ** 2).sum().backward()
    np.testing.assert_allclose(layer.embeddings.grad, table.weight.grad.to_dense().numpy(), atol=1e-6)


def test_requires_grad_is_carried_as_trainable_and_a_mix_is_refused():
    frozen = nn.Embedding.from_pretrained(torch.randn(5, 2))  # freeze=True: requires_grad=False
    layer = from_torch(frozen)
    assert not layer.trainable and layer.trainable_weights == []
    assert not any(p.requires_grad for p in to_torch(layer).parameters())
    linear = nn.Linear(3, 2)
    linear.bias.requires_grad_(False)
    with pytest.raises(ValueError, match=r"nn.Linear's bias have requires_grad=False and its other parameters not"):
        from_torch(linear)


def test_float64_is_carried_both_ways_and_half_precision_refused():
    linear = nn.Linear(3, 2, dtype=torch.float64)
    layer = from_torch(linear)
    assert layer.dtype == np.float64 and layer.kernel.data.dtype == np.float64
    assert to_torch(layer).linear.weight.dtype == torch.float64
    with pytest.raises(ValueError, match=r"parameters are float16: .*module.float\(\)"):
        from_torch(nn.Linear(3, 2, dtype=torch.float16))


def test_a_module_computing_something_else_than_its_class_is_refused():
    class Doubled(nn.Linear):
        def forward(self, x):
            return 2 * super().forward(x)

    with pytest.raises(ValueError, match=r"Doubled subclasses nn.Linear with a forward of its own"):
        from_torch(Doubled(3, 2))
    hooked = nn.Linear(3, 2)
    hooked.register_forward_hook(lambda module, inputs, output: output + 1)
    with pytest.raises(ValueError, match=r"nn.Linear has forward hooks"):
        from_torch(hooked)
    with pytest.raises(ValueError, match=r"subclasses nn.Linear"):
        from_torch(nn.Sequential(nn.Embedding(5, 3), Doubled(3, 2)))


def test_a_layer_computing_something_else_than_its_class_is_refused():
    class Halved(layers.Dense):
        def call(self, inputs):
            return super().call(inputs) / 2

    x = floats(7, (BATCH, STEPS, 4), "float32")
    for layer in (Halved(2), layers.SpatialDropout1D(0.5)):
        layer(x)
        with pytest.raises(ValueError, match=rf"is a {type(layer).__name__}, which to_torch does not convert"):
            to_torch(layer)
    simple = layers.Bidirectional(layers.SimpleRNN(2))
    simple(x)
    with pytest.raises(ValueError, match=r"wraps a SimpleRNN; to_torch converts a Bidirectional of LSTM or GRU"):
        to_torch(simple)


def test_a_conv1d_padded_symmetrically_as_same_converts():
    conv = nn.Conv1d(2, 3, 5, padding=4, dilation=2)  # 4 = dilation * (kernel_size - 1) / 2: Keras's 'same'
    layer = from_torch(conv)
    assert layer.padding == "same"
    x = floats(4, (BATCH, STEPS, 2), "float32")
    np.testing.assert_allclose(layer(x).data, run_plain(conv, x), atol=1e-5)


def test_stacked_and_bidirectional_modules_convert_with_masks_too():
    torch.manual_seed(0)
    stack = nn.GRU(4, 3, num_layers=2, bidirectional=True, dropout=0.5, batch_first=True)
    converted = from_torch(stack)  # a Sequential: one Bidirectional per layer, PyTorch's dropout between
    assert [type(layer).__name__ for layer in converted.layers] == ["Bidirectional", "Dropout", "Bidirectional"]
    x = floats(5, (BATCH, STEPS, 4), "float32")
    np.testing.assert_allclose(converted(x).data, stack.eval()(torch.from_numpy(x))[0].detach().numpy(), atol=1e-5)
    last_only = layers.Bidirectional(layers.LSTM(2))  # the backward direction's last output is PyTorch's at step 0
    ours = last_only(x).data
    np.testing.assert_allclose(to_torch(last_only)(torch.from_numpy(x)).detach().numpy(), ours, atol=1e-5)
    masked = Sequential([layers.Input((STEPS,), dtype="int32"), layers.Embedding(12, 4, mask_zero=True),
                         layers.Bidirectional(layers.LSTM(2, return_sequences=True)), converted,
                         layers.Bidirectional(layers.GRU(2)), layers.Dense(1)])
    padded = ids(6, 11) + 1
    padded[0, :4], padded[1, :8] = 0, 0  # pre-padded: 5 words, 1 word, 9 words
    expected = masked.predict(padded)
    module = to_torch(masked).eval()  # the Sequential inside takes its place in the list
    np.testing.assert_allclose(module(torch.from_numpy(padded)).detach().numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(from_torch(module).predict(padded), expected, atol=1e-5)
