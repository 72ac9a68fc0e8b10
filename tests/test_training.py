"""Training loops and the train/test split."""

import math

import numpy as np
import pytest

import mathlearn as ml
from mathlearn.training import split_indices, train_test_split


@pytest.mark.parametrize("n_samples", [2, 5, 10, 99, 200, 442])
@pytest.mark.parametrize("test_size", [0.1, 0.2, 0.25, 0.5, 0.99])
def test_split_sizes_match_sklearn(n_samples, test_size):
    sklearn_model_selection = pytest.importorskip("sklearn.model_selection")
    if math.ceil(test_size * n_samples) >= n_samples:
        with pytest.raises(ValueError, match="test_size"):
            split_indices(n_samples, test_size, seed=0)
        return
    train_index, test_index = split_indices(n_samples, test_size, seed=0)
    sk_train, sk_test = sklearn_model_selection.train_test_split(
        np.arange(n_samples), test_size=test_size, random_state=0
    )
    assert len(test_index) == len(sk_test)
    assert len(train_index) == len(sk_train)


def test_split_is_partition():
    train_index, test_index = split_indices(101, 0.2, seed=3)
    assert np.intersect1d(train_index, test_index).size == 0
    assert np.array_equal(np.sort(np.concatenate([train_index, test_index])), np.arange(101))


def test_split_seeded_and_varies_with_seed():
    first = split_indices(50, 0.2, seed=7)
    again = split_indices(50, 0.2, seed=7)
    other = split_indices(50, 0.2, seed=8)
    assert np.array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


def test_split_int_test_size():
    train_index, test_index = split_indices(10, 3, seed=0)
    assert len(test_index) == 3
    assert len(train_index) == 7


def test_split_zero_test_size():
    train_index, test_index = split_indices(10, 0, seed=0)
    assert len(test_index) == 0
    assert np.array_equal(train_index, np.arange(10))


@pytest.mark.parametrize(
    "test_size, error, pattern",
    [
        (1.0, ValueError, r"test_size must be in \[0.0, 1.0\); got 1.0"),
        (-0.1, ValueError, r"test_size must be in"),
        (10, ValueError, r"test_size must be <= 9; got 10"),
        (True, TypeError, r"test_size"),
        ("0.2", TypeError, r"test_size must be a real number"),
        (float("nan"), ValueError, r"test_size"),
    ],
)
def test_split_rejects_bad_test_size(test_size, error, pattern):
    with pytest.raises(error, match=pattern):
        split_indices(10, test_size, seed=0)


def test_train_test_split_rows_follow_indices():
    X = np.arange(40.0).reshape(20, 2)
    y = np.arange(20.0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=1)
    assert X_train.shape == (15, 2)
    assert X_test.shape == (5, 2)
    assert np.array_equal(X_train[:, 0] / 2, y_train)
    assert np.array_equal(X_test[:, 0] / 2, y_test)


def test_train_test_split_length_mismatch():
    with pytest.raises(ValueError, match="same number of rows"):
        train_test_split(np.zeros((5, 2)), np.zeros(4))


def _linear_data(rng, n=120, n_inputs=3):
    X = rng.standard_normal((n, n_inputs))
    w = np.array([1.5, -2.0, 0.5])[:n_inputs]
    y = X @ w + 0.3
    return X, y


def test_gradient_descent_matches_manual_updates():
    rng = np.random.default_rng(0)
    X, y = _linear_data(rng)
    net = ml.MLP([3, 4, 1], activation="tanh", seed=1)
    manual = net.copy()
    result = ml.train(net, X, y, epochs=5, lr=0.05, test_size=0.25, seed=2)

    X_train = X[result.train_index]
    y_train = y[result.train_index]
    for _ in range(5):
        manual.params -= 0.05 * manual.loss_gradient(X_train, y_train)
    np.testing.assert_allclose(net.params, manual.params, rtol=0, atol=1e-14)
    assert result.n_updates == 5
    assert result.batch_size is None


def test_sgd_matches_manual_minibatch_updates():
    rng = np.random.default_rng(0)
    X, y = _linear_data(rng, n=50)
    net = ml.MLP([3, 5, 1], activation="sigmoid", seed=4)
    manual = net.copy()
    result = ml.train(net, X, y, epochs=3, lr=0.1, batch_size=8, test_size=0.2, seed=11)

    # Replay the same Generator: first the split, then one permutation per epoch.
    replay = np.random.default_rng(11)
    train_index, _ = split_indices(50, 0.2, replay)
    X_train, y_train = X[train_index], y[train_index]
    updates = 0
    for _ in range(3):
        order = replay.permutation(len(train_index))
        for start in range(0, len(order), 8):
            rows = order[start : start + 8]
            manual.params -= 0.1 * manual.loss_gradient(X_train[rows], y_train[rows])
            updates += 1
    np.testing.assert_allclose(net.params, manual.params, rtol=0, atol=1e-13)
    assert result.n_updates == updates == 3 * math.ceil(40 / 8)


def test_history_losses_recomputed():
    rng = np.random.default_rng(5)
    X, y = _linear_data(rng)
    net = ml.MLP([3, 8, 1], activation="tanh", seed=0)
    result = ml.train(net, X, y, epochs=40, lr=0.05, batch_size=16, seed=0)
    assert result.train_loss.shape == (41,)
    assert result.test_loss.shape == (41,)
    final_train = net.loss(X[result.train_index], y[result.train_index])
    final_test = net.loss(X[result.test_index], y[result.test_index])
    assert result.train_loss[-1] == pytest.approx(final_train, rel=1e-12)
    assert result.test_loss[-1] == pytest.approx(final_test, rel=1e-12)
    assert result.train_loss[-1] < 0.1 * result.train_loss[0]


def test_train_is_reproducible():
    rng = np.random.default_rng(9)
    X, y = _linear_data(rng)
    nets = [ml.MLP([3, 6, 1], seed=3) for _ in range(2)]
    results = [ml.train(net, X, y, epochs=10, lr=0.05, batch_size=10, seed=21) for net in nets]
    assert np.array_equal(nets[0].params, nets[1].params)
    assert np.array_equal(results[0].train_loss, results[1].train_loss)


def test_train_divergence_restores_parameters():
    rng = np.random.default_rng(1)
    X, y = _linear_data(rng)
    X = X * 1e3
    net = ml.MLP([3, 1], activation="identity", seed=0)
    with pytest.raises(ValueError, match="training diverged") as info:
        ml.train(net, X, y, epochs=200, lr=10.0, seed=0)
    assert "Lower lr" in str(info.value)
    assert np.isfinite(net.params).all()


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"epochs": 0}, ValueError, "epochs must be >= 1; got 0"),
        ({"epochs": 2.5}, TypeError, "epochs must be an integer"),
        ({"lr": 0.0}, ValueError, r"lr must be in \(0.0, inf\); got 0.0"),
        ({"lr": float("nan")}, ValueError, "lr must be in"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1; got 0"),
        ({"test_size": 1.5}, ValueError, "test_size must be in"),
        ({"seed": "zero"}, TypeError, "seed must be None, a non-negative int"),
    ],
)
def test_train_rejects_bad_arguments(kwargs, error, pattern):
    rng = np.random.default_rng(0)
    X, y = _linear_data(rng, n=20)
    net = ml.MLP([3, 2, 1], seed=0)
    before = net.params.copy()
    with pytest.raises(error, match=pattern):
        ml.train(net, X, y, **kwargs)
    assert np.array_equal(net.params, before)


def test_train_rejects_bad_data():
    net = ml.MLP([3, 2, 1], seed=0)
    X = np.zeros((10, 3))
    with pytest.raises(ValueError, match="y must have one row per row of X"):
        ml.train(net, X, np.zeros(9))
    X_nan = X.copy()
    X_nan[4, 1] = np.nan
    with pytest.raises(ValueError, match="X must contain only finite values"):
        ml.train(net, X_nan, np.zeros(10))
    with pytest.raises(ValueError, match="X must have 2 dimension"):
        ml.train(net, np.zeros(10), np.zeros(10))


def test_train_errors_name_callers_shapes():
    net = ml.MLP([3, 2, 1], seed=0)
    with pytest.raises(ValueError, match=r"X must have 3 columns .*got shape \(20, 4\)"):
        ml.train(net, np.zeros((20, 4)), np.zeros(20))
    with pytest.raises(TypeError, match="net must be a mathlearn.MLP; got NoneType"):
        ml.train(None, np.zeros((20, 3)), np.zeros(20))
