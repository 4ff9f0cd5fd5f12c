"""The figures and numbers of docs/inside-a-training-run.md, from a real IMDB run.

    TINYGRAD_EMBED_IMDB=../shared/data/aclImdb_v1.tar.gz python docs/figures/inside_a_training_run.py

Trains the seed model (Embedding(5000, 32), LSTM(100), Dense(1, sigmoid), Adam, batch 64, reviews
pre-padded to 500, seed 1) with GradientStats on, for 3 epochs on the 25,000 training reviews as
examples/imdb_lstm.py does (--epochs and --train-samples make a shorter run), then measures it. The
trained model and its history are kept in --work (default ~/.cache/tinygrad_embed/inside-a-training-run),
so a second run only redraws. Needs matplotlib (the
`plot` extra). Prints the numbers the page quotes.
"""
import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from tinygrad_embed import inspect, viz
from tinygrad_embed.callbacks import GradientStats
from tinygrad_embed.datasets import imdb
from tinygrad_embed.layers import LSTM, Dense, Embedding
from tinygrad_embed.models import Sequential, load_model
from tinygrad_embed.preprocessing.sequence import pad_sequences
from tinygrad_embed.utils import set_random_seed

HERE = Path(__file__).parent
TOP_WORDS, MAXLEN, BATCH, WORDS_KEPT = 5000, 500, 64, 200
PROBES = ["great", "awful", "boring", "excellent", "funny"]


def seed_model(mask_zero: bool = False) -> Sequential:
    model = Sequential([Embedding(TOP_WORDS, 32, input_length=MAXLEN, mask_zero=mask_zero), LSTM(100),
                        Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def train(x, y, epochs: int, work: Path):
    """The trained model and its history, from work/ when a run with these settings is there."""
    tag = f"{epochs}-epochs-{len(y)}-reviews"
    path, history_path = work / f"{tag}.npz", work / f"{tag}-history.json"
    if path.exists():
        return load_model(str(path)), json.loads(history_path.read_text()), work / f"{tag}-initial.npz"
    set_random_seed(1)
    model = seed_model()
    model.save_weights(str(work / f"{tag}-initial.npz"))
    start = time.perf_counter()
    history = model.fit(x, y, epochs=epochs, batch_size=BATCH, callbacks=[GradientStats()], verbose=2)
    print(f"trained in {time.perf_counter() - start:.0f} s")
    model.save(str(path))
    history_path.write_text(json.dumps(history.history))
    return model, history.history, work / f"{tag}-initial.npz"


def with_weights(weights_of, mask_zero: bool = False) -> Sequential:
    """The seed model with these weights (a model, or a weights file), with or without the mask."""
    model = seed_model(mask_zero)
    if isinstance(weights_of, Path):
        model.load_weights(str(weights_of))
    else:
        model.set_weights(weights_of.get_weights())
    return model


def nearest(model, word_index) -> None:
    table = model.layers[0].get_weights()[0]
    print("\n| word | nearest words after training (cosine similarity) |\n|---|---|")
    for word in PROBES:
        found = inspect.nearest_words(table, word_index, word, k=6, index_offset=3)
        print(f"| {word} | " + ", ".join(f"{w} ({s:.2f})" for w, s in found) + " |")


def rows_and_adam(model, x, y, plt) -> None:
    """One real batch: which rows it reads, which rows get a gradient, which rows Adam moves."""
    ids, labels = x[:BATCH], y[:BATCH]
    weights = model.trainable_weights
    table = model.layers[0].embeddings
    touched = inspect.rows_touched(ids, TOP_WORDS)
    review = ids[0]
    one_hot = np.eye(TOP_WORDS, dtype=np.float32)[review]
    difference = np.abs(one_hot @ table.data - table.data[review]).max()
    print(f"\none review: max |one_hot(ids) @ W - W[ids]| = {difference}")
    loss = model.loss(labels, model(ids, training=True)).mean()
    loss.backward()
    has_grad = np.abs(table.grad).sum(axis=1) > 0
    before = table.data.copy()
    model.optimizer.step(weights)
    for w in weights:
        w.zero_grad()
    moved = np.linalg.norm(table.data - before, axis=1)
    used = touched > 0
    print(f"batch of {BATCH}: {used.sum()} rows read, {has_grad.sum()} rows with a non-zero gradient "
          f"({np.count_nonzero(has_grad & ~used)} of them not read, {np.count_nonzero(used & ~has_grad)} read rows "
          f"with a gradient of exactly 0); Adam (step {model.optimizer.iterations}) moved "
          f"{np.count_nonzero(moved[used])} of them and {np.count_nonzero(moved[~used])} of the "
          f"{np.count_nonzero(~used)} rows the batch never read; median |row change| read "
          f"{np.median(moved[used]):.2e}, not read {np.median(moved[~used]):.2e}")
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    rows = np.arange(TOP_WORDS)
    left.scatter(rows[used], touched[used], s=6, c="tab:blue")
    left.set(xscale="symlog", yscale="log", xlabel="row (word id; 0 is padding)", ylabel="times read",
             title=f"rows_touched on one batch: {used.sum()} of {TOP_WORDS} rows read")
    right.scatter(rows[~used], moved[~used], s=4, c="tab:orange", label="not read by the batch", alpha=0.6)
    right.scatter(rows[used], moved[used], s=4, c="tab:blue", label="read by the batch")
    right.set(xscale="symlog", yscale="log", xlabel="row (word id)", ylabel="|row after - row before|",
              title="one Adam step: rows the batch never read move too")
    right.legend(loc="lower left", markerscale=3)
    figure.tight_layout()
    figure.savefig(HERE / "inside_rows_touched.png", dpi=110)


def words_then_padding(x_lists, padding: str) -> np.ndarray:
    """Reviews of at least WORDS_KEPT words, cut to their last WORDS_KEPT, padded to MAXLEN."""
    long_enough = [r for r in x_lists if len(r) >= WORDS_KEPT][:BATCH]
    return pad_sequences(pad_sequences(long_enough, maxlen=WORDS_KEPT), maxlen=MAXLEN, padding=padding)


def gradient_through_time(trained, masked, x_lists, y_lists, plt) -> None:
    full = [i for i, r in enumerate(x_lists) if len(r) >= MAXLEN][:BATCH]
    x_full, y_full = pad_sequences([x_lists[i] for i in full], maxlen=MAXLEN), y_lists[full]
    short = [i for i, r in enumerate(x_lists) if len(r) >= WORDS_KEPT][:BATCH]
    figure, axes = plt.subplots(1, 3, figsize=(14, 3.9), sharey=True)
    g = inspect.gradient_through_time(trained, x_full, y_full).mean(axis=0)
    axes[0].plot(np.where(g > 0, g, np.nan), c="k")
    axes[0].set(yscale="log", xlabel="step t (0: the first word read)", ylabel="mean |d loss / d e_t|",
                title=f"{len(full)} reviews of 500+ words, no padding")
    print("\nfull-length reviews: mean gradient at steps 0, 100, ..., 400, 499: "
          + ", ".join(f"{g[t]:.3g}" for t in (0, 100, 200, 300, 400, 499)))
    for axis, padding in zip(axes[1:], ("pre", "post")):
        x = words_then_padding([x_lists[i] for i in short], padding)
        words = np.arange(MAXLEN - WORDS_KEPT, MAXLEN) if padding == "pre" else np.arange(WORDS_KEPT)
        axis.axvspan(words[0], words[-1], color="0.92", zorder=0)
        for model, name, style in ((trained, "no mask", "-"), (masked, "mask_zero", "--")):
            g = inspect.gradient_through_time(model, x, y_lists[short]).mean(axis=0)
            axis.plot(np.where(g > 0, g, np.nan), style, lw=2 if style == "-" else 1.5, label=name)
            print(f"{WORDS_KEPT} words + padding, {padding}, {name}: mean gradient on the words {g[words].mean():.3g} "
                  f"(first word {g[words[0]]:.3g}, last {g[words[-1]]:.3g}), on the padding "
                  f"{np.delete(g, words).mean():.3g}; steps with exactly 0: {np.count_nonzero(g == 0)}")
        axis.set(yscale="log", xlabel="step t",
                 title=f"{padding}-padding: {WORDS_KEPT} words (shaded) + {MAXLEN - WORDS_KEPT} padding")
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(HERE / "inside_gradient_through_time.png", dpi=110)


def gates(trained, start, x_lists, plt) -> None:
    """Gate values per step (median and the 1%-99% band) before and after training, with the
    saturation thresholds; gate_saturation's fractions printed."""
    full = [r for r in x_lists if len(r) >= MAXLEN][:BATCH]
    x = pad_sequences(full, maxlen=MAXLEN)
    figure, axes = plt.subplots(1, 3, figsize=(14, 3.6), sharey=True)
    for model, when in ((trained, "trained"), (start, "initial")):
        values = inspect.gate_values(model, x)
        for axis, (gate, v) in zip(axes, values.items()):
            low, median, high = np.nanpercentile(v.reshape(len(v), -1), [1, 50, 99], axis=1)
            if when == "trained":
                axis.fill_between(np.arange(len(v)), low, high, color="tab:blue", alpha=0.3, lw=0)
                axis.plot(median, c="tab:blue", label="trained: median, 1%-99% band")
            else:  # drawn over the trained band, as lines: its band is narrower
                axis.plot(low, c="k", ls="--", lw=0.8, label="initial: 1% and 99%")
                axis.plot(high, c="k", ls="--", lw=0.8)
            axis.set(title=f"{gate} gate", xlabel="step t", ylim=(0, 1))
        saturated = inspect.gate_saturation(model, x)
        print(f"{when}: " + "; ".join(f"{gate} gate values {np.nanmin(v):.3f} to {np.nanmax(v):.3f}, saturated fraction "
                                      f"at most {np.nanmax(saturated[gate]):.4f}" for gate, v in values.items()))
    for axis in axes:
        for threshold in (0.05, 0.95):
            axis.axhline(threshold, c="tab:red", ls=":", lw=1)
    axes[0].set_ylabel("gate value (red: 0.05 and 0.95)")
    axes[0].legend(fontsize=8, loc="lower left")
    figure.tight_layout()
    figure.savefig(HERE / "inside_gate_saturation.png", dpi=110)


def graph(trained, x, y) -> None:
    loss = trained.loss(y[:2], trained(x[:2], training=True)).mean()
    drawing = viz.draw(loss, inspect.named_weights(trained))
    loss.backward()
    drawing.save(HERE / "inside_graph.svg")
    for w in trained.trainable_weights:
        w.zero_grad()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=imdb.cache_dir() / "inside-a-training-run")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-samples", type=int, default=25000, help="train on the first N reviews")
    args = parser.parse_args()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    args.work.mkdir(parents=True, exist_ok=True)
    (x_lists, y_train), (test_lists, y_test) = imdb.load_data(num_words=TOP_WORDS)
    x_train = pad_sequences(x_lists, maxlen=MAXLEN)
    trained, history, initial_weights = train(x_train[:args.train_samples], y_train[:args.train_samples],
                                              args.epochs, args.work)
    _, accuracy = trained.evaluate(pad_sequences(test_lists[:5000], maxlen=MAXLEN), y_test[:5000], verbose=0)
    print(f"training loss by epoch {np.round(history['loss'], 4).tolist()}; accuracy on the first 5,000 test "
          f"reviews {accuracy:.4f}")
    GradientStats.plot(history, window=20).savefig(HERE / "inside_gradient_stats.png", dpi=110)
    ratios = {k: np.median(v[-50:]) for k, v in history.items() if k.startswith("update_ratio/")}
    print("median update ratio over the last 50 steps: " + ", ".join(f"{k[13:]} {v:.2e}" for k, v in ratios.items()))
    word_index = imdb.get_word_index()
    print(f"\nthe first training review: {imdb.decode_review(x_lists[0][:30], word_index=word_index)} ...")
    nearest(trained, word_index)
    gradient_through_time(trained, with_weights(trained, mask_zero=True), x_lists, y_train, plt)
    gates(trained, with_weights(initial_weights), x_lists, plt)
    graph(trained, x_train, y_train)
    rows_and_adam(trained, x_train, y_train, plt)  # last: its Adam step changes the model
    print(f"figures written to {HERE}")


if __name__ == "__main__":
    shared = HERE.parents[2] / "shared" / "data" / "aclImdb_v1.tar.gz"  # as `make example`: the copy beside us
    if shared.exists():
        os.environ.setdefault("TINYGRAD_EMBED_IMDB", str(shared))
    main()
