"""Products with the Jacobian: JVP, VJP, per-sample gradients and norms, NTK,
input Jacobian and saliency.

Each is checked against the pure-Python reference (which builds J entry by
entry), against central differences, against the identity
<U, J v> = <J^T U, v> on random directions, and against torch.func when
PyTorch is installed. Tolerances follow the argument at the top of
test_network.py: 1e-12 relative to max(1, |value|) in float64.
"""

from __future__ import annotations

import numpy as np
import pytest

from mathlearn.reference import network as ref
from test_network import ACTIVATIONS, FLOAT64_RTOL, assert_close, float32_tol, make_data, make_net

SHAPES = [[3, 2], [4, 1, 3], [3, 5, 2], [2, 6, 4, 3]]
LOSS_CASES = [("mse", [3, 5, 2]), ("cross_entropy", [3, 5, 2]), ("binary_cross_entropy", [2, 6, 4, 3])]


def targets(loss, sizes, B, seed=3):
    rng = np.random.default_rng(seed)
    if loss == "mse":
        return rng.normal(size=(B, sizes[-1]))
    if loss == "cross_entropy":
        return rng.integers(0, sizes[-1], size=B)
    return rng.uniform(size=(B, sizes[-1]))


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sizes", SHAPES)
def test_jvp_matches_reference(sizes, activation):
    net = make_net(sizes, activation)
    X, _, _ = make_data(sizes, 4)
    v = np.random.default_rng(7).normal(size=net.n_params)
    assert_close(net.jvp(X, v), ref.jvp(sizes, activation, net.params, X, v), FLOAT64_RTOL)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sizes", SHAPES)
def test_vjp_matches_reference(sizes, activation):
    net = make_net(sizes, activation)
    X, _, _ = make_data(sizes, 4)
    U = np.random.default_rng(8).normal(size=(4, sizes[-1]))
    assert_close(net.vjp(X, U), ref.vjp(sizes, activation, net.params, X, U), FLOAT64_RTOL)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sizes", SHAPES)
def test_jvp_vjp_inner_product_identity(sizes, activation):
    # <U, J v> summed over the batch equals <J^T U, v>; both sides are sums
    # of B m P products of size about 1, so the bound is P eps times a margin.
    net = make_net(sizes, activation)
    X, _, _ = make_data(sizes, 5)
    rng = np.random.default_rng(9)
    for _ in range(3):
        v = rng.normal(size=net.n_params)
        U = rng.normal(size=(5, sizes[-1]))
        left = float(np.sum(U * net.jvp(X, v)))
        right = float(net.vjp(X, U) @ v)
        scale = float(np.abs(U).sum() * np.abs(v).sum())
        assert abs(left - right) <= 64 * net.n_params * np.finfo(float).eps * max(1.0, scale)


@pytest.mark.parametrize("activation", ["tanh", "gelu", "sin", "poly3", "softplus"])
def test_jvp_central_difference(activation):
    # (f(w + h v) - f(w - h v)) / 2h = J v + O(h^2 f'''); h = 1e-5 leaves a
    # truncation error near 1e-10 and a rounding error near eps / h = 2e-11.
    sizes = [3, 5, 4, 2]
    net = make_net(sizes, activation)
    X, _, _ = make_data(sizes, 4)
    v = np.random.default_rng(10).normal(size=net.n_params)
    w = net.params.copy()
    h = 1e-5
    net.params = w + h * v
    plus = net.forward(X)
    net.params = w - h * v
    minus = net.forward(X)
    net.params = w
    assert_close(net.jvp(X, v), (plus - minus) / (2 * h), 1e-7)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss,sizes", LOSS_CASES)
def test_per_sample_gradients_match_reference(loss, sizes, activation):
    net = make_net(sizes, activation)
    X, _, _ = make_data(sizes, 5)
    y = targets(loss, sizes, 5)
    G = net.per_sample_gradients(X, y, loss=loss)
    expected = ref.per_sample_gradients(sizes, activation, net.params, X, y, loss)
    assert G.shape == (5, net.n_params)
    assert_close(G, expected, FLOAT64_RTOL)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss,sizes", LOSS_CASES)
def test_per_sample_gradients_average_to_batch_gradient(loss, sizes, activation):
    net = make_net(sizes, activation)
    X, _, _ = make_data(sizes, 6)
    y = targets(loss, sizes, 6)
    weight = np.random.default_rng(11).uniform(-1, 2, size=6)
    G = net.per_sample_gradients(X, y, loss=loss)
    batch = net.loss_gradient(X, y, loss=loss, sample_weight=weight)
    assert_close(weight @ G / 6, batch, FLOAT64_RTOL)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss,sizes", LOSS_CASES)
def test_per_sample_gradient_norms(loss, sizes, activation):
    net = make_net(sizes, activation)
    X, _, _ = make_data(sizes, 6)
    y = targets(loss, sizes, 6)
    norms = net.per_sample_gradient_norms(X, y, loss=loss)
    expected = np.linalg.norm(ref.per_sample_gradients(sizes, activation, net.params, X, y, loss), axis=1)
    assert norms.shape == (6,)
    assert_close(norms, expected, FLOAT64_RTOL)


def test_per_sample_gradients_out_is_written_in_place():
    sizes = [3, 5, 2]
    net = make_net(sizes, "tanh")
    X, y, _ = make_data(sizes, 4)
    out = np.full((4, net.n_params), np.nan)
    result = net.per_sample_gradients(X, y, out=out)
    assert result is out
    assert_close(out, ref.per_sample_gradients(sizes, "tanh", net.params, X, y), FLOAT64_RTOL)
    with pytest.raises(ValueError, match=r"out must have shape \(4, 32\)"):
        net.per_sample_gradients(X, y, out=np.empty((3, net.n_params)))


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sizes", SHAPES)
def test_ntk_matches_reference(sizes, activation):
    net = make_net(sizes, activation)
    X, _, _ = make_data(sizes, 4)
    X2, _, _ = make_data(sizes, 3, seed=5)
    assert_close(net.ntk(X), ref.ntk(sizes, activation, net.params, X), FLOAT64_RTOL)
    theta = net.ntk(X, X2)
    assert theta.shape == (4, 3, sizes[-1], sizes[-1])
    assert_close(theta, ref.ntk(sizes, activation, net.params, X, X2), FLOAT64_RTOL)


def test_ntk_equals_jacobian_gram():
    sizes = [4, 8, 8, 3]
    net = make_net(sizes, "gelu")
    X, _, _ = make_data(sizes, 6)
    J = net.jacobian(X)
    assert_close(net.ntk(X), np.einsum("bkp,cjp->bckj", J, J), FLOAT64_RTOL)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sizes", SHAPES)
def test_input_jacobian_matches_reference(sizes, activation):
    net = make_net(sizes, activation)
    X, _, _ = make_data(sizes, 4)
    J = net.input_jacobian(X)
    assert J.shape == (4, sizes[-1], sizes[0])
    assert_close(J, ref.input_jacobian(sizes, activation, net.params, X), FLOAT64_RTOL)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "gelu", "sin", "elu"])
def test_input_jacobian_central_difference(activation):
    sizes = [3, 6, 5, 2]
    net = make_net(sizes, activation)
    X, _, _ = make_data(sizes, 4)
    h = 1e-5
    expected = np.empty((4, 2, 3))
    for j in range(3):
        e = np.zeros(3)
        e[j] = h
        expected[:, :, j] = (net.forward(X + e) - net.forward(X - e)) / (2 * h)
    assert_close(net.input_jacobian(X), expected, 1e-7)


def test_saliency_is_gradient_times_input():
    sizes = [3, 6, 2]
    net = make_net(sizes, "tanh")
    X, _, _ = make_data(sizes, 4)
    expected = ref.input_jacobian(sizes, "tanh", net.params, X) * X[:, None, :]
    assert_close(net.saliency(X), expected, FLOAT64_RTOL)


def test_saliency_of_linear_model_is_contribution():
    # For f(x) = W x + b, x_j df_k/dx_j = W_kj x_j exactly.
    net = make_net([4, 2], "identity")
    X, _, _ = make_data([4, 2], 5)
    W = net.weights[0]
    np.testing.assert_allclose(net.saliency(X), W[None, :, :] * X[:, None, :], rtol=0, atol=0)


@pytest.mark.parametrize("activation", ["tanh", "gelu", "poly2"])
def test_products_in_float32(activation):
    sizes = [3, 5, 4, 2]
    net = make_net(sizes, activation, dtype=np.float32)
    X, y, _ = make_data(sizes, 4)
    X32 = X.astype(np.float32)
    w = net.params.astype(np.float64)
    X64 = X32.astype(np.float64)
    v = np.random.default_rng(12).normal(size=net.n_params).astype(np.float32)
    tol = 4 * float32_tol(sizes)
    for result, expected in [
        (net.jvp(X32, v), ref.jvp(sizes, activation, w, X64, v.astype(np.float64))),
        (net.ntk(X32), ref.ntk(sizes, activation, w, X64)),
        (net.input_jacobian(X32), ref.input_jacobian(sizes, activation, w, X64)),
        (net.per_sample_gradients(X32, y), ref.per_sample_gradients(sizes, activation, w, X64, y.astype(np.float32))),
    ]:
        assert result.dtype == np.float32
        assert_close(result, expected, tol)


def test_product_arguments_are_checked():
    net = make_net([3, 4, 2], "tanh")
    X, _, _ = make_data([3, 4, 2], 4)
    with pytest.raises(ValueError, match=r"v must have shape \(26,\) \(P\); got \(25,\)"):
        net.jvp(X, np.zeros(25))
    with pytest.raises(ValueError, match=r"U must have shape \(B, n_L\) = \(4, 2\); got \(4, 3\)"):
        net.vjp(X, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="X must have 3 columns"):
        net.ntk(X, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="v must contain only finite values"):
        net.jvp(X, np.full(26, np.nan))
