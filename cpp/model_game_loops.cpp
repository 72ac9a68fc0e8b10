// The per-coalition loops of the model-game walk (model_game.hpp), compiled
// once per instruction set like the loops of activations.cpp.
//
// Every loop here is elementwise, sums along rows, or a dot product in a
// fixed order (dot_lanes), and CMakeLists.txt passes -ffp-contract=off, so
// the AVX-512, AVX2 and baseline versions round identically.
#include <cstddef>

#include "model_game.hpp"

namespace mathlearn {

#define MATHLEARN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

namespace {

// y[e] *= ratio[e] for e < count, then a[e] = sigma(u) from y = exp(c u), with
// sigma(u) = numerator(y) / (y + 1): numerator y - 1 for tanh (c = 2) and y for
// the sigmoid (c = 1). Element e is paired with e + count / 2, and both
// quotients share one division: with q = y + 1,
//   n_1 / q_1 = (n_1 q_2) / (q_1 q_2) and n_2 / q_2 = (n_2 q_1) / (q_1 q_2).
// A division costs several multiplications, and it bounds this loop. Each
// quotient takes at most 6 roundings (5 for the sigmoid), so it is within
// 6 eps relative. q_1 q_2 <= (e^64 + 1)^2 cannot overflow (kRatioMaxBound).
template <bool kTanh, class T>
inline void ratio_pairs(std::ptrdiff_t half, double* __restrict y_first, double* __restrict y_second,
                        const double* __restrict ratio_first, const double* __restrict ratio_second,
                        T* __restrict a_first, T* __restrict a_second) {
    for (std::ptrdiff_t e = 0; e < half; ++e) {
        const double y1 = y_first[e] * ratio_first[e];
        const double y2 = y_second[e] * ratio_second[e];
        y_first[e] = y1;
        y_second[e] = y2;
        const double q1 = y1 + 1.0;
        const double q2 = y2 + 1.0;
        const double n1 = kTanh ? y1 - 1.0 : y1;
        const double n2 = kTanh ? y2 - 1.0 : y2;
        const double inverse = 1.0 / (q1 * q2);
        a_first[e] = static_cast<T>((n1 * q2) * inverse);
        a_second[e] = static_cast<T>((n2 * q1) * inverse);
    }
}

template <bool kTanh, class T>
inline void ratio_step_body(double* y, const double* ratio, std::ptrdiff_t count, T* a) {
    const std::ptrdiff_t half = count / 2;
    ratio_pairs<kTanh>(half, y, y + half, ratio, ratio + half, a, a + half);
    if (count % 2 != 0) {
        const std::ptrdiff_t e = count - 1;
        const double y_last = y[e] * ratio[e];
        y[e] = y_last;
        a[e] = static_cast<T>((kTanh ? y_last - 1.0 : y_last) / (y_last + 1.0));
    }
}

// Four rows of the ratio step (see ratio_sum_body) sharing one division:
// with q = y + 1, the sum of the four activations n_j / q_j is
//   ((q_3 q_4) (n_1 q_2 + n_2 q_1) + (q_1 q_2) (n_3 q_4 + n_4 q_3)) / (q_1 q_2 q_3 q_4).
template <bool kTanh>
inline void ratio_quad(std::ptrdiff_t width, double* __restrict y1, double* __restrict y2,
                       double* __restrict y3, double* __restrict y4, const double* __restrict r1,
                       const double* __restrict r2, const double* __restrict r3,
                       const double* __restrict r4, double* __restrict s) {
    for (std::ptrdiff_t i = 0; i < width; ++i) {
        const double v1 = y1[i] * r1[i];
        const double v2 = y2[i] * r2[i];
        const double v3 = y3[i] * r3[i];
        const double v4 = y4[i] * r4[i];
        y1[i] = v1;
        y2[i] = v2;
        y3[i] = v3;
        y4[i] = v4;
        const double q1 = v1 + 1.0;
        const double q2 = v2 + 1.0;
        const double q3 = v3 + 1.0;
        const double q4 = v4 + 1.0;
        const double q12 = q1 * q2;
        const double q34 = q3 * q4;
        const double inverse = 1.0 / (q12 * q34);
        const double n1 = kTanh ? v1 - 1.0 : v1;
        const double n2 = kTanh ? v2 - 1.0 : v2;
        const double n3 = kTanh ? v3 - 1.0 : v3;
        const double n4 = kTanh ? v4 - 1.0 : v4;
        const double first_pair = q34 * (n1 * q2 + n2 * q1);
        const double second_pair = q12 * (n3 * q4 + n4 * q3);
        s[i] += (first_pair + second_pair) * inverse;
    }
}

// Two rows of the ratio step sharing one division: the sum of the two
// activations is (n_1 q_2 + n_2 q_1) / (q_1 q_2).
template <bool kTanh>
inline void ratio_pair_sum(std::ptrdiff_t width, double* __restrict y1, double* __restrict y2,
                           const double* __restrict r1, const double* __restrict r2, double* __restrict s) {
    for (std::ptrdiff_t i = 0; i < width; ++i) {
        const double v1 = y1[i] * r1[i];
        const double v2 = y2[i] * r2[i];
        y1[i] = v1;
        y2[i] = v2;
        const double q1 = v1 + 1.0;
        const double q2 = v2 + 1.0;
        const double n1 = kTanh ? v1 - 1.0 : v1;
        const double n2 = kTanh ? v2 - 1.0 : v2;
        s[i] += (n1 * q2 + n2 * q1) / (q1 * q2);
    }
}

// The ratio step of `rows` rows of `width` units, y and ratio (rows, width),
// that adds each unit's activations over the rows into s (width,) instead of
// storing them. Rows k, k + g, k + 2 g, k + 3 g with g = rows / 4 share one
// division. The up to three rows left over share a division in a pair or
// take their own. The sum of a group of four is within 10 eps
// (|a_1| + |a_2| + |a_3| + |a_4|) of the exact sum of sigma(u') for the y
// of its rows: 2 eps from n and q, 8 eps from the products, the additions
// and the division. A pair's sum is within 6 eps (|a_1| + |a_2|).
// With y <= e^64 (kRatioMaxBound), q_1 q_2 q_3 q_4 cannot overflow.
template <bool kTanh>
inline void ratio_sum_body(double* y, const double* ratio, std::ptrdiff_t rows, std::ptrdiff_t width,
                           double* __restrict s) {
    for (std::ptrdiff_t i = 0; i < width; ++i) s[i] = 0.0;
    const std::ptrdiff_t g = rows / 4;
    for (std::ptrdiff_t k = 0; k < g; ++k) {
        ratio_quad<kTanh>(width, y + k * width, y + (k + g) * width, y + (k + 2 * g) * width,
                          y + (k + 3 * g) * width, ratio + k * width, ratio + (k + g) * width,
                          ratio + (k + 2 * g) * width, ratio + (k + 3 * g) * width, s);
    }
    std::ptrdiff_t k = 4 * g;
    if (rows - k >= 2) {
        ratio_pair_sum<kTanh>(width, y + k * width, y + (k + 1) * width, ratio + k * width,
                              ratio + (k + 1) * width, s);
        k += 2;
    }
    if (k < rows) {
        double* __restrict y1 = y + k * width;
        const double* __restrict r1 = ratio + k * width;
        for (std::ptrdiff_t i = 0; i < width; ++i) {
            const double v1 = y1[i] * r1[i];
            y1[i] = v1;
            s[i] += (kTanh ? v1 - 1.0 : v1) / (v1 + 1.0);
        }
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

// sum_j a[j] b[j] in 8 interleaved partial sums (lane l takes j = l mod 8)
// added in a fixed tree. The order does not depend on the vector width, so
// every version of the loop rounds alike, which `#pragma omp simd
// reduction` would not promise.
template <class T>
inline T dot_lanes(const T* __restrict a, const T* __restrict b, std::ptrdiff_t count) {
    T lane[8] = {T(0), T(0), T(0), T(0), T(0), T(0), T(0), T(0)};
    std::ptrdiff_t j = 0;
    for (; j + 8 <= count; j += 8) {
        for (int l = 0; l < 8; ++l) lane[l] += a[j + l] * b[j + l];
    }
    for (int l = 0; j + l < count; ++l) lane[l] += a[j + l] * b[j + l];
    return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

template <class T>
inline void dot_rows_body(std::ptrdiff_t rows, int n_in, int n_out, const T* W, const T* b, const T* A,
                          T* Z) {
    for (std::ptrdiff_t r = 0; r < rows; ++r) {
        const T* a = A + r * n_in;
        for (int i = 0; i < n_out; ++i) Z[r * n_out + i] = b[i] + dot_lanes(W + std::ptrdiff_t(i) * n_in, a, n_in);
    }
}

}  // namespace

MATHLEARN_CLONES void tanh_ratio_step(double* y, const double* ratio, std::ptrdiff_t count, double* a) {
    ratio_step_body<true>(y, ratio, count, a);
}

MATHLEARN_CLONES void tanh_ratio_step(double* y, const double* ratio, std::ptrdiff_t count, float* a) {
    ratio_step_body<true>(y, ratio, count, a);
}

MATHLEARN_CLONES void sigmoid_ratio_step(double* y, const double* ratio, std::ptrdiff_t count, double* a) {
    ratio_step_body<false>(y, ratio, count, a);
}

MATHLEARN_CLONES void sigmoid_ratio_step(double* y, const double* ratio, std::ptrdiff_t count, float* a) {
    ratio_step_body<false>(y, ratio, count, a);
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

MATHLEARN_CLONES void tanh_ratio_sum(double* y, const double* ratio, std::ptrdiff_t rows, std::ptrdiff_t width,
                                      double* s) {
    ratio_sum_body<true>(y, ratio, rows, width, s);
}

MATHLEARN_CLONES void sigmoid_ratio_sum(double* y, const double* ratio, std::ptrdiff_t rows,
                                         std::ptrdiff_t width, double* s) {
    ratio_sum_body<false>(y, ratio, rows, width, s);
}

MATHLEARN_CLONES void add_column_sums(const double* a, std::ptrdiff_t rows, std::ptrdiff_t width, double* s) {
    for (std::ptrdiff_t k = 0; k < rows; ++k) {
        const double* row = a + k * width;
        for (std::ptrdiff_t i = 0; i < width; ++i) s[i] += row[i];
    }
}

MATHLEARN_CLONES double dot_product(const double* a, const double* b, std::ptrdiff_t count) {
    return dot_lanes(a, b, count);
}

}  // namespace mathlearn
