"""The seed model trained by hand, with no `fit`: the three layers called directly, the loss, backward(),
Adam's step, and the gradients zeroed. Everything `model.fit` adds (batches, callbacks, logs) is bookkeeping
around these lines. Random reviews stand in for IMDB: label 1 when word 7 appears, so the loss must fall.

    python examples/train_by_hand.py
"""
import numpy as np

from tinygrad_embed.layers import LSTM, Dense, Embedding
from tinygrad_embed.losses import binary_crossentropy
from tinygrad_embed.optimizers import Adam
from tinygrad_embed.utils import set_random_seed

set_random_seed(0)
rng = np.random.default_rng(0)
reviews = rng.integers(1, 50, size=(256, 20))                # 256 reviews of 20 word ids each
labels = (reviews == 7).any(axis=1).astype(np.float32)[:, None]
embed, lstm, dense = Embedding(50, 8), LSTM(16), Dense(1, activation="sigmoid")
adam = Adam(learning_rate=0.01)
for epoch in range(8):
    for start in range(0, len(reviews), 64):                  # batches of 64 reviews
        x, y = reviews[start:start + 64], labels[start:start + 64]
        loss = binary_crossentropy(y, dense(lstm(embed(x)))).mean()
        loss.backward()                                       # gradients into every weight's .grad
        weights = embed.trainable_weights + lstm.trainable_weights + dense.trainable_weights
        adam.step(weights)                                    # one Adam update from those gradients
        for w in weights:
            w.zero_grad()                                     # the next batch starts from zero
    print(f"epoch {epoch + 1}: loss {float(loss.data):.4f}")
