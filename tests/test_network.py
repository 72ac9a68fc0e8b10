"""The C++ MLP kernels against the pure-Python reference, hand-worked values,
central differences and (when installed) PyTorch.

Tolerances. In float64, each output of a layer is a dot product of at most
n = 16 terms; its rounding error is at most about n * eps = 3.6e-15 relative
to the sum of absolute terms (Higham, Accuracy and Stability of Numerical
Algorithms, Section 3.1), and depth at most 4 multiplies this by a small
factor. The data below keep term sizes near 1, so 1e-12 relative to
max(1, |value|) leaves a margin of about 100. In float32 the same bound with
eps = 2**-23 gives FLOAT32_TOL (the float32 network is compared with the
reference evaluated in double on the same float32 parameters and inputs).
"""

from __future__ import annotations

import numpy as np
import pytest

import mathlearn as ml
from mathlearn import _core, losses
from mathlearn.reference import network as ref

ACTIVATIONS = [
    "identity", "sigmoid", "tanh", "relu", "leaky_relu", "softplus", "elu", "gelu", "sin", "poly1",
    "poly2", "poly3",
]
SHAPES = [
    [1, 1],  # L = 1, n_i = 1
    [3, 2],  # L = 1
    [1, 1, 1],
    [4, 1, 3],  # a hidden width of 1
    [3, 5, 2],
    [2, 6, 4, 3],
    [5, 16, 7, 1],
]
FLOAT64_RTOL = 1e-12


def float32_tol(sizes):
    """Float32 error bound: (widest dot product + depth) * eps32, with a factor 8 margin."""
    depth = len(sizes) - 1
    return 8 * (max(sizes) + depth) * float(np.finfo(np.float32).eps) * depth


def assert_close(actual, expected, rtol):
    """Check |actual - expected| <= rtol * max(1, |expected|) elementwise."""
    expected = np.asarray(expected, dtype=np.float64)
    actual64 = np.asarray(actual, dtype=np.float64)
    assert actual64.shape == expected.shape
    bound = rtol * np.maximum(1.0, np.abs(expected))
    err = np.abs(actual64 - expected)
    assert np.all(err <= bound), f"max error {err.max():.3e}, bound at that entry {bound.flat[err.argmax()]:.3e}"


def make_net(sizes, activation, dtype=np.float64, seed=0):
    """A network with N(0, 0.5^2) weights and biases, so every activation is exercised.

    For z**k the scale is 0.25: with 0.5, a depth-3 network's outputs reach
    1e9 and the error bound relative to each entry no longer holds for the
    entries that cancel.
    """
    net = ml.MLP(sizes, activation=activation, seed=seed, dtype=dtype)
    scale = 0.25 if activation.startswith("poly") else 0.5
    net.params = np.random.default_rng(seed + 100).normal(0.0, scale, size=net.n_params)
    return net


def make_data(sizes, B, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(B, sizes[0]))
    y = rng.normal(size=(B, sizes[-1]))
    labels = rng.integers(0, sizes[-1], size=B)
    return X, y, labels


@pytest.fixture(params=["auto", "blas", "fused"])
def forward_path(request):
    """Run a test with the default forward kernel, then with BLAS and with the fused loop forced."""
    _core.set_forward_path(request.param)
    yield request.param
    _core.set_forward_path("auto")


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sizes", SHAPES)
@pytest.mark.parametrize("B", [0, 1, 7])
def test_forward_matches_reference(sizes, activation, B, forward_path):
    net = make_net(sizes, activation)
    X, _, _ = make_data(sizes, B)
    Y = net.forward(X)
    assert Y.shape == (B, sizes[-1])
    assert Y.dtype == np.float64
    assert_close(Y, ref.forward(sizes, activation, net.params, X), FLOAT64_RTOL)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sizes", SHAPES)
@pytest.mark.parametrize("B", [1, 7])
def test_mse_gradient_matches_reference(sizes, activation, B, forward_path):
    net = make_net(sizes, activation)
    X, y, _ = make_data(sizes, B)
    value, grad = net.value_and_gradient(X, y, loss="mse")
    assert grad.shape == (net.n_params,)
    assert_close(value, ref.loss(sizes, activation, net.params, X, y, "mse"), FLOAT64_RTOL)
    assert_close(grad, ref.loss_gradient(sizes, activation, net.params, X, y, "mse"), FLOAT64_RTOL)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sizes", [s for s in SHAPES if s[-1] >= 2])
@pytest.mark.parametrize("B", [1, 7])
def test_cross_entropy_gradient_matches_reference(sizes, activation, B, forward_path):
    net = make_net(sizes, activation)
    X, _, labels = make_data(sizes, B)
    probabilities = np.random.default_rng(5).dirichlet(np.ones(sizes[-1]), size=B)
    for y in (labels, probabilities):
        value, grad = net.value_and_gradient(X, y, loss="cross_entropy")
        expected_value = ref.loss(sizes, activation, net.params, X, y, "cross_entropy")
        expected_grad = ref.loss_gradient(sizes, activation, net.params, X, y, "cross_entropy")
        assert_close(value, expected_value, FLOAT64_RTOL)
        assert_close(grad, expected_grad, FLOAT64_RTOL)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sizes", SHAPES)
@pytest.mark.parametrize("B", [0, 1, 5])
def test_jacobian_matches_reference(sizes, activation, B, forward_path):
    net = make_net(sizes, activation)
    X, _, _ = make_data(sizes, B)
    J = net.jacobian(X)
    assert J.shape == (B, sizes[-1], net.n_params)
    assert_close(J, ref.jacobian(sizes, activation, net.params, X), FLOAT64_RTOL)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sizes", [[1, 1], [4, 1, 3], [3, 5, 2], [2, 6, 4, 3], [5, 16, 7, 1]])
def test_float32_matches_reference(sizes, activation, forward_path):
    net = make_net(sizes, activation, dtype=np.float32)
    X, y, labels = make_data(sizes, 6)
    X32 = X.astype(np.float32)
    w = net.params.astype(np.float64)
    X64 = X32.astype(np.float64)
    tol = float32_tol(sizes)

    Y = net.forward(X)
    assert Y.dtype == np.float32
    assert_close(Y, ref.forward(sizes, activation, w, X64), tol)

    y32 = y.astype(np.float32).astype(np.float64)
    value, grad = net.value_and_gradient(X, y)
    assert grad.dtype == np.float32
    assert_close(value, ref.loss(sizes, activation, w, X64, y32), tol)
    assert_close(grad, ref.loss_gradient(sizes, activation, w, X64, y32), tol)

    J = net.jacobian(X)
    assert J.dtype == np.float32
    assert_close(J, ref.jacobian(sizes, activation, w, X64), tol)

    if sizes[-1] >= 2:
        grad_ce = net.loss_gradient(X, labels, loss="cross_entropy")
        expected = ref.loss_gradient(sizes, activation, w, X64, labels, "cross_entropy")
        assert_close(grad_ce, expected, tol)


def test_tiny_tanh_network_by_hand():
    # [1, 1, 1] tanh with W1 = 2, b1 = 0.5, W2 = -3, b2 = 1 at x = 0.25:
    # z1 = 2 * 0.25 + 0.5 = 1, a1 = tanh(1), f = -3 tanh(1) + 1.
    # df/dW1 = W2 tanh'(z1) x = -3 (1 - tanh(1)^2) * 0.25
    # df/db1 = W2 tanh'(z1)   = -3 (1 - tanh(1)^2)
    # df/dW2 = a1 = tanh(1),  df/db2 = 1.
    # mse with y = 0 and B = m = 1: L = f^2 and grad L = 2 f grad f.
    net = ml.MLP([1, 1, 1], activation="tanh")
    net.params = [2.0, 0.5, -3.0, 1.0]
    x = np.array([[0.25]])
    t = np.tanh(1.0)
    f = -3 * t + 1
    J = np.array([-3 * (1 - t * t) * 0.25, -3 * (1 - t * t), t, 1.0])

    np.testing.assert_allclose(net.forward(x), [[f]], rtol=1e-15)
    np.testing.assert_allclose(net.jacobian(x), J.reshape(1, 1, 4), rtol=1e-15)
    np.testing.assert_allclose(net.loss(x, [0.0]), f * f, rtol=1e-15)
    np.testing.assert_allclose(net.loss_gradient(x, [0.0]), 2 * f * J, rtol=1e-15)


def test_tiny_identity_network_by_hand():
    # [1, 1, 1] identity, same parameters: f = W2 (W1 x + b1) + b2 = -3 * 1 + 1 = -2.
    # grad f = (W2 x, W2, W1 x + b1, 1) = (-0.75, -3, 1, 1).
    net = ml.MLP([1, 1, 1], activation="identity")
    net.params = [2.0, 0.5, -3.0, 1.0]
    x = np.array([[0.25]])
    assert net.forward(x)[0, 0] == -2.0
    np.testing.assert_array_equal(net.jacobian(x)[0, 0], [-0.75, -3.0, 1.0, 1.0])


def test_tiny_cross_entropy_by_hand():
    # [1, 2] identity with W = (1, -1)^T, b = 0, x = ln(3) / 2: logits (x, -x).
    # With label 0: L = log(e^x + e^-x) - x = log(1 + e^(-2x)) = log(4 / 3).
    # dL/dlogits = softmax - e_0 = (3/4 - 1, 1/4) = (-1/4, 1/4), so
    # dL/dW = (-x/4, x/4) and dL/db = (-1/4, 1/4); w = (W11, W21, b1, b2).
    x = np.log(3.0) / 2
    net = ml.MLP([1, 2], activation="identity")
    net.params = [1.0, -1.0, 0.0, 0.0]
    value, grad = net.value_and_gradient([[x]], [0], loss="cross_entropy")
    np.testing.assert_allclose(value, np.log(4 / 3), rtol=1e-15)
    np.testing.assert_allclose(grad, [-x / 4, x / 4, -0.25, 0.25], rtol=1e-15)


def test_mse_is_batch_and_output_mean():
    # L = (1 / (B m)) sum ||f - y||^2 with no factor 1/2: a zero network
    # (all parameters 0) outputs 0, so L = mean(y^2).
    net = ml.MLP([2, 3], activation="identity")
    net.params = np.zeros(net.n_params)
    y = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert net.loss(np.ones((2, 2)), y) == pytest.approx(91 / 6, rel=1e-15)


def test_cross_entropy_large_logits():
    # Logits (1000, 0): L = logsumexp - 1000 = log(1 + e^-1000), which is 0 in
    # double, and for label 1 it is 1000 (exactly, as log(1 + e^-1000) vanishes).
    net = ml.MLP([1, 2], activation="identity")
    net.params = [1000.0, 0.0, 0.0, 0.0]
    assert net.loss([[1.0]], [0], loss="cross_entropy") == 0.0
    assert net.loss([[1.0]], [1], loss="cross_entropy") == 1000.0
    assert np.all(np.isfinite(net.loss_gradient([[1.0]], [1], loss="cross_entropy")))


def central_difference(func, w, h):
    """Return (func(w + h e_p) - func(w - h e_p)) / (2h) for every coordinate p, stacked last."""
    columns = []
    for p in range(w.size):
        e = np.zeros_like(w)
        e[p] = h
        columns.append((func(w + e) - func(w - e)) / (2 * h))
    return np.stack(columns, axis=-1)


# Central differences have truncation error h^2 |f'''| / 6 and rounding error
# about eps |f| / h. With h = 1e-5 both are near 1e-10 for the O(1) values
# here, so 1e-7 relative leaves room for third derivatives up to about 1e3.
CD_STEP = 1e-5
CD_RTOL = 1e-7


@pytest.mark.parametrize("activation", ["identity", "sigmoid", "tanh"])
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_gradient_matches_central_differences(activation, loss):
    sizes = [3, 4, 3]
    net = make_net(sizes, activation)
    X, y, labels = make_data(sizes, 5)
    target = y if loss == "mse" else labels
    w0 = net.params.copy()

    def loss_at(w):
        net.params = w
        return np.array(net.loss(X, target, loss=loss))

    numeric = central_difference(loss_at, w0, CD_STEP)
    net.params = w0
    assert_close(net.loss_gradient(X, target, loss=loss), numeric, CD_RTOL)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_jacobian_matches_central_differences(activation):
    # relu is piecewise linear; with these random inputs no pre-activation is
    # within CD_STEP of the kink at 0, which the first assert checks.
    sizes = [2, 5, 3]
    net = make_net(sizes, activation)
    X, _, _ = make_data(sizes, 3)
    W1, b1 = net.weights[0], net.biases[0]
    assert np.min(np.abs(X @ W1.T + b1)) > 1e-3
    w0 = net.params.copy()

    def outputs_at(w):
        net.params = w
        return net.forward(X)

    numeric = central_difference(outputs_at, w0, CD_STEP)
    net.params = w0
    assert_close(net.jacobian(X), numeric, CD_RTOL)


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_per_sample_gradients_sum(loss):
    # grad_w L = sum_b (dL/df(x_b)) . Jac f_{x_b}(w), the chain rule for a
    # loss that depends on w only through the outputs f(x_b).
    sizes = [4, 8, 6, 3]
    net = make_net(sizes, "tanh")
    X, y, labels = make_data(sizes, 9)
    target = y if loss == "mse" else labels
    checked = losses.check_target(target, loss, 9, 3, np.float64)
    G = losses.get(loss).gradient(net.forward(X), checked)
    per_sample = np.einsum("bk,bkp->p", G, net.jacobian(X))
    assert_close(net.loss_gradient(X, target, loss=loss), per_sample, FLOAT64_RTOL)


def test_vjp_jvp_inner_product_identity():
    # For random u (B, m) and v (P,): <u, J v> = <J^T u, v>, where J^T u is
    # the backward pass of mse seeded with u (up to the mse factor 2 / (B m))
    # and J v is computed from the Jacobian.
    sizes = [3, 7, 2]
    net = make_net(sizes, "sigmoid")
    X, _, _ = make_data(sizes, 4)
    rng = np.random.default_rng(7)
    u = rng.normal(size=(4, 2))
    v = rng.normal(size=net.n_params)
    Jv = net.jacobian(X) @ v
    # mse gradient with y = f(X) - u * (B m) / 2 has dL/dY = u, so it equals J^T u.
    y = net.forward(X) - u * (4 * 2) / 2
    JTu = net.loss_gradient(X, y)
    assert np.vdot(u, Jv) == pytest.approx(np.vdot(JTu, v), rel=1e-12)


def test_jacobian_chunks_and_out_reuse():
    sizes = [3, 6, 2]
    net = make_net(sizes, "tanh")
    X, _, _ = make_data(sizes, 11)
    expected = net.jacobian(X)
    out = np.full((11, 2, net.n_params), np.nan)
    for chunk_size in (1, 4, 11, 100):
        result = net.jacobian(X, out=out, chunk_size=chunk_size)
        assert result is out
        np.testing.assert_array_equal(out, expected)


@pytest.fixture(params=["cached", "streaming", "streaming-sse2"])
def jacobian_stores(request):
    """Run a test with ordinary stores, then with streaming stores forced, for every output size.

    The last case streams with the SSE2 instructions that CPUs without
    AVX-512 use.
    """
    _core.set_jacobian_stores("cached" if request.param == "cached" else "streaming")
    _core.set_stream_sse2(request.param == "streaming-sse2")
    yield request.param
    _core.set_jacobian_stores("auto")
    _core.set_stream_sse2(False)


# P = 963 and 1 205 exceed the staging buffer (512 float64 elements), and
# n_0 = 600 gives weight rows longer than one reservation of it.
@pytest.mark.parametrize("sizes", [[3, 5, 2], [20, 40, 3], [600, 2, 1]])
@pytest.mark.parametrize("activation", ["tanh", "gelu", "relu"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("B", [1, 17, 40])
def test_jacobian_stores_match_reference(sizes, activation, dtype, B, jacobian_stores):
    net = make_net(sizes, activation, dtype=dtype)
    X, _, _ = make_data(sizes, B)
    w64 = net.params.astype(np.float64)
    X64 = X.astype(dtype).astype(np.float64)
    tol = FLOAT64_RTOL if dtype == np.float64 else float32_tol(sizes)
    expected = ref.jacobian(sizes, activation, w64, X64)
    size = B * sizes[-1] * net.n_params
    itemsize = np.dtype(dtype).itemsize
    # Every start offset within a 64-byte line, with sentinels on both sides.
    for offset in range(64 // itemsize):
        buffer = np.full(size + 2 * 64 // itemsize, np.nan, dtype=dtype)
        out = buffer[offset : offset + size].reshape(B, sizes[-1], net.n_params)
        result = net.jacobian(X, out=out)
        assert result is out
        assert_close(out, expected, tol)
        assert np.isnan(buffer[:offset]).all()
        assert np.isnan(buffer[offset + size :]).all()


@pytest.fixture(params=[False, True], ids=["auto", "sse2"])
def stream_sse2(request):
    """Run a test with the streaming instructions chosen by CPU, then with SSE2 forced."""
    _core.set_stream_sse2(request.param)
    yield request.param
    _core.set_stream_sse2(False)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [0, 5, 1000, 70_000])
def test_fill_streaming_writes_range_only(dtype, n, stream_sse2):
    # The streaming fill of the benchmarks, at every start offset in a line.
    pad = 64 // np.dtype(dtype).itemsize
    for offset in range(pad):
        buffer = np.full(n + 2 * pad, np.nan, dtype=dtype)
        _core.fill_streaming(buffer[offset : offset + n], 2.5)
        assert (buffer[offset : offset + n] == 2.5).all()
        assert np.isnan(buffer[:offset]).all()
        assert np.isnan(buffer[offset + n :]).all()


def test_value_and_gradient_writes_into_out():
    sizes = [3, 6, 2]
    net = make_net(sizes, "relu")
    X, y, _ = make_data(sizes, 5)
    out = np.empty(net.n_params)
    value, grad = net.value_and_gradient(X, y, out=out)
    assert grad is out
    np.testing.assert_array_equal(out, net.loss_gradient(X, y))
    assert value == net.loss(X, y)


def test_dtype_conversion_of_inputs():
    # Integer X is converted to the network dtype; float64 X to a float32 net gives float32.
    net = make_net([2, 3, 1], "tanh")
    X_int = np.array([[1, 2], [3, 4]])
    np.testing.assert_array_equal(net.forward(X_int), net.forward(X_int.astype(np.float64)))
    net32 = net.astype(np.float32)
    assert net32.forward(X_int.astype(np.float64)).dtype == np.float32
    assert net32.jacobian(X_int).dtype == np.float32


def test_non_contiguous_input_is_accepted():
    net = make_net([3, 4, 2], "tanh")
    X = np.asfortranarray(make_data([3, 4, 2], 6)[0])
    np.testing.assert_array_equal(net.forward(X), net.forward(np.ascontiguousarray(X)))


def test_torch_agrees():
    torch = pytest.importorskip("torch")
    sizes = [4, 8, 3]
    net = make_net(sizes, "tanh")
    X, y, _ = make_data(sizes, 6)
    layers = []
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        linear = torch.nn.Linear(W.shape[1], W.shape[0]).double()
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W))
            linear.bias.copy_(torch.from_numpy(b))
        layers.append(linear)
        if l < len(net.weights) - 1:
            layers.append(torch.nn.Tanh())
    model = torch.nn.Sequential(*layers)
    value = torch.nn.MSELoss(reduction="mean")(model(torch.from_numpy(X)), torch.from_numpy(y))
    value.backward()
    torch_grad = np.concatenate(
        [np.concatenate([m.weight.grad.numpy().ravel(), m.bias.grad.numpy()]) for m in layers[::2]]
    )
    ours_value, ours_grad = net.value_and_gradient(X, y)
    assert ours_value == pytest.approx(value.item(), rel=1e-12)
    assert_close(ours_grad, torch_grad, FLOAT64_RTOL)


def test_initialization_is_seeded_and_scaled():
    a = ml.MLP([50, 40, 1], activation="tanh", seed=3)
    b = ml.MLP([50, 40, 1], activation="tanh", seed=np.random.default_rng(3))
    np.testing.assert_array_equal(a.params, b.params)
    # Glorot uniform: |W_1| <= sqrt(6 / (50 + 40)), biases zero.
    assert np.abs(a.weights[0]).max() <= np.sqrt(6 / 90)
    assert np.all(a.biases[0] == 0)
    # He normal for relu: the sample variance of 2000 draws of N(0, 2/50)
    # lies within 5 standard errors (sqrt(2/2000) relative) of 0.04.
    r = ml.MLP([50, 40, 1], activation="relu", seed=3)
    assert abs(r.weights[0].var() / (2 / 50) - 1) < 5 * np.sqrt(2 / 2000)


def test_views_share_memory_with_params():
    net = ml.MLP([2, 3, 1], seed=0)
    net.weights[0][1, 0] = 7.0
    net.biases[1][0] = -2.0
    assert net.params[2] == 7.0
    assert net.params[-1] == -2.0
    params_before = net.params
    net.params = np.arange(net.n_params, dtype=float)
    assert net.params is params_before
    assert net.weights[1][0, 2] == net.params[net.n_params - 2]


def test_copy_and_astype_are_independent():
    net = ml.MLP([2, 3, 1], seed=0)
    other = net.copy()
    other.params[0] += 1
    assert other.params[0] != net.params[0]
    net32 = net.astype(np.float32)
    assert net32.dtype == np.float32
    assert net32.layer_sizes == net.layer_sizes
    assert net32.activation == net.activation
    np.testing.assert_array_equal(net32.params, net.params.astype(np.float32))


def test_properties():
    net = ml.MLP([10, 32, 32, 1], activation="tanh", seed=0)
    assert net.layer_sizes == (10, 32, 32, 1)
    assert net.n_params == 11 * 32 + 33 * 32 + 33 * 1
    assert net.n_inputs == 10
    assert net.n_outputs == 1
    assert net.dtype == np.float64
    assert [W.shape for W in net.weights] == [(32, 10), (32, 32), (1, 32)]
    assert [b.shape for b in net.biases] == [(32,), (32,), (1,)]


@pytest.mark.parametrize(
    "activation, sklearn_name",
    [("identity", "identity"), ("sigmoid", "logistic"), ("tanh", "tanh"), ("relu", "relu")],
)
def test_sklearn_forward_agrees(activation, sklearn_name):
    # scikit-learn's MLPRegressor stores coefs_[l] = W_l^T and intercepts_[l] = b_l
    # and has an affine output layer, so with our parameters copied in its
    # predict() is f_w. It is fitted for one step only to create its attributes.
    neural_network = pytest.importorskip("sklearn.neural_network")
    from sklearn.exceptions import ConvergenceWarning

    sizes = [4, 6, 5, 2]
    net = make_net(sizes, activation)
    X, y, _ = make_data(sizes, 8)
    regressor = neural_network.MLPRegressor(
        hidden_layer_sizes=tuple(sizes[1:-1]), activation=sklearn_name, max_iter=1, random_state=0
    )
    with pytest.warns(ConvergenceWarning):
        regressor.fit(X, y)
    regressor.coefs_ = [W.T.copy() for W in net.weights]
    regressor.intercepts_ = [b.copy() for b in net.biases]
    assert_close(net.forward(X), regressor.predict(X), FLOAT64_RTOL)


def test_pickle_and_deepcopy_keep_views():
    import copy
    import pickle

    net = make_net([3, 4, 2], "sigmoid", dtype=np.float32)
    for other in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net), copy.copy(net)):
        assert other.layer_sizes == net.layer_sizes
        assert other.activation == net.activation
        assert other.dtype == np.float32
        np.testing.assert_array_equal(other.params, net.params)
        other.weights[0][0, 0] = 42.0
        assert other.params[0] == 42.0
        assert net.params[0] != 42.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unpickled_network_computes(dtype):
    # An unpickled parameter array carries an equal but distinct dtype
    # object; the kernels must compare dtypes by value, not identity.
    import pickle

    net = make_net([3, 4, 2], "tanh", dtype=dtype)
    clone = pickle.loads(pickle.dumps(net))
    X = np.random.default_rng(0).normal(size=(5, 3)).astype(dtype)
    y = np.zeros((5, 2), dtype=dtype)
    np.testing.assert_array_equal(clone.forward(X), net.forward(X))
    np.testing.assert_array_equal(clone.jacobian(X), net.jacobian(X))
    np.testing.assert_array_equal(clone.loss_gradient(X, y), net.loss_gradient(X, y))


def test_forward_big_batch_paths_agree():
    # 300 000 rows of a [10, 16, 1] net: the hidden activations take 38 MB,
    # above the size at which the automatic choice switches to the fused
    # kernel, so "auto" runs the fused path here. Both paths sum the same
    # 10 terms per unit, so they agree to rounding.
    net = make_net([10, 16, 1], "tanh")
    X = np.random.default_rng(3).normal(size=(300_000, 10))
    try:
        Y_auto = net.forward(X)
        _core.set_forward_path("blas")
        Y_blas = net.forward(X)
    finally:
        _core.set_forward_path("auto")
    assert_close(Y_auto, Y_blas, FLOAT64_RTOL)
    rows = np.r_[0:3, 299_997:300_000]
    assert_close(Y_auto[rows], ref.forward([10, 16, 1], "tanh", net.params, X[rows]), FLOAT64_RTOL)
