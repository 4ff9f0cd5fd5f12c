"""Model files as the Keras 2 years wrote them, built by hand with h5py to the layout of tf.keras 2.x's
keras/saving/hdf5_format.py (and of standalone Keras 2.2's keras/engine/saving.py), so that no test needs
TensorFlow: attributes stored as UTF-8 bytes, Keras 2's class names and arguments (`batch_input_shape`,
`input_length`, `time_major`, `implementation`, `lr`, `decay`), weights named `layer/weight:0`, the
functional graph's calls as [layer, call, output, kwargs] lists, and Adam's state as tf.keras 2 kept it
(`Adam/iter:0`, then every `Adam/<weight>/m:0`, then every `v`; no learning rate)."""
import json

import h5py
import numpy as np

INITIALIZERS = {"kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
                "bias_initializer": {"class_name": "Zeros", "config": {}}}
NO_EXTRAS = {"kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
             "kernel_constraint": None, "bias_constraint": None}


def tf_keras_sequential_config(steps=6, vocab=10, dim=4, units=5):
    """tf.keras 2.11's Sequential config for Embedding(vocab, dim, input_length=steps) -> LSTM -> Dense(sigmoid)."""
    lstm = {"name": "lstm", "trainable": True, "dtype": "float32", "return_sequences": False, "return_state": False,
            "go_backwards": False, "stateful": False, "unroll": False, "time_major": False, "units": units,
            "activation": "tanh", "recurrent_activation": "sigmoid", "use_bias": True, **INITIALIZERS,
            "recurrent_initializer": {"class_name": "Orthogonal", "config": {"gain": 1.0, "seed": None}},
            "unit_forget_bias": True, **NO_EXTRAS, "recurrent_regularizer": None, "recurrent_constraint": None,
            "dropout": 0.0, "recurrent_dropout": 0.0, "implementation": 2}
    return {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, steps], "dtype": "float32",
                                                "sparse": False, "ragged": False, "name": "embedding_input"}},
        {"class_name": "Embedding", "config": {
            "name": "embedding", "trainable": True, "batch_input_shape": [None, steps], "dtype": "float32",
            "input_dim": vocab, "output_dim": dim,
            "embeddings_initializer": {"class_name": "RandomUniform", "config": {"minval": -0.05, "maxval": 0.05,
                                                                                 "seed": None}},
            "embeddings_regularizer": None, "activity_regularizer": None, "embeddings_constraint": None,
            "mask_zero": False, "input_length": steps}},
        {"class_name": "LSTM", "config": lstm},
        {"class_name": "Dense", "config": {"name": "dense", "trainable": True, "dtype": "float32", "units": 1,
                                           "activation": "sigmoid", "use_bias": True, **INITIALIZERS, **NO_EXTRAS}}]}}


TF_KERAS_TRAINING = {"loss": "binary_crossentropy", "metrics": [[{"class_name": "MeanMetricWrapper", "config": {
    "name": "accuracy", "dtype": "float32", "fn": "binary_accuracy"}}]], "weighted_metrics": None, "loss_weights": None,
    "optimizer_config": {"class_name": "Adam", "config": {"name": "Adam", "learning_rate": 0.0020000000949949026,
                                                          "decay": 0.0, "beta_1": 0.8999999761581421,
                                                          "beta_2": 0.9990000128746033, "epsilon": 1e-07,
                                                          "amsgrad": False}}}


def keras22_functional_config(steps=5, vocab=12, dim=3, units=4):
    """Standalone Keras 2.2.4's functional model ("Model"): two id inputs, one shared Embedding, GRU and
    Dense on their concatenation. No InputLayer batch_shape: Keras 2 wrote batch_input_shape."""
    def call(*inputs):
        return [[[name, 0, 0, {}] for name in inputs]]
    layers = [{"name": name, "class_name": "InputLayer", "inbound_nodes": [], "config": {
        "batch_input_shape": [None, steps], "dtype": "int32", "sparse": False, "name": name}} for name in ("left", "right")]
    layers.append({"name": "embedding_1", "class_name": "Embedding", "config": {
        "name": "embedding_1", "trainable": True, "input_dim": vocab, "output_dim": dim,
        "embeddings_initializer": {"class_name": "RandomUniform", "config": {"minval": -0.05, "maxval": 0.05,
                                                                             "seed": None}},
        "embeddings_regularizer": None, "activity_regularizer": None, "embeddings_constraint": None,
        "mask_zero": False, "input_length": None}, "inbound_nodes": call("left") + call("right")})
    layers.append({"name": "concatenate_1", "class_name": "Concatenate", "config": {
        "name": "concatenate_1", "trainable": True, "axis": -1},
        "inbound_nodes": [[["embedding_1", 0, 0, {}], ["embedding_1", 1, 0, {}]]]})
    layers.append({"name": "gru_1", "class_name": "GRU", "inbound_nodes": call("concatenate_1"), "config": {
        "name": "gru_1", "trainable": True, "return_sequences": False, "return_state": False, "go_backwards": False,
        "stateful": False, "unroll": False, "units": units, "activation": "tanh", "recurrent_activation": "sigmoid",
        "use_bias": True, "kernel_initializer": {"class_name": "VarianceScaling", "config": {
            "scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": None}},
        "recurrent_initializer": {"class_name": "Orthogonal", "config": {"gain": 1.0, "seed": None}},
        "bias_initializer": {"class_name": "Zeros", "config": {}}, **NO_EXTRAS, "recurrent_regularizer": None,
        "recurrent_constraint": None, "dropout": 0.0, "recurrent_dropout": 0.0, "implementation": 1,
        "reset_after": False}})
    layers.append({"name": "dense_1", "class_name": "Dense", "inbound_nodes": call("gru_1"), "config": {
        "name": "dense_1", "trainable": True, "units": 2, "activation": "softmax", "use_bias": True,
        "kernel_initializer": {"class_name": "VarianceScaling", "config": {
            "scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": None}},
        "bias_initializer": {"class_name": "Zeros", "config": {}}, **NO_EXTRAS}})
    return {"class_name": "Model", "config": {"name": "model_1", "layers": layers,
                                              "input_layers": [["left", 0, 0], ["right", 0, 0]],
                                              "output_layers": [["dense_1", 0, 0]]}}


KERAS22_TRAINING = {"optimizer_config": {"class_name": "SGD", "config": {"lr": 0.05000000074505806, "momentum": 0.0,
                                                                         "decay": 0.0, "nesterov": False}},
                    "loss": "sparse_categorical_crossentropy", "metrics": ["acc"], "sample_weight_mode": None,
                    "loss_weights": None}


def write_keras2_file(path, config, layers, training=None, optimizer=None, version="2.11.0"):
    """A model file as Keras 2 wrote it. layers: [(name, [(weight name, array), ...]), ...] in model.layers'
    order (a weightless layer with an empty list); optimizer: [(name, array), ...] or None."""
    with h5py.File(path, "w") as h5:
        h5.attrs["keras_version"] = version.encode("utf8")
        h5.attrs["backend"] = b"tensorflow"
        h5.attrs["model_config"] = json.dumps(config).encode("utf8")
        if training is not None:
            h5.attrs["training_config"] = json.dumps(training).encode("utf8")
        weights = h5.create_group("model_weights")
        write_keras2_weights(weights, layers, version)
        if optimizer:
            group = h5.create_group("optimizer_weights")
            group.attrs["weight_names"] = [name.encode("utf8") for name, _ in optimizer]
            for name, array in optimizer:
                group.create_dataset(name, data=array)
    return path


def write_keras2_weights(group, layers, version="2.11.0"):
    """model_weights' content (or a Keras 2 save_weights file's root)."""
    group.attrs["layer_names"] = [name.encode("utf8") for name, _ in layers]
    group.attrs["backend"] = b"tensorflow"
    group.attrs["keras_version"] = version.encode("utf8")
    for name, weights in layers:
        layer = group.create_group(name)
        layer.attrs["weight_names"] = np.array([w.encode("utf8") for w, _ in weights], dtype="S")
        for weight_name, array in weights:
            layer.create_dataset(weight_name, data=array)


def sequential_weights(rng, steps=6, vocab=10, dim=4, units=5):
    """[(layer, [(name, array)])] for tf_keras_sequential_config, as tf.keras 2 named them."""
    def draw(*shape):
        return rng.normal(0, 0.5, shape).astype("float32")
    return [("embedding", [("embedding/embeddings:0", draw(vocab, dim))]),
            ("lstm", [("lstm/lstm_cell/kernel:0", draw(dim, 4 * units)),
                      ("lstm/lstm_cell/recurrent_kernel:0", draw(units, 4 * units)),
                      ("lstm/lstm_cell/bias:0", draw(4 * units))]),
            ("dense", [("dense/kernel:0", draw(units, 1)), ("dense/bias:0", draw(1))])]


def functional_weights(rng, steps=5, vocab=12, dim=3, units=4):
    """[(layer, [(name, array)])] for keras22_functional_config, InputLayers and Concatenate without weights."""
    def draw(*shape):
        return rng.normal(0, 0.5, shape).astype("float32")
    return [("left", []), ("right", []), ("embedding_1", [("embedding_1/embeddings:0", draw(vocab, dim))]),
            ("concatenate_1", []),
            ("gru_1", [("gru_1/kernel:0", draw(2 * dim, 3 * units)), ("gru_1/recurrent_kernel:0", draw(units, 3 * units)),
                       ("gru_1/bias:0", draw(3 * units))]),
            ("dense_1", [("dense_1/kernel:0", draw(units, 2)), ("dense_1/bias:0", draw(2))])]


def adam_state(layers, steps=3, seed=0):
    """tf.keras 2's Adam slots for those weights, as its optimizer_v2 named and ordered them: iter, every m,
    then every v (no learning rate: it was a hyperparameter, not among the optimizer's weights)."""
    rng = np.random.default_rng(seed)
    names = [name[:-2] for _, weights in layers for name, _ in weights]
    arrays = [array for _, weights in layers for _, array in weights]
    return ([("Adam/iter:0", np.array(steps, np.int64))]
            + [(f"Adam/{n}/m:0", rng.normal(0, 0.01, a.shape).astype("float32")) for n, a in zip(names, arrays)]
            + [(f"Adam/{n}/v:0", rng.uniform(0, 0.01, a.shape).astype("float32")) for n, a in zip(names, arrays)])
