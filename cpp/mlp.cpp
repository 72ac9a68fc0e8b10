// Storage for the process-wide settings declared in blas.hpp, mlp.hpp and
// jacobian.hpp.
#include "blas.hpp"
#include "jacobian.hpp"
#include "mlp.hpp"

namespace mathlearn {

BlasTable& blas_table() {
    static BlasTable table;
    return table;
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
