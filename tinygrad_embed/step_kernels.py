"""The training step's kernels outside the ops (dropout's keep mask), each beside its plain-numpy twin, on
kernels.py's terms: plain flat arrays, the output first, the GIL released."""
import numba
import numpy as np


# Dropout's units are drawn by a counter-based generator, as TensorFlow's and JAX's stateless ones: unit i of a
# call keeps when the top 32 bits of splitmix64(seed + (i + 1) * golden) fall below keep * 2^32, seed one draw
# of the layer's numpy generator per call. splitmix64 is Java's SplittableRandom and what seeds the xoshiro
# generators (it passes BigCrush); compiled, a mask of 32 x 200 x 32 units takes 70 us, numpy's uniforms 510.
_GOLDEN, _MIX_1, _MIX_2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S32 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(32)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def dropout_keep(out, seed, threshold, scale):
    """out[i] = scale where unit i is kept (its 32 bits below threshold), 0 where it is dropped."""
    for i in range(out.size):
        z = seed + np.uint64(i + 1) * _GOLDEN
        z = (z ^ (z >> _S30)) * _MIX_1
        z = (z ^ (z >> _S27)) * _MIX_2
        out[i] = scale if (z ^ (z >> _S31)) >> _S32 < threshold else 0


def dropout_keep_numpy(out, seed, threshold, scale):
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(1, out.size + 1, dtype=np.uint64) * _GOLDEN
        z = (z ^ (z >> _S30)) * _MIX_1
        z = (z ^ (z >> _S27)) * _MIX_2
    out[:] = np.where((z ^ (z >> _S31)) >> _S32 < threshold, scale, 0)
