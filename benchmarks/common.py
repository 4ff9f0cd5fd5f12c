"""Timing helpers shared by the benchmarks: interleaved runs, medians, worker processes taking turns, because
these machines are shared and noisy and only ratios taken in one run mean much."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from typing import Callable

import numpy as np


def interleaved_medians(candidates: dict[str, Callable[[], object]], repeats: int = 15,
                        warmup: int = 2) -> dict[str, float]:
    """Run each candidate once per round, A B C A B C ..., and return each one's median seconds."""
    for _ in range(warmup):
        for run in candidates.values():
            run()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, run in candidates.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def torch_or_none():
    try:
        import torch
    except ImportError:
        return None
    return torch


def cpu_name() -> str:
    """The CPU's model name: ratios differ between machines of the same kind (AVX2, AVX-512)."""
    try:
        with open("/proc/cpuinfo") as info:
            return next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


# Worker processes, for benchmarks that compare frameworks: each framework in a process of its own (their
# thread pools and allocators must not meet), asked in turn by the parent over JSON lines on stdin/stdout.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def spawn_worker(script: str, arguments: list[str], threads: int,
                 keras_python: str | None = None) -> subprocess.Popen:
    """`script arguments` as a worker, run by this Python, or, given keras_python, by that one as the Keras 3 on
    TensorFlow peer (which lives in a venv of its own). The thread count goes in its environment, where BLAS and
    OpenMP read it when they load (worker_threads() gives it to PyTorch and TensorFlow)."""
    return subprocess.Popen([keras_python or sys.executable, script, *arguments], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=worker_environment(threads, bool(keras_python)),
                            preexec_fn=on_cpus(threads))


def worker_environment(threads: int, keras: bool = False) -> dict[str, str]:
    """A worker's environment: the thread count, where BLAS and OpenMP read it when they load."""
    env = {**os.environ, **{name: str(threads) for name in THREAD_VARIABLES}}
    if keras:
        env["KERAS_BACKEND"] = "tensorflow"
    return env


def on_cpus(threads: int) -> Callable[[], None] | None:
    """For Popen's preexec_fn: the worker runs on the first `threads` CPUs only. Thread-count variables bind
    BLAS and OpenMP; this binds the rest too (tinygrad_embed runs a thread per CPU it may use)."""
    if not hasattr(os, "sched_setaffinity") or threads >= len(os.sched_getaffinity(0)):
        return None
    cpus = sorted(os.sched_getaffinity(0))[:threads]
    return lambda: os.sched_setaffinity(0, cpus)


def worker_threads() -> int:
    """In a worker: the thread count its parent asked for."""
    return int(os.environ["OMP_NUM_THREADS"])


def torch_in_worker():
    """PyTorch, its intra-op pool sized as the parent asked."""
    import torch
    torch.set_num_threads(worker_threads())
    return torch


def tensorflow_keras_in_worker():
    """Keras 3 and TensorFlow, TensorFlow's intra- and inter-op pools sized as the parent asked: (keras, tensorflow)."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import keras
    import tensorflow
    threads = worker_threads()
    tensorflow.config.threading.set_intra_op_parallelism_threads(threads)
    tensorflow.config.threading.set_inter_op_parallelism_threads(threads)
    return keras, tensorflow


def serve(steps: list[Callable[[], object]], version: str) -> None:
    """The worker's side. Says {"version": ...}, then answers the parent's JSON lines: {"warmup": seconds} runs
    steps for that long (two at least: the first ones compile), {"calls": n} -> the mean ms of the next n.

    The steps are cycled through; the timed ones start again from the first after the warm-up, so that
    every worker times the same steps in the same order whatever its warm-up did."""
    done = 0

    def run() -> None:
        nonlocal done
        steps[done % len(steps)]()
        done += 1
    print(json.dumps({"version": version}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        start = time.perf_counter()
        if "warmup" in command:
            while time.perf_counter() - start < command["warmup"] or done < 2:
                run()
            answer, done = {"steps": done}, 0
        else:
            for _ in range(command["calls"]):
                run()
            answer = {"ms": (time.perf_counter() - start) / command["calls"] * 1e3}
        print(json.dumps(answer), flush=True)


def ask(process: subprocess.Popen, **command: object) -> dict:
    process.stdin.write(json.dumps(command) + "\n")
    process.stdin.flush()
    return json.loads(process.stdout.readline())


def times_in_turns(workers: dict[str, subprocess.Popen], warmup: float, rounds: int,
                   calls: int = 1) -> dict[str, list[float]]:
    """Each worker's ms per step over `rounds` rounds of `calls` steps, the workers taking turns in an order
    that rotates every round (A B C, B C A, ...). Prints their versions; warms them up one at a time, so that
    the warm-ups do not share the cores; ends the workers."""
    kinds = list(workers)
    try:
        for kind in kinds:
            print(f"  {json.loads(workers[kind].stdout.readline())['version']}", flush=True)
        for kind in kinds:
            ask(workers[kind], warmup=warmup)
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        for round_ in range(rounds):
            for kind in kinds[round_ % len(kinds):] + kinds[:round_ % len(kinds)]:
                times[kind].append(ask(workers[kind], calls=calls)["ms"])
    finally:
        for process in workers.values():
            process.stdin.close()
            process.wait()
    return times
