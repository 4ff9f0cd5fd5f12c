"""TensorFlow's "Word embeddings" tutorial without TensorFlow: the IMDB review folders read with
text_dataset_from_directory, a TextVectorization adapted on the training text and placed inside the
model, fit on datasets, then a model that predicts on raw strings, and the embedding projector's files.

    TextVectorization(10000, output_sequence_length=100) -> Embedding(10000, 16) -> GlobalAveragePooling1D
    -> Dense(16, relu) -> Dense(1), binary cross-entropy on logits, Adam, batch 1024, seed 123

It prints the seconds to adapt, the seconds per epoch and the test accuracy of the end-to-end model.

    python examples/text_pipeline.py [--epochs 15] [--seed 123] [--out DIR] [--archive PATH]

The review folders (train/ and test/, pos/ and neg/ only: the tutorials drop train/unsup/) are
extracted once from the archive the IMDB loader finds (TINYGRAD_EMBED_IMDB, the cache, or --archive)
into the cache directory.
"""
import argparse
import re
import string
import tarfile
import time
from pathlib import Path

import numpy as np

from imdb_lstm import EpochTimer  # the per-epoch clock of the seed example (this script's folder is on sys.path)
from tinygrad_embed import losses
from tinygrad_embed.datasets import imdb
from tinygrad_embed.layers import Activation, Dense, Embedding, GlobalAveragePooling1D, TextVectorization
from tinygrad_embed.models import Sequential
from tinygrad_embed.utils import AUTOTUNE, set_random_seed, text_dataset_from_directory

VOCAB_SIZE, SEQUENCE_LENGTH, BATCH, SEED = 10000, 100, 1024, 123
FOLDERS = ("train/pos/", "train/neg/", "test/pos/", "test/neg/")
PUNCTUATION = re.compile(f"[{re.escape(string.punctuation)}]")


def review_folders(archive: str | None) -> Path:
    """aclImdb/ with the four labelled folders: the extracted archive, or the folder found as it is."""
    found = imdb.locate(archive)
    if found.is_dir():
        return found
    target = imdb.cache_dir() / "aclImdb-folders"
    done = target / "extracted"
    if not done.exists():
        with tarfile.open(found) as tar:
            wanted = [m for m in tar.getmembers() if m.isfile() and any(f"aclImdb/{f}" in m.name for f in FOLDERS)]
            tar.extractall(target, members=wanted, filter="data")
        done.write_text("train/ and test/ pos/ and neg/ reviews of " + str(found))
    return target / "aclImdb"


def custom_standardization(texts: np.ndarray) -> np.ndarray:
    """The tutorial's: lower case, "<br />" removed, punctuation removed (a numpy array of str in and out)."""
    return np.array([PUNCTUATION.sub("", text.lower().replace("<br />", " ")) for text in texts.tolist()], object)


def binary_crossentropy_from_logits(y_true, y_pred):
    return losses.binary_crossentropy(y_true, y_pred, from_logits=True)


def write_projector_files(vocabulary: list[str], table: np.ndarray, out: Path) -> None:
    """vectors.tsv and metadata.tsv for projector.tensorflow.org, skipping the padding id 0 as the tutorial."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "vectors.tsv", "w", encoding="utf-8") as vectors, \
            open(out / "metadata.tsv", "w", encoding="utf-8") as metadata:
        for index, word in enumerate(vocabulary[1:], start=1):
            vectors.write("\t".join(str(v) for v in table[index]) + "\n")
            metadata.write(word + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=SEED, help="the tutorial's 123 by default: weights, shuffling, split")
    parser.add_argument("--out", default="text_pipeline_out", help="where the projector files go")
    parser.add_argument("--archive", default=None, help="the IMDB archive or an extracted aclImdb/ folder")
    args = parser.parse_args()
    root = review_folders(args.archive)
    set_random_seed(args.seed)
    train_ds = text_dataset_from_directory(root / "train", batch_size=BATCH, validation_split=0.2,
                                           subset="training", seed=args.seed)
    val_ds = text_dataset_from_directory(root / "train", batch_size=BATCH, validation_split=0.2,
                                         subset="validation", seed=args.seed)
    test_ds = text_dataset_from_directory(root / "test", batch_size=BATCH)
    train_ds, val_ds = train_ds.cache().prefetch(AUTOTUNE), val_ds.cache().prefetch(AUTOTUNE)

    vectorize_layer = TextVectorization(standardize=custom_standardization, max_tokens=VOCAB_SIZE,
                                        output_mode="int", output_sequence_length=SEQUENCE_LENGTH)
    start = time.perf_counter()
    vectorize_layer.adapt(train_ds.map(lambda x, y: x))
    print(f"adapt: {time.perf_counter() - start:.1f} s for {VOCAB_SIZE} tokens", flush=True)

    model = Sequential([vectorize_layer, Embedding(VOCAB_SIZE, 16, name="embedding"), GlobalAveragePooling1D(),
                        Dense(16, activation="relu"), Dense(1)])
    model.compile(optimizer="adam", loss=binary_crossentropy_from_logits, metrics=["accuracy"])
    timer = EpochTimer()
    model.fit(train_ds, validation_data=val_ds, epochs=args.epochs, callbacks=[timer], verbose=2)

    end_to_end = Sequential([model, Activation("sigmoid")])  # probabilities from raw strings
    end_to_end.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    loss, accuracy = end_to_end.evaluate(test_ds, verbose=0)
    print(f"test accuracy {accuracy:.4f} (loss {loss:.4f}); seconds per epoch: "
          + ", ".join(f"{s:.1f}" for s in timer.seconds), flush=True)
    examples = ["The movie was great!", "The movie was okay.", "The movie was terrible..."]
    for text, probability in zip(examples, end_to_end.predict(examples)[:, 0]):
        print(f"{probability:.3f}  {text}")
    table = model.get_layer("embedding").get_weights()[0]
    write_projector_files(vectorize_layer.get_vocabulary(), table, Path(args.out))
    print(f"projector files: {Path(args.out) / 'vectors.tsv'}, {Path(args.out) / 'metadata.tsv'}")


if __name__ == "__main__":
    main()
