"""Where FusedLSTM's dense training step spends its time, part by part, on one block of rows and one core
(the step runs one such block per core, side by side): the products and kernels inside the time loop,
which are a recurrence and cannot become larger products, against the products outside it, and the core's
own float32 matrix-multiply peak. It prints the floor this sets for the whole step.

    python benchmarks/bench_lstm_parts.py [--batch 64] [--cores 2] [--repeats 7]

The parts are timed in this process, pinned to one CPU, BLAS on one thread, medians of --repeats.
"""
import argparse
import os
import time

import numpy as np
from threadpoolctl import threadpool_limits

from common import cpu_name
from tinygrad_embed import kernels

STEPS, UNITS, FEATURES = 500, 100, 32


def median_ms(run, repeats: int) -> float:
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--cores", type=int, default=2, help="blocks of rows side by side in the real step")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    rows_count = args.batch // args.cores
    rng = np.random.default_rng(0)
    f32 = np.float32
    x = rng.standard_normal((rows_count * STEPS, FEATURES)).astype(f32)
    kernel = (0.1 * rng.standard_normal((FEATURES, 4 * UNITS))).astype(f32)
    recurrent = (0.1 * rng.standard_normal((UNITS, 4 * UNITS))).astype(f32)
    recurrent_t = np.ascontiguousarray(recurrent.T)
    h, c = np.zeros((STEPS + 1, rows_count, UNITS), f32), np.zeros((STEPS + 1, rows_count, UNITS), f32)
    gates, step_product = np.empty((rows_count * STEPS, 4 * UNITS), f32), np.empty((rows_count, 4 * UNITS), f32)
    dz, dh_prev = 0.01 * np.ones((rows_count, 4 * UNITS), f32), np.empty((rows_count, UNITS), f32)
    dh, dc = 0.01 * np.ones((rows_count, UNITS), f32), 0.01 * np.ones((rows_count, UNITS), f32)
    rows = np.arange(rows_count)
    big = rng.standard_normal((1024, 1024)).astype(f32)

    def forward_kernels():
        for t in range(STEPS):
            kernels.lstm_step_forward(h[t + 1], c[t + 1], gates[t * rows_count:(t + 1) * rows_count], step_product,
                                      h[t], c[t], rows)

    def backward_kernels():
        for t in reversed(range(STEPS)):
            kernels.lstm_step_backward(dz, dh, dc, gates[t * rows_count:(t + 1) * rows_count], c[t + 1], c[t], rows)

    step = 2 * rows_count * UNITS * 4 * UNITS  # flops of one step's h U, or of dz U^T
    parts = {  # name: (run, flops, inside the time loop)
        "x W, every step at once": (lambda: np.matmul(x, kernel, out=gates), 2 * x.size * 4 * UNITS, False),
        "h U, step by step": (lambda: [np.matmul(h[t], recurrent, out=step_product) for t in range(STEPS)],
                              STEPS * step, True),
        "forward step kernels": (forward_kernels, 0, True),
        "dz U^T, step by step": (lambda: [np.matmul(dz, recurrent_t, out=dh_prev) for _ in range(STEPS)],
                                 STEPS * step, True),
        "backward step kernels": (backward_kernels, 0, True),
        "dU = h^T dz": (lambda: h[:-1].reshape(-1, UNITS).T @ gates, STEPS * step, False),
        "dW = x^T dz, dx = dz W^T": (lambda: (x.T @ gates, gates @ kernel.T), 2 * 2 * x.size * 4 * UNITS, False),
    }
    print(f"CPU: {cpu_name()}; one core, BLAS on one thread; a block of {rows_count} rows x {STEPS} steps, "
          f"{UNITS} units ({args.batch} rows on {args.cores} cores)")
    with threadpool_limits(1, "blas"):
        forward_kernels()  # gates now hold activations in range for the backward kernel
        peak = 2 * big.shape[0] ** 3 / median_ms(lambda: big @ big, args.repeats) / 1e6
        print(f"one core's float32 matrix-multiply peak (1024^3): {peak:.1f} GFLOP/s")
        times = {}
        for name, (run, flops, _) in parts.items():
            times[name] = median_ms(run, args.repeats)
            rate = f"{flops / times[name] / 1e6:6.1f} GFLOP/s" if flops else ""
            print(f"{name:28s} {times[name]:7.1f} ms {rate}")
    loop = sum(times[name] for name, (_, _, inside) in parts.items() if inside)
    floor = loop + STEPS * step / peak / 1e6
    print(f"inside the time loop: {loop:.1f} ms; outside: {sum(times.values()) - loop:.1f} ms")
    print(f"floor of the LSTM's step: the time loop as measured plus dU at the core's peak = {floor:.1f} ms "
          f"per block, before x W, dW, dx and every other layer")


if __name__ == "__main__":
    main()
