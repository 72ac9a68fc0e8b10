"""ModelGame: the interventional game of a numpy model at a point.

Tolerances follow from the standard first-order bound for a dot product
of length k computed in floating point, |error| <= k u sum_j |a_j b_j|,
with u the unit roundoff; the helpers below apply it to each model.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from test_shapley_exact import kernel_bound

from mathlearn import shapley
from mathlearn.reference.shapley import model_game_value, shapley_by_permutations

U = np.finfo(np.float64).eps / 2


def hybrid_extent(x, background):
    """Largest |entry| per feature over all hybrid rows of x and the background."""
    return np.maximum(np.abs(x), np.abs(background).max(axis=0))


class TwoLayerModel:
    """f(Z) = tanh(Z W1 + b1) W2 + c, an MLP-like numpy model that counts its calls."""

    def __init__(self, seed, n, hidden, n_outputs=None, dtype=np.float64):
        rng = np.random.default_rng(seed)
        self.W1 = rng.normal(size=(n, hidden)) / np.sqrt(n)
        self.b1 = rng.normal(size=hidden)
        width = 1 if n_outputs is None else n_outputs
        self.W2 = rng.normal(size=(hidden, width)) / np.sqrt(hidden)
        self.c = rng.normal(size=width)
        self.n_outputs = n_outputs
        self.dtype = dtype
        self.batches = []

    def __call__(self, Z):
        self.batches.append(Z.shape)
        out = np.tanh(Z @ self.W1 + self.b1) @ self.W2 + self.c
        out = out.astype(self.dtype)
        return out[:, 0] if self.n_outputs is None else out

    def error_bound(self, extent):
        """Bound on |f(z)| and on |f computed in any summation order - f(z)|."""
        n, hidden = self.W1.shape
        pre = extent @ np.abs(self.W1) + np.abs(self.b1)  # bounds sum_j |z_j W1_jh| + |b1_h|
        tanh_error = (n + 1) * U * pre + U  # tanh is 1-Lipschitz and rounds once
        column = np.abs(self.W2).sum(axis=0) + np.abs(self.c)
        size = float(column.max())
        error = float(np.max(tanh_error @ np.abs(self.W2) + (hidden + 1) * U * column))
        return size, error


@pytest.mark.parametrize("method", shapley.METHODS)
@pytest.mark.parametrize("n", [1, 4, 9])
def test_linear_model_closed_form(method, n):
    # For f(z) = z . w + c, v_x(S) = c + sum_{j in S} w_j x_j + sum_{j not in S} w_j mean_k b_kj,
    # so phi_i = w_i (x_i - mean_k b_ki) exactly.
    rng = np.random.default_rng(n)
    K = 50
    w = rng.normal(size=n)
    c = 0.7
    x = rng.normal(size=n)
    background = rng.normal(size=(K, n))
    game = shapley.ModelGame(lambda Z: Z @ w + c, x, background)
    phi = shapley.exact(game, method=method)

    A = float(hybrid_extent(x, background) @ np.abs(w) + abs(c))  # bounds |f| and its dot product
    table_error = (n + 1 + K + 1) * U * A  # f rounding, then the mean of K values
    closed_form_error = (K + 3) * U * A
    atol = 2 * table_error + kernel_bound(n, A) + closed_form_error
    expected = w * (x - background.mean(axis=0))
    assert phi.shape == (n,)
    np.testing.assert_allclose(phi, expected, rtol=0, atol=atol)


def test_linear_model_vector_outputs():
    n, K, m = 6, 30, 3
    rng = np.random.default_rng(21)
    W = rng.normal(size=(n, m))
    c = rng.normal(size=m)
    x = rng.normal(size=n)
    background = rng.normal(size=(K, n))
    phi = shapley.exact(shapley.ModelGame(lambda Z: Z @ W + c, x, background))

    A = float(np.max(hybrid_extent(x, background) @ np.abs(W) + np.abs(c)))
    atol = 2 * (n + K + 2) * U * A + kernel_bound(n, A) + (K + 3) * U * A
    expected = W * (x - background.mean(axis=0))[:, None]
    assert phi.shape == (n, m)
    np.testing.assert_allclose(phi, expected, rtol=0, atol=atol)


def reference_model_phi(f, x, background, n):
    """Run the n!-order reference on the reference model-game values."""
    cache = {}

    def v(S):
        if S not in cache:
            value = model_game_value(f, list(x), background.tolist(), S)
            cache[S] = [Fraction(e) for e in value] if isinstance(value, list) else Fraction(value)
        return cache[S]

    phi = shapley_by_permutations(v, n)
    return np.array([[float(e) for e in p] if isinstance(p, list) else float(p) for p in phi])


@pytest.mark.parametrize("method", shapley.METHODS)
@pytest.mark.parametrize("n_outputs", [None, 1, 2])
def test_nonlinear_model_matches_reference(method, n_outputs):
    n, K, hidden = 5, 7, 16
    rng = np.random.default_rng(31)
    model = TwoLayerModel(32, n, hidden, n_outputs)
    x = rng.normal(size=n)
    background = rng.normal(size=(K, n))
    phi = shapley.exact(shapley.ModelGame(model, x, background), method=method)
    expected = reference_model_phi(model, x, background, n)

    # Batched and single-row calls of f may sum in different orders, but
    # each is within `error` of f. Each mean of K values adds K u size.
    size, error = model.error_bound(hybrid_extent(x, background))
    table_gap = 2 * error + 2 * (K + 1) * U * size
    atol = 2 * table_gap + kernel_bound(n, size)
    assert phi.shape == expected.shape
    np.testing.assert_allclose(phi, expected, rtol=0, atol=atol)


def test_model_game_table_matches_reference_values():
    n, K = 4, 5
    rng = np.random.default_rng(41)
    model = TwoLayerModel(42, n, 8, n_outputs=3)
    x = rng.normal(size=n)
    background = rng.normal(size=(K, n))
    table = shapley.ModelGame(model, x, background).table()
    size, error = model.error_bound(hybrid_extent(x, background))
    atol = 2 * error + 2 * (K + 1) * U * size
    for mask in range(2**n):
        S = {j for j in range(n) if (mask >> j) & 1}
        expected = model_game_value(model, list(x), background.tolist(), S)
        np.testing.assert_allclose(table[mask], expected, rtol=0, atol=atol, err_msg=f"mask {mask}")


def test_output_shapes_follow_model():
    n, K = 3, 4
    rng = np.random.default_rng(51)
    x = rng.normal(size=n)
    background = rng.normal(size=(K, n))
    scalar = shapley.ModelGame(lambda Z: Z.sum(axis=1), x, background)
    column = shapley.ModelGame(lambda Z: Z.sum(axis=1, keepdims=True), x, background)
    assert scalar.n_outputs is None
    assert column.n_outputs == 1
    assert shapley.exact(scalar).shape == (n,)
    assert shapley.exact(column).shape == (n, 1)
    np.testing.assert_array_equal(shapley.exact(column)[:, 0], shapley.exact(scalar))


def test_float32_outputs_accumulated_in_float64():
    # 4096 float32 outputs near 1000 per coalition. Summed in float32, their
    # mean is off by about 1e-5, while one ulp of 1000 in float32 is 6e-5.
    # Summed in float64, it is within K u 1010, about 5e-10.
    n, K = 3, 4096
    rng = np.random.default_rng(61)
    x = rng.normal(size=n)
    background = rng.normal(size=(K, n))
    offsets = rng.uniform(0.0, 1.0, size=K)

    def f(Z):
        rows = np.arange(Z.shape[0]) % K  # each batch contains whole coalitions here
        return (1000.0 + offsets[rows] + Z.sum(axis=1)).astype(np.float32)

    game = shapley.ModelGame(f, x, background, batch_size=K)
    table = game.table()
    assert table.dtype == np.float64
    atol = K * U * 1010.0
    for mask in range(2**n):
        in_S = ((mask >> np.arange(n)) & 1).astype(bool)
        Z = np.where(in_S, x, background)
        expected = np.mean(f(Z).astype(np.float64))  # pairwise sum in float64
        assert abs(table[mask] - expected) <= atol, f"mask {mask}"
    phi = shapley.exact(game)
    assert phi.dtype == np.float64


def test_float16_outputs_accepted():
    n, K = 3, 8
    rng = np.random.default_rng(62)
    x = rng.normal(size=n)
    background = rng.normal(size=(K, n))
    game = shapley.ModelGame(lambda Z: Z.sum(axis=1).astype(np.float16), x, background)
    assert game.values([0]).dtype == np.float64


def test_float32_inputs_reach_model_as_float32():
    seen = []

    def f(Z):
        seen.append(Z.dtype)
        return Z.sum(axis=1)

    x = np.ones(3, dtype=np.float32)
    background = np.zeros((4, 3), dtype=np.float32)
    shapley.exact(shapley.ModelGame(f, x, background))
    assert set(seen) == {np.dtype(np.float32)}
    shapley.exact(shapley.ModelGame(f, x, background.astype(np.float64)))
    assert seen[-1] == np.float64


def test_model_called_in_batches():
    n, K = 4, 6
    rng = np.random.default_rng(71)
    model = TwoLayerModel(72, n, 8)
    game = shapley.ModelGame(model, rng.normal(size=n), rng.normal(size=(K, n)), batch_size=3 * K)
    assert model.batches == [(K, n)]  # the constructor's probe on the background
    game.table()
    # 16 coalitions of K rows in batches of 3 coalitions: 6 calls, the last with 1.
    assert model.batches[1:] == [(3 * K, n)] * 5 + [(K, n)]


def test_default_batch_single_call():
    n, K = 10, 100
    rng = np.random.default_rng(81)
    model = TwoLayerModel(82, n, 16)
    game = shapley.ModelGame(model, rng.normal(size=n), rng.normal(size=(K, n)))
    shapley.exact(game)
    assert model.batches == [(K, n), (2**n * K, n)]


@pytest.mark.parametrize("batch_size", [1, 4, 7, 13])
def test_split_coalition_batches_agree(batch_size):
    # batch_size below or not a multiple of K splits coalitions across calls.
    n, K = 4, 5
    rng = np.random.default_rng(91)
    model = TwoLayerModel(92, n, 8, n_outputs=2)
    x = rng.normal(size=n)
    background = rng.normal(size=(K, n))
    whole = shapley.ModelGame(model, x, background).table()
    model.batches.clear()
    split = shapley.ModelGame(model, x, background, batch_size=batch_size).table()
    size, error = model.error_bound(hybrid_extent(x, background))
    np.testing.assert_allclose(split, whole, rtol=0, atol=2 * error + 2 * (K + 1) * U * size)
    assert max(rows for rows, _ in model.batches) <= batch_size


def test_model_game_values_subset_of_masks():
    n, K = 5, 3
    rng = np.random.default_rng(101)
    model = TwoLayerModel(102, n, 8)
    game = shapley.ModelGame(model, rng.normal(size=n), rng.normal(size=(K, n)))
    masks = np.array([31, 0, 5, 5])
    np.testing.assert_array_equal(game.values(masks), game.table()[masks])
    assert game.values(np.array([], dtype=np.int64)).shape == (0,)


@pytest.mark.parametrize("method", shapley.METHODS)
def test_additive_model_closed_form(method):
    # For f(z) = sum_j g_j(z_j), v_x(S) = sum_{j in S} g_j(x_j) + sum_{j not in S} mean_k g_j(b_kj),
    # so phi_i = g_i(x_i) - mean_k g_i(b_ki), whatever the g_j.
    n, K = 7, 40
    rng = np.random.default_rng(111)
    a = rng.normal(size=n)
    x = rng.normal(size=n)
    background = rng.normal(size=(K, n))

    def g(Z):
        return np.sin(a * Z) + a * Z**2

    game = shapley.ModelGame(lambda Z: g(Z).sum(axis=1), x, background)
    phi = shapley.exact(game, method=method)

    # |g_j| <= 1 + |a_j| extent_j**2; sin, the square and the products each
    # round a few times, then sums of n terms and means of K values follow.
    G = 1.0 + np.abs(a) * hybrid_extent(x, background) ** 2
    A = float(G.sum())
    table_error = (n + K + 8) * U * A
    expected = g(x[None, :])[0] - g(background).mean(axis=0)
    closed_form_error = (K + 8) * U * float(G.max())
    atol = 2 * table_error + kernel_bound(n, A) + closed_form_error
    np.testing.assert_allclose(phi, expected, rtol=0, atol=atol)


def test_model_game_efficiency_against_model():
    # Efficiency for v_x: sum_i phi_i = v_x(N) - v_x(empty) = f(x) - mean_k f(b_k).
    n, K = 8, 30
    rng = np.random.default_rng(121)
    model = TwoLayerModel(122, n, 16, n_outputs=2)
    x = rng.normal(size=n)
    background = rng.normal(size=(K, n))
    phi = shapley.exact(shapley.ModelGame(model, x, background))
    expected = model(x[None, :])[0] - model(background).mean(axis=0)

    size, error = model.error_bound(hybrid_extent(x, background))
    table_gap = 2 * error + 2 * (K + 1) * U * size
    atol = n * (2 * table_gap + kernel_bound(n, size)) + (n + 1) * U * n * 2 * size
    np.testing.assert_allclose(phi.sum(axis=0), expected, rtol=0, atol=atol)
