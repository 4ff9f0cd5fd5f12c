"""The classic answer to "what does Keras's Embedding layer do?", run step by step.

Two sentences become ids (Tokenizer), are padded to 6 (pad_sequences), and an Embedding(10, 3) with
mask_zero=True turns each id into a row of its (10, 3) weight matrix: output[i, t] = W[data[i, t]].
Then one training step shows the other half of the story: only the rows that were looked up get a
gradient, each row once per use.

    python examples/embedding_explained.py
"""
import numpy as np

from tinygrad_embed import losses
from tinygrad_embed.layers import Embedding
from tinygrad_embed.models import Sequential
from tinygrad_embed.preprocessing.sequence import pad_sequences
from tinygrad_embed.preprocessing.text import Tokenizer
from tinygrad_embed.utils import set_random_seed

set_random_seed(0)
top_words, max_review_length, embedding_vecor_length = 10, 6, 3
texts = ["This is a text", "This is not a text"]

tokenizer = Tokenizer(top_words)
tokenizer.fit_on_texts(texts)
sequences = tokenizer.texts_to_sequences(texts)
print("word_index:", tokenizer.word_index)
print("sequences: ", sequences)
data = pad_sequences(sequences, max_review_length)
print("padded data (0 = padding, in front as Keras does):\n", data)

model = Sequential()
model.add(Embedding(top_words, embedding_vecor_length, input_length=max_review_length, mask_zero=True))
model.compile(optimizer="adam", loss="categorical_crossentropy")
output_array = model.predict(data)
(weights,) = model.layers[0].get_weights()
print("output shape:", output_array.shape, " weight matrix shape:", weights.shape)
print("weight matrix W (one row per id):\n", weights.round(4))
print("output for 'This is not a text' (row t is W[data[1, t]]):\n", output_array[1].round(4))
assert np.array_equal(output_array, weights[data]), "each output row is the weight row of its id"
print("every output row is the weight row of its id: output == W[data]. Padding positions still read W[0];")
print("mask_zero only hands the next layer a mask of what to skip:", (data != 0).astype(int).tolist())

# One training step, towards made-up targets: the gradient of the table is a scatter-add of the
# upstream gradient, so only the rows of ids that occur receive any, and an id used twice gets two.
embedding = model.layers[0]
targets = np.random.default_rng(0).standard_normal(output_array.shape)
losses.mean_squared_error(targets, embedding(data)).mean().backward()
gradient = embedding.trainable_weights[0].grad
print("rows with a gradient:", np.flatnonzero(np.abs(gradient).sum(axis=1)).tolist(),
      "= the ids used:", sorted(set(data.ravel().tolist())))
model.optimizer.step(embedding.trainable_weights)
moved = np.flatnonzero(np.abs(embedding.get_weights()[0] - weights).sum(axis=1))
print("rows Adam moved in this first step:", moved.tolist(), "(ids 6 to 9 never occur and stay put)")
