// Per-sample Jacobian J[b] = Jac f_{x_b}(w) of a multilayer perceptron (see
// mlp.hpp for the network and the storage of w), shape (m, P) with m = n_L:
//   J[b, k, W_l block (i, j)] = D_l[k, i] a_{l-1}[j],  J[b, k, b_l block i] = D_l[k, i],
// with D_L = I_m and D_l = (D_{l+1} W_{l+1}) diag(sigma'(z_l)), which is the
// chain rule applied to f_x(w) one layer at a time.
//
// The output is far larger than everything else the kernel touches, so its
// memory traffic sets the speed. Each thread takes contiguous blocks of
// kJacobianRows samples, runs their forward pass in its own small buffers,
// and writes each J[b] front to back, every byte once. Large outputs go
// through streaming stores (stream_store.hpp), which skip the read of each
// output line that an ordinary store makes. Each thread alternates the
// forward pass of a block with the writes of its rows, so while one thread
// computes, the other one keeps the memory system busy.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <vector>

#include "mlp.hpp"
#include "stream_store.hpp"
#include "threads.hpp"

namespace mathlearn {

// Samples per forward block. Their hidden activations stay in the L1/L2
// cache for the Jacobian rows that read them next.
constexpr int kJacobianRows = 16;

// Store kind of the Jacobian kernel, chosen in use_streaming_stores.
enum class JacobianStores : int { automatic = 0, cached = 1, streaming = 2 };

JacobianStores& jacobian_stores_override();

// The automatic choice streams the output of a call when it takes at least
// kStreamMinBytes. A smaller output can stay in the cache between calls,
// where ordinary stores do not read memory.
// NOTE: set from timings of the [8, 64, 64, 1] tanh net in float64 on one
// 2-core x86-64 VM. Ordinary stores were 15% faster at 1.2 MB, and both
// kinds ran at the same speed at 4.9 MB. From 80 MB on, streaming stores
// were up to 2x faster. Other cache sizes move the crossover.
constexpr std::ptrdiff_t kStreamMinBytes = std::ptrdiff_t(4) << 20;

inline bool use_streaming_stores(std::ptrdiff_t output_bytes) {
    switch (jacobian_stores_override()) {
        case JacobianStores::cached:
            return false;
        case JacobianStores::streaming:
            return true;
        case JacobianStores::automatic:
            break;
    }
    return output_bytes >= kStreamMinBytes;
}

// Scratch memory of one thread: D_1..D_L at d_offset[1..L], sigma'(z_l),
// a_l and z_l of one block of samples (l = 1..L-1, at [l - 1], rows x n_l),
// pointers to the current sample's rows of those, and the staging buffer of
// the streaming stores.
template <class T>
struct JacobianScratch {
    std::vector<std::ptrdiff_t> d_offset;
    std::vector<T> D;
    std::vector<T> slope;
    std::vector<std::vector<T>> a_block;
    std::vector<std::vector<T>> z_block;
    std::vector<const T*> a;
    std::vector<const T*> z;
    bool streaming = false;
    StagingBuffer<T> staging;
};

// y[j] += sum over i < count of c[i] * V[i][j] for j < n, with V[i] at
// V + i * stride. Terms are added four at a time, so that y makes a quarter
// of the round trips through memory, whose latency bounds this loop when n
// is small.
template <class T>
inline void add_combination(T* y, int n, const T* c, const T* V, std::ptrdiff_t stride,
                            int count) {
    int i = 0;
    for (; i + 4 <= count; i += 4) {
        const T c0 = c[i], c1 = c[i + 1], c2 = c[i + 2], c3 = c[i + 3];
        const T* V0 = V + i * stride;
        const T* V1 = V0 + stride;
        const T* V2 = V1 + stride;
        const T* V3 = V2 + stride;
#pragma omp simd
        for (int j = 0; j < n; ++j) y[j] += (c0 * V0[j] + c1 * V1[j]) + (c2 * V2[j] + c3 * V3[j]);
    }
    for (; i < count; ++i) {
        const T ci = c[i];
        const T* Vi = V + i * stride;
#pragma omp simd
        for (int j = 0; j < n; ++j) y[j] += ci * Vi[j];
    }
}

// Writes J[b] (m x P elements at Jb) for the sample with input x, whose
// a_l and z_l are at s.a and s.z.
template <class T>
inline void jacobian_row_body(const Layout& lay, const Sigma& act, const T* w, const T* x, T* Jb,
                              JacobianScratch<T>& s) {
    const int L = lay.depth();
    const int m = lay.n[L];
    T* DL = s.D.data() + s.d_offset[L];
    std::fill(DL, DL + std::ptrdiff_t(m) * m, T(0));
    for (int k = 0; k < m; ++k) DL[std::ptrdiff_t(k) * m + k] = T(1);

    for (int l = L - 1; l >= 1; --l) {
        const int n_l = lay.n[l];
        const int n_up = lay.n[l + 1];
        const T* Wup = w + lay.w_offset[l];  // W_{l+1}, (n_up, n_l)
        const T* Dup = s.D.data() + s.d_offset[l + 1];
        T* Dl = s.D.data() + s.d_offset[l];
        const T* a = s.a[l - 1];
        const T* z = act.needs_z() ? s.z[l - 1] : a;
        T* slope = s.slope.data();
        // tanh gets a loop without the switch of derivative_from, which
        // the compiler vectorizes.
        if (act.kind == Activation::tanh) {
#pragma omp simd
            for (int j = 0; j < n_l; ++j) slope[j] = T(1) - a[j] * a[j];
        } else {
            for (int j = 0; j < n_l; ++j) slope[j] = derivative_from(act, z[j], a[j]);
        }
        for (int k = 0; k < m; ++k) {
            T* row = Dl + std::ptrdiff_t(k) * n_l;
            std::fill(row, row + n_l, T(0));
            add_combination(row, n_l, Dup + std::ptrdiff_t(k) * n_up, Wup, n_l, n_up);
            for (int j = 0; j < n_l; ++j) row[j] *= slope[j];
        }
    }

    LineWriter<T> out(Jb, s.streaming, s.staging);
    for (int k = 0; k < m; ++k) {
        for (int l = 1; l <= L; ++l) {
            const int n_in = lay.n[l - 1];
            const int n_out = lay.n[l];
            const T* a = (l == 1) ? x : s.a[l - 2];
            const T* Dk = s.D.data() + s.d_offset[l] + std::ptrdiff_t(k) * n_out;
            out.put_outer(Dk, n_out, a, n_in);
            out.put(Dk, n_out);
        }
    }
    out.finish();
}

// Computes the hidden layers of `rows` samples: s.a_block[l - 1] receives
// a_l and, when act.needs_z(), s.z_block[l - 1] receives z_l, for
// l = 1..L-1. The output layer is skipped, because the Jacobian does not
// depend on z_L. Wt[l - 1] is W_l^T (n_{l-1} x n_l).
template <class T>
inline void forward_hidden_rows(const Layout& lay, const Sigma& act,
                                const std::vector<std::vector<T>>& Wt, const T* w, const T* X,
                                std::ptrdiff_t rows, JacobianScratch<T>& s) {
    const T* input = X;
    for (int l = 1; l < lay.depth(); ++l) {
        const int n_in = lay.n[l - 1], n_out = lay.n[l];
        const T* b = w + lay.b_offset[l - 1];
        T* Z = s.a_block[l - 1].data();
        for (std::ptrdiff_t r = 0; r < rows; ++r) {
            T* z = Z + r * n_out;
            copy_short(b, n_out, z);
            add_combination(z, n_out, input + r * n_in, Wt[l - 1].data(), n_out, n_in);
        }
        if (act.needs_z()) std::copy(Z, Z + rows * n_out, s.z_block[l - 1].data());
        apply_activation(act, Z, rows * n_out);
        input = Z;
    }
}

// Writes J[b] for the `rows` samples of X (rows x n_0) to J (rows x m x P).
template <class T>
inline void jacobian_block_body(const Layout& lay, const Sigma& act,
                                const std::vector<std::vector<T>>& Wt, const T* w, const T* X,
                                std::ptrdiff_t rows, T* J, JacobianScratch<T>& s) {
    const int L = lay.depth();
    const std::ptrdiff_t row_size = std::ptrdiff_t(lay.n[L]) * lay.n_params;
    forward_hidden_rows(lay, act, Wt, w, X, rows, s);
    for (std::ptrdiff_t r = 0; r < rows; ++r) {
        for (int l = 1; l < L; ++l) {
            s.a[l - 1] = s.a_block[l - 1].data() + r * lay.n[l];
            if (act.needs_z()) s.z[l - 1] = s.z_block[l - 1].data() + r * lay.n[l];
        }
        jacobian_row_body(lay, act, w, X + r * lay.n[0], J + r * row_size, s);
    }
}

// jacobian_block_body compiled once per instruction set, in activations.cpp.
void jacobian_block(const Layout& lay, const Sigma& act, const std::vector<std::vector<double>>& Wt,
                    const double* w, const double* X, std::ptrdiff_t rows, double* J,
                    JacobianScratch<double>& s);
void jacobian_block(const Layout& lay, const Sigma& act, const std::vector<std::vector<float>>& Wt,
                    const float* w, const float* X, std::ptrdiff_t rows, float* J,
                    JacobianScratch<float>& s);

// Writes J (B, m, P) for the inputs X (B, n_0).
template <class T>
void jacobian(const Layout& lay, const Sigma& act, const T* w, const T* X, std::ptrdiff_t B, T* J) {
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
    // W_l^T for the hidden layers, shared read-only by the threads.
    std::vector<std::vector<T>> Wt(static_cast<std::size_t>(std::max(L - 1, 0)));
    for (int l = 1; l < L; ++l) {
        const int n_in = lay.n[l - 1], n_out = lay.n[l];
        const T* W = w + lay.w_offset[l - 1];
        auto& t = Wt[l - 1];
        t.resize(static_cast<std::size_t>(n_in) * n_out);
        for (int i = 0; i < n_out; ++i)
            for (int j = 0; j < n_in; ++j) t[std::size_t(j) * n_out + i] = W[std::ptrdiff_t(i) * n_in + j];
    }

    const std::ptrdiff_t n_blocks = (B + kJacobianRows - 1) / kJacobianRows;
    const bool streaming = use_streaming_stores(B * m * P * std::ptrdiff_t(sizeof(T)));

    // Every thread's scratch is allocated here, because std::bad_alloc
    // thrown inside the OpenMP region would terminate the process.
    const bool parallel = B * m * P >= kParallelMinWork;
    const int n_threads = parallel ? max_threads() : 1;
    std::vector<std::unique_ptr<JacobianScratch<T>>> scratch;
    for (int t = 0; t < n_threads; ++t) {
        scratch.emplace_back(new JacobianScratch<T>{
            d_offset,
            std::vector<T>(static_cast<std::size_t>(d_size)),
            std::vector<T>(static_cast<std::size_t>(lay.width_max_hidden())),
            {},
            {},
            std::vector<const T*>(static_cast<std::size_t>(std::max(L - 1, 0))),
            std::vector<const T*>(static_cast<std::size_t>(std::max(L - 1, 0))),
            streaming});
        JacobianScratch<T>& s = *scratch.back();
        for (int l = 1; l < L; ++l) {
            s.a_block.emplace_back(static_cast<std::size_t>(kJacobianRows) * lay.n[l]);
            if (act.needs_z()) s.z_block.emplace_back(static_cast<std::size_t>(kJacobianRows) * lay.n[l]);
        }
    }

#pragma omp parallel num_threads(n_threads) if (parallel)
    {
        int t = 0;
#ifdef MATHLEARN_HAVE_OPENMP
        t = omp_get_thread_num();
#endif
        JacobianScratch<T>& s = *scratch[static_cast<std::size_t>(t)];

#pragma omp for schedule(static) nowait
        for (std::ptrdiff_t blk = 0; blk < n_blocks; ++blk) {
            const std::ptrdiff_t r0 = blk * kJacobianRows;
            const std::ptrdiff_t rows = std::min<std::ptrdiff_t>(kJacobianRows, B - r0);
            jacobian_block(lay, act, Wt, w, X + r0 * lay.n[0], rows, J + r0 * m * P, s);
        }
        // The barrier that ends the region publishes the output to the
        // calling thread only after this thread's streaming stores drain.
        if (streaming) stream_fence();
    }
}

}  // namespace mathlearn
