// Value and gradient of the mean squared error of an MLP in one pass over
// the batch: forward, residual and backpropagation per block of rows.
//
// Loss: L = (1 / B) sum_b w_b (1 / m) ||f(x_b) - y_b||^2, with w_b = 1
// when no sample weights are given, so dL/dY[b] = (2 / (B m)) w_b r_b with
// r_b = f(x_b) - y_b. The backward recursion is the one of backward() in
// mlp.hpp (Goodfellow, Bengio and Courville, Deep Learning, Section 6.5.4).
//
// Why blocks: every pass over a block of rows (bias and sigma after a GEMM,
// sigma' times delta, the bias sums) reads data that the previous GEMM left
// in the L2 cache. Each OpenMP thread takes a contiguous share of the batch
// and its own gradient buffer, so one parallel region covers the whole
// call. Inside it, OpenBLAS runs single-threaded (SerialBlasScope), which
// keeps one thread pool busy at a time.
//
// Only activations whose derivative follows from a = sigma(z) are covered
// (Sigma::needs_z() false); the callers use forward() and backward() for
// the others.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "blas.hpp"
#include "mlp.hpp"
#include "threads.hpp"

namespace mathlearn {

// Cloned elementwise loops over a block of `rows` rows of width n, defined
// in gradient.cpp.
// Z[r, i] = sigma(Z[r, i] + b[i]).
void add_bias_activate(const Sigma& act, std::ptrdiff_t rows, int n, const double* b, double* Z);
void add_bias_activate(const Sigma& act, std::ptrdiff_t rows, int n, const float* b, float* Z);
// delta[r, i] *= sigma'(z) computed from A[r, i] = sigma(z), then
// sum_b[i] += sum over r of delta[r, i].
void multiply_slope_sum(const Sigma& act, std::ptrdiff_t rows, int n, const double* A,
                        double* delta, double* sum_b);
void multiply_slope_sum(const Sigma& act, std::ptrdiff_t rows, int n, const float* A,
                        float* delta, float* sum_b);
// With Y = Y + b and r = Y - y: return sum_r weight[r] sum_i r^2 (in double),
// overwrite Y with G = scale weight[r] r (weight null means 1) and add the
// column sums of G to sum_b.
double mse_residual(std::ptrdiff_t rows, int m, const double* b, const double* y,
                    const double* weight, double scale, double* Y, double* sum_b);
double mse_residual(std::ptrdiff_t rows, int m, const float* b, const float* y,
                    const float* weight, float scale, float* Y, float* sum_b);

// A buffer of n elements left uninitialized, because every kernel writes
// its scratch before reading it.
template <class T>
std::unique_ptr<T[]> scratch_buffer(std::size_t n) {
    return std::unique_ptr<T[]>(new T[n]);
}

// Multiply-adds of one forward pass per row, sum_l n_{l-1} n_l.
inline std::ptrdiff_t forward_madds_per_row(const Layout& lay) {
    std::ptrdiff_t madds = 0;
    for (int l = 1; l <= lay.depth(); ++l) madds += std::ptrdiff_t(lay.n[l - 1]) * lay.n[l];
    return madds;
}

// Calls smaller than this many multiply-adds (forward and backward) run on
// one thread, so that SGD steps on small batches do not fork. NOTE: an
// estimate, not a measured crossover: below it a call takes a few tens of
// microseconds on one core, and an OpenMP fork and join costs a few
// microseconds, far more when other processes keep the cores busy.
constexpr std::ptrdiff_t kGradientParallelMinMadds = std::ptrdiff_t(1) << 20;
// Each thread takes at least this many rows.
constexpr std::ptrdiff_t kGradientMinRowsPerThread = 16;
// A block's hidden activations and deltas take about this many bytes, so
// that they stay in the L2 cache between the GEMM that writes them and the
// passes that read them.
// NOTE: chosen from timings of [32, 256, 256, 10] and [8, 64, 64, 1] tanh
// nets on a 2-core AVX-512 machine with 4 MiB of L2 per core.
constexpr std::ptrdiff_t kGradientBlockBytes = std::ptrdiff_t(1) << 20;

// Scratch memory of one call, allocated by the caller under the GIL.
template <class T>
struct MseGradientWorkspace {
    int n_threads = 1;
    std::ptrdiff_t block_rows = 0;
    // Per thread: the hidden activations of one block, the output block,
    // two delta blocks and (for threads 1..n-1) a gradient of P elements.
    std::ptrdiff_t thread_stride = 0;
    std::vector<std::ptrdiff_t> hidden_offset;  // a_l at hidden_offset[l - 1], l = 1..L-1
    std::ptrdiff_t y_offset = 0, delta_offset = 0, grad_offset = 0;
    std::unique_ptr<T[]> data;
    T* base = nullptr;  // data rounded up to a 64-byte boundary
    std::vector<double> partial_value;

    MseGradientWorkspace(const Layout& lay, std::ptrdiff_t B) {
        const int L = lay.depth();
        const std::ptrdiff_t madds = 3 * B * forward_madds_per_row(lay);
        if (madds >= kGradientParallelMinMadds) {
            const std::ptrdiff_t by_rows = std::max<std::ptrdiff_t>(1, B / kGradientMinRowsPerThread);
            n_threads = int(std::min<std::ptrdiff_t>(max_threads(), by_rows));
        }
        // Threads share BLAS only when OpenBLAS can be made single-threaded.
        if (!can_serialize_blas()) n_threads = 1;

        std::ptrdiff_t hidden_units = 0;
        for (int l = 1; l < L; ++l) hidden_units += lay.n[l];
        const int width = lay.width_max_hidden();
        const std::ptrdiff_t row_bytes =
            std::ptrdiff_t(sizeof(T)) * (hidden_units + lay.n[L] + 2 * width);
        const std::ptrdiff_t rows_per_thread = (B + n_threads - 1) / n_threads;
        block_rows = std::max<std::ptrdiff_t>(16, kGradientBlockBytes / row_bytes);
        block_rows = std::min(block_rows, rows_per_thread);

        std::ptrdiff_t offset = 0;
        for (int l = 1; l < L; ++l) {
            hidden_offset.push_back(offset);
            offset += block_rows * lay.n[l];
        }
        y_offset = offset;
        offset += block_rows * lay.n[L];
        delta_offset = offset;
        offset += 2 * block_rows * width;
        grad_offset = offset;
        offset += lay.n_params;
        // Start at a 64-byte boundary and pad each thread's share to a
        // multiple of 64 bytes, so that no cache line is written by two threads.
        const std::ptrdiff_t line = 64 / std::ptrdiff_t(sizeof(T));
        thread_stride = (offset + line - 1) / line * line;
        data = scratch_buffer<T>(static_cast<std::size_t>(thread_stride * n_threads + line));
        const std::uintptr_t address = reinterpret_cast<std::uintptr_t>(data.get());
        const std::uintptr_t misalignment = address % 64;
        base = data.get() + (misalignment == 0 ? 0 : (64 - misalignment) / sizeof(T));
        partial_value.assign(static_cast<std::size_t>(n_threads), 0.0);
    }
};

// Forward and backward pass over rows [r0, r0 + rows), adding the
// gradient to g (P) and returning the sum of w_b ||r_b||^2.
template <class T>
double mse_gradient_block(const Layout& lay, const Sigma& act, const T* w, const T* X, const T* y,
                          const T* weight, T scale, std::ptrdiff_t r0, std::ptrdiff_t rows,
                          MseGradientWorkspace<T>& ws, T* mine, T* g) {
    const int L = lay.depth();
    const int m = lay.n[L];
    const auto hidden = [&](int l) { return mine + ws.hidden_offset[l - 1]; };

    const T* A = X + r0 * lay.n[0];
    for (int l = 1; l < L; ++l) {
        T* Z = hidden(l);
        gemm_rm_abt<T>(int(rows), lay.n[l], lay.n[l - 1], A, w + lay.w_offset[l - 1], T(0), Z);
        add_bias_activate(act, rows, lay.n[l], w + lay.b_offset[l - 1], Z);
        A = Z;
    }
    T* G = mine + ws.y_offset;
    gemm_rm_abt<T>(int(rows), m, lay.n[L - 1], A, w + lay.w_offset[L - 1], T(0), G);
    const double value = mse_residual(rows, m, w + lay.b_offset[L - 1], y + r0 * m,
                                      weight != nullptr ? weight + r0 : nullptr, scale, G,
                                      g + lay.b_offset[L - 1]);

    const std::ptrdiff_t delta_size = rows * lay.width_max_hidden();
    T* next = mine + ws.delta_offset;
    T* spare = next + delta_size;
    const T* delta = G;
    for (int l = L; l >= 1; --l) {
        const int n_in = lay.n[l - 1];
        const T* A_prev = (l == 1) ? X + r0 * n_in : hidden(l - 1);
        gemm_rm_atb<T>(lay.n[l], n_in, int(rows), delta, A_prev, T(1), g + lay.w_offset[l - 1]);
        if (l > 1) {
            gemm_rm_ab<T>(int(rows), n_in, lay.n[l], delta, w + lay.w_offset[l - 1], T(0), next);
            multiply_slope_sum(act, rows, n_in, A_prev, next, g + lay.b_offset[l - 2]);
            delta = next;
            std::swap(next, spare);
        }
    }
    return value;
}

// Return L and write grad_w L into grad (P,). X (B, n_0), y (B, n_L) and
// weight (B,) or null; B >= 1. Allocates nothing: ws was built for (lay, B).
template <class T>
double mse_value_and_gradient(const Layout& lay, const Sigma& act, const T* w, const T* X,
                              const T* y, const T* weight, std::ptrdiff_t B, T* grad,
                              MseGradientWorkspace<T>& ws) {
    const int m = lay.n[lay.depth()];
    const std::ptrdiff_t P = lay.n_params;
    // The same rounding as the NumPy expression (2 / Y.size) * (Y - y) in dtype T.
    const T scale = T(2.0 / (double(B) * double(m)));
    const int n_threads = ws.n_threads;
    // Only a call that runs on several threads needs OpenBLAS single-threaded.
    std::optional<SerialBlasScope> serial_blas;
    if (n_threads > 1) serial_blas.emplace();

#pragma omp parallel num_threads(n_threads) if (n_threads > 1)
    {
        // OpenMP may start fewer threads than requested (OMP_THREAD_LIMIT,
        // OMP_DYNAMIC, nested regions), so rows and gradient slices are split
        // among the threads that actually run. The workspace holds n_threads
        // shares, at least as many as the team.
        int t = 0;
        int team = 1;
#ifdef MATHLEARN_HAVE_OPENMP
        t = omp_get_thread_num();
        team = omp_get_num_threads();
#endif
        T* mine = ws.base + ws.thread_stride * t;
        T* g = (t == 0) ? grad : mine + ws.grad_offset;
        std::fill(g, g + P, T(0));
        const std::ptrdiff_t begin = B * t / team;
        const std::ptrdiff_t end = B * (t + 1) / team;
        double value = 0.0;
        for (std::ptrdiff_t r0 = begin; r0 < end; r0 += ws.block_rows) {
            const std::ptrdiff_t rows = std::min(ws.block_rows, end - r0);
            value += mse_gradient_block<T>(lay, act, w, X, y, weight, scale, r0, rows, ws, mine, g);
        }
        ws.partial_value[static_cast<std::size_t>(t)] = value;

        if (team > 1) {
            // grad = sum over threads, each thread summing a slice of P.
#pragma omp barrier
            const std::ptrdiff_t p0 = P * t / team;
            const std::ptrdiff_t p1 = P * (t + 1) / team;
            for (int u = 1; u < team; ++u) {
                const T* other = ws.base + ws.thread_stride * u + ws.grad_offset;
                for (std::ptrdiff_t p = p0; p < p1; ++p) grad[p] += other[p];
            }
        }
    }

    double total = 0.0;
    for (double v : ws.partial_value) total += v;
    return total / (double(B) * double(m));
}

}  // namespace mathlearn
