"""The IMDB training of examples/imdb_lstm.py, in tinygrad_embed and in PyTorch, side by side.

Same data (top 5,000 words, padded to 500), same model and initial weights (Keras's initialisation,
copied into PyTorch's modules), same batch order, batch 64, Adam. Each framework runs in its own
worker process, so that peak memory (RSS) is its own; the parent runs their epochs in turn
(A B, then B A, ...) and reports time per epoch, peak RSS and final test accuracy, with ratios.

    TINYGRAD_EMBED_IMDB=../shared/data/aclImdb_v1.tar.gz python benchmarks/bench_imdb.py [--epochs 3]
"""
import argparse
import json
import subprocess
import sys
import time

import numpy as np

SEED, TOP_WORDS, MAXLEN, BATCH = 7, 5000, 500, 64


def load():
    from tinygrad_embed.datasets import imdb
    from tinygrad_embed.preprocessing.sequence import pad_sequences
    (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=TOP_WORDS)
    return (pad_sequences(x_train, maxlen=MAXLEN), y_train.astype(np.float32),
            pad_sequences(x_test, maxlen=MAXLEN), y_test.astype(np.float32))


def keras_model():
    from tinygrad_embed.layers import LSTM, Dense, Embedding
    from tinygrad_embed.models import Sequential
    from tinygrad_embed.utils import set_random_seed
    set_random_seed(SEED)
    model = Sequential([Embedding(TOP_WORDS, 32, input_length=MAXLEN), LSTM(100), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.build()
    return model


class Ours:
    def __init__(self):
        self.model = keras_model()
        self.model.optimizer.build(self.model.trainable_weights)

    def train(self, x, y):
        self.model._train_step(x, y)

    def accuracy(self, x, y):
        return self.model.evaluate(x, y, batch_size=64, verbose=0)[1]


class PyTorch:
    def __init__(self):
        import torch
        torch.set_num_threads(2)
        self.torch = torch
        embedding_table, kernel, recurrent, bias, dense_kernel, dense_bias = keras_model().get_weights()
        self.embedding, self.lstm = torch.nn.Embedding(TOP_WORDS, 32), torch.nn.LSTM(32, 100, batch_first=True)
        self.head = torch.nn.Linear(100, 1)
        with torch.no_grad():  # the same starting point as ours: PyTorch keeps transposed kernels, two biases
            for parameter, value in [(self.embedding.weight, embedding_table), (self.lstm.weight_ih_l0, kernel.T),
                                     (self.lstm.weight_hh_l0, recurrent.T), (self.lstm.bias_ih_l0, bias),
                                     (self.lstm.bias_hh_l0, np.zeros_like(bias)), (self.head.weight, dense_kernel.T),
                                     (self.head.bias, dense_bias)]:
                parameter.copy_(torch.from_numpy(np.ascontiguousarray(value)))
        parameters = [*self.embedding.parameters(), *self.lstm.parameters(), *self.head.parameters()]
        self.optimizer = torch.optim.Adam(parameters, lr=0.001, eps=1e-7)
        self.loss = torch.nn.BCEWithLogitsLoss()

    def logits(self, x):
        _, (h, _) = self.lstm(self.embedding(self.torch.from_numpy(x.astype(np.int64))))
        return self.head(h[0])[:, 0]

    def train(self, x, y):
        self.optimizer.zero_grad()
        self.loss(self.logits(x), self.torch.from_numpy(y)).backward()
        self.optimizer.step()

    def accuracy(self, x, y):
        with self.torch.no_grad():
            hits = [((self.logits(x[i:i + BATCH]) > 0).numpy() == (y[i:i + BATCH] > 0.5)) for i in range(0, len(x), BATCH)]
        return float(np.concatenate(hits).mean())


def peak_rss_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024


def worker(kind):
    """Answers the parent's commands, one JSON line each: epoch N, accuracy, rss."""
    x_train, y_train, x_test, y_test = load()
    trainer = Ours() if kind == "ours" else PyTorch()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command["do"] == "epoch":
            order = np.random.default_rng(SEED + command["epoch"]).permutation(len(x_train))
            start = time.perf_counter()
            for i in range(0, len(order), BATCH):
                rows = order[i:i + BATCH]
                trainer.train(x_train[rows], y_train[rows])
            answer = {"seconds": time.perf_counter() - start}
        elif command["do"] == "accuracy":
            answer = {"accuracy": trainer.accuracy(x_test, y_test)}
        else:
            answer = {"rss_mb": peak_rss_mb()}
        print(json.dumps(answer), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--worker", choices=["ours", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker)
    workers = {kind: subprocess.Popen([sys.executable, __file__, "--worker", kind], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True) for kind in ("ours", "torch")}

    def ask(kind, **command):
        workers[kind].stdin.write(json.dumps(command) + "\n")
        workers[kind].stdin.flush()
        return json.loads(workers[kind].stdout.readline())
    for process in workers.values():
        json.loads(process.stdout.readline())  # both have loaded the data and built the model
    seconds = {"ours": [], "torch": []}
    for epoch in range(args.epochs):
        for kind in (("ours", "torch") if epoch % 2 == 0 else ("torch", "ours")):
            seconds[kind].append(ask(kind, do="epoch", epoch=epoch)["seconds"])
        print(f"epoch {epoch + 1}: tinygrad_embed {seconds['ours'][-1]:.1f} s, PyTorch {seconds['torch'][-1]:.1f} s, "
              f"ratio {seconds['ours'][-1] / seconds['torch'][-1]:.2f}", flush=True)
    accuracy = {kind: ask(kind, do="accuracy")["accuracy"] for kind in workers}
    rss = {kind: ask(kind, do="rss")["rss_mb"] for kind in workers}
    for process in workers.values():
        process.stdin.close()
        process.wait()
    ours, theirs = np.median(seconds["ours"]), np.median(seconds["torch"])
    print(f"median epoch: tinygrad_embed {ours:.1f} s, PyTorch {theirs:.1f} s, ratio {ours / theirs:.2f}")
    print(f"peak RSS: tinygrad_embed {rss['ours']:.0f} MB, PyTorch {rss['torch']:.0f} MB, "
          f"ratio {rss['ours'] / rss['torch']:.2f}")
    print(f"test accuracy after {args.epochs} epochs: tinygrad_embed {accuracy['ours']:.4f}, "
          f"PyTorch (same initial weights) {accuracy['torch']:.4f}")


if __name__ == "__main__":
    main()
