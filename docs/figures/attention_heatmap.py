"""Draws docs/figures/attention_heatmap.png: for a few short IMDB test reviews, which words each head of the
trained Transformer classifier (examples/transformer_classifier.py) attends to, beside the words' rows of
its token Embedding. The weights come from a run of the example:

    TINYGRAD_EMBED_IMDB=../shared/data/aclImdb_v1.tar.gz python examples/transformer_classifier.py \
        --seed 1 --save /tmp/transformer.weights.h5
    TINYGRAD_EMBED_IMDB=../shared/data/aclImdb_v1.tar.gz python docs/figures/attention_heatmap.py \
        /tmp/transformer.weights.h5                       (needs matplotlib, the `plot` extra)

What a word "receives": the model averages its 200 outputs (GlobalAveragePooling1D), so every position's
query counts alike; a word's bar is the attention the review's real words give it, averaged over those
queries. keras.io's model does not mask its padding, so the rest goes to the padding; each panel's title
says how much.
"""
import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np

from tinygrad_embed import inspect
from tinygrad_embed.datasets import imdb

HERE = Path(__file__).parent
EXAMPLE = HERE.parent.parent / "examples" / "transformer_classifier.py"


def trained_model(weights: str):
    """The example's model (its own build_model, in tinygrad_embed) with the saved weights."""
    saved, sys.argv = sys.argv, [str(EXAMPLE)]
    try:
        spec = importlib.util.spec_from_file_location("transformer_classifier", EXAMPLE)
        example = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(example)
    finally:
        sys.argv = saved
    model = example.build_model()
    model.load_weights(weights)
    return example, model


def short_reviews(example, count: int, longest: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `count` test reviews of at most `longest` ids, alternating negative and positive, padded."""
    _, _, x_val, y_val = example.load_arrays()
    lengths = (x_val != 0).sum(axis=1)
    chosen: list[int] = []
    for label in [0, 1] * count:
        if len(chosen) == count:
            break
        found = next((i for i in range(len(x_val)) if y_val[i] == label and lengths[i] <= longest and i not in chosen),
                     None)
        if found is None:
            raise ValueError(f"too few test reviews of at most {longest} ids with label {label} for {count} reviews: "
                             "ask for fewer (--reviews) or longer ones (--longest)")
        chosen.append(found)
    return x_val[chosen], y_val[chosen]


def draw(model, block, x, y, words, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = inspect.attention_scores(model, x, layer=block.att)  # (reviews, heads, query, key)
    probabilities = model.predict(x, verbose=0)[:, 1]
    embedding = next(layer for layer in model.layers if type(layer).__name__ == "TokenAndPositionEmbedding")
    table = embedding.token_emb.get_weights()[0]
    limit = float(np.abs(table[x[x != 0]]).max())
    figure, axes = plt.subplots(1, 2 * len(x), figsize=(5.2 * len(x), 0.2 * (x != 0).sum(axis=1).max() + 1.5),
                                gridspec_kw={"width_ratios": [1, 3] * len(x), "wspace": 0.6})
    # Each word's weight as a multiple of the uniform one, 1 / 200, on one scale for every panel: how far the
    # heads are from a plain average, which is what an untrained layer gives.
    received = [scores[n][:, np.flatnonzero(ids)][:, :, np.flatnonzero(ids)].mean(axis=1).T * x.shape[1]
                for n, ids in enumerate(x)]  # (words, heads) per review, averaged over the real words as queries
    low, high = min(r.min() for r in received), max(r.max() for r in received)
    for n, (ids, label) in enumerate(zip(x, y)):
        real = np.flatnonzero(ids)
        padding = 1 - received[n].sum(axis=0) / x.shape[1]
        left, right = axes[2 * n], axes[2 * n + 1]
        image = left.imshow(received[n], cmap="viridis", vmin=low, vmax=high, aspect="auto")
        left.set_yticks(range(len(real)), [words.get(int(i), "?") for i in ids[real]], fontsize=8)
        left.set_xticks(range(received[n].shape[1]), [f"head {h}" for h in range(received[n].shape[1])], rotation=90)
        left.set_title(f"{'positive' if label else 'negative'} review, P(positive) {probabilities[n]:.2f}\n"
                       f"to padding: " + ", ".join(f"{p:.0%}" for p in padding), fontsize=8, loc="left")
        right.imshow(table[ids[real]], cmap="coolwarm", vmin=-limit, vmax=limit, aspect="auto")
        right.set_yticks([])
        right.set_xlabel("token Embedding row (32 dims)", fontsize=8)
    bar = figure.colorbar(image, ax=list(axes), location="bottom", fraction=0.03, pad=0.1, aspect=60)
    bar.set_label("attention a word receives, in multiples of the uniform weight 1/200", fontsize=8)
    figure.suptitle("What the trained classifier's two heads attend to (attention each word receives) "
                    "and the words' Embedding rows", fontsize=10)
    figure.savefig(out, dpi=110, bbox_inches="tight")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", help="the .weights.h5 file examples/transformer_classifier.py --save wrote")
    parser.add_argument("--reviews", type=int, default=3)
    parser.add_argument("--longest", type=int, default=32, help="ids per review at most (with the start id)")
    parser.add_argument("--out", default=str(HERE / "attention_heatmap.png"))
    args = parser.parse_args()
    example, model = trained_model(args.weights)
    x, y = short_reviews(example, args.reviews, args.longest)
    words = {rank + 3: word for word, rank in imdb.get_word_index().items()} | {1: "[start]", 2: "[oov]"}
    block = next(layer for layer in model.layers if isinstance(layer, example.TransformerBlock))
    draw(model, block, x, y, words, Path(args.out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
