// The one pybind11 bindings file of mathlearn._core.
//
// Contract for every entry point: shapes, dtypes and contiguity are checked
// and outputs allocated while the GIL is held; the GIL is released only
// around pure C++ work.
#include <pybind11/pybind11.h>
#include <pybind11/numpy.h>

#include "threads.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
    m.doc() = "Compiled kernels of mathlearn (C++17, pybind11).";

    m.def("have_openmp", &mathlearn::have_openmp,
          "True when the extension was built with OpenMP.");
    m.def("get_num_threads", &mathlearn::max_threads,
          "Number of OpenMP threads the kernels use.");
    m.def(
        "set_num_threads",
        [](int n) {
            if (n < 1) {
                throw py::value_error("n must be >= 1; got " + std::to_string(n));
            }
            mathlearn::set_max_threads(n);
        },
        py::arg("n"), "Set the number of OpenMP threads the kernels use.");
}
