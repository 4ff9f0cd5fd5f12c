"""keras.io's "sequence to sequence learning for performing number addition": the question "535+61"
goes in one character per step (one-hot, reversed, padded to 7), an LSTM(128) encodes it, RepeatVector
hands the code to each of the answer's 4 steps, and LSTM(128, return_sequences=True) -> Dense(softmax)
writes the answer one character per step. Trained one epoch at a time as keras.io does, printing after
each the validation accuracy (per character, Keras's "accuracy"; and of whole answers) and the seconds the
epoch took.

    python examples/seq2seq_addition.py [--size 50000] [--epochs 30] [--seed 1] [--keras]

--keras trains the same model with Keras 3 (installed separately) for comparison.
"""
import argparse
import importlib
import time

import numpy as np

DIGITS = 3
MAX_QUESTION = DIGITS + 1 + DIGITS  # "999+999"
MAX_ANSWER = DIGITS + 1  # "1998"
CHARS = "0123456789+ "


def one_hot(texts: list[str], length: int) -> np.ndarray:
    """(len(texts), length, len(CHARS)): each text padded with spaces to `length`, a row per character."""
    index = {c: i for i, c in enumerate(CHARS)}
    ids = np.array([[index[c] for c in text.ljust(length)] for text in texts])
    return np.eye(len(CHARS), dtype="float32")[ids]


def decode(probabilities: np.ndarray) -> list[str]:
    return ["".join(CHARS[i] for i in row) for row in probabilities.argmax(axis=-1)]


def questions(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`size` distinct sums a+b of numbers of 1 to DIGITS digits (a+b and b+a count once), as keras.io."""
    def number() -> int:
        return int("".join(rng.choice(list("0123456789"), rng.integers(1, DIGITS + 1))))
    seen, queries, answers = set(), [], []
    while len(queries) < size:
        a, b = number(), number()
        if tuple(sorted((a, b))) in seen:
            continue
        seen.add(tuple(sorted((a, b))))
        queries.append(f"{a}+{b}".ljust(MAX_QUESTION)[::-1])  # reversed: the first digits read are the last added
        answers.append(str(a + b))
    return one_hot(queries, MAX_QUESTION), one_hot(answers, MAX_ANSWER)


def build_model(api):
    """The same code for both libraries: the API is Keras's."""
    layers = api.layers
    model = api.models.Sequential([layers.Input((MAX_QUESTION, len(CHARS))), layers.LSTM(128),
                                   layers.RepeatVector(MAX_ANSWER), layers.LSTM(128, return_sequences=True),
                                   layers.Dense(len(CHARS), activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=50_000, help="questions, a tenth kept for validation")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keras", action="store_true", help="train with Keras 3 instead")
    args = parser.parse_args()
    api = importlib.import_module("keras" if args.keras else "tinygrad_embed")
    api.utils.set_random_seed(args.seed)
    x, y = questions(args.size, np.random.default_rng(args.seed))
    split = len(x) - len(x) // 10
    (x_train, y_train), (x_val, y_val) = (x[:split], y[:split]), (x[split:], y[split:])
    model = build_model(api)
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        model.fit(x_train, y_train, batch_size=args.batch_size, epochs=1, verbose=0)
        seconds = time.perf_counter() - start
        _, accuracy = model.evaluate(x_val, y_val, batch_size=256, verbose=0)
        exact = np.mean(np.array(decode(model.predict(x_val, batch_size=256, verbose=0))) == np.array(decode(y_val)))
        print(f"{api.__name__} epoch {epoch}: validation accuracy {accuracy:.4f} per character, {exact:.4f} per "
              f"answer; {seconds:.1f} seconds", flush=True)
    question = decode(x_val[:1])[0][::-1].strip()
    print(f"{question} = {decode(model.predict(x_val[:1], verbose=0))[0].strip()}")


if __name__ == "__main__":
    main()
