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
// Ratio units. For tanh (c = 2) and the sigmoid (c = 1), a unit i may keep
// y = exp(c u_i) instead of u_i. A step then multiplies y by
// exp(+-c V_{t,k,i}), precomputed once, and the activation follows from y
// without exp: tanh(u) = (y - 1) / (y + 1) and sigmoid(u) = y / (1 + y).
// Two or four such quotients share one division (model_game_loops.cpp), so
// a step costs a few products per unit where tanh costs an exp and a
// division. Units with small M_i (defined below) or a large c M_i keep u
// instead (shift units), so that the drift bound below and the range of y hold.
//
// Rounding drift: u is kept in double and recomputed directly at the start
// of every segment of 2^kSegmentLog2 consecutive Gray indices. A direct
// value has error at most (n_0 + 1) eps M_i (eps = 2^-53, first order), where
//   M_i = |b_{1,i}| + sum_j |W_1[i, j]| max(|x_j|, max_k |b_{k,j}|)
// bounds |u_i|. Each update adds at most 5 eps M_i: V_{t,k,i} is rounded
// twice (difference, product) and |V_{t,k,i}| <= 2 M_i, and the sum is
// rounded once more. So every pre-activation used is within
// (n_0 + 1 + 5 (2^kSegmentLog2 - 1)) eps M_i of its exact value, before any
// rounding to T (only the block path below rounds it, once).
//
// A ratio unit meets the same bound for u' = ln(y) / c, the pre-activation
// that its y represents exactly. Let std::exp be within e_exp relative. The
// start y = exp(c u) adds e_exp / c to the direct error. A step adds
// 2 eps |V_{t,k,i}| <= 4 eps M_i from V and (eps + e_exp) / c from the
// rounding of exp and of the product. With M_i >= kRatioMinBound / c = 4 / c
// and e_exp <= 2.9 eps, the 255 steps and the start together add less than
// 255 * 5 eps M_i. The block path computes each activation sigma(u') from y
// within 6 eps relative and rounds it to T once. The mean path below adds
// the activations of up to four rows at once, within 10 eps times the sum
// of their absolute values (model_game_loops.cpp).
// NOTE: the bound needs std::exp within 1.45 ulp. The exp that newlib took
// from ARM's optimized-routines states a worst case of 0.509 ulp, and glibc
// 2.28 and later ship the same algorithm. Other C libraries were not checked.
//
// Layers after the first. With one hidden layer (L = 2) the output layer is
// affine, so v(S) = b_2 + W_2 s_S / K with s_S = sum_k sigma(u_{S,k}), and the
// walk applies W_2 once per coalition (the mean path). It sums s_S in
// double. For a ratio unit i that sum is within (K + 11) eps
// sum_k |sigma(u'_{S,k,i})| of the exact sum, the activations' own error
// included. A shift unit takes sigma in double (the function forward()
// uses for float64 nets), and its sum adds K eps sum_k |sigma|. The product with W_2, the division
// by K and the addition of b_2 add at most
// (h_1 + 3) eps (|b_2| + sum_i |W_2[:, i]| |s_{S,i}| / K). Deeper networks
// run layers 2..L in T as forward() does, on blocks of hybrid rows (the
// block path), and then take the mean over k.
//
// Everything here is pure C++ and runs without the GIL; the caller checks
// shapes and allocates the output.
#pragma once

#include <algorithm>
#include <cmath>
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

// Layers with fewer outputs than this use dot products (see layer_rows).
constexpr int kWideLayer = 8;

// Hybrid rows per block, so that a block's activations (rows x max width)
// stay near 2^14 elements (128 KiB in double) and in the L2 cache.
constexpr std::ptrdiff_t kBlockElements = std::ptrdiff_t(1) << 14;

// A unit is a ratio unit when kRatioMinBound <= c M_i <= kRatioMaxBound.
// The lower limit keeps the drift bound above. The upper one keeps
// y = exp(c u) in [e^-64, e^64], every ratio exp(+-c V) in [e^-128, e^128]
// and a product of four y + 1 below e^257, inside the range of double.
constexpr double kRatioMinBound = 4.0;
constexpr double kRatioMaxBound = 64.0;

// The loops of one walk step, defined in model_game_loops.cpp with one
// version per instruction set. For e < count:
//   tanh_ratio_step:    y[e] *= ratio[e], a[e] = (y[e] - 1) / (y[e] + 1)
//   sigmoid_ratio_step: y[e] *= ratio[e], a[e] = y[e] / (1 + y[e])
//   shift_step:         u[e] += sign V[e] (sign = +-1), z[e] = u[e]
// tanh_ratio_sum and sigmoid_ratio_sum do the same step on y (rows, width)
// and set s[i] to the sum of a over the rows instead of storing a.
// add_column_sums adds the rows of a (rows, width) to s (width,).
// dot_rows is Z = A W^T + b, one dot product per output, for W (n_out, n_in).
void tanh_ratio_step(double* y, const double* ratio, std::ptrdiff_t count, double* a);
void tanh_ratio_step(double* y, const double* ratio, std::ptrdiff_t count, float* a);
void sigmoid_ratio_step(double* y, const double* ratio, std::ptrdiff_t count, double* a);
void sigmoid_ratio_step(double* y, const double* ratio, std::ptrdiff_t count, float* a);
void shift_step(double* u, const double* V, double sign, std::ptrdiff_t count, double* z);
void shift_step(double* u, const double* V, double sign, std::ptrdiff_t count, float* z);
void tanh_ratio_sum(double* y, const double* ratio, std::ptrdiff_t rows, std::ptrdiff_t width, double* s);
void sigmoid_ratio_sum(double* y, const double* ratio, std::ptrdiff_t rows, std::ptrdiff_t width, double* s);
void add_column_sums(const double* a, std::ptrdiff_t rows, std::ptrdiff_t width, double* s);
double dot_product(const double* a, const double* b, std::ptrdiff_t count);
void dot_rows(std::ptrdiff_t rows, int n_in, int n_out, const double* W, const double* b, const double* A,
              double* Z);
void dot_rows(std::ptrdiff_t rows, int n_in, int n_out, const float* W, const float* b, const float* A,
              float* Z);

template <class T>
class ModelGameWalk {
   public:
    // w, x (n_0,), background (K, n_0) and players (p,) must outlive the walk.
    ModelGameWalk(const Layout& lay, const Sigma& act, const T* w, const T* x, const T* background,
                  std::ptrdiff_t K, const std::int64_t* players, int p)
        : lay_(lay), act_(act), w_(w), x_(x), background_(background), K_(K), players_(players), p_(p) {
        const int n0 = lay_.n[0];
        h_ = lay_.n[1];
        if (lay_.depth() >= 2 && act_.kind == Activation::tanh) c_ = 2.0;
        if (lay_.depth() >= 2 && act_.kind == Activation::sigmoid) c_ = 1.0;
        order_units();

        // The tables are filled by run(), on all threads (see fill_tables).
        const std::ptrdiff_t n_ratio = n_ratio_;
        const std::ptrdiff_t n_shift = h_ - n_ratio_;
        up_.resize(static_cast<std::size_t>(p_ * K_ * n_ratio));
        down_.resize(up_.size());
        V_.resize(static_cast<std::size_t>(p_ * K_ * n_shift));
        // Rows of W_1 in the order unit_, in double, for direct_preactivation.
        const T* W1 = w_ + lay_.w_offset[0];
        W1_double_.resize(static_cast<std::size_t>(h_) * n0);
        for (int r = 0; r < h_; ++r) {
            const T* Wi = W1 + std::ptrdiff_t(unit_[std::size_t(r)]) * n0;
            std::copy(Wi, Wi + n0, W1_double_.begin() + std::ptrdiff_t(r) * n0);
        }
        // Multiplying by 1 or adding 0 * V is exact, so a step with these
        // keeps y and u and only evaluates the first layer.
        ones_.assign(static_cast<std::size_t>(K_ * n_ratio), 1.0);
        zeros_.assign(static_cast<std::size_t>(K_ * n_shift), 0.0);

        // Layer 2 reads the first layer's units in the order unit_, so its
        // columns are permuted alike; the network is the same.
        if (lay_.depth() >= 2) {
            const int n2 = lay_.n[2];
            const T* W2 = w_ + lay_.w_offset[1];
            W2_.resize(static_cast<std::size_t>(n2) * h_);
            for (int o = 0; o < n2; ++o) {
                for (int r = 0; r < h_; ++r) {
                    W2_[std::size_t(o) * h_ + r] = W2[std::ptrdiff_t(o) * h_ + unit_[std::size_t(r)]];
                }
            }
        }
        if (mean_path()) {
            W2_double_.assign(W2_.begin(), W2_.end());
        }
        // Wide layers among 2..L read W_l^T, so that each output row is b_l plus
        // a sum of contiguous columns scaled by the inputs (see layer_rows).
        // transposed_[l - 2] is empty for a narrow layer l.
        for (int l = 2; l <= lay_.depth() && !mean_path(); ++l) {
            const int n_in = lay_.n[l - 1];
            const int n_out = lay_.n[l];
            const T* W = layer_weights(l);
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
            s.y.resize(static_cast<std::size_t>(K_ * n_ratio));
            s.u.resize(static_cast<std::size_t>(K_ * n_shift));
            s.z.resize(static_cast<std::size_t>(n0));
            if (mean_path()) {
                s.sums.resize(static_cast<std::size_t>(h_));
                s.shift_a.resize(static_cast<std::size_t>(K_ * n_shift));
            } else {
                const std::size_t rows = static_cast<std::size_t>(block_ * K_);
                s.a.resize(rows * width_);
                s.next.resize(rows * width_);
            }
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
            // Dynamic schedules, so that a thread that shares its core with
            // another process does not hold up the others. Each segment
            // depends on nothing else, so the table does not change.
#pragma omp for schedule(dynamic)
            for (int t = 0; t < p_; ++t) fill_tables(t);
            Scratch& scratch = scratch_[static_cast<std::size_t>(thread_index())];
#pragma omp for schedule(dynamic)
            for (std::int64_t s = 0; s < n_segments; ++s) {
                const std::int64_t first = s * segment;
                const std::int64_t last = std::min(total, first + segment);
                if (mean_path()) {
                    walk_segment_mean(first, last, scratch, table);
                } else {
                    walk_segment(first, last, scratch, table);
                }
            }
        }
    }

   private:
    struct Scratch {
        std::vector<double> y;        // exp(c u) of the ratio units, (K, n_ratio_)
        std::vector<double> u;        // pre-activation of the other units, (K, h_1 - n_ratio_)
        std::vector<double> z;        // one hybrid row, (n_0,)
        std::vector<double> sums;     // mean path: sum over k of each unit's activation, (h_1,)
        std::vector<double> shift_a;  // mean path: activations of the other units, (K, h_1 - n_ratio_)
        std::vector<T> a;             // block path: block activations, (block rows, width)
        std::vector<T> next;          // block path: the next layer of the block, same size
    };

    static int thread_index() {
#ifdef MATHLEARN_HAVE_OPENMP
        return omp_get_thread_num();
#else
        return 0;
#endif
    }

    // With one hidden layer, v(S) = b_2 + W_2 mean_k sigma(u_{S,k}) because the
    // output layer is affine, so the walk averages the first layer's
    // activations over k in double and applies W_2 once per coalition.
    // Deeper networks run layers 2..L per hybrid row in blocks.
    bool mean_path() const { return lay_.depth() == 2; }

    // Order the first layer's units: ratio units first, then the others,
    // each in increasing index (see kRatioMinBound).
    void order_units() {
        const int n0 = lay_.n[0];
        const T* W1 = w_ + lay_.w_offset[0];
        const T* b1 = w_ + lay_.b_offset[0];
        std::vector<double> extent(static_cast<std::size_t>(n0));
        for (int j = 0; j < n0; ++j) {
            double e = std::fabs(double(x_[j]));
            for (std::ptrdiff_t k = 0; k < K_; ++k) e = std::max(e, std::fabs(double(background_[k * n0 + j])));
            extent[std::size_t(j)] = e;
        }
        std::vector<int> others;
        for (int i = 0; i < h_; ++i) {
            // M_i of the drift bound, rounded. The limits leave wide margins for that rounding.
            double M = std::fabs(double(b1[i]));
            for (int j = 0; j < n0; ++j) M += std::fabs(double(W1[std::ptrdiff_t(i) * n0 + j])) * extent[std::size_t(j)];
            if (c_ > 0.0 && c_ * M >= kRatioMinBound && c_ * M <= kRatioMaxBound) {
                unit_.push_back(i);
            } else {
                others.push_back(i);
            }
        }
        n_ratio_ = int(unit_.size());
        unit_.insert(unit_.end(), others.begin(), others.end());
    }

    const T* layer_weights(int l) const { return l == 2 ? W2_.data() : w_ + lay_.w_offset[l - 1]; }

    // Fill the tables of player t: for ratio unit r (unit i = unit_[r]) and
    // shift unit s, up_[t][k][r] = exp(c V_{t,k,i}), down_[t][k][r] =
    // exp(-c V_{t,k,i}) and V_[t][k][s] = V_{t,k,unit_[n_ratio_ + s]}, from V in double.
    void fill_tables(int t) {
        const int n0 = lay_.n[0];
        const std::ptrdiff_t n_ratio = n_ratio_;
        const std::ptrdiff_t n_shift = h_ - n_ratio_;
        const std::int64_t j = players_[t];
        for (std::ptrdiff_t k = 0; k < K_; ++k) {
            const double d = double(x_[j]) - double(background_[k * n0 + j]);
            const std::ptrdiff_t row = std::ptrdiff_t(t) * K_ + k;
            for (std::ptrdiff_t r = 0; r < h_; ++r) {
                const double v = W1_double_[std::size_t(r * n0 + j)] * d;
                if (r < n_ratio) {
                    up_[std::size_t(row * n_ratio + r)] = std::exp(c_ * v);
                    down_[std::size_t(row * n_ratio + r)] = std::exp(-c_ * v);
                } else {
                    V_[std::size_t(row * n_shift + (r - n_ratio))] = v;
                }
            }
        }
    }

    // Restart y and u from a direct computation of the first pre-activation
    // of coalition `mask`: u_i = b_{1,i} + W_1[i, :] z in double.
    void direct_preactivation(std::uint64_t mask, Scratch& s) const {
        const int n0 = lay_.n[0];
        const T* b1 = w_ + lay_.b_offset[0];
        const std::ptrdiff_t n_shift = h_ - n_ratio_;
        double* z = s.z.data();
        for (std::ptrdiff_t k = 0; k < K_; ++k) {
            const T* b = background_ + k * n0;
            for (int j = 0; j < n0; ++j) z[j] = double(b[j]);
            for (int t = 0; t < p_; ++t) {
                if ((mask >> t) & 1u) z[players_[t]] = double(x_[players_[t]]);
            }
            for (int r = 0; r < h_; ++r) {
                const double* Wr = W1_double_.data() + std::ptrdiff_t(r) * n0;
                const double sum = double(b1[unit_[std::size_t(r)]]) + dot_product(Wr, z, n0);
                if (r < n_ratio_) {
                    s.y[std::size_t(k * n_ratio_ + r)] = std::exp(c_ * sum);
                } else {
                    s.u[std::size_t(k * n_shift + (r - n_ratio_))] = sum;
                }
            }
        }
    }

    // The tables of step g: ratios and V for adding or removing player
    // ctz(g), or ones and zeros at the start of a segment.
    struct StepTables {
        const double* ratio;
        const double* V;
        double sign;
    };

    StepTables step_tables(std::int64_t g, std::int64_t first, std::uint64_t mask) const {
        if (g == first) return {ones_.data(), zeros_.data(), 1.0};
        // mask(g) and mask(g - 1) differ in bit ctz(g).
        const int t = __builtin_ctzll(std::uint64_t(g));
        const bool join = ((mask >> t) & 1u) != 0;
        const std::ptrdiff_t n_ratio = n_ratio_;
        const std::ptrdiff_t n_shift = h_ - n_ratio_;
        return {(join ? up_ : down_).data() + std::ptrdiff_t(t) * K_ * n_ratio,
                V_.data() + std::ptrdiff_t(t) * K_ * n_shift, join ? 1.0 : -1.0};
    }

    void ratio_step(double* y, const double* ratio, std::ptrdiff_t count, T* a) const {
        if (act_.kind == Activation::tanh) {
            tanh_ratio_step(y, ratio, count, a);
        } else {
            sigmoid_ratio_step(y, ratio, count, a);
        }
    }

    // Block path: move y and u by one step and write the first layer's
    // pre-activations (shift units) or activations (ratio units) into dst (K, h_1).
    void step_into_block(const StepTables& step, Scratch& s, T* dst) const {
        const std::ptrdiff_t n_ratio = n_ratio_;
        const std::ptrdiff_t n_shift = h_ - n_ratio_;
        if (n_shift == 0) {
            ratio_step(s.y.data(), step.ratio, K_ * n_ratio, dst);
        } else if (n_ratio == 0) {
            shift_step(s.u.data(), step.V, step.sign, K_ * n_shift, dst);
        } else {
            for (std::ptrdiff_t k = 0; k < K_; ++k) {
                ratio_step(s.y.data() + k * n_ratio, step.ratio + k * n_ratio, n_ratio, dst + k * h_);
                shift_step(s.u.data() + k * n_shift, step.V + k * n_shift, step.sign, n_shift,
                           dst + k * h_ + n_ratio);
            }
        }
    }

    void walk_segment(std::int64_t first, std::int64_t last, Scratch& s, double* table) const {
        const std::ptrdiff_t row_size = K_ * h_;
        std::uint64_t masks[std::size_t(1) << kSegmentLog2];
        std::int64_t g = first;
        while (g < last) {
            const std::int64_t block_end = std::min<std::int64_t>(last, g + block_);
            std::ptrdiff_t c = 0;
            for (; g < block_end; ++g, ++c) {
                const std::uint64_t mask = std::uint64_t(g) ^ (std::uint64_t(g) >> 1);
                masks[c] = mask;
                if (g == first) direct_preactivation(mask, s);
                step_into_block(step_tables(g, first, mask), s, s.a.data() + c * row_size);
            }
            finish_block(c, masks, s, table);
        }
    }

    // Mean path (see mean_path): per coalition, the sums over k of the
    // activations, then v = b_2 + (W_2 sums) / K in double.
    void walk_segment_mean(std::int64_t first, std::int64_t last, Scratch& s, double* table) const {
        const std::ptrdiff_t n_ratio = n_ratio_;
        const std::ptrdiff_t n_shift = h_ - n_ratio_;
        const int m = lay_.n[2];
        const T* b2 = w_ + lay_.b_offset[1];
        const double inv_K = 1.0 / double(K_);
        double* sums = s.sums.data();
        for (std::int64_t g = first; g < last; ++g) {
            const std::uint64_t mask = std::uint64_t(g) ^ (std::uint64_t(g) >> 1);
            if (g == first) direct_preactivation(mask, s);
            const StepTables step = step_tables(g, first, mask);
            if (n_ratio > 0) {
                if (act_.kind == Activation::tanh) {
                    tanh_ratio_sum(s.y.data(), step.ratio, K_, n_ratio, sums);
                } else {
                    sigmoid_ratio_sum(s.y.data(), step.ratio, K_, n_ratio, sums);
                }
            }
            if (n_shift > 0) {
                double* a = s.shift_a.data();
                shift_step(s.u.data(), step.V, step.sign, K_ * n_shift, a);
                apply_activation(act_, a, K_ * n_shift);
                std::fill(sums + n_ratio, sums + h_, 0.0);
                add_column_sums(a, K_, n_shift, sums + n_ratio);
            }
            double* out = table + std::ptrdiff_t(mask) * m;
            for (int o = 0; o < m; ++o) {
                out[o] = double(b2[o]) + dot_product(W2_double_.data() + std::ptrdiff_t(o) * h_, sums, h_) * inv_K;
            }
        }
    }

    // Apply sigma to the first layer's units that are not ratio units (those
    // are activated already), for `rows` rows of A (rows, h_1).
    void activate_shift_units(std::ptrdiff_t rows, T* A) const {
        const std::ptrdiff_t n_shift = h_ - n_ratio_;
        if (n_shift == 0) return;
        if (n_ratio_ == 0) {
            apply_activation(act_, A, rows * h_);
            return;
        }
        for (std::ptrdiff_t r = 0; r < rows; ++r) apply_activation(act_, A + r * h_ + n_ratio_, n_shift);
    }

    // Run layers 2..L over the block's c * K rows and write the means over k.
    void finish_block(std::ptrdiff_t c, const std::uint64_t* masks, Scratch& s, double* table) const {
        const int L = lay_.depth();
        const std::ptrdiff_t rows = c * K_;
        T* A = s.a.data();
        T* Z = s.next.data();
        for (int l = 2; l <= L; ++l) {
            if (l == 2) {
                activate_shift_units(rows, A);
            } else {
                apply_activation(act_, A, rows * lay_.n[l - 1]);
            }
            layer_rows(l, rows, A, Z);
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
    void layer_rows(int l, std::ptrdiff_t rows, const T* A, T* Z) const {
        const int n_in = lay_.n[l - 1];
        const int n_out = lay_.n[l];
        const T* b = w_ + lay_.b_offset[l - 1];
        if (n_out < kWideLayer) {
            dot_rows(rows, n_in, n_out, layer_weights(l), b, A, Z);
        } else {
            affine_rows(rows, n_in, n_out, transposed_[static_cast<std::size_t>(l - 2)].data(), b, A, Z);
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
    double c_ = 0.0;  // y = exp(c u) for ratio units; 0 when there are none
    int n_ratio_ = 0;
    std::vector<int> unit_;  // first-layer units in walk order, ratio units first
    int width_ = 1;
    std::ptrdiff_t block_ = 1;
    std::vector<double> up_;     // (p, K, n_ratio_)
    std::vector<double> down_;   // (p, K, n_ratio_)
    std::vector<double> V_;      // (p, K, h_1 - n_ratio_)
    std::vector<double> ones_;   // (K, n_ratio_)
    std::vector<double> zeros_;  // (K, h_1 - n_ratio_)
    std::vector<double> W1_double_;  // (h_1, n_0), rows of W_1 in the order unit_
    std::vector<T> W2_;          // W_2 with columns in the order unit_
    std::vector<double> W2_double_;  // the same in double, for the mean path
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
