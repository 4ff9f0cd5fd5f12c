"""The contract every layer keeps, Keras 3's: `Layer` (its call, weights and config) and the registry of
layer classes that loading looks names up in. docs/custom-layers.md walks through it."""
from __future__ import annotations

import contextlib
import functools
import inspect
import warnings
from typing import Any, Iterator, Sequence

import numpy as np

from .. import initializers
from ..helpers import snake_case, unique_name
from ..tensor import Tensor, no_grad
from ..tree import flatten, map_structure
from .symbolic import FirstCall, KerasTensor, Node, is_shape

LAYERS: dict[str, type[Layer]] = {}  # every subclass, a user's too, under its class name: loading looks here only
_training_context: list[bool | None] = [None]  # the `training` of the outermost call, for nested layers
_skip_initializers = False  # while a saved model is rebuilt: weights start as zeros, the file fills them


def get_layer_class(name: str) -> type[Layer]:
    """The layer class registered under `name`; ValueError naming the known ones otherwise."""
    if name not in LAYERS:
        raise ValueError(f"unknown layer class {name!r}: the layers here are {', '.join(sorted(LAYERS))} "
                         "(a layer of your own must be defined, i.e. its module imported, before loading)")
    return LAYERS[name]


def serialize_layer(layer: Any) -> dict[str, Any]:
    """Keras's nesting of a layer inside another's config: {"class_name", "config"}, plain JSON."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize_layer(entry: Any) -> Any:
    """A layer back from {"class_name", "config"}; anything else (a Layer, None) as it is."""
    if isinstance(entry, dict):
        return get_layer_class(entry["class_name"]).from_config(entry["config"])
    return entry


@contextlib.contextmanager
def initializers_skipped() -> Iterator[None]:
    """Weights created inside start as lazily allocated zeros, for loading: the file's arrays replace them."""
    global _skip_initializers
    previous, _skip_initializers = _skip_initializers, True
    try:
        yield
    finally:
        _skip_initializers = previous


# The constructor keywords of Keras 2 that every layer still takes (Layer._take_keras2_keywords)
KERAS2_KEYWORDS = ("input_shape", "batch_input_shape", "input_dim", "batch_size", "weights")


def _constructor_config(cls: type, args: tuple, kwargs: dict) -> dict[str, Any]:
    """The arguments a layer was constructed with, by name: the config get_config starts from."""
    try:
        bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs).arguments
    except TypeError:
        bound = {}  # __init__ raised the real error
    extra = [name for name, p in inspect.signature(cls.__init__).parameters.items() if p.kind == p.VAR_KEYWORD]
    config = {k: v for k, v in list(bound.items())[1:] if k not in extra}  # [1:]: not self
    for name in extra:  # keywords passed on to Layer.__init__ (name, dtype, input_shape, ...)
        config.update(bound.get(name, {}))
    return config


def _layer_dtype(dtype: Any) -> np.dtype:
    """A dtype given to a layer, checked: float32 or float64, what the numba kernels are compiled for."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"a layer's dtype must be 'float32' or 'float64', got {dtype!r}") from None
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"a layer's dtype must be 'float32' or 'float64', got {dtype!r}")
    return dtype


@functools.cache
def _call_parameters(cls: type) -> frozenset[str]:
    """The keywords a layer class's call() takes (mask, training): looked up once per class."""
    return frozenset(inspect.signature(cls.call).parameters)


class Layer:
    supports_masking = False  # True: compute_mask gives the next layer a mask (by default the incoming one)
    float_inputs = False  # True: integer input is cast to the layer's float dtype (Dense, LSTM); else only floats are
    string_inputs = False  # True: call gets the input as one numpy array of str/bytes, not a Tensor (TextVectorization)
    input, output = FirstCall("input"), FirstCall("output")  # the KerasTensors of its first functional call

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):  # _Pooling1D and the like: shared parts, never a model's layer
            LAYERS[cls.__name__] = cls
        # Keras 3: a layer that defines compute_mask supports masking unless it says otherwise
        cls.supports_masking = cls.supports_masking or cls.compute_mask is not Layer.compute_mask

    def __new__(cls, *args: Any, **kwargs: Any) -> Layer:
        """A new layer; the arguments it is constructed with are kept, they are its config (as in Keras 3)."""
        layer = super().__new__(cls)
        object.__setattr__(layer, "_constructor_arguments", (args, kwargs))
        return layer

    def __init__(self, trainable: bool = True, dtype: Any = None, name: str | None = None, **kwargs: Any) -> None:
        """What every layer holds: its dtype, name and weights; Keras 2's keywords are taken apart elsewhere."""
        self._initial_weights, self._batch_input_shape = None, None  # what Keras 2's keywords may set
        if kwargs:
            self._take_keras2_keywords(kwargs)
        self.dtype = np.dtype("float32") if dtype is None else _layer_dtype(dtype)
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.built, self._trainable = False, bool(trainable)
        self._weights: list[Tensor] = []
        self._weight_names: list[str] = []
        self._non_trainable: set[int] = set()  # ids of weights created with add_weight(trainable=False)
        self.__dict__.setdefault("_layers", [])  # sublayers assigned as attributes: their weights are ours too
        self._inbound_nodes: list[Node] = []  # this layer's calls in functional graphs

    def _take_keras2_keywords(self, kwargs: dict[str, Any]) -> None:
        """Keras 2's input_shape, batch_input_shape, input_dim, batch_size and weights; refuse any other keyword."""
        unknown = sorted(set(kwargs) - set(KERAS2_KEYWORDS))
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected keyword arguments: {', '.join(unknown)}")
        self._initial_weights = kwargs.get("weights")  # set once the weights exist
        shape = kwargs.get("input_shape") or ((kwargs["input_dim"],) if kwargs.get("input_dim") else None)
        batch_shape = kwargs.get("batch_input_shape")
        self._batch_input_shape = tuple(batch_shape) if batch_shape else (
            (kwargs.get("batch_size"),) + tuple(shape) if shape else None)

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Layer) and all(value is not known for known in self.__dict__.get("_layers", [])):
            self.__dict__.setdefault("_layers", []).append(value)
        super().__setattr__(name, value)

    # ---- weights ----------------------------------------------------------------------------------
    def add_weight(self, shape: Sequence[int] = (), initializer: Any = None, dtype: Any = None,
                   trainable: bool = True, name: str | None = None) -> Tensor:
        """A new weight, initialised now. Default initializer: glorot_uniform, as Keras 3."""
        dtype, shape = np.dtype(dtype or self.dtype), tuple(int(n) for n in shape)
        value = np.zeros(shape, dtype) if _skip_initializers else \
            initializers.get(initializer or "glorot_uniform")(shape, dtype)
        weight = Tensor(value, requires_grad=self.trainable and trainable and dtype.kind == "f")
        self._weights.append(weight)
        self._weight_names.append(name or f"weight_{len(self._weights) - 1}")
        if not trainable:
            self._non_trainable.add(id(weight))
        return weight

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        """Freezing a layer stops its weights (and its sublayers') from receiving gradients."""
        self._trainable = bool(value)
        for layer in self._layers:
            layer.trainable = value
        for weight in self._weights:
            weight.requires_grad = self._trainable and id(weight) not in self._non_trainable

    @property
    def weights(self) -> list[Tensor]:
        """Every weight: this layer's in the order created, then its sublayers' (each once)."""
        weights = self._weights + [w for layer in self._layers for w in layer.weights]
        return list({id(weight): weight for weight in weights}.values())  # each once, where first seen

    @property
    def trainable_weights(self) -> list[Tensor]:
        return [w for w in self.weights if w.requires_grad] if self.trainable else []

    @property
    def non_trainable_weights(self) -> list[Tensor]:
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    def count_params(self) -> int:
        return sum(w.size for w in self.weights)

    def get_weights(self) -> list[np.ndarray]:
        return [w.data.copy() for w in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Replace every weight, in get_weights' order; all are checked before any is changed."""
        if not self.built:
            raise ValueError(f"layer {self.name!r} has no weights yet: call it on an input before set_weights")
        mine, given = self.weights, [np.asarray(w) for w in weights]
        if len(given) != len(mine):
            raise ValueError(f"layer {self.name!r} has {len(mine)} weight arrays "
                             f"({', '.join(self._describe(w) for w in mine)}), got {len(given)}")
        for i, (weight, array) in enumerate(zip(mine, given)):
            if weight.shape != array.shape:
                raise ValueError(f"layer {self.name!r}: weight {i} ({self._describe(weight)}) has shape "
                                 f"{weight.shape}, the array given for it has shape {array.shape}")
            if array.dtype.kind not in "fiu":
                raise TypeError(f"layer {self.name!r}: weight {i} ({self._describe(weight)}) needs numbers, "
                                f"got an array of dtype {array.dtype}")
        for weight, array in zip(mine, given):
            weight.data[...] = array

    def _describe(self, weight: Tensor) -> str:
        for layer in [self, *self._layers]:
            for known, name in zip(layer._weights, layer._weight_names):
                if known is weight:
                    return name if layer is self else f"{layer.name}/{name}"
        return "?"

    # ---- what a layer class overrides -------------------------------------------------------------
    def build(self, input_shape: Any) -> None:
        """Create the weights once the input's shape is known (None for the batch and unknown sizes)."""

    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define call(inputs)")

    def check_inputs(self, inputs: np.ndarray) -> None:
        """Refuse a whole dataset this layer cannot take, before training starts (Embedding checks its ids)."""

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The mask for the next layer: the incoming one, as Keras's (a call hands it on only if the layer
        supports masking)."""
        return mask

    def compute_output_shape(self, input_shape: Any) -> Any:
        """By default, found by running the layer on zeros (None sizes as 1); layers that know override it."""
        specs = map_structure(lambda shape: KerasTensor(shape, self.dtype), input_shape, is_leaf=is_shape)
        return map_structure(lambda t: t.shape, self._run_on_zeros(specs))

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments: enough to rebuild the layer with from_config."""
        own = inspect.signature(type(self).__init__).parameters  # Embedding's input_dim is its own, Dense's is Keras 2's
        given = _constructor_config(type(self), *self._constructor_arguments)
        config = {k: v for k, v in given.items() if k in own or k not in KERAS2_KEYWORDS}
        config.update(name=self.name, trainable=self.trainable, dtype=str(self.dtype))
        if self._batch_input_shape:
            config["batch_input_shape"] = list(self._batch_input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    # ---- the call ---------------------------------------------------------------------------------
    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """call() on Tensors, the layer built first; the mask of the layer before and `training` are passed on."""
        if any(isinstance(t, KerasTensor) for t in flatten(inputs)):
            return self._call_symbolic(inputs, args, kwargs)
        inputs = np.asarray(inputs) if self.string_inputs else map_structure(self._as_tensor, inputs)
        first = flatten(inputs)[0]
        parameters = _call_parameters(type(self))
        if "mask" in parameters and kwargs.get("mask") is None:
            kwargs["mask"] = getattr(first, "_keras_mask", None)  # set by the layer before, e.g. Embedding(mask_zero=True)
        training = kwargs.pop("training", None)
        training = _training_context[-1] if training is None else training
        if "training" in parameters:
            kwargs["training"] = training
        self._maybe_build(map_structure(lambda t: t.shape, inputs))
        _training_context.append(training)
        try:
            outputs = self.call(inputs, *args, **kwargs)
        finally:
            _training_context.pop()
        self._attach_mask(inputs, outputs, kwargs.get("mask", getattr(first, "_keras_mask", None)))
        return outputs

    def _as_tensor(self, value: Any) -> Tensor:
        x = value if isinstance(value, Tensor) else Tensor(np.asarray(value))
        cast = x.dtype.kind == "f" or (self.float_inputs and x.dtype.kind in "biu")
        return self._cast(x) if cast and x.dtype != self.dtype and not x.requires_grad else x

    def _cast(self, x: Tensor) -> Tensor:
        """Keras's autocast: floats (and numbers, for float layers) in the layer's dtype, the mask kept."""
        mask = getattr(x, "_keras_mask", None)  # the cast input is still the masked one the layer before gave
        x = Tensor(x.data.astype(self.dtype))
        if mask is not None:
            x._keras_mask = mask
        return x

    def _maybe_build(self, input_shape: Any) -> None:
        """Build on the first call; Keras 2's weights=[...] are set once the weights exist."""
        if not self.built:
            self.build(input_shape)
            self.built = True
        if self._initial_weights is not None:
            self._set_initial_weights()

    def _set_initial_weights(self) -> None:
        """Keras 2's weights=[...], given to the constructor: set once, when the weights exist."""
        weights, self._initial_weights = self._initial_weights, None
        self.set_weights(weights)

    def _attach_mask(self, inputs: Any, outputs: Any, mask: Any) -> None:
        """Hand the outputs the mask compute_mask makes from the one that came in (most layers make none)."""
        if mask is not None and not self.supports_masking:
            self._warn_mask_dropped()
        out_mask = self.compute_mask(inputs, mask) if self.supports_masking else None
        if out_mask is not None:
            _set_masks(outputs, out_mask)

    def _warn_mask_dropped(self) -> None:
        """Keras's warning when a layer without masking support receives a mask."""
        warnings.warn(f"layer {self.name!r} ({type(self).__name__}) does not support masking: the mask it "
                      "received is dropped and the layers after it see none (as in Keras)", stacklevel=4)

    def _call_symbolic(self, inputs: Any, args: tuple, kwargs: dict) -> Any:
        """A call on KerasTensors: build, work out the output's shape, record the call as a graph node."""
        shapes = map_structure(lambda t: t.shape, inputs)
        self._maybe_build(shapes)
        if type(self).compute_output_shape is Layer.compute_output_shape:
            outputs = self._run_on_zeros(inputs, *args, **kwargs)  # the dtypes of the actual inputs matter here
        else:
            shapes = self.compute_output_shape(shapes)
            outputs = map_structure(lambda s: KerasTensor(s, self.dtype), shapes, is_leaf=is_shape)
        self._inbound_nodes.append(Node(self, inputs, outputs, args, kwargs))
        return outputs

    def _run_on_zeros(self, specs: Any, *args: Any, **kwargs: Any) -> Any:
        """KerasTensors like the outputs of a call on a batch of one zero input (not training)."""
        zeros = map_structure(_stand_in, specs)
        with no_grad():
            outputs = self(zeros, *args, training=False, **kwargs)
        return map_structure(lambda t: KerasTensor((None,) + t.shape[1:], t.dtype), outputs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}, built={self.built}>"


def _stand_in(spec: KerasTensor) -> Any:
    """Zeros shaped as a KerasTensor (1 for a size not known), as a Tensor with a mask of ones if the
    KerasTensor carries a mask: a layer may need one, as Keras hands it one in a symbolic call."""
    zeros = np.zeros(tuple(1 if d is None else d for d in spec.shape), spec.dtype)
    mask = getattr(spec, "_keras_mask", None)
    if mask is None:
        return zeros
    zeros = Tensor(zeros)
    zeros._keras_mask = np.ones(tuple(1 if d is None else d for d in mask.shape), bool)
    return zeros


def _set_masks(outputs: Any, out_mask: Any) -> None:
    """Each Tensor output gets its mask as a boolean array: one mask for all, or a list of one per output."""
    masks = out_mask if isinstance(out_mask, (list, tuple)) else [out_mask]
    for output, output_mask in zip(flatten(outputs), masks):
        if output_mask is not None and isinstance(output, Tensor):
            output._keras_mask = np.asarray(output_mask.data if isinstance(output_mask, Tensor) else output_mask,
                                            bool)
