"""Three text models from the Keras tutorials, trained on IMDB: each prints its test accuracy and its
seconds per epoch.

- fasttext: Embedding -> GlobalAveragePooling1D -> Dense (TensorFlow's movie-review tutorial, fastText's
  idea: the mean of the word vectors), Adam.
- cnn_lstm: Embedding -> Dropout -> Conv1D -> MaxPooling1D -> LSTM -> Dense (the CNN-LSTM of the
  sequence-classification tutorials: the convolution halves the steps the LSTM walks), Adam.
- flatten: Embedding -> Flatten -> Dense (the word-embedding chapter of "Deep Learning with Python":
  one weight per word position and dimension), RMSprop, Keras's default optimizer.

All read the top 5,000 words, padded or cut to 500 ("pre"), batch 64. The epochs per model are in
MODELS; nothing here was tuned on the test set.

    python examples/text_models.py [--model fasttext|cnn_lstm|flatten|all] [--seed 1] [--epochs N]

The dataset comes from TINYGRAD_EMBED_IMDB, the cache or a download, as in examples/imdb_lstm.py.
"""
import argparse

from imdb_lstm import EpochTimer  # the per-epoch clock of the seed example (this script's folder is on sys.path)
from tinygrad_embed.datasets import imdb
from tinygrad_embed.layers import (LSTM, Conv1D, Dense, Dropout, Embedding, Flatten, GlobalAveragePooling1D,
                                   MaxPooling1D)
from tinygrad_embed.models import Sequential
from tinygrad_embed.preprocessing import sequence
from tinygrad_embed.utils import set_random_seed

TOP_WORDS, MAX_LENGTH, BATCH = 5000, 500, 64


def fasttext() -> Sequential:
    return Sequential([Embedding(TOP_WORDS, 32, input_length=MAX_LENGTH), GlobalAveragePooling1D(),
                       Dense(1, activation="sigmoid")])


def cnn_lstm() -> Sequential:
    return Sequential([Embedding(TOP_WORDS, 32, input_length=MAX_LENGTH), Dropout(0.2),
                       Conv1D(32, 3, padding="same", activation="relu"), MaxPooling1D(2),
                       LSTM(100), Dense(1, activation="sigmoid")])


def flatten() -> Sequential:
    return Sequential([Embedding(TOP_WORDS, 32, input_length=MAX_LENGTH), Flatten(), Dense(1, activation="sigmoid")])


MODELS = {"fasttext": (fasttext, "adam", 10), "cnn_lstm": (cnn_lstm, "adam", 3), "flatten": (flatten, "rmsprop", 3)}


def train(name: str, data: tuple, seed: int, epochs: int | None) -> None:
    (x_train, y_train), (x_test, y_test) = data
    build, optimizer, default_epochs = MODELS[name]
    set_random_seed(seed)
    model = build()
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    timer = EpochTimer()
    model.fit(x_train, y_train, epochs=epochs or default_epochs, batch_size=BATCH, callbacks=[timer], verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, batch_size=BATCH, verbose=0)
    print(f"{name}: test accuracy {accuracy:.4f} (loss {loss:.4f}); seconds per epoch, {len(timer.seconds)} epochs: "
          + ", ".join(f"{s:.1f}" for s in timer.seconds), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=[*MODELS, "all"], default="all")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=None, help="override every model's number of epochs")
    args = parser.parse_args()
    (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=TOP_WORDS)
    data = ((sequence.pad_sequences(x_train, maxlen=MAX_LENGTH), y_train),
            (sequence.pad_sequences(x_test, maxlen=MAX_LENGTH), y_test))
    for name in MODELS if args.model == "all" else [args.model]:
        train(name, data, args.seed, args.epochs)


if __name__ == "__main__":
    main()
