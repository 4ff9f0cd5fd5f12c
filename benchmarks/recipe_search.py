"""Choose a training recipe for the seed model by validation alone: each candidate trains on the first 90%
of the training reviews, with ReduceLROnPlateau and EarlyStopping(restore_best_weights) on the last 10%
(validation_split=0.1, as `examples/imdb_lstm.py --recipe best`), and this prints the validation loss and
accuracy of the epoch whose weights are kept. The test reviews are never evaluated here.

    TINYGRAD_EMBED_IMDB=../shared/data/aclImdb_v1.tar.gz python benchmarks/recipe_search.py \
        --candidates plain dropout input-dropout batch-32 adam-5e-4 --seeds 1 2 --jobs 2

Each (candidate, seed) runs in its own process; `--jobs 2` keeps two running at once, each pinned to a CPU of its own.
"""
import argparse
import os
import queue
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from common import cpu_name

# Each candidate keeps the architecture (Embedding(5000, 32, mask_zero=True) -> LSTM(100) -> Dense(1, sigmoid)):
# name -> (LSTM's keyword arguments, fit's batch size, Adam's learning rate). LSTM dropout only acts while
# training: it is Keras's own IMDB example's regulariser, and so is its batch of 32.
CANDIDATES = {
    "plain": ({}, 64, 1e-3),
    "dropout": ({"dropout": 0.2, "recurrent_dropout": 0.2}, 64, 1e-3),
    "input-dropout": ({"dropout": 0.2}, 64, 1e-3),
    "batch-32": ({}, 32, 1e-3),
    "adam-5e-4": ({}, 64, 5e-4),
}


def worker(candidate: str, seed: int) -> None:
    from tinygrad_embed.callbacks import EarlyStopping, ReduceLROnPlateau
    from tinygrad_embed.datasets import imdb
    from tinygrad_embed.layers import LSTM, Dense, Embedding
    from tinygrad_embed.models import Sequential
    from tinygrad_embed.optimizers import Adam
    from tinygrad_embed.preprocessing import sequence
    from tinygrad_embed.utils import set_random_seed

    lstm_options, batch_size, learning_rate = CANDIDATES[candidate]
    set_random_seed(seed)
    (x_train, y_train), _ = imdb.load_data(num_words=5000)  # the test split is left untouched
    x_train = sequence.pad_sequences(x_train, maxlen=500)
    model = Sequential([Embedding(5000, 32, input_length=500, mask_zero=True), LSTM(100, **lstm_options),
                        Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=Adam(learning_rate=learning_rate), metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=20, batch_size=batch_size, validation_split=0.1, verbose=0,
                        callbacks=[ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_lr=1e-5),
                                   EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)]).history
    kept = min(range(len(history["val_loss"])), key=history["val_loss"].__getitem__)
    print(f"{candidate} seed {seed}: kept epoch {kept + 1} of {len(history['val_loss'])}, "
          f"val_loss {history['val_loss'][kept]:.4f}, val_accuracy {history['val_accuracy'][kept]:.4f}", flush=True)


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        return worker(sys.argv[2], int(sys.argv[3]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", nargs="+", choices=list(CANDIDATES), default=list(CANDIDATES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, each pinned to one CPU when above 1")
    args = parser.parse_args()
    print(f"CPU: {cpu_name()}", flush=True)
    runs = [(candidate, seed) for seed in args.seeds for candidate in args.candidates]
    free_cpus = queue.Queue()
    for cpu in sorted(os.sched_getaffinity(0))[:args.jobs]:
        free_cpus.put(cpu)

    def run(candidate: str, seed: int) -> tuple[float, float]:
        cpu = free_cpus.get()  # a run starts as soon as a CPU is free, on that CPU alone
        pin = [] if args.jobs == 1 else ["taskset", "-c", str(cpu)]
        try:
            result = subprocess.run(pin + [sys.executable, __file__, "--worker", candidate, str(seed)],
                                    capture_output=True, text=True)
        finally:
            free_cpus.put(cpu)
        if result.returncode:
            raise RuntimeError(f"{candidate} seed {seed} failed: {result.stderr.strip()[-500:]}")
        line = result.stdout.strip().splitlines()[-1]
        print(line, flush=True)
        fields = dict(part.rsplit(" ", 1) for part in line.split(": ", 1)[1].split(", ")[1:])
        return float(fields["val_loss"]), float(fields["val_accuracy"])

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        per_run = dict(zip(runs, pool.map(lambda r: run(*r), runs)))
    results = {candidate: [per_run[(candidate, seed)] for seed in args.seeds] for candidate in args.candidates}
    for candidate, scores in results.items():
        print(f"{candidate}: median val_loss {statistics.median(s[0] for s in scores):.4f}, "
              f"median val_accuracy {statistics.median(s[1] for s in scores):.4f} over {len(scores)} seeds")


if __name__ == "__main__":
    main()
