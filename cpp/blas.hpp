// Matrix products through the BLAS that SciPy ships.
//
// The extension does not link a BLAS itself. At first use, Python hands over
// the dgemm/sgemm function pointers that scipy.linalg.cython_blas exports as
// PyCapsules (Fortran calling convention, 32-bit integers). The pointers are
// plain C functions, so they may be called with the GIL released.
#pragma once

#include <stdexcept>

namespace mathlearn {

using dgemm_t = void (*)(const char*, const char*, const int*, const int*, const int*,
                         const double*, const double*, const int*, const double*, const int*,
                         const double*, double*, const int*);
using sgemm_t = void (*)(const char*, const char*, const int*, const int*, const int*,
                         const float*, const float*, const int*, const float*, const int*,
                         const float*, float*, const int*);

// The thread-count functions of the OpenBLAS library behind dgemm and
// sgemm (openblas_get_num_threads and openblas_set_num_threads, with
// SciPy's "scipy_" prefix in its wheels).
using get_threads_t = int (*)();
using set_threads_t = void (*)(int);

struct BlasTable {
    dgemm_t dgemm = nullptr;
    sgemm_t sgemm = nullptr;
    // Null when the BLAS is not OpenBLAS or does not export them.
    get_threads_t get_threads = nullptr;
    set_threads_t set_threads = nullptr;
};

// Set once by set_blas() under the GIL and read-only afterwards.
BlasTable& blas_table();

inline bool can_serialize_blas() {
    return blas_table().get_threads != nullptr && blas_table().set_threads != nullptr;
}

// While an instance exists, OpenBLAS runs each call on the calling thread,
// so that kernels which split a batch over OpenMP threads can call GEMM
// from each of them without a second thread pool competing for the cores.
// The thread count is process-wide in OpenBLAS: the first of overlapping
// scopes saves it and sets 1, and the last one restores it. Other callers
// of the same OpenBLAS (scipy.linalg) run on one thread meanwhile.
// Without the two functions (can_serialize_blas() false) it does nothing.
class SerialBlasScope {
public:
    SerialBlasScope();
    ~SerialBlasScope();
    SerialBlasScope(const SerialBlasScope&) = delete;
    SerialBlasScope& operator=(const SerialBlasScope&) = delete;
};

inline bool have_blas() { return blas_table().dgemm != nullptr && blas_table().sgemm != nullptr; }

// Column-major C (M x N) = alpha op(A) op(B) + beta C, as in the reference BLAS.
inline void gemm(char transa, char transb, int M, int N, int K, double alpha, const double* A,
                 int lda, const double* B, int ldb, double beta, double* C, int ldc) {
    blas_table().dgemm(&transa, &transb, &M, &N, &K, &alpha, A, &lda, B, &ldb, &beta, C, &ldc);
}

inline void gemm(char transa, char transb, int M, int N, int K, float alpha, const float* A,
                 int lda, const float* B, int ldb, float beta, float* C, int ldc) {
    blas_table().sgemm(&transa, &transb, &M, &N, &K, &alpha, A, &lda, B, &ldb, &beta, C, &ldc);
}

// Row-major C (M x N) = A (M x K) * B^T, with B stored row-major as (N x K).
// In column-major terms this is C^T = B A^T.
template <class T>
void gemm_rm_abt(int M, int N, int K, const T* A, const T* B, T beta, T* C) {
    gemm('T', 'N', N, M, K, T(1), B, K, A, K, beta, C, N);
}

// Row-major C (M x N) = A (M x K) * B, with B stored row-major as (K x N).
template <class T>
void gemm_rm_ab(int M, int N, int K, const T* A, const T* B, T beta, T* C) {
    gemm('N', 'N', N, M, K, T(1), B, N, A, K, beta, C, N);
}

// Row-major C (M x N) = A^T B, with A stored row-major as (K x M) and B as (K x N).
template <class T>
void gemm_rm_atb(int M, int N, int K, const T* A, const T* B, T beta, T* C) {
    gemm('N', 'T', N, M, K, T(1), B, N, A, M, beta, C, N);
}

}  // namespace mathlearn
