"""The seed example's test accuracy as a distribution over seeds, not one run: trains
examples/imdb_lstm.py once per seed, each in its own process, and prints every seed's accuracy and
their median, mean, standard deviation, min and max, with the CPU they were measured on (BLAS picks
kernels per CPU, so the same seed gives different results on different machines).

    TINYGRAD_EMBED_IMDB=../shared/data/aclImdb_v1.tar.gz python benchmarks/accuracy.py [--seeds 1 2 3 4 5]
        [--mask-zero] [--epochs 3] [--recipe best] [--keras-python PYTHON]

--keras-python names a Python with Keras 3 and tensorflow-cpu: the same model and recipe (the seed
recipe only) then trains in Keras 3 on TensorFlow, on this project's arrays (exported once), seed by seed.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import cpu_name

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "imdb_lstm.py"


def last_accuracy(command: list[str], seed: int) -> float:
    """Run a trainer; its last line is "test accuracy: 0.XXXX". Its line of seconds per epoch is echoed."""
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    lines = result.stdout.strip().splitlines()
    print(*(f"seed {seed}: {line}" for line in lines if line.startswith("seconds per epoch")), sep="\n", flush=True)
    last = lines[-1]
    if not last.startswith("test accuracy: "):
        raise RuntimeError(f"seed {seed}: expected a last line 'test accuracy: ...', got {last!r}")
    return float(last.split(": ")[1])


def export_arrays(path: str, train_samples: int | None = None) -> None:
    """The example's arrays (the project's loader, padded to 500), for the peer to train on; train_samples
    keeps the first N training reviews, as the example's --train-samples does."""
    import numpy as np

    from tinygrad_embed.datasets import imdb
    from tinygrad_embed.preprocessing import sequence
    (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=5000)
    x_train, y_train = x_train[:train_samples], y_train[:train_samples]
    np.savez(path, x_train=sequence.pad_sequences(x_train, maxlen=500), y_train=y_train,
             x_test=sequence.pad_sequences(x_test, maxlen=500), y_test=y_test)


def keras_worker(arrays: str, seed: int, epochs: int, mask_zero: bool) -> None:
    """The example's seed recipe in Keras 3 (run under the peer's Python, TensorFlow backend)."""
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import keras
    import numpy as np
    data = np.load(arrays)
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((500,)), keras.layers.Embedding(5000, 32, mask_zero=mask_zero),
                              keras.layers.LSTM(100), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(data["x_train"], data["y_train"], epochs=epochs, batch_size=64, verbose=2,
              validation_data=(data["x_test"][:5000], data["y_test"][:5000]))
    _, accuracy = model.evaluate(data["x_test"], data["y_test"], batch_size=64, verbose=0)
    print(f"test accuracy: {accuracy:.4f}")


def report(name: str, accuracies: list[float]) -> None:
    spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
    print(f"{name}, {len(accuracies)} seeds: median {statistics.median(accuracies):.4f}, "
          f"mean {statistics.mean(accuracies):.4f}, standard deviation {spread:.4f}, "
          f"min {min(accuracies):.4f}, max {max(accuracies):.4f}", flush=True)


def main() -> None:
    if sys.argv[1:2] == ["--keras-worker"]:
        arrays, seed, epochs, mask = sys.argv[2:6]
        return keras_worker(arrays, int(seed), int(epochs), mask == "mask")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--epochs", type=int, default=None, help="the example's default when not given")
    parser.add_argument("--mask-zero", action="store_true")
    parser.add_argument("--recipe", choices=["seed", "best"], default="seed")
    parser.add_argument("--keras-python", help="a Python with keras and tensorflow-cpu: train Keras 3 too")
    args = parser.parse_args()
    if args.keras_python and args.recipe != "seed":
        parser.error("--keras-python compares the seed recipe only")
    options = ["--recipe", args.recipe] + (["--epochs", str(args.epochs)] if args.epochs else []) \
        + (["--mask-zero"] if args.mask_zero else [])
    print(f"CPU: {cpu_name()}; examples/imdb_lstm.py {' '.join(options)}", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        arrays = os.path.join(scratch, "imdb.npz")
        if args.keras_python:
            export_arrays(arrays)
        ours, peer = [], []
        for seed in args.seeds:  # the two frameworks in turn, each seed in its own processes
            ours.append(last_accuracy([sys.executable, str(EXAMPLE), "--seed", str(seed), *options], seed))
            print(f"seed {seed}: tinygrad_embed test accuracy {ours[-1]:.4f}", flush=True)
            if args.keras_python:
                worker = [args.keras_python, __file__, "--keras-worker", arrays, str(seed),
                          str(args.epochs or 3), "mask" if args.mask_zero else "dense"]
                peer.append(last_accuracy(worker, seed))
                print(f"seed {seed}: Keras 3 on TensorFlow test accuracy {peer[-1]:.4f}", flush=True)
    report("tinygrad_embed", ours)
    if peer:
        report("Keras 3 on TensorFlow", peer)


if __name__ == "__main__":
    main()
