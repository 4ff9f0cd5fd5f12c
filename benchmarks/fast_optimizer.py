"""How `examples/imdb_lstm.py --fast` should set up Adam: whether to clip each gradient's norm (clipnorm=1.0),
which learning rate each epoch (LearningRateScheduler), and whether to keep the epoch with the best validation
loss (EarlyStopping(restore_best_weights=True)), judged on held-out training reviews alone (never the test
reviews). One process per seed and arm (a clipnorm and a schedule): `--fast`'s model and pipeline trained
on the first 20,000 training reviews for --epochs epochs; after each epoch, validation A (reviews
20,000-22,500, what EarlyStopping would watch) and validation B (22,500-25,000, which judges each procedure
without having chosen anything).

    TINYGRAD_EMBED_IMDB=../shared/data/aclImdb_v1.tar.gz python benchmarks/fast_optimizer.py [--seeds 1 2 3 4 5] \
        [--epochs 4] [--clipnorms 0 1.0] [--schedules 1e-3 1e-3,5e-4,2.5e-4]

--clipnorms: 0 is no clipping. --schedules: each a comma-separated learning rate per epoch (the last one holds
for the epochs after it); 1e-3 alone is Adam's default throughout.

Prints each run's figures per epoch, then for each arm the accuracy on B of: the third and the last epoch,
and the epoch of lowest loss on A among the first three and among all.
"""
import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from common import cpu_name

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))


def worker(seed: int, epochs: int, clipnorm: float, schedule: str) -> None:
    from length_batches import LengthBatches

    from tinygrad_embed.callbacks import Callback, LearningRateScheduler
    from tinygrad_embed.datasets import imdb
    from tinygrad_embed.layers import LSTM, Dense, Embedding, Input
    from tinygrad_embed.models import Sequential
    from tinygrad_embed.optimizers import Adam
    from tinygrad_embed.utils import set_random_seed
    set_random_seed(seed)  # as the example: the seed first, then the data and the model
    (x, y), _ = imdb.load_data(num_words=5000)  # the test reviews are not looked at
    train = LengthBatches(x[:20000], y[:20000], batch_size=64, maxlen=None, seed=seed)
    held_a = LengthBatches(x[20000:22500], y[20000:22500], batch_size=256, maxlen=None, shuffle=False)
    held_b = LengthBatches(x[22500:], y[22500:], batch_size=256, maxlen=None, shuffle=False)
    model = Sequential([Input(shape=(None,)), Embedding(5000, 32, mask_zero=True), LSTM(100),
                        Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=Adam(clipnorm=clipnorm or None), metrics=["accuracy"])
    on_b = {"b_loss": [], "b_accuracy": []}

    class ValidationB(Callback):
        def on_epoch_end(self, epoch, logs=None):
            loss, accuracy = self.model.evaluate(held_b, verbose=0)
            on_b["b_loss"].append(loss)
            on_b["b_accuracy"].append(accuracy)

    rates = [float(rate) for rate in schedule.split(",")]
    scheduler = LearningRateScheduler(lambda epoch: rates[min(epoch, len(rates) - 1)])
    history = model.fit(train, validation_data=held_a, epochs=epochs, verbose=0,
                        callbacks=[scheduler, ValidationB()]).history
    print(json.dumps({"a_loss": history["val_loss"], "a_accuracy": history["val_accuracy"], **on_b}))


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        return worker(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--clipnorms", type=float, nargs="+", default=[0.0, 1.0])
    parser.add_argument("--schedules", nargs="+", default=["1e-3"])
    args = parser.parse_args()
    print(f"CPU: {cpu_name()}", flush=True)
    runs = {}
    arms = [(clipnorm, schedule) for clipnorm in args.clipnorms for schedule in args.schedules]
    for seed in args.seeds:
        for clipnorm, schedule in arms:
            result = subprocess.run([sys.executable, __file__, "--worker", str(seed), str(args.epochs), str(clipnorm),
                                     schedule], capture_output=True, text=True, check=True)
            run = runs[seed, clipnorm, schedule] = json.loads(result.stdout.strip().splitlines()[-1])
            print(f"seed {seed}, clipnorm {clipnorm or 'none'}, rates {schedule}: " + "; ".join(
                f"{key} " + ", ".join(f"{v:.4f}" for v in run[key]) for key in run), flush=True)
    picks = {"epoch 3": lambda run: 2, f"epoch {args.epochs}": lambda run: args.epochs - 1,
             "best of 3 on A": lambda run: min(range(3), key=run["a_loss"].__getitem__),
             f"best of {args.epochs} on A": lambda run: min(range(args.epochs), key=run["a_loss"].__getitem__)}
    for clipnorm, schedule in arms:
        for name, pick in picks.items():
            accuracies = [runs[seed, clipnorm, schedule]["b_accuracy"][pick(runs[seed, clipnorm, schedule])]
                          for seed in args.seeds]
            print(f"clipnorm {clipnorm or 'none'}, rates {schedule}, {name}: accuracy on B "
                  + ", ".join(f"{a:.4f}" for a in accuracies)
                  + f"; median {statistics.median(accuracies):.4f}, lowest {min(accuracies):.4f}")


if __name__ == "__main__":
    main()
