"""model.summary(): Keras 3's table of layers, output shapes and parameter counts, then the totals
(frozen layers' weights and the moving statistics counted as non-trainable, the optimizer's own once it
has been built). Functional models add Keras's "Connected to"; `show_trainable` adds a Trainable column
and `expand_nested` the layers of models used as layers, indented under them. Plain text: Keras draws
the same columns with `rich`."""
from __future__ import annotations

import contextlib
import itertools
import textwrap
from typing import Any, Callable, Sequence

import numpy as np

from ..layers.symbolic import flatten

# Keras's default line length and column positions (fractions of the line) for a list of layers and a graph
LAYOUTS = {False: (88, (0.45, 0.80, 1.0)), True: (108, (0.3, 0.56, 0.74, 1.0))}
TRAINABLE_WIDTH = 12  # Keras widens the line this much for the Trainable column
MIN_WIDTH = 4


def column_widths(positions: Sequence[float], line_length: int) -> list[int]:
    """Each column's width from where the columns end: fractions of the line (Keras 3) when the last is
    at most 1, else character positions (Keras 2's absolute form); ValueError for a column under 4."""
    ends = [int(p * line_length) for p in positions] if positions[-1] <= 1 else [int(p) for p in positions]
    widths = [end - start for start, end in zip([0] + ends[:-1], ends)]
    if min(widths) < MIN_WIDTH:
        raise ValueError(f"summary's positions {list(positions)} with line_length {line_length} give columns of "
                         f"widths {widths}: each needs at least {MIN_WIDTH} characters")
    return widths


def _shape(tensors: Any) -> str:
    shapes = [str(t.shape) for t in (tensors if isinstance(tensors, (list, tuple)) else [tensors])]
    return shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"


def _size(weights: Sequence[Any]) -> str:
    """The memory the arrays take, as Keras writes it: 1.50 KB."""
    size = float(sum(w.nbytes for w in weights))
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            break
        size /= 1024
    return f"{size:.2f} {unit}"


def _shapes_and_sources(model: Any) -> list[tuple[Any, str, str]]:
    """(layer, its output shape, the layers it reads) for each of the model's layers."""
    if getattr(model, "inputs", None) is not None:  # functional: from the recorded calls
        found = []
        for layer in model.layers:
            node = next(n for n in model._nodes if n.layer is layer)
            sources = [f"{t.node.layer.name}[{t.node.layer._inbound_nodes.index(t.node)}][{t.index}]"
                       for t in flatten(node.inputs)]
            found.append((layer, _shape(node.outputs), ", ".join(sources) or "-"))
        return found
    outputs = None
    if hasattr(model, "symbolic_outputs"):  # Sequential: the shapes follow from the input's shape
        with contextlib.suppress(ValueError):  # an unknown input shape leaves the model unbuilt
            outputs = model.symbolic_outputs()
    shapes = [_shape(t) for t in outputs] if outputs else ["?"] * len(model.layers)
    return [(layer, shape, "-") for layer, shape in zip(model.layers, shapes)]


def _rows(model: Any, functional: bool, show_trainable: bool, expand_nested: bool, level: int = 0) -> list[list[str]]:
    prefix = "   " * level + "└ " if level else ""
    rows = []
    for layer, shape, sources in _shapes_and_sources(model):
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        row = [f"{prefix}{layer.name} ({type(layer).__name__})", shape, params]
        row += [sources if not level else "-"] if functional else []  # a nested layer reads nothing of this graph
        row += [("Y" if layer.trainable else "N") if layer.weights else "-"] if show_trainable else []
        rows.append(row)
        if expand_nested and getattr(layer, "layers", None):
            rows += _rows(layer, functional, show_trainable, expand_nested, level + 1)
    return rows


def _line(cells: Sequence[str], widths: Sequence[int], aligns: Sequence[str]) -> str:
    """Each cell padded to its column: "<" left, ">" right (parameter counts), "^" centred (Trainable);
    a cell too long for its column wraps onto more lines, as Keras's table wraps it."""
    padded = {"<": lambda c, w: f" {c:<{w - 1}}", ">": lambda c, w: f"{c:>{w - 1}} ", "^": lambda c, w: f"{c:^{w}}"}
    parts = [textwrap.wrap(cell, width - 1) or [""] for cell, width in zip(cells, widths)]
    rows = itertools.zip_longest(*parts, fillvalue="")
    return "\n".join("".join(padded[a](c, w) for c, w, a in zip(row, widths, aligns)) for row in rows)


def _optimizer_weights(model: Any) -> list[np.ndarray] | None:
    """The optimizer's variables as Keras 3 counts them, once it is built: its step count (int32), its
    learning rate (float32) and the slots."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not optimizer._variables:
        return None
    return [np.zeros((), np.int32), np.zeros((), np.float32)] + [a for slots in optimizer._slots for a in slots.values()]


def _totals(model: Any) -> list[str]:
    trainable = [w.data for w in model.trainable_weights]
    frozen = [w.data for w in model.non_trainable_weights]
    optimizer = _optimizer_weights(model)
    everything = trainable + frozen + (optimizer or [])
    lines = [f" Total params: {sum(w.size for w in everything):,} ({_size(everything)})",
             f" Trainable params: {sum(w.size for w in trainable):,} ({_size(trainable)})",
             f" Non-trainable params: {sum(w.size for w in frozen):,} ({_size(frozen)})"]
    if optimizer is not None:
        lines.append(f" Optimizer params: {sum(w.size for w in optimizer):,} ({_size(optimizer)})")
    return lines


def _widths(functional: bool, line_length: int | None, positions: Sequence[float] | None,
            show_trainable: bool) -> list[int]:
    """Keras's column widths: its defaults, or the given positions, and 12 more characters for Trainable
    (the other columns then end at 90% of their fractions, as in Keras)."""
    default_length, default_positions = LAYOUTS[functional]
    if positions is not None and len(positions) != len(default_positions):
        raise ValueError(f"summary's positions must give where each of its {len(default_positions)} columns "
                         f"ends, got {list(positions)}")
    positions = list(positions or default_positions)
    if show_trainable:
        default_length += TRAINABLE_WIDTH
        relative = positions[-1] <= 1
        positions = [p * 0.9 for p in positions] + [1.0] if relative else positions + [positions[-1] + TRAINABLE_WIDTH]
    return column_widths(positions, line_length or default_length)


def print_summary(model: Any, line_length: int | None = None, positions: Sequence[float] | None = None,
                  print_fn: Callable[[str], Any] | None = None, expand_nested: bool = False,
                  show_trainable: bool = False) -> None:
    """Hand the whole table, one string, to print_fn (print by default), as Keras 3 does."""
    functional = getattr(model, "inputs", None) is not None
    headers = ["Layer (type)", "Output Shape", "Param #"] + ["Connected to"] * functional
    headers += ["Trainable"] * show_trainable
    aligns = ["<", "<", ">"] + ["<"] * functional + ["^"] * show_trainable
    widths = _widths(functional, line_length, positions, show_trainable)
    rule = sum(widths)
    lines = [f'Model: "{model.name}"', "_" * rule, _line(headers, widths, aligns), "=" * rule]
    lines += [_line(row, widths, aligns) for row in _rows(model, functional, show_trainable, expand_nested)]
    lines += ["=" * rule] + _totals(model) + ["_" * rule]
    (print_fn or print)("\n".join(lines))
