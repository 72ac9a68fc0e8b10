"""explain: attributions for many rows, background handling and input kinds."""

from __future__ import annotations

import numpy as np
import pytest

from mathlearn import shapley

U = np.finfo(np.float64).eps / 2


class Linear:
    """f(Z) = Z w + c, or Z W + c for k outputs."""

    def __init__(self, n, k=None, seed=0):
        rng = np.random.default_rng(seed)
        self.w = rng.normal(size=n) if k is None else rng.normal(size=(n, k))
        self.c = 0.5

    def __call__(self, Z):
        return Z @ self.w + self.c


def linear_atol(x, background, w):
    # Each v_x(S) is a mean of K dot products of length n, within
    # (n + 2) u sum_j |w_j| max|z_j| of the exact value; phi sums differences
    # of them with weights summing to 1 per player, over a table of 2**n terms.
    n = x.shape[-1]
    size = float(np.abs(w).sum() * max(np.abs(x).max(), np.abs(background).max()) + 1)
    return 4 * (n + 2) * 2**n * U * size


@pytest.mark.parametrize("N", [1, 5])
def test_linear_closed_form_many_rows(N):
    n, K = 7, 30
    rng = np.random.default_rng(1)
    X, background = rng.normal(size=(N, n)), rng.normal(size=(K, n))
    f = Linear(n)
    result = shapley.explain(f, X, background)
    closed_form = f.w * (X - background.mean(axis=0))  # phi_i = w_i (x_i - E b_i)
    assert result.values.shape == (N, n)
    np.testing.assert_allclose(result.values, closed_form, rtol=0, atol=linear_atol(X, background, f.w))
    np.testing.assert_allclose(result.base_values, f(background).mean(), rtol=0, atol=linear_atol(X, background, f.w))
    np.testing.assert_array_equal(result.std_errors, 0.0)


@pytest.mark.parametrize("k", [1, 3])
def test_vector_outputs_give_one_vector_per_output(k):
    n, K, N = 5, 20, 4
    rng = np.random.default_rng(2)
    X, background = rng.normal(size=(N, n)), rng.normal(size=(K, n))
    f = Linear(n, k)
    result = shapley.explain(f, X, background)
    assert result.values.shape == (N, n, k)
    assert result.base_values.shape == (N, k)
    closed_form = f.w[None, :, :] * (X - background.mean(axis=0))[:, :, None]
    np.testing.assert_allclose(result.values, closed_form, rtol=0, atol=linear_atol(X, background, f.w))


def test_efficiency_per_row_nonlinear_model():
    n, K, N = 8, 25, 3
    rng = np.random.default_rng(3)
    W1, w2 = rng.normal(size=(n, 16)) / np.sqrt(n), rng.normal(size=16) / 4

    def f(Z):
        return np.tanh(Z @ W1) @ w2

    X, background = rng.normal(size=(N, n)), rng.normal(size=(K, n))
    result = shapley.explain(f, X, background)
    # |f| <= sum |w2| and each phi sums 2**(n-1) differences: the bound below
    # covers the K-term means and the summation of n values.
    atol = 8 * (n + K + 16) * 2**n * U * float(np.abs(w2).sum())
    np.testing.assert_allclose(result.base_values + result.values.sum(axis=1), f(X), rtol=0, atol=atol)


def test_nan_feature_equal_in_background_is_null():
    n, K = 4, 10
    rng = np.random.default_rng(4)
    background = rng.normal(size=(K, n))
    background[:, 2] = np.nan
    X = rng.normal(size=(2, n))
    X[0, 2] = np.nan  # equals every background value: a null player, exactly 0
    X[1, 2] = 1.0  # differs from NaN, so the model output changes with it

    def f(Z):
        return np.where(np.isnan(Z[:, 2]), -1.0, Z[:, 2]) + Z[:, 0]

    result = shapley.explain(f, X, background)
    assert result.values[0, 2] == 0.0
    assert result.values[1, 2] == pytest.approx(2.0, abs=1e-12)  # f moves from -1 to 1
    np.testing.assert_allclose(result.values[:, 0], X[:, 0] - background[:, 0].mean(), atol=1e-12)


def test_features_equal_everywhere_are_left_out():
    n, K = 6, 5
    rng = np.random.default_rng(5)
    background = rng.normal(size=(K, n))
    x = rng.normal(size=n)
    background[:, [1, 4]] = x[[1, 4]]
    calls = []

    def f(Z):
        calls.append(Z.shape[0])
        return Z.sum(axis=1) ** 2

    result = shapley.explain(f, x[None, :], background)
    assert result.values[0, 1] == 0.0
    assert result.values[0, 4] == 0.0
    assert result.n_evaluations == 2 ** (n - 2)
    full = shapley.exact(shapley.ModelGame(f, x, background))
    np.testing.assert_allclose(result.values[0], full, rtol=0, atol=1e-10)


def test_object_features_with_categories():
    prices = {"red": 1.0, "green": 2.0, "blue": 4.0}

    def f(Z):
        return np.array([prices[row[0]] * float(row[1]) for row in Z])

    X = np.array([["blue", 3.0]], dtype=object)
    background = np.array([["red", 1.0], ["green", 1.0]], dtype=object)
    result = shapley.explain(f, X, background)
    game = shapley.TableGame([1.5, 4.0 * 1.0, 1.5 * 3.0, 12.0])  # v(S) by hand
    np.testing.assert_allclose(result.values[0], shapley.exact(game), rtol=0, atol=1e-14)


def test_empty_rows_and_empty_background():
    f = Linear(3, 2)
    background = np.zeros((4, 3))
    result = shapley.explain(f, np.zeros((0, 3)), background)
    assert result.values.shape == (0, 3, 2)
    assert result.base_values.shape == (0, 2)
    with pytest.raises(ValueError, match="background must have at least one row"):
        shapley.explain(f, np.zeros((2, 3)), np.zeros((0, 3)))
    with pytest.raises(ValueError, match="X must have 3 columns"):
        shapley.explain(f, np.zeros((2, 4)), background)
    with pytest.raises(ValueError, match="budget is required"):
        shapley.explain(f, np.zeros((2, 3)), background, method="kernel")


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_low_precision_outputs_accumulated_in_float64(dtype):
    n, K = 5, 40
    rng = np.random.default_rng(6)
    X, background = rng.normal(size=(2, n)), rng.normal(size=(K, n))
    f64 = Linear(n)
    result = shapley.explain(lambda Z: f64(Z).astype(dtype), X, background)
    assert result.values.dtype == np.float64
    # Each output is rounded once to dtype, so v_x(S) moves by at most its eps times max|f|.
    size = float(np.abs(f64.w).sum() * np.abs(np.vstack([X, background])).max() + 1)
    atol = 2 * np.finfo(dtype).eps * size
    np.testing.assert_allclose(result.values, shapley.explain(f64, X, background).values, rtol=0, atol=atol)


def test_background_subsample_seeded():
    n, K = 4, 200
    rng = np.random.default_rng(7)
    X, background = rng.normal(size=(3, n)), rng.normal(size=(K, n))
    f = Linear(n)
    a = shapley.explain(f, X, background, max_background=20, seed=1)
    b = shapley.explain(f, X, background, max_background=20, seed=1)
    c = shapley.explain(f, X, background, max_background=20, seed=2)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.array_equal(a.values, c.values)
    # The subset is 20 distinct rows: its mean gives the closed form.
    keep = np.sort(np.random.default_rng(1).choice(K, size=20, replace=False))
    np.testing.assert_allclose(a.values, f.w * (X - background[keep].mean(axis=0)), atol=1e-12)
    full = shapley.explain(f, X, background, max_background=K)
    np.testing.assert_array_equal(full.values, shapley.explain(f, X, background).values)


@pytest.mark.parametrize("method", shapley.SAMPLING_METHODS)
def test_sampled_explain_full_budget_exact(method):
    n, K = 5, 10
    rng = np.random.default_rng(8)
    X, background = rng.normal(size=(2, n)), rng.normal(size=(K, n))

    def f(Z):
        return np.sin(Z).prod(axis=1)

    exact = shapley.explain(f, X, background)
    sampled = shapley.explain(f, X, background, method=method, budget=2**n, seed=0)
    np.testing.assert_allclose(sampled.values, exact.values, rtol=0, atol=1e-13)


def test_sampled_explain_within_errors():
    n, K = 10, 20
    rng = np.random.default_rng(9)
    X, background = rng.normal(size=(2, n)), rng.normal(size=(K, n))

    def f(Z):
        return np.tanh(Z[:, :5].sum(axis=1)) * Z[:, 5:].sum(axis=1)

    exact = shapley.explain(f, X, background)
    sampled = shapley.explain(f, X, background, method="antithetic", budget=400, seed=3)
    assert sampled.n_evaluations <= 2 * 400
    assert (np.abs(sampled.values - exact.values) <= 6 * sampled.std_errors + 1e-12).all()
