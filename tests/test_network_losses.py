"""Losses at their extremes, sample weights, and the new activations at +-1000."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mathlearn import activations, losses
from mathlearn.reference import network as ref
from test_network import ACTIVATIONS, FLOAT64_RTOL, assert_close, make_data, make_net


def test_bce_gradient_at_logit_minus_50():
    Y = np.array([[-50.0]])
    y = losses.check_target([1.0], "binary_cross_entropy", 1, 1, np.float64)
    G = losses.binary_cross_entropy.gradient(Y, y)
    # sigmoid(-50) = 1.9e-22 rounds away next to 1, so the exact result is -1.
    assert G[0, 0] == -1.0
    assert losses.binary_cross_entropy.value(Y, y) == 50.0 + math.log1p(math.exp(-50.0))


def test_bce_value_at_large_logits_is_finite():
    Y = np.array([[1000.0, -1000.0]])
    y = np.array([[0.0, 1.0]])
    assert losses.binary_cross_entropy.value(Y, y) == 1000.0
    np.testing.assert_array_equal(losses.binary_cross_entropy.gradient(Y, y), [[0.5, -0.5]])


def test_bce_equals_logistic_formula():
    rng = np.random.default_rng(0)
    Y = rng.normal(size=(6, 3))
    y = rng.uniform(size=(6, 3))
    s = 1 / (1 + np.exp(-Y))
    expected = -np.mean(y * np.log(s) + (1 - y) * np.log(1 - s))
    assert abs(losses.binary_cross_entropy.value(Y, y) - expected) <= 1e-14 * max(1, abs(expected))


def test_cross_entropy_accepts_minus_inf_logit():
    Y = losses.check_logits(np.array([[0.0, -np.inf, 1.0]]), "cross_entropy")
    y = np.array([[0.5, 0.0, 0.5]])
    value = losses.cross_entropy.value(Y, y)
    log_z = math.log(1 + math.e)
    # 0 log 0 = 0 for the masked class; the other two terms are finite.
    assert abs(value - (0.5 * log_z + 0.5 * (log_z - 1))) <= 1e-15
    G = losses.cross_entropy.gradient(Y, y)
    assert np.all(np.isfinite(G))
    assert G[0, 1] == 0.0


def test_cross_entropy_mass_on_minus_inf():
    Y = np.array([[0.0, -np.inf]])
    assert losses.cross_entropy.value(Y, np.array([1])) == math.inf


def test_check_logits_rejects_nan_and_all_minus_inf():
    with pytest.raises(ValueError, match=r"must be finite or -inf; got nan at index \(0, 1\)"):
        losses.check_logits([[0.0, np.nan]], "cross_entropy")
    with pytest.raises(ValueError, match="row 1 is all -inf"):
        losses.check_logits([[0.0, 1.0], [-np.inf, -np.inf]], "cross_entropy")
    with pytest.raises(ValueError, match="must be finite; got -inf"):
        losses.check_logits([[-np.inf]], "mse")


@pytest.mark.parametrize("loss", ["mse", "cross_entropy", "binary_cross_entropy"])
def test_unit_weights_equal_unweighted(loss):
    sizes = [3, 5, 2]
    net = make_net(sizes, "tanh")
    X, y, labels = make_data(sizes, 7)
    target = {"mse": y, "cross_entropy": labels, "binary_cross_entropy": (y > 0).astype(float)}[loss]
    ones = np.ones(7)
    assert net.loss(X, target, loss=loss, sample_weight=ones) == net.loss(X, target, loss=loss)
    np.testing.assert_array_equal(
        net.loss_gradient(X, target, loss=loss, sample_weight=ones), net.loss_gradient(X, target, loss=loss)
    )


@pytest.mark.parametrize("loss", ["mse", "cross_entropy", "binary_cross_entropy"])
def test_integer_weights_equal_repeated_rows(loss):
    # L_w = (1/B) sum_b w_b l_b, and the loss on the repeated rows is
    # (1/sum w) sum_b w_b l_b, so B L_w = (sum w) L_repeated.
    sizes = [3, 5, 2]
    net = make_net(sizes, "gelu")
    X, y, labels = make_data(sizes, 6)
    target = {"mse": y, "cross_entropy": labels, "binary_cross_entropy": (y > 0).astype(float)}[loss]
    counts = np.array([1, 0, 3, 2, 1, 4])
    rows = np.repeat(np.arange(6), counts)
    value, gradient = net.value_and_gradient(X, target, loss=loss, sample_weight=counts)
    value_rep, gradient_rep = net.value_and_gradient(X[rows], target[rows], loss=loss)
    n = counts.sum()
    assert_close(6 * value, n * value_rep, FLOAT64_RTOL)
    assert_close(6 * gradient, n * gradient_rep, FLOAT64_RTOL)


@pytest.mark.parametrize("activation", ["tanh", "sin", "poly2"])
def test_weighted_gradient_matches_reference(activation):
    sizes = [3, 5, 2]
    net = make_net(sizes, activation)
    X, _, labels = make_data(sizes, 6)
    weight = np.array([0.5, -1.0, 2.0, 0.0, 1.5, -0.25])
    value, gradient = net.value_and_gradient(X, labels, loss="cross_entropy", sample_weight=weight)
    assert_close(value, ref.loss(sizes, activation, net.params, X, labels, "cross_entropy", weight), FLOAT64_RTOL)
    expected = ref.loss_gradient(sizes, activation, net.params, X, labels, "cross_entropy", weight)
    assert_close(gradient, expected, FLOAT64_RTOL)


def test_sample_weight_is_checked():
    net = make_net([3, 2], "tanh")
    X, y, _ = make_data([3, 2], 4)
    with pytest.raises(ValueError, match=r"sample_weight must have one weight per sample \(4\); got shape \(3,\)"):
        net.loss(X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="sample_weight must contain only finite values"):
        net.loss(X, y, sample_weight=[1, 1, np.inf, 1])


def test_bce_targets_are_checked():
    net = make_net([3, 2], "tanh")
    X, _, _ = make_data([3, 2], 2)
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]; got 1.5"):
        net.loss(X, [[0, 1.5], [0, 1]], loss="binary_cross_entropy")


# ----------------------------------------------------------------------
# Activations


@pytest.mark.parametrize("name", ["sigmoid", "softplus"])
def test_stable_at_plus_minus_1000(name):
    act = activations.get(name)
    z = np.array([-1000.0, 1000.0])
    a = act.sigma(z)
    d = act.derivative(z)
    # sigmoid'(z) = e^-|z| / (1 + e^-|z|)^2 underflows to 0 at both ends;
    # softplus' = sigmoid is 0 and 1.
    expected = {"sigmoid": [0.0, 1.0], "softplus": [0.0, 1000.0]}[name]
    expected_derivative = {"sigmoid": [0.0, 0.0], "softplus": [0.0, 1.0]}[name]
    np.testing.assert_array_equal(a, expected)
    np.testing.assert_array_equal(d, expected_derivative)


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "elu", "gelu", "leaky_relu", "tanh"])
def test_kernel_stable_at_plus_minus_1000(name):
    # The C++ kernel agrees with the numpy definition at the extremes, and
    # its gradient there is finite.
    net = make_net([1, 1, 1], name)
    net.params = np.array([1.0, 0.0, 1.0, 0.0])
    X = np.array([[-1000.0], [1000.0]])
    Y = net.forward(X)
    np.testing.assert_array_equal(Y[:, 0], activations.get(name).sigma(X[:, 0]))
    J = net.jacobian(X)
    assert np.all(np.isfinite(J))
    np.testing.assert_array_equal(J[:, 0, 0], X[:, 0] * activations.get(name).derivative(X[:, 0]))


@pytest.mark.parametrize("name", [a for a in ACTIVATIONS if a != "relu"])
def test_derivative_central_difference(name):
    # Points away from the kinks at 0; h = 1e-6 gives an error near 1e-10.
    act = activations.get(name)
    z = np.array([-3.1, -0.7, 0.4, 1.3, 2.9])
    h = 1e-6
    numeric = (act.sigma(z + h) - act.sigma(z - h)) / (2 * h)
    np.testing.assert_allclose(act.derivative(z), numeric, rtol=1e-8, atol=1e-9)


def test_flags():
    assert {n for n in ACTIVATIONS if activations.get(n).bounded} == {"sigmoid", "tanh", "sin"}
    assert {n for n in ACTIVATIONS if activations.get(n).polynomial} == {"identity", "poly1", "poly2", "poly3"}


def test_kink_conventions():
    z = np.zeros(1)
    assert activations.relu.derivative(z)[0] == 0.0
    assert activations.leaky_relu.derivative(z)[0] == 0.01
    assert activations.elu.derivative(z)[0] == 1.0
    assert activations.elu.with_param(0.5).derivative(z)[0] == 0.5


def test_parameterized_activation_in_network():
    act = activations.leaky_relu.with_param(0.2)
    sizes = [3, 4, 2]
    net = make_net(sizes, "tanh")
    leaky = make_net(sizes, "tanh")
    leaky._activation = act
    X, _, _ = make_data(sizes, 5)
    assert_close(leaky.forward(X), ref.forward(sizes, act, net.params, X), FLOAT64_RTOL)
    assert_close(leaky.jacobian(X), ref.jacobian(sizes, act, net.params, X), FLOAT64_RTOL)


def test_polynomial_and_param_errors():
    with pytest.raises(ValueError, match="k must be an integer >= 1; got 0"):
        activations.polynomial(0)
    with pytest.raises(TypeError, match="k must be an integer"):
        activations.polynomial(2.5)
    with pytest.raises(ValueError, match="parameter of leaky_relu must be a real number > 0; got -1"):
        activations.leaky_relu.with_param(-1)
    with pytest.raises(ValueError, match="only leaky_relu and elu take a parameter"):
        activations.tanh.with_param(1.0)
