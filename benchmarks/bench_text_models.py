"""The three models of examples/text_models.py, in tinygrad_embed and in PyTorch, side by side.

Same data (top 5,000 words, padded or cut to 500, "pre"), batch 64, the example's epochs per model,
the same initial weights (each model built by the example's own build function, its weights copied
into PyTorch's modules), the same batch order (a fixed-seed permutation per epoch), the same optimizer
rules with Keras's defaults (KerasRule below), binary cross-entropy. Only the dropout draws and float
rounding differ. As in bench_imdb.py, each framework runs in a worker process of its own and the
epochs alternate (A B, B A, ...). tinygrad_embed trains through train_on_batch, not fit.

    TINYGRAD_EMBED_IMDB=../shared/data/aclImdb_v1.tar.gz python benchmarks/bench_text_models.py \
        [--model fasttext|cnn_lstm|flatten|all] [--seed 1] [--epochs N] [--threads 2]
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from common import cpu_name  # noqa: E402
from bench_imdb import load  # noqa: E402  (top 5,000 words, padded to 500, as the example)
from text_models import BATCH, MODELS  # noqa: E402

from tinygrad_embed import activations  # noqa: E402
from tinygrad_embed.utils import set_random_seed  # noqa: E402

PROBE = 64  # test reviews on which both models' initial outputs are compared


def keras_model(name: str, seed: int):
    """The example's model, seeded and compiled exactly as examples/text_models.py does."""
    build, optimizer, _ = MODELS[name]
    set_random_seed(seed)
    model = build()
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    model.build()
    return model


class ChannelsLast(nn.Sequential):
    """Keras's Conv1D and MaxPooling1D take (batch, steps, channels), PyTorch's (batch, channels, steps)."""

    def forward(self, x):
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class LastState(nn.LSTM):
    """Keras's LSTM without return_sequences: the last step's h."""

    def forward(self, x):
        return super().forward(x)[1][0][0]


class Mean(nn.Module):
    def forward(self, x):
        return x.mean(dim=1)


def assign(module: nn.Module, **values: np.ndarray) -> nn.Module:
    """Sets the module's parameters by name, and returns it."""
    with torch.no_grad():
        for name, value in values.items():
            getattr(module, name).copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return module


def torch_layer(layer, last: bool) -> nn.Module:
    """A PyTorch module computing what `layer` computes, from its weights, for the layers and options the
    example uses. Dense must be the last layer, a sigmoid, and is returned without it: the loss takes
    logits (BCEWithLogitsLoss, the stable form)."""
    kind, weights = type(layer).__name__, layer.get_weights()
    if kind == "Embedding" and not layer.mask_zero:
        return assign(nn.Embedding(*weights[0].shape), weight=weights[0])
    if kind == "Dropout":
        return nn.Dropout(layer.rate)
    if (kind == "Conv1D" and layer.use_bias and layer.strides == layer.dilation_rate == 1
            and layer.padding != "causal" and layer.activation in (activations.relu, activations.linear)):
        kernel, bias = weights  # Keras (size, in, out), PyTorch (out, in, size)
        conv = nn.Conv1d(kernel.shape[1], kernel.shape[2], kernel.shape[0], padding=layer.padding)
        relu = [nn.ReLU()] if layer.activation is activations.relu else []
        return ChannelsLast(assign(conv, weight=kernel.transpose(2, 1, 0), bias=bias), *relu)
    if kind == "MaxPooling1D" and layer.padding == "valid":
        return ChannelsLast(nn.MaxPool1d(layer.pool_size, layer.strides))
    if (kind == "LSTM" and layer.activation is activations.tanh and layer.recurrent_activation is activations.sigmoid
            and layer.use_bias and not (layer.return_sequences or layer.return_state or layer.go_backwards)):
        kernel, recurrent, bias = weights  # gate order i, f, c, o in both; PyTorch keeps kernels transposed
        lstm = assign(LastState(kernel.shape[0], recurrent.shape[0], batch_first=True), weight_ih_l0=kernel.T,
                      weight_hh_l0=recurrent.T, bias_ih_l0=bias, bias_hh_l0=np.zeros_like(bias))
        # Keras has one bias; a trained second one would get the same gradients and double the bias's steps
        lstm.bias_hh_l0.requires_grad_(False)
        return lstm
    if kind == "GlobalAveragePooling1D":
        return Mean()
    if kind == "Flatten":
        return nn.Flatten()
    if kind == "Dense" and last and layer.activation is activations.sigmoid:
        kernel, bias = weights
        return assign(nn.Linear(*kernel.shape), weight=kernel.T, bias=bias)
    raise ValueError(f"no PyTorch twin for layer {layer.name!r} ({kind}) as configured")


class KerasRule(torch.optim.Optimizer):
    """Keras 3's Adam and RMSprop with their defaults (learning rate 1e-3, epsilon 1e-7):
    adam:    m <- 0.9 m + 0.1 g, v <- 0.999 v + 0.001 g^2, w -= lr sqrt(1 - 0.999^t) / (1 - 0.9^t) m / (sqrt(v) + eps);
    rmsprop: v <- 0.9 v + 0.1 g^2, w -= lr g / sqrt(v + eps).
    torch.optim's Adam adds eps after the bias correction (Keras's eps is its eps times sqrt(1 - 0.999^t)),
    and its RMSprop adds eps outside the root. Not negligible here: the embeddings' gradients are tiny
    (~4e-6 in fasttext, ~1e-4 in flatten), so sqrt(v) is near eps, or v far below it. Measured with
    torch.optim instead: after 5 Adam steps the weights differ by half of how far they moved (with this
    rule, by 1e-7), and after one epoch flatten's test accuracy is 0.8606, against 0.8428 with this rule
    and 0.8428 in tinygrad_embed."""

    def __init__(self, parameters, rule: str, lr: float = 1e-3, eps: float = 1e-7):
        super().__init__(parameters, {"lr": lr, "eps": eps})
        self.rule, self.t = rule, 0
        for p in (p for group in self.param_groups for p in group["params"]):
            self.state[p] = {"m": torch.zeros_like(p) if rule == "adam" else None, "v": torch.zeros_like(p)}

    @torch.no_grad()
    def step(self):
        self.t += 1
        for group in self.param_groups:
            lr, eps = group["lr"], group["eps"]
            for p in group["params"]:
                g, m, v = p.grad, self.state[p]["m"], self.state[p]["v"]
                if self.rule == "rmsprop":
                    v.mul_(0.9).addcmul_(g, g, value=0.1)
                    p.addcdiv_(g, (v + eps).sqrt_(), value=-lr)
                else:
                    m.mul_(0.9).add_(g, alpha=0.1)
                    v.mul_(0.999).addcmul_(g, g, value=0.001)
                    step_size = lr * (1 - 0.999 ** self.t) ** 0.5 / (1 - 0.9 ** self.t)
                    p.addcdiv_(m, v.sqrt().add_(eps), value=-step_size)


class Ours:
    def __init__(self, name: str, seed: int):
        self.model = keras_model(name, seed)
        self.parameters = sum(w.size for w in self.model.trainable_weights)

    def train(self, x, y):
        self.model.train_on_batch(x, y)

    def probabilities(self, x):
        return self.model.predict(x, batch_size=BATCH, verbose=0)[:, 0]


class PyTorch:
    def __init__(self, name: str, seed: int, threads: int):
        torch.set_num_threads(threads)
        torch.manual_seed(seed)  # the dropout draws
        layers = keras_model(name, seed).layers
        self.model = nn.Sequential(*(torch_layer(layer, last=layer is layers[-1]) for layer in layers))
        trained = [p for p in self.model.parameters() if p.requires_grad]
        self.parameters = sum(p.numel() for p in trained)
        self.optimizer = KerasRule(trained, MODELS[name][1])
        self.loss = nn.BCEWithLogitsLoss()

    def logits(self, x):
        return self.model(torch.from_numpy(x.astype(np.int64)))[:, 0]

    def train(self, x, y):
        self.model.train()
        self.optimizer.zero_grad()
        self.loss(self.logits(x), torch.from_numpy(y)).backward()
        self.optimizer.step()

    @torch.no_grad()
    def probabilities(self, x):
        self.model.eval()
        return np.concatenate([torch.sigmoid(self.logits(x[i:i + BATCH])).numpy() for i in range(0, len(x), BATCH)])


def worker(kind: str, name: str, seed: int, threads: int) -> None:
    """Answers the parent's commands, one JSON line each: start, epoch N, accuracy."""
    x_train, y_train, x_test, y_test = load()
    trainer = Ours(name, seed) if kind == "ours" else PyTorch(name, seed, threads)
    for line in sys.stdin:
        command = json.loads(line)
        if command["do"] == "start":
            answer = {"parameters": trainer.parameters, "probe": trainer.probabilities(x_test[:PROBE]).tolist()}
        elif command["do"] == "epoch":
            order = np.random.default_rng([seed, command["epoch"]]).permutation(len(x_train))
            start = time.perf_counter()
            for i in range(0, len(order), BATCH):
                trainer.train(x_train[order[i:i + BATCH]], y_train[order[i:i + BATCH]])
            answer = {"seconds": time.perf_counter() - start}
        else:
            answer = {"accuracy": float(((trainer.probabilities(x_test) > 0.5) == (y_test > 0.5)).mean())}
        print(json.dumps(answer), flush=True)


def compare(name: str, seed: int, epochs: int, threads: int) -> None:
    command = [sys.executable, __file__, "--model", name, "--seed", str(seed), "--threads", str(threads)]
    # the BLAS under numpy (OpenBLAS) and PyTorch's OpenMP read these when they load, in the workers
    environment = os.environ | {variable: str(threads) for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    workers = {kind: subprocess.Popen([*command, "--worker", kind], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True, env=environment) for kind in ("ours", "torch")}

    def ask(kind, **command):
        workers[kind].stdin.write(json.dumps(command) + "\n")
        workers[kind].stdin.flush()
        return json.loads(workers[kind].stdout.readline())
    start = {kind: ask(kind, do="start") for kind in workers}
    gap = np.abs(np.subtract(start["ours"]["probe"], start["torch"]["probe"])).max()
    print(f"{name}: {epochs} epochs, optimizer {MODELS[name][1]}; trainable parameters: tinygrad_embed "
          f"{start['ours']['parameters']:,}, PyTorch {start['torch']['parameters']:,}; initial outputs on "
          f"{PROBE} test reviews differ by at most {gap:.1e}", flush=True)
    seconds = {"ours": [], "torch": []}
    for epoch in range(epochs):
        for kind in (("ours", "torch") if epoch % 2 == 0 else ("torch", "ours")):
            seconds[kind].append(ask(kind, do="epoch", epoch=epoch)["seconds"])
        print(f"  epoch {epoch + 1}: tinygrad_embed {seconds['ours'][-1]:.1f} s, PyTorch {seconds['torch'][-1]:.1f} s",
              flush=True)
    accuracy = {kind: ask(kind, do="accuracy")["accuracy"] for kind in workers}
    for process in workers.values():
        process.stdin.close()
        process.wait()
    ours, theirs = np.median(seconds["ours"]), np.median(seconds["torch"])
    print(f"  median epoch: tinygrad_embed {ours:.1f} s, PyTorch {theirs:.1f} s, ratio {ours / theirs:.2f}")
    print(f"  test accuracy (25,000 reviews): tinygrad_embed {accuracy['ours']:.4f}, PyTorch {accuracy['torch']:.4f}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=[*MODELS, "all"], default="all")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=None, help="override every model's number of epochs")
    parser.add_argument("--threads", type=int, default=2, help="threads of each framework: numpy's BLAS, PyTorch's "
                        "intra-op (default 2, as bench_imdb.py); on a loaded machine 2 can be many times slower than 1")
    parser.add_argument("--worker", choices=["ours", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.model, args.seed, args.threads)
    print(f"CPU: {cpu_name()}; PyTorch {torch.__version__}; {args.threads} thread(s) per framework", flush=True)
    for name in MODELS if args.model == "all" else [args.model]:
        compare(name, args.seed, args.epochs or MODELS[name][2], args.threads)


if __name__ == "__main__":
    main()
