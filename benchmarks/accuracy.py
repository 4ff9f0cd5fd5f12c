"""The seed example's test accuracy as a distribution over seeds, not one run: trains
examples/imdb_lstm.py once per seed, each in its own process, and prints every seed's accuracy and
their median, mean, standard deviation, min and max, with the CPU they were measured on (BLAS picks
kernels per CPU, so the same seed gives different results on different machines).

    TINYGRAD_EMBED_IMDB=../shared/data/aclImdb_v1.tar.gz python benchmarks/accuracy.py [--seeds 1 2 3 4 5]
        [--mask-zero] [--epochs 3]
"""
import argparse
import statistics
import subprocess
import sys
from pathlib import Path

from common import cpu_name

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "imdb_lstm.py"


def test_accuracy(seed: int, options: list[str]) -> float:
    """Train the example with this seed; its last line is "test accuracy: 0.XXXX"."""
    result = subprocess.run([sys.executable, str(EXAMPLE), "--seed", str(seed), *options],
                            capture_output=True, text=True, check=True)
    last = result.stdout.strip().splitlines()[-1]
    if not last.startswith("test accuracy: "):
        raise RuntimeError(f"seed {seed}: expected a last line 'test accuracy: ...', got {last!r}")
    return float(last.split(": ")[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--mask-zero", action="store_true")
    args = parser.parse_args()
    options = ["--epochs", str(args.epochs)] + (["--mask-zero"] if args.mask_zero else [])
    print(f"CPU: {cpu_name()}; examples/imdb_lstm.py {' '.join(options)}", flush=True)
    accuracies = []
    for seed in args.seeds:
        accuracies.append(test_accuracy(seed, options))
        print(f"seed {seed}: test accuracy {accuracies[-1]:.4f}", flush=True)
    spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
    print(f"{len(accuracies)} seeds: median {statistics.median(accuracies):.4f}, mean {statistics.mean(accuracies):.4f}, "
          f"standard deviation {spread:.4f}, min {min(accuracies):.4f}, max {max(accuracies):.4f}")


if __name__ == "__main__":
    main()
