"""PyTorch modules from this project's layers and back, with the same weights, computing the same function.

    to_torch(layer_or_model) -> torch.nn.Module      from_torch(module) -> Layer or Sequential

Embedding <-> nn.Embedding; Dense <-> nn.Linear (kernel transposed); LSTM <-> nn.LSTM (the same gate order
i, f, c, o; PyTorch's weights transposed, and its two biases summed into Keras's one); GRU(reset_after=True)
<-> nn.GRU (Keras's gates z, r, h are PyTorch's r, z, n reordered; Keras's bias rows are PyTorch's
bias_ih and bias_hh); Conv1D <-> nn.Conv1d (channels last here, channels first there); a Sequential of
these (and Dropout, Flatten, GlobalMaxPooling1D, GlobalAveragePooling1D) <-> a module whose forward takes
the same input. Inputs are batch first everywhere.

Masks: a Sequential whose Embedding(mask_zero=True) feeds LSTM or GRU layers converts for pre-padded
input (pad_sequences' default, zeros before the words): its forward moves each sequence's words to the
front and runs the recurrent layers on packed sequences, which is Keras's masking for that input; any
other padding raises an error at run time, and a mask reaching any other layer kind an error at conversion.
torch is optional (the `parity` extra): importing this module works without it, calling it does not.
"""
from __future__ import annotations

import functools
import types
import warnings
from typing import Any

import numpy as np

from . import activations
from .layers import (GRU, LSTM, Conv1D, Dense, Dropout, Embedding, Flatten, GlobalAveragePooling1D,
                     GlobalMaxPooling1D, Layer)
from .layers.padding import padding_amounts
from .models import Sequential

EXTRA = "pip install 'tinygrad_embed[parity]'"
ACTIVATIONS = {"linear": None, "relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}  # softmax: below, over the last axis


def _torch() -> Any:
    """The torch module, or an ImportError naming the extra that installs it."""
    try:
        import torch
    except ImportError:
        raise ImportError(f"tinygrad_embed.interop needs PyTorch: {EXTRA}") from None
    return torch


# ---- weights: Keras's layouts <-> PyTorch's (plain numpy, used both ways and by the tests) ---------
def lstm_to_torch(kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray) -> dict[str, np.ndarray]:
    """nn.LSTM's parameters: the same gate order, weights transposed, Keras's bias as bias_ih and zeros as bias_hh."""
    return {"weight_ih_l0": kernel.T, "weight_hh_l0": recurrent_kernel.T, "bias_ih_l0": bias,
            "bias_hh_l0": np.zeros_like(bias)}


def lstm_from_torch(parameters: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Keras's [kernel, recurrent_kernel, bias]: both of PyTorch's biases are added to the same sum."""
    p = parameters
    return [p["weight_ih_l0"].T, p["weight_hh_l0"].T, p["bias_ih_l0"] + p["bias_hh_l0"]]


def _swap_first_two_gates(array: np.ndarray, units: int) -> np.ndarray:
    """Blocks [a, b, c] of `units` on the last axis -> [b, a, c]: Keras's z, r, h <-> PyTorch's r, z, n."""
    a, b, c = array[..., :units], array[..., units:2 * units], array[..., 2 * units:]
    return np.concatenate([b, a, c], axis=-1)


def gru_to_torch(kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray) -> dict[str, np.ndarray]:
    """nn.GRU's parameters for a reset_after GRU: gates reordered, weights transposed, bias rows split."""
    u = recurrent_kernel.shape[0]
    return {"weight_ih_l0": _swap_first_two_gates(kernel, u).T, "weight_hh_l0": _swap_first_two_gates(recurrent_kernel, u).T,
            "bias_ih_l0": _swap_first_two_gates(bias[0], u), "bias_hh_l0": _swap_first_two_gates(bias[1], u)}


def gru_from_torch(parameters: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Keras's [kernel, recurrent_kernel, bias] of a reset_after GRU: gru_to_torch undone."""
    p = parameters
    u = p["weight_hh_l0"].shape[1]
    return [_swap_first_two_gates(p["weight_ih_l0"].T, u), _swap_first_two_gates(p["weight_hh_l0"].T, u),
            np.stack([_swap_first_two_gates(p["bias_ih_l0"], u), _swap_first_two_gates(p["bias_hh_l0"], u)])]


# ---- to PyTorch -----------------------------------------------------------------------------------
def to_torch(layer_or_model: Layer) -> Any:
    """A torch.nn.Module computing what the layer (or Sequential) computes, with a copy of its weights (float32)."""
    modules = _modules()
    if isinstance(layer_or_model, Sequential):
        masked, converted = False, []
        for layer in layer_or_model.layers:
            if masked and not isinstance(layer, (LSTM, GRU, Dense)):
                raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) would receive a mask, which only "
                                 "LSTM, GRU and Dense take here: see tinygrad_embed.interop's docstring")
            converted.append(_layer_to_torch(layer, modules))
            masked = getattr(layer, "mask_zero", False) or (masked and getattr(layer, "return_sequences", True))
        return modules.Sequential(converted)
    if isinstance(layer_or_model, Layer):
        return _layer_to_torch(layer_or_model, modules)
    raise TypeError(f"to_torch converts a layer or a Sequential model, got {type(layer_or_model).__name__}")


def _layer_to_torch(layer: Layer, modules: Any) -> Any:
    """The torch module computing what this one layer computes, with its weights."""
    torch = _torch()
    if not layer.built:
        raise ValueError(f"layer {layer.name!r} has no weights yet: build it (or call it on data) first")
    weights = [np.asarray(w, np.float32) for w in layer.get_weights()]
    if isinstance(layer, Embedding):
        module = torch.nn.Embedding(layer.input_dim, layer.output_dim)
        _load(module, {"weight": weights[0]})
        return modules.Embedding(module, layer.mask_zero)
    if isinstance(layer, Dense):
        module = torch.nn.Linear(weights[0].shape[0], layer.units, bias=layer.use_bias)
        _load(module, {"weight": weights[0].T, **({"bias": weights[1]} if layer.use_bias else {})})
        return modules.Dense(module, _activation_name(layer.activation))
    if isinstance(layer, (LSTM, GRU)):
        return _recurrent_to_torch(layer, weights, modules)
    if isinstance(layer, Conv1D):
        module = torch.nn.Conv1d(weights[0].shape[1], layer.filters, layer.kernel_size, stride=layer.strides,
                                 dilation=layer.dilation_rate, bias=layer.use_bias)
        _load(module, {"weight": weights[0].transpose(2, 1, 0), **({"bias": weights[1]} if layer.use_bias else {})})
        return modules.Conv1D(module, layer.padding, _activation_name(layer.activation))
    simple = {Dropout: lambda: torch.nn.Dropout(layer.rate), Flatten: lambda: torch.nn.Flatten(),
              GlobalMaxPooling1D: lambda: modules.Reduce("amax"), GlobalAveragePooling1D: lambda: modules.Reduce("mean")}
    if type(layer) in simple:
        return simple[type(layer)]()
    raise ValueError(f"layer {layer.name!r} is a {type(layer).__name__}, which to_torch does not convert (it converts "
                     f"{', '.join(c.__name__ for c in (Embedding, Dense, LSTM, GRU, Conv1D, *simple))})")


def _recurrent_to_torch(layer: LSTM | GRU, weights: list[np.ndarray], modules: Any) -> Any:
    """nn.LSTM or nn.GRU for an LSTM or GRU layer, or a ValueError naming what has no twin."""
    torch, kind = _torch(), type(layer).__name__
    if isinstance(layer, GRU) and not layer.reset_after:
        raise ValueError(f"GRU {layer.name!r} has reset_after=False, which has no PyTorch twin: nn.GRU applies the "
                         "reset gate after the recurrent product (Keras's reset_after=True, its default)")
    unsupported = {"go_backwards": layer.go_backwards, "return_state": layer.return_state, "dropout": layer.dropout,
                   "recurrent_dropout": layer.recurrent_dropout, "activations other than tanh and sigmoid":
                   not layer.default_activations, "use_bias=False": not layer.use_bias}
    named = [name for name, value in unsupported.items() if value]
    if named:
        raise ValueError(f"{kind} {layer.name!r} uses {', '.join(named)}, which to_torch does not map onto nn.{kind}")
    module = getattr(torch.nn, kind)(weights[0].shape[0], layer.units, batch_first=True)
    _load(module, (lstm_to_torch if isinstance(layer, LSTM) else gru_to_torch)(*weights))
    return modules.Recurrent(module, layer.return_sequences)


def _activation_name(function: Any) -> str:
    """The name ACTIVATIONS knows an activation function by (or softmax)."""
    for name, known in activations.KNOWN.items():
        if known is function and (name in ACTIVATIONS or name == "softmax"):
            return name
    raise ValueError(f"the activation {function!r:.60} has no PyTorch module here "
                     f"(known: {', '.join(ACTIVATIONS)}, softmax)")


def _load(module: Any, arrays: dict[str, np.ndarray]) -> None:
    """Copy numpy arrays into a torch module's parameters of the same names."""
    torch = _torch()
    with torch.no_grad():
        for name, array in arrays.items():
            getattr(module, name).copy_(torch.from_numpy(np.ascontiguousarray(array, np.float32)))


# ---- the torch modules to_torch builds ------------------------------------------------------------
# torch is optional, so these classes name no base: _modules makes each a torch module on first use by
# adding nn.Module as a second base (their super().__init__() is then nn.Module's).
class _Embedding:
    """nn.Embedding; mask_zero tells the Sequential to hand the mask (ids != 0) to the layers after it."""
    def __init__(self, embedding: Any, mask_zero: bool) -> None:
        super().__init__()
        self.embedding, self.mask_zero = embedding, mask_zero

    def forward(self, ids: Any) -> Any:
        return self.embedding(ids)


class _Dense:
    """nn.Linear, then the activation."""
    def __init__(self, linear: Any, activation: str) -> None:
        super().__init__()
        self.linear, self.activation = linear, activation

    def forward(self, x: Any) -> Any:
        return _activate(self.linear(x), self.activation)


class _Conv1D:
    """nn.Conv1d on channels-last input, with Keras's valid / same / causal padding."""
    def __init__(self, conv: Any, padding: str, activation: str) -> None:
        super().__init__()
        self.conv, self.padding, self.activation = conv, padding, activation

    def forward(self, x: Any) -> Any:
        c = self.conv
        left, right = padding_amounts(x.shape[1], c.kernel_size[0], c.stride[0], c.dilation[0], self.padding)
        y = c(_torch().nn.functional.pad(x.transpose(1, 2), (left, right)))
        return _activate(y.transpose(1, 2), self.activation)


class _Recurrent:
    """nn.LSTM / nn.GRU, batch first: every step's output, or the last; with a mask, on packed sequences."""
    def __init__(self, rnn: Any, return_sequences: bool) -> None:
        super().__init__()
        self.rnn, self.return_sequences = rnn, return_sequences

    def forward(self, x: Any, mask: Any = None) -> Any:
        if mask is None:
            y = self.rnn(x)[0]
            return y if self.return_sequences else y[:, -1]
        torch = _torch()
        lengths, order = _pre_padded(mask)
        packed = torch.nn.utils.rnn.pack_padded_sequence(torch.gather(x, 1, order[..., None].expand_as(x)),
                                                         lengths.cpu(), batch_first=True, enforce_sorted=False)
        y = torch.nn.utils.rnn.pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=x.shape[1])[0]
        if not self.return_sequences:
            return y[torch.arange(len(y), device=y.device), lengths - 1]
        # The words back at the end; the padding steps before them output zeros, the state before any word, as Keras.
        back = torch.argsort(order, dim=1)
        return torch.gather(y, 1, back[..., None].expand_as(y))


def _pre_padded(mask: Any) -> tuple[Any, Any]:
    """Each row's length and the step order that puts its words first; ValueError unless pre-padded."""
    torch = _torch()
    lengths = mask.sum(1)
    steps = mask.shape[1]
    expected = torch.arange(steps, device=mask.device)[None, :] >= (steps - lengths)[:, None]
    if not torch.equal(mask, expected) or bool((lengths == 0).any()):
        raise ValueError("the converted model supports masked input that is pre-padded (zeros before the words, "
                         "pad_sequences' default) with at least one word per row; got other padding")
    order = (torch.arange(steps, device=mask.device)[None, :] + (steps - lengths)[:, None]) % steps
    return lengths, order


class _Reduce:
    """torch.amax or torch.mean over the steps: the global pooling layers."""
    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how

    def forward(self, x: Any) -> Any:
        return getattr(_torch(), self.how)(x, dim=1)


class _Sequential:
    """The layers in order; a mask from Embedding(mask_zero=True) goes along to the recurrent layers."""
    def __init__(self, layers: list[Any]) -> None:
        super().__init__()
        self.layers = _torch().nn.ModuleList(layers)

    def forward(self, x: Any) -> Any:
        mask = None
        for layer in self.layers:
            if isinstance(layer, _Embedding) and layer.mask_zero:
                x, mask = layer(x), x != 0
            elif isinstance(layer, _Recurrent):
                x = layer(x, mask)
                mask = mask if layer.return_sequences else None
            else:
                x = layer(x)
        return x


def _activate(x: Any, name: str) -> Any:
    """Keras's activation `name` (one of ACTIVATIONS, or softmax over the last axis) on a torch tensor."""
    torch = _torch()
    if name == "softmax":
        return torch.softmax(x, dim=-1)
    return x if ACTIVATIONS[name] is None else getattr(torch.nn.functional, name)(x)


@functools.cache
def _modules() -> Any:
    """The torch module classes above by their names (Embedding, Dense, ...), each made once, on first use."""
    module = _torch().nn.Module
    kinds = (_Embedding, _Dense, _Conv1D, _Recurrent, _Reduce, _Sequential)
    return types.SimpleNamespace(**{k.__name__[1:]: type(k.__name__[1:], (k, module), {}) for k in kinds})


# ---- from PyTorch ---------------------------------------------------------------------------------
def from_torch(module: Any) -> Layer:
    """The layer (or Sequential, for nn.Sequential or what to_torch made of one) computing what `module` does."""
    torch, modules = _torch(), _modules()
    if isinstance(module, (modules.Sequential, torch.nn.Sequential)):
        layers = module.layers if isinstance(module, modules.Sequential) else module
        return Sequential([from_torch(m) for m in layers])
    if isinstance(module, modules.Reduce):  # what to_torch made of a global pooling layer
        return GlobalMaxPooling1D() if module.how == "amax" else GlobalAveragePooling1D()
    wrapped = {modules.Embedding: "embedding", modules.Dense: "linear", modules.Conv1D: "conv", modules.Recurrent: "rnn"}
    wrapper = module if type(module) in wrapped else None
    inner = getattr(module, wrapped[type(module)]) if wrapper is not None else module
    arrays = {name: p.detach().cpu().numpy().astype(np.float32) for name, p in inner.named_parameters()}
    return _from_torch_module(inner, arrays, wrapper)


def _from_torch_module(module: Any, arrays: dict[str, np.ndarray], wrapper: Any) -> Layer:
    """The layer for one plain torch module; `wrapper`, what to_torch made, adds Keras's settings."""
    nn = _torch().nn
    activation = getattr(wrapper, "activation", "linear")
    if isinstance(module, nn.Embedding):
        if module.padding_idx is not None:
            warnings.warn(f"nn.Embedding's padding_idx={module.padding_idx} keeps that row out of training; here it is "
                          "trained like any other", stacklevel=3)
        layer = Embedding(module.num_embeddings, module.embedding_dim, mask_zero=getattr(wrapper, "mask_zero", False))
        layer.set_weights([arrays["weight"]])
        return layer
    if isinstance(module, nn.Linear):
        layer = Dense(module.out_features, activation=activation, use_bias=module.bias is not None)
        weights = [arrays["weight"].T] + ([arrays["bias"]] if "bias" in arrays else [])
        return _built(layer, (None, module.in_features), weights)
    if isinstance(module, (nn.LSTM, nn.GRU)):
        return _recurrent_from_torch(module, arrays, getattr(wrapper, "return_sequences", True))
    if isinstance(module, nn.Conv1d):
        return _conv_from_torch(module, arrays, getattr(wrapper, "padding", None), activation)
    if isinstance(module, nn.Dropout):
        return Dropout(module.p)
    if isinstance(module, nn.Flatten) and module.start_dim == 1 and module.end_dim == -1:
        return Flatten()
    raise ValueError(f"from_torch converts nn.Embedding, nn.Linear, nn.LSTM, nn.GRU, nn.Conv1d, nn.Dropout, nn.Flatten "
                     f"and nn.Sequential of them; got {type(module).__name__}")


def _recurrent_from_torch(rnn: Any, arrays: dict[str, np.ndarray], return_sequences: bool) -> Layer:
    """An LSTM or GRU layer for a one-layer, one-direction nn.LSTM or nn.GRU."""
    kind = type(rnn).__name__
    if rnn.num_layers != 1 or rnn.bidirectional or not rnn.bias or getattr(rnn, "proj_size", 0):
        raise ValueError(f"from_torch converts a one-layer, one-direction nn.{kind} with biases and no projection; "
                         f"got num_layers={rnn.num_layers}, bidirectional={rnn.bidirectional}, bias={rnn.bias}")
    if isinstance(rnn, _torch().nn.LSTM):
        layer, weights = LSTM(rnn.hidden_size, return_sequences=return_sequences), lstm_from_torch(arrays)
    else:
        layer, weights = GRU(rnn.hidden_size, return_sequences=return_sequences), gru_from_torch(arrays)
    return _built(layer, (None, None, rnn.input_size), weights)


def _conv_from_torch(conv: Any, arrays: dict[str, np.ndarray], padding: str | None, activation: str) -> Layer:
    """A Conv1D layer for an nn.Conv1d (channels first there, last here)."""
    if conv.groups != 1 or conv.padding_mode != "zeros":
        raise ValueError(f"from_torch converts nn.Conv1d with groups=1 and zero padding, got groups={conv.groups}, "
                         f"padding_mode={conv.padding_mode!r}")
    if padding is None:  # a plain nn.Conv1d: its symmetric padding must be one of Keras's
        padding = {"valid": "valid", "same": "same", (0,): "valid"}.get(conv.padding)
        if padding is None:
            raise ValueError(f"nn.Conv1d's padding={conv.padding!r} has no Keras twin: use 0, 'valid' or 'same'")
    layer = Conv1D(conv.out_channels, conv.kernel_size[0], strides=conv.stride[0], padding=padding,
                   dilation_rate=conv.dilation[0], activation=activation, use_bias=conv.bias is not None)
    weights = [arrays["weight"].transpose(2, 1, 0)] + ([arrays["bias"]] if "bias" in arrays else [])
    return _built(layer, (None, None, conv.in_channels), weights)


def _built(layer: Layer, input_shape: tuple, weights: list[np.ndarray]) -> Layer:
    """The layer built for `input_shape`, holding these weights."""
    layer._maybe_build(input_shape)
    layer.set_weights(weights)
    return layer
