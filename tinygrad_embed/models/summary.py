"""model.summary(): Keras's table of layers, output shapes and parameter counts, then the totals
(frozen layers' weights counted as non-trainable). Functional models add Keras's "Connected to"."""
from __future__ import annotations

import contextlib
from typing import Any

from ..layers.symbolic import flatten


def _shape(tensors: Any) -> str:
    shapes = [str(t.shape) for t in (tensors if isinstance(tensors, (list, tuple)) else [tensors])]
    return shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"


def _size(count: int, itemsize: int = 4) -> str:
    size, unit = float(count * itemsize), "B"
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            break
        size /= 1024
    return f"{size:.2f} {unit}"


def _rows(model: Any) -> tuple[list[tuple[str, ...]], bool]:
    """One (name (type), output shape, params[, connected to]) row per layer; and whether the model is a graph."""
    def params(layer):
        return f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
    if model.inputs is not None:  # functional: shapes and connections from the recorded calls
        rows = []
        for layer in model.layers:
            node = next(n for n in model._nodes if n.layer is layer)
            sources = [f"{t.node.layer.name}[{t.node.layer._inbound_nodes.index(t.node)}][{t.index}]"
                       for t in flatten(node.inputs)]
            rows.append((f"{layer.name} ({type(layer).__name__})", _shape(node.outputs), params(layer),
                         ", ".join(sources) or "-"))
        return rows, True
    outputs = None
    if hasattr(model, "symbolic_outputs"):  # Sequential: the shapes follow from the input's shape
        with contextlib.suppress(ValueError):  # an unknown input shape leaves the model unbuilt
            outputs = model.symbolic_outputs()
    shapes = [_shape(t) for t in outputs] if outputs else ["?"] * len(model.layers)
    return [(f"{layer.name} ({type(layer).__name__})", shape, params(layer))
            for layer, shape in zip(model.layers, shapes)], False


def print_summary(model: Any, print_fn: Any = print) -> None:
    rows, functional = _rows(model)
    widths = (32, 26, 12) + ((28,) if functional else ())
    headers = ("Layer (type)", "Output Shape", "Param #") + (("Connected to",) if functional else ())
    rule = "_" * sum(widths)

    def line(cells):
        return "".join(f" {c:<{w - 1}}" if i != 2 else f"{c:>{w - 1}} " for i, (c, w) in enumerate(zip(cells, widths)))
    lines = [f'Model: "{model.name}"', rule, line(headers), "=" * sum(widths)]
    lines += [line(row) for row in rows]
    total = sum(w.size for w in model.weights)
    trainable = sum(w.size for w in model.trainable_weights)
    itemsize = model.weights[0].data.itemsize if model.weights else 4
    lines += ["=" * sum(widths), f"Total params: {total:,} ({_size(total, itemsize)})",
              f"Trainable params: {trainable:,} ({_size(trainable, itemsize)})",
              f"Non-trainable params: {total - trainable:,} ({_size(total - trainable, itemsize)})", rule]
    print_fn("\n".join(lines))
