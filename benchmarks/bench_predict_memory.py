"""Peak memory and time of `predict` on 25,000 reviews with the seed model.

Embedding(5000, 32) -> LSTM(100) -> Dense(1, sigmoid), float32, batch 64, random word ids pre-padded
to 500 (as pad_sequences) with IMDB-like lengths (mean about 230 words after the cut at 500). The peak
is what tracemalloc traced during predict: numpy reports its array buffers to tracemalloc, so this is
the most memory predict held at once, above what existed before (the model and the ids). The same for
predict on one batch shows what the forward pass itself holds, apart from anything predict does with
the whole input. Time comes from a separate run without tracemalloc, which slows allocations down.

    python benchmarks/bench_predict_memory.py [--mask-zero] [--reviews 25000]
"""
import argparse
import time
import tracemalloc

import numpy as np

from tinygrad_embed.layers import LSTM, Dense, Embedding
from tinygrad_embed.models import Sequential
from tinygrad_embed.utils import set_random_seed

VOCAB, DIM, UNITS, STEPS, BATCH = 5000, 32, 100, 500, 64


def imdb_like_reviews(count, rng):
    """Word ids 1..4999, pre-padded with 0 to 500 steps. Lengths: a gamma law fitted by eye to IMDB's
    (long right tail), cut at 500 as the model's maxlen does."""
    lengths = np.clip(rng.gamma(2.0, 125.0, count).astype(int), 1, STEPS)
    ids = np.zeros((count, STEPS), np.int32)
    for row, n in enumerate(lengths):
        ids[row, STEPS - n:] = rng.integers(1, VOCAB, n)
    return ids, lengths


def peak_traced_memory(run):
    """The most memory that run() held at once (bytes, as tracemalloc traced it), and its result."""
    tracemalloc.start()
    try:
        result = run()
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=25_000)
    parser.add_argument("--mask-zero", action="store_true", help="Embedding(mask_zero=True): the LSTM skips padding")
    args = parser.parse_args()
    set_random_seed(0)
    ids, lengths = imdb_like_reviews(args.reviews, np.random.default_rng(1))
    model = Sequential([Embedding(VOCAB, DIM, input_length=STEPS, mask_zero=args.mask_zero), LSTM(UNITS),
                        Dense(1, activation="sigmoid")])
    model.predict(ids[:BATCH], batch_size=BATCH)  # builds the weights; numba loads its kernels

    start = time.perf_counter()
    predictions = model.predict(ids, batch_size=BATCH)
    seconds = time.perf_counter() - start

    peak, traced = peak_traced_memory(lambda: model.predict(ids, batch_size=BATCH))
    assert np.array_equal(traced, predictions)
    batch_peak, _ = peak_traced_memory(lambda: model.predict(ids[:BATCH], batch_size=BATCH))

    print(f"predict on {args.reviews:,} reviews of {STEPS} steps (mean length {lengths.mean():.0f}), "
          f"batch {BATCH}, mask_zero={args.mask_zero}:")
    print(f"  peak traced memory {peak / 2 ** 20:.1f} MiB (predict on one batch: {batch_peak / 2 ** 20:.1f} MiB), "
          f"wall time {seconds:.1f} s "
          f"({1e3 * seconds / -(-args.reviews // BATCH):.1f} ms per batch)")


if __name__ == "__main__":
    main()
