// Thread control for the OpenMP kernels of mathlearn._core.
#pragma once

#include <atomic>

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

// The count set by set_max_threads, 0 before the first call. OpenMP's own
// setting (omp_set_num_threads) applies only to the calling thread and
// the threads it starts later, so a Python thread created before or apart
// from the call would not see it.
inline std::atomic<int>& thread_setting() {
    static std::atomic<int> n{0};
    return n;
}

// Number of threads the kernels use; 1 when built without OpenMP.
inline int max_threads() {
#ifdef MATHLEARN_HAVE_OPENMP
    const int n = thread_setting().load(std::memory_order_relaxed);
    return n > 0 ? n : omp_get_max_threads();
#else
    return 1;
#endif
}

inline void set_max_threads(int n) {
#ifdef MATHLEARN_HAVE_OPENMP
    omp_set_num_threads(n);
    thread_setting().store(n, std::memory_order_relaxed);
#else
    (void)n;
#endif
}

}  // namespace mathlearn
