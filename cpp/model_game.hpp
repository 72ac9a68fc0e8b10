// Coalition table of the interventional game of an MLP, by a Gray-code walk.
//
// For a network f (see mlp.hpp), a point x in R^{n_0}, background rows
// b_1..b_K and players j_0..j_{p-1} (distinct input features), the game is
//   v(S) = (1/K) sum_k f(z_{S,k}),  z_{S,k,j} = x_j if j = j_t with t in S, else b_{k,j},
// for every mask S in [0, 2^p) (D. Janzing, L. Minorics and P. Bloebaum,
// Feature relevance quantification in explainable AI: a causal problem,
// AISTATS 2020). Features that are not players take their background value.
//
// The first pre-activation u_{S,k} = W_1 z_{S,k} + b_1 is affine in z, so
// adding player t to S changes it by V_{t,k} = W_1[:, j_t] (x_{j_t} - b_{k,j_t})
// and removing t subtracts the same vector. Walking the masks in Gray-code
// order, mask(g) = g ^ (g >> 1), consecutive masks differ in player
// ctz(g), so each step costs h_1 additions per background row instead of
// n_0 h_1 multiply-adds, and no hybrid row z_{S,k} is ever stored.
//
// Rounding drift: u is kept in double and recomputed directly at the start
// of every segment of 2^kSegmentLog2 consecutive Gray indices. A direct
// value has error at most (n_0 + 1) eps M_i (eps = 2^-53, first order), where
//   M_i = |b_{1,i}| + sum_j |W_1[i, j]| max(|x_j|, max_k |b_{k,j}|)
// bounds |u_i|. Each update adds at most 5 eps M_i: V_{t,k,i} is rounded
// twice (difference, product) and |V_{t,k,i}| <= 2 M_i, and the sum is
// rounded once more. So every pre-activation used is within
// (n_0 + 1 + 5 (2^kSegmentLog2 - 1)) eps M_i of its exact value, before its
// rounding to T. Layers 2..L then run in T as forward() does.
//
// Everything here is pure C++ and runs without the GIL; the caller checks
// shapes and allocates the output.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "mlp.hpp"
#include "threads.hpp"

namespace mathlearn {

// Each segment of 2^8 Gray indices starts from a directly computed
// pre-activation, which costs n_0 / 2^8 of the walk's additions and keeps
// the drift bound above at (n_0 + 1276) eps M_i.
constexpr int kSegmentLog2 = 8;

// Layers with fewer outputs than this use dot products (see affine_rows).
constexpr int kWideLayer = 8;

// Hybrid rows per block, so that a block's activations (rows x max width)
// stay near 2^14 elements (128 KiB in double) and in the L2 cache.
constexpr std::ptrdiff_t kBlockElements = std::ptrdiff_t(1) << 14;

template <class T>
class ModelGameWalk {
   public:
    // w, x (n_0,), background (K, n_0) and players (p,) must outlive the walk.
    ModelGameWalk(const Layout& lay, const Sigma& act, const T* w, const T* x, const T* background,
                  std::ptrdiff_t K, const std::int64_t* players, int p)
        : lay_(lay), act_(act), w_(w), x_(x), background_(background), K_(K), players_(players), p_(p) {
        const int n0 = lay_.n[0];
        const int h = lay_.n[1];
        h_ = h;
        // V[t][k][i] = W_1[i, j_t] (x_{j_t} - b_{k, j_t}), in double.
        V_.resize(static_cast<std::size_t>(p_) * K_ * h);
        const T* W1 = w_ + lay_.w_offset[0];
        for (int t = 0; t < p_; ++t) {
            const std::int64_t j = players_[t];
            for (std::ptrdiff_t k = 0; k < K_; ++k) {
                const double d = double(x_[j]) - double(background_[k * n0 + j]);
                double* v = V_.data() + (std::ptrdiff_t(t) * K_ + k) * h;
                for (int i = 0; i < h; ++i) v[i] = double(W1[std::ptrdiff_t(i) * n0 + j]) * d;
            }
        }
        // Wide layers among 2..L read W_l^T, so that each output row is b_l plus
        // a sum of contiguous columns scaled by the inputs (see affine_rows).
        // transposed_[l - 2] is empty for a narrow layer l.
        for (int l = 2; l <= lay_.depth(); ++l) {
            const int n_in = lay_.n[l - 1];
            const int n_out = lay_.n[l];
            const T* W = w_ + lay_.w_offset[l - 1];
            if (n_out < kWideLayer) {
                transposed_.emplace_back();
                continue;
            }
            std::vector<T> Wt(static_cast<std::size_t>(n_in) * n_out);
            for (int i = 0; i < n_out; ++i) {
                for (int j = 0; j < n_in; ++j) Wt[std::size_t(j) * n_out + i] = W[std::ptrdiff_t(i) * n_in + j];
            }
            transposed_.push_back(std::move(Wt));
        }
        int width = 1;
        for (int l = 1; l <= lay_.depth(); ++l) width = std::max(width, lay_.n[l]);
        width_ = width;
        const std::ptrdiff_t per_coalition = K_ * width_;
        block_ = std::max<std::ptrdiff_t>(1, kBlockElements / per_coalition);
        block_ = std::min<std::ptrdiff_t>(block_, std::ptrdiff_t(1) << kSegmentLog2);

        // All scratch memory is allocated here, because an exception thrown
        // inside the OpenMP region of run() would terminate the process.
        scratch_.resize(static_cast<std::size_t>(std::max(1, max_threads())));
        for (Scratch& s : scratch_) {
            s.u.resize(static_cast<std::size_t>(K_) * h_);
            const std::size_t rows = static_cast<std::size_t>(block_ * K_);
            s.a.resize(rows * width_);
            s.next.resize(rows * width_);
            s.in_S.resize(static_cast<std::size_t>(n0));
        }
    }

    // Write v(mask(g)) for g in [0, 2^p) to table[mask(g) * m + j], j < m = n_L.
    // Allocates nothing, so it may run without the GIL.
    void run(double* table) {
        const std::int64_t total = std::int64_t(1) << p_;
        const std::int64_t segment = std::int64_t(1) << kSegmentLog2;
        const std::int64_t n_segments = (total + segment - 1) / segment;
        const double work = double(total) * double(K_) * double(h_);
        const int n_threads = int(scratch_.size());
#pragma omp parallel num_threads(n_threads) if (n_segments > 1 && work >= double(kParallelMinWork))
        {
            Scratch& scratch = scratch_[static_cast<std::size_t>(thread_index())];
#pragma omp for schedule(static)
            for (std::int64_t s = 0; s < n_segments; ++s) {
                const std::int64_t first = s * segment;
                walk_segment(first, std::min(total, first + segment), scratch, table);
            }
        }
    }

   private:
    struct Scratch {
        std::vector<double> u;  // running pre-activation, (K, h_1)
        std::vector<T> a;       // block activations, (block rows, width)
        std::vector<T> next;    // the next layer of the block, same size
        std::vector<char> in_S; // membership of each input feature, (n_0,)
    };

    static int thread_index() {
#ifdef MATHLEARN_HAVE_OPENMP
        return omp_get_thread_num();
#else
        return 0;
#endif
    }

    // u_{S,k} = b_1 + W_1 z_{S,k} computed directly, summed over j in order.
    void direct_preactivation(std::uint64_t mask, Scratch& s) const {
        const int n0 = lay_.n[0];
        const T* W1 = w_ + lay_.w_offset[0];
        const T* b1 = w_ + lay_.b_offset[0];
        double* u = s.u.data();
        char* in_S = s.in_S.data();
        std::fill(in_S, in_S + n0, char(0));
        for (int t = 0; t < p_; ++t) {
            if ((mask >> t) & 1u) in_S[static_cast<std::size_t>(players_[t])] = 1;
        }
        for (std::ptrdiff_t k = 0; k < K_; ++k) {
            const T* b = background_ + k * n0;
            double* uk = u + k * h_;
            for (int i = 0; i < h_; ++i) {
                const T* Wi = W1 + std::ptrdiff_t(i) * n0;
                double sum = double(b1[i]);
                for (int j = 0; j < n0; ++j) sum += double(Wi[j]) * double(in_S[j] ? x_[j] : b[j]);
                uk[i] = sum;
            }
        }
    }

    void walk_segment(std::int64_t first, std::int64_t last, Scratch& s, double* table) const {
        double* u = s.u.data();
        const std::ptrdiff_t row_size = K_ * h_;
        std::uint64_t masks[std::size_t(1) << kSegmentLog2];
        std::int64_t g = first;
        while (g < last) {
            const std::int64_t block_end = std::min<std::int64_t>(last, g + block_);
            std::ptrdiff_t c = 0;
            for (; g < block_end; ++g, ++c) {
                const std::uint64_t mask = std::uint64_t(g) ^ (std::uint64_t(g) >> 1);
                masks[c] = mask;
                T* dst = s.a.data() + c * row_size;
                if (g == first) {
                    direct_preactivation(mask, s);
                    for (std::ptrdiff_t e = 0; e < row_size; ++e) dst[e] = static_cast<T>(u[e]);
                    continue;
                }
                // mask(g) and mask(g - 1) differ in bit ctz(g). The update and
                // the copy into the block share one pass over u.
                const int t = __builtin_ctzll(std::uint64_t(g));
                const double* v = V_.data() + std::ptrdiff_t(t) * row_size;
                if ((mask >> t) & 1u) {
#pragma omp simd
                    for (std::ptrdiff_t e = 0; e < row_size; ++e) {
                        u[e] += v[e];
                        dst[e] = static_cast<T>(u[e]);
                    }
                } else {
#pragma omp simd
                    for (std::ptrdiff_t e = 0; e < row_size; ++e) {
                        u[e] -= v[e];
                        dst[e] = static_cast<T>(u[e]);
                    }
                }
            }
            finish_block(c, masks, s, table);
        }
    }

    // Run layers 2..L over the block's c * K rows and write the means over k.
    void finish_block(std::ptrdiff_t c, const std::uint64_t* masks, Scratch& s, double* table) const {
        const int L = lay_.depth();
        const std::ptrdiff_t rows = c * K_;
        T* A = s.a.data();
        T* Z = s.next.data();
        for (int l = 2; l <= L; ++l) {
            apply_activation(act_, A, rows * lay_.n[l - 1]);
            affine_rows(l, rows, A, Z);
            std::swap(A, Z);
        }
        const int m = lay_.n[L];
        const double inv_K = 1.0 / double(K_);
        for (std::ptrdiff_t r = 0; r < c; ++r) {
            double* out = table + std::ptrdiff_t(masks[r]) * m;
            for (int o = 0; o < m; ++o) {
                double sum = 0.0;
                for (std::ptrdiff_t k = 0; k < K_; ++k) sum += double(A[(r * K_ + k) * m + o]);
                out[o] = sum * inv_K;
            }
        }
    }

    // Z = A W_l^T + b_l for `rows` rows, A (rows, n_{l-1}) and Z (rows, n_l).
    // Narrow layers (the output layer, mostly) take one dot product per output,
    // vectorized over the inputs. Wider ones add columns of W_l^T scaled by the
    // inputs, vectorized over the outputs. Both orders obey the same rounding bound.
    void affine_rows(int l, std::ptrdiff_t rows, const T* A, T* Z) const {
        const int n_in = lay_.n[l - 1];
        const int n_out = lay_.n[l];
        const T* b = w_ + lay_.b_offset[l - 1];
        if (n_out < kWideLayer) {
            const T* W = w_ + lay_.w_offset[l - 1];
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
            return;
        }
        const T* Wt = transposed_[static_cast<std::size_t>(l - 2)].data();
        for (std::ptrdiff_t r = 0; r < rows; ++r) {
            const T* a = A + r * n_in;
            T* z = Z + r * n_out;
            std::copy(b, b + n_out, z);
            for (int j = 0; j < n_in; ++j) {
                const T aj = a[j];
                const T* column = Wt + std::ptrdiff_t(j) * n_out;
#pragma omp simd
                for (int i = 0; i < n_out; ++i) z[i] += aj * column[i];
            }
        }
    }

    const Layout& lay_;
    Sigma act_;
    const T* w_;
    const T* x_;
    const T* background_;
    std::ptrdiff_t K_;
    const std::int64_t* players_;
    int p_;
    int h_ = 0;
    int width_ = 1;
    std::ptrdiff_t block_ = 1;
    std::vector<double> V_;
    std::vector<std::vector<T>> transposed_;
    std::vector<Scratch> scratch_;  // one per OpenMP thread
};

// Fill table (2^p, n_L) with v(S) for every mask S; see the top of this file.
// Callers that must allocate under the GIL construct ModelGameWalk first and
// release the GIL around run() only.
template <class T>
void model_game_table(const Layout& lay, const Sigma& act, const T* w, const T* x, const T* background,
                      std::ptrdiff_t K, const std::int64_t* players, int p, double* table) {
    ModelGameWalk<T> walk(lay, act, w, x, background, K, players, p);
    walk.run(table);
}

}  // namespace mathlearn
