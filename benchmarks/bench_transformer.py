"""Seconds per epoch of keras.io's Transformer classifier (examples/transformer_classifier.py): tinygrad_embed
against Keras 3 on TensorFlow and a PyTorch model of the same layers built on nn.MultiheadAttention.

The model: token and position Embedding (20,000 and 200 rows, 32 wide), MultiHeadAttention(2 heads,
key_dim 32), Dropout, residual + LayerNormalization, Dense(32, relu) -> Dense(32), Dropout, residual +
LayerNormalization, GlobalAveragePooling1D, Dropout, Dense(20, relu), Dropout, Dense(2, softmax); sparse
categorical cross-entropy, Adam; batches of 32 reviews of 200 ids, float32. Ours and Keras's are the
example's own build_model(), trained through model.train_on_batch. PyTorch's is the same stack in torch.nn,
written as a PyTorch user would: nn.MultiheadAttention(32, 2, batch_first=True) called with
need_weights=False (its fused path), the softmax folded into CrossEntropyLoss, Adam(eps=1e-7) as Keras's.
One difference in shapes PyTorch imposes: nn.MultiheadAttention splits embed_dim among the heads, so its
heads are 16 wide where Keras's key_dim=32 makes them 32 wide; PyTorch's attention does about half the
arithmetic of ours and Keras's (everything else is the same size). So a fourth worker, "PyTorch, heads of
32", runs the same model with Keras's shapes: a packed Linear(32, 192) for q, k and v, torch's
scaled_dot_product_attention over 2 heads of 32, Linear(64, 32) back: the same arithmetic as ours.

Each framework runs in a worker process of its own (benchmarks/common.py), with --threads threads, warms up
for --warmup-seconds of real steps one worker at a time, then the workers take turns, rotating the order
each round, each timing --steps training steps per round over the same fixed batches; the medians of
--rounds rounds are reported in ms per step and extrapolated to seconds per epoch: 782 steps (25,000
reviews / 32), training only. keras.io's epoch also validates on the 25,000 test reviews, 782 more batches
of 32: --validation times those instead (test_on_batch: forward, loss and accuracy; PyTorch's model in eval
mode under no_grad), and an epoch as Keras counts it is the sum of the two.

    python benchmarks/bench_transformer.py [--rounds 7] [--steps 20] [--threads 2] [--warmup-seconds 5] \
        [--keras-python /work/tfvenv/bin/python] [--validation]        (PyTorch: the `bench` extra)
"""
from __future__ import annotations

import argparse
import functools
import importlib.util
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from common import cpu_name, serve, spawn_worker, tensorflow_keras_in_worker, times_in_turns, torch_in_worker

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "transformer_classifier.py"
VOCAB, MAXLEN, DIM, HEADS, FF, BATCH, TRAIN_REVIEWS = 20000, 200, 32, 2, 32, 32, 25000
STEPS_PER_EPOCH = math.ceil(TRAIN_REVIEWS / BATCH)
NAMES = {"ours": "tinygrad_embed", "keras": "Keras 3 (TensorFlow)", "torch": "PyTorch",
         "torch-keras-heads": "PyTorch, heads of 32"}


def batches(count: int = 8) -> list[tuple[np.ndarray, np.ndarray]]:
    """A few fixed batches (ids pre-padded to IMDB-like lengths, labels), cycled through, the same in every worker."""
    rng = np.random.default_rng(1)
    result = []
    for _ in range(count):
        ids = np.zeros((BATCH, MAXLEN), np.int64)
        for row, n in enumerate(np.clip(rng.gamma(2.0, 100.0, BATCH).astype(int) + 5, 5, MAXLEN)):
            ids[row, MAXLEN - n:] = rng.integers(1, VOCAB, n)
        result.append((ids, rng.integers(0, 2, BATCH)))
    return result


def example_model(argv: list[str]):
    """The example's build_model(), in the library its argv picks ("--keras": Keras; none: tinygrad_embed)."""
    saved, sys.argv = sys.argv, [str(EXAMPLE), *argv]
    try:
        spec = importlib.util.spec_from_file_location("transformer_classifier", EXAMPLE)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.argv = saved
    module.keras.utils.set_random_seed(0)
    return module.build_model(), module.keras


def ours(validation: bool = False):
    model, keras = example_model([])
    step = model.test_on_batch if validation else model.train_on_batch
    return (lambda ids, labels: step(ids, labels)), f"tinygrad_embed {keras.__version__}, numpy {np.__version__}"


def keras_tf(validation: bool = False):
    _, tensorflow = tensorflow_keras_in_worker()
    model, keras = example_model(["--keras"])
    step = model.test_on_batch if validation else model.train_on_batch
    return (lambda ids, labels: step(ids, labels)), \
        f"Keras {keras.__version__}, TensorFlow {tensorflow.__version__}, jit_compile={model.jit_compile}"


def pytorch(validation: bool = False, keras_heads: bool = False):
    torch = torch_in_worker()
    nn = torch.nn
    torch.manual_seed(0)

    class KerasShapedAttention(nn.Module):
        """Keras's MultiHeadAttention(2, key_dim=32) in torch: q, k, v projected to 2 heads of 32 (one packed
        Linear(32, 192)), scaled_dot_product_attention, the heads projected back by Linear(64, 32): the same
        arithmetic as Keras's and ours, where nn.MultiheadAttention(32, 2) splits 32 into 2 heads of 16."""
        def __init__(self):
            super().__init__()
            self.qkv, self.out = nn.Linear(DIM, 3 * HEADS * DIM), nn.Linear(HEADS * DIM, DIM)

        def forward(self, x, *_, need_weights=False):
            q, k, v = self.qkv(x).unflatten(-1, (3, HEADS, DIM)).permute(2, 0, 3, 1, 4)  # 3 x (batch, heads, T, c)
            z = nn.functional.scaled_dot_product_attention(q, k, v)
            return self.out(z.transpose(1, 2).flatten(2)), None

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.token, self.position = nn.Embedding(VOCAB, DIM), nn.Embedding(MAXLEN, DIM)
            self.attention = KerasShapedAttention() if keras_heads else nn.MultiheadAttention(DIM, HEADS, batch_first=True)
            self.ffn = nn.Sequential(nn.Linear(DIM, FF), nn.ReLU(), nn.Linear(FF, DIM))
            self.norm1, self.norm2 = nn.LayerNorm(DIM, eps=1e-6), nn.LayerNorm(DIM, eps=1e-6)
            self.drop1, self.drop2 = nn.Dropout(0.1), nn.Dropout(0.1)
            self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(DIM, 20), nn.ReLU(), nn.Dropout(0.1), nn.Linear(20, 2))

        def forward(self, ids):
            x = self.token(ids) + self.position(torch.arange(ids.shape[1]))
            attended, _ = self.attention(x, x, x, need_weights=False)
            x = self.norm1(x + self.drop1(attended))
            x = self.norm2(x + self.drop2(self.ffn(x)))
            return self.head(x.mean(dim=1))  # logits: the softmax is in the loss

    model = Classifier()
    optimizer, loss_fn = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-7), nn.CrossEntropyLoss()

    def step(ids, labels):
        optimizer.zero_grad()
        loss = loss_fn(model(torch.from_numpy(ids)), torch.from_numpy(labels))
        loss.backward()
        optimizer.step()

    def validation_step(ids, labels):  # as Keras's test_on_batch: the loss and the accuracy, no dropout
        with torch.no_grad():
            logits = model.eval()(torch.from_numpy(ids))
            labels = torch.from_numpy(labels)
            return loss_fn(logits, labels).item(), (logits.argmax(1) == labels).float().mean().item()
    return validation_step if validation else step, \
        f"PyTorch {torch.__version__}, threads: {torch.get_num_threads()}{', heads of 32' if keras_heads else ''}"


def cpu_flags() -> str:
    """The vector extensions the CPU reports that matter to BLAS kernels (AVX2, AVX-512 ...)."""
    try:
        with open("/proc/cpuinfo") as info:
            flags = next(line.split(":", 1)[1].split() for line in info if line.startswith("flags"))
    except (OSError, StopIteration):
        return "flags unknown"
    return " ".join(sorted(f for f in flags if f.startswith(("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "fma"))))


def step_gflop(validation: bool, head_width: int = DIM) -> float:
    """The arithmetic of one step, 2 x multiply-adds: per review the packed q, k, v projection, each head's scores
    and weighted values, the output projection and the feed-forward pair (the rest is small); backward is twice
    forward. head_width 32 for Keras's key_dim (ours, Keras's, "heads of 32"), DIM / HEADS for nn.MultiheadAttention."""
    per_review = 2 * MAXLEN * (DIM * 3 * HEADS * head_width + 2 * HEADS * MAXLEN * head_width + HEADS * head_width * DIM
                               + 2 * DIM * FF)
    return per_review * BATCH * (1 if validation else 3) / 1e9


def product_peak(threads: int, seconds: float = 2.0) -> float:
    """numpy's float32 matrix-multiply rate on `threads` threads, GFLOP/s: the best 1024^3 product after `seconds`
    of them (the virtual CPUs ramp up under load)."""
    from threadpoolctl import threadpool_limits
    a = np.random.default_rng(0).standard_normal((1024, 1024)).astype(np.float32)
    best, start = math.inf, time.perf_counter()
    with threadpool_limits(threads, user_api="blas"):
        while time.perf_counter() - start < seconds:
            t0 = time.perf_counter()
            a @ a
            best = min(best, time.perf_counter() - t0)
    return 2 * 1024 ** 3 / best / 1e9


def spawn(kind: str, args: argparse.Namespace) -> subprocess.Popen:
    return spawn_worker(__file__, ["--worker", kind, *(["--validation"] if args.validation else [])], args.threads,
                        args.keras_python if kind == "keras" else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds; each framework times --steps steps per round")
    parser.add_argument("--steps", type=int, default=20, help="training steps timed per framework and round")
    parser.add_argument("--threads", type=int, default=2, help="threads per framework")
    parser.add_argument("--warmup-seconds", type=float, default=5.0, help="of real steps per worker")
    parser.add_argument("--keras-python", help="a Python with Keras 3 and TensorFlow, e.g. /work/tfvenv/bin/python")
    parser.add_argument("--validation", action="store_true",
                        help="time validation steps (test_on_batch: forward, loss, accuracy) instead of training")
    parser.add_argument("--worker", choices=list(NAMES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        step, version = {"ours": ours, "keras": keras_tf, "torch": pytorch,
                         "torch-keras-heads": functools.partial(pytorch, keras_heads=True)}[args.worker](args.validation)
        return serve([functools.partial(step, *batch) for batch in batches()], version)
    print(f"CPU: {cpu_name()} ({cpu_flags()}); threads per framework: {args.threads}")
    kinds = ["ours", *(["keras"] if args.keras_python else []),
             *(["torch", "torch-keras-heads"] if importlib.util.find_spec("torch") else [])]
    if not args.keras_python:
        print("  (no --keras-python: the Keras 3 on TensorFlow column is skipped)")
    what = "validation steps (test_on_batch)" if args.validation else "training steps"
    print(f"{what} of batch {BATCH} x {MAXLEN}; medians of {args.rounds} rounds of {args.steps} steps, frameworks "
          f"in turns; seconds per epoch = ms per step x {STEPS_PER_EPOCH} steps ({what.split()[0]} only)")
    times = times_in_turns({kind: spawn(kind, args) for kind in kinds}, args.warmup_seconds, args.rounds, args.steps)
    medians = {kind: float(np.median(t)) for kind, t in times.items()}
    for kind in kinds:
        rounds = ", ".join(f"{t:.0f}" for t in times[kind])
        print(f"  {NAMES[kind]:<22} {medians[kind]:8.1f} ms per step  {medians[kind] * STEPS_PER_EPOCH / 1e3:7.1f} s "
              f"per epoch   (rounds: {rounds})")
    for kind in kinds[1:]:
        print(f"  ours/{NAMES[kind]}: {medians['ours'] / medians[kind]:.2f}  (below 1: ours faster)")
    peak = product_peak(args.threads)
    print(f"numpy's float32 product peak on {args.threads} threads, measured after the rounds: {peak:.0f} GFLOP/s; a "
          f"step's arithmetic and the share of that peak each framework runs at:")
    for kind in kinds:
        gflop = step_gflop(args.validation, DIM // HEADS if kind == "torch" else DIM)
        print(f"  {NAMES[kind]:<22} {gflop:6.2f} GFLOP, {gflop / medians[kind] * 1e3 / peak:4.0%} of the peak "
              f"(at the peak: {gflop / peak * 1e3:.1f} ms)")


if __name__ == "__main__":
    main()
