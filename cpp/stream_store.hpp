// Sequential writer of one contiguous output range, with ordinary stores or
// with non-temporal (streaming) stores of whole cache lines.
//
// An ordinary store to a line that is not in the cache first reads the line
// from memory (write-allocate), so writing n bytes that way moves about 2n
// bytes. A streaming store sends a full line to memory without that read and
// without keeping it in the cache. The x86 streaming stores need an aligned
// address, but the segments a kernel produces (a row of an outer product, a
// bias block) start anywhere. So in streaming mode the writer collects the
// elements in a small staging buffer laid out like the destination lines and
// streams each line once it is complete. The partial lines at the two ends of
// the range get ordinary stores, so bytes outside the range are never touched.
//
// Streaming stores are weakly ordered: the thread that wrote them must call
// stream_fence() before another thread reads the output.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <immintrin.h>

#include "threads.hpp"

namespace mathlearn {

constexpr std::size_t kCacheLineBytes = 64;

// Orders this thread's streaming stores before its later stores, so that a
// thread that synchronizes with it afterwards, through an OpenMP barrier,
// reads the stored data.
inline void stream_fence() { _mm_sfence(); }

// Copies `lines` 64-byte lines from src to dst, both 64-byte aligned, with
// streaming stores.
using StreamLines = void (*)(void* dst, const void* src, std::ptrdiff_t lines);

// Four 16-byte SSE2 stores per line. SSE2 is part of x86-64, so every build
// has it, and the write-combining buffer of the core merges the four stores
// into one full-line write.
inline void stream_lines_sse2(void* dst, const void* src, std::ptrdiff_t lines) {
    __m128i* d = static_cast<__m128i*>(dst);
    const __m128i* s = static_cast<const __m128i*>(src);
    for (std::ptrdiff_t q = 0; q < 4 * lines; q += 4) {
        _mm_stream_si128(d + q + 0, _mm_load_si128(s + q + 0));
        _mm_stream_si128(d + q + 1, _mm_load_si128(s + q + 1));
        _mm_stream_si128(d + q + 2, _mm_load_si128(s + q + 2));
        _mm_stream_si128(d + q + 3, _mm_load_si128(s + q + 3));
    }
}

// One 64-byte store per line, a quarter of the store instructions.
__attribute__((target("avx512f"))) inline void stream_lines_avx512(void* dst, const void* src,
                                                                   std::ptrdiff_t lines) {
    __m512i* d = static_cast<__m512i*>(dst);
    const __m512i* s = static_cast<const __m512i*>(src);
    for (std::ptrdiff_t q = 0; q < lines; ++q) _mm512_stream_si512(d + q, _mm512_load_si512(s + q));
}

// When set, stream_lines_for_cpu() returns the SSE2 copy on every CPU, so
// that tests on an AVX-512 machine also run it. Process-wide.
inline bool& stream_lines_sse2_override() {
    static bool forced = false;
    return forced;
}

// The line copy for the CPU this process runs on.
inline StreamLines stream_lines_for_cpu() {
    static const bool have_avx512 = __builtin_cpu_supports("avx512f");
    return have_avx512 && !stream_lines_sse2_override() ? stream_lines_avx512 : stream_lines_sse2;
}

// dst[j] = src[j] for j < n, inline. For the few elements that move here,
// a call to memmove costs more than the copy itself.
template <class T>
inline void copy_short(const T* src, std::ptrdiff_t n, T* dst) {
#pragma omp simd
    for (std::ptrdiff_t j = 0; j < n; ++j) dst[j] = src[j];
}

// Staging memory of one thread: kLines cache lines, 64-byte aligned.
template <class T>
class StagingBuffer {
public:
    static constexpr std::ptrdiff_t kLines = 16;
    static constexpr std::ptrdiff_t kLineElements = std::ptrdiff_t(kCacheLineBytes / sizeof(T));
    static constexpr std::ptrdiff_t kCapacity = kLines * kLineElements;

    StagingBuffer() : storage_(std::size_t(kCapacity + kLineElements)) {
        const auto address = reinterpret_cast<std::uintptr_t>(storage_.data());
        const std::uintptr_t skip = (kCacheLineBytes - address % kCacheLineBytes) % kCacheLineBytes;
        data_ = storage_.data() + skip / sizeof(T);
    }
    StagingBuffer(const StagingBuffer&) = delete;
    StagingBuffer& operator=(const StagingBuffer&) = delete;

    T* data() { return data_; }

private:
    std::vector<T> storage_;
    T* data_ = nullptr;
};

template <class T>
class LineWriter {
public:
    static constexpr std::ptrdiff_t kLineElements = StagingBuffer<T>::kLineElements;
    static constexpr std::ptrdiff_t kCapacity = StagingBuffer<T>::kCapacity;
    // Largest n that reserve() accepts: after write_complete_lines() fewer
    // than kLineElements slots stay in use.
    static constexpr std::ptrdiff_t kMaxReserve = kCapacity - kLineElements + 1;

    // Writes from dst on, with streaming stores when `streaming` is set. A
    // dst that is not aligned to sizeof(T) cannot map onto whole lines, so
    // it always gets ordinary stores.
    LineWriter(T* dst, bool streaming, StagingBuffer<T>& staging) : dst_(dst) {
        const auto address = reinterpret_cast<std::uintptr_t>(dst);
        streaming_ = streaming && address % sizeof(T) == 0;
        if (streaming_) {
            stage_ = staging.data();
            stream_lines_ = stream_lines_for_cpu();
            // The staging buffer starts at the line that contains dst, so
            // the first head_ slots correspond to bytes before the range.
            head_ = std::ptrdiff_t(address % kCacheLineBytes / sizeof(T));
            fill_ = head_;
            line_base_ = address - std::uintptr_t(head_) * sizeof(T);
        }
    }
    LineWriter(const LineWriter&) = delete;
    LineWriter& operator=(const LineWriter&) = delete;

    // Returns room for the next n <= kMaxReserve elements, to be filled by
    // the caller and then passed to commit(n).
    T* reserve(std::ptrdiff_t n) {
        if (!streaming_) return dst_;
        if (fill_ + n > kCapacity) write_complete_lines();
        return stage_ + fill_;
    }

    void commit(std::ptrdiff_t n) {
        if (streaming_) {
            fill_ += n;
        } else {
            dst_ += n;
        }
    }

    // Appends d * a[0..n).
    void put_scaled(T d, const T* a, std::ptrdiff_t n) {
        while (n > 0) {
            const std::ptrdiff_t take = std::min(n, kMaxReserve);
            T* out = reserve(take);
#pragma omp simd
            for (std::ptrdiff_t j = 0; j < take; ++j) out[j] = d * a[j];
            commit(take);
            a += take;
            n -= take;
        }
    }

    // Appends the rows x cols outer product d a^T, row-major: d[i] * a[j]
    // for i < rows, j < cols. Many rows share one reservation, which keeps
    // the bookkeeping out of the loop over short rows.
    void put_outer(const T* d, std::ptrdiff_t rows, const T* a, std::ptrdiff_t cols) {
        if (cols == 0) return;
        if (cols > kMaxReserve) {
            for (std::ptrdiff_t i = 0; i < rows; ++i) put_scaled(d[i], a, cols);
            return;
        }
        const std::ptrdiff_t rows_per_chunk = kMaxReserve / cols;
        for (std::ptrdiff_t i0 = 0; i0 < rows; i0 += rows_per_chunk) {
            const std::ptrdiff_t chunk = std::min(rows_per_chunk, rows - i0);
            T* out = reserve(chunk * cols);
            for (std::ptrdiff_t i = 0; i < chunk; ++i) {
                const T di = d[i0 + i];
                T* row = out + i * cols;
#pragma omp simd
                for (std::ptrdiff_t j = 0; j < cols; ++j) row[j] = di * a[j];
            }
            commit(chunk * cols);
        }
    }

    // Appends a[0..n).
    void put(const T* a, std::ptrdiff_t n) {
        while (n > 0) {
            const std::ptrdiff_t take = std::min(n, kMaxReserve);
            copy_short(a, take, reserve(take));
            commit(take);
            a += take;
            n -= take;
        }
    }

    // Writes out what is still staged. Call it once, after the last commit.
    // The caller still owes a stream_fence() before other threads read.
    void finish() {
        if (!streaming_) return;
        write_complete_lines();
        // Fewer than a line of elements is left, at the front of the stage.
        T* base = reinterpret_cast<T*>(line_base_);
        copy_short(stage_ + head_, fill_ - head_, base + head_);
        head_ = fill_;
    }

private:
    // Writes the complete lines among staging slots [head_, fill_) and
    // moves the rest (less than a line) to the front of the stage. A first
    // line that starts before the range gets ordinary stores.
    void write_complete_lines() {
        const std::ptrdiff_t lines = fill_ / kLineElements;
        if (lines == 0) return;
        T* base = reinterpret_cast<T*>(line_base_);
        std::ptrdiff_t first = 0;
        if (head_ > 0) {
            copy_short(stage_ + head_, kLineElements - head_, base + head_);
            first = 1;
        }
        stream_lines_(base + first * kLineElements, stage_ + first * kLineElements, lines - first);
        const std::ptrdiff_t done = lines * kLineElements;
        copy_short(stage_ + done, fill_ - done, stage_);
        line_base_ += std::uintptr_t(done) * sizeof(T);
        head_ = 0;
        fill_ -= done;
    }

    T* dst_;                         // next element, ordinary mode
    bool streaming_ = false;
    T* stage_ = nullptr;             // streaming mode from here on
    StreamLines stream_lines_ = nullptr;
    std::uintptr_t line_base_ = 0;   // address of the line that staging slot 0 corresponds to
    std::ptrdiff_t head_ = 0;        // slots before the range in the first staged line
    std::ptrdiff_t fill_ = 0;        // slots in use, counting the head
};

// Sets a[0..n) to value with streaming stores of whole lines and ordinary
// stores of the partial lines at the ends, on all threads. The benchmarks
// use its rate as the write ceiling that the Jacobian kernel is compared with.
template <class T>
void fill_streaming(T* a, std::ptrdiff_t n, T value) {
    constexpr std::ptrdiff_t kLineElements = StagingBuffer<T>::kLineElements;
    constexpr std::ptrdiff_t kSourceLines = 16;
    static_assert(kSourceLines <= StagingBuffer<T>::kLines, "the source lines fit one staging buffer");
    const auto address = reinterpret_cast<std::uintptr_t>(a);
    std::ptrdiff_t head = 0;
    if (address % sizeof(T) == 0) {
        head = std::ptrdiff_t((kCacheLineBytes - address % kCacheLineBytes) % kCacheLineBytes / sizeof(T));
    } else {
        head = n;  // No element starts a line, so all stores are ordinary.
    }
    head = std::min(head, n);
    std::fill(a, a + head, value);
    const std::ptrdiff_t lines = (n - head) / kLineElements;
    T* body = a + head;
    std::fill(body + lines * kLineElements, a + n, value);

    const StreamLines stream_lines = stream_lines_for_cpu();
    const std::ptrdiff_t n_tasks = (lines + kSourceLines - 1) / kSourceLines;
#pragma omp parallel num_threads(max_threads()) if (lines >= 1024)
    {
        StagingBuffer<T> source;
        std::fill(source.data(), source.data() + kSourceLines * kLineElements, value);
#pragma omp for schedule(static) nowait
        for (std::ptrdiff_t t = 0; t < n_tasks; ++t) {
            const std::ptrdiff_t first = t * kSourceLines;
            const std::ptrdiff_t count = std::min(kSourceLines, lines - first);
            stream_lines(body + first * kLineElements, source.data(), count);
        }
        stream_fence();
    }
}

}  // namespace mathlearn
