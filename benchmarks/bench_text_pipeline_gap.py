"""Where the text pipeline's test accuracy parts from Keras 3 on TensorFlow (issue 18): the word-embeddings
tutorial trained from the same initial weights on the same batches by four trainers.

For each seed, a worker in the TensorFlow Python (`--peer-python`) runs the tutorial as written and
records its test accuracy, then turns the tutorial's cached training batches (the order its fit sees,
every epoch), the validation and the test reviews into id arrays with the adapted layer, draws the
model's weights from the seed and trains Keras on those arrays (batch 1024, no shuffling). The other
trainers start from that draw on those arrays: Keras 3 on torch, ours, and ours with TensorFlow's rule
for the Embedding's Adam update (below). Keras runs with one thread per pool, ours with one BLAS thread.

    TINYGRAD_EMBED_IMDB=../shared/data/aclImdb_v1.tar.gz OPENBLAS_NUM_THREADS=1 \
        python benchmarks/bench_text_pipeline_gap.py [--seeds 123 1 2] [--epochs 15] [--archive PATH]

With --our-pipeline it runs instead examples/text_pipeline.py as it is (our draw, our batch order) and
with TensorFlow's rule patched in, for each seed, and prints the two test accuracies.

TensorFlow's rule: the gradient of a gather is a tf.IndexedSlices, one row per occurrence of an id,
duplicates not summed. Keras's Adam squares it with a sparse-aware `square`, which squares each
occurrence's row; the sum happens only when the result meets the dense `v`. So an embedding row's second
moment gets the sum of squares of its occurrences' gradients instead of the square of their sum, and a
frequent token's row steps up to sqrt(occurrences) times further than Adam's bound of about lr.
"""
import argparse
import json
import os
import re
import string
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from tinygrad_embed import losses
from tinygrad_embed.functions import Gather
from tinygrad_embed.layers import Dense, Embedding, GlobalAveragePooling1D, Input
from tinygrad_embed.models import Sequential
from tinygrad_embed.optimizers import Adam

VOCAB, LENGTH, BATCH = 10000, 100, 1024
REPLAYED = ("keras-tf", "keras-torch", "ours", "ours-tf-rule")  # the trainers fit on the arrays
HISTORY = ("loss", "accuracy", "val_loss", "val_accuracy")
TRAINERS = {"tutorial": "the tutorial as written (TF)", "keras-tf": "Keras 3, TensorFlow",
            "keras-torch": "Keras 3, torch", "ours": "tinygrad_embed", "ours-tf-rule": "tinygrad_embed, TF's rule"}


def test_accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of sigmoid(logit) > 0.5, i.e. logit > 0, as the tutorial's end-to-end model."""
    return float(((np.asarray(logits).reshape(-1) > 0) == labels).mean())


def history_of(history: dict, epochs: int) -> dict:
    return {k: [float(v) for v in history[k][:epochs]] for k in HISTORY}


def tf_worker(root: str, seed: int, epochs: int, out: str) -> None:
    """The tutorial as written, then its batches as arrays and Keras trained on them from the seed's draw."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    def custom_standardization(input_data):
        lowercase = tf.strings.lower(input_data)
        stripped_html = tf.strings.regex_replace(lowercase, "<br />", " ")
        return tf.strings.regex_replace(stripped_html, "[%s]" % re.escape(string.punctuation), "")

    def compiled(layers):
        model = keras.Sequential(layers)
        model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True), metrics=["accuracy"])
        return model

    def top():  # the tutorial's model after the TextVectorization layer
        return [keras.layers.Embedding(VOCAB, 16), keras.layers.GlobalAveragePooling1D(),
                keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)]

    keras.utils.set_random_seed(seed)
    options = dict(batch_size=BATCH, validation_split=0.2, seed=seed)
    train_ds = keras.utils.text_dataset_from_directory(f"{root}/train", subset="training", **options)
    val_ds = keras.utils.text_dataset_from_directory(f"{root}/train", subset="validation", **options)
    test_ds = keras.utils.text_dataset_from_directory(f"{root}/test", batch_size=BATCH)
    train_ds = train_ds.cache().prefetch(buffer_size=tf.data.AUTOTUNE)
    val_ds = val_ds.cache().prefetch(buffer_size=tf.data.AUTOTUNE)
    vectorize_layer = keras.layers.TextVectorization(standardize=custom_standardization, max_tokens=VOCAB,
                                                     output_mode="int", output_sequence_length=LENGTH)
    vectorize_layer.adapt(train_ds.map(lambda x, y: x))  # also fills train_ds's cache: fit replays this order
    tutorial = compiled([vectorize_layer] + top())
    tutorial_history = tutorial.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=0).history
    pairs = [(tutorial.predict_on_batch(t), l.numpy()) for t, l in test_ds]  # one pass: test_ds reshuffles
    tutorial_accuracy = test_accuracy(np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs]))

    arrays = {}
    for name, ds in (("train", train_ds), ("val", val_ds), ("test", test_ds)):
        batches = [(vectorize_layer(t).numpy(), l.numpy()) for t, l in ds]
        arrays[f"{name}_x"] = np.concatenate([b[0] for b in batches])
        arrays[f"{name}_y"] = np.concatenate([b[1] for b in batches])
    keras.utils.set_random_seed(seed)  # the tutorial's fit drew the same weights: its vectorizer draws none
    model = compiled([keras.Input(shape=(LENGTH,), dtype="int64")] + top())
    initial = [np.array(w, copy=True) for w in model.get_weights()]  # copies: TF may reuse the buffers
    model.train_on_batch(arrays["train_x"][:BATCH], arrays["train_y"][:BATCH])
    first_step = [np.array(w, copy=True) for w in model.get_weights()]
    model = compiled([keras.Input(shape=(LENGTH,), dtype="int64")] + top())  # a fresh Adam
    model.set_weights(initial)
    history = model.fit(arrays["train_x"], arrays["train_y"], batch_size=BATCH, epochs=epochs, shuffle=False,
                        validation_data=(arrays["val_x"], arrays["val_y"]), verbose=0).history
    np.savez(out + ".npz", **arrays, **{f"initial_{i}": w for i, w in enumerate(initial)},
             **{f"first_step_{i}": w for i, w in enumerate(first_step)})
    accuracy = test_accuracy(model.predict(arrays["test_x"], batch_size=BATCH, verbose=0), arrays["test_y"])
    Path(out).write_text(json.dumps({
        "tutorial": {"history": history_of(tutorial_history, epochs), "test_accuracy": tutorial_accuracy},
        "keras-tf": {"history": history_of(history, epochs), "test_accuracy": accuracy,
                     "first_step_table": float(np.abs(first_step[0] - initial[0]).max())}}))


class SquaresGather(Gather):
    """Gather whose backward also sums, per table row, its occurrences' squared gradients."""
    def backward(self, g):
        rows = g.reshape(-1, self.table_shape[1])
        squares = np.zeros(self.table_shape, g.dtype)
        np.add.at(squares, self.flat, rows * rows)
        # an optimizer sees only (value, grad): the squares reach it through the class (one table per model here)
        SquaresEmbedding.last_squares = squares
        return super().backward(g)


class SquaresEmbedding(Embedding):
    """An Embedding that leaves its last step's per-occurrence squared gradients for TFRuleAdam."""
    last_squares: np.ndarray | None = None

    def call(self, inputs):
        return SquaresGather.apply(self.embeddings, inputs)


class TFRuleAdam(Adam):
    """Keras's Adam, but the embedding table's second moment takes the sum of squared per-occurrence
    gradients, as TensorFlow's IndexedSlices make it (see the module's docstring)."""
    def __init__(self, table_shape: tuple) -> None:
        super().__init__()
        self.table_shape = table_shape

    def _update(self, value, grad, slots):
        if value.shape != self.table_shape:
            return super()._update(value, grad, slots)
        t = self.iterations
        step_size = self.learning_rate * np.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)
        m, v = slots["m"], slots["v"]
        m += (grad - m) * (1 - self.beta_1)
        v += (SquaresEmbedding.last_squares - v) * (1 - self.beta_2)
        value -= (step_size * m / (np.sqrt(v) + self.epsilon)).astype(value.dtype, copy=False)


def ours(data: dict, tf_rule: bool):
    def loss(y_true, y_pred):
        return losses.binary_crossentropy(y_true, y_pred, from_logits=True)
    model = Sequential([Input(shape=(LENGTH,), dtype="int64"), (SquaresEmbedding if tf_rule else Embedding)(VOCAB, 16),
                        GlobalAveragePooling1D(), Dense(16, activation="relu"), Dense(1)])
    model.compile(optimizer=TFRuleAdam((VOCAB, 16)) if tf_rule else Adam(), loss=loss, metrics=["accuracy"])
    model.set_weights([data[f"initial_{i}"] for i in range(5)])
    return model


def keras_torch(data: dict):
    os.environ["KERAS_BACKEND"] = "torch"
    import keras
    import torch
    torch.set_num_threads(1)
    model = keras.Sequential([keras.Input(shape=(LENGTH,), dtype="int64"), keras.layers.Embedding(VOCAB, 16),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True), metrics=["accuracy"])
    model.set_weights([data[f"initial_{i}"] for i in range(5)])
    return model


def replay(build, data: dict, epochs: int) -> dict:
    """One step on the first batch (compared with Keras on TensorFlow's), then a fresh model fit on the
    arrays in their order; the history and the test accuracy."""
    model = build()
    model.train_on_batch(data["train_x"][:BATCH], data["train_y"][:BATCH])
    step = [np.asarray(w) for w in model.get_weights()]
    theirs = [data[f"first_step_{i}"] for i in range(5)]
    model = build()
    history = model.fit(data["train_x"], data["train_y"], batch_size=BATCH, epochs=epochs, shuffle=False,
                        validation_data=(data["val_x"], data["val_y"]), verbose=0).history
    return {"history": history_of(history, epochs),
            "first_step_table": float(np.abs(step[0] - data["initial_0"]).max()),
            "first_step_vs_keras_tf": [float(np.abs(a - b).max()) for a, b in zip(step, theirs)],
            "test_accuracy": test_accuracy(model.predict(data["test_x"], batch_size=BATCH, verbose=0),
                                           data["test_y"])}


def own_worker(trainer: str, data_file: str, epochs: int, out: str) -> None:
    data = dict(np.load(data_file))
    build = {"keras-torch": lambda: keras_torch(data), "ours": lambda: ours(data, False),
             "ours-tf-rule": lambda: ours(data, True)}[trainer]
    Path(out).write_text(json.dumps(replay(build, data, epochs)))


def example_worker(rule: str, seed: str, epochs: int, archive: str | None) -> None:
    """examples/text_pipeline.py in this process, its Embedding and Adam swapped for TensorFlow's rule if asked."""
    import text_pipeline
    if rule == "tf":
        text_pipeline.Embedding = SquaresEmbedding
        compile_as_written = Sequential.compile

        def compile_with_tf_rule(model, optimizer="rmsprop", *args, **kwargs):
            swapped = TFRuleAdam((VOCAB, 16)) if optimizer == "adam" else optimizer
            return compile_as_written(model, swapped, *args, **kwargs)
        Sequential.compile = compile_with_tf_rule
    with tempfile.TemporaryDirectory() as out:
        sys.argv = ["text_pipeline.py", "--seed", seed, "--epochs", str(epochs), "--out", out]
        sys.argv += ["--archive", archive] if archive else []
        text_pipeline.main()


def our_pipeline(seeds: list[int], epochs: int, archive: str | None) -> None:
    rules = {"dense": "as written", "tf": "with TensorFlow's rule"}
    rows = {name: [] for name in rules.values()}
    for seed in seeds:
        for rule, name in rules.items():
            command = [sys.executable, __file__, "--epochs", str(epochs), "--example-worker", rule, str(seed)]
            command += ["--archive", archive] if archive else []
            printed = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            rows[name].append(float(re.search(r"test accuracy ([0-9.]+)", printed).group(1)))
        print(f"seed {seed}: examples/text_pipeline.py test accuracy " + ", ".join(
            f"{name} {values[-1]:.4f}" for name, values in rows.items()), flush=True)
    summary(seeds, rows)


def summary(seeds: list[int], rows: dict[str, list[float]]) -> None:
    print(f"test accuracy over seeds {', '.join(map(str, seeds))}:")
    for name, values in rows.items():
        print(f"  {name:32s} median {np.median(values):.4f}, range {min(values):.4f}-{max(values):.4f}")


def spread(a: list[float], b: list[float]) -> float:
    return max(abs(x - y) for x, y in zip(a, b))


def report(seed: int, results: dict) -> None:
    tutorial, keras_tf = results["tutorial"], results["keras-tf"]
    print(f"seed {seed}: the tutorial as written, test accuracy {tutorial['test_accuracy']:.4f}; on its "
          f"batches as arrays {keras_tf['test_accuracy']:.4f} (per-epoch loss apart by at most "
          f"{spread(tutorial['history']['loss'], keras_tf['history']['loss']):.1e})")
    print(f"  {'trainer':28s} {'test acc':>8s} {'loss e1':>8s} {'last loss':>9s} {'max |dloss| vs TF':>18s} "
          f"{'1st step: table moved':>22s} {'|w - TF w|, table / dense':>26s}")
    for key in REPLAYED:
        r = results[key]
        loss = r["history"]["loss"]
        moved = f"{r['first_step_table']:.2e}" if "first_step_table" in r else ""
        apart = (f"{r['first_step_vs_keras_tf'][0]:.1e} / {max(r['first_step_vs_keras_tf'][1:]):.1e}"
                 if "first_step_vs_keras_tf" in r else "")
        print(f"  {TRAINERS[key]:28s} {r['test_accuracy']:8.4f} {loss[0]:8.4f} {loss[-1]:9.4f} "
              f"{spread(loss, keras_tf['history']['loss']):18.1e} {moved:>22s} {apart:>26s}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[123, 1, 2])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--peer-python", default="/work/tfvenv/bin/python")
    parser.add_argument("--archive", default=None, help="the IMDB archive or an extracted aclImdb/ folder")
    parser.add_argument("--tf-worker", nargs=3, metavar=("ROOT", "SEED", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--our-pipeline", action="store_true", help="our example as written and with TF's rule")
    parser.add_argument("--own-worker", nargs=3, metavar=("TRAINER", "DATA", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--example-worker", nargs=2, metavar=("RULE", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
    if args.tf_worker:
        root, seed, out = args.tf_worker
        tf_worker(root, int(seed), args.epochs, out)
        return
    if args.own_worker:
        own_worker(*args.own_worker[:2], args.epochs, args.own_worker[2])
        return
    if args.example_worker:
        example_worker(*args.example_worker, args.epochs, args.archive)
        return
    if args.our_pipeline:
        our_pipeline(args.seeds, args.epochs, args.archive)
        return
    from text_pipeline import review_folders  # the example's folders, extracted once from the archive
    root = str(review_folders(args.archive))
    worker = [__file__, "--epochs", str(args.epochs)]
    accuracies = {key: [] for key in ("tutorial", *REPLAYED)}
    with tempfile.TemporaryDirectory() as scratch:
        for seed in args.seeds:  # one training at a time: the machine's cores are shared
            out = os.path.join(scratch, f"tf{seed}")
            subprocess.run([args.peer_python, *worker, "--tf-worker", root, str(seed), out], check=True)
            results = json.loads(Path(out).read_text())
            for trainer in ("keras-torch", "ours", "ours-tf-rule"):
                mine = os.path.join(scratch, f"{trainer}{seed}")
                subprocess.run([sys.executable, *worker, "--own-worker", trainer, out + ".npz", mine], check=True)
                results[trainer] = json.loads(Path(mine).read_text())
            report(seed, results)
            for key, values in accuracies.items():
                values.append(results[key]["test_accuracy"])
    summary(args.seeds, {TRAINERS[key]: values for key, values in accuracies.items()})


if __name__ == "__main__":
    main()
