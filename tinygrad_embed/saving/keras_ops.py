"""keras.ops calls in a functional graph, as Keras 3's config.json holds them: an entry whose module is
`keras.src.ops.*` and class an operation (`NotEqual`, `Mean`, ...), its config the operation's arguments,
its inbound node the call (tensors and constants). Two kinds come back here:

- masks: Keras records the mask that Embedding(mask_zero=True) or Masking computes as ops (NotEqual, then
  Any over the features for Masking) handed to later layers as `mask=`; here those layers compute and hand
  on the same mask themselves, so such ops are recognised and left out (mask_ops);
- any other op becomes a KerasOperation layer: the function of this project's `ops` of the same name (the
  class in snake case) applied to the same arguments. An op `ops` lacks is refused with its name. Saving
  writes it back as Keras's entry, so the file goes to Keras again.
"""
from __future__ import annotations

import inspect
from typing import Any

from .. import ops
from ..helpers import snake_case
from ..layers.base import Layer

TENSOR = "__tensor__"  # in a KerasOperation's argument template: "the next input tensor goes here"


def is_op_entry(entry: dict[str, Any]) -> bool:
    return str(entry.get("module") or "").startswith("keras.src.ops")


NOT_IN_GRAPHS = ("convert_to_numpy", "shape")  # they give no tensor, so no graph Keras writes has them


def _function(op: str) -> Any:
    name = snake_case(op)
    if name not in ops.__all__ or name in NOT_IN_GRAPHS:
        raise ValueError(f"the graph calls keras.ops.{name} ({op}), which this project's ops do not have; "
                         f"the ops here are {', '.join(sorted(ops.__all__))}")
    return getattr(ops, name)


class KerasOperation(Layer):
    """A keras.ops call as a layer: function(*arguments, **op_config), the tensors put where the template
    says. No weights; a mask that comes in is dropped, as Keras's ops drop it."""

    def __init__(self, op: str, module: str = "keras.src.ops.numpy", op_config: dict[str, Any] | None = None,
                 template: list | None = None, call_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.op, self.module, self.op_config = op, module, dict(op_config or {})
        self.template, self.call_kwargs = list(template or [TENSOR]), dict(call_kwargs or {})
        self.function = _function(op)
        try:
            inspect.signature(self.function).bind(*self.template, **self.call_kwargs, **self.op_config)
        except TypeError as error:
            raise ValueError(f"op {self.name!r} ({op}) has arguments {self.op_config} that this project's "
                             f"ops.{snake_case(op)} does not take: {error}") from None

    def call(self, inputs: Any) -> Any:
        tensors = iter(inputs if isinstance(inputs, list) else [inputs])
        fill = lambda value: (next(tensors) if value == TENSOR else  # noqa: E731
                              [fill(v) for v in value] if isinstance(value, list) else value)
        return self.function(*[fill(v) for v in self.template], **self.call_kwargs, **self.op_config)

    def _warn_mask_dropped(self) -> None:
        """Keras's ops drop a mask without a word."""

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "op": self.op, "module": self.module, "op_config": self.op_config,
                "template": self.template, "call_kwargs": self.call_kwargs}

    def keras_entry(self) -> dict[str, Any]:
        """The layer list's entry Keras writes for this op (inbound_nodes added by the graph's writer)."""
        return {"module": self.module, "class_name": self.op, "config": {"name": self.name, **self.op_config},
                "registered_name": None, "name": self.name}

    def keras_args(self, references: list) -> list:
        """The call's args as Keras writes them: the template, the tensors' references in their places."""
        tensors = iter(references)
        fill = lambda value: (next(tensors) if value == TENSOR else  # noqa: E731
                              [fill(v) for v in value] if isinstance(value, list) else value)
        return [fill(v) for v in self.template]


def operation_from_keras(entry: dict[str, Any], is_tensor: Any) -> tuple[dict[str, Any], bool, list]:
    """(our layer entry, whether the layer takes a list, the tensors it reads in order) for an op entry."""
    nodes = entry.get("inbound_nodes") or []
    if len(nodes) != 1:
        raise ValueError(f"op {entry['name']!r} ({entry['class_name']}) is called {len(nodes)} times: expected once")
    tensors = []

    def template(value: Any) -> Any:
        if is_tensor(value):
            tensors.append(value)
            return TENSOR
        if isinstance(value, list):
            return [template(v) for v in value]
        if isinstance(value, dict):
            raise ValueError(f"op {entry['name']!r} takes an argument {value!r:.80} that is neither a tensor of the "
                             "graph nor a constant")
        return value

    args = [template(a) for a in nodes[0]["args"]]
    if not tensors:
        raise ValueError(f"op {entry['name']!r} ({entry['class_name']}) reads no tensor of the graph: a constant, "
                         "which Keras would not write as an op")
    kwargs = {k: v for k, v in nodes[0].get("kwargs", {}).items()}
    if any(is_tensor(v) for v in kwargs.values()):
        raise ValueError(f"op {entry['name']!r} takes a tensor as a keyword argument, which is not supported")
    op_config = {k: v for k, v in entry.get("config", {}).items() if k != "name"}
    config = {"name": entry["name"], "op": entry["class_name"], "module": entry["module"], "op_config": op_config,
              "template": args, "call_kwargs": kwargs}
    return {"class_name": "KerasOperation", "config": config}, len(tensors) > 1, tensors


def mask_ops(entries: list[dict[str, Any]], history: Any) -> set[str]:
    """The names of the op entries that only compute masks Keras hands on as mask=, each checked to be the
    mask an Embedding(mask_zero=True) or a Masking layer makes of the same input (here those layers hand
    it on themselves); ValueError for a mask made some other way."""
    by_name = {e["name"]: e for e in entries}
    makers = {}  # the input a masking layer reads -> (the value masked, whether features are reduced by Any)
    for entry in entries:
        for node in entry.get("inbound_nodes") or []:
            if entry["class_name"] == "Embedding" and entry["config"].get("mask_zero"):
                makers[tuple(history(node["args"][0]))] = (0, False)
            elif entry["class_name"] == "Masking":
                makers[tuple(history(node["args"][0]))] = (entry["config"].get("mask_value", 0.0), True)
    masks = {tuple(history(node["kwargs"]["mask"]))[0] for e in entries for node in e.get("inbound_nodes") or []
             if isinstance(node.get("kwargs", {}).get("mask"), dict) and is_op_entry(by_name.get(
                 history(node["kwargs"]["mask"])[0], {}))}
    found = set()
    for name in masks:
        entry, reduced = by_name[name], False
        if entry["class_name"] == "Any" and entry["config"].get("axis") == -1 and not entry["config"].get("keepdims"):
            found.add(name)
            entry, reduced = by_name.get(history(entry["inbound_nodes"][0]["args"][0])[0], {}), True
        args = (entry.get("inbound_nodes") or [{}])[0].get("args", [])
        made = makers.get(tuple(history(args[0]))) if entry.get("class_name") == "NotEqual" and len(args) == 2 else None
        if made is None or made != (args[1], reduced):
            raise ValueError(f"the mask {name!r} handed to the layers is computed by ops in a way this project does "
                             "not reproduce (only the masks of Embedding(mask_zero=True) and Masking are)")
        found.add(entry["name"])
    return found
