"""Keras's models: Sequential, the functional Model, and loading a saved one."""
from ..missing import module_getattr
from ..saving import load_model
from .model import Model
from .sequential import Sequential

__all__ = ["Model", "Sequential", "load_model"]
__getattr__ = module_getattr(__name__, "model", lambda: ["Model", "Sequential"])
