"""Conv1D forward + backward at the CNN-LSTM tutorial's shapes, ours against PyTorch's nn.Conv1d (CPU).

Batch 64 x 500 steps x 32 channels in, 32 filters, kernel 3, padding "same", float32, with a random
upstream gradient; one repetition = forward, backward (input and weight gradients), nothing else. Each
framework runs in its own worker process; the two alternate, A B A B, after a warm-up of several
seconds (these virtual CPUs ramp up under load), and each figure is a median of --rounds rounds of
--calls calls.

    python benchmarks/bench_conv1d.py [--rounds 9 --calls 20]     (needs the `bench` extra)
"""
import argparse
import json
import subprocess
import sys
import time

import numpy as np

from common import cpu_name

BATCH, STEPS, CHANNELS, FILTERS, KERNEL = 64, 500, 32, 32, 3


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, STEPS, CHANNELS)).astype(np.float32)
    upstream = rng.standard_normal((BATCH, STEPS, FILTERS)).astype(np.float32)
    kernel = (rng.standard_normal((KERNEL, CHANNELS, FILTERS)) * 0.1).astype(np.float32)
    return x, upstream, kernel


def ours():
    import tinygrad_embed as tg
    x, upstream, kernel = data()
    layer = tg.layers.Conv1D(FILTERS, KERNEL, padding="same")
    layer(x[:1])
    layer.set_weights([kernel, np.zeros(FILTERS, np.float32)])
    inputs = tg.Tensor(x, requires_grad=True)

    def step():
        layer(inputs).backward(upstream)
        inputs.grad = layer.kernel.grad = layer.bias.grad = None
    return step


def pytorch():
    import torch
    x, upstream, kernel = data()
    conv = torch.nn.Conv1d(CHANNELS, FILTERS, KERNEL, padding="same")
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(kernel.transpose(2, 1, 0).copy()))  # (filters, in, kernel)
    # channels-first, as nn.Conv1d takes it; the transposes a Keras-layout model needs are counted
    inputs = torch.from_numpy(x).requires_grad_()
    g = torch.from_numpy(upstream)

    def step():
        conv(inputs.transpose(1, 2)).transpose(1, 2).backward(g)
        inputs.grad = conv.weight.grad = conv.bias.grad = None
    return step


def worker(kind):
    step = ours() if kind == "ours" else pytorch()
    start = time.perf_counter()
    while time.perf_counter() - start < 3:  # warm-up: compile, allocate, let the CPU ramp up
        step()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        calls = json.loads(line)["calls"]
        start = time.perf_counter()
        for _ in range(calls):
            step()
        print(json.dumps({"ms": (time.perf_counter() - start) / calls * 1e3}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--worker", choices=["ours", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker)
    kinds = ("ours", "torch")
    workers = {kind: subprocess.Popen([sys.executable, __file__, "--worker", kind], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True) for kind in kinds}
    for kind in kinds:  # one at a time, so that the warm-ups do not share the two cores
        json.loads(workers[kind].stdout.readline())
    times = {kind: [] for kind in kinds}
    for round_ in range(args.rounds):
        for kind in kinds if round_ % 2 == 0 else kinds[::-1]:
            workers[kind].stdin.write(json.dumps({"calls": args.calls}) + "\n")
            workers[kind].stdin.flush()
            times[kind].append(json.loads(workers[kind].stdout.readline())["ms"])
    for process in workers.values():
        process.stdin.close()
        process.wait()
    ours_ms, torch_ms = np.median(times["ours"]), np.median(times["torch"])
    print(f"CPU: {cpu_name()}")
    print(f"Conv1D forward+backward, batch {BATCH} x {STEPS} steps x {CHANNELS} -> {FILTERS} filters, kernel {KERNEL}:")
    print(f"  tinygrad_embed {ours_ms:.2f} ms, PyTorch nn.Conv1d {torch_ms:.2f} ms, ratio {ours_ms / torch_ms:.2f} "
          f"(medians of {args.rounds} rounds of {args.calls} calls; below 1 is faster than PyTorch)")


if __name__ == "__main__":
    main()
