"""The recurrent variants of the Keras IMDB examples, each trained as the seed model is (top 5,000 words,
reviews padded or cut to 500 "pre", Embedding(5000, 32), Adam, batch 64, 3 epochs), printing its test
accuracy and seconds per epoch:

- bilstm: Bidirectional(LSTM(64))            (Keras's imdb_bidirectional_lstm example)
- gru: GRU(100)
- stacked: LSTM(100, return_sequences=True) -> LSTM(100)
- dropout: LSTM(100, dropout=0.2, recurrent_dropout=0.2)

    python examples/imdb_recurrent.py [--model bilstm|gru|stacked|dropout|all] [--seed 1] [--epochs 3]

The dataset comes from TINYGRAD_EMBED_IMDB, the cache or a download, as in examples/imdb_lstm.py.
"""
import argparse

from imdb_lstm import EpochTimer  # the per-epoch clock of the seed example (this script's folder is on sys.path)
from tinygrad_embed.datasets import imdb
from tinygrad_embed.layers import GRU, LSTM, Bidirectional, Dense, Embedding
from tinygrad_embed.models import Sequential
from tinygrad_embed.preprocessing import sequence
from tinygrad_embed.utils import set_random_seed

TOP_WORDS, MAX_LENGTH, BATCH = 5000, 500, 64
RECURRENT = {
    "bilstm": lambda: [Bidirectional(LSTM(64))],
    "gru": lambda: [GRU(100)],
    "stacked": lambda: [LSTM(100, return_sequences=True), LSTM(100)],
    "dropout": lambda: [LSTM(100, dropout=0.2, recurrent_dropout=0.2)],
}


def train(name: str, data: tuple, seed: int, epochs: int) -> None:
    (x_train, y_train), (x_test, y_test) = data
    set_random_seed(seed)
    model = Sequential([Embedding(TOP_WORDS, 32, input_length=MAX_LENGTH), *RECURRENT[name](),
                        Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    timer = EpochTimer()
    model.fit(x_train, y_train, epochs=epochs, batch_size=BATCH, callbacks=[timer], verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, batch_size=BATCH, verbose=0)
    print(f"{name}: test accuracy {accuracy:.4f} (loss {loss:.4f}); seconds per epoch, {len(timer.seconds)} epochs: "
          + ", ".join(f"{s:.1f}" for s in timer.seconds), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=[*RECURRENT, "all"], default="all")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=TOP_WORDS)
    data = ((sequence.pad_sequences(x_train, maxlen=MAX_LENGTH), y_train),
            (sequence.pad_sequences(x_test, maxlen=MAX_LENGTH), y_test))
    for name in RECURRENT if args.model == "all" else [args.model]:
        train(name, data, args.seed, args.epochs)


if __name__ == "__main__":
    main()
