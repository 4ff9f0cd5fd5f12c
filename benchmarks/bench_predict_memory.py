"""Time and peak memory of inference on 25,000 reviews with the seed model: ours against PyTorch and Keras 3.

Embedding(5000, 32) -> LSTM(100) -> Dense(1, sigmoid), float32, batch 64, random word ids (the same in
every process, from one seed) pre-padded to 500 steps as pad_sequences does, with IMDB-like lengths (mean
about 230 words after the cut at 500). The three ways to predict:
  tinygrad_embed         model.predict(ids, batch_size=64)
  PyTorch                nn.Embedding -> nn.LSTM(batch_first) -> nn.Linear -> sigmoid under torch.inference_mode(),
                         in batches of 64; with --mask-zero the tokens of each batch are moved to the front and
                         packed (pack_padded_sequence), PyTorch's way of skipping the padding
  Keras 3 (TensorFlow)   model.predict(ids, batch_size=64, verbose=0), Embedding(mask_zero=...) as ours
Every framework gets --threads threads (BLAS, OpenMP, PyTorch, TensorFlow's intra- and inter-op pools) and runs
on that many CPUs.

Time: one worker process per framework builds its model, warms up on at least 3 s of predict calls (one
worker at a time: compilation, allocation, the CPU ramping up), then times a predict on all the reviews
when asked. The parent asks ours, PyTorch, Keras, ours, PyTorch, Keras, ... for --repeats rounds and
reports medians; the machine may be shared, so the ratios are the figures to read.

Peak memory: tracemalloc cannot see PyTorch's or TensorFlow's allocations, so the figure comparable across
frameworks is the rise of the process's peak resident size (VmHWM) during the predict on all the reviews
above the resident size just before it, in a fresh process per framework and repetition after the model
is built and has predicted one batch (compilation and tracing are not predict's working memory). The peak
is reset (writing 5 to /proc/self/clear_refs, Linux 4.0 or later) just before, so that importing and
building do not hide it, and these processes run with MALLOC_MMAP_THRESHOLD_=131072: every buffer of
128 KiB or more gets pages of its own, returned when freed, so that the resident size follows what is
held rather than what glibc keeps after the warm call. Ours is also measured as before with tracemalloc
(numpy reports its buffers to it): the most memory predict held at once, on all the reviews and on one
batch. --steps-list repeats our measurement with the reviews padded or cut to each number of steps: the
forward pass without gradients should hold O(batch x units) of state, not O(steps).

    python benchmarks/bench_predict_memory.py [--mask-zero] [--reviews 25000] [--repeats 3] [--threads 2] \
        [--keras-python /work/tfvenv/bin/python] [--steps-list 125 250 500]     (PyTorch: the `bench` extra)

Without --keras-python the Keras column is skipped (TensorFlow lives in a venv of its own).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import tracemalloc
from types import ModuleType
from typing import Callable

import numpy as np

from common import cpu_name, on_cpus, times_in_turns, worker_environment

VOCAB, DIM, UNITS, STEPS, BATCH = 5000, 32, 100, 500, 64
NAMES = {"ours": "tinygrad_embed", "torch": "PyTorch", "keras": "Keras 3 (TensorFlow)"}
MiB = 2 ** 20

Predict = Callable[[np.ndarray], np.ndarray]


# ---- the data and the three models ---------------------------------------------------------------
def imdb_like_reviews(count: int, steps: int) -> np.ndarray:
    """Word ids 1..4999, pre-padded with 0 to `steps`, the same in every process. Lengths: a gamma law
    fitted by eye to IMDB's (long right tail), cut at `steps` as the model's maxlen does."""
    rng = np.random.default_rng(1)
    lengths = np.clip(rng.gamma(2.0, 125.0, count).astype(int), 1, steps)
    ids = np.zeros((count, steps), np.int32)
    for row, n in enumerate(lengths):
        ids[row, steps - n:] = rng.integers(1, VOCAB, n)
    return ids


def keras_like(keras: ModuleType, mask_zero: bool) -> object:
    """The seed model in tinygrad_embed or in Keras, whose APIs agree."""
    return keras.models.Sequential([keras.layers.Embedding(VOCAB, DIM, mask_zero=mask_zero),
                                    keras.layers.LSTM(UNITS), keras.layers.Dense(1, activation="sigmoid")])


def ours(mask_zero: bool, threads: int) -> tuple[Predict, str]:
    import tinygrad_embed  # its BLAS reads the thread count from the environment
    from tinygrad_embed.utils import set_random_seed
    set_random_seed(0)
    model = keras_like(tinygrad_embed, mask_zero)
    return (lambda ids: model.predict(ids, batch_size=BATCH),
            f"tinygrad_embed {tinygrad_embed.__version__}, numpy {np.__version__}")


def keras_tf(mask_zero: bool, threads: int) -> tuple[Predict, str]:
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import keras
    import tensorflow
    tensorflow.config.threading.set_intra_op_parallelism_threads(threads)
    tensorflow.config.threading.set_inter_op_parallelism_threads(threads)
    keras.utils.set_random_seed(0)
    model = keras_like(keras, mask_zero)
    return (lambda ids: model.predict(ids, batch_size=BATCH, verbose=0),
            f"Keras {keras.__version__}, TensorFlow {tensorflow.__version__}, jit_compile={model.jit_compile}")


def tokens_first(ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Pre-padded rows rotated so that each one's tokens come first and its padding last."""
    steps = ids.shape[1]
    return np.take_along_axis(ids, (np.arange(steps) + (steps - lengths)[:, None]) % steps, axis=1)


def pytorch(mask_zero: bool, threads: int) -> tuple[Predict, str]:
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    embedding, lstm = torch.nn.Embedding(VOCAB, DIM), torch.nn.LSTM(DIM, UNITS, batch_first=True)
    head = torch.nn.Linear(UNITS, 1)

    def final_state(batch: np.ndarray) -> "torch.Tensor":
        """The LSTM's last hidden state, (rows, units); with the mask, that of each row's last token."""
        if not mask_zero:
            return lstm(embedding(torch.from_numpy(batch.astype(np.int64))))[1][0][0]
        lengths = (batch != 0).sum(axis=1)  # the random ids are never 0: only the padding is
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            embedding(torch.from_numpy(tokens_first(batch, lengths).astype(np.int64))), torch.from_numpy(lengths),
            batch_first=True, enforce_sorted=False)
        return lstm(packed)[1][0][0]

    def predict(ids: np.ndarray) -> np.ndarray:
        out = np.empty((len(ids), 1), np.float32)
        with torch.inference_mode():
            for start in range(0, len(ids), BATCH):
                out[start:start + BATCH] = torch.sigmoid(head(final_state(ids[start:start + BATCH]))).numpy()
        return out
    return predict, f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, inference_mode"


FRAMEWORKS: dict[str, Callable[[bool, int], tuple[Predict, str]]] = {"ours": ours, "torch": pytorch,
                                                                      "keras": keras_tf}


# ---- measuring, inside a worker ------------------------------------------------------------------
def status_bytes(field: str) -> int:
    """A size from /proc/self/status (VmRSS: resident now, VmHWM: the peak resident since the last reset)."""
    with open("/proc/self/status") as status:
        return 1024 * int(next(line.split()[1] for line in status if line.startswith(field + ":")))


def peak_rss_rise(run: Callable[[], object]) -> tuple[int, object]:
    """How far the resident size rose above its value at the start while run() ran (bytes), and its result."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # the peak resident size (VmHWM) starts again from the current one
    before = status_bytes("VmRSS")
    result = run()
    return status_bytes("VmHWM") - before, result


def peak_traced_memory(run: Callable[[], object]) -> tuple[int, object]:
    """The most memory that run() held at once (bytes, as tracemalloc traced it), and its result."""
    tracemalloc.start()
    try:
        result = run()
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


def warm_up(predict: Predict, ids: np.ndarray, seconds: float) -> int:
    """Predict on slices of ids for `seconds` at least; the slices end on a batch of the size that ends the
    whole input (Keras traces its predict function again for it). Returns the number of calls."""
    rows = 10 * BATCH + len(ids) % BATCH
    start, calls = time.perf_counter(), 0
    while time.perf_counter() - start < seconds or calls < 2:
        predict(ids[:rows])
        calls += 1
    return calls


def memory_worker(args: argparse.Namespace) -> None:
    """Prints one JSON line: the framework's version and its peak memory figures for predict on all the ids."""
    ids = imdb_like_reviews(args.reviews, args.steps)
    predict, version = FRAMEWORKS[args.worker](args.mask_zero, args.threads)
    predict(ids[:BATCH])  # builds the weights; numba loads its kernels, TensorFlow traces
    rise, predictions = peak_rss_rise(lambda: predict(ids))
    result = {"version": version, "rss_rise": rise}
    if args.traced:
        traced, again = peak_traced_memory(lambda: predict(ids))
        assert np.array_equal(again, predictions)
        result |= {"traced": traced, "traced_batch": peak_traced_memory(lambda: predict(ids[:BATCH]))[0]}
    print(json.dumps(result), flush=True)


def time_worker(args: argparse.Namespace) -> None:
    """Speaks common.serve's protocol: says its version, then {"warmup": seconds} -> {"steps": calls} (on
    slices of the ids), {"calls": n} -> {"ms": the mean of n predicts on all the ids}."""
    ids = imdb_like_reviews(args.reviews, args.steps)
    predict, version = FRAMEWORKS[args.worker](args.mask_zero, args.threads)
    print(json.dumps({"version": version}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if "warmup" in command:
            answer = {"steps": warm_up(predict, ids, command["warmup"])}
        else:
            start = time.perf_counter()
            for _ in range(command["calls"]):
                predict(ids)
            answer = {"ms": (time.perf_counter() - start) / command["calls"] * 1e3}
        print(json.dumps(answer), flush=True)


# ---- the parent ----------------------------------------------------------------------------------
def worker_command(kind: str, role: str, args: argparse.Namespace, steps: int,
                   traced: bool = False) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of a worker; thread counts go in the environment, read by BLAS
    and OpenMP when they load."""
    python = args.keras_python if kind == "keras" else sys.executable
    command = [python, __file__, "--worker", kind, "--role", role, "--reviews", str(args.reviews),
               "--steps", str(steps), "--threads", str(args.threads)]
    command += ["--mask-zero"] * args.mask_zero + ["--traced"] * traced
    env = worker_environment(args.threads, keras=kind == "keras")
    if role == "memory":  # freed buffers go back to the system: the resident size follows what is held
        env["MALLOC_MMAP_THRESHOLD_"] = str(128 * 1024)
    return command, env


def measure_memory(kind: str, args: argparse.Namespace, steps: int, traced: bool = False) -> dict:
    """The memory figures of a fresh worker process (its last line of output)."""
    command, env = worker_command(kind, "memory", args, steps, traced)
    output = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=True,
                            preexec_fn=on_cpus(args.threads)).stdout
    return json.loads(output.strip().splitlines()[-1])


def measure_times(kinds: tuple[str, ...], args: argparse.Namespace) -> dict[str, list[float]]:
    """Seconds of predict on all the reviews, per framework, one per round, the frameworks taking turns."""
    workers = {}
    for kind in kinds:
        command, env = worker_command(kind, "time", args, STEPS)
        workers[kind] = subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                         preexec_fn=on_cpus(args.threads))
    times = times_in_turns(workers, args.warmup, args.repeats)
    return {kind: [ms / 1e3 for ms in values] for kind, values in times.items()}


def report(kinds: tuple[str, ...], memory: dict[str, list[dict]], times: dict[str, list[float]],
           args: argparse.Namespace) -> None:
    batches = -(-args.reviews // BATCH)
    seconds = {kind: float(np.median(times[kind])) for kind in kinds}
    print(f"  {'':<22} {'wall time':>10} {'ms/batch':>9} {'peak RSS rise':>14}")
    for kind in kinds:
        rises = [m["rss_rise"] / MiB for m in memory[kind]]
        print(f"  {NAMES[kind]:<22} {seconds[kind]:8.2f} s {1e3 * seconds[kind] / batches:9.1f} "
              f"{np.median(rises):10.1f} MiB   (times: {' '.join(f'{t:.2f}' for t in times[kind])} s; "
              f"rises: {' '.join(f'{r:.1f}' for r in rises)} MiB)")
    print("  time ratios: " + ", ".join(f"ours/{NAMES[kind]} {seconds['ours'] / seconds[kind]:.2f}"
                                        for kind in kinds if kind != "ours") + "  (below 1: ours faster)")
    traced = memory["ours"][0]
    print(f"  {NAMES['ours']}, tracemalloc: peak traced {traced['traced'] / MiB:.1f} MiB "
          f"(predict on one batch: {traced['traced_batch'] / MiB:.1f} MiB)", flush=True)


def report_steps(args: argparse.Namespace) -> None:
    """Our peak memory with the reviews padded or cut to each of --steps-list: one fresh process each."""
    print(f"{NAMES['ours']}, peak memory of predict against the steps kept ({args.reviews:,} reviews, "
          f"mask_zero={args.mask_zero}; one process each):")
    print(f"  {'steps':>6} {'peak RSS rise':>14} {'peak traced':>12} {'one batch traced':>17} "
          f"{'embedded batch':>15}  (the Embedding's output, {BATCH} x steps x {DIM} float32, O(steps) by nature)")
    for steps in args.steps_list:
        m = measure_memory("ours", args, steps, traced=True)
        print(f"  {steps:>6} {m['rss_rise'] / MiB:10.1f} MiB {m['traced'] / MiB:8.1f} MiB "
              f"{m['traced_batch'] / MiB:13.1f} MiB {BATCH * steps * DIM * 4 / MiB:11.1f} MiB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=25_000)
    parser.add_argument("--mask-zero", action="store_true", help="Embedding(mask_zero=True): the LSTM skips padding")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of ours, PyTorch, Keras (time and memory)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of predict calls per worker (at least 3)")
    parser.add_argument("--threads", type=int, default=2, help="threads per framework")
    parser.add_argument("--keras-python", help="a Python with Keras 3 and TensorFlow, e.g. /work/tfvenv/bin/python")
    parser.add_argument("--steps-list", type=int, nargs="*", default=[],
                        help="also our peak memory with the reviews padded or cut to each of these steps")
    parser.add_argument("--worker", choices=list(NAMES), help=argparse.SUPPRESS)
    parser.add_argument("--role", choices=("memory", "time"), help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return (memory_worker if args.role == "memory" else time_worker)(args)
    if args.warmup < 3:
        parser.error(f"--warmup must be at least 3 seconds, got {args.warmup}")

    kinds = ("ours", "torch") + (("keras",) if args.keras_python else ())
    real = (imdb_like_reviews(args.reviews, STEPS) != 0).sum(axis=1)
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores; threads per framework: {args.threads}")
    print(f"predict on {args.reviews:,} reviews of {STEPS} steps (mean length {real.mean():.0f}), batch {BATCH}, "
          f"mask_zero={args.mask_zero}; medians of {args.repeats} rounds", flush=True)
    if not args.keras_python:
        print("  (no --keras-python: the Keras 3 on TensorFlow column is skipped)")
    memory = {kind: [] for kind in kinds}
    for repeat in range(args.repeats):
        for kind in kinds:
            memory[kind].append(measure_memory(kind, args, STEPS, traced=kind == "ours" and repeat == 0))
    report(kinds, memory, measure_times(kinds, args), args)
    if args.steps_list:
        report_steps(args)


if __name__ == "__main__":
    main()
