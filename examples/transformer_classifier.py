"""keras.io's "Text classification with Transformer" (Apoorv Nandan), its code as written: a user-defined
TransformerBlock (MultiHeadAttention, a feed-forward Dense pair, two LayerNormalization, two Dropout) and
TokenAndPositionEmbedding (a token and a position Embedding, added) layer, on IMDB reviews of the top
20,000 words cut or padded to 200; embedding 32, 2 heads, feed-forward 32; Adam, batch 32, 2 epochs,
validated on the 25,000 test reviews. Prints the seconds each epoch took (training and validation, as
Keras's epoch) and the test accuracy.

    python examples/transformer_classifier.py [--seed 1] [--epochs 2] [--limit N] [--save FILE.weights.h5]
    python examples/transformer_classifier.py --keras ...          # the same file in Keras 3

The same code runs in either library: `--keras` imports keras where otherwise tinygrad_embed is imported
as keras (both are chosen before the layers below are defined, since they subclass layers.Layer).

The data always come from this project's loader (tinygrad_embed/datasets/imdb.py, reading the archive
TINYGRAD_EMBED_IMDB names), also under --keras: Keras cannot download here, and both libraries then train
on the same arrays. A Python where tinygrad_embed cannot be imported (a TensorFlow venv without numba)
reads them from --data FILE.npz, which `--export-data FILE.npz` writes:

    python examples/transformer_classifier.py --export-data /tmp/imdb_20k_200.npz
    /work/tfvenv/bin/python examples/transformer_classifier.py --keras --data /tmp/imdb_20k_200.npz

--limit N keeps the first N training and N test reviews (quick runs and tests).
"""
import argparse
import sys
import time

import numpy as np

if "--keras" in sys.argv:
    import keras
    from keras import layers, ops
else:
    import tinygrad_embed as keras
    from tinygrad_embed import layers, ops

vocab_size = 20000  # Only consider the top 20k words
maxlen = 200  # Only consider the first 200 words of each movie review
embed_dim = 32  # Embedding size for each token
num_heads = 2  # Number of attention heads
ff_dim = 32  # Hidden layer size in feed forward network inside transformer


class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
        super().__init__()
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = keras.Sequential(
            [layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)]
        )
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)

    def call(self, inputs):
        attn_output = self.att(inputs, inputs)
        attn_output = self.dropout1(attn_output)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.ffn(out1)
        ffn_output = self.dropout2(ffn_output)
        return self.layernorm2(out1 + ffn_output)


class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim):
        super().__init__()
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = ops.shape(x)[-1]
        positions = ops.arange(start=0, stop=maxlen, step=1)
        positions = self.pos_emb(positions)
        x = self.token_emb(x)
        return x + positions


def build_model():
    """keras.io's model and compile call, unchanged."""
    inputs = layers.Input(shape=(maxlen,))
    embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
    x = embedding_layer(inputs)
    transformer_block = TransformerBlock(embed_dim, num_heads, ff_dim)
    x = transformer_block(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(0.1)(x)
    x = layers.Dense(20, activation="relu")(x)
    x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(2, activation="softmax")(x)

    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def load_arrays(data: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x_train, y_train, x_val, y_val as keras.io prepares them (load_data(num_words=20000), padded to 200),
    from this project's loader, or from the .npz file `data` that --export-data wrote."""
    if data:
        arrays = np.load(data)
        return arrays["x_train"], arrays["y_train"], arrays["x_val"], arrays["y_val"]
    from tinygrad_embed.datasets import imdb
    from tinygrad_embed.utils import pad_sequences
    (x_train, y_train), (x_val, y_val) = imdb.load_data(num_words=vocab_size)
    return pad_sequences(x_train, maxlen=maxlen), y_train, pad_sequences(x_val, maxlen=maxlen), y_val


class EpochTimer(keras.callbacks.Callback):
    """Seconds per epoch, each epoch's training and validation, as Keras's progress line counts them."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keras", action="store_true", help="run the same code in Keras 3 (its KERAS_BACKEND)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="the first N training and N test reviews only")
    parser.add_argument("--data", metavar="FILE.npz", help="read the arrays --export-data wrote")
    parser.add_argument("--export-data", metavar="FILE.npz", help="write the prepared arrays there and stop")
    parser.add_argument("--save", metavar="FILE.weights.h5", help="save the trained weights there")
    args = parser.parse_args()

    x_train, y_train, x_val, y_val = load_arrays(args.data)
    if args.export_data:
        np.savez(args.export_data, x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val)
        print(f"wrote {args.export_data}")
        return
    if args.limit:
        x_train, y_train, x_val, y_val = x_train[:args.limit], y_train[:args.limit], x_val[:args.limit], y_val[:args.limit]
    print(len(x_train), "Training sequences")
    print(len(x_val), "Validation sequences")

    keras.utils.set_random_seed(args.seed)
    model = build_model()
    timer = EpochTimer()
    history = model.fit(x_train, y_train, batch_size=32, epochs=args.epochs, validation_data=(x_val, y_val),
                        callbacks=[timer], verbose=2)
    print(f"{keras.__name__} seconds per epoch (training and validation): "
          + ", ".join(f"{s:.1f}" for s in timer.seconds))
    accuracy = history.history["val_accuracy"][-1]  # keras.io validates on the test reviews: the same figure
    if args.save:
        model.save_weights(args.save)
        print(f"saved the weights to {args.save}")
    print(f"test accuracy: {accuracy:.4f}")


if __name__ == "__main__":
    main()
