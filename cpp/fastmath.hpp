// tanh and the logistic sigmoid written so that GCC can vectorize loops over
// them: no calls into libm, no branches that depend on the data except
// selects. The sigmoid is evaluated in double, also for float32 data; tanh
// has a double version and a float32 one (tanh_float, at the end).
//
// Method: the usual range reduction of exp. Write x = k ln2 + r with integer
// k and |r| <= ln2 / 2; then exp(x) = 2^k (1 + q) with q = expm1(r) from its
// Taylor series to r^13 / 13!, whose truncation error is below 2e-17
// relative for that r, and 2^k is built from its exponent bits. The results
// stay within a few ulp of math.tanh and math.exp, which
// tests/test_network_activations.py checks at 8 eps relative.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace mathlearn {

// Split x (in [-708, 709]) into scale = 2^k and q = expm1(r), so that
// exp(x) = scale * (1 + q).
inline void exp_split(double x, double& scale, double& q) {
    constexpr double log2e = 1.4426950408889634;
    // ln 2 = ln2_hi + ln2_lo to about 2^-85. The low 21 mantissa bits of
    // ln2_hi are zero, so k * ln2_hi is exact for |k| < 2^21.
    constexpr double ln2_hi = 6.93147180369123816490e-01;
    constexpr double ln2_lo = 1.90821492927058770002e-10;
    // Adding 1.5 * 2^52 rounds to an integer and leaves k in the low mantissa bits.
    constexpr double shifter = 6755399441055744.0;

    double kd = x * log2e + shifter;
    std::uint64_t bits;
    std::memcpy(&bits, &kd, sizeof bits);
    kd -= shifter;
    const double r = (x - kd * ln2_hi) - kd * ln2_lo;

    q = r * (1.0 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 +
        r * (1.0 / 720 + r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 +
        r * (1.0 / 3628800 + r * (1.0 / 39916800 + r * (1.0 / 479001600 +
        r * (1.0 / 6227020800.0)))))))))))));

    // Low 12 bits of `bits` are k mod 2^12, so this is the biased exponent k + 1023.
    const std::uint64_t scale_bits = (bits + 1023) << 52;
    std::memcpy(&scale, &scale_bits, sizeof scale);
}

// CMakeLists.txt compiles with -fno-trapping-math: without it GCC 12 keeps
// the selects below as branches and the loops over these functions scalar.

// tanh(z) = -expm1(-2|z|) / (2 + expm1(-2|z|)) with the sign of z. expm1 keeps
// full relative accuracy near 0, where 1 - 2 / (exp(2z) + 1) would cancel.
inline double tanh_vectorizable(double z) {
    const double minus_two_t = -2.0 * std::fabs(z);
    // For 2|z| > 60, exp(-2|z|) < eps / 2, so tanh rounds to 1 and clamping changes nothing.
    const double x = (minus_two_t > -60.0) ? minus_two_t : -60.0;
    double scale, q;
    exp_split(x, scale, q);
    const double e = scale * q + (scale - 1.0);  // expm1(x), exact when k = 0
    return std::copysign(-e / (2.0 + e), z);
}

// sigmoid(z) = 1 / (1 + e) for z >= 0 and e / (1 + e) for z < 0, with e = exp(-|z|) <= 1,
// so nothing overflows: sigmoid(+-1000) is exactly 1 and 0.
inline double sigmoid_vectorizable(double z) {
    const double x = -std::fabs(z);
    const double x_clamped = (x > -708.0) ? x : -708.0;
    double scale, q;
    exp_split(x_clamped, scale, q);
    // exp(x) for x < -708 is below 3.3e-308 and is flushed to 0 (an absolute error
    // under 3.3e-308; the correctly rounded value would be subnormal).
    const double exp_x = scale * q + scale;
    const double e = (x > -708.0) ? exp_x : 0.0;
    const double s = 1.0 / (1.0 + e);
    const double es = e * s;
    return (z >= 0.0) ? s : es;
}

}  // namespace mathlearn

namespace mathlearn {

// tanh in float32 arithmetic, for loops that GCC vectorizes with 16 lanes
// on AVX-512 (8 on AVX2). Both branches are computed and one is selected:
//  - |z| < 0.55: tanh(z) = z + z^3 p(z^2), p of degree 4 fitted by
//    reweighted least squares to a minimax approximation of
//    (tanh(z) - z) / z^3; the relative error of the fit is below 1e-9.
//  - |z| >= 0.55: tanh|z| = 1 - 2 / (exp(2|z|) + 1), where the result is at
//    least 0.5, so the subtraction does not cancel. exp(x) = 2^k exp(r) with
//    |r| <= ln2 / 2 and exp(r) from its Taylor series to r^7 / 7!, whose
//    truncation error is below 6e-9 relative.
// The result is within 2 float32 ulp of tanh (1.5 ulp at most on every
// third float32 in [0, 11]), which tests/test_network_mse_kernel.py checks
// on a dense grid.
// NaN propagates; for |z| > 9.5, tanh|z| rounds to 1 in float32.
inline float tanh_float(float z) {
    const float t = std::fabs(z);

    const float u = t * t;
    const float p = -0.33333318f + u * (0.13332602f + u * (-0.053853858f +
                    u * (0.021077759f + u * -0.0062824738f)));
    const float small = t + t * u * p;

    constexpr float log2e = 1.44269504f;
    // ln 2 = ln2_hi + ln2_lo; ln2_hi has 16 significant bits, so k * ln2_hi
    // is exact for the |k| <= 28 that occur here.
    constexpr float ln2_hi = 0.693145751953125f;
    constexpr float ln2_lo = 1.428606765330187e-06f;
    // Adding 1.5 * 2^23 rounds to an integer and leaves k in the low mantissa bits.
    constexpr float shifter = 12582912.0f;
    const float x = 2.0f * (t > 9.5f ? 9.5f : t);
    float kf = x * log2e + shifter;
    std::uint32_t bits;
    std::memcpy(&bits, &kf, sizeof bits);
    kf -= shifter;
    const float r = (x - kf * ln2_hi) - kf * ln2_lo;
    const float exp_r = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 +
                        r * (1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040)))))));
    // The low mantissa bits of `bits` hold k, so this is the biased exponent k + 127.
    const std::uint32_t scale_bits = (bits + 127) << 23;
    float scale;
    std::memcpy(&scale, &scale_bits, sizeof scale);
    const float large = 1.0f - 2.0f / (scale * exp_r + 1.0f);

    return std::copysign(t < 0.55f ? small : large, z);
}

}  // namespace mathlearn
