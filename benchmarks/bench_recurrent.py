"""One training step of the recurrent models of issue 13, ours against PyTorch and Keras 3 on TensorFlow (CPU).

Embedding(5000, 32) -> recurrent layer -> Dense(1, sigmoid), binary cross-entropy, Adam, batch 64 x 500
steps, float32, no mask; one step = forward, backward and the Adam update. The recurrent layers:
  gru        GRU(100)                     against PyTorch's nn.GRU and Keras's GRU(100)
  bilstm     Bidirectional(LSTM(100))     against nn.LSTM(bidirectional=True) and Keras's Bidirectional(LSTM(100))
  simplernn  SimpleRNN(100)               against nn.RNN only (is the composed SimpleRNN fast enough?)
Ours and Keras train through model.train_on_batch; PyTorch through its usual loop, with the sigmoid folded
into BCEWithLogitsLoss. Each framework runs in a worker process of its own, which builds its model, warms up
for --warmup seconds when told (one worker at a time: compilation, allocation, the CPU ramping up) and then
times --calls steps per request. Every framework gets --threads threads (BLAS, OpenMP, PyTorch, TensorFlow's
intra- and inter-op pools). The parent asks them in turn, rotating the order (A B C, B C A, ...), and
reports medians of --rounds rounds. The ratios ours/theirs are the figures to read: the machine is shared.

Keras 3 on TensorFlow lives in a venv of its own (TensorFlow would fight this project's venv over numpy and
keras versions); without --keras-python the Keras column is skipped:

    python3 -m venv /work/tfvenv && /work/tfvenv/bin/pip install tensorflow-cpu     (or tensorflow)
    python benchmarks/bench_recurrent.py [--models gru bilstm simplernn] [--rounds 5 --calls 3] \
        [--keras-python /work/tfvenv/bin/python] [--threads 2]               (PyTorch: the `bench` extra)
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from common import cpu_name

VOCAB, DIM, UNITS, BATCH, STEPS = 5000, 32, 100, 64, 500
MODELS = {"gru": ("ours", "torch", "keras"), "bilstm": ("ours", "torch", "keras"), "simplernn": ("ours", "torch")}
NAMES = {"ours": "tinygrad_embed", "torch": "PyTorch", "keras": "Keras 3 (TensorFlow)"}


def batches(count=4):
    """A few fixed batches of random ids and labels, cycled through, the same in every worker."""
    rng = np.random.default_rng(0)
    return [(rng.integers(1, VOCAB, (BATCH, STEPS)), rng.integers(0, 2, BATCH).astype(np.float32))
            for _ in range(count)]


def keras_like(keras, layers, model):
    """The model built and compiled in tinygrad_embed or in Keras, whose APIs agree: (its train step, the model)."""
    recurrent = {"gru": lambda: layers.GRU(UNITS), "bilstm": lambda: layers.Bidirectional(layers.LSTM(UNITS)),
                 "simplernn": lambda: layers.SimpleRNN(UNITS)}[model]
    net = keras.models.Sequential([layers.Embedding(VOCAB, DIM), recurrent(), layers.Dense(1, activation="sigmoid")])
    net.compile(loss="binary_crossentropy", optimizer="adam")
    return lambda ids, labels: net.train_on_batch(ids, labels), net


def ours(model):
    import tinygrad_embed
    step, _ = keras_like(tinygrad_embed, tinygrad_embed.layers, model)
    return step, f"tinygrad_embed {tinygrad_embed.__version__}, numpy {np.__version__}"


def keras_tf(model):
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import keras
    import tensorflow
    threads = int(os.environ["OMP_NUM_THREADS"])
    tensorflow.config.threading.set_intra_op_parallelism_threads(threads)
    tensorflow.config.threading.set_inter_op_parallelism_threads(threads)
    step, net = keras_like(keras, keras.layers, model)
    step(*batches(1)[0])  # builds the model, so that jit_compile is resolved
    return step, f"Keras {keras.__version__}, TensorFlow {tensorflow.__version__}, jit_compile={net.jit_compile}"


def pytorch(model):
    import torch
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    recurrent = {"gru": torch.nn.GRU, "bilstm": lambda *a, **k: torch.nn.LSTM(*a, bidirectional=True, **k),
                 "simplernn": torch.nn.RNN}[model](DIM, UNITS, batch_first=True)
    embedding, head = torch.nn.Embedding(VOCAB, DIM), torch.nn.Linear(UNITS * (2 if model == "bilstm" else 1), 1)
    parameters = [*embedding.parameters(), *recurrent.parameters(), *head.parameters()]
    optimizer, loss_fn = torch.optim.Adam(parameters, lr=0.001, eps=1e-7), torch.nn.BCEWithLogitsLoss()

    def step(ids, labels):
        optimizer.zero_grad()
        final = recurrent(embedding(torch.from_numpy(ids)))[1]
        h = final[0] if model == "bilstm" else final  # the LSTM's final state is (h, c)
        # h: (directions, batch, units); Keras's Bidirectional concatenates forward then backward
        loss = loss_fn(head(torch.cat(list(h), dim=1))[:, 0], torch.from_numpy(labels))
        loss.backward()
        optimizer.step()
    return step, f"PyTorch {torch.__version__}, threads: {torch.get_num_threads()}"


def worker(kind, model):
    """Answers the parent's JSON lines: {"warmup": seconds}, then {"calls": n} -> the mean ms of those n steps."""
    step, version = {"ours": ours, "torch": pytorch, "keras": keras_tf}[kind](model)
    data, done = batches(), 0

    def run():
        nonlocal done
        step(*data[done % len(data)])
        done += 1
    print(json.dumps({"version": version}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        start = time.perf_counter()
        if "warmup" in command:
            while time.perf_counter() - start < command["warmup"] or done < 2:  # two steps at least: compiles
                run()
            answer = {"steps": done}
        else:
            for _ in range(command["calls"]):
                run()
            answer = {"ms": (time.perf_counter() - start) / command["calls"] * 1e3}
        print(json.dumps(answer), flush=True)


def spawn(kind, model, args):
    """A worker process; the thread counts go in its environment, read by BLAS and OpenMP when they load."""
    env = {**os.environ, **{name: str(args.threads) for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                                  "MKL_NUM_THREADS")}}
    python = args.keras_python if kind == "keras" else sys.executable
    if kind == "keras":
        env["KERAS_BACKEND"] = "tensorflow"
    return subprocess.Popen([python, __file__, "--worker", kind, "--model", model], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)


def ask(process, **command):
    process.stdin.write(json.dumps(command) + "\n")
    process.stdin.flush()
    return json.loads(process.stdout.readline())


def bench(model, kinds, args):
    """Median ms per step of each framework in `kinds`, interleaved; prints the versions as it starts them."""
    workers = {kind: spawn(kind, model, args) for kind in kinds}
    try:
        for kind in kinds:
            print(f"  {json.loads(workers[kind].stdout.readline())['version']}", flush=True)
        for kind in kinds:  # one at a time, so that the warm-ups do not share the two cores
            ask(workers[kind], warmup=args.warmup)
        times = {kind: [] for kind in kinds}
        for round_ in range(args.rounds):
            for kind in kinds[round_ % len(kinds):] + kinds[:round_ % len(kinds)]:
                times[kind].append(ask(workers[kind], calls=args.calls)["ms"])
    finally:
        for process in workers.values():
            process.stdin.close()
            process.wait()
    return {kind: float(np.median(t)) for kind, t in times.items()}, times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=3, help="training steps timed per round")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of warm-up per worker (at least 3)")
    parser.add_argument("--threads", type=int, default=2, help="threads per framework")
    parser.add_argument("--keras-python", help="a Python with Keras 3 and TensorFlow, e.g. /work/tfvenv/bin/python")
    parser.add_argument("--worker", choices=list(NAMES), help=argparse.SUPPRESS)
    parser.add_argument("--model", choices=list(MODELS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.model)
    if args.warmup < 3:
        parser.error(f"--warmup must be at least 3 seconds, got {args.warmup}")
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores; threads per framework: {args.threads}")
    print(f"one training step, batch {BATCH} x {STEPS} steps, Embedding({VOCAB}, {DIM}), {UNITS} units, float32, "
          f"no mask; medians of {args.rounds} rounds of {args.calls} steps, ms per step")
    if not args.keras_python:
        print("  (no --keras-python: the Keras 3 on TensorFlow column is skipped)")
    for model in args.models:
        kinds = tuple(kind for kind in MODELS[model] if kind != "keras" or args.keras_python)
        print(f"{model}:", flush=True)
        medians, times = bench(model, kinds, args)
        for kind in kinds:
            rounds = ", ".join(f"{t:.0f}" for t in times[kind])
            print(f"  {NAMES[kind]:<22} {medians[kind]:8.1f} ms   (rounds: {rounds})")
        print("  ratios: " + ", ".join(f"ours/{NAMES[kind]} {medians['ours'] / medians[kind]:.2f}"
                                       for kind in kinds if kind != "ours") + "  (below 1 is faster)", flush=True)


if __name__ == "__main__":
    main()
