"""TextVectorization on the 25,000 IMDB training reviews: adapt (max_tokens=10,000), then vectorize them
all to length 500, here and in Keras 3's layer on TensorFlow, which must run in a Python that has
TensorFlow (this project's does not): by default /work/tfvenv/bin/python, or --peer-python.

Each side runs in a worker process of its own, one after the other, `--repeats` times; the medians
are compared, and the two layers' vocabularies and ids must be equal.

    TINYGRAD_EMBED_IMDB=../shared/data/aclImdb_v1.tar.gz python benchmarks/bench_text_vectorization.py \
        [--repeats 3] [--peer-python /work/tfvenv/bin/python]

With --keras-tutorial it runs instead, in the peer Python, the Keras 3 + TensorFlow code of the
tutorial that examples/text_pipeline.py follows, on the same review folders, and prints its seconds
per epoch and test accuracy (the peer of the example's numbers in RESULTS.md).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MAX_TOKENS, LENGTH = 10000, 500


def run(texts: np.ndarray, layer_class) -> tuple[float, float, list[str], np.ndarray]:
    """Seconds to adapt, seconds to vectorize, the vocabulary and the ids."""
    layer = layer_class(max_tokens=MAX_TOKENS, output_sequence_length=LENGTH)
    start = time.perf_counter()
    layer.adapt(texts)
    adapted = time.perf_counter()
    ids = layer(texts)
    done = time.perf_counter()
    ids = ids.data if hasattr(ids, "data") and isinstance(ids.data, np.ndarray) else np.asarray(ids)
    return adapted - start, done - adapted, layer.get_vocabulary(), ids


def worker(side: str, texts_file: str, out_file: str) -> None:
    texts = np.array(json.loads(Path(texts_file).read_text(encoding="utf-8")), dtype=object)
    if side == "keras":
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        os.environ["KERAS_BACKEND"] = "tensorflow"
        import keras
        layer_class = keras.layers.TextVectorization
    else:
        from tinygrad_embed.layers import TextVectorization as layer_class
    adapt, call, vocabulary, ids = run(texts, layer_class)
    np.save(out_file + ".npy", ids)
    Path(out_file).write_text(json.dumps({"adapt": adapt, "call": call, "vocabulary": vocabulary}))


def keras_tutorial(root: str, epochs: int) -> None:
    """TensorFlow's "Word embeddings" tutorial as written there (Keras 3 on TensorFlow)."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import re
    import string

    import keras
    import tensorflow as tf

    def custom_standardization(input_data):
        lowercase = tf.strings.lower(input_data)
        stripped_html = tf.strings.regex_replace(lowercase, "<br />", " ")
        return tf.strings.regex_replace(stripped_html, "[%s]" % re.escape(string.punctuation), "")

    keras.utils.set_random_seed(123)
    options = dict(batch_size=1024, validation_split=0.2, seed=123)
    train_ds = keras.utils.text_dataset_from_directory(f"{root}/train", subset="training", **options)
    val_ds = keras.utils.text_dataset_from_directory(f"{root}/train", subset="validation", **options)
    test_ds = keras.utils.text_dataset_from_directory(f"{root}/test", batch_size=1024)
    train_ds = train_ds.cache().prefetch(buffer_size=tf.data.AUTOTUNE)
    val_ds = val_ds.cache().prefetch(buffer_size=tf.data.AUTOTUNE)
    vectorize_layer = keras.layers.TextVectorization(standardize=custom_standardization, max_tokens=10000,
                                                     output_mode="int", output_sequence_length=100)
    start = time.perf_counter()
    vectorize_layer.adapt(train_ds.map(lambda x, y: x))
    print(f"adapt: {time.perf_counter() - start:.1f} s", flush=True)
    model = keras.Sequential([vectorize_layer, keras.layers.Embedding(10000, 16, name="embedding"),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True), metrics=["accuracy"])
    seconds = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.start)
    model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=[Timer()], verbose=2)
    # Keras cannot nest this model (built on strings without an Input) in Sequential([model, Activation]):
    # "Cast string to float is not supported". The same accuracy, sigmoid(logit) > 0.5, computed by hand:
    hits = total = 0
    for texts, labels in test_ds:
        probabilities = 1 / (1 + np.exp(-model.predict_on_batch(texts)[:, 0]))
        hits += int(((probabilities > 0.5) == labels.numpy()).sum())
        total += len(labels)
    print(f"test accuracy {hits / total:.4f}; seconds per epoch: " + ", ".join(f"{s:.1f}" for s in seconds))


def machine() -> str:
    """The CPU, its cores, the load (other processes share them) and the date: what the timings depend on."""
    cpu = platform.processor() or platform.machine()
    if Path("/proc/cpuinfo").exists():
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"
    return f"{cpu}, {os.cpu_count()} cores, load average {load}, {time.strftime('%Y-%m-%d %H:%M %Z')}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer-python", default="/work/tfvenv/bin/python")
    parser.add_argument("--keras-tutorial", action="store_true", help="run the tutorial in Keras on TensorFlow")
    parser.add_argument("--epochs", type=int, default=15, help="the tutorial's epochs (with --keras-tutorial)")
    parser.add_argument("--worker", nargs=3, metavar=("SIDE", "TEXTS", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--tutorial-worker", metavar="ROOT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    if args.tutorial_worker:
        keras_tutorial(args.tutorial_worker, args.epochs)
        return
    if args.keras_tutorial:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
        from text_pipeline import review_folders  # the example's folders, extracted once from the archive
        subprocess.run([args.peer_python, __file__, "--tutorial-worker", str(review_folders(None)),
                        "--epochs", str(args.epochs)], check=True)
        return
    from tinygrad_embed.datasets import imdb
    (train_texts, _), _ = imdb.load_texts()
    with tempfile.TemporaryDirectory() as scratch:
        texts_file = os.path.join(scratch, "texts.json")
        Path(texts_file).write_text(json.dumps(train_texts), encoding="utf-8")
        pythons = {"tinygrad_embed": sys.executable, "keras (TensorFlow)": args.peer_python}
        sides = {"tinygrad_embed": "ours", "keras (TensorFlow)": "keras"}
        results = {name: [] for name in pythons}
        for _ in range(args.repeats):
            for name, python in pythons.items():
                out = os.path.join(scratch, sides[name])
                subprocess.run([python, __file__, "--worker", sides[name], texts_file, out], check=True,
                               cwd=Path(__file__).resolve().parents[1])
                results[name].append(json.loads(Path(out).read_text()))
        ours_ids, keras_ids = np.load(os.path.join(scratch, "ours.npy")), np.load(os.path.join(scratch, "keras.npy"))
    same_vocabulary = results["tinygrad_embed"][-1]["vocabulary"] == results["keras (TensorFlow)"][-1]["vocabulary"]
    print(f"{len(train_texts)} IMDB training reviews, max_tokens={MAX_TOKENS}, output_sequence_length={LENGTH}; "
          f"medians of {args.repeats} runs, each in a fresh process")
    print(f"  {machine()}")
    medians = {}
    for name, runs in results.items():
        medians[name] = {k: float(np.median([r[k] for r in runs])) for k in ("adapt", "call")}
        print(f"  {name:20s} adapt {medians[name]['adapt']:6.2f} s   vectorize {medians[name]['call']:6.2f} s")
    ours, theirs = medians["tinygrad_embed"], medians["keras (TensorFlow)"]
    print(f"  ratio (ours / Keras, below 1 is faster): adapt {ours['adapt'] / theirs['adapt']:.2f}, "
          f"vectorize {ours['call'] / theirs['call']:.2f}, "
          f"both {(ours['adapt'] + ours['call']) / (theirs['adapt'] + theirs['call']):.2f}")
    print(f"  same vocabulary: {same_vocabulary}; same ids: {np.array_equal(ours_ids, keras_ids)}")


if __name__ == "__main__":
    main()
