"""Real data: the Advertising data of James, Witten, Hastie and Tibshirani,
An Introduction to Statistical Learning (2013), chapters 2-3.

Published least-squares fit (ISLR Table 3.9): sales = 2.939 + 0.046 TV +
0.189 radio - 0.001 newspaper.
"""

import numpy as np
import pytest

import mathlearn as ml
from mathlearn import datasets, shapley
from mathlearn.training import split_indices


@pytest.fixture(scope="module")
def advertising(data_dir):
    return datasets.load_csv(data_dir / "Advertising.csv", "sales")


def _standardize(X, reference):
    mean = reference.mean(axis=0)
    scale = reference.std(axis=0)
    return (X - mean) / scale, mean, scale


def _rmse(prediction, y):
    return float(np.sqrt(np.mean((prediction - y) ** 2)))


def test_loader_reads_published_column_sums(advertising):
    assert advertising.X.shape == (200, 3)
    assert advertising.feature_names == ["TV", "radio", "newspaper"]
    assert advertising.target_name == "sales"
    np.testing.assert_allclose(advertising.X.sum(axis=0), [29408.5, 4652.8, 6110.8], rtol=0, atol=1e-9)
    assert advertising.y.sum() == pytest.approx(2804.5, abs=1e-9)


def test_linear_network_reaches_least_squares(advertising):
    X, y = advertising.X, advertising.y
    Z, mean, scale = _standardize(X, X)
    net = ml.MLP([3, 1], activation="identity", seed=0)
    result = ml.train(net, Z, y, epochs=300, lr=0.3, test_size=0, seed=0)
    assert result.n_updates == 300

    W, b = net.weights[0][0], net.biases[0][0]
    coef = W / scale
    intercept = b - np.sum(W * mean / scale)

    # The values printed in ISLR, to their three decimals.
    assert intercept == pytest.approx(2.939, abs=1e-3)
    np.testing.assert_allclose(coef, [0.046, 0.189, -0.001], rtol=0, atol=1e-3)

    # Gradient descent contracts by at most |1 - lr * lambda_max| < 0.7 per
    # epoch here, so 300 epochs reach the exact least-squares solution.
    design = np.column_stack([np.ones(len(X)), X])
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    np.testing.assert_allclose(intercept, beta[0], rtol=1e-9)
    np.testing.assert_allclose(coef, beta[1:], rtol=1e-8, atol=1e-12)


@pytest.fixture(scope="module")
def trained_mlp(advertising):
    X, y = advertising.X, advertising.y
    train_index, test_index = split_indices(len(X), 0.2, seed=0)
    X_train, y_train = X[train_index], y[train_index]
    Z_train, mean, scale = _standardize(X_train, X_train)
    net = ml.MLP([3, 16, 1], activation="tanh", seed=0)
    ml.train(net, Z_train, y_train, epochs=400, lr=0.01, batch_size=16, test_size=0, seed=0)

    def model(rows):
        return net.forward((np.asarray(rows) - mean) / scale)[:, 0]

    return model, train_index, test_index


def test_hidden_layer_beats_linear_fit(advertising, trained_mlp):
    X, y = advertising.X, advertising.y
    model, train_index, test_index = trained_mlp
    design = np.column_stack([np.ones(len(train_index)), X[train_index]])
    beta, *_ = np.linalg.lstsq(design, y[train_index], rcond=None)
    linear_test = _rmse(beta[0] + X[test_index] @ beta[1:], y[test_index])
    mlp_test = _rmse(model(X[test_index]), y[test_index])
    assert mlp_test < linear_test


def test_shapley_ranks_newspaper_last(advertising, trained_mlp):
    X = advertising.X
    model, train_index, test_index = trained_mlp
    background = X[train_index]
    phi = np.array([shapley.exact(shapley.ModelGame(model, x, background)) for x in X[test_index]])
    mean_abs = np.abs(phi).mean(axis=0)
    newspaper = advertising.feature_names.index("newspaper")
    assert np.argmin(mean_abs) == newspaper

    # Efficiency on every row: sum of phi = f(x) - mean over background of f.
    expected = model(background).mean()
    np.testing.assert_allclose(phi.sum(axis=1), model(X[test_index]) - expected, rtol=0, atol=1e-10)
