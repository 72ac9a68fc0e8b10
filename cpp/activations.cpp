// Loops of tanh and sigmoid over arrays, the affine rows of the fused forward
// pass and one block of the per-sample Jacobian, compiled once per instruction set.
//
// GCC's target_clones builds AVX-512, AVX2 and baseline x86-64 versions of
// each loop and picks one at load time from the CPU, so the wheel stays
// portable. CMakeLists.txt passes -ffp-contract=off, so no version fuses
// a * b + c into one FMA and all versions round identically.
#include <cstddef>

#include "fastmath.hpp"
#include "jacobian.hpp"
#include "mlp.hpp"

namespace mathlearn {

#define MATHLEARN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

MATHLEARN_CLONES void tanh_inplace(double* a, std::ptrdiff_t count) {
    for (std::ptrdiff_t k = 0; k < count; ++k) a[k] = tanh_vectorizable(a[k]);
}

MATHLEARN_CLONES void tanh_inplace(float* a, std::ptrdiff_t count) {
    for (std::ptrdiff_t k = 0; k < count; ++k) a[k] = tanh_float(a[k]);
}

MATHLEARN_CLONES void sigmoid_inplace(double* a, std::ptrdiff_t count) {
    for (std::ptrdiff_t k = 0; k < count; ++k) a[k] = sigmoid_vectorizable(a[k]);
}

MATHLEARN_CLONES void sigmoid_inplace(float* a, std::ptrdiff_t count) {
    for (std::ptrdiff_t k = 0; k < count; ++k) {
        a[k] = static_cast<float>(sigmoid_vectorizable(static_cast<double>(a[k])));
    }
}

namespace {

template <class T>
inline void affine_rows_body(std::ptrdiff_t rows, int n_in, int n_out, const T* Wt, const T* b,
                             const T* A, T* Z) {
    for (std::ptrdiff_t r = 0; r < rows; ++r) {
        const T* a = A + r * n_in;
        T* z = Z + r * n_out;
        for (int i = 0; i < n_out; ++i) z[i] = b[i];
        for (int j = 0; j < n_in; ++j) {
            const T aj = a[j];
            const T* column = Wt + std::ptrdiff_t(j) * n_out;
#pragma omp simd
            for (int i = 0; i < n_out; ++i) z[i] += aj * column[i];
        }
    }
}

}  // namespace

MATHLEARN_CLONES void affine_rows(std::ptrdiff_t rows, int n_in, int n_out, const double* Wt,
                                  const double* b, const double* A, double* Z) {
    affine_rows_body(rows, n_in, n_out, Wt, b, A, Z);
}

MATHLEARN_CLONES void affine_rows(std::ptrdiff_t rows, int n_in, int n_out, const float* Wt,
                                  const float* b, const float* A, float* Z) {
    affine_rows_body(rows, n_in, n_out, Wt, b, A, Z);
}

// flatten inlines the whole block, the staging writer included, into each
// clone; a helper left out of line would be compiled for the baseline only.
MATHLEARN_CLONES __attribute__((flatten)) void jacobian_block(
    const Layout& lay, const Sigma& act, const std::vector<std::vector<double>>& Wt,
    const double* w, const double* X, std::ptrdiff_t rows, double* J, JacobianScratch<double>& s) {
    jacobian_block_body(lay, act, Wt, w, X, rows, J, s);
}

MATHLEARN_CLONES __attribute__((flatten)) void jacobian_block(
    const Layout& lay, const Sigma& act, const std::vector<std::vector<float>>& Wt,
    const float* w, const float* X, std::ptrdiff_t rows, float* J, JacobianScratch<float>& s) {
    jacobian_block_body(lay, act, Wt, w, X, rows, J, s);
}

}  // namespace mathlearn
