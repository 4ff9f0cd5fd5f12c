"""Keras's `utils` face: the helpers users call directly, each defined where it belongs and re-exported
here at Keras 3's places: set_random_seed (helpers.py), to_categorical (np_utils.py, Keras 2's module),
clear_session (backend.py), pad_sequences (preprocessing/sequence.py), text_dataset_from_directory,
PyDataset (Keras 2's Sequence) and AUTOTUNE (data.py), register_keras_serializable and the other custom-object
helpers (saving/object_registration.py), as keras.utils has them too."""
from ..backend import clear_session
from ..data import AUTOTUNE, PyDataset, Sequence, text_dataset_from_directory
from ..helpers import get_random_state, random_generator, set_random_seed, set_random_state
from ..preprocessing.sequence import pad_sequences
from ..saving.object_registration import (CustomObjectScope, custom_object_scope, get_custom_objects,
                                          get_registered_name, get_registered_object, register_keras_serializable)
from .np_utils import to_categorical

__all__ = ["clear_session", "AUTOTUNE", "PyDataset", "Sequence", "text_dataset_from_directory", "get_random_state",
           "random_generator", "set_random_seed", "set_random_state", "pad_sequences", "to_categorical",
           "register_keras_serializable", "custom_object_scope", "CustomObjectScope", "get_custom_objects",
           "get_registered_name", "get_registered_object"]
