"""How tests/data/keras2_*.h5 were made: by real Keras 2 (tf.keras 2.15.0 in TensorFlow 2.15.1, CPU), which
this project's test environment does not have. Run in an environment with `tensorflow-cpu==2.15.1 h5py`:
    python tests/data/make_keras2_files.py tests/data
Each model is trained two epochs and saved, then trained one more step on a fixed batch; the inputs, the
predictions of the saved model and the weights after that step go to keras2_expected.npz, so that a test
can load the file, take the same step and compare."""
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

keras = tf.keras


def sequential():
    """The seed model, as Keras 2 code wrote it; Adam of tf.keras's optimizers before 2.11 (legacy)."""
    model = keras.Sequential([keras.layers.Embedding(30, 4, input_length=6, mask_zero=True), keras.layers.LSTM(5),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.legacy.Adam(0.01), metrics=["accuracy"])
    return model


def functional():
    """Two inputs through a shared Embedding, a Bidirectional GRU, two outputs; tf.keras 2.15's own Adam."""
    left, right = keras.Input((6,), dtype="int32", name="left"), keras.Input((6,), dtype="int32", name="right")
    shared = keras.layers.Embedding(30, 4)
    merged = keras.layers.Concatenate()([shared(left), shared(right)])
    hidden = keras.layers.Bidirectional(keras.layers.GRU(3))(merged)
    model = keras.Model([left, right], [keras.layers.Dense(2, activation="softmax", name="kind")(hidden),
                                        keras.layers.Dense(1, name="score")(hidden)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")  # one loss for both outputs
    return model


def main(folder: Path) -> None:
    tf.random.set_seed(0)
    rng = np.random.RandomState(0)
    x, x2 = rng.randint(0, 30, (16, 6)), rng.randint(0, 30, (8, 6))
    x[0, :3], x2[1, :2] = 0, 0  # some padding for the mask
    y, y2 = np.arange(16) % 2, np.arange(8) % 2
    expected = {"x": x, "x2": x2, "y": y, "y2": y2}
    model = sequential()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    model.save(folder / "keras2_sequential.h5")
    model.save_weights(folder / "keras2_sequential_weights.h5")
    expected["sequential/predictions"] = model.predict(x, verbose=0)
    model.fit(x2, y2, epochs=1, batch_size=8, shuffle=False, verbose=0)
    expected.update({f"sequential/after/{i}": w for i, w in enumerate(model.get_weights())})
    model = functional()
    model.fit([x, x[::-1]], [np.eye(2)[y], y * 0.5], epochs=2, batch_size=8, verbose=0)
    model.save(folder / "keras2_functional.h5")
    expected.update({f"functional/predictions/{i}": p for i, p in enumerate(model.predict([x, x[::-1]], verbose=0))})
    model.fit([x2, x2[::-1]], [np.eye(2)[y2], y2 * 0.5], epochs=1, batch_size=8, shuffle=False, verbose=0)
    expected.update({f"functional/after/{i}": w for i, w in enumerate(model.get_weights())})
    np.savez(folder / "keras2_expected.npz", **expected)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
