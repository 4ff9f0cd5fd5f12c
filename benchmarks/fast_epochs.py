"""How many epochs `examples/imdb_lstm.py --fast` should train, chosen on validation alone (never on the
test reviews): its model and pipeline trained on the first 22,500 training reviews, validated after each
epoch on the last 2,500 (the split `validation_split=0.1` takes), one process per seed.

    TINYGRAD_EMBED_IMDB=../shared/data/aclImdb_v1.tar.gz python benchmarks/fast_epochs.py [--seeds 1 2 3] [--epochs 5] \
        [--maxlen 500]      (0: whole reviews, what --fast trains on)

Prints each seed's validation loss and accuracy per epoch, then per epoch the medians over the seeds.
"""
import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from common import cpu_name

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))


def worker(seed: int, epochs: int, maxlen: int | None) -> None:
    from length_batches import LengthBatches

    from tinygrad_embed.datasets import imdb
    from tinygrad_embed.layers import LSTM, Dense, Embedding, Input
    from tinygrad_embed.models import Sequential
    from tinygrad_embed.utils import set_random_seed
    set_random_seed(seed)  # as the example: the seed first, then the data and the model
    (x_train, y_train), _ = imdb.load_data(num_words=5000)  # the test reviews are not looked at
    train = LengthBatches(x_train[:22500], y_train[:22500], batch_size=64, maxlen=maxlen, seed=seed)
    held_out = LengthBatches(x_train[22500:], y_train[22500:], batch_size=64, maxlen=maxlen, shuffle=False)
    model = Sequential([Input(shape=(None,)), Embedding(5000, 32, mask_zero=True), LSTM(100),
                        Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(train, validation_data=held_out, epochs=epochs, verbose=0).history
    print(json.dumps({"val_loss": history["val_loss"], "val_accuracy": history["val_accuracy"]}))


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        return worker(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]) or None)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--maxlen", type=int, default=0, help="cut reviews to their last MAXLEN words; 0: whole")
    args = parser.parse_args()
    print(f"CPU: {cpu_name()}", flush=True)
    runs = []
    for seed in args.seeds:
        result = subprocess.run([sys.executable, __file__, "--worker", str(seed), str(args.epochs), str(args.maxlen)],
                                capture_output=True, text=True, check=True)
        runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
        print(f"seed {seed}: validation loss " + ", ".join(f"{v:.4f}" for v in runs[-1]["val_loss"])
              + "; accuracy " + ", ".join(f"{v:.4f}" for v in runs[-1]["val_accuracy"]), flush=True)
    for epoch in range(args.epochs):
        loss = statistics.median(run["val_loss"][epoch] for run in runs)
        accuracy = statistics.median(run["val_accuracy"][epoch] for run in runs)
        print(f"epoch {epoch + 1}: median validation loss {loss:.4f}, accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
