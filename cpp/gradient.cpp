// Elementwise passes of the MSE value-and-gradient kernel (gradient.hpp),
// compiled once per instruction set like the loops of activations.cpp.
#include "gradient.hpp"

#include "fastmath.hpp"

namespace mathlearn {

#define MATHLEARN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

// Each body must be inlined into its clones, or it is compiled once for
// baseline x86-64 and every clone calls that.
#define MATHLEARN_INLINE inline __attribute__((always_inline))

namespace {

inline double tanh_of(double z) { return tanh_vectorizable(z); }
inline float tanh_of(float z) { return tanh_float(z); }

template <class T>
MATHLEARN_INLINE void add_bias_activate_body(const Sigma& act, std::ptrdiff_t rows, int n, const T* b, T* Z) {
    for (std::ptrdiff_t r = 0; r < rows; ++r) {
        T* z = Z + r * n;
        switch (act.kind) {
            case Activation::tanh:
                for (int i = 0; i < n; ++i) z[i] = tanh_of(T(z[i] + b[i]));
                break;
            case Activation::sigmoid:
                for (int i = 0; i < n; ++i) z[i] = T(sigmoid_vectorizable(double(z[i] + b[i])));
                break;
            case Activation::relu:
                for (int i = 0; i < n; ++i) {
                    const T s = z[i] + b[i];
                    z[i] = s > T(0) ? s : T(0);
                }
                break;
            default:
                for (int i = 0; i < n; ++i) z[i] = T(sigma_scalar(act, double(z[i] + b[i])));
                break;
        }
    }
}

template <class T>
MATHLEARN_INLINE void multiply_slope_sum_body(const Sigma& act, std::ptrdiff_t rows, int n, const T* A,
                                    T* delta, T* sum_b) {
    for (std::ptrdiff_t r = 0; r < rows; ++r) {
        const T* a = A + r * n;
        T* d = delta + r * n;
        switch (act.kind) {
            case Activation::identity:
                break;
            case Activation::tanh:
                for (int i = 0; i < n; ++i) d[i] *= T(1) - a[i] * a[i];
                break;
            case Activation::sigmoid:
                for (int i = 0; i < n; ++i) d[i] *= a[i] * (T(1) - a[i]);
                break;
            case Activation::relu:
                for (int i = 0; i < n; ++i) d[i] = a[i] > T(0) ? d[i] : T(0);
                break;
            default:
                // Only kinds with needs_z() false reach this kernel, and derivative_from
                // ignores z for them, so a is passed in its place.
                for (int i = 0; i < n; ++i) d[i] *= derivative_from(act, a[i], a[i]);
                break;
        }
        for (int i = 0; i < n; ++i) sum_b[i] += d[i];
    }
}

template <class T>
MATHLEARN_INLINE double mse_residual_body(std::ptrdiff_t rows, int m, const T* b, const T* y,
                                const T* weight, T scale, T* Y, T* sum_b) {
    double total = 0.0;
    for (std::ptrdiff_t r = 0; r < rows; ++r) {
        T* g = Y + r * m;
        const T* target = y + r * m;
        const T w = weight != nullptr ? weight[r] : T(1);
        double squares = 0.0;
        for (int i = 0; i < m; ++i) {
            const T residual = (g[i] + b[i]) - target[i];
            squares += double(residual) * double(residual);
            g[i] = scale * residual * w;
            sum_b[i] += g[i];
        }
        total += double(w) * squares;
    }
    return total;
}

}  // namespace

MATHLEARN_CLONES void add_bias_activate(const Sigma& act, std::ptrdiff_t rows, int n,
                                        const double* b, double* Z) {
    add_bias_activate_body(act, rows, n, b, Z);
}

MATHLEARN_CLONES void add_bias_activate(const Sigma& act, std::ptrdiff_t rows, int n,
                                        const float* b, float* Z) {
    add_bias_activate_body(act, rows, n, b, Z);
}

MATHLEARN_CLONES void multiply_slope_sum(const Sigma& act, std::ptrdiff_t rows, int n,
                                         const double* A, double* delta, double* sum_b) {
    multiply_slope_sum_body(act, rows, n, A, delta, sum_b);
}

MATHLEARN_CLONES void multiply_slope_sum(const Sigma& act, std::ptrdiff_t rows, int n,
                                         const float* A, float* delta, float* sum_b) {
    multiply_slope_sum_body(act, rows, n, A, delta, sum_b);
}

MATHLEARN_CLONES double mse_residual(std::ptrdiff_t rows, int m, const double* b, const double* y,
                                     const double* weight, double scale, double* Y, double* sum_b) {
    return mse_residual_body(rows, m, b, y, weight, scale, Y, sum_b);
}

MATHLEARN_CLONES double mse_residual(std::ptrdiff_t rows, int m, const float* b, const float* y,
                                     const float* weight, float scale, float* Y, float* sum_b) {
    return mse_residual_body(rows, m, b, y, weight, scale, Y, sum_b);
}

}  // namespace mathlearn
