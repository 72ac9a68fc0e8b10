// Storage for the process-wide settings declared in blas.hpp, mlp.hpp and
// jacobian.hpp.
#include <mutex>

#include "blas.hpp"
#include "jacobian.hpp"
#include "mlp.hpp"

namespace mathlearn {

BlasTable& blas_table() {
    static BlasTable table;
    return table;
}

namespace {

struct SerialBlasState {
    std::mutex mutex;
    int depth = 0;
    int saved_threads = 1;
};

SerialBlasState& serial_blas_state() {
    static SerialBlasState state;
    return state;
}

}  // namespace

SerialBlasScope::SerialBlasScope() {
    if (!can_serialize_blas()) return;
    SerialBlasState& s = serial_blas_state();
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.depth++ == 0) {
        s.saved_threads = blas_table().get_threads();
        if (s.saved_threads != 1) blas_table().set_threads(1);
    }
}

SerialBlasScope::~SerialBlasScope() {
    if (!can_serialize_blas()) return;
    SerialBlasState& s = serial_blas_state();
    std::lock_guard<std::mutex> lock(s.mutex);
    if (--s.depth == 0 && s.saved_threads != 1) blas_table().set_threads(s.saved_threads);
}

ForwardPath& forward_path_override() {
    static ForwardPath path = ForwardPath::automatic;
    return path;
}

JacobianStores& jacobian_stores_override() {
    static JacobianStores stores = JacobianStores::automatic;
    return stores;
}

}  // namespace mathlearn
