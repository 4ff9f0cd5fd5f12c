"""What GradientStats costs per training step, on the IMDB model: Embedding(5000, 32), LSTM(100),
Dense(1, sigmoid), Adam, batches of 64 reviews x 500 steps (random ids: no dataset needed).

    python benchmarks/bench_gradient_stats.py

Two measurements, each interleaved (common.interleaved_medians):
1. the optimizer's update alone, on the same gradients, plain and wrapped by GradientStats: the
   difference is exactly the callback's work (a copy of every weight, three norms per weight);
2. whole training steps through fit, with and without the callback, for scale (noisier: the
   difference is small against a step).
"""
import numpy as np

from common import interleaved_medians

from tinygrad_embed.callbacks import GradientStats, History
from tinygrad_embed.layers import LSTM, Dense, Embedding
from tinygrad_embed.models import Sequential
from tinygrad_embed.utils import set_random_seed

BATCH, STEPS, WORDS = 64, 500, 5000


def seed_model() -> Sequential:
    model = Sequential([Embedding(WORDS, 32, input_length=STEPS), LSTM(100), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam")
    return model


def update_alone(model, x, y) -> dict[str, float]:
    model.loss(y, model(x, training=True)).mean().backward()
    pairs = [(w.grad.copy(), w) for w in model.trainable_weights]
    model.optimizer.build(model.trainable_weights)
    history, stats = History(), GradientStats()
    for callback in (history, stats):
        callback.set_model(model)
        callback.on_train_begin()
    optimizer = model.optimizer
    return interleaved_medians({"plain": lambda: type(optimizer).apply_gradients(optimizer, pairs),
                                "GradientStats": lambda: optimizer.apply_gradients(pairs)}, repeats=41, warmup=3)


def fit_steps(model, x, y, batches: int = 4) -> dict[str, float]:
    def run(callbacks):
        return lambda: model.fit(x[:batches * BATCH], y[:batches * BATCH], batch_size=BATCH, epochs=1, verbose=0,
                                 shuffle=False, callbacks=callbacks)
    seconds = interleaved_medians({"plain": run([]), "GradientStats": run([GradientStats()])}, repeats=7, warmup=1)
    return {name: s / batches for name, s in seconds.items()}


def main() -> None:
    set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.integers(1, WORDS, (4 * BATCH, STEPS)), rng.integers(0, 2, 4 * BATCH)
    alone = update_alone(seed_model(), x[:BATCH], y[:BATCH])
    added = alone["GradientStats"] - alone["plain"]
    print(f"optimizer update alone: plain {alone['plain'] * 1e3:.2f} ms, with GradientStats "
          f"{alone['GradientStats'] * 1e3:.2f} ms: the callback adds {added * 1e3:.2f} ms")
    step = fit_steps(seed_model(), x, y)
    print(f"training step through fit (median of 7 runs of 4 steps): plain {step['plain'] * 1e3:.0f} ms, with "
          f"GradientStats {step['GradientStats'] * 1e3:.0f} ms")
    print(f"the callback's work is {added / step['plain']:.2%} of a plain step")


if __name__ == "__main__":
    main()
