// Forward pass and backpropagation of a multilayer perceptron
// f_w = h_L o sigma o h_{L-1} o ... o sigma o h_1, with h_l(a) = W_l a + b_l
// and W_l of shape (n_l, n_{l-1}). The per-sample Jacobian is in jacobian.hpp.
//
// Storage: w is the flat parameter vector (W_1, b_1, ..., W_L, b_L), each W_l
// row-major. Batches are rows: X is (B, n_0), the hidden activations
// a_l = sigma(z_l) are (B, n_l) and the output Y = z_L is (B, n_L).
//
// Every function here is pure C++ and runs without the GIL. Callers check
// shapes and allocate all outputs and workspaces beforehand.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "blas.hpp"
#include "fastmath.hpp"
#include "threads.hpp"

namespace mathlearn {

enum class Activation : int {
    identity = 0,
    sigmoid = 1,
    tanh = 2,
    relu = 3,
    leaky_relu = 4,  // param = slope for z < 0, > 0
    softplus = 5,
    elu = 6,         // param = alpha > 0
    gelu = 7,        // the exact z Phi(z), Phi the standard normal cdf
    sin = 8,
    power = 9,       // param = integer degree k >= 1
};
constexpr int kActivationCount = 10;

// An activation with its one real parameter (ignored by the kinds that have none).
struct Sigma {
    Activation kind = Activation::identity;
    double param = 0.0;

    // gelu, sin and power are not invertible on R, so sigma' cannot be computed
    // from a = sigma(z): the kernels keep the pre-activation z for them.
    bool needs_z() const {
        return kind == Activation::gelu || kind == Activation::sin || kind == Activation::power;
    }
};

// z^k by k - 1 multiplications, k >= 1. Python's z ** k calls pow, so the two
// agree to about k rounding errors.
inline double int_power(double z, int k) {
    double r = z;
    for (int i = 1; i < k; ++i) r *= z;
    return r;
}

inline constexpr double kInvSqrt2 = 0.70710678118654752440;
inline constexpr double kInvSqrt2Pi = 0.39894228040143267794;

// sigma(z) for the kinds without a vectorized array loop.
inline double sigma_scalar(const Sigma& s, double z) {
    switch (s.kind) {
        case Activation::identity:
            return z;
        case Activation::sigmoid:
            return sigmoid_vectorizable(z);
        case Activation::tanh:
            return std::tanh(z);
        case Activation::relu:
            return z > 0.0 ? z : 0.0;
        case Activation::leaky_relu:
            return z > 0.0 ? z : s.param * z;
        case Activation::softplus:
            // max(z, 0) + log1p(exp(-|z|)) never overflows: softplus(1000) = 1000.
            return (z > 0.0 ? z : 0.0) + std::log1p(std::exp(-std::fabs(z)));
        case Activation::elu:
            return z > 0.0 ? z : s.param * std::expm1(z);
        case Activation::gelu:
            // Phi(z) = erfc(-z / sqrt 2) / 2 keeps relative accuracy for z << 0.
            return z * 0.5 * std::erfc(-z * kInvSqrt2);
        case Activation::sin:
            return std::sin(z);
        case Activation::power:
            return int_power(z, int(s.param));
    }
    return z;
}

// sigma'(z), computed from a = sigma(z) where sigma is invertible and from z
// otherwise (see Sigma::needs_z; z is unused for the other kinds):
//   sigmoid' = a (1 - a), tanh' = 1 - a^2,
//   relu' = [a > 0] (so relu'(0) = 0), leaky_relu' = 1 if a > 0 else slope,
//   softplus'(z) = sigmoid(z) = 1 - exp(-a) = -expm1(-a), because exp(a) = 1 + exp(z),
//   elu'(z) = 1 for z > 0 and alpha exp(z) = a + alpha for z <= 0,
//   gelu'(z) = Phi(z) + z phi(z), sin' = cos, (z^k)' = k z^(k-1).
// At the kinks (z = 0) these are the one-sided derivatives from the left,
// the values PyTorch 2.x uses.
template <class T>
inline T derivative_from(const Sigma& s, T z, T a) {
    switch (s.kind) {
        case Activation::identity:
            return T(1);
        case Activation::sigmoid:
            return a * (T(1) - a);
        case Activation::tanh:
            return T(1) - a * a;
        case Activation::relu:
            return a > T(0) ? T(1) : T(0);
        case Activation::leaky_relu:
            return a > T(0) ? T(1) : T(s.param);
        case Activation::softplus:
            return T(-std::expm1(-double(a)));
        case Activation::elu:
            return a > T(0) ? T(1) : T(double(a) + s.param);
        case Activation::gelu: {
            const double x = z;
            return T(0.5 * std::erfc(-x * kInvSqrt2) + x * kInvSqrt2Pi * std::exp(-0.5 * x * x));
        }
        case Activation::sin:
            return T(std::cos(double(z)));
        case Activation::power: {
            const int k = int(s.param);
            return k == 1 ? T(1) : T(k * int_power(double(z), k - 1));
        }
    }
    return T(1);
}

// In-place tanh and sigmoid over arrays, defined in activations.cpp with one
// version per instruction set.
void tanh_inplace(double* a, std::ptrdiff_t count);
void tanh_inplace(float* a, std::ptrdiff_t count);
void sigmoid_inplace(double* a, std::ptrdiff_t count);
void sigmoid_inplace(float* a, std::ptrdiff_t count);

// a[k] = sigma(a[k]) for k < count, on one thread. Except for tanh, the
// kinds are evaluated in double, also for float32 data.
template <class T>
void apply_activation(const Sigma& s, T* a, std::ptrdiff_t count) {
    switch (s.kind) {
        case Activation::identity:
            return;
        case Activation::sigmoid:
            sigmoid_inplace(a, count);
            return;
        case Activation::tanh:
            tanh_inplace(a, count);
            return;
        case Activation::relu:
            for (std::ptrdiff_t k = 0; k < count; ++k) a[k] = a[k] > T(0) ? a[k] : T(0);
            return;
        default:
            for (std::ptrdiff_t k = 0; k < count; ++k) a[k] = T(sigma_scalar(s, double(a[k])));
            return;
    }
}

// Layer sizes (n_0, ..., n_L) and the offsets of W_l and b_l inside w.
struct Layout {
    std::vector<int> n;
    std::vector<std::ptrdiff_t> w_offset;  // index of W_l[0, 0] in w, for l = 1..L at [l - 1]
    std::vector<std::ptrdiff_t> b_offset;  // index of b_l[0] in w
    std::ptrdiff_t n_params = 0;

    explicit Layout(const std::vector<int>& sizes) : n(sizes) {
        for (std::size_t l = 1; l < n.size(); ++l) {
            w_offset.push_back(n_params);
            n_params += std::ptrdiff_t(n[l]) * n[l - 1];
            b_offset.push_back(n_params);
            n_params += n[l];
        }
    }
    int depth() const { return int(n.size()) - 1; }
    int width_max_hidden() const {
        int m = 1;
        for (int l = 1; l < depth(); ++l) m = std::max(m, n[l]);
        return m;
    }
};

// Loops with fewer elementwise operations than this run on one thread,
// because an OpenMP fork and join costs an estimated few microseconds, about
// as much as 10^4 multiply-adds.
constexpr std::ptrdiff_t kParallelMinWork = std::ptrdiff_t(1) << 14;

// Choice between the forward kernels, made in this one place (choose_blas)
// for a whole call, so that one call never alternates between the BLAS
// thread pool and the OpenMP one. OpenBLAS worker threads keep spinning for
// a while after each call, and an OpenMP region started in that window
// competes with them for the cores.
//  - BLAS path: per layer, bias rows, one GEMM, then sigma in one serial pass.
//    BLAS threads the GEMM itself. Every hidden layer (B x n_l) goes through
//    memory.
//  - Fused path: blocks of kFusedRows rows go through all layers while they
//    stay in the L1/L2 cache, with OpenMP over the blocks and no BLAS call.
//    Only the input is read and only the output written.
// The fused path wins when the layers are narrow, because a GEMM with a
// small inner dimension is bound by the memory traffic of its output, and
// loses for wide layers, where the GEMM runs near peak FLOP/s.
// benchmarks/bench_network.py::test_forward_path times both.
enum class ForwardPath : int { automatic = 0, blas = 1, fused = 2 };

ForwardPath& forward_path_override();

constexpr int kFusedRows = 64;
// The automatic choice takes the fused path when every layer has at most
// kFusedMaxWidth units and the hidden activations of the whole batch would
// take at least kFusedMinHiddenBytes. That is far beyond the last-level
// cache, so the BLAS path pays a round trip to main memory per layer.
// NOTE: set from timings of [10, 16..128, .., 1] tanh nets with B = 1024 to
// 361 472 on one loaded 2-core x86-64 machine: BLAS won up to B = 16 384 at
// every width, fused won by 1.4x to 2x at B = 361 472 for widths up to 64 and
// lost at 128. Other CPUs may move the crossover.
constexpr int kFusedMaxWidth = 64;
constexpr std::ptrdiff_t kFusedMinHiddenBytes = std::ptrdiff_t(32) << 20;

template <class T>
inline bool choose_blas(const Layout& lay, std::ptrdiff_t B) {
    switch (forward_path_override()) {
        case ForwardPath::blas:
            return true;
        case ForwardPath::fused:
            return false;
        case ForwardPath::automatic:
            break;
    }
    int widest = 1;
    std::ptrdiff_t hidden_units = 0;
    for (int l = 0; l <= lay.depth(); ++l) {
        widest = std::max(widest, lay.n[l]);
        if (l > 0 && l < lay.depth()) hidden_units += lay.n[l];
    }
    const std::ptrdiff_t hidden_bytes = B * hidden_units * std::ptrdiff_t(sizeof(T));
    return !(widest <= kFusedMaxWidth && hidden_bytes >= kFusedMinHiddenBytes);
}

// Z = A W^T + b for the whole batch with one GEMM; when apply_sigma, the
// pre-activation is copied to `pre` (if not null) and Z becomes sigma(Z).
template <class T>
void affine_layer_blas(const Sigma& act, bool apply_sigma, std::ptrdiff_t B, int n_in, int n_out,
                       const T* W, const T* b, const T* A, T* Z, T* pre) {
    for (std::ptrdiff_t r = 0; r < B; ++r) {
        std::copy(b, b + n_out, Z + r * n_out);
    }
    gemm_rm_abt<T>(int(B), n_out, n_in, A, W, T(1), Z);
    if (apply_sigma) {
        if (pre != nullptr) std::copy(Z, Z + B * n_out, pre);
        apply_activation(act, Z, B * n_out);
    }
}

// z = W a + b for `rows` rows, with Wt = W^T (n_in x n_out) so that each row
// is b plus a sum of rows of Wt, a loop over contiguous memory that
// vectorizes. Defined in activations.cpp with one version per instruction set.
void affine_rows(std::ptrdiff_t rows, int n_in, int n_out, const double* Wt, const double* b,
                 const double* A, double* Z);
void affine_rows(std::ptrdiff_t rows, int n_in, int n_out, const float* Wt, const float* b,
                 const float* A, float* Z);

// Fused forward pass: each thread takes blocks of kFusedRows rows through
// all layers in two small ping-pong buffers. hidden and pre (when not empty)
// still receive a_l and z_l, for a later backward pass.
template <class T>
void forward_fused(const Layout& lay, const Sigma& act, const T* w, const T* X, std::ptrdiff_t B,
                   const std::vector<T*>& hidden, const std::vector<T*>& pre, T* Y) {
    const int L = lay.depth();
    std::vector<std::vector<T>> Wt(static_cast<std::size_t>(L));
    for (int l = 1; l <= L; ++l) {
        const int n_in = lay.n[l - 1], n_out = lay.n[l];
        const T* W = w + lay.w_offset[l - 1];
        auto& t = Wt[l - 1];
        t.resize(static_cast<std::size_t>(n_in) * n_out);
        for (int i = 0; i < n_out; ++i)
            for (int j = 0; j < n_in; ++j) t[std::size_t(j) * n_out + i] = W[std::ptrdiff_t(i) * n_in + j];
    }
    int widest = 1;
    for (int n : lay.n) widest = std::max(widest, n);
    const std::ptrdiff_t n_blocks = (B + kFusedRows - 1) / kFusedRows;
    std::ptrdiff_t flops = 0;
    for (int l = 1; l <= L; ++l) flops += std::ptrdiff_t(lay.n[l - 1]) * lay.n[l];

#pragma omp parallel num_threads(max_threads()) if (B * flops >= kParallelMinWork)
    {
        std::vector<T> buf0(static_cast<std::size_t>(kFusedRows) * widest);
        std::vector<T> buf1(static_cast<std::size_t>(kFusedRows) * widest);
#pragma omp for schedule(static)
        for (std::ptrdiff_t blk = 0; blk < n_blocks; ++blk) {
            const std::ptrdiff_t r0 = blk * kFusedRows;
            const std::ptrdiff_t rows = std::min<std::ptrdiff_t>(kFusedRows, B - r0);
            const T* A = X + r0 * lay.n[0];
            T* cur = buf0.data();
            T* other = buf1.data();
            for (int l = 1; l <= L; ++l) {
                const int n_in = lay.n[l - 1], n_out = lay.n[l];
                const T* b = w + lay.b_offset[l - 1];
                T* Z = (l == L) ? Y + r0 * n_out : cur;
                affine_rows(rows, n_in, n_out, Wt[l - 1].data(), b, A, Z);
                if (l < L) {
                    if (!pre.empty()) std::copy(Z, Z + rows * n_out, pre[l - 1] + r0 * n_out);
                    apply_activation(act, Z, rows * n_out);
                    if (!hidden.empty()) std::copy(Z, Z + rows * n_out, hidden[l - 1] + r0 * n_out);
                    A = Z;
                    std::swap(cur, other);
                }
            }
        }
    }
}

// Forward pass into Y (B, n_L). When `hidden` is not empty, hidden[l - 1]
// receives a_l (B, n_l) for l = 1..L-1; when `pre` is not empty, pre[l - 1]
// receives z_l. blas selects the kernel (see choose_blas).
template <class T>
void forward(const Layout& lay, const Sigma& act, const T* w, const T* X, std::ptrdiff_t B,
             const std::vector<T*>& hidden, const std::vector<T*>& pre, T* Y, bool blas) {
    const int L = lay.depth();
    if (!blas) {
        forward_fused<T>(lay, act, w, X, B, hidden, pre, Y);
        return;
    }
    // The BLAS path needs a destination for every hidden layer.
    std::vector<std::vector<T>> scratch;
    const T* A = X;
    for (int l = 1; l <= L; ++l) {
        T* Z;
        if (l == L) {
            Z = Y;
        } else if (!hidden.empty()) {
            Z = hidden[l - 1];
        } else {
            scratch.emplace_back(static_cast<std::size_t>(B) * lay.n[l]);
            Z = scratch.back().data();
        }
        const T* W = w + lay.w_offset[l - 1];
        const T* b = w + lay.b_offset[l - 1];
        T* z_out = (l < L && !pre.empty()) ? pre[l - 1] : nullptr;
        affine_layer_blas<T>(act, l < L, B, lay.n[l - 1], lay.n[l], W, b, A, Z, z_out);
        A = Z;
    }
}

// Backpropagation, with BLAS for the products and no OpenMP region
// (choose_blas gives the reason). Following Goodfellow, Bengio and
// Courville, Deep Learning, Section 6.5.4, with delta_L = G = dL/dY:
//   grad W_l = delta_l^T a_{l-1},  grad b_l = sum over rows of delta_l,
//   delta_{l-1} = (delta_l W_l) * sigma'(z_{l-1}).
// pre contains z_l when act.needs_z(), else it may be empty.
// work1 and work2 each hold B * max hidden width elements.
template <class T>
void backward(const Layout& lay, const Sigma& act, const T* w, const T* X, std::ptrdiff_t B,
              const std::vector<const T*>& hidden, const std::vector<const T*>& pre, const T* G,
              T* grad, T* work1, T* work2) {
    const int L = lay.depth();
    const T* delta = G;
    T* next = work1;
    T* spare = work2;
    for (int l = L; l >= 1; --l) {
        const int n_in = lay.n[l - 1];
        const int n_out = lay.n[l];
        const T* A = (l == 1) ? X : hidden[l - 2];
        T* gW = grad + lay.w_offset[l - 1];
        T* gb = grad + lay.b_offset[l - 1];

        gemm_rm_atb<T>(n_out, n_in, int(B), delta, A, T(0), gW);
        std::fill(gb, gb + n_out, T(0));
        for (std::ptrdiff_t r = 0; r < B; ++r) {
            const T* d = delta + r * n_out;
            for (int i = 0; i < n_out; ++i) gb[i] += d[i];
        }

        if (l > 1) {
            gemm_rm_ab<T>(int(B), n_in, n_out, delta, w + lay.w_offset[l - 1], T(0), next);
            const std::ptrdiff_t total = B * n_in;
            const T* Z = act.needs_z() ? pre[l - 2] : A;
            // The common kinds get their own loop, without a switch per
            // element, so that the compiler vectorizes it.
            switch (act.kind) {
                case Activation::identity:
                    break;
                case Activation::tanh:
                    for (std::ptrdiff_t k = 0; k < total; ++k) next[k] *= T(1) - A[k] * A[k];
                    break;
                case Activation::sigmoid:
                    for (std::ptrdiff_t k = 0; k < total; ++k) next[k] *= A[k] * (T(1) - A[k]);
                    break;
                case Activation::relu:
                    for (std::ptrdiff_t k = 0; k < total; ++k) next[k] = A[k] > T(0) ? next[k] : T(0);
                    break;
                default:
                    for (std::ptrdiff_t k = 0; k < total; ++k) {
                        next[k] *= derivative_from(act, Z[k], A[k]);
                    }
            }
            delta = next;
            std::swap(next, spare);
        }
    }
}

}  // namespace mathlearn
