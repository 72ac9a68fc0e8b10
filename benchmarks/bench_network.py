"""MLP kernels against a plain NumPy implementation of the same chain rule.

Grid: networks [8, 64, 64, 1] and [32, 256, 256, 10] with tanh, B = 256 and
4096, float64 and float32; operations forward, mse value_and_gradient and
jacobian(out=). Jacobian cases whose output exceeds 2 GiB are skipped. Every
benchmark checks its result against the NumPy peer before it is timed.
"""

from __future__ import annotations

import numpy as np
import pytest

import mathlearn as ml
from conftest import pedantic_or_plain, record_rate

NETWORKS = [(8, 64, 64, 1), (32, 256, 256, 10)]
BATCHES = [256, 4096]
DTYPES = [np.float64, np.float32]
MAX_JACOBIAN_BYTES = 2 * 2**30


def rtol_for(dtype, sizes):
    """Rounding bound for comparing two evaluation orders: widest sum times depth times eps, x 4."""
    return 4 * max(sizes) * (len(sizes) - 1) * float(np.finfo(dtype).eps)


def case_id(sizes, B, dtype):
    return f"{'x'.join(map(str, sizes))}-B{B}-{np.dtype(dtype).name}"


CASES = [
    pytest.param(sizes, B, dtype, id=case_id(sizes, B, dtype))
    for sizes in NETWORKS
    for B in BATCHES
    for dtype in DTYPES
]


def setup(sizes, B, dtype):
    net = ml.MLP(list(sizes), activation="tanh", seed=0, dtype=dtype)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((B, sizes[0])).astype(dtype)
    y = rng.standard_normal((B, sizes[-1])).astype(dtype)
    return net, X, y


# ----------------------------------------------------------------------
# The NumPy peer: the textbook chain rule with whole-batch matrix products.


def numpy_forward(net, X):
    """Return the list of activations a_0 = X, ..., a_{L-1} and the output z_L."""
    A = [X]
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        Z = A[-1] @ W.T + b
        if l < len(net.weights) - 1:
            A.append(np.tanh(Z))
        else:
            return A, Z


def numpy_value_and_gradient(net, X, y):
    A, Y = numpy_forward(net, X)
    R = Y - y
    value = float(np.mean(R * R))
    delta = (2 / R.size) * R
    grads = []
    for l in range(len(net.weights) - 1, -1, -1):
        grads.append((delta.T @ A[l]).ravel())
        grads.append(delta.sum(axis=0))
        if l > 0:
            delta = (delta @ net.weights[l]) * (1 - A[l] * A[l])
    # grads contains (gW_L, gb_L, ..., gW_1, gb_1); params order is (W_1, b_1, ...).
    ordered = []
    for l in range(len(net.weights)):
        ordered += [grads[-2 * l - 2], grads[-2 * l - 1]]
    return value, np.concatenate(ordered)


def numpy_jacobian(net, X):
    A, Y = numpy_forward(net, X)
    B, m = Y.shape
    L = len(net.weights)
    D = np.broadcast_to(np.eye(m, dtype=X.dtype), (B, m, m))
    blocks = [None] * L
    for l in range(L - 1, -1, -1):
        W_block = np.einsum("bki,bj->bkij", D, A[l]).reshape(B, m, -1)
        blocks[l] = np.concatenate([W_block, D], axis=2)
        if l > 0:
            D = (D @ net.weights[l]) * (1 - A[l] * A[l])[:, None, :]
    return np.concatenate(blocks, axis=2)


def jacobian_bytes(net, B):
    return B * net.n_outputs * net.n_params * net.dtype.itemsize


def gradient_flops(sizes, B):
    """Multiply-add FLOPs of the three GEMMs of a forward and backward pass.

    Forward: 2 B n_{l-1} n_l per layer; backward: the same for grad W_l and
    again for delta_{l-1} except at the first layer.
    """
    layer = [2 * B * a * b for a, b in zip(sizes[:-1], sizes[1:])]
    return 3 * sum(layer) - layer[0]


def tag(benchmark, op, impl, case, **extra):
    """Label a benchmark for report.py."""
    benchmark.extra_info.update(op=op, impl=impl, case=case, **extra)


# ----------------------------------------------------------------------
# mathlearn


@pytest.mark.parametrize("sizes, B, dtype", CASES)
def test_forward(benchmark, sizes, B, dtype):
    net, X, _ = setup(sizes, B, dtype)
    Y = benchmark(net.forward, X)
    np.testing.assert_allclose(Y, numpy_forward(net, X)[1], rtol=rtol_for(dtype, sizes), atol=rtol_for(dtype, sizes))
    tag(benchmark, "forward", "mathlearn", case_id(sizes, B, dtype))


@pytest.mark.parametrize("sizes, B, dtype", CASES)
def test_value_and_gradient(benchmark, sizes, B, dtype):
    net, X, y = setup(sizes, B, dtype)
    out = np.empty(net.n_params, dtype=dtype)
    value, grad = benchmark(net.value_and_gradient, X, y, "mse", out)
    expected_value, expected_grad = numpy_value_and_gradient(net, X, y)
    tol = rtol_for(dtype, sizes)
    assert value == pytest.approx(expected_value, rel=tol)
    np.testing.assert_allclose(grad, expected_grad, rtol=tol, atol=tol * np.abs(expected_grad).max())
    tag(benchmark, "value_and_gradient", "mathlearn", case_id(sizes, B, dtype), flops=gradient_flops(sizes, B))


@pytest.mark.parametrize("sizes, B, dtype", CASES)
def test_jacobian(benchmark, sizes, B, dtype):
    net, X, _ = setup(sizes, B, dtype)
    n_bytes = jacobian_bytes(net, B)
    if n_bytes > MAX_JACOBIAN_BYTES:
        pytest.skip(f"output of {n_bytes / 2**30:.1f} GiB exceeds the 2 GiB limit of this grid")
    out = np.empty((B, net.n_outputs, net.n_params), dtype=dtype)
    pedantic_or_plain(benchmark, lambda: net.jacobian(X, out=out), big=n_bytes > 2**26)
    # Check the first and last rows against the peer; the whole peer result
    # would need several times the output's memory.
    rows = np.r_[0:2, B - 2 : B]
    tol = rtol_for(dtype, sizes)
    np.testing.assert_allclose(out[rows], numpy_jacobian(net, X[rows]), rtol=tol, atol=tol)
    record_rate(benchmark, "gbytes_per_s_written", n_bytes / 1e9)
    tag(benchmark, "jacobian", "mathlearn", case_id(sizes, B, dtype), bytes=n_bytes)


# ----------------------------------------------------------------------
# The NumPy peer, timed on the same grid (its Jacobian only where its
# temporaries stay under 2 GiB as well).


@pytest.mark.parametrize("sizes, B, dtype", CASES)
def test_numpy_forward(benchmark, sizes, B, dtype):
    net, X, _ = setup(sizes, B, dtype)
    Y = benchmark(lambda: numpy_forward(net, X)[1])
    np.testing.assert_allclose(Y, net.forward(X), rtol=rtol_for(dtype, sizes), atol=rtol_for(dtype, sizes))
    tag(benchmark, "forward", "numpy", case_id(sizes, B, dtype))


@pytest.mark.parametrize("sizes, B, dtype", CASES)
def test_numpy_value_and_gradient(benchmark, sizes, B, dtype):
    net, X, y = setup(sizes, B, dtype)
    value, grad = benchmark(numpy_value_and_gradient, net, X, y)
    expected = net.loss_gradient(X, y)
    tol = rtol_for(dtype, sizes)
    np.testing.assert_allclose(grad, expected, rtol=tol, atol=tol * np.abs(expected).max())
    tag(benchmark, "value_and_gradient", "numpy", case_id(sizes, B, dtype))


@pytest.mark.parametrize("sizes, B, dtype", CASES)
def test_numpy_jacobian(benchmark, sizes, B, dtype):
    net, X, _ = setup(sizes, B, dtype)
    n_bytes = jacobian_bytes(net, B)
    if 3 * n_bytes > MAX_JACOBIAN_BYTES:
        pytest.skip(f"the NumPy peer needs about {3 * n_bytes / 2**30:.1f} GiB here")
    J = pedantic_or_plain(benchmark, lambda: numpy_jacobian(net, X), big=n_bytes > 2**26)
    tol = rtol_for(dtype, sizes)
    np.testing.assert_allclose(J[:4], net.jacobian(X[:4]), rtol=tol, atol=tol)
    tag(benchmark, "jacobian", "numpy", case_id(sizes, B, dtype))


# ----------------------------------------------------------------------
# The two forward kernels on the batch of an exact Shapley game of a
# 10-feature model (2**10 coalitions x 353 background rows).

SHAPLEY_B = 2**10 * 353


@pytest.mark.parametrize("path", ["blas", "fused"])
@pytest.mark.parametrize("sizes", [(10, 16, 1), (10, 64, 64, 1)], ids=lambda s: "x".join(map(str, s)))
def test_forward_path(benchmark, sizes, path):
    from mathlearn import _core

    net, X, _ = setup(sizes, SHAPLEY_B, np.float64)
    _core.set_forward_path(path)
    try:
        Y = pedantic_or_plain(benchmark, lambda: net.forward(X), big=True, rounds=5)
    finally:
        _core.set_forward_path("auto")
    rows = slice(0, 1000)
    tol = rtol_for(np.float64, sizes)
    np.testing.assert_allclose(Y[rows], numpy_forward(net, X[rows])[1], rtol=tol, atol=tol)
    tag(benchmark, "forward_path", path, f"{'x'.join(map(str, sizes))}-B{SHAPLEY_B}")
