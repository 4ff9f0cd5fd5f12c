"""Seconds per training step of the seed model through the public `model.fit`, the path `make example`
takes: the layers, the training loop and its callbacks, not only the maths. Run it against two
checkouts to see whether a change to the front end costs speed:

    python benchmarks/bench_fit.py [--steps 40] [--repeats 5] [--mask-zero]
    PYTHONPATH=/path/to/other/checkout python benchmarks/bench_fit.py ...

Embedding(5000, 32) -> LSTM(100) -> Dense(1, sigmoid), Adam, batch 64 x 500, IMDB-like pre-padded
lengths (mean about 200). Prints the median step time over `repeats` fits of `steps` steps, each
timed from the first batch's start to the last batch's end, after a warm-up fit.
"""
import argparse
import time

import numpy as np

import tinygrad_embed
from tinygrad_embed.callbacks import Callback
from tinygrad_embed.layers import LSTM, Dense, Embedding
from tinygrad_embed.models import Sequential
from tinygrad_embed.utils import set_random_seed

VOCAB, BATCH, STEPS = 5000, 64, 500


class StepClock(Callback):
    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0:
            self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.end = time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--mask-zero", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    lengths = np.clip(rng.gamma(2.0, 100.0, BATCH * args.steps).astype(int) + 5, 5, STEPS)
    x = np.zeros((BATCH * args.steps, STEPS), np.int64)
    for row, n in enumerate(lengths):
        x[row, STEPS - n:] = rng.integers(1, VOCAB, n)
    y = rng.integers(0, 2, len(x))
    set_random_seed(0)
    model = Sequential([Embedding(VOCAB, 32, input_length=STEPS, mask_zero=args.mask_zero), LSTM(100),
                        Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    clock = StepClock()
    model.fit(x[:BATCH * 10], y[:BATCH * 10], batch_size=BATCH, epochs=1, verbose=0)  # warm-up: >3 s of work
    per_step = []
    for _ in range(args.repeats):
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[clock])
        per_step.append((clock.end - clock.start) / args.steps)
    print(f"{tinygrad_embed.__file__}: mask_zero={args.mask_zero}, {args.steps} steps x {args.repeats} fits: "
          f"median {1000 * np.median(per_step):.1f} ms per step (min {1000 * min(per_step):.1f}, "
          f"max {1000 * max(per_step):.1f})")


if __name__ == "__main__":
    main()
