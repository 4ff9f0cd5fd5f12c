"""numpy's own BLAS, for products inside numba kernels: the cblas gemm of the BLAS that numpy loaded
(threadpoolctl lists it), declared to numba as an external function (kernels.matmul calls it). SGEMM and DGEMM
are None when no BLAS exports a cblas gemm; KERNEL_FAMILY is OpenBLAS's kernel family (SkylakeX, Haswell, ...)
or None."""
import ctypes

import llvmlite.binding
import numba

ROW_MAJOR, NO_TRANSPOSE, TRANSPOSE = 101, 111, 112  # cblas's enums


def _numpy_blas_gemm():
    """(addresses of cblas_sgemm and cblas_dgemm, numba's type of their integers, OpenBLAS's kernel family or
    None) or (None, None, None)."""
    from threadpoolctl import ThreadpoolController
    libraries = ThreadpoolController().select(user_api="blas").lib_controllers
    for library in sorted(libraries, key=lambda lib: "numpy" not in lib.filepath):  # numpy's first
        dll = ctypes.CDLL(library.filepath)
        for prefix, suffix, integer in (("scipy_", "64_", numba.types.int64), ("", "64_", numba.types.int64),
                                        ("scipy_", "", numba.types.int32), ("", "", numba.types.int32)):
            names = [f"{prefix}cblas_{kind}gemm{suffix}" for kind in "sd"]
            if all(hasattr(dll, name) for name in names):
                return ([ctypes.cast(getattr(dll, name), ctypes.c_void_p).value for name in names], integer,
                        getattr(library, "architecture", None))
    return None, None, None


def _external_gemm(name: str, address: int, real, integer):
    """cblas_?gemm(order, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) for numba."""
    llvmlite.binding.add_symbol(name, address)
    pointer = numba.types.intp  # a pointer travels as a 64-bit integer
    return numba.types.ExternalFunction(name, numba.types.void(
        numba.types.int32, numba.types.int32, numba.types.int32, integer, integer, integer, real, pointer,
        integer, pointer, integer, real, pointer, integer))


_ADDRESSES, _INTEGER, KERNEL_FAMILY = _numpy_blas_gemm()
SGEMM = DGEMM = None
if _ADDRESSES:
    # the integers' width in the name: a kernel cached against a BLAS of the other width fails to link, loudly
    SGEMM = _external_gemm(f"tinygrad_embed_sgemm_{_INTEGER}", _ADDRESSES[0], numba.types.float32, _INTEGER)
    DGEMM = _external_gemm(f"tinygrad_embed_dgemm_{_INTEGER}", _ADDRESSES[1], numba.types.float64, _INTEGER)
