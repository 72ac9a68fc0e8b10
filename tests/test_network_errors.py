"""Bad input to the MLP: each case raises a clear error and writes nothing."""

from __future__ import annotations

import numpy as np
import pytest

import mathlearn as ml
from mathlearn import _core, _validation, network


@pytest.fixture
def net():
    return ml.MLP([3, 4, 2], activation="tanh", seed=0)


@pytest.mark.parametrize(
    "sizes, error, pattern",
    [
        ([3], ValueError, "at least 2 sizes"),
        ([], ValueError, "at least 2 sizes"),
        ([3, 0, 1], ValueError, r"layer_sizes\[1\] must be >= 1; got 0"),
        ([3, -2], ValueError, r"layer_sizes\[1\] must be >= 1; got -2"),
        ([3, 2.5, 1], TypeError, r"layer_sizes\[1\] must be an integer; got 2.5"),
        ([3, True], TypeError, r"layer_sizes\[1\] must be an integer"),
        ("32", TypeError, "sequence of integers"),
        (5, TypeError, "sequence of integers"),
    ],
)
def test_bad_layer_sizes(sizes, error, pattern):
    with pytest.raises(error, match=pattern):
        ml.MLP(sizes)


def test_unknown_activation():
    with pytest.raises(ValueError, match="activation must be one of .*'softplus'.*got 'swish'"):
        ml.MLP([2, 1], activation="swish")
    with pytest.raises(ValueError, match="got 'poly0'"):
        ml.MLP([2, 1], activation="poly0")


@pytest.mark.parametrize("dtype", [np.int64, np.float16, np.complex128, "float128"])
def test_bad_network_dtype(dtype):
    with pytest.raises(TypeError, match="dtype must be numpy.float64 or numpy.float32"):
        ml.MLP([2, 1], dtype=dtype)


def test_bad_seed():
    with pytest.raises(TypeError, match="seed must be None"):
        ml.MLP([2, 1], seed="zero")


@pytest.mark.parametrize(
    "X, pattern",
    [
        (np.ones(3), r"X must have 2 dimension\(s\); got an array of shape \(3,\)"),
        (np.ones((4, 2)), r"X must have 3 columns .*got shape \(4, 2\)"),
        (np.ones((2, 3, 1)), r"X must have 2 dimension"),
        (np.array([[1.0, np.nan, 0.0]]), "X must contain only finite values; got .*nan"),
        (np.array([[1.0, 0.0, np.inf]]), "X must contain only finite values; got .*inf"),
    ],
)
def test_bad_X(net, X, pattern):
    for call in (net.forward, net.jacobian, lambda X: net.loss(X, np.zeros((len(X), 2)))):
        with pytest.raises(ValueError, match=pattern):
            call(X)


def test_complex_X_is_rejected(net):
    with pytest.raises(TypeError, match="X must be a real numeric array"):
        net.forward(np.ones((2, 3), dtype=complex))


@pytest.mark.parametrize(
    "y, pattern",
    [
        (np.zeros((4, 2)), r"y must have shape \(5, 2\).*got shape \(4, 2\)"),
        (np.zeros((5, 3)), r"y must have shape \(5, 2\)"),
        (np.zeros(5), "1-D y is accepted only when the network has one output"),
        (np.full((5, 2), np.nan), "y must contain only finite values"),
    ],
)
def test_bad_mse_target(net, y, pattern):
    with pytest.raises(ValueError, match=pattern):
        net.loss_gradient(np.zeros((5, 3)), y)


def test_mse_accepts_1d_target_for_one_output():
    net = ml.MLP([3, 1], seed=0)
    X = np.ones((4, 3))
    assert net.loss(X, np.zeros(4)) == net.loss(X, np.zeros((4, 1)))


@pytest.mark.parametrize(
    "y, error, pattern",
    [
        (np.array([0, 1, 2, 1, 0]), ValueError, r"class labels in \[0, 1\].*got label 2"),
        (np.array([0, -1, 1, 1, 0]), ValueError, "got label -1"),
        (np.array([0, 1, 1]), ValueError, "y must have length 5"),
        (np.array([0.5, 1, 1, 0, 0]), TypeError, "integer class labels"),
        (np.full((5, 2), 0.7), ValueError, "rows summing to 1"),
        (np.array([[1.5, -0.5]] * 5), ValueError, "negative entry -0.5"),
    ],
)
def test_bad_cross_entropy_target(net, y, error, pattern):
    with pytest.raises(error, match=pattern):
        net.loss_gradient(np.zeros((5, 3)), y, loss="cross_entropy")


def test_cross_entropy_needs_two_outputs():
    with pytest.raises(ValueError, match="at least 2 outputs; got n_outputs = 1"):
        ml.MLP([3, 1]).loss(np.zeros((2, 3)), [0, 0], loss="cross_entropy")


def test_unknown_loss(net):
    with pytest.raises(ValueError, match="loss must be one of 'mse', 'cross_entropy', 'binary_cross_entropy'; got 'l1'"):
        net.loss(np.zeros((2, 3)), np.zeros((2, 2)), loss="l1")


def test_loss_of_empty_batch(net):
    with pytest.raises(ValueError, match="at least one sample"):
        net.loss(np.zeros((0, 3)), np.zeros((0, 2)))


def test_bad_params_assignment(net):
    before = net.params.copy()
    with pytest.raises(ValueError, match=rf"params must have shape \({net.n_params},\)"):
        net.params = np.zeros(net.n_params + 1)
    with pytest.raises(ValueError, match="params must contain only finite values"):
        net.params = np.full(net.n_params, np.nan)
    np.testing.assert_array_equal(net.params, before)


@pytest.mark.parametrize(
    "make_out, error, pattern",
    [
        (lambda shape: np.empty(shape, dtype=np.float32), ValueError, "dtype float64.*never converted"),
        (lambda shape: np.empty(shape[:-1] + (shape[-1] + 1,)), ValueError, "must have shape"),
        (lambda shape: np.empty(shape[::-1]).T, ValueError, "C-contiguous"),
        (lambda shape: np.empty(shape).tolist(), TypeError, "numpy.ndarray"),
    ],
)
def test_bad_jacobian_out(net, make_out, error, pattern):
    X = np.ones((4, 3))
    with pytest.raises(error, match=pattern):
        net.jacobian(X, out=make_out((4, 2, net.n_params)))


def test_read_only_out(net):
    out = np.zeros(net.n_params)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        net.value_and_gradient(np.ones((2, 3)), np.zeros((2, 2)), out=out)


def test_bad_gradient_out_is_left_untouched(net):
    out = np.full(net.n_params + 1, 5.0)
    with pytest.raises(ValueError, match="must have shape"):
        net.value_and_gradient(np.ones((2, 3)), np.zeros((2, 2)), out=out)
    assert np.all(out == 5.0)


@pytest.mark.parametrize("chunk_size, error", [(0, ValueError), (-3, ValueError), (2.0, TypeError)])
def test_bad_chunk_size(net, chunk_size, error):
    with pytest.raises(error, match="chunk_size"):
        net.jacobian(np.ones((4, 3)), chunk_size=chunk_size)


def test_jacobian_memory_guard(net, monkeypatch):
    # 1000 samples need 1000 * 2 * 26 * 8 = 416,000 bytes of output; with only
    # 100,000 bytes "available", the call fails before allocating and names a
    # slice size that fits: 100,000 // 2 // (2 * 26 * 8) = 120 rows.
    monkeypatch.setattr(_validation, "available_memory", lambda: 100_000)
    monkeypatch.setattr(network, "available_memory", lambda: 100_000)
    with pytest.raises(ValueError, match=r"needs 4\d\d,\d\d\d bytes.*at most 120 rows"):
        net.jacobian(np.ones((1000, 3)))


def test_jacobian_memory_guard_passes_with_out(net, monkeypatch):
    # A preallocated out= is not allocated again, so only the small temporaries count.
    out = np.empty((1000, 2, net.n_params))
    monkeypatch.setattr(_validation, "available_memory", lambda: 100_000)
    assert net.jacobian(np.ones((1000, 3)), out=out, chunk_size=100) is out


def test_core_rejects_mismatched_arrays():
    # The compiled entry points check their arguments too, so a direct call
    # cannot read or write out of bounds.
    w = np.zeros(5)
    X = np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"w must have shape \(9,\)"):
        _core.forward(w, X, [2, 3], 2, 0.0, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="Y must have dtype float64"):
        _core.forward(np.zeros(9), X, [2, 3], 2, 0.0, np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="activation code must be 0..9; got 10"):
        _core.forward(np.zeros(9), X, [2, 3], 10, 0.0, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="degree of the power activation"):
        _core.forward(np.zeros(9), X, [2, 3], 9, 2.5, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="parameter of leaky_relu and elu must be > 0"):
        _core.forward(np.zeros(9), X, [2, 3], 4, -1.0, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="hidden must contain 1 arrays"):
        _core.backward(np.zeros(13), X, [2, 3, 1], 2, 0.0, [], [], np.zeros((2, 1)), np.zeros(13))
    with pytest.raises(ValueError, match="pre must contain the 1 pre-activation arrays"):
        hidden = [np.zeros((2, 3))]
        _core.backward(np.zeros(13), X, [2, 3, 1], 8, 0.0, hidden, [], np.zeros((2, 1)), np.zeros(13))
    with pytest.raises(ValueError, match="every layer size must be >= 1"):
        _core.jacobian(np.zeros(9), X, [2, 0], 2, 0.0, np.zeros((2, 0, 0)))


def test_non_finite_params_are_reported(net):
    net.params[3] = np.inf
    for call in (net.forward, net.jacobian):
        with pytest.raises(ValueError, match="params must be finite; got inf at index 3"):
            call(np.ones((2, 3)))


def test_huge_network_is_rejected_before_allocating(monkeypatch):
    monkeypatch.setattr(_validation, "available_memory", lambda: 10**6)
    with pytest.raises(ValueError, match=r"MLP with layer sizes \[1000, 1000\].*needs 8,008,000 bytes"):
        ml.MLP([1000, 1000])
