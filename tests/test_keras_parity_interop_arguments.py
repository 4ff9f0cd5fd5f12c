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
    arguments = {"num_layers": draw(mostly(1, 2) if anything else st.just(1)), "bias": draw(st.booleans()),
                 "batch_first": draw(mostly(True, False) if anything else st.just(True)),
                 "dropout": draw(st.sampled_from([0.0, 0.3])),
                 "bidirectional": draw(mostly(False, True) if anything else st.just(False))}
    if kind is nn.LSTM and units > 1 and anything:
        arguments["proj_size"] = draw(mostly(0, *range(1, units)))
    with warnings.catch_warnings():  # dropout with one layer: PyTorch warns that it has no effect (true)
        warnings.simplefilter("ignore", UserWarning)
        module = kind(features, units, dtype=getattr(torch, dtype), **arguments)
    refused = ["batch_first=False"] * (not arguments["batch_first"]) + ["num_layers"] * (arguments["num_layers"] > 1) \
        + ["bidirectional"] * arguments["bidirectional"] + ["proj_size"] * (arguments.get("proj_size", 0) > 0)
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
    if layer.weights:
        assert layer.dtype == np.dtype(dtype) and all(p.dtype == getattr(torch, dtype) for p in back.parameters())


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


@pytest.mark.parametrize("kinds", [embedding_layers, dense_layers, recurrent_layers, conv_layers, weightless_layers])
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
