"""The same seed gives bit-identical weights after some training steps, with one thread and with
two (BLAS and numba threads alike), run after run."""
import os
import subprocess
import sys

import pytest

TRAINING = """
import hashlib
import numpy as np
from tinygrad_embed.layers import LSTM, Dense, Embedding
from tinygrad_embed.models import Sequential
from tinygrad_embed.utils import set_random_seed

set_random_seed(11)
rng = np.random.default_rng(1)
x, y = rng.integers(0, 200, (128, 60)), rng.integers(0, 2, 128)
x[:, :20] = 0
model = Sequential([Embedding(200, 16, mask_zero=True), LSTM(24), Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy")
model.fit(x, y, epochs=2, batch_size=32, verbose=0)
print(hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights())).hexdigest())
"""


def weights_digest(threads: int, numba_cache: str | None = None) -> str:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               NUMBA_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    if numba_cache:
        env["NUMBA_CACHE_DIR"] = numba_cache
    done = subprocess.run([sys.executable, "-c", TRAINING], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("threads", [1, 2])
def test_same_seed_same_weights(threads):
    first, second = weights_digest(threads), weights_digest(threads)
    assert len(first) == 64 and first == second


def test_a_first_run_that_compiles_the_kernels_trains_as_the_runs_that_load_them_from_the_cache(tmp_path):
    # numba's fastmath "reassoc" once let a freshly compiled kernel round unlike its cached copy
    compiled, cached = (weights_digest(1, str(tmp_path / "numba")) for _ in range(2))
    assert len(compiled) == 64 and compiled == cached
