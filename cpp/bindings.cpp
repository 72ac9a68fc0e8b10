// The one pybind11 bindings file of mathlearn._core.
//
// Contract for every entry point: shapes, dtypes and contiguity are checked
// and outputs allocated while the GIL is held; the GIL is released only
// around pure C++ work. Output arrays are never converted or copied: an
// output of the wrong dtype, shape or layout raises ValueError.
#include <pybind11/pybind11.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <dlfcn.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "blas.hpp"
#include "gradient.hpp"
#include "jacobian.hpp"
#include "mlp.hpp"
#include "model_game.hpp"
#include "threads.hpp"

namespace py = pybind11;
using mathlearn::Activation;
using mathlearn::Layout;

namespace {

// Python tuple notation: (3,) for one dimension, (3, 4) for two.
std::string shape_text(const std::vector<py::ssize_t>& shape) {
    std::string s = "(";
    for (std::size_t d = 0; d < shape.size(); ++d) {
        if (d > 0) s += ", ";
        s += std::to_string(shape[d]);
    }
    return s + (shape.size() == 1 ? ",)" : ")");
}

std::string shape_str(const py::array& a) {
    return shape_text(std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()));
}

// True when a has dtype T in native byte order. A dtype object equal to
// numpy.float64 need not be the same object (unpickled arrays carry their
// own), so this compares by NumPy's equivalence, not by identity.
template <class T>
bool has_dtype(const py::array& a) {
    return py::detail::npy_api::get().PyArray_EquivTypes_(a.dtype().ptr(), py::dtype::of<T>().ptr());
}

// Check dtype, C-contiguity, writability and exact shape of one array.
template <class T>
void check_array(const py::array& a, const char* name, const std::vector<py::ssize_t>& shape,
                 bool writable) {
    if (!has_dtype<T>(a)) {
        throw py::value_error(std::string(name) + " must have dtype " +
                              std::string(py::str(py::dtype::of<T>())) + "; got " +
                              std::string(py::str(a.dtype())) + ".");
    }
    if (!(a.flags() & py::array::c_style)) {
        throw py::value_error(std::string(name) + " must be C-contiguous.");
    }
    if (writable && !a.writeable()) {
        throw py::value_error(std::string(name) + " must be writable.");
    }
    bool ok = a.ndim() == py::ssize_t(shape.size());
    for (std::size_t d = 0; ok && d < shape.size(); ++d) ok = a.shape(d) == shape[d];
    if (!ok) {
        throw py::value_error(std::string(name) + " must have shape " + shape_text(shape) + "; got " +
                              shape_str(a) + ".");
    }
}

Layout make_layout(const std::vector<int>& sizes) {
    if (sizes.size() < 2) {
        throw py::value_error("layer_sizes must contain at least 2 sizes; got " +
                              std::to_string(sizes.size()) + ".");
    }
    for (int s : sizes) {
        if (s < 1) throw py::value_error("every layer size must be >= 1; got " + std::to_string(s) + ".");
    }
    // P = sum_l (n_{l-1} + 1) n_l must fit in std::ptrdiff_t before Layout sums it.
    // Each term is below 2**62 (sizes are ints), so the check of the running
    // sum against the maximum cannot itself overflow.
    const std::int64_t max_params = std::numeric_limits<std::ptrdiff_t>::max();
    std::int64_t total = 0;
    for (std::size_t l = 1; l < sizes.size(); ++l) {
        const std::int64_t term = (std::int64_t(sizes[l - 1]) + 1) * std::int64_t(sizes[l]);
        if (term > max_params - total) {
            throw py::value_error("layer_sizes give more parameters than an index can hold; got " +
                                  std::to_string(sizes.size()) + " sizes up to " +
                                  std::to_string(*std::max_element(sizes.begin(), sizes.end())) + ".");
        }
        total += term;
    }
    return Layout(sizes);
}

mathlearn::Sigma make_activation(int code, double param) {
    if (code < 0 || code >= mathlearn::kActivationCount) {
        throw py::value_error("activation code must be 0.." +
                              std::to_string(mathlearn::kActivationCount - 1) + "; got " +
                              std::to_string(code) + ".");
    }
    mathlearn::Sigma s{static_cast<Activation>(code), param};
    if (s.kind == Activation::power && (param < 1 || param != double(int(param)))) {
        throw py::value_error("the degree of the power activation must be an integer >= 1; got " +
                              std::to_string(param) + ".");
    }
    if ((s.kind == Activation::leaky_relu || s.kind == Activation::elu) && !(param > 0)) {
        throw py::value_error("the parameter of leaky_relu and elu must be > 0; got " +
                              std::to_string(param) + ".");
    }
    return s;
}

// Pointers to the arrays of a list of L - 1 per-layer (B, n_l) arrays, or an
// empty vector for an empty list.
template <class T>
std::vector<T*> layer_arrays(const py::list& arrays, const char* name, const Layout& lay,
                             py::ssize_t B, bool writable) {
    std::vector<T*> out;
    if (arrays.size() == 0) return out;
    const int L = lay.depth();
    if (py::ssize_t(arrays.size()) != L - 1) {
        throw py::value_error(std::string(name) + " must contain " + std::to_string(L - 1) +
                              " arrays; got " + std::to_string(arrays.size()) + ".");
    }
    for (int l = 1; l < L; ++l) {
        py::array h = arrays[l - 1].cast<py::array>();
        check_array<T>(h, name, {B, lay.n[l]}, writable);
        out.push_back(static_cast<T*>(writable ? h.mutable_data() : const_cast<void*>(h.data())));
    }
    return out;
}

void require_blas() {
    if (!mathlearn::have_blas()) {
        throw std::runtime_error(
            "mathlearn._core has no BLAS yet; call mathlearn._core.set_blas() first "
            "(mathlearn.network does this on import).");
    }
}

// Batch size of X after checking it against n_0.
template <class T>
py::ssize_t batch_of(const py::array& X, const Layout& lay) {
    if (X.ndim() != 2) {
        throw py::value_error("X must be 2-D; got shape " + shape_str(X) + ".");
    }
    check_array<T>(X, "X", {X.shape(0), lay.n[0]}, false);
    // BLAS takes 32-bit dimensions, and the batch is one of them.
    if (X.shape(0) > py::ssize_t(std::numeric_limits<int>::max())) {
        throw py::value_error("X must have at most 2**31 - 1 rows (the BLAS index limit); got " +
                              std::to_string(X.shape(0)) + ". Split the batch.");
    }
    return X.shape(0);
}

template <class T>
void forward_impl(const py::array& w, const py::array& X, const Layout& lay,
                  const mathlearn::Sigma& act, py::array& Y, const py::list& hidden_list,
                  const py::list& pre_list) {
    const int L = lay.depth();
    check_array<T>(w, "w", {lay.n_params}, false);
    const py::ssize_t B = batch_of<T>(X, lay);
    check_array<T>(Y, "Y", {B, lay.n[L]}, true);
    const std::vector<T*> hidden = layer_arrays<T>(hidden_list, "hidden", lay, B, true);
    const std::vector<T*> pre = layer_arrays<T>(pre_list, "pre", lay, B, true);
    if (B == 0) return;
    const T* wp = static_cast<const T*>(w.data());
    const T* Xp = static_cast<const T*>(X.data());
    T* Yp = static_cast<T*>(Y.mutable_data());
    const bool blas = mathlearn::choose_blas<T>(lay, B);
    py::gil_scoped_release release;
    mathlearn::forward<T>(lay, act, wp, Xp, B, hidden, pre, Yp, blas);
}

template <class T>
void backward_impl(const py::array& w, const py::array& X, const Layout& lay,
                   const mathlearn::Sigma& act, const py::list& hidden_list,
                   const py::list& pre_list, const py::array& G, py::array& grad) {
    const int L = lay.depth();
    check_array<T>(w, "w", {lay.n_params}, false);
    const py::ssize_t B = batch_of<T>(X, lay);
    check_array<T>(G, "G", {B, lay.n[L]}, false);
    check_array<T>(grad, "grad", {lay.n_params}, true);
    if (py::ssize_t(hidden_list.size()) != L - 1) {
        throw py::value_error("hidden must contain " + std::to_string(L - 1) + " arrays; got " +
                              std::to_string(hidden_list.size()) + ".");
    }
    if (act.needs_z() && py::ssize_t(pre_list.size()) != L - 1) {
        throw py::value_error("pre must contain the " + std::to_string(L - 1) +
                              " pre-activation arrays for this activation; got " +
                              std::to_string(pre_list.size()) + ".");
    }
    const std::vector<T*> h = layer_arrays<T>(hidden_list, "hidden", lay, B, false);
    const std::vector<T*> z = layer_arrays<T>(pre_list, "pre", lay, B, false);
    const std::vector<const T*> hidden(h.begin(), h.end());
    const std::vector<const T*> pre(z.begin(), z.end());
    T* gp = static_cast<T*>(grad.mutable_data());
    if (B == 0) {
        std::memset(static_cast<void*>(gp), 0, sizeof(T) * std::size_t(lay.n_params));
        return;
    }
    const std::size_t work = static_cast<std::size_t>(B) * lay.width_max_hidden();
    std::vector<T> work1(L > 1 ? work : 0), work2(L > 1 ? work : 0);
    const T* wp = static_cast<const T*>(w.data());
    const T* Xp = static_cast<const T*>(X.data());
    const T* Gp = static_cast<const T*>(G.data());
    py::gil_scoped_release release;
    mathlearn::backward<T>(lay, act, wp, Xp, B, hidden, pre, Gp, gp, work1.data(), work2.data());
}

template <class T>
void jacobian_impl(const py::array& w, const py::array& X, const Layout& lay,
                   const mathlearn::Sigma& act, py::array& J) {
    const int L = lay.depth();
    check_array<T>(w, "w", {lay.n_params}, false);
    const py::ssize_t B = batch_of<T>(X, lay);
    check_array<T>(J, "out", {B, lay.n[L], lay.n_params}, true);
    if (B == 0) return;
    const T* wp = static_cast<const T*>(w.data());
    const T* Xp = static_cast<const T*>(X.data());
    T* Jp = static_cast<T*>(J.mutable_data());
    py::gil_scoped_release release;
    mathlearn::jacobian<T>(lay, act, wp, Xp, B, Jp);
}

template <class T>
double mse_gradient_impl(const py::array& w, const py::array& X, const py::array& y,
                         const py::object& sample_weight, const Layout& lay,
                         const mathlearn::Sigma& act, py::array& grad) {
    const int L = lay.depth();
    check_array<T>(w, "w", {lay.n_params}, false);
    const py::ssize_t B = batch_of<T>(X, lay);
    if (B == 0) {
        throw py::value_error("X must contain at least one row for a loss; got shape " +
                              shape_str(X) + ".");
    }
    check_array<T>(y, "y", {B, lay.n[L]}, false);
    check_array<T>(grad, "grad", {lay.n_params}, true);
    const T* weight = nullptr;
    if (!sample_weight.is_none()) {
        const py::array sw = sample_weight.cast<py::array>();
        check_array<T>(sw, "sample_weight", {B}, false);
        weight = static_cast<const T*>(sw.data());
    }
    if (act.needs_z()) {
        throw py::value_error("mse_value_and_gradient needs an activation whose derivative "
                              "follows from its value; use forward() and backward() for this one.");
    }
    mathlearn::MseGradientWorkspace<T> workspace(lay, B);
    const T* wp = static_cast<const T*>(w.data());
    const T* Xp = static_cast<const T*>(X.data());
    const T* yp = static_cast<const T*>(y.data());
    T* gp = static_cast<T*>(grad.mutable_data());
    py::gil_scoped_release release;
    return mathlearn::mse_value_and_gradient<T>(lay, act, wp, Xp, yp, weight, B, gp, workspace);
}

// The function `name` of the library that contains `address` or of the
// libraries it depends on, or null.
void* symbol_near(const void* address, const char* name) {
    Dl_info info;
    if (dladdr(address, &info) == 0 || info.dli_fname == nullptr) return nullptr;
    void* handle = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
    if (handle == nullptr) return nullptr;
    void* symbol = dlsym(handle, name);
    // The library stays loaded after dlclose, because the module that
    // exported the capsule keeps a reference to it.
    dlclose(handle);
    return symbol;
}

bool is_float64(const py::array& w) {
    if (has_dtype<double>(w)) return true;
    if (has_dtype<float>(w)) return false;
    throw py::value_error("w must have dtype float64 or float32; got " +
                          std::string(py::str(w.dtype())) + ".");
}

void* capsule_pointer(const py::capsule& cap, const char* routine) {
    PyObject* obj = cap.ptr();
    const char* name = PyCapsule_GetName(obj);
    if (name == nullptr && PyErr_Occurred()) throw py::error_already_set();
    void* p = PyCapsule_GetPointer(obj, name);
    if (p == nullptr) {
        if (PyErr_Occurred()) throw py::error_already_set();
        throw py::value_error(std::string(routine) + " capsule contains a null pointer; pass the capsule from scipy.linalg.cython_blas.__pyx_capi__.");
    }
    return p;
}

}  // namespace

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

    m.def(
        "set_blas",
        [](const py::capsule& dgemm, const py::capsule& sgemm) {
            auto& table = mathlearn::blas_table();
            table.dgemm = reinterpret_cast<mathlearn::dgemm_t>(capsule_pointer(dgemm, "dgemm"));
            table.sgemm = reinterpret_cast<mathlearn::sgemm_t>(capsule_pointer(sgemm, "sgemm"));
            // SciPy's wheels prefix OpenBLAS's own functions with "scipy_".
            const void* dgemm_address = reinterpret_cast<const void*>(table.dgemm);
            for (const char* prefix : {"scipy_", ""}) {
                const std::string get_name = std::string(prefix) + "openblas_get_num_threads";
                const std::string set_name = std::string(prefix) + "openblas_set_num_threads";
                void* get = symbol_near(dgemm_address, get_name.c_str());
                void* set = symbol_near(dgemm_address, set_name.c_str());
                if (get != nullptr && set != nullptr) {
                    table.get_threads = reinterpret_cast<mathlearn::get_threads_t>(get);
                    table.set_threads = reinterpret_cast<mathlearn::set_threads_t>(set);
                    break;
                }
            }
        },
        py::arg("dgemm"), py::arg("sgemm"),
        "Install the dgemm and sgemm pointers from scipy.linalg.cython_blas.__pyx_capi__, and "
        "find OpenBLAS's thread-count functions next to them.");
    m.def("have_blas", &mathlearn::have_blas, "True once set_blas() has been called.");
    m.def("can_serialize_blas", &mathlearn::can_serialize_blas,
          "True when the kernels can run OpenBLAS single-threaded inside their own threads.");

    m.def(
        "set_forward_path",
        [](const std::string& path) {
            auto& p = mathlearn::forward_path_override();
            if (path == "auto") {
                p = mathlearn::ForwardPath::automatic;
            } else if (path == "blas") {
                p = mathlearn::ForwardPath::blas;
            } else if (path == "fused") {
                p = mathlearn::ForwardPath::fused;
            } else {
                throw py::value_error("path must be 'auto', 'blas' or 'fused'; got '" + path + "'.");
            }
        },
        py::arg("path"),
        "Force forward passes onto the BLAS kernel or the fused row-blocked OpenMP loop ('auto' "
        "restores the automatic choice by width and batch). Process-wide; meant for tests and "
        "benchmarks.");

    m.def(
        "set_jacobian_stores",
        [](const std::string& stores) {
            auto& s = mathlearn::jacobian_stores_override();
            if (stores == "auto") {
                s = mathlearn::JacobianStores::automatic;
            } else if (stores == "cached") {
                s = mathlearn::JacobianStores::cached;
            } else if (stores == "streaming") {
                s = mathlearn::JacobianStores::streaming;
            } else {
                throw py::value_error("stores must be 'auto', 'cached' or 'streaming'; got '" +
                                      stores + "'.");
            }
        },
        py::arg("stores"),
        "Force the Jacobian kernel to write its output with ordinary (cached) stores or with "
        "streaming stores ('auto' restores the choice by output size). Process-wide; meant for "
        "tests and benchmarks.");

    m.def(
        "set_stream_sse2",
        [](bool forced) { mathlearn::stream_lines_sse2_override() = forced; },
        py::arg("forced"),
        "Make streaming stores use the 16-byte SSE2 instructions even where AVX-512 is available "
        "(False restores the choice by CPU). Process-wide; meant for tests.");

    m.def(
        "forward",
        [](const py::array& w, const py::array& X, const std::vector<int>& sizes, int activation,
           double param, py::array Y, const py::list& hidden, const py::list& pre) {
            require_blas();
            const Layout lay = make_layout(sizes);
            const mathlearn::Sigma act = make_activation(activation, param);
            if (is_float64(w)) {
                forward_impl<double>(w, X, lay, act, Y, hidden, pre);
            } else {
                forward_impl<float>(w, X, lay, act, Y, hidden, pre);
            }
        },
        py::arg("w"), py::arg("X"), py::arg("layer_sizes"), py::arg("activation"),
        py::arg("param"), py::arg("Y"), py::arg("hidden") = py::list(), py::arg("pre") = py::list(),
        "Write f_w(X) into Y (B, n_L); when `hidden` holds L-1 arrays (B, n_l), also write the "
        "hidden activations a_l there, and when `pre` does, the pre-activations z_l.");

    m.def(
        "backward",
        [](const py::array& w, const py::array& X, const std::vector<int>& sizes, int activation,
           double param, const py::list& hidden, const py::list& pre, const py::array& G,
           py::array grad) {
            require_blas();
            const Layout lay = make_layout(sizes);
            const mathlearn::Sigma act = make_activation(activation, param);
            if (is_float64(w)) {
                backward_impl<double>(w, X, lay, act, hidden, pre, G, grad);
            } else {
                backward_impl<float>(w, X, lay, act, hidden, pre, G, grad);
            }
        },
        py::arg("w"), py::arg("X"), py::arg("layer_sizes"), py::arg("activation"),
        py::arg("param"), py::arg("hidden"), py::arg("pre"), py::arg("G"), py::arg("grad"),
        "Write sum_b G[b] . Jac f_{x_b}(w) into grad (P,), given G = dL/dY (B, n_L) and the "
        "hidden activations from forward().");

    m.def(
        "mse_value_and_gradient",
        [](const py::array& w, const py::array& X, const py::array& y, const std::vector<int>& sizes,
           int activation, double param, const py::object& sample_weight, py::array grad) {
            require_blas();
            const Layout lay = make_layout(sizes);
            const mathlearn::Sigma act = make_activation(activation, param);
            if (is_float64(w)) {
                return mse_gradient_impl<double>(w, X, y, sample_weight, lay, act, grad);
            }
            return mse_gradient_impl<float>(w, X, y, sample_weight, lay, act, grad);
        },
        py::arg("w"), py::arg("X"), py::arg("y"), py::arg("layer_sizes"), py::arg("activation"),
        py::arg("param"), py::arg("sample_weight"), py::arg("grad"),
        "Return the mean squared error L = (1 / B) sum_b w_b (1 / m) ||f(x_b) - y_b||^2 and "
        "write grad_w L into grad (P,), in one forward and backward pass. y is (B, n_L); "
        "sample_weight is None (every w_b = 1) or (B,). Not for gelu, sin and power, whose "
        "derivative needs the pre-activation.");

    m.def(
        "jacobian",
        [](const py::array& w, const py::array& X, const std::vector<int>& sizes, int activation,
           double param, py::array out) {
            require_blas();
            const Layout lay = make_layout(sizes);
            const mathlearn::Sigma act = make_activation(activation, param);
            if (is_float64(w)) {
                jacobian_impl<double>(w, X, lay, act, out);
            } else {
                jacobian_impl<float>(w, X, lay, act, out);
            }
        },
        py::arg("w"), py::arg("X"), py::arg("layer_sizes"), py::arg("activation"),
        py::arg("param"), py::arg("out"),
        "Write the per-sample Jacobians Jac f_{x_b}(w) into out (B, n_L, P).");

    m.def(
        "fill_streaming",
        [](py::array a, double value) {
            const bool f64 = has_dtype<double>(a);
            if (!f64 && !has_dtype<float>(a)) {
                throw py::value_error("a must have dtype float64 or float32; got " +
                                      std::string(py::str(a.dtype())) + ".");
            }
            if (!(a.flags() & py::array::c_style)) {
                throw py::value_error("a must be C-contiguous, because it is filled in place.");
            }
            if (!a.writeable()) throw py::value_error("a must be writable.");
            void* data = a.mutable_data();
            const std::ptrdiff_t n = a.size();
            py::gil_scoped_release release;
            if (f64) {
                mathlearn::fill_streaming(static_cast<double*>(data), n, value);
            } else {
                mathlearn::fill_streaming(static_cast<float*>(data), n, static_cast<float>(value));
            }
        },
        py::arg("a"), py::arg("value"),
        "Set every element of a to value with streaming stores from all threads. The benchmarks "
        "use its rate as the write ceiling that the Jacobian kernel is compared with.");

    // Coalition table of the interventional game of an MLP (model_game.hpp).
    // Helpers stay local to this block so that it reads on its own.
    m.attr("MODEL_GAME_SEGMENT") = 1 << mathlearn::kSegmentLog2;
    m.def(
        "model_game_table",
        [](const py::array& w, const std::vector<int>& sizes, int activation, double param,
           const py::array& x, const py::array& background, const py::array& players, py::array table) {
            const Layout lay = make_layout(sizes);
            const mathlearn::Sigma act = make_activation(activation, param);
            const int n0 = lay.n[0];
            const int m_out = lay.n[lay.depth()];
            if (background.ndim() != 2 || background.shape(0) < 1) {
                throw py::value_error("background must have shape (K, " + std::to_string(n0) +
                                      ") with K >= 1; got shape " + shape_str(background) + ".");
            }
            const py::ssize_t K = background.shape(0);
            if (players.ndim() != 1) {
                throw py::value_error("players must be 1-D; got shape " + shape_str(players) + ".");
            }
            check_array<std::int64_t>(players, "players", {players.shape(0)}, false);
            const py::ssize_t p = players.shape(0);
            if (p > 62) {
                throw py::value_error("players must have at most 62 entries (int64 masks); got " +
                                      std::to_string(p) + ".");
            }
            const auto* pl = static_cast<const std::int64_t*>(players.data());
            std::vector<char> seen(static_cast<std::size_t>(n0), 0);
            for (py::ssize_t t = 0; t < p; ++t) {
                if (pl[t] < 0 || pl[t] >= n0) {
                    throw py::value_error("players must be feature indices in [0, " + std::to_string(n0) +
                                          "); got " + std::to_string(pl[t]) + " at position " +
                                          std::to_string(t) + ".");
                }
                if (seen[static_cast<std::size_t>(pl[t])]) {
                    throw py::value_error("players must be distinct; got feature " +
                                          std::to_string(pl[t]) + " twice.");
                }
                seen[static_cast<std::size_t>(pl[t])] = 1;
            }
            check_array<double>(table, "table", {py::ssize_t(1) << p, m_out}, true);

            auto run = [&](auto zero) {
                using T = decltype(zero);
                check_array<T>(w, "w", {lay.n_params}, false);
                check_array<T>(x, "x", {n0}, false);
                check_array<T>(background, "background", {K, n0}, false);
                const T* wp = static_cast<const T*>(w.data());
                const T* xp = static_cast<const T*>(x.data());
                const T* bp = static_cast<const T*>(background.data());
                // Non-finite inputs would spread NaN through the whole walk.
                const auto first_bad = [](const T* a, py::ssize_t count) {
                    for (py::ssize_t e = 0; e < count; ++e) {
                        if (!std::isfinite(a[e])) return e;
                    }
                    return py::ssize_t(-1);
                };
                const std::pair<const char*, py::ssize_t> bad[] = {
                    {"w", first_bad(wp, lay.n_params)}, {"x", first_bad(xp, n0)},
                    {"background", first_bad(bp, K * n0)}};
                for (const auto& [name, e] : bad) {
                    if (e >= 0) {
                        throw py::value_error(std::string(name) + " must be finite; got a non-finite "
                                              "value at flat index " + std::to_string(e) + ".");
                    }
                }
                double* out = static_cast<double*>(table.mutable_data());
                // The walk allocates its scratch here, under the GIL, so a
                // failed allocation raises MemoryError.
                mathlearn::ModelGameWalk<T> walk(lay, act, wp, xp, bp, K, pl, int(p));
                py::gil_scoped_release release;
                walk.run(out);
            };
            if (is_float64(w)) {
                run(double{});
            } else {
                run(float{});
            }
        },
        py::arg("w"), py::arg("layer_sizes"), py::arg("activation"), py::arg("param"), py::arg("x"),
        py::arg("background"), py::arg("players"), py::arg("table"),
        "Write v(S) = mean_k f_w(x_S, b_k) into table (2**p, n_L) float64 for every mask S over "
        "the p features in `players` (int64); x (n_0,) and background (K, n_0) have the dtype "
        "of w. Features outside `players` keep their background values.");
}
