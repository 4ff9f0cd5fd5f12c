"""The classic Keras IMDB sentiment model, trained as in the question that started this project:
top 5,000 words, reviews padded or cut to 500 ("pre", as Keras), Embedding(5000, 32), LSTM(100),
Dense(1, sigmoid), binary cross-entropy, Adam, batch 64, 3 epochs.

    python examples/imdb_lstm.py [--epochs 3] [--mask-zero] [--seed 7] [--plot DIR] [--save FILE]
    python examples/imdb_lstm.py --recipe best [--seed 7]
    python examples/imdb_lstm.py --fast [--seed 7]

`--fast` trains the same model (with mask_zero=True and no fixed input length) for the same 3 epochs on
batches of reviews of similar length, each padded only to its own longest (examples/length_batches.py, a
PyDataset), the reviews whole rather than cut to 500 words, each gradient's norm clipped to 1 (Adam's
clipnorm), the learning rate halved after each epoch (1e-3, 5e-4, 2.5e-4: LearningRateScheduler), evaluates
on the test reviews batched the same way (256 to a batch), and prints the seconds from the start of the
script to the final accuracy. It watches no validation figures: nothing would be chosen by
them (benchmarks/fast_epochs.py and fast_optimizer.py judged the epoch count, whole reviews, the clipping and
the learning rates on held-out training reviews).

`--recipe best` keeps the model (with mask_zero=True) and changes only how it is trained: the last 10%
of the training reviews are held out for validation, the learning rate halves after an epoch whose
validation loss does not improve (ReduceLROnPlateau), and training stops after three such epochs in a
row, putting back the weights of the epoch with the lowest validation loss (EarlyStopping with
restore_best_weights). The test reviews are used once, for the final line.

The dataset comes from TINYGRAD_EMBED_IMDB, the cache, or a download (tinygrad_embed/datasets/imdb.py);
`make example` points TINYGRAD_EMBED_IMDB at ../shared/data/aclImdb_v1.tar.gz when it exists.
In the seed recipe, validation figures each epoch come from the first 5,000 test reviews (for
watching only: nothing is chosen by them); the final line is the accuracy on all 25,000 test reviews.
"""
import time

START = time.perf_counter()  # --fast reports the wall time from here: imports and loading count

import argparse
from pathlib import Path

import numpy as np

from tinygrad_embed.callbacks import Callback, EarlyStopping, LearningRateScheduler, ReduceLROnPlateau
from tinygrad_embed.datasets import imdb
from tinygrad_embed.layers import LSTM, Dense, Embedding, Input
from tinygrad_embed.models import Sequential
from tinygrad_embed.optimizers import Adam
from tinygrad_embed.preprocessing import sequence
from tinygrad_embed.utils import set_random_seed

SENTIMENT_WORDS = ["great", "excellent", "best", "wonderful", "loved", "perfect",
                   "awful", "boring", "worst", "terrible", "waste", "poor"]


class EpochTimer(Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", choices=["seed", "best"], default="seed",
                        help="seed: the tutorial's 3 epochs; best: validation split, ReduceLROnPlateau, EarlyStopping")
    parser.add_argument("--epochs", type=int, default=None, help="default: 3 (seed recipe), at most 20 (best)")
    parser.add_argument("--fast", action="store_true",
                        help="mask_zero=True on batches of reviews of similar length (length_batches.py)")
    parser.add_argument("--mask-zero", action="store_true", help="skip the padding (Embedding(mask_zero=True))")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--plot", metavar="DIR", help="write training curves and an embedding projection (PNG) here")
    parser.add_argument("--save", metavar="FILE", help="save the trained model here (.npz, .keras or .h5)")
    parser.add_argument("--train-samples", type=int, default=None, help="train on the first N reviews only (quick runs)")
    args = parser.parse_args()
    if args.fast and (args.recipe != "seed" or args.plot):
        parser.error("--fast has its own recipe and no validation curves to plot")

    set_random_seed(args.seed)
    if args.fast:
        return fast(args)
    top_words, max_review_length, embedding_vecor_length = 5000, 500, 32
    start = time.perf_counter()
    (X_train, y_train), (X_test, y_test) = imdb.load_data(num_words=top_words)
    X_train = sequence.pad_sequences(X_train, maxlen=max_review_length)
    X_test = sequence.pad_sequences(X_test, maxlen=max_review_length)
    if args.train_samples:
        X_train, y_train = X_train[:args.train_samples], y_train[:args.train_samples]
    print(f"loaded and padded {len(X_train) + len(X_test):,} reviews in {time.perf_counter() - start:.1f} s")

    best = args.recipe == "best"
    model = Sequential()
    model.add(Embedding(top_words, embedding_vecor_length, input_length=max_review_length,
                        mask_zero=args.mask_zero or best))
    model.add(LSTM(100))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.summary()
    timer = EpochTimer()
    if best:
        callbacks = [timer, ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_lr=1e-5, verbose=1),
                     EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True, verbose=1)]
        history = model.fit(X_train, y_train, epochs=args.epochs or 20, batch_size=64, validation_split=0.1,
                            callbacks=callbacks)
    else:
        history = model.fit(X_train, y_train, epochs=args.epochs or 3, batch_size=64,
                            validation_data=(X_test[:5000], y_test[:5000]), callbacks=[timer])
    print("seconds per epoch (training and validation): " + ", ".join(f"{s:.1f}" for s in timer.seconds))
    loss, accuracy = model.evaluate(X_test, y_test, batch_size=64, verbose=0)
    print(f"test loss: {loss:.4f}")
    print(f"test accuracy: {accuracy:.4f}")
    if args.save:
        model.save(args.save)
        print(f"saved the model to {args.save}")
    if args.plot:
        plot(history.history, model.layers[0].get_weights()[0], Path(args.plot))


def fast(args: argparse.Namespace) -> None:
    """The seed model, mask_zero=True, on batches of reviews of similar length (length_batches.py)."""
    from length_batches import LengthBatches  # beside this file: python puts examples/ on the path

    (X_train, y_train), (X_test, y_test) = imdb.load_data(num_words=5000)
    if args.train_samples:
        X_train, y_train = X_train[:args.train_samples], y_train[:args.train_samples]
    # whole reviews (8% are longer than 500 words): 7% more steps, chosen on validation (benchmarks/fast_epochs.py)
    train = LengthBatches(X_train, y_train, batch_size=64, maxlen=None, seed=args.seed)
    # evaluation keeps no gradient, so bigger blocks of rows are free memory-wise and use BLAS better
    test = LengthBatches(X_test, y_test, batch_size=256, maxlen=None, shuffle=False)
    print(f"loaded {len(X_train) + len(X_test):,} reviews in {time.perf_counter() - START:.1f} s from the start; "
          f"padding: {train.padding_fraction():.1%} of the training steps (padded to 500: "
          f"{1 - np.minimum(train.lengths, 500).mean() / 500:.1%})")
    model = Sequential([Input(shape=(None,)), Embedding(5000, 32, mask_zero=True), LSTM(100),
                        Dense(1, activation="sigmoid")])
    # each gradient's norm clipped to 1 (Keras's clipnorm): without it, some runs' validation accuracy
    # collapsed for an epoch (0.75); chosen on validation alone (benchmarks/fast_optimizer.py)
    model.compile(loss="binary_crossentropy", optimizer=Adam(clipnorm=1.0), metrics=["accuracy"])
    model.summary()  # (None, None, 32): any batch width
    timer = EpochTimer()
    # Adam's default rate, halved after each epoch: on held-out reviews the third epoch's median accuracy rose
    # from 0.857 to 0.881 (benchmarks/fast_optimizer.py), chosen on validation alone
    halving = LearningRateScheduler(lambda epoch: 1e-3 * 0.5 ** epoch)
    model.fit(train, epochs=args.epochs or 3, callbacks=[timer, halving], verbose=2)
    print("seconds per epoch (training): " + ", ".join(f"{s:.1f}" for s in timer.seconds))
    loss, accuracy = model.evaluate(test, verbose=0)
    print(f"total seconds from the start of the script: {time.perf_counter() - START:.1f}")
    print(f"test loss: {loss:.4f}")
    print(f"test accuracy: {accuracy:.4f}")
    if args.save:
        model.save(args.save)
        print(f"saved the model to {args.save}")


def plot(history: dict, table: np.ndarray, directory: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    epochs = np.arange(1, len(history["loss"]) + 1)
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for axis, metric in zip(axes, ("loss", "accuracy")):
        axis.plot(epochs, history[metric], "o-", label="training")
        axis.plot(epochs, history[f"val_{metric}"], "s--", label="validation")
        axis.set(xlabel="epoch", ylabel=metric, xticks=epochs, title=metric)
        axis.legend()
    figure.tight_layout()
    figure.savefig(directory / "imdb_training_curves.png", dpi=120)

    index = imdb.get_word_index()
    words = [w for w in SENTIMENT_WORDS if index[w] + 3 < len(table)]  # load_data's ids: rank + 3
    vectors = table[[index[w] + 3 for w in words]]
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)  # PCA: the two main directions
    points = centred @ components[:2].T
    figure, axis = plt.subplots(figsize=(5.5, 4.5))
    positive = set(SENTIMENT_WORDS[:6])
    for word, (px, py) in zip(words, points):
        axis.scatter(px, py, c="tab:green" if word in positive else "tab:red")
        axis.annotate(word, (px, py), textcoords="offset points", xytext=(4, 4))
    axis.set(title="Learned embeddings of sentiment words (PCA)", xlabel="component 1", ylabel="component 2")
    figure.tight_layout()
    figure.savefig(directory / "imdb_embedding_pca.png", dpi=120)
    print(f"wrote {directory / 'imdb_training_curves.png'} and {directory / 'imdb_embedding_pca.png'}")


if __name__ == "__main__":
    main()
