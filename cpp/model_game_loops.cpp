// The per-coalition loops of the model-game walk (model_game.hpp), compiled
// once per instruction set like the loops of activations.cpp.
//
// Every loop here is elementwise or a dot product in a fixed order, and
// CMakeLists.txt passes -ffp-contract=off, so the AVX-512, AVX2 and
// baseline versions round identically.
#include <cstddef>

#include "model_game.hpp"

namespace mathlearn {

#define MATHLEARN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

namespace {

template <class T>
inline void tanh_ratio_step_body(double* y, const double* ratio, std::ptrdiff_t count, T* a) {
    for (std::ptrdiff_t e = 0; e < count; ++e) {
        const double y_new = y[e] * ratio[e];
        y[e] = y_new;
        a[e] = static_cast<T>((y_new - 1.0) / (y_new + 1.0));
    }
}

template <class T>
inline void sigmoid_ratio_step_body(double* y, const double* ratio, std::ptrdiff_t count, T* a) {
    for (std::ptrdiff_t e = 0; e < count; ++e) {
        const double y_new = y[e] * ratio[e];
        y[e] = y_new;
        a[e] = static_cast<T>(y_new / (1.0 + y_new));
    }
}

template <class T>
inline void shift_step_body(double* u, const double* V, double sign, std::ptrdiff_t count, T* z) {
    for (std::ptrdiff_t e = 0; e < count; ++e) {
        const double u_new = u[e] + sign * V[e];
        u[e] = u_new;
        z[e] = static_cast<T>(u_new);
    }
}

template <class T>
inline void dot_rows_body(std::ptrdiff_t rows, int n_in, int n_out, const T* W, const T* b, const T* A,
                          T* Z) {
    for (std::ptrdiff_t r = 0; r < rows; ++r) {
        const T* a = A + r * n_in;
        for (int i = 0; i < n_out; ++i) {
            const T* Wi = W + std::ptrdiff_t(i) * n_in;
            T sum = T(0);
#pragma omp simd reduction(+ : sum)
            for (int j = 0; j < n_in; ++j) sum += Wi[j] * a[j];
            Z[r * n_out + i] = b[i] + sum;
        }
    }
}

}  // namespace

MATHLEARN_CLONES void tanh_ratio_step(double* y, const double* ratio, std::ptrdiff_t count, double* a) {
    tanh_ratio_step_body(y, ratio, count, a);
}

MATHLEARN_CLONES void tanh_ratio_step(double* y, const double* ratio, std::ptrdiff_t count, float* a) {
    tanh_ratio_step_body(y, ratio, count, a);
}

MATHLEARN_CLONES void sigmoid_ratio_step(double* y, const double* ratio, std::ptrdiff_t count, double* a) {
    sigmoid_ratio_step_body(y, ratio, count, a);
}

MATHLEARN_CLONES void sigmoid_ratio_step(double* y, const double* ratio, std::ptrdiff_t count, float* a) {
    sigmoid_ratio_step_body(y, ratio, count, a);
}

MATHLEARN_CLONES void shift_step(double* u, const double* V, double sign, std::ptrdiff_t count, double* z) {
    shift_step_body(u, V, sign, count, z);
}

MATHLEARN_CLONES void shift_step(double* u, const double* V, double sign, std::ptrdiff_t count, float* z) {
    shift_step_body(u, V, sign, count, z);
}

MATHLEARN_CLONES void dot_rows(std::ptrdiff_t rows, int n_in, int n_out, const double* W, const double* b,
                               const double* A, double* Z) {
    dot_rows_body(rows, n_in, n_out, W, b, A, Z);
}

MATHLEARN_CLONES void dot_rows(std::ptrdiff_t rows, int n_in, int n_out, const float* W, const float* b,
                               const float* A, float* Z) {
    dot_rows_body(rows, n_in, n_out, W, b, A, Z);
}

}  // namespace mathlearn
