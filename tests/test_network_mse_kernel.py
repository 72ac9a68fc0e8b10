"""The fused MSE value-and-gradient kernel and the float32 tanh.

``value_and_gradient(loss="mse")`` runs one kernel call (forward, residual
and backward over row blocks, split between threads) for activations whose
derivative follows from their value. These tests compare it with the
separate forward and backward kernels, which ``vjp`` runs and
test_network.py holds equal to the pure-Python reference, on batches large
enough for several blocks per thread.

Tolerance: both paths compute the same sums in different orders (GEMMs of
different shapes, per-thread partial gradients). So they differ by a few
rounding errors of the widest sum, bounded by 4 * (widest layer) * depth
* eps relative to the largest entry, as in benchmarks/bench_network.py.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import mathlearn as ml
from mathlearn import _core

# Activations whose derivative the kernel computes from a = sigma(z).
FUSED_ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softplus", "elu"]
# With 300 and 200 hidden units a block holds about 120 float64 rows, so
# B = 1000 gives several blocks per thread.
SIZES = [5, 300, 200, 4]
B = 1000


@pytest.fixture
def restore_threads():
    before = ml.get_num_threads()
    yield
    ml.set_num_threads(before)


def use_threads(n):
    if n > (os.cpu_count() or 1):
        pytest.skip(f"needs {n} CPUs; this machine has {os.cpu_count()}")
    ml.set_num_threads(n)


def rounding_tol(dtype, sizes):
    return 4 * max(sizes) * (len(sizes) - 1) * float(np.finfo(dtype).eps)


def make_problem(activation, dtype, weighted):
    net = ml.MLP(SIZES, activation=activation, seed=0, dtype=dtype)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(B, SIZES[0])).astype(dtype)
    y = rng.normal(size=(B, SIZES[-1])).astype(dtype)
    weight = rng.uniform(-1.0, 2.0, size=B).astype(dtype) if weighted else None
    return net, X, y, weight


def separate_passes(net, X, y, weight):
    """Return the loss and its gradient from forward() and vjp(), forming the residual in float64."""
    residual = net.forward(X).astype(np.float64) - y
    w = np.ones(X.shape[0]) if weight is None else weight.astype(np.float64)
    value = float(np.mean(w * np.mean(residual**2, axis=1)))
    G = (2.0 / residual.size) * residual * w[:, None]
    return value, net.vjp(X, G.astype(net.dtype))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", FUSED_ACTIVATIONS)
def test_mse_kernel_matches_separate_passes(restore_threads, activation, dtype, n_threads, weighted):
    use_threads(n_threads)
    net, X, y, weight = make_problem(activation, dtype, weighted)
    value, grad = net.value_and_gradient(X, y, sample_weight=weight)
    expected_value, expected_grad = separate_passes(net, X, y, weight)
    tol = rounding_tol(dtype, SIZES)
    assert grad.dtype == dtype
    assert value == pytest.approx(expected_value, rel=tol)
    scale = np.abs(expected_grad).max()
    np.testing.assert_allclose(grad, expected_grad, rtol=tol, atol=tol * scale)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mse_kernel_thread_counts_agree(restore_threads, dtype):
    net, X, y, _ = make_problem("tanh", dtype, weighted=False)
    use_threads(1)
    value_one, grad_one = net.value_and_gradient(X, y)
    use_threads(2)
    value_two, grad_two = net.value_and_gradient(X, y)
    tol = rounding_tol(dtype, SIZES)
    assert value_one == pytest.approx(value_two, rel=tol)
    np.testing.assert_allclose(grad_one, grad_two, rtol=tol, atol=tol * np.abs(grad_one).max())


def test_training_step_uses_the_mse_kernel():
    # The training loop's step must give the same gradient as value_and_gradient.
    net, X, y, _ = make_problem("tanh", np.float64, weighted=False)
    step = net._make_gradient_step("mse")
    out = np.empty(net.n_params)
    step(X, y, None, out)
    np.testing.assert_array_equal(out, net.value_and_gradient(X, y)[1])


def test_mse_kernel_restores_blas_threads(restore_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not _core.can_serialize_blas():
        pytest.skip("SciPy's BLAS does not export OpenBLAS's thread-count functions")
    use_threads(2)
    net, X, y, _ = make_problem("tanh", np.float64, weighted=False)
    net.value_and_gradient(X, y)
    counts = [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]
    assert counts
    assert all(n == 2 for n in counts)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: {**a, "y": a["y"][:-1]}, "y must have shape"),
        (lambda a: {**a, "sample_weight": np.ones(3)}, "sample_weight must have shape"),
        (lambda a: {**a, "X": a["X"][:0], "y": a["y"][:0]}, "at least one row"),
        (lambda a: {**a, "activation": 7}, "derivative follows from its value"),
    ],
    ids=["y shape", "weight shape", "empty batch", "gelu"],
)
def test_mse_kernel_rejects_bad_arguments(change, message):
    net, X, y, _ = make_problem("tanh", np.float64, weighted=False)
    args = {
        "w": net.params, "X": X, "y": y, "layer_sizes": list(SIZES), "activation": 2, "param": 0.0,
        "sample_weight": None, "grad": np.empty(net.n_params),
    }
    with pytest.raises(ValueError, match=message):
        _core.mse_value_and_gradient(**change(args))


def test_float32_tanh_within_two_ulp():
    # f(x) = 1 * tanh(1 * x + 0) + 0 is tanh(x) without any other rounding.
    net = ml.MLP([1, 1, 1], activation="tanh", dtype=np.float32)
    net.params = [1.0, 0.0, 1.0, 0.0]
    z = np.concatenate([
        np.linspace(-12.0, 12.0, 400_001),
        np.geomspace(1e-30, 1.0, 20_001),
        -np.geomspace(1e-30, 1.0, 20_001),
    ]).astype(np.float32)
    got = net.forward(z[:, None])[:, 0]
    exact = np.tanh(z.astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    errors = np.abs(got.astype(np.float64) - exact) / ulp
    assert errors.max() <= 2.0, f"{errors.max():.2f} ulp at z = {z[errors.argmax()]!r}"
    np.testing.assert_array_equal(net.forward(-z[:, None])[:, 0], -got)


def test_float32_tanh_special_values():
    net = ml.MLP([1, 1, 1], activation="tanh", dtype=np.float32)
    net.params = [1.0, 0.0, 1.0, 0.0]
    got = net.forward(np.array([[0.0], [9.0], [10.0], [80.0], [-80.0]], dtype=np.float32))[:, 0]
    np.testing.assert_array_equal(got, np.tanh(np.array([0.0, 9.0, 10.0, 80.0, -80.0], dtype=np.float32)))


def test_mse_kernel_smaller_openmp_team():
    # OMP_THREAD_LIMIT=1 makes OpenMP start one thread where the kernel
    # requests two, so every row and gradient slice must still be covered by
    # the team that runs. A fresh interpreter is needed, because OpenMP reads
    # the limit once, at start-up.
    script = (
        "import numpy as np\n"
        "import mathlearn as ml\n"
        "from tests.test_network_mse_kernel import make_problem, separate_passes\n"
        "ml.set_num_threads(2)\n"
        "net, X, y, _ = make_problem('tanh', np.float64, weighted=False)\n"
        "value, grad = net.value_and_gradient(X, y)\n"
        "expected_value, expected_grad = separate_passes(net, X, y, None)\n"
        "print(abs(value - expected_value) / abs(expected_value))\n"
        "print(np.abs(grad - expected_grad).max() / np.abs(expected_grad).max())\n"
    )
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env, cwd=root
    )
    value_error, grad_error = (float(line) for line in result.stdout.split())
    tol = rounding_tol(np.float64, SIZES)
    assert value_error <= tol
    assert grad_error <= tol
