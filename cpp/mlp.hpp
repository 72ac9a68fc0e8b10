// Forward pass, backpropagation and per-sample Jacobian of a multilayer
// perceptron f_w = h_L o sigma o h_{L-1} o ... o sigma o h_1, with
// h_l(a) = W_l a + b_l and W_l of shape (n_l, n_{l-1}).
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

namespace mathlearn {

enum class Activation : int { identity = 0, sigmoid = 1, tanh = 2, relu = 3 };

// sigma'(z) written in terms of a = sigma(z), which is what the cache keeps:
// sigmoid' = a (1 - a), tanh' = 1 - a^2, relu'(z) = 1 if z > 0 else 0
// (so relu'(0) = 0, because a > 0 exactly when z > 0).
template <class T>
inline T derivative_from_value(Activation act, T a) {
    switch (act) {
        case Activation::identity:
            return T(1);
        case Activation::sigmoid:
            return a * (T(1) - a);
        case Activation::tanh:
            return T(1) - a * a;
        case Activation::relu:
            return a > T(0) ? T(1) : T(0);
    }
    return T(1);
}

// In-place tanh and sigmoid over arrays, defined in activations.cpp with one
// version per instruction set.
void tanh_inplace(double* a, std::ptrdiff_t count);
void tanh_inplace(float* a, std::ptrdiff_t count);
void sigmoid_inplace(double* a, std::ptrdiff_t count);
void sigmoid_inplace(float* a, std::ptrdiff_t count);

// a[k] = sigma(a[k]) for k < count, on one thread.
template <class T>
void apply_activation(Activation act, T* a, std::ptrdiff_t count) {
    switch (act) {
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

// Choice between the two forward kernels, made in this one place for a whole
// call, so that one call never alternates between the BLAS thread pool and
// the OpenMP one. OpenBLAS worker threads keep spinning for a while after
// each call, and an OpenMP region started in that window competes with them
// for the cores. In timings on a 2-core machine that made 2-thread calls
// 10 to 100 times slower than 1-thread calls.
//  - BLAS path: per layer, bias rows, one GEMM, then sigma in one serial pass.
//    BLAS threads the GEMM itself.
//  - Fused path: per layer, the affine map and sigma in one pass per row,
//    with OpenMP over the rows of the batch and no BLAS call.
// In timings of forward passes of [n, n, n] tanh networks on a 2-core
// x86-64 machine (n = 2 to 16, B = 16, 256, 4096, one and two threads), the
// BLAS path was faster in every case, by 5% to 4x. So forward passes use it,
// and the fused path serves the Jacobian, whose own loop runs on OpenMP.
// NOTE: those timings were taken on a shared machine with other jobs
// running; the fused path is kept selectable for tests and benchmarks.
enum class ForwardPath : int { automatic = 0, blas = 1, fused = 2 };

ForwardPath& forward_path_override();

inline bool use_blas() { return forward_path_override() != ForwardPath::fused; }

// Z = A W^T + b for the whole batch with one GEMM, then sigma when apply_sigma.
template <class T>
void affine_layer_blas(Activation act, bool apply_sigma, std::ptrdiff_t B, int n_in, int n_out,
                       const T* W, const T* b, const T* A, T* Z) {
    for (std::ptrdiff_t r = 0; r < B; ++r) {
        std::copy(b, b + n_out, Z + r * n_out);
    }
    gemm_rm_abt<T>(int(B), n_out, n_in, A, W, T(1), Z);
    if (apply_sigma && act != Activation::identity) {
        apply_activation(act, Z, B * n_out);
    }
}

// Z = sigma(A W^T + b) row by row, threaded over the batch. The fused path
// serves layers with few weights, so W^T is copied once into a small buffer:
// each row is then b plus a sum of columns of W (rows of W^T), a loop over
// contiguous memory that vectorizes.
template <class T>
void affine_layer_fused(Activation act, bool apply_sigma, std::ptrdiff_t B, int n_in, int n_out,
                        const T* W, const T* b, const T* A, T* Z) {
    std::vector<T> Wt(static_cast<std::size_t>(n_in) * n_out);
    for (int i = 0; i < n_out; ++i) {
        for (int j = 0; j < n_in; ++j) Wt[std::size_t(j) * n_out + i] = W[std::ptrdiff_t(i) * n_in + j];
    }
    const T* WtData = Wt.data();
#pragma omp parallel for schedule(static) if (B * n_in * n_out >= kParallelMinWork)
    for (std::ptrdiff_t r = 0; r < B; ++r) {
        const T* a = A + r * n_in;
        T* z = Z + r * n_out;
        std::copy(b, b + n_out, z);
        for (int j = 0; j < n_in; ++j) {
            const T aj = a[j];
            const T* column = WtData + std::ptrdiff_t(j) * n_out;
#pragma omp simd
            for (int i = 0; i < n_out; ++i) z[i] += aj * column[i];
        }
        if (apply_sigma) apply_activation(act, z, n_out);
    }
}

// Forward pass. hidden[l - 1] receives a_l (B, n_l) for l = 1..L-1; Y gets z_L.
// blas selects the kernel (see use_blas).
template <class T>
void forward(const Layout& lay, Activation act, const T* w, const T* X, std::ptrdiff_t B,
             const std::vector<T*>& hidden, T* Y, bool blas) {
    const int L = lay.depth();
    const T* A = X;
    for (int l = 1; l <= L; ++l) {
        T* Z = (l == L) ? Y : hidden[l - 1];
        const T* W = w + lay.w_offset[l - 1];
        const T* b = w + lay.b_offset[l - 1];
        if (blas) {
            affine_layer_blas<T>(act, l < L, B, lay.n[l - 1], lay.n[l], W, b, A, Z);
        } else {
            affine_layer_fused<T>(act, l < L, B, lay.n[l - 1], lay.n[l], W, b, A, Z);
        }
        A = Z;
    }
}

// Backpropagation, with BLAS for the products and no OpenMP region (use_blas
// gives the reason). Following Goodfellow, Bengio and Courville, Deep
// Learning, Section 6.5.4, with delta_L = G = dL/dY:
//   grad W_l = delta_l^T a_{l-1},  grad b_l = sum over rows of delta_l,
//   delta_{l-1} = (delta_l W_l) * sigma'(z_{l-1}).
// work1 and work2 each hold B * max hidden width elements.
template <class T>
void backward(const Layout& lay, Activation act, const T* w, const T* X, std::ptrdiff_t B,
              const std::vector<const T*>& hidden, const T* G, T* grad, T* work1, T* work2) {
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
            if (act != Activation::identity) {
                for (std::ptrdiff_t k = 0; k < total; ++k) {
                    next[k] *= derivative_from_value(act, A[k]);
                }
            }
            delta = next;
            std::swap(next, spare);
        }
    }
}

// Per-sample Jacobian J[b] = Jac f_{x_b}(w), shape (m, P) with m = n_L, for
// rows b of a batch whose hidden activations are already in `hidden`.
//   J[b, k, W_l block (i, j)] = D_l[k, i] a_{l-1}[j],  J[b, k, b_l block i] = D_l[k, i],
// with D_L = I_m and D_l = (D_{l+1} W_{l+1}) diag(sigma'(z_l)), which is the
// chain rule applied to f_x(w) one layer at a time. Each thread keeps its own
// D_1..D_L and writes the rows J[b, k, :] front to back, so every output byte
// is written once and in memory order.
template <class T>
void jacobian(const Layout& lay, Activation act, const T* w, const T* X, std::ptrdiff_t B,
              const std::vector<const T*>& hidden, T* J) {
    const int L = lay.depth();
    const int m = lay.n[L];
    const std::ptrdiff_t P = lay.n_params;

    // Offsets of D_l (m x n_l) inside one thread's buffer.
    std::vector<std::ptrdiff_t> d_offset(L + 1, 0);
    std::ptrdiff_t d_size = 0;
    for (int l = 1; l <= L; ++l) {
        d_offset[l] = d_size;
        d_size += std::ptrdiff_t(m) * lay.n[l];
    }

#pragma omp parallel if (B * m * P >= kParallelMinWork)
    {
        std::vector<T> D(static_cast<std::size_t>(d_size));
#pragma omp for schedule(static)
        for (std::ptrdiff_t r = 0; r < B; ++r) {
            T* DL = D.data() + d_offset[L];
            std::fill(DL, DL + std::ptrdiff_t(m) * m, T(0));
            for (int k = 0; k < m; ++k) DL[std::ptrdiff_t(k) * m + k] = T(1);

            for (int l = L - 1; l >= 1; --l) {
                const int n_l = lay.n[l];
                const int n_up = lay.n[l + 1];
                const T* Wup = w + lay.w_offset[l];  // W_{l+1}, (n_up, n_l)
                const T* Dup = D.data() + d_offset[l + 1];
                T* Dl = D.data() + d_offset[l];
                const T* a = hidden[l - 1] + r * n_l;
                for (int k = 0; k < m; ++k) {
                    T* row = Dl + std::ptrdiff_t(k) * n_l;
                    std::fill(row, row + n_l, T(0));
                    for (int i = 0; i < n_up; ++i) {
                        const T coef = Dup[std::ptrdiff_t(k) * n_up + i];
                        const T* Wi = Wup + std::ptrdiff_t(i) * n_l;
#pragma omp simd
                        for (int j = 0; j < n_l; ++j) row[j] += coef * Wi[j];
                    }
                    for (int j = 0; j < n_l; ++j) row[j] *= derivative_from_value(act, a[j]);
                }
            }

            T* Jb = J + r * std::ptrdiff_t(m) * P;
            for (int k = 0; k < m; ++k) {
                T* out = Jb + std::ptrdiff_t(k) * P;
                for (int l = 1; l <= L; ++l) {
                    const int n_in = lay.n[l - 1];
                    const int n_out = lay.n[l];
                    const T* a = (l == 1) ? X + r * n_in : hidden[l - 2] + r * n_in;
                    const T* Dk = D.data() + d_offset[l] + std::ptrdiff_t(k) * n_out;
                    for (int i = 0; i < n_out; ++i) {
                        const T d = Dk[i];
#pragma omp simd
                        for (int j = 0; j < n_in; ++j) out[j] = d * a[j];
                        out += n_in;
                    }
                    std::copy(Dk, Dk + n_out, out);
                    out += n_out;
                }
            }
        }
    }
}

}  // namespace mathlearn
