// Loops of tanh and sigmoid over arrays, compiled once per instruction set.
//
// GCC's target_clones builds AVX-512, AVX2 and baseline x86-64 versions of
// each loop and picks one at load time from the CPU, so the wheel stays
// portable. CMakeLists.txt passes -ffp-contract=off, so no version fuses
// a * b + c into one FMA and all versions round identically.
#include <cstddef>

#include "fastmath.hpp"
#include "mlp.hpp"

namespace mathlearn {

#define MATHLEARN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

MATHLEARN_CLONES void tanh_inplace(double* a, std::ptrdiff_t count) {
    for (std::ptrdiff_t k = 0; k < count; ++k) a[k] = tanh_vectorizable(a[k]);
}

MATHLEARN_CLONES void tanh_inplace(float* a, std::ptrdiff_t count) {
    for (std::ptrdiff_t k = 0; k < count; ++k) {
        a[k] = static_cast<float>(tanh_vectorizable(static_cast<double>(a[k])));
    }
}

MATHLEARN_CLONES void sigmoid_inplace(double* a, std::ptrdiff_t count) {
    for (std::ptrdiff_t k = 0; k < count; ++k) a[k] = sigmoid_vectorizable(a[k]);
}

MATHLEARN_CLONES void sigmoid_inplace(float* a, std::ptrdiff_t count) {
    for (std::ptrdiff_t k = 0; k < count; ++k) {
        a[k] = static_cast<float>(sigmoid_vectorizable(static_cast<double>(a[k])));
    }
}

}  // namespace mathlearn
