"""keras.backend's clear_session, also at tinygrad_embed.utils (Keras 3's place). The only global state
a session keeps here is the counter behind each automatic layer name; the random generator is not
reset, as Keras's clear_session leaves numpy's seed alone."""
from __future__ import annotations

import gc

from .helpers import reset_unique_names


def clear_session(free_memory: bool = True) -> None:
    """Restart the automatic layer names ("dense", "dense_1", ... begin again), and with free_memory
    collect the garbage left by models no longer used, as Keras."""
    reset_unique_names()
    if free_memory:
        gc.collect()
