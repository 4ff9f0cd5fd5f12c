"""PyTorch modules from this project's layers and back, with the same weights, computing the same function.

    to_torch(layer_or_model) -> torch.nn.Module      from_torch(module) -> Layer or Sequential

Embedding <-> nn.Embedding; Dense <-> nn.Linear (kernel transposed); LSTM <-> nn.LSTM (the same gate order
i, f, c, o; PyTorch's weights transposed, and its two biases summed into Keras's one); GRU(reset_after=True)
<-> nn.GRU (Keras's gates z, r, h are PyTorch's r, z, n reordered; Keras's bias rows are PyTorch's bias_ih
and bias_hh); Bidirectional of those <-> bidirectional=True; a Sequential of recurrent layers <- a stacked
module (num_layers > 1); Conv1D <-> nn.Conv1d (channels last here, channels first there); a Sequential of
these (and Dropout, Flatten, GlobalMaxPooling1D, GlobalAveragePooling1D) <-> a module whose forward takes
the same input. Inputs are batch first everywhere.

Masks: a Sequential whose Embedding(mask_zero=True) feeds LSTM, GRU or Bidirectional layers converts for
pre-padded input (pad_sequences' default, zeros before the words): its forward moves each sequence's words
to the front and runs the recurrent layers on packed sequences, which is Keras's masking for that input;
any other padding raises an error at run time, and a mask reaching any other layer kind (but Dense and
Dropout, which pass it along) an error at conversion.

A module converts only when the result computes the same function: an argument whose meaning has no twin
on the other side (batch_first=False, padding_idx, max_norm, stateful, float16, ...) is refused with a
ValueError naming it, and saying how to fix it where there is a fix (docs/bridges.md has the whole list).
torch is optional (the `parity` extra): importing this module works without it, calling it does not.
"""
from __future__ import annotations

import functools
import types
from typing import Any

import numpy as np

from . import activations
from .layers import (GRU, LSTM, Bidirectional, Conv1D, Dense, Dropout, Embedding, Flatten, GlobalAveragePooling1D,
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
def lstm_to_torch(kernel: np.ndarray, recurrent_kernel: np.ndarray,
                  bias: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """nn.LSTM's parameters: the same gate order, weights transposed, Keras's bias as bias_ih and zeros as bias_hh
    (no biases for a layer without, use_bias=False, which is nn.LSTM's bias=False)."""
    biases = {} if bias is None else {"bias_ih_l0": bias, "bias_hh_l0": np.zeros_like(bias)}
    return {"weight_ih_l0": kernel.T, "weight_hh_l0": recurrent_kernel.T, **biases}


def lstm_from_torch(parameters: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Keras's [kernel, recurrent_kernel, bias]: both of PyTorch's biases are added to the same sum."""
    p = parameters
    biases = [p["bias_ih_l0"] + p["bias_hh_l0"]] if "bias_ih_l0" in p else []
    return [p["weight_ih_l0"].T, p["weight_hh_l0"].T, *biases]


def _swap_first_two_gates(array: np.ndarray, units: int) -> np.ndarray:
    """Blocks [a, b, c] of `units` on the last axis -> [b, a, c]: Keras's z, r, h <-> PyTorch's r, z, n."""
    a, b, c = array[..., :units], array[..., units:2 * units], array[..., 2 * units:]
    return np.concatenate([b, a, c], axis=-1)


def gru_to_torch(kernel: np.ndarray, recurrent_kernel: np.ndarray,
                 bias: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """nn.GRU's parameters for a reset_after GRU: gates reordered, weights transposed, bias rows split."""
    u = recurrent_kernel.shape[0]
    biases = {} if bias is None else {"bias_ih_l0": _swap_first_two_gates(bias[0], u),
                                      "bias_hh_l0": _swap_first_two_gates(bias[1], u)}
    return {"weight_ih_l0": _swap_first_two_gates(kernel, u).T,
            "weight_hh_l0": _swap_first_two_gates(recurrent_kernel, u).T, **biases}


def gru_from_torch(parameters: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Keras's [kernel, recurrent_kernel, bias] of a reset_after GRU: gru_to_torch undone."""
    p = parameters
    u = p["weight_hh_l0"].shape[1]
    biases = [np.stack([_swap_first_two_gates(p[f"bias_{k}_l0"], u) for k in ("ih", "hh")])] if "bias_ih_l0" in p else []
    return [_swap_first_two_gates(p["weight_ih_l0"].T, u), _swap_first_two_gates(p["weight_hh_l0"].T, u), *biases]


# ---- to PyTorch -----------------------------------------------------------------------------------
def to_torch(layer_or_model: Layer) -> Any:
    """A torch.nn.Module computing what the layer (or Sequential) computes, with a copy of its weights (in the
    layer's dtype, requires_grad as it is trainable); a ValueError naming any setting PyTorch would not keep."""
    modules = _modules()
    if isinstance(layer_or_model, Sequential):
        masked, converted = False, []
        for layer in _flat_layers(layer_or_model):
            if masked and not isinstance(layer, (LSTM, GRU, Bidirectional, Dense, Dropout)):
                raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) would receive a mask, which only LSTM, "
                                 "GRU, Bidirectional, Dense and Dropout take here: see tinygrad_embed.interop's docstring")
            converted.append(_layer_to_torch(layer, modules))
            masked = getattr(layer, "mask_zero", False) or (masked and getattr(layer, "return_sequences", True))
        return modules.Sequential(converted)
    if isinstance(layer_or_model, Layer):
        return _layer_to_torch(layer_or_model, modules)
    raise TypeError(f"to_torch converts a layer or a Sequential model, got {type(layer_or_model).__name__}")


def _flat_layers(model: Sequential) -> list[Layer]:
    """The model's layers in order, those of a Sequential inside it in its place (from_torch makes one of a stack)."""
    return [inner for layer in model.layers
            for inner in (_flat_layers(layer) if isinstance(layer, Sequential) else [layer])]


def _layer_to_torch(layer: Layer, modules: Any) -> Any:
    """The torch module computing what this one layer computes: its weights, in its dtype, trainable as it is."""
    if type(layer) not in LAYER_KINDS:  # exactly these: a subclass may compute something else
        raise ValueError(f"layer {layer.name!r} is a {type(layer).__name__}, which to_torch does not convert (it "
                         f"converts {', '.join(c.__name__ for c in LAYER_KINDS)}, not their subclasses)")
    if not layer.built:
        raise ValueError(f"layer {layer.name!r} has no weights yet: build it (or call it on data) first")
    module = _weighted_to_torch(layer, modules) if layer.get_weights() else _plain_to_torch(layer, modules)
    return module.requires_grad_(layer.trainable)  # trainable=False: PyTorch leaves the weights alone too


def _weighted_to_torch(layer: Layer, modules: Any) -> Any:
    """The module of a layer with weights, created in the layer's dtype (float32 or float64)."""
    nn, weights = _torch().nn, layer.get_weights()
    dtype = {"dtype": getattr(_torch(), layer.dtype.name)}
    if isinstance(layer, Embedding):
        return modules.Embedding(_load(nn.Embedding(layer.input_dim, layer.output_dim, **dtype), {"weight": weights[0]}),
                                 layer.mask_zero)
    bias = {"bias": weights[1]} if getattr(layer, "use_bias", False) else {}
    if isinstance(layer, Dense):
        linear = nn.Linear(weights[0].shape[0], layer.units, bias=layer.use_bias, **dtype)
        return modules.Dense(_load(linear, {"weight": weights[0].T, **bias}), _activation_name(layer.activation))
    if isinstance(layer, (LSTM, GRU, Bidirectional)):
        return _recurrent_to_torch(layer, modules, dtype)
    if isinstance(layer, Conv1D):
        conv = nn.Conv1d(weights[0].shape[1], layer.filters, layer.kernel_size, stride=layer.strides,
                         dilation=layer.dilation_rate, bias=layer.use_bias, **dtype)
        return modules.Conv1D(_load(conv, {"weight": weights[0].transpose(2, 1, 0), **bias}), layer.padding,
                              _activation_name(layer.activation))
    raise AssertionError(f"{type(layer).__name__} is in LAYER_KINDS but has no conversion")


def _plain_to_torch(layer: Layer, modules: Any) -> Any:
    """The module of a layer without weights, or a ValueError naming the argument it does not carry."""
    nn = _torch().nn
    if isinstance(layer, Dropout):
        if layer.noise_shape is not None:  # nn.Dropout draws one number per element, always
            raise ValueError(f"Dropout {layer.name!r} has noise_shape={layer.noise_shape}, which nn.Dropout does not "
                             "take: use Dropout without noise_shape")
        return nn.Dropout(layer.rate)
    if isinstance(layer, Flatten):
        if layer.data_format != "channels_last":
            raise ValueError(f"Flatten {layer.name!r} has data_format={layer.data_format!r}, which nn.Flatten does "
                             "not take (it flattens in the order the axes come): use data_format='channels_last'")
        return nn.Flatten()
    return modules.Reduce("amax" if isinstance(layer, GlobalMaxPooling1D) else "mean", layer.keepdims)


LAYER_KINDS = (Embedding, Dense, LSTM, GRU, Bidirectional, Conv1D, Dropout, Flatten, GlobalMaxPooling1D,
               GlobalAveragePooling1D)  # what to_torch converts


def _recurrent_to_torch(layer: LSTM | GRU | Bidirectional, modules: Any, dtype: dict) -> Any:
    """nn.LSTM or nn.GRU for an LSTM or GRU layer (bidirectional for a Bidirectional of one)."""
    halves = _bidirectional_halves(layer) if isinstance(layer, Bidirectional) else [layer]
    for half, backwards in zip(halves, (False, True)):
        _check_recurrent(half, backwards)
    first, convert = halves[0], lstm_to_torch if isinstance(halves[0], LSTM) else gru_to_torch
    module = getattr(_torch().nn, type(first).__name__)(first.kernel.shape[0], first.units, bias=first.use_bias,
                                                        batch_first=True, bidirectional=len(halves) == 2, **dtype)
    for half, suffix in zip(halves, ("", "_reverse")):
        _load(module, {name + suffix: array for name, array in convert(*half.get_weights()).items()})
    return modules.Recurrent(module, layer.return_sequences)


def _bidirectional_halves(layer: Bidirectional) -> list[LSTM | GRU]:
    """[forward, backward] of a Bidirectional that nn.LSTM(bidirectional=True) (or nn.GRU's) computes."""
    forward, backward = layer.forward_layer, layer.backward_layer
    if type(forward) not in (LSTM, GRU):
        raise ValueError(f"Bidirectional {layer.name!r} wraps a {type(forward).__name__}; to_torch converts a "
                         "Bidirectional of LSTM or GRU")
    if layer.merge_mode != "concat":
        raise ValueError(f"Bidirectional {layer.name!r} has merge_mode={layer.merge_mode!r}; a bidirectional nn.LSTM "
                         "or nn.GRU concatenates its two directions, merge_mode='concat'")
    if type(forward) is not type(backward) or (forward.units, forward.use_bias) != (backward.units, backward.use_bias):
        raise ValueError(f"Bidirectional {layer.name!r} has a backward_layer that is not its layer read backwards, "
                         "which a bidirectional nn.LSTM or nn.GRU is: leave backward_layer out")
    return [forward, backward]


def _check_recurrent(layer: LSTM | GRU, backwards: bool) -> None:
    """A ValueError naming what an LSTM or GRU layer (reading forwards, or backwards) has that nn.LSTM/nn.GRU has not."""
    kind = type(layer).__name__
    if isinstance(layer, GRU) and not layer.reset_after:
        raise ValueError(f"GRU {layer.name!r} has reset_after=False, which has no PyTorch twin: nn.GRU applies the "
                         "reset gate after the recurrent product (Keras's reset_after=True, its default)")
    unsupported = {"go_backwards": layer.go_backwards != backwards, "return_state": layer.return_state,
                   "dropout": layer.dropout, "recurrent_dropout": layer.recurrent_dropout, "stateful": layer.stateful,
                   "activations other than tanh and sigmoid": not layer.default_activations}
    named = [name for name, value in unsupported.items() if value]
    if named:
        raise ValueError(f"{kind} {layer.name!r} uses {', '.join(named)}, which to_torch does not map onto nn.{kind}")


def _activation_name(function: Any) -> str:
    """The name ACTIVATIONS knows an activation function by (or softmax)."""
    for name, known in activations.KNOWN.items():
        if known is function and (name in ACTIVATIONS or name == "softmax"):
            return name
    raise ValueError(f"the activation {function!r:.60} has no PyTorch module here "
                     f"(known: {', '.join(ACTIVATIONS)}, softmax)")


def _load(module: Any, arrays: dict[str, np.ndarray]) -> Any:
    """The torch module, its parameters of these names holding copies of the arrays (in the same dtype)."""
    torch = _torch()
    with torch.no_grad():
        for name, array in arrays.items():
            getattr(module, name).copy_(torch.from_numpy(np.ascontiguousarray(array)))
    return module


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
        torch = _torch()
        if mask is None:
            y, lengths = self.rnn(x)[0], torch.full((len(x),), x.shape[1], device=x.device)
        else:
            lengths, order = _pre_padded(mask)
            packed = torch.nn.utils.rnn.pack_padded_sequence(torch.gather(x, 1, order[..., None].expand_as(x)),
                                                             lengths.cpu(), batch_first=True, enforce_sorted=False)
            y = torch.nn.utils.rnn.pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=x.shape[1])[0]
            if self.return_sequences:
                # The words back at the end; the padding steps before them output zeros, as Keras (both directions).
                back = torch.argsort(order, dim=1)
                return torch.gather(y, 1, back[..., None].expand_as(y))
        if self.return_sequences:
            return y
        last = y[torch.arange(len(y), device=y.device), lengths - 1]
        if not self.rnn.bidirectional:
            return last
        units = self.rnn.hidden_size  # the backward direction's last output is at the first step, as Keras's
        return torch.cat([last[:, :units], y[:, 0, units:]], dim=-1)


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
    """torch.amax or torch.mean over the steps, the steps axis kept or not: the global pooling layers."""
    def __init__(self, how: str, keepdims: bool = False) -> None:
        super().__init__()
        self.how, self.keepdims = how, keepdims

    def forward(self, x: Any) -> Any:
        return getattr(_torch(), self.how)(x, dim=1, keepdim=self.keepdims)


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
    """The layer (or Sequential, for nn.Sequential or what to_torch made of one) computing what `module` does;
    a ValueError naming each setting of the module that the layer would not keep."""
    torch, modules = _torch(), _modules()
    _refuse_own_forward(module)
    if isinstance(module, (modules.Sequential, torch.nn.Sequential)):
        layers = module.layers if isinstance(module, modules.Sequential) else module
        return Sequential([from_torch(m) for m in layers])
    if isinstance(module, modules.Reduce):  # what to_torch made of a global pooling layer
        return (GlobalMaxPooling1D if module.how == "amax" else GlobalAveragePooling1D)(keepdims=module.keepdims)
    wrapped = {modules.Embedding: "embedding", modules.Dense: "linear", modules.Conv1D: "conv", modules.Recurrent: "rnn"}
    wrapper = module if type(module) in wrapped else None
    inner = getattr(module, wrapped[type(module)]) if wrapper is not None else module
    if wrapper is not None:
        _refuse_own_forward(inner)
    not_carried = _arguments_not_carried(inner)
    if not_carried:
        raise ValueError(f"from_torch does not convert this nn.{type(inner).__name__}, whose " + "; and ".join(not_carried))
    arrays, common = _parameters(inner)
    return _from_torch_module(inner, arrays, wrapper, common)


def _refuse_own_forward(module: Any) -> None:
    """ValueError for a module whose forward is not its PyTorch class's (a subclass's own, or hooks added)."""
    nn, modules = _torch().nn, _modules()
    if type(module) in vars(modules).values():
        return
    bases = [b for b in CONVERTED if isinstance(module, getattr(nn, b))]
    if bases and type(module).forward is not getattr(nn, bases[0]).forward:
        raise ValueError(f"{type(module).__name__} subclasses nn.{bases[0]} with a forward of its own, which from_torch "
                         f"cannot read: convert a plain nn.{bases[0]} holding the same parameters")
    if bases and (module._forward_hooks or module._forward_pre_hooks):  # they change what the module returns
        raise ValueError(f"this nn.{bases[0]} has forward hooks, which from_torch cannot carry: remove them first")


CONVERTED = ("Embedding", "Linear", "LSTM", "GRU", "Conv1d", "Dropout", "Flatten", "Sequential")  # what from_torch takes


def _arguments_not_carried(module: Any) -> list[str]:
    """For each constructor argument of `module` whose meaning a layer here would not keep: its name and value,
    why, and how to fix it."""
    nn, kind = _torch().nn, type(module).__name__
    if isinstance(module, nn.Embedding):
        checks = [(module.padding_idx is not None, f"padding_idx={module.padding_idx}: PyTorch never trains that row "
                   "(its gradient is always zero), here every row trains; set module.padding_idx = None to convert it "
                   "as a row that trains like the others (the outputs are the same)"),
                  (module.max_norm is not None, f"max_norm={module.max_norm}: PyTorch rescales (in place) each looked-up "
                   "row whose norm exceeds it, here rows are used as they are; there is no twin for it"),
                  (module.scale_grad_by_freq, "scale_grad_by_freq=True: PyTorch divides each row's gradient by its count "
                   "in the batch, here it is not; set module.scale_grad_by_freq = False to convert without it")]
    elif isinstance(module, (nn.LSTM, nn.GRU)):
        checks = [(not module.batch_first, f"batch_first=False: nn.{kind} reads (time, batch, features), the layers here "
                   f"read (batch, time, features); set module.batch_first = True (the weights stay the same) and give "
                   "both batch-first input, x.transpose(0, 1)"),
                  (getattr(module, "proj_size", 0), f"proj_size={getattr(module, 'proj_size', 0)}: LSTM here has no "
                   "projection of its output")]
    elif isinstance(module, nn.Conv1d):
        pads = module.padding != "valid" and (module.padding == "same" or module.padding[0] > 0)
        checks = [(module.groups != 1, f"groups={module.groups}: Conv1D here convolves all channels together (groups=1)"),
                  (module.stride[0] > 1 and module.dilation[0] > 1, f"stride={module.stride[0]} with dilation="
                   f"{module.dilation[0]}: Conv1D here, as Keras's, takes strides above 1 or a dilation_rate, not both"),
                  (_conv_padding(module) is None, f"padding={module.padding!r}: Keras pads 'valid' (0) or 'same' (with "
                   "stride 1, dilation * (kernel_size - 1) / 2 steps on each side); pad the input instead"),
                  (pads and module.padding_mode != "zeros", f"padding_mode={module.padding_mode!r}: Keras pads with zeros")]
    elif isinstance(module, nn.Flatten):
        checks = [((module.start_dim, module.end_dim) != (1, -1), f"start_dim={module.start_dim}, end_dim="
                   f"{module.end_dim}: Flatten here keeps the batch axis and flattens all others (1 and -1)")]
    else:
        checks = []
    dtypes = sorted({str(p.dtype).removeprefix("torch.") for p in module.parameters()})
    checks.append((len(dtypes) > 1 or not set(dtypes) <= {"float32", "float64"}, f"parameters are {' and '.join(dtypes)}: "
                   "the layers here compute in float32 or float64; convert with module.float() or module.double()"))
    return [why for refused, why in checks if refused]


def _conv_padding(conv: Any) -> str | None:
    """Keras's name for an nn.Conv1d's padding, 'valid' or 'same', or None when Keras has none for it."""
    if conv.padding in ("valid", "same"):
        return conv.padding
    amount = conv.padding[0]
    same = conv.stride[0] == 1 and 2 * amount == conv.dilation[0] * (conv.kernel_size[0] - 1)
    return "valid" if amount == 0 else "same" if same else None


def _parameters(module: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The module's parameters as numpy arrays, and the dtype and trainable its layer takes; a ValueError
    unless all train or none (requires_grad)."""
    parameters = dict(module.named_parameters())
    frozen = sorted(name for name, p in parameters.items() if not p.requires_grad)
    if 0 < len(frozen) < len(parameters):
        raise ValueError(f"nn.{type(module).__name__}'s {', '.join(frozen)} have requires_grad=False and its other "
                         "parameters not: a layer here trains all its weights or none (trainable); set requires_grad "
                         "alike on all")
    arrays = {name: p.detach().cpu().numpy() for name, p in parameters.items()}
    dtypes = {str(array.dtype) for array in arrays.values()}
    return arrays, {"dtype": dtypes.pop() if dtypes else None, "trainable": not frozen}


def _from_torch_module(module: Any, arrays: dict[str, np.ndarray], wrapper: Any, common: dict[str, Any]) -> Layer:
    """The layer for one plain torch module (its arguments checked); `wrapper`, what to_torch made, adds Keras's
    settings; `common`, the layer's dtype and trainable."""
    nn = _torch().nn
    activation = getattr(wrapper, "activation", "linear")
    if isinstance(module, nn.Embedding):
        layer = Embedding(module.num_embeddings, module.embedding_dim, mask_zero=getattr(wrapper, "mask_zero", False),
                          **common)
        layer.set_weights([arrays["weight"]])
        return layer
    if isinstance(module, nn.Linear):
        layer = Dense(module.out_features, activation=activation, use_bias=module.bias is not None, **common)
        weights = [arrays["weight"].T] + ([arrays["bias"]] if "bias" in arrays else [])
        return _built(layer, (None, module.in_features), weights)
    if isinstance(module, (nn.LSTM, nn.GRU)):
        return _recurrent_from_torch(module, arrays, getattr(wrapper, "return_sequences", True), common)
    if isinstance(module, nn.Conv1d):
        layer = Conv1D(module.out_channels, module.kernel_size[0], strides=module.stride[0],
                       padding=getattr(wrapper, "padding", None) or _conv_padding(module),
                       dilation_rate=module.dilation[0], activation=activation, use_bias=module.bias is not None, **common)
        weights = [arrays["weight"].transpose(2, 1, 0)] + ([arrays["bias"]] if "bias" in arrays else [])
        return _built(layer, (None, None, module.in_channels), weights)
    if isinstance(module, nn.Dropout):  # inplace=True changes where the result is stored, not what it is
        return Dropout(module.p)
    if isinstance(module, nn.Flatten):
        return Flatten()
    raise ValueError(f"from_torch converts nn.{', nn.'.join(CONVERTED[:-1])} and nn.Sequential of them (and what "
                     f"to_torch makes); got {type(module).__name__}")


def _recurrent_from_torch(rnn: Any, arrays: dict[str, np.ndarray], return_sequences: bool,
                          common: dict[str, Any]) -> Layer:
    """An LSTM or GRU layer for each of the module's stacked layers (a Bidirectional of one if it reads both ways);
    a Sequential of them, with Dropout between where PyTorch drops out, for a stack."""
    kind, convert = (LSTM, lstm_from_torch) if isinstance(rnn, _torch().nn.LSTM) else (GRU, gru_from_torch)
    directions = ("", "_reverse") if rnn.bidirectional else ("",)
    stack: list[Layer] = []
    for k in range(rnn.num_layers):
        last = k == rnn.num_layers - 1
        layer = kind(rnn.hidden_size, use_bias=rnn.bias, return_sequences=return_sequences or not last, **common)
        layer = Bidirectional(layer, **common) if rnn.bidirectional else layer
        weights = [w for suffix in directions for w in convert({f"{name}_l0": arrays[f"{name}_l{k}{suffix}"]
                   for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh") if f"{name}_l{k}{suffix}" in arrays})]
        features = rnn.input_size if k == 0 else rnn.hidden_size * len(directions)
        stack += [_built(layer, (None, None, features), weights)] + [Dropout(rnn.dropout)] * (rnn.dropout > 0 and not last)
    return stack[0] if len(stack) == 1 else Sequential(stack)


def _built(layer: Layer, input_shape: tuple, weights: list[np.ndarray]) -> Layer:
    """The layer built for `input_shape`, holding these weights."""
    layer._maybe_build(input_shape)
    layer.set_weights(weights)
    return layer
