"""What every tests/test_keras_parity*.py file imports first. Keras runs on its torch backend unless
KERAS_BACKEND says otherwise. Without the `parity` extra a missing package skips the whole file; under
`make parity` (and so in CI), which sets TINYGRAD_EMBED_PARITY=required, it is an error instead."""
import importlib
import os
from types import ModuleType

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")


def require(name: str) -> ModuleType:
    """The module `name`, or a skip of the calling test file where the parity extra is not installed."""
    if os.environ.get("TINYGRAD_EMBED_PARITY") == "required":
        return importlib.import_module(name)
    return pytest.importorskip(name)
