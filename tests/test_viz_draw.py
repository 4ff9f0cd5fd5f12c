"""viz.draw: the autograd graph laid out and written as SVG in pure Python; the DOT export beside it."""
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import tinygrad_embed as tg
from tinygrad_embed.inspect import named_weights
from tinygrad_embed.layers import LSTM, Dense, Embedding
from tinygrad_embed.models import Sequential
from tinygrad_embed.viz import draw, to_dot

SVG = "{http://www.w3.org/2000/svg}"


def small_graph():
    x = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = tg.Tensor(np.array([0.5, -1.0]), requires_grad=True)
    return x, w, (x * w + x).sum().sigmoid()


def boxes(svg: str) -> list[dict]:
    """Each node's rectangle and the lines of text inside it."""
    root = ET.fromstring(svg)
    rects = [{k: float(r.get(k)) for k in ("x", "y", "width", "height")} for r in root.iter(f"{SVG}rect")]
    texts = [(float(t.get("x")), float(t.get("y")), t.text) for t in root.iter(f"{SVG}text")]
    for rect in rects:
        rect["lines"] = [text for x, y, text in texts if rect["x"] <= x <= rect["x"] + rect["width"]
                         and rect["y"] <= y <= rect["y"] + rect["height"]]
    return rects


def test_each_tensor_is_a_box_with_its_op_and_shape():
    x, w, y = small_graph()
    nodes = boxes(draw(y, {"x": x, "w": w, "y": y}).svg())
    assert sorted(n["lines"][0] for n in nodes) == sorted(["x", "w", "Mul", "Add", "Sum", "y: Sigmoid"])
    titles = {n["lines"][0]: n["lines"][1:] for n in nodes}
    assert titles["Sum"] == ["() float64"] and titles["x"] == ["(2,) float64", "no grad yet"]
    assert len(nodes) == to_dot(y).count("shape=box")  # the same tensors as the DOT export


def test_leaves_show_their_gradient_norm_once_backward_has_run():
    # y = sigmoid(s), s = sum(x w + x) = 1.5 + 0 = 1.5; y(1 - y) = 0.14915. dy/dx = y(1 - y)(w + 1) =
    # 0.14915 [1.5, 0], norm 0.224; dy/dw = y(1 - y) x = 0.14915 [1, 2], norm 0.3335.
    x, w, y = small_graph()
    drawing = draw(y, {"x": x, "w": w})
    y.backward()
    titles = {n["lines"][0]: n["lines"][1:] for n in boxes(drawing._repr_svg_())}
    assert titles["x"][1] == "|grad| = 0.224" and titles["w"][1] == "|grad| = 0.334"
    assert all(len(lines) == 1 for title, lines in titles.items() if title not in ("x", "w"))  # no grads kept


def test_inputs_above_their_ops_and_no_boxes_overlap():
    x, w, y = small_graph()
    svg = draw(y).svg()
    for path in re.findall(r'<path d="M([\d.]+),([\d.]+) C[^"]* ([\d.]+),([\d.]+)"', svg):
        assert float(path[1]) < float(path[3])  # every arrow points down, from an input to its op
    nodes = boxes(svg)
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            apart = (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                     or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])
            assert apart, (a["lines"], b["lines"])


def test_a_freed_graph_is_refused_and_a_retained_one_drawn():
    x, w, y = small_graph()
    y.backward(retain_graph=True)
    assert "|grad| = 0.334" in draw(y, {"w": w}).svg()
    y.backward()
    with pytest.raises(ValueError, match="backward\\(\\) has freed the graph"):
        draw(y)
    with pytest.raises(TypeError, match="draw needs a Tensor"):
        draw(np.zeros(2))


def test_save_writes_the_svg(tmp_path):
    _, _, y = small_graph()
    drawing = draw(y)
    path = drawing.save(tmp_path / "graph.svg")
    assert path.read_text() == drawing.svg()
    assert ET.parse(path).getroot().tag == f"{SVG}svg"


def lstm_loss(steps):
    model = Sequential([Embedding(30, 4), LSTM(3), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy")
    ids = np.random.default_rng(0).integers(0, 30, (2, steps))
    return model, model.loss(np.array([1, 0]), model(ids)).mean()


def test_a_500_step_lstm_is_as_small_as_a_5_step_one():
    (_, short), (model, long) = lstm_loss(5), lstm_loss(500)
    titles = [n["lines"][0] for n in boxes(draw(long, named_weights(model)).svg())]
    assert len(titles) == len(boxes(draw(short).svg())) and titles.count("FusedLSTM") == 1
    assert set(named_weights(model)) <= set(titles)


def test_the_dot_export_stays():
    x, w, y = small_graph()
    dot = to_dot(y, {"x": x, "w": w})
    assert dot.startswith("digraph autograd {") and dot.count("shape=ellipse") == 4  # Mul, Add, Sum, Sigmoid
    assert 'label="x leaf' in dot
