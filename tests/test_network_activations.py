"""Activations: values, derivatives, flags and numerical stability."""

from __future__ import annotations

import numpy as np
import pytest

import mathlearn as ml
from mathlearn import activations
from mathlearn.reference import network as ref


def test_sigmoid_is_finite_at_large_arguments():
    z = np.array([-1000.0, -745.0, 0.0, 745.0, 1000.0])
    a = activations.sigmoid.sigma(z)
    assert np.all(np.isfinite(a))
    assert a[0] == 0.0
    assert a[-1] == 1.0
    assert a[2] == 0.5
    assert np.all(np.isfinite(activations.sigmoid.derivative(z)))


def test_sigmoid_in_network_is_finite_at_large_arguments():
    # One hidden unit with W1 = 1, b1 = 0: f(x) = sigmoid(x) exactly, for x = +-1000.
    net = ml.MLP([1, 1, 1], activation="sigmoid")
    net.params = [1.0, 0.0, 1.0, 0.0]
    for dtype in (np.float64, np.float32):
        Y = net.astype(dtype).forward([[-1000.0], [1000.0]])
        np.testing.assert_array_equal(Y, [[0.0], [1.0]])


@pytest.mark.parametrize("name", ["identity", "sigmoid", "tanh", "relu"])
def test_derivative_matches_central_difference(name):
    # h = 1e-6: truncation h^2 |sigma'''| / 6 < 1e-12 and rounding eps / h ~ 1e-10.
    act = activations.get(name)
    z = np.array([-3.0, -0.7, 0.3, 2.5])
    h = 1e-6
    numeric = (act.sigma(z + h) - act.sigma(z - h)) / (2 * h)
    np.testing.assert_allclose(act.derivative(z), numeric, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", ["identity", "sigmoid", "tanh", "relu"])
def test_numpy_activations_match_reference(name):
    # numpy and the math module may round exp and tanh differently by an ulp,
    # so sigma agrees to 2 eps relative. The derivative 1 - a^2 or a (1 - a)
    # of values a in [-1, 1] then differs by at most 2 |a| * 2 eps <= 4 eps absolute.
    eps = np.finfo(np.float64).eps
    z = np.linspace(-5, 5, 21)
    act = activations.get(name)
    np.testing.assert_allclose(act.sigma(z), [ref.sigma(name, t) for t in z], rtol=2 * eps, atol=0)
    np.testing.assert_allclose(
        act.derivative(z), [ref.sigma_prime(name, t) for t in z], rtol=0, atol=4 * eps
    )


def test_relu_derivative_at_zero_is_zero():
    assert activations.relu.derivative(np.array([0.0]))[0] == 0.0
    assert ref.sigma_prime("relu", 0.0) == 0.0
    # The kernel uses the same convention: z_1 = 0 gives zero gradient through W_1.
    net = ml.MLP([1, 1, 1], activation="relu")
    net.params = [1.0, 0.0, 1.0, 0.0]
    np.testing.assert_array_equal(net.jacobian([[0.0]])[0, 0], [0.0, 0.0, 0.0, 1.0])


def test_flags():
    assert activations.sigmoid.bounded
    assert activations.tanh.bounded
    assert not activations.relu.bounded
    assert not activations.identity.bounded
    assert activations.identity.polynomial
    assert not any(activations.get(n).polynomial for n in ("sigmoid", "tanh", "relu"))


@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_kernel_activation_accuracy(name):
    # [1, 1, 1] with W1 = 1, b1 = 0, W2 = 1, b2 = 0 gives f(x) = sigma(x)
    # exactly (the output layer adds 0 and multiplies by 1), so the forward
    # pass shows the kernel's sigma. Its method (range reduction and a
    # Taylor polynomial, see cpp/fastmath.hpp) adds a few rounding errors to
    # those of the reference's math.tanh and math.exp. The bound 8 eps
    # relative is about 5 times the largest difference seen (1.7 eps).
    eps = np.finfo(np.float64).eps
    magnitudes = np.concatenate([np.geomspace(1e-300, 1e-3, 200), np.linspace(1e-3, 40, 4000)])
    z = np.concatenate([-magnitudes[::-1], [0.0], magnitudes, [-700.0, -100.0, 100.0, 700.0, 710.0, 745.0]])
    net = ml.MLP([1, 1, 1], activation=name)
    net.params = [1.0, 0.0, 1.0, 0.0]
    got = net.forward(z.reshape(-1, 1))[:, 0]
    expected = np.array([ref.sigma(name, t) for t in z])
    assert np.all(np.abs(got - expected) <= 8 * eps * np.abs(expected))


def test_kernel_sigmoid_tail_is_flushed_to_zero():
    # exp(-z) for z > 708 is below 3.3e-308; the kernel returns 0 there
    # instead of the subnormal value, an absolute error under 3.3e-308.
    net = ml.MLP([1, 1, 1], activation="sigmoid")
    net.params = [1.0, 0.0, 1.0, 0.0]
    got = net.forward(np.array([[-708.5], [-720.0], [-800.0]]))[:, 0]
    np.testing.assert_array_equal(got, 0.0)
