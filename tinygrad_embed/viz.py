"""The autograd graph behind a tensor: drawn here in pure Python as SVG (a picture in Jupyter), or as
Graphviz DOT text (and SVG when the `dot` program exists).

    draw(loss)                   # in a notebook: the graph, each node's op and shape, leaves' gradient norms
    draw(loss).save("loss.svg")
    print(to_dot(loss))          # paste into any Graphviz viewer
    svg = to_svg(loss)           # needs Graphviz's `dot` on the PATH
"""
from __future__ import annotations

import html
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .tensor import FREED, Tensor


def _label(t: Tensor, names: dict[int, str]) -> str:
    """A tensor's DOT label: its name (or leaf), shape, dtype and whether it requires grad."""
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


# ---- draw: a layered layout and hand-written SVG ----------------------------------------------------
CHAR_WIDTH, LINE_HEIGHT, PAD, GAP_X, GAP_Y = 7.2, 15, 8, 24, 42  # pixels, for 12px monospace text


@dataclass(eq=False)
class _Node:
    """One box of the drawing: a tensor, its title, the boxes it was made from, and its place."""
    tensor: Tensor
    title: str
    parents: list[_Node] = field(default_factory=list)
    rank: int = 0
    x: float = 0.0
    y: float = 0.0

    @property
    def leaf(self) -> bool:
        return self.tensor._ctx is None

    def lines(self) -> list[str]:
        """Title, shape and dtype, and for a leaf that requires grad its gradient's norm, read now."""
        lines = [self.title, f"{self.tensor.shape} {self.tensor.dtype}"]
        if self.leaf and self.tensor.requires_grad:
            grad = self.tensor.grad
            lines.append("no grad yet" if grad is None else f"|grad| = {float(np.linalg.norm(grad)):.3g}")
        return lines

    @property
    def width(self) -> float:
        return max(len(line) for line in self.lines()) * CHAR_WIDTH + 2 * PAD

    @property
    def height(self) -> float:
        return len(self.lines()) * LINE_HEIGHT + PAD


@dataclass(eq=False)
class _Bend:
    """Where an arrow that skips rows crosses a row in between: it takes a slot there, so no box sits on it."""
    parents: list
    rank: int
    width: float = 12.0
    height: float = 0.0
    x: float = 0.0
    y: float = 0.0


class Drawing:
    """An autograd graph, laid out: Jupyter shows it (_repr_svg_), save(path) writes it as SVG. The
    gradient norms are read whenever it is rendered, so one drawn before backward() shows them after."""

    def __init__(self, nodes: list[_Node]) -> None:
        self.nodes = nodes

    def svg(self) -> str:
        arrows = _place(self.nodes)  # at each rendering: backward may have added gradient lines, widening boxes
        width = max(n.x + n.width for n in self.nodes) + PAD
        height = max(n.y + n.height for n in self.nodes) + PAD
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
                 f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="monospace" font-size="12">',
                 '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
                 'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>']
        parts += [_arrow(points) for points in arrows]
        parts += [_box(node, is_root=node is self.nodes[-1]) for node in self.nodes]
        return "\n".join(parts + ["</svg>"]) + "\n"

    def _repr_svg_(self) -> str:
        return self.svg()

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.write_text(self.svg(), encoding="utf-8")
        return path


def draw(root: Tensor, names: dict[str, Tensor] | None = None) -> Drawing:
    """The graph that made `root`, one box per tensor: the op that made it (or, for a leaf, its name in
    `names`, "leaf" or "constant"), its shape and dtype, and after backward() the norm of each leaf's
    gradient. Only leaves keep a gradient (intermediate ones are freed as the sweep goes), so only they
    show one. Inputs at the top, root at the bottom. Draw before backward(), which frees the graph,
    or after backward(retain_graph=True)."""
    if not isinstance(root, Tensor):
        raise TypeError(f"draw needs a Tensor, got {type(root).__name__}")
    if root._ctx is FREED:
        raise ValueError("backward() has freed the graph behind this tensor: call draw(tensor) before backward() "
                         "(the drawing shows the gradients once backward has run), or use backward(retain_graph=True)")
    labels = {id(t): name for name, t in (names or {}).items()}
    nodes: dict[int, _Node] = {}
    order, stack = [], [(root, False)]
    while stack:  # iterative depth-first search, parents before children, as the backward sweep's
        tensor, parents_done = stack.pop()
        if parents_done:
            order.append(nodes[id(tensor)])
        elif id(tensor) not in nodes:
            nodes[id(tensor)] = _Node(tensor, _title(tensor, labels.get(id(tensor))))
            stack.append((tensor, True))
            stack.extend((p, False) for p in reversed(getattr(tensor._ctx, "parents", ())) if id(p) not in nodes)
    for node in order:
        node.parents = [nodes[id(p)] for p in getattr(node.tensor._ctx, "parents", ())]
    _rank(order)
    return Drawing(order)


def _title(tensor: Tensor, name: str | None) -> str:
    """A box's title: the op that made the tensor (or its name), or leaf, constant, freed."""
    if tensor._ctx is FREED:
        return f"{name + ': ' if name else ''}(freed by backward)"
    if tensor._ctx is not None:
        return f"{name}: {type(tensor._ctx).__name__}" if name else type(tensor._ctx).__name__
    return name or ("leaf" if tensor.requires_grad else "constant")


def _rank(order: list[_Node]) -> None:
    """Longest-path layering: an op's rank is one more than its deepest input's; then each leaf moves
    down to just above its first consumer, so a weight sits next to the op that reads it."""
    children: dict[int, list[_Node]] = {id(n): [] for n in order}
    for node in order:
        node.rank = 1 + max((p.rank for p in node.parents), default=-1)
        for parent in node.parents:
            children[id(parent)].append(node)
    for node in order:
        if node.leaf and children[id(node)]:
            node.rank = min(child.rank for child in children[id(node)]) - 1


def _place(order: list[_Node]) -> list[list]:
    """Rows by rank; an arrow that skips rows gets a bend in each row it crosses. Within a row, boxes
    and bends sorted by the mean position of their inputs (two sweeps of the barycentre heuristic),
    then set side by side and centred. Returns each arrow as its points: the input, bends, the op."""
    arrows, rows = [], {}
    for node in order:
        for parent in node.parents:
            points = [parent]
            for rank in range(parent.rank + 1, node.rank):
                points.append(_Bend([points[-1]], rank))
            arrows.append(points + [node])
    for item in order + [p for points in arrows for p in points[1:-1]]:
        rows.setdefault(item.rank, []).append(item)
    inputs: dict[int, list] = {}  # what each box or bend is drawn from, bends included
    for points in arrows:
        for before, after in zip(points, points[1:]):
            inputs.setdefault(id(after), []).append(before)
    position = {id(n): float(i) for row in rows.values() for i, n in enumerate(row)}
    for _ in range(2):
        for rank in sorted(rows):
            row = rows[rank]
            row.sort(key=lambda n: np.mean([position[id(p)] for p in inputs[id(n)]]) if inputs.get(id(n))
                     else position[id(n)])
            position.update({id(n): float(i) for i, n in enumerate(row)})
    widths = {rank: sum(n.width for n in row) + GAP_X * (len(row) - 1) for rank, row in rows.items()}
    widest, y = max(widths.values()), PAD
    for rank in sorted(rows):
        x = PAD + (widest - widths[rank]) / 2
        height = max(n.height for n in rows[rank])
        for item in rows[rank]:
            item.x, item.y = x, y + (height / 2 if isinstance(item, _Bend) else 0)
            x += item.width + GAP_X
        y += height + GAP_Y
    return arrows


def _arrow(points: list) -> str:
    """Smooth curves from the bottom of each point to the top of the next, the last with an arrowhead."""
    x, y = points[0].x + points[0].width / 2, points[0].y + points[0].height
    path = [f"M{x:.1f},{y:.1f}"]
    for point in points[1:]:
        x2, y2 = point.x + point.width / 2, point.y
        bend = (y2 - y) / 2
        path.append(f"C{x:.1f},{y + bend:.1f} {x2:.1f},{y2 - bend:.1f} {x2:.1f},{y2:.1f}")
        x, y = x2, point.y + point.height
    return f'<path d="{" ".join(path)}" fill="none" stroke="#555" stroke-width="1" marker-end="url(#arrow)"/>'


def _box(node: _Node, is_root: bool) -> str:
    """One box as SVG: a rectangle (square corners for a leaf) and its lines of text."""
    fill = "#dbeafe" if node.leaf and node.tensor.requires_grad else "#f3f4f6" if node.leaf else "#ffffff"
    stroke = ' stroke-width="2.5"' if is_root else ""
    parts = [f'<rect x="{node.x:.1f}" y="{node.y:.1f}" width="{node.width:.1f}" height="{node.height:.1f}" '
             f'rx="{0 if node.leaf else 8}" fill="{fill}" stroke="#333"{stroke}/>']
    for i, line in enumerate(node.lines()):
        weight = ' font-weight="bold"' if i == 0 else ""
        parts.append(f'<text x="{node.x + node.width / 2:.1f}" y="{node.y + PAD / 2 + (i + 0.8) * LINE_HEIGHT:.1f}" '
                     f'text-anchor="middle"{weight}>{html.escape(line)}</text>')
    return "\n".join(parts)
