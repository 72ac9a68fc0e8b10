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
    loaded at that time. So the BLAS thread count is set to the OpenMP
    thread count of the kernels, which ``set_num_threads`` also sets.
    """
    if _core.have_blas():
        return
    from scipy.linalg import cython_blas
    from threadpoolctl import threadpool_limits

    capi = cython_blas.__pyx_capi__
    _core.set_blas(capi["dgemm"], capi["sgemm"])
    threadpool_limits(limits=_core.get_num_threads(), user_api="blas")
