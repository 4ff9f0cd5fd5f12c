"""The two snippets of the classic Keras Embedding question and its answer, with only the imports
changed from keras to tinygrad_embed."""
import re

import numpy as np
import pytest

QUESTION = '''
from tinygrad_embed.models import Sequential
from tinygrad_embed.layers import Dense, LSTM, Embedding

top_words = 5000
max_review_length = 500
embedding_vecor_length = 32
model = Sequential()
model.add(Embedding(top_words, embedding_vecor_length, input_length=max_review_length))
model.add(LSTM(100))
model.add(Dense(1, activation='sigmoid'))
model.compile(loss='binary_crossentropy', optimizer='adam', metrics=['accuracy'])
print(model.summary())
model.fit(X_train, y_train, nb_epoch=3, batch_size=64)
'''

ANSWER = '''
from tinygrad_embed.preprocessing.text import Tokenizer
from tinygrad_embed.preprocessing.sequence import pad_sequences
from tinygrad_embed.utils import to_categorical
from tinygrad_embed.models import Sequential
from tinygrad_embed.layers import Embedding

top_words = 10
max_review_length = 6
embedding_vecor_length = 3
texts = ['This is a text','This is not a text']
tokenizer = Tokenizer(top_words)
tokenizer.fit_on_texts(texts)
sequences = tokenizer.texts_to_sequences(texts)
word_index = tokenizer.word_index
data = pad_sequences(sequences, max_review_length)
model = Sequential()
model.add(Embedding(top_words, embedding_vecor_length, input_length=max_review_length, mask_zero=True))
model.compile(optimizer='adam', loss='categorical_crossentropy')
output_array = model.predict(data)
weights = model.layers[0].get_weights()
'''


def test_the_question_runs_and_its_summary_counts_parameters_as_keras(capsys):
    rng = np.random.default_rng(0)
    lengths = rng.integers(20, 600, 128)
    X_train = np.zeros((128, 500), np.int32)
    for row, n in enumerate(np.minimum(lengths, 500)):
        X_train[row, 500 - n:] = rng.integers(1, 5000, n)
    y_train = rng.integers(0, 2, 128)
    namespace = {"X_train": X_train, "y_train": y_train}
    with pytest.warns(DeprecationWarning, match="nb_epoch"):
        exec(QUESTION, namespace)
    printed = capsys.readouterr().out
    for expected in ["(None, 500, 32)", "160,000", "(None, 100)", "53,200", "(None, 1)", "101",
                     "Total params: 213,301"]:
        assert expected in printed
    for name, kind in [("embedding", "Embedding"), ("lstm", "LSTM"), ("dense", "Dense")]:
        assert re.search(rf" {name}(_\d+)? \({kind}\) ", printed)  # Keras numbers repeated names: lstm_1
    assert "\nNone\n" in printed  # print(model.summary()) prints the table, then None
    history = namespace["model"].history.history
    assert len(history["loss"]) == 3 and all(np.isfinite(history["loss"]))


def test_the_answer_runs_and_outputs_rows_of_the_weight_matrix():
    namespace = {}
    exec(ANSWER, namespace)
    np.testing.assert_array_equal(namespace["data"], [[0, 0, 1, 2, 3, 4], [0, 1, 2, 5, 3, 4]])
    assert namespace["word_index"] == {"this": 1, "is": 2, "a": 3, "text": 4, "not": 5}
    (weights,) = namespace["weights"]
    assert namespace["output_array"].shape == (2, 6, 3) and weights.shape == (10, 3)
    np.testing.assert_array_equal(namespace["output_array"], weights[namespace["data"]])
