"""Issue 32's time to accuracy: `examples/imdb_lstm.py --fast` against Keras 3 on TensorFlow's seed recipe,
each run timed end to end (its process started, the data loaded, trained, all 25,000 test reviews evaluated).

    TINYGRAD_EMBED_IMDB=../shared/data/aclImdb_v1.tar.gz python benchmarks/time_to_accuracy.py \\
        --keras-python /work/tfvenv/bin/python [--seeds 1 2 3 4 5] [--train-samples N]

For each seed, in turns (ours first on odd rounds, Keras first on even ones): ours is the example with
--fast; Keras's is the seed recipe as benchmarks/accuracy.py runs it (3 epochs, batch 64, dense, padded
to 500, validation on the first 5,000 test reviews each epoch, then model.evaluate on all 25,000), on the
project's arrays, exported once to an .npz before the clock starts (the Keras venv has no tinygrad_embed;
our loader's token cache is filled by that same export, so both processes read prepared data). Each
process's wall time is taken by this parent, from its start to its exit: imports, numba's compilation and
TensorFlow's start-up all count. The goal: our median test accuracy at least 0.87, and our median wall
time at most a quarter of Keras's. Run it on a quiet machine: nothing else training.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from accuracy import export_arrays
from common import cpu_name

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent / "examples" / "imdb_lstm.py"


def timed_accuracy(command: list[str], env: dict[str, str]) -> tuple[float, float, list[str]]:
    """(wall seconds, test accuracy, the lines printed) of one run, whose last line is 'test accuracy: 0.XXXX'."""
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    lines = result.stdout.strip().splitlines()
    if not lines or not lines[-1].startswith("test accuracy: "):
        raise RuntimeError(f"expected a last line 'test accuracy: ...', got {lines[-1:]!r}")
    return seconds, float(lines[-1].split(": ")[1]), lines


def summary(name: str, values: list[float], unit: str = "") -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return (f"{name}: median {statistics.median(values):.4g}{unit}, range {min(values):.4g}-{max(values):.4g}{unit}, "
            f"standard deviation {spread:.3g}{unit} ({', '.join(f'{v:.4g}' for v in values)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keras-python", required=True, help="a Python with keras 3 and tensorflow-cpu")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--train-samples", type=int, default=None, help="the first N training reviews (a quick check)")
    args = parser.parse_args()
    subset = ["--train-samples", str(args.train_samples)] if args.train_samples else []
    print(f"CPU: {cpu_name()}; ours: imdb_lstm.py --fast {' '.join(subset)}; Keras 3 on TensorFlow: the seed recipe",
          flush=True)
    times: dict[str, list[float]] = {"ours": [], "keras": []}
    accuracies: dict[str, list[float]] = {"ours": [], "keras": []}
    with tempfile.TemporaryDirectory() as scratch:
        arrays = os.path.join(scratch, "imdb.npz")
        export_arrays(arrays, args.train_samples)
        commands = {"ours": lambda seed: [sys.executable, str(EXAMPLE), "--fast", "--seed", str(seed), *subset],
                    "keras": lambda seed: [args.keras_python, str(HERE / "accuracy.py"), "--keras-worker", arrays,
                                           str(seed), "3", "dense"]}
        environments = {"ours": dict(os.environ), "keras": {**os.environ, "KERAS_BACKEND": "tensorflow"}}
        for round_, seed in enumerate(args.seeds):
            for name in (("ours", "keras") if round_ % 2 == 0 else ("keras", "ours")):
                seconds, accuracy, lines = timed_accuracy(commands[name](seed), environments[name])
                times[name].append(seconds)
                accuracies[name].append(accuracy)
                epochs = next((line for line in lines if line.startswith("seconds per epoch")), "")
                print(f"seed {seed} {name}: {seconds:.1f} s, test accuracy {accuracy:.4f} {epochs}", flush=True)
    for name, title in (("ours", "tinygrad_embed --fast"), ("keras", "Keras 3 on TensorFlow, seed recipe")):
        print(summary(f"{title} wall seconds", times[name], " s"))
        print(summary(f"{title} test accuracy", accuracies[name]))
    ratio = statistics.median(times["ours"]) / statistics.median(times["keras"])
    print(f"ratio of the medians, ours / Keras: {ratio:.3f} (goal: at most 0.25); our median accuracy "
          f"{statistics.median(accuracies['ours']):.4f} (goal: at least 0.87)")


if __name__ == "__main__":
    main()
