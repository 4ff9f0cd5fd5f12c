"""One training step of the seed model, ours against PyTorch and Keras 3 on TensorFlow (CPU).

Embedding(5000, 32) -> LSTM(100) -> Dense(1, sigmoid), binary cross-entropy, Adam, batch 64 x 500 steps,
float32; one step = forward, backward and the Adam update. Two cases:
  dense    every step real
  masked   mask_zero=True on batches with IMDB-like lengths (mean about 200 of 500, pre-padded as Keras's
           pad_sequences does); PyTorch moves each row's tokens to the front and packs them
           (pack_padded_sequence, the moving included in its step), so that padding costs it nothing
Ours and Keras train through model.train_on_batch; PyTorch through its usual loop, with the sigmoid folded
into BCEWithLogitsLoss. Each framework runs in a worker process of its own, which builds its model and warms
up for --warmup-seconds of real steps (one worker at a time: compilation, allocation, the CPU ramping up);
then the parent asks the workers for one timed step each in turn, rotating the order every round (A B C,
B C A, ...), over --pairs rounds, on the same fixed batches in the same order, and reports medians. Every
framework gets --threads threads (BLAS, OpenMP, PyTorch, TensorFlow's intra- and inter-op pools).

Also printed: the CPU; its float32 matrix-multiply peak (numpy 2048 x 2048 @ 2048 x 2048 in a worker with the
same threads, best of 5 after the same warm-up); the ratios ours/PyTorch, ours/Keras and ours/faster of the
two; and the rate our step achieves, STEP_FLOP (the LSTM's matrix products) per step time, in GFLOP/s and as a
fraction of that peak (masked: STEP_FLOP scaled by the fraction of real steps). The machine is shared and
noisy: the ratios, taken in one run, are the figures to read.

Keras 3 on TensorFlow lives in a venv of its own; without --keras-python its column is skipped:

    python benchmarks/bench_train_step.py [--pairs 7] [--threads 2] [--warmup-seconds 3] \
        [--keras-python /work/tfvenv/bin/python] [--only dense|masked]      (PyTorch: the `bench` extra)
"""
from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import subprocess
from typing import Callable

import numpy as np

from common import cpu_name, serve, spawn_worker, tensorflow_keras_in_worker, times_in_turns, torch_in_worker, \
    worker_threads

VOCAB, DIM, UNITS, BATCH, STEPS = 5000, 32, 100, 64, 500
# Matrix work of one step: forward x W and h U; backward dz U^T, dW, dU, dx, each 2 * rows * 4u * k.
STEP_FLOP = 2 * BATCH * STEPS * 4 * UNITS * 3 * (DIM + UNITS)
CASES = ("dense", "masked")
NAMES = {"ours": "tinygrad_embed", "torch": "PyTorch", "keras": "Keras 3 (TensorFlow)"}
PEERS = {"torch": "PyTorch", "keras": "Keras"}  # short names, for the ratios
PEAK_SIZE, PEAK_TRIES = 2048, 5


def imdb_like_batches(masked: bool, count: int = 8) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """A few fixed batches (ids, lengths, labels), cycled through, the same in every worker."""
    rng = np.random.default_rng(1)
    batches = []
    for _ in range(count):
        lengths = np.clip(rng.gamma(2.0, 100.0, BATCH).astype(int) + 5, 5, STEPS) if masked else np.full(BATCH, STEPS)
        ids = np.zeros((BATCH, STEPS), np.int64)
        for row, n in enumerate(lengths):  # pre-padding, as Keras's pad_sequences
            ids[row, STEPS - n:] = rng.integers(1, VOCAB, n)
        batches.append((ids, lengths, rng.integers(0, 2, BATCH).astype(np.float32)))
    return batches


def keras_like(keras, masked: bool):
    """The seed model, built and compiled in tinygrad_embed or in Keras, whose APIs agree."""
    layers = keras.layers
    net = keras.models.Sequential([layers.Embedding(VOCAB, DIM, mask_zero=masked), layers.LSTM(UNITS),
                                   layers.Dense(1, activation="sigmoid")])
    net.compile(loss="binary_crossentropy", optimizer="adam")
    return net


def train_on_batch(net) -> Callable[..., object]:
    """The step of a tinygrad_embed or Keras model; the lengths are for PyTorch's packing only."""
    return lambda ids, lengths, labels: net.train_on_batch(ids, labels)


def ours(masked: bool) -> tuple[Callable[..., object], str]:
    """(step(ids, lengths, labels), version text)."""
    import tinygrad_embed
    tinygrad_embed.utils.set_random_seed(0)
    step = train_on_batch(keras_like(tinygrad_embed, masked))
    return step, f"tinygrad_embed {tinygrad_embed.__version__}, numpy {np.__version__}"


def keras_tf(masked: bool) -> tuple[Callable[..., object], str]:
    keras, tensorflow = tensorflow_keras_in_worker()
    keras.utils.set_random_seed(0)
    net = keras_like(keras, masked)
    step = train_on_batch(net)
    step(*imdb_like_batches(masked, 1)[0])  # builds the model, so that jit_compile is resolved
    return step, f"Keras {keras.__version__}, TensorFlow {tensorflow.__version__}, jit_compile={net.jit_compile}"


def pytorch(masked: bool) -> tuple[Callable[..., object], str]:
    torch = torch_in_worker()
    torch.manual_seed(0)
    embedding, lstm = torch.nn.Embedding(VOCAB, DIM), torch.nn.LSTM(DIM, UNITS, batch_first=True)
    head = torch.nn.Linear(UNITS, 1)
    parameters = [*embedding.parameters(), *lstm.parameters(), *head.parameters()]
    optimizer, loss_fn = torch.optim.Adam(parameters, lr=0.001, eps=1e-7), torch.nn.BCEWithLogitsLoss()

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
    return step, f"PyTorch {torch.__version__}, threads: {torch.get_num_threads()}"


def worker(kind: str, case: str) -> None:
    """Serves the parent (common.serve): training steps of one framework, or the matrix products of the peak."""
    if kind == "peak":
        a = np.random.default_rng(0).standard_normal((PEAK_SIZE, PEAK_SIZE)).astype(np.float32)
        return serve([lambda: a @ a], f"numpy {np.__version__}, OPENBLAS_NUM_THREADS={worker_threads()}")
    masked = case == "masked"
    step, version = {"ours": ours, "torch": pytorch, "keras": keras_tf}[kind](masked)
    serve([functools.partial(step, *batch) for batch in imdb_like_batches(masked)], version)


def spawn(kind: str, case: str, args: argparse.Namespace) -> subprocess.Popen:
    return spawn_worker(__file__, ["--worker", kind, "--case", case], args.threads,
                        args.keras_python if kind == "keras" else None)


def matmul_peak_gflops(args: argparse.Namespace) -> float:
    """The best rate of a float32 2048^3 product, in a worker with the frameworks' thread count."""
    times = times_in_turns({"peak": spawn("peak", "dense", args)}, args.warmup_seconds, PEAK_TRIES)
    return 2 * PEAK_SIZE ** 3 / (min(times["peak"]) / 1e3) / 1e9


def bench(case: str, kinds: tuple[str, ...], args: argparse.Namespace) -> dict[str, float]:
    """Median ms per step of each framework in `kinds`, in turns; prints the versions and every round's time."""
    times = times_in_turns({kind: spawn(kind, case, args) for kind in kinds}, args.warmup_seconds, args.pairs)
    for kind in kinds:
        rounds = ", ".join(f"{t:.0f}" for t in times[kind])
        print(f"  {NAMES[kind]:<22} {np.median(times[kind]):8.1f} ms   (rounds: {rounds})")
    return {kind: float(np.median(t)) for kind, t in times.items()}


def print_ratios(medians: dict[str, float]) -> None:
    peers = {kind: ms for kind, ms in medians.items() if kind != "ours"}
    if not peers:
        return
    faster = min(peers, key=peers.get)
    ratios = [f"ours/{PEERS[kind]} {medians['ours'] / ms:.2f}" for kind, ms in peers.items()]
    print(f"  ratios: {', '.join(ratios)}, ours/faster peer {medians['ours'] / peers[faster]:.2f} ({PEERS[faster]})"
          "  (below 1: ours faster)")


def print_rate(ours_ms: float, real: float, peak: float) -> None:
    """Our achieved rate: the LSTM's matrix work of the real steps per second, and its share of the peak."""
    rate = STEP_FLOP * real / (ours_ms / 1e3) / 1e9
    print(f"  ours: {rate:.0f} GFLOP/s = {rate / peak:.0%} of the matrix-multiply peak", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=7, help="rounds; each framework times one step per round")
    parser.add_argument("--threads", type=int, default=2, help="threads per framework and for the peak")
    parser.add_argument("--warmup-seconds", type=float, default=3.0, help="of real steps per worker (at least 3)")
    parser.add_argument("--keras-python", help="a Python with Keras 3 and TensorFlow, e.g. /work/tfvenv/bin/python")
    parser.add_argument("--only", choices=CASES, help="one case only")
    parser.add_argument("--worker", choices=[*NAMES, "peak"], help=argparse.SUPPRESS)
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.case)
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores; threads per framework: {args.threads}")
    if args.warmup_seconds < 3:
        print(f"  (warm-up {args.warmup_seconds:g} s, below the project's 3 s: a smoke run, not figures to quote)")
    peak = matmul_peak_gflops(args)
    print(f"float32 matrix-multiply peak (numpy {PEAK_SIZE}^3, best of {PEAK_TRIES}, {args.threads} threads): "
          f"{peak:.0f} GFLOP/s")
    print(f"one training step, Embedding({VOCAB}, {DIM}) -> LSTM({UNITS}) -> Dense(1, sigmoid), Adam, batch "
          f"{BATCH} x {STEPS}, float32; medians of {args.pairs} rounds, frameworks in turns, ms per step")
    kinds = ("ours", *(("torch",) if importlib.util.find_spec("torch") else ()),
             *(("keras",) if args.keras_python else ()))
    if "torch" not in kinds:
        print("  (PyTorch not installed: its column is skipped)")
    if not args.keras_python:
        print("  (no --keras-python: the Keras 3 on TensorFlow column is skipped)")
    for case in [args.only] if args.only else CASES:
        real = float(np.mean([(ids != 0).mean() for ids, _, _ in imdb_like_batches(case == "masked")]))
        print(f"{case}{f', {real:.0%} of steps real' if case == 'masked' else ''}:", flush=True)
        medians = bench(case, kinds, args)
        print_ratios(medians)
        print_rate(medians["ours"], real, peak)


if __name__ == "__main__":
    main()
