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
import functools
import os

import numpy as np

from common import cpu_name, serve, spawn_worker, tensorflow_keras_in_worker, times_in_turns, torch_in_worker

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
    keras, tensorflow = tensorflow_keras_in_worker()
    step, net = keras_like(keras, keras.layers, model)
    step(*batches(1)[0])  # builds the model, so that jit_compile is resolved
    return step, f"Keras {keras.__version__}, TensorFlow {tensorflow.__version__}, jit_compile={net.jit_compile}"


def pytorch(model):
    torch = torch_in_worker()
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
    """Serves the parent (common.serve) with training steps on a few fixed batches."""
    step, version = {"ours": ours, "torch": pytorch, "keras": keras_tf}[kind](model)
    serve([functools.partial(step, *batch) for batch in batches()], version)


def bench(model, kinds, args):
    """Median ms per step of each framework in `kinds`, in turns; prints the versions as it starts them."""
    workers = {kind: spawn_worker(__file__, ["--worker", kind, "--model", model], args.threads,
                                  args.keras_python if kind == "keras" else None) for kind in kinds}
    times = times_in_turns(workers, args.warmup, args.rounds, args.calls)
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
