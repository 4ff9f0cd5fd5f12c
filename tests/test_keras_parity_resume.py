"""The whole-model .keras files that ModelCheckpoint writes in Keras 3's usual form open in Keras and
predict what the model predicted. Under TINYGRAD_EMBED_PARITY=required a missing Keras is an error."""
import numpy as np

from parity import require  # before keras: it sets KERAS_BACKEND

keras = require("keras")
require("torch")
require("h5py")

from tinygrad_embed.callbacks import ModelCheckpoint  # noqa: E402
from tinygrad_embed.layers import LSTM, Dense, Embedding, Input  # noqa: E402
from tinygrad_embed.models import Sequential  # noqa: E402


def test_keras_opens_model_checkpoint_s_keras_files(tmp_path):
    x = np.random.default_rng(0).integers(1, 20, (32, 6))
    y = np.random.default_rng(1).integers(0, 2, 32).astype("float32")
    model = Sequential([Input((6,), dtype="int32"), Embedding(20, 4), LSTM(3), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[ModelCheckpoint(str(tmp_path / "model_{epoch}.keras"))])
    theirs = keras.saving.load_model(tmp_path / "model_2.keras")
    np.testing.assert_allclose(np.asarray(theirs.predict(x, verbose=0)), model.predict(x, verbose=0), atol=1e-6)
