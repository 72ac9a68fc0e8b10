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

#include <emmintrin.h>

namespace mathlearn {

constexpr std::size_t kCacheLineBytes = 64;

// Orders this thread's streaming stores before its later stores, so that a
// thread synchronizing with it afterwards (an OpenMP barrier) sees the data.
inline void stream_fence() { _mm_sfence(); }

// Copies one 64-byte line with four SSE2 streaming stores. SSE2 is part of
// x86-64, so every build has it, and the processor's write-combining buffer
// merges the four stores into one full-line write.
inline void stream_line(void* dst, const void* src) {
    __m128i* d = static_cast<__m128i*>(dst);
    const __m128i* s = static_cast<const __m128i*>(src);
    _mm_stream_si128(d + 0, _mm_load_si128(s + 0));
    _mm_stream_si128(d + 1, _mm_load_si128(s + 1));
    _mm_stream_si128(d + 2, _mm_load_si128(s + 2));
    _mm_stream_si128(d + 3, _mm_load_si128(s + 3));
}

// Staging memory of one thread: kLines cache lines, 64-byte aligned.
template <class T>
class StagingBuffer {
public:
    static constexpr std::ptrdiff_t kLines = 64;
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

    // Writes from dst on. streaming selects streaming stores; a dst that is
    // not aligned to sizeof(T) cannot map onto whole lines, so it always
    // gets ordinary stores.
    LineWriter(T* dst, bool streaming, StagingBuffer<T>& staging) : dst_(dst) {
        const auto address = reinterpret_cast<std::uintptr_t>(dst);
        streaming_ = streaming && address % sizeof(T) == 0;
        if (streaming_) {
            stage_ = staging.data();
            // The staging buffer starts at the line that contains dst, so
            // the first head_ slots stand for bytes before the range.
            head_ = std::ptrdiff_t(address % kCacheLineBytes / sizeof(T));
            fill_ = head_;
            line_base_ = address - std::uintptr_t(head_) * sizeof(T);
        }
    }
    LineWriter(const LineWriter&) = delete;
    LineWriter& operator=(const LineWriter&) = delete;

    // Appends d * a[0..n).
    void put_scaled(T d, const T* a, std::ptrdiff_t n) {
        if (!streaming_) {
            T* out = dst_;
#pragma omp simd
            for (std::ptrdiff_t j = 0; j < n; ++j) out[j] = d * a[j];
            dst_ += n;
            return;
        }
        while (n > 0) {
            const std::ptrdiff_t take = std::min(n, kCapacity - fill_);
            T* out = stage_ + fill_;
#pragma omp simd
            for (std::ptrdiff_t j = 0; j < take; ++j) out[j] = d * a[j];
            append_done(take);
            a += take;
            n -= take;
        }
    }

    // Appends a[0..n).
    void put(const T* a, std::ptrdiff_t n) {
        if (!streaming_) {
            std::copy(a, a + n, dst_);
            dst_ += n;
            return;
        }
        while (n > 0) {
            const std::ptrdiff_t take = std::min(n, kCapacity - fill_);
            std::copy(a, a + take, stage_ + fill_);
            append_done(take);
            a += take;
            n -= take;
        }
    }

    // Writes out what is still staged. Call once, after the last put; the
    // caller still owes a stream_fence() before other threads read.
    void finish() {
        if (streaming_) write_staged();
    }

private:
    void append_done(std::ptrdiff_t count) {
        fill_ += count;
        if (fill_ == kCapacity) write_staged();
    }

    // Writes staging slots [head_, fill_) to their lines: complete lines by
    // streaming stores, the partial first and last lines by ordinary stores.
    void write_staged() {
        T* base = reinterpret_cast<T*>(line_base_);
        for (std::ptrdiff_t lo = 0; lo < fill_; lo += kLineElements) {
            const std::ptrdiff_t begin = std::max(lo, head_);
            const std::ptrdiff_t end = std::min(lo + kLineElements, fill_);
            if (begin == lo && end == lo + kLineElements) {
                stream_line(base + lo, stage_ + lo);
            } else {
                std::copy(stage_ + begin, stage_ + end, base + begin);
            }
        }
        line_base_ += std::uintptr_t(fill_) * sizeof(T);
        head_ = 0;
        fill_ = 0;
    }

    T* dst_;                      // next element, ordinary mode
    bool streaming_ = false;
    T* stage_ = nullptr;          // streaming mode from here on
    std::uintptr_t line_base_ = 0;  // address of the line that staging slot 0 stands for
    std::ptrdiff_t head_ = 0;     // slots before the range in the first staged line
    std::ptrdiff_t fill_ = 0;     // slots in use, counting the head
};

}  // namespace mathlearn
