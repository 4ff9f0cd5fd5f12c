"""Where FusedLSTM's dense training step spends its time, part by part, on one block of rows and one core
(the step runs one such block per core, side by side): each compiled time loop whole, then the same loop's
matrix products alone and its element-wise step kernels alone, against the core's own float32
matrix-multiply peak. It prints the floor the products set: their multiply-adds at that peak.

    python benchmarks/bench_lstm_parts.py [--batch 64] [--cores 2] [--repeats 7]

The parts are timed in this process, pinned to one CPU, BLAS on one thread, medians of --repeats. The
products alone run in compiled loops of kernels.matmul over the same slices the time loops use (so their
output goes to the same memory), defined here only to time them.
"""
import argparse
import os
import time

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from common import cpu_name
from tinygrad_embed import kernels

STEPS, UNITS, FEATURES = 500, 100, 32


@numba.njit(nogil=True)
def forward_products(gates, xh, weights, rows):
    """Each step's [x_t | h_{t-1}] @ [W; U], as lstm_forward_steps multiplies them."""
    for t in range(gates.shape[0] // rows):
        kernels.matmul(gates[t * rows:(t + 1) * rows], xh[t * rows:(t + 1) * rows], weights)


@numba.njit(nogil=True)
def backward_products(d_xh, dz, weights_t, rows):
    """Each step's dz [W; U]^T, as lstm_backward_steps multiplies them."""
    for t in range(dz.shape[0] // rows - 1, -1, -1):
        kernels.matmul(d_xh, dz[t * rows:(t + 1) * rows], weights_t)


@numba.njit(nogil=True)
def weight_products(d_weights, xh, dz, rows):
    """[dW; dU] += [x_t | h_{t-1}]^T dz over each WEIGHT_GRAD_STEPS steps, as lstm_backward_steps adds them."""
    chunk = kernels.WEIGHT_GRAD_STEPS * rows
    for first in range(0, dz.shape[0], chunk):
        kernels.matmul(d_weights, xh[first:first + chunk].T, dz[first:first + chunk], True)


@numba.njit(nogil=True)
def forward_step_kernels(h, c, gates, bias, rows):
    for t in range(c.shape[0] - 1):
        kernels.lstm_step_forward(h[(t + 1) % 2], c[t + 1], gates[t * rows.shape[0]:(t + 1) * rows.shape[0]], bias,
                                  h[t % 2], c[t], rows)


@numba.njit(nogil=True)
def backward_step_kernels(dz, dh, dc, gates, c, rows):
    for t in range(c.shape[0] - 2, -1, -1):
        kernels.lstm_step_backward(dz[t * rows.shape[0]:(t + 1) * rows.shape[0]], dh, dc,
                                   gates[t * rows.shape[0]:(t + 1) * rows.shape[0]], c[t + 1], c[t], rows)


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
    n, f32, rng = args.batch // args.cores, np.float32, np.random.default_rng(0)
    depth = FEATURES + UNITS
    x = rng.standard_normal((n, STEPS, FEATURES)).astype(f32)
    weights = (0.1 * rng.standard_normal((depth, 4 * UNITS))).astype(f32)  # [W; U]
    weights_t, bias = np.ascontiguousarray(weights.T), np.zeros(4 * UNITS, f32)
    rows, offsets = np.tile(np.arange(n), STEPS), np.arange(0, n * STEPS + 1, n)  # every row at every step
    no_masks = np.zeros((0, n, depth), f32)
    h, c = np.zeros((2, n, UNITS), f32), np.zeros((STEPS + 1, n, UNITS), f32)
    gates, xh = np.empty((n * STEPS, 4 * UNITS), f32), np.empty((n * STEPS, depth), f32)
    dz, d_xh = 0.01 * np.ones((n * STEPS, 4 * UNITS), f32), np.empty((n, depth), f32)
    d_weights, d_bias = np.zeros((depth, 4 * UNITS), f32), np.zeros(4 * UNITS, f32)
    upstream = 0.01 * np.ones((1, n, 2 * UNITS), f32)
    big = rng.standard_normal((1024, 1024)).astype(f32)

    def forward_loop():
        kernels.lstm_forward_steps(h, c, gates, xh, x, weights, bias, no_masks, rows, offsets, True)

    def backward_loop():
        dh, dc, dx = np.zeros((n, UNITS), f32), np.zeros((n, UNITS), f32), np.zeros(x.shape, f32)
        kernels.lstm_backward_steps(d_weights, d_bias, dh, dc, dx, upstream, gates, xh, c, weights_t, no_masks,
                                    rows, offsets, False)

    product = 2 * n * depth * 4 * UNITS * STEPS  # flops of one loop's products, the same three times
    spare = {}  # the parts timed alone write here, not into what the loops read

    def spare_copies():
        spare.update(gates=gates.copy(), out=np.empty_like(gates), dz=np.empty_like(dz))

    parts = {  # name: (run, flops)
        "forward loop, whole": (forward_loop, product),
        "  its products alone": (lambda: forward_products(spare["out"], xh, weights, n), product),
        "  its step kernels alone (forward)": (lambda: forward_step_kernels(h, c.copy(), spare["gates"], bias, rows[:n]), 0),
        "backward loop, whole": (backward_loop, 2 * product),
        "  its dz [W; U]^T alone": (lambda: backward_products(d_xh, dz, weights_t, n), product),
        "  its [dW; dU] alone": (lambda: weight_products(d_weights, xh, dz, n), product),
        "  its step kernels alone (backward)": (lambda: backward_step_kernels(spare["dz"], np.full((n, UNITS), 0.01, f32),
                                                                             np.full((n, UNITS), 0.01, f32), gates, c, rows[:n]), 0),
    }
    print(f"CPU: {cpu_name()}; one core, BLAS on one thread; a block of {n} rows x {STEPS} steps, {UNITS} units, "
          f"{FEATURES} features ({args.batch} rows on {args.cores} cores); dense, no dropout")
    with threadpool_limits(1, "blas"):
        forward_loop()  # gates and c now hold activations and states in range for backward
        spare_copies()
        peak = 2 * big.shape[0] ** 3 / median_ms(lambda: big @ big, args.repeats) / 1e6
        print(f"one core's float32 matrix-multiply peak (1024^3): {peak:.1f} GFLOP/s")
        times = {}
        for name, (run, flops) in parts.items():
            times[name] = median_ms(run, args.repeats)
            rate = f"{flops / times[name] / 1e6:6.1f} GFLOP/s" if flops else ""
            print(f"{name:36s} {times[name]:7.1f} ms {rate}")
    loops = times["forward loop, whole"] + times["backward loop, whole"]
    floor = 3 * product / peak / 1e6
    print(f"the two loops: {loops:.1f} ms per block; their products at the core's peak would take {floor:.1f} ms "
          f"({floor / loops:.0%} of it), before every other layer")


if __name__ == "__main__":
    main()
