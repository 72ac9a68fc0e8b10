"""Hand the BLAS of SciPy to the C++ kernels.

``scipy.linalg.cython_blas`` exports each BLAS routine as a PyCapsule in
``__pyx_capi__``, named by its C signature. The C++ side reads the function
pointer out of the capsule, so mathlearn uses the same optimized BLAS as
SciPy (OpenBLAS in the PyPI wheels) without linking one itself.
"""

from __future__ import annotations

from . import _core


def ensure_blas() -> None:
    """Install dgemm and sgemm in ``mathlearn._core`` once per process.

    Loading SciPy's BLAS here may happen after ``mathlearn.set_num_threads``
    ran, and a thread limit set through threadpoolctl covers only libraries
    loaded at that time. So any BLAS with more threads than the OpenMP
    thread count of the kernels, which ``set_num_threads`` also sets, is
    lowered to it. A BLAS limited to fewer threads is left as it is.
    """
    if _core.have_blas():
        return
    from scipy.linalg import cython_blas
    from threadpoolctl import ThreadpoolController

    capi = cython_blas.__pyx_capi__
    _core.set_blas(capi["dgemm"], capi["sgemm"])

    n_threads = _core.get_num_threads()
    for library in ThreadpoolController().select(user_api="blas").lib_controllers:
        if library.num_threads > n_threads:
            library.set_num_threads(n_threads)
