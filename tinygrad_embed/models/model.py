"""Model: a functional graph `Model(inputs, outputs)`, or a subclass that defines `call` (docs/models.md)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..helpers import unique_name
from ..layers.base import Layer
from ..tensor import Tensor
from ..layers.input_layer import InputLayer
from ..layers.symbolic import KerasTensor, Node
from ..tree import flatten, flatten_like, map_structure, pack_like
from ..saving import native, saving_api
from . import summary
from .training import Trainer


class Model(Trainer, Layer):
    """Model(inputs, outputs): Input(...) KerasTensors, and what layers called on them returned (one, or
    lists and dicts of them, nested as Keras allows: a dict's entries are taken by sorted key, as Keras's)."""

    def __init__(self, inputs: Any = None, outputs: Any = None, name: str | None = None, **kwargs: Any) -> None:
        functional = inputs is not None or outputs is not None
        super().__init__(name=name or (unique_name("functional") if functional else None), **kwargs)
        self.inputs: list[KerasTensor] | None = None
        self.outputs: list[KerasTensor] | None = None
        if functional:
            self._graph(inputs, outputs)

    def _graph(self, inputs: Any, outputs: Any) -> None:
        """A functional model's graph: the layer calls between its inputs and outputs, in order."""
        if inputs is None or outputs is None:
            raise ValueError("a functional Model needs both inputs and outputs: Model(inputs, outputs)")
        self.inputs, self.outputs = _keras_tensors(inputs, "inputs"), _keras_tensors(outputs, "outputs")
        self._given = {"input": inputs, "output": outputs}  # model.input and model.output give them back as given
        for tensor in self.inputs:
            if tensor.node is None or not isinstance(tensor.node.layer, InputLayer):
                raise ValueError(f"Model's inputs must come from Input(...), got {tensor}")
        self._single_input, self._single_output = [not isinstance(v, (list, tuple, dict)) for v in (inputs, outputs)]
        self._keys = {"inputs": _keys(inputs), "outputs": _keys(outputs)}  # the names of dict data and logs
        self._nodes, first_seen = _nodes_between(self.inputs, self.outputs)
        self._layers = _keras_layer_order(self._nodes, first_seen)  # Keras 3 lists InputLayers too
        self.built = True

    input = property(lambda self: self._as_given("input"), doc="The Input (or list of them) given to Model.")
    output = property(lambda self: self._as_given("output"), doc="The output (or list of them) given to Model.")

    def _as_given(self, side: str) -> Any:
        if self.inputs is None:
            raise AttributeError(f"model {self.name!r} is not a functional model: it has no symbolic {side}")
        return self._given[side]

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """The layer called `name`, or the one at `index` in model.layers (one of the two), as Keras."""
        if (name is None) == (index is None):
            raise ValueError(f"get_layer takes either a layer name or a layer index, got name={name!r}, "
                             f"index={index!r}")
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"layer index {index} is out of range: model {self.name!r} has "
                                 f"{len(self.layers)} layers")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r} in model {self.name!r}; its layers: {[l.name for l in self.layers]}")

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        """Replay the recorded layer calls on real data, node after node."""
        if self.inputs is None:
            raise NotImplementedError(f"{type(self).__name__} subclasses Model: define call(inputs)")
        given = self._flat_inputs(inputs)
        if len(given) != len(self.inputs):
            raise ValueError(f"model {self.name!r} takes {len(self.inputs)} inputs, got {len(given)}")
        values = {}
        for tensor, value in zip(self.inputs, given):
            _check_shape(tensor, value)
            values[id(tensor)] = _as_input_dtype(tensor, value)
        for node in self._nodes:
            if isinstance(node.layer, InputLayer):
                continue
            outputs = node.layer(map_structure(lambda t: values[id(t)], node.inputs), *node.args,
                                 training=training, **node.kwargs)
            for tensor, value in zip(flatten(node.outputs), flatten(outputs)):
                values[id(tensor)] = value
        results = [values[id(t)] for t in self.outputs]
        return results[0] if self._single_output else pack_like(self._given["output"], results)

    def _flat_inputs(self, inputs: Any) -> list[Any]:
        """The value for each of self.inputs: one; a list in their order (how fit hands batches); or data
        shaped as the inputs given to Model (a dict by its keys, nested lists)."""
        structure = self._given["input"]
        if self._single_input or (len(self.inputs) == 1 and not isinstance(inputs, (list, tuple, dict))):
            return [inputs]
        if isinstance(inputs, (list, tuple)) and len(inputs) == len(self.inputs):
            flat = not isinstance(structure, (list, tuple)) or len(structure) == len(self.inputs)
            if flat or not any(isinstance(v, (list, tuple, dict)) for v in inputs):
                return list(inputs)
        if isinstance(inputs, dict) and not isinstance(structure, dict):  # Keras: keyed by the Inputs' names
            names = [t.name for t in self.inputs]
            flatten_like(dict.fromkeys(names), inputs, f"inputs of model {self.name!r}")  # the same keys, or an error
            return [inputs[name] for name in names]
        return flatten_like(structure, inputs, f"inputs of model {self.name!r}")

    def reset_states(self) -> None:
        """Every stateful layer (nested models' too) starts its next batch from zero states, as Keras's."""
        for layer in self.layers:
            if hasattr(layer, "reset_states"):
                layer.reset_states()

    def _as_tensor(self, value: Any) -> Any:
        """The input uncast (each layer casts to its own dtype, so float64 stays whole); text stays numpy."""
        if isinstance(value, Tensor):
            return value
        array = np.asarray(value)
        return array if array.dtype.kind in "OSU" else Tensor(array)

    def _takes_text(self) -> bool:
        """An Input(dtype="string"), or a first layer that reads strings (a Sequential's TextVectorization,
        or a model that starts with one)."""
        declared = [t.dtype for t in self.inputs or []]
        first = (self._layers or [None])[0]
        reads_text = getattr(first, "string_inputs", False) or (isinstance(first, Model) and first._takes_text())
        return any(d.kind in "OSU" for d in declared) or reads_text

    def _check_inputs(self, x: Any) -> None:
        """Refuse data the layers that read the model's inputs cannot take, before anything runs."""
        if self.inputs is None:
            return
        given = [x] if len(self.inputs) == 1 else list(x)
        arrays = {id(tensor): array for tensor, array in zip(self.inputs, given)}
        for node in self._nodes:  # the layers that read a model input directly check the whole of it
            for tensor in flatten(node.inputs):
                if id(tensor) in arrays:
                    node.layer.check_inputs(arrays[id(tensor)])

    # ---- description and files (saving/, summary.py) ---------------------------------------------
    def summary(self, line_length: int | None = None, positions: Sequence[float] | None = None,
                expand_nested: bool = False, show_trainable: bool = False, print_fn: Any = None) -> None:
        summary.print_summary(self, line_length, positions, print_fn, expand_nested, show_trainable)

    def get_config(self) -> dict[str, Any]:
        return native.model_config(self)

    def save(self, filepath: str, include_optimizer: bool = True) -> None:
        """Architecture, weights and, optionally, the optimizer's state, in one file: .keras is Keras 3's
        archive, .h5 (.hdf5) Keras's legacy HDF5 file, .npz this project's pickle-free archive (saving/)."""
        saving_api.save_model(self, filepath, include_optimizer)

    def save_weights(self, filepath: str) -> None:
        saving_api.save_weights(self, filepath)

    def load_weights(self, filepath: str) -> None:
        saving_api.load_weights(self, filepath)

    def _to_arrays(self, include_optimizer: bool = True) -> dict[str, np.ndarray]:
        return native.model_arrays(self, include_optimizer)

    def _restore_from(self, arrays: dict[str, np.ndarray], filepath: str) -> None:
        native.restore(self, arrays, filepath)


def _keras_tensors(value: Any, what: str) -> list[KerasTensor]:
    tensors = flatten(value)
    for tensor in tensors:
        if not isinstance(tensor, KerasTensor):
            raise TypeError(f"Model's {what} must be KerasTensors (from Input and layer calls), got {type(tensor).__name__}")
    return tensors


def _keys(structure: Any) -> list[str] | None:
    """A dict's keys in flatten's order, when its values are the tensors themselves: fit's data, losses
    and metrics are keyed by them, as in Keras (None: by the names of the layers that make the tensors)."""
    if isinstance(structure, dict) and all(isinstance(v, KerasTensor) for v in structure.values()):
        return sorted(structure)
    return None


def _nodes_between(inputs: Sequence[KerasTensor], outputs: Sequence[KerasTensor]) -> tuple[list[Node], dict]:
    """The layer calls that lead from the inputs to the outputs, each after the calls it depends on, and
    the order in which the search from the outputs first met each layer. Iterative depth-first search,
    as the autograd's sort."""
    order, visited, first_seen, stack = [], set(), {}, [(t.node, False) for t in reversed(outputs)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
        elif id(node) not in visited:
            visited.add(id(node))
            first_seen.setdefault(node.layer, len(first_seen))
            stack.append((node, True))
            stack.extend((parent, False) for parent in reversed(node.parents) if id(parent) not in visited)
    known = {id(t) for t in inputs}
    for node in order:
        if isinstance(node.layer, InputLayer) and id(node.outputs) not in known:
            raise ValueError(f"the outputs depend on Input {node.layer.name!r}, which is not among the model's "
                             f"inputs: pass it in Model(inputs=[...])")
    return order, first_seen


def _keras_layer_order(nodes: list[Node], first_seen: dict) -> list[Layer]:
    """Keras's order of a graph's layers, which get_weights follows: farthest from the outputs first
    (depth: the longest path to an output), ties in the order the search from the outputs met them."""
    node_depth, layer_depth = {}, {}
    for node in reversed(nodes):  # outputs first
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(node.layer, 0))
        layer_depth[node.layer] = node_depth[id(node)] = depth
        for parent in node.parents:
            node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    return sorted(layer_depth, key=lambda layer: (-layer_depth[layer], first_seen[layer]))


def _as_input_dtype(tensor: KerasTensor, value: Any) -> Any:
    """Float data in its Input's float dtype, as Keras converts a functional model's inputs (but not a Tensor
    whose gradient is wanted: a copy would cut it)."""
    floats = isinstance(value, Tensor) and value.dtype.kind == tensor.dtype.kind == "f"
    if floats and value.dtype != tensor.dtype and not value.requires_grad:
        return Tensor(value.data.astype(tensor.dtype))
    return value


def _check_shape(tensor: KerasTensor, value: Any) -> None:
    shape = np.shape(value.data if hasattr(value, "data") else value)
    expected = tensor.shape[1:]
    if len(shape) != len(tensor.shape) or any(e is not None and e != s for e, s in zip(expected, shape[1:])):
        raise ValueError(f"input {tensor.name!r} expects shape {tensor.shape} (None: any size), got {shape}")
