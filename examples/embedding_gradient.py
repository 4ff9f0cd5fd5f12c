"""What an Embedding layer does, in numbers: the output rows are rows of the weight table (a gather),
and the gradient lands only on the rows that were looked up, added once per use (a scatter-add).

    python examples/embedding_gradient.py
"""
import numpy as np

import tinygrad_embed as tg
from tinygrad_embed.layers import Embedding
from tinygrad_embed.utils import set_random_seed

set_random_seed(0)
layer = Embedding(input_dim=6, output_dim=3)
sentence = np.array([[1, 4, 4, 2]])  # word ids; id 4 appears twice

out = layer(sentence)
table = layer.get_weights()[0]
print("weight table (6 x 3):\n", table.round(3))
print("output (1 x 4 x 3), row k = table[id_k]:\n", out.data.round(3))
assert np.array_equal(out.data[0], table[sentence[0]])

upstream = np.arange(1, 13, dtype=np.float32).reshape(1, 4, 3)  # a made-up gradient from above
out.backward(upstream)
print("upstream gradient:\n", upstream[0])
print("gradient of the table: rows 1 and 2 get one upstream row each, row 4 gets two added, the rest 0:\n",
      layer.trainable_weights[0].grad)

layer64 = Embedding(6, 3, dtype="float64")  # gradient checks need float64
print("gradcheck of lookup-then-tanh against finite differences:",
      tg.gradcheck(lambda table: layer64(sentence).tanh(), layer64.trainable_weights))
