"""Files: models and arrays on disk, in this project's own format and in Keras 3's. The wing's rooms:
archive.py, the pickle-free .npz archive (it imports nothing of the package, so lower floors use it);
native.py, a model's architecture as JSON and its weights and optimizer state as named arrays, both ways;
keras_config.py, Keras's config.json to and from native.py's config; keras_files.py, Keras's .keras and
.weights.h5 files and their HDF5 layout of weights and optimizer slots; legacy_h5.py, Keras's legacy .h5
model files (Keras 2's format, which Keras 3 still reads and writes); saving_api.py, where the file's name
picks the format; object_registration.py, the user's classes by name (Keras's register_keras_serializable);
keras_objects.py, keras_assets.py and keras_ops.py, the user's code, TextVectorization's vocabulary and keras.ops
calls in Keras's files. Models are built through the layer registry: nothing here imports models/."""
from .archive import FORMAT, read_archive, write_archive
from .object_registration import (CustomObjectScope, custom_object_scope, get_custom_objects, get_registered_name,
                                  get_registered_object, register_keras_serializable)
from .saving_api import load_model, save_model

__all__ = ["load_model", "save_model", "read_archive", "write_archive", "FORMAT", "register_keras_serializable",
           "get_registered_name", "get_registered_object", "get_custom_objects", "custom_object_scope",
           "CustomObjectScope"]
