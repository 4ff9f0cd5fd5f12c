"""`import tinygrad_embed as keras`: Keras 3's places (and Keras 2's), and a plain message for what
is missing."""
import importlib

import numpy as np
import pytest

import tinygrad_embed as keras

KERAS3_CODE = '''
import numpy as np
import keras
from keras import layers

(x_train, y_train) = (np.random.default_rng(0).integers(1, 50, (40, 8)), np.arange(40) % 2)
x_train = keras.utils.pad_sequences(list(x_train), maxlen=10)
inputs = keras.Input(shape=(10,), dtype="int32")
x = layers.Embedding(50, 8, mask_zero=True)(inputs)
x = layers.LSTM(4)(x)
outputs = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.binary_crossentropy, metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=8, epochs=1, validation_split=0.2, verbose=0,
                    callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=1)])
one_hot = keras.utils.to_categorical([0, 2, 1])
reloaded = keras.models.Sequential([keras.layers.Dense(2, input_shape=(3,))])
'''


def test_keras3_code_runs_with_the_module_renamed():
    namespace = {}
    exec(KERAS3_CODE.replace("import keras", "import tinygrad_embed as keras")
         .replace("from keras import", "from tinygrad_embed import"), namespace)
    assert set(namespace["history"].history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert namespace["x_train"].shape == (40, 10) and namespace["one_hot"].shape == (3, 3)


@pytest.mark.parametrize("path", ["Sequential", "Model", "Input", "layers.Embedding", "layers.LSTM", "layers.Dense",
                                  "layers.Input", "layers.InputLayer", "layers.Layer", "models.Sequential",
                                  "models.Model", "models.load_model", "optimizers.Adam", "optimizers.SGD",
                                  "optimizers.RMSprop", "optimizers.Adagrad", "layers.Conv1D", "layers.MaxPooling1D",
                                  "layers.GlobalAveragePooling1D", "layers.Flatten", "layers.Dropout",
                                  "initializers.Constant", "preprocessing.text.one_hot",
                                  "losses.sparse_categorical_crossentropy", "losses.mean_absolute_error",
                                  "metrics.binary_accuracy",
                                  "losses.binary_crossentropy", "callbacks.Callback", "callbacks.EarlyStopping",
                                  "callbacks.ModelCheckpoint", "callbacks.History", "datasets.imdb.load_data",
                                  "utils.pad_sequences", "utils.to_categorical", "utils.set_random_seed",
                                  "preprocessing.sequence.pad_sequences", "preprocessing.text.Tokenizer"])
def test_keras_names_are_where_keras_puts_them(path):
    value = keras
    for part in path.split("."):
        value = getattr(value, part)
    assert callable(value)


@pytest.mark.parametrize("module, name, kind", [("tinygrad_embed.layers", "Conv2D", "layer"),
                                                ("tinygrad_embed.optimizers", "Nadam", "optimizer"),
                                                ("tinygrad_embed.callbacks", "RemoteMonitor", "callback"),
                                                ("tinygrad_embed.models", "Functional", "model"),
                                                ("tinygrad_embed", "Variable", "top-level name")])
def test_a_name_keras_has_and_we_do_not_says_so(module, name, kind):
    with pytest.raises(ImportError, match=f"tinygrad_embed has no {kind} {name}; the {kind}s here are: .+"):
        exec(f"from {module} import {name}")
    assert not hasattr(importlib.import_module(module), "not_a_name")  # lower-case names: plain AttributeError


def test_the_layers_listed_as_present_are_importable():
    with pytest.raises(ImportError) as error:
        keras.layers.Conv2D
    for name in str(error.value).split("are: ")[1].split(", "):
        assert isinstance(getattr(keras.layers, name), type)
    np.testing.assert_array_equal(keras.utils.pad_sequences([[1, 2]], maxlen=3), [[0, 1, 2]])
