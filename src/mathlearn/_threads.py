"""One switch for the three thread pools mathlearn uses.

The C++ kernels thread with OpenMP, the Numba kernels with Numba's own
threading layer, and matrix products with the BLAS that SciPy ships.
On a machine with few cores, two busy pools oversubscribe it, so
``set_num_threads`` sets all three at once.
"""

from __future__ import annotations

import os

from ._validation import check_int


def set_num_threads(n: int) -> None:
    """Set the threads used by the C++ kernels, the Numba kernels and BLAS.

    Parameters
    ----------
    n : int
        Number of threads, between 1 and ``os.cpu_count()``.
    """
    n = check_int(n, "n", minimum=1, maximum=os.cpu_count() or 1)
    import numba
    from threadpoolctl import threadpool_limits

    from . import _core

    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    threadpool_limits(limits=n, user_api="blas")
    # Numba's OpenMP layer shares libgomp with the C++ kernels and resets
    # the OpenMP thread count when it starts, so the C++ setting goes last.
    _core.set_num_threads(n)


def get_num_threads() -> int:
    """Return the number of threads the C++ kernels use."""
    from . import _core

    return _core.get_num_threads()
