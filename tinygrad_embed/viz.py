"""The autograd graph behind a tensor, as Graphviz DOT text (and SVG when the `dot` program exists).

    print(to_dot(loss))          # paste into any Graphviz viewer
    svg = to_svg(loss)           # needs Graphviz's `dot` on the PATH
"""
from __future__ import annotations

import shutil
import subprocess

from .tensor import Tensor


def _label(t: Tensor, names: dict[int, str]) -> str:
    name = names.get(id(t), "")
    kind = "leaf" if t._ctx is None else ""
    grad = ", grad" if t.requires_grad else ""
    return " ".join(part for part in (name, kind) if part) + f"\\n{t.shape} {t.dtype}{grad}"


def to_dot(root: Tensor, names: dict[str, Tensor] | None = None) -> str:
    """Tensors as boxes, ops as ellipses, arrows in the direction of the forward pass. `names` labels
    tensors, e.g. {"x": x, "w": w}. Call before backward(), which frees the graph."""
    labels = {id(t): name for name, t in (names or {}).items()}
    numbers: dict[int, int] = {}  # small stable node names instead of memory addresses

    def node(prefix: str, obj: object) -> str:
        return f"{prefix}{numbers.setdefault(id(obj), len(numbers))}"
    lines = ["digraph autograd {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=11];']
    seen, stack = set(), [root]
    while stack:  # iterative, like the backward sweep: graphs can be thousands of ops deep
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        style = ', style=filled, fillcolor="#dbeafe"' if t._ctx is None and t.requires_grad else ""
        lines.append(f'  {node("t", t)} [shape=box, label="{_label(t, labels)}"{style}];')
        if t._ctx is not None:
            op = t._ctx
            lines.append(f'  {node("op", op)} [shape=ellipse, label="{type(op).__name__}"];')
            lines.append(f"  {node('op', op)} -> {node('t', t)};")
            for parent in op.parents:
                lines.append(f"  {node('t', parent)} -> {node('op', op)};")
                stack.append(parent)
    return "\n".join(lines + ["}"]) + "\n"


def to_svg(root: Tensor, names: dict[str, Tensor] | None = None) -> str:
    """The graph drawn by Graphviz's `dot`; RuntimeError when it is not installed."""
    if shutil.which("dot") is None:
        raise RuntimeError("to_svg needs Graphviz's `dot` program (e.g. apt-get install graphviz); "
                           "to_dot(tensor) gives the DOT text without it")
    return subprocess.run(["dot", "-Tsvg"], input=to_dot(root, names), capture_output=True, text=True, check=True).stdout
