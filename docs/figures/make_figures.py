"""Draws the figures of docs/ that are not training results (those come from examples/imdb_lstm.py --plot).

    python docs/figures/make_figures.py      (needs matplotlib, the `plot` extra, and Graphviz's dot for the SVG)
"""
from pathlib import Path

import numpy as np

import tinygrad_embed as tg
from tinygrad_embed.viz import to_svg

HERE = Path(__file__).parent


def embedding_lookup() -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    table = rng.uniform(-0.05, 0.05, (10, 3))
    ids = [0, 1, 2, 5, 3, 4]  # "This is not a text", pre-padded to 6
    figure, (left, right) = plt.subplots(1, 2, figsize=(9.5, 4.2), gridspec_kw={"width_ratios": [1, 1], "wspace": 0.45})
    for axis, matrix, title, labels in ((left, table, "weight matrix W (10 x 3)", [f"row {i}" for i in range(10)]),
                                        (right, table[ids], "output for one sentence (6 x 3)",
                                         [f"t={t}: id {i}" for t, i in enumerate(ids)])):
        axis.imshow(matrix, cmap="coolwarm", vmin=-0.05, vmax=0.05, aspect="auto")
        axis.set_yticks(range(len(labels)), labels)
        axis.set_xticks(range(3), ["dim 0", "dim 1", "dim 2"])
        axis.set_title(title)
    right.yaxis.tick_right()  # labels out of the arrows' way
    for t, i in enumerate(ids):  # arrows: output row t is a copy of row ids[t]
        figure.add_artist(matplotlib.patches.ConnectionPatch(
            xyA=(2.5, i), coordsA=left.transData, xyB=(-0.5, t), coordsB=right.transData,
            arrowstyle="->", color="0.35", lw=0.8))
    figure.suptitle("Embedding = lookup: output[t] = W[id_t]; its gradient adds back into those rows")
    figure.savefig(HERE / "embedding_lookup.png", dpi=110, bbox_inches="tight")


def autograd_graph() -> None:
    x = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = tg.Tensor(np.array([0.5, -1.0]), requires_grad=True)
    y = (x * w + x).sum().sigmoid()
    (HERE / "autograd_graph.svg").write_text(to_svg(y, {"x": x, "w": w, "y": y}))


if __name__ == "__main__":
    embedding_lookup()
    autograd_graph()
