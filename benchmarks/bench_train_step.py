"""One training step (forward, backward, Adam) of the seed model, ours against PyTorch's (CPU).

Embedding(5000, 32) -> LSTM(100) -> Dense(1, sigmoid), binary cross-entropy, Adam, batch 64 x 500,
float32. Line 1: every step real (dense). Line 2: mask_zero=True on batches with IMDB-like lengths
(mean about 200 of 500, pre-padded), against PyTorch with pack_padded_sequence. Runs alternate
A B A B in one process; medians of --pairs pairs.

    python benchmarks/bench_train_step.py [--pairs 7]     (needs the `bench` extra for PyTorch)
"""
import argparse
import time

import numpy as np

from common import torch_or_none
from tinygrad_embed import losses
from tinygrad_embed.layers import LSTM, Dense, Embedding
from tinygrad_embed.optimizers import Adam
from tinygrad_embed.utils import set_random_seed

VOCAB, DIM, UNITS, BATCH, STEPS = 5000, 32, 100, 64, 500
# Matrix work of one step: forward x W and h U; backward dz U^T, dW, dU, dx, each 2 * rows * 4u * k.
STEP_FLOP = 2 * BATCH * STEPS * 4 * UNITS * 3 * (DIM + UNITS)


def imdb_like_batch(rng, masked):
    lengths = np.clip(rng.gamma(2.0, 100.0, BATCH).astype(int) + 5, 5, STEPS) if masked else np.full(BATCH, STEPS)
    ids = np.zeros((BATCH, STEPS), np.int64)
    for row, n in enumerate(lengths):  # pre-padding, as Keras's pad_sequences
        ids[row, STEPS - n:] = rng.integers(1, VOCAB, n)
    return ids, lengths, rng.integers(0, 2, BATCH).astype(np.float32)


def ours(masked):
    set_random_seed(0)
    layers = [Embedding(VOCAB, DIM, mask_zero=masked), LSTM(UNITS), Dense(1, activation="sigmoid")]
    optimizer = Adam()

    def step(ids, labels):
        x = ids
        for layer in layers:
            x = layer(x)
        loss = losses.binary_crossentropy(labels, x).mean()
        loss.backward()
        weights = [w for layer in layers for w in layer.trainable_weights]
        optimizer.step(weights)
        for w in weights:
            w.zero_grad()
    return step


def pytorch(torch, masked):
    torch.manual_seed(0)
    embedding, lstm = torch.nn.Embedding(VOCAB, DIM), torch.nn.LSTM(DIM, UNITS, batch_first=True)
    head = torch.nn.Linear(UNITS, 1)
    parameters = [*embedding.parameters(), *lstm.parameters(), *head.parameters()]
    optimizer, loss_fn = torch.optim.Adam(parameters, lr=0.001), torch.nn.BCEWithLogitsLoss()

    def step(ids, lengths, labels):
        optimizer.zero_grad()
        if masked:  # the same tokens, moved to the front, packed so that padding costs nothing
            front = np.zeros_like(ids)
            for row, n in enumerate(lengths):
                front[row, :n] = ids[row, STEPS - n:]
            packed = torch.nn.utils.rnn.pack_padded_sequence(
                embedding(torch.from_numpy(front)), torch.from_numpy(lengths), batch_first=True, enforce_sorted=False)
            _, (h, _) = lstm(packed)
        else:
            _, (h, _) = lstm(embedding(torch.from_numpy(ids)))
        loss = loss_fn(head(h[0])[:, 0], torch.from_numpy(labels))
        loss.backward()
        optimizer.step()
    return step


def matmul_peak_gflops():
    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
    best = min(_seconds(lambda: a @ a) for _ in range(3))
    return 2 * 2048 ** 3 / best / 1e9


def _seconds(run):
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=7)
    args = parser.parse_args()
    torch = torch_or_none()
    if torch is not None:
        torch.set_num_threads(2)
    peak = matmul_peak_gflops()
    print(f"matrix-multiply peak here (float32 2048^3): {peak:.0f} GFLOP/s")
    for masked in (False, True):
        rng = np.random.default_rng(1)
        batches = [imdb_like_batch(rng, masked) for _ in range(args.pairs + 1)]
        our_step = ours(masked)
        their_step = pytorch(torch, masked) if torch is not None else None
        our_times, their_times = [], []
        for i, (ids, lengths, labels) in enumerate(batches):  # the first pair warms up (numba compiles)
            our_time = _seconds(lambda: our_step(ids, labels))
            their_time = _seconds(lambda: their_step(ids, lengths, labels)) if their_step else float("nan")
            if i:
                our_times.append(our_time)
                their_times.append(their_time)
        ours_ms, theirs_ms = 1e3 * np.median(our_times), 1e3 * np.median(their_times)
        real = np.mean([(ids != 0).mean() for ids, _, _ in batches])
        label = f"masked, {real:.0%} of steps real" if masked else "dense"
        flop_rate = STEP_FLOP * (real if masked else 1) / (ours_ms / 1e3) / 1e9
        print(f"train step, {label}: tinygrad_embed {ours_ms:.1f} ms, PyTorch {theirs_ms:.1f} ms, "
              f"ratio {ours_ms / theirs_ms:.2f}; ours {flop_rate:.0f} GFLOP/s = {flop_rate / peak:.0%} of peak "
              f"(medians of {args.pairs} interleaved pairs)")


if __name__ == "__main__":
    main()
