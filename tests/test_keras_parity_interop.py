"""to_torch / from_torch against real PyTorch: the same outputs and the same gradients, layer by layer and
for a Sequential (needs the `parity` extra). Skipped without torch, except under `make parity` (and so in
CI), which sets TINYGRAD_EMBED_PARITY=required: there a missing torch is an error, not a skip."""

import numpy as np
import pytest

from parity import require  # before keras: it sets KERAS_BACKEND

torch = require("torch")

from tinygrad_embed.interop import from_torch, gru_to_torch, lstm_to_torch, to_torch  # noqa: E402
from tinygrad_embed.layers import GRU, LSTM, Conv1D, Dense, Dropout, Embedding, GlobalMaxPooling1D, Input  # noqa: E402
from tinygrad_embed.models import Sequential  # noqa: E402
from tinygrad_embed.tensor import Tensor  # noqa: E402

rng = np.random.default_rng(0)
floats = rng.standard_normal((3, 7, 4)).astype("float32")
ids = rng.integers(1, 12, (3, 7))


def torch_layout_gradients(layer, grads):
    """Our gradients in PyTorch's parameter layout, by the same maps as the weights."""
    if isinstance(layer, LSTM):
        mapped = lstm_to_torch(*grads)
        mapped["bias_hh_l0"] = mapped["bias_ih_l0"]  # both of PyTorch's biases feed the same sum
        return mapped
    if isinstance(layer, GRU):
        return gru_to_torch(*grads)
    if isinstance(layer, Conv1D):
        return {"weight": grads[0].transpose(2, 1, 0), "bias": grads[1]}
    if isinstance(layer, Dense):
        return {"weight": grads[0].T, "bias": grads[1]}
    return {"weight": grads[0]}  # Embedding


def assert_same_function_and_gradients(layer, x):
    """Outputs equal, and the gradients of sum(output * r) for a fixed random r, on both sides."""
    ours = layer(x)  # builds the layer
    module = to_torch(layer)
    theirs = module(torch.from_numpy(x))
    np.testing.assert_allclose(theirs.detach().numpy(), ours.data, atol=1e-5)
    r = rng.standard_normal(ours.shape).astype("float32")
    (ours * Tensor(r)).sum().backward()
    (theirs * torch.from_numpy(r)).sum().backward()
    assert_same_gradients(layer, module)


def assert_same_gradients(layer, module):
    inner = {key.split(".")[-1]: p for key, p in module.named_parameters()}  # "rnn.weight_ih_l0" -> "weight_ih_l0"
    mapped = torch_layout_gradients(layer, [w.grad for w in layer.weights])
    assert sorted(mapped) == sorted(inner)
    for name, grad in mapped.items():
        np.testing.assert_allclose(inner[name].grad.numpy(), grad, atol=1e-5, err_msg=f"{layer.name}: {name}")


@pytest.mark.parametrize("make, x", [
    (lambda: Embedding(12, 5), ids),
    (lambda: Dense(3, activation="tanh"), floats),
    (lambda: LSTM(5), floats),
    (lambda: LSTM(5, return_sequences=True), floats),
    (lambda: GRU(5), floats),
    (lambda: GRU(5, return_sequences=True), floats),
    (lambda: Conv1D(6, 3, activation="relu"), floats),
    (lambda: Conv1D(6, 3, strides=2, padding="same"), floats),
    (lambda: Conv1D(6, 2, dilation_rate=2, padding="causal"), floats),
], ids=["embedding", "dense", "lstm", "lstm-sequences", "gru", "gru-sequences", "conv", "conv-same-stride",
        "conv-causal-dilated"])
def test_each_layer_gives_the_same_outputs_and_gradients_in_pytorch(make, x):
    assert_same_function_and_gradients(make(), x)


@pytest.mark.parametrize("make, x", [
    (lambda: Embedding(12, 5), ids), (lambda: Dense(3, activation="softmax"), floats),
    (lambda: LSTM(5, return_sequences=True), floats), (lambda: GRU(5), floats), (lambda: Conv1D(6, 3), floats)])
def test_from_torch_brings_each_module_back(make, x):
    layer = make()
    expected = layer(x).data
    np.testing.assert_allclose(from_torch(to_torch(layer))(x).data, expected, atol=1e-6)


def test_plain_pytorch_modules_come_here():
    torch.manual_seed(0)
    modules = [torch.nn.Embedding(12, 4), torch.nn.LSTM(4, 5, batch_first=True), torch.nn.GRU(5, 3, batch_first=True),
               torch.nn.Conv1d(3, 2, 3, padding="same"), torch.nn.Linear(2, 1)]
    x = torch.from_numpy(ids)
    expected = x
    for module in modules:  # nn.Conv1d wants channels first: the layer here reads channels last
        expected = module(expected)[0] if isinstance(module, torch.nn.RNNBase) else \
            module(expected.transpose(1, 2)).transpose(1, 2) if isinstance(module, torch.nn.Conv1d) else module(expected)
    ours = Sequential([from_torch(m) for m in modules])
    np.testing.assert_allclose(ours.predict(ids), expected.detach().numpy(), atol=1e-5)


def text_cnn():
    return Sequential([Input((7,), dtype="int32"), Embedding(12, 4), Conv1D(6, 3, activation="relu"),
                       GlobalMaxPooling1D(), Dropout(0.5), Dense(2, activation="softmax")])


def masked_rnn():
    return Sequential([Input((7,), dtype="int32"), Embedding(12, 4, mask_zero=True), LSTM(5, return_sequences=True),
                       GRU(3), Dense(1, activation="sigmoid")])


def pre_padded():
    padded = ids.copy()
    padded[0, :3], padded[1, :6] = 0, 0  # 4 words, 1 word, 7 words
    return padded


@pytest.mark.parametrize("make, x", [(text_cnn, ids), (masked_rnn, pre_padded())], ids=["cnn", "masked-rnn"])
def test_a_sequential_gives_the_same_outputs_and_gradients_in_pytorch(make, x):
    model = make()
    module = to_torch(model).eval()  # eval: Dropout off, as predict
    expected = model.predict(x)
    theirs = module(torch.from_numpy(x))
    np.testing.assert_allclose(theirs.detach().numpy(), expected, atol=1e-5)
    theirs.sum().backward()
    model(x).sum().backward()
    for layer, converted in zip(model.layers, module.layers):
        if layer.weights:
            assert_same_gradients(layer, converted)
    np.testing.assert_allclose(from_torch(module).predict(x), expected, atol=1e-5)


def test_masked_input_that_is_not_pre_padded_is_refused_at_run_time():
    post = ids.copy()
    post[0, 4:] = 0
    with pytest.raises(ValueError, match=r"pre-padded"):
        to_torch(masked_rnn())(torch.from_numpy(post))


def test_what_has_no_pytorch_twin_is_refused_with_the_reason():
    gru = GRU(3, reset_after=False)
    gru(floats)
    with pytest.raises(ValueError, match=r"reset_after=False, which has no PyTorch twin"):
        to_torch(gru)
    model = Sequential([Input((7,), dtype="int32"), Embedding(12, 4, mask_zero=True), Conv1D(2, 3)])
    with pytest.raises(ValueError, match=r"'conv1d.*' \(Conv1D\) would receive a mask"):
        to_torch(model)
    with pytest.raises(ValueError, match=r"nn.Conv1d, whose padding=\(2,\): Keras pads 'valid' \(0\) or 'same'"):
        from_torch(torch.nn.Conv1d(3, 2, 3, padding=2))
    with pytest.raises(TypeError, match=r"a layer or a Sequential model, got list"):
        to_torch([Dense(1)])
    with pytest.raises(ValueError, match=r"from_torch converts nn.Embedding"):
        from_torch(torch.nn.ReLU())
