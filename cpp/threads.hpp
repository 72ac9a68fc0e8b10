// Thread control for the OpenMP kernels of mathlearn._core.
#pragma once

#ifdef MATHLEARN_HAVE_OPENMP
#include <omp.h>
#endif

namespace mathlearn {

inline bool have_openmp() {
#ifdef MATHLEARN_HAVE_OPENMP
    return true;
#else
    return false;
#endif
}

// Number of threads the kernels use; 1 when built without OpenMP.
inline int max_threads() {
#ifdef MATHLEARN_HAVE_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

inline void set_max_threads(int n) {
#ifdef MATHLEARN_HAVE_OPENMP
    omp_set_num_threads(n);
#else
    (void)n;
#endif
}

}  // namespace mathlearn
