"""Exact Shapley values against the n!-order reference and published games.

The reference sums the n! marginal contributions in exact rational
arithmetic (fractions.Fraction of the float64 table values), so every
difference from it is rounding of the fast path. ``kernel_bound`` states
that rounding as a first-order bound derived below.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from mathlearn import shapley
from mathlearn.shapley._kernels import SUM_BLOCK
from mathlearn.reference.shapley import mask_of, shapley_by_permutations, table_value

U = np.finfo(np.float64).eps / 2  # unit roundoff of float64


def kernel_bound(n: int, M: float) -> float:
    """Bound on |phi_fast - phi_exact| for a table with max |v| <= M.

    Subset formula: each term w(s) (v(S u i) - v(S)) carries a relative
    error of at most 3u from the difference, the weight and the product.
    The 2**(n-1) terms are summed in blocks of B = SUM_BLOCK, which adds
    at most (B - 1 + 2**(n-1) / B) u times the sum of their absolute
    values. That sum is at most 2M, because the weights of the S without i
    sum to 1.

    Potential: with v0 = v - v(empty), |v0| <= 2M and |P(S)| <= H_s 2M
    (the coefficients of P(S) in v0 sum to the harmonic number H_s).
    Each level s adds at most u (2 + (s + 1) H_s) 2M to the error of P,
    and phi_i = P(N) - P(N minus i) doubles it.

    The larger of the two, doubled for second-order terms and the final
    rounding of the reference to float64, covers both methods.
    """
    terms = 2 ** (n - 1)
    subset = (min(terms, SUM_BLOCK) + terms // SUM_BLOCK + 3) * U * 2 * M
    harmonic = [sum(1.0 / k for k in range(1, s + 1)) for s in range(n + 1)]
    potential = 2 * sum(U * (2 + (s + 1) * harmonic[s]) * 2 * M for s in range(1, n + 1))
    return 2 * max(subset, potential) + U * M


def reference_phi(table: np.ndarray, n: int) -> np.ndarray:
    """Run the exact n!-order reference on a float table and round the result once."""
    if table.ndim == 1:
        exact_phi = shapley_by_permutations(lambda S: Fraction(float(table_value(table, S))), n)
        return np.array([float(p) for p in exact_phi])
    exact_phi = shapley_by_permutations(
        lambda S: [Fraction(float(entry)) for entry in table_value(table, S)], n
    )
    return np.array([[float(p) for p in row] for row in exact_phi])


def random_table(rng, n: int, n_outputs=None) -> np.ndarray:
    shape = (2**n,) if n_outputs is None else (2**n, n_outputs)
    return rng.uniform(-1.0, 1.0, size=shape)  # v(empty) is non-zero almost surely


@pytest.mark.parametrize("method", shapley.METHODS)
@pytest.mark.parametrize("n", range(1, 8))
def test_exact_scalar_matches_reference(method, n):
    rng = np.random.default_rng(100 + n)
    table = random_table(rng, n)
    phi = shapley.exact(shapley.TableGame(table), method=method)
    assert phi.shape == (n,)
    assert phi.dtype == np.float64
    np.testing.assert_allclose(phi, reference_phi(table, n), rtol=0, atol=kernel_bound(n, 1.0))


@pytest.mark.parametrize("method", shapley.METHODS)
@pytest.mark.parametrize("n", [1, 3, 5, 7])
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_exact_vector_matches_reference(method, n, n_outputs):
    rng = np.random.default_rng(200 + 10 * n + n_outputs)
    table = random_table(rng, n, n_outputs)
    phi = shapley.exact(shapley.TableGame(table), method=method)
    assert phi.shape == (n, n_outputs)
    np.testing.assert_allclose(phi, reference_phi(table, n), rtol=0, atol=kernel_bound(n, 1.0))


@pytest.mark.parametrize("method", shapley.METHODS)
def test_exact_float32_table(method):
    n = 6
    table = random_table(np.random.default_rng(7), n).astype(np.float32)
    game = shapley.TableGame(table)
    assert game.dtype == np.float32
    phi = shapley.exact(game, method=method)
    assert phi.dtype == np.float64
    # The float32 values are exact in float64, so the float64 bound applies.
    expected = reference_phi(table.astype(np.float64), n)
    np.testing.assert_allclose(phi, expected, rtol=0, atol=kernel_bound(n, 1.0))


@pytest.mark.parametrize("n", [10, 13, 18])
def test_methods_agree_beyond_reference(n):
    rng = np.random.default_rng(n)
    table = rng.normal(size=(2**n, 2)) * 10.0
    M = float(np.abs(table).max())
    game = shapley.TableGame(table)
    by_subset = shapley.exact(game, method="subset")
    by_potential = shapley.exact(game, method="potential")
    np.testing.assert_allclose(by_subset, by_potential, rtol=0, atol=2 * kernel_bound(n, M))


@pytest.mark.parametrize("method", shapley.METHODS)
def test_glove_game(method):
    # One left glove (player 0) and two right gloves; a pair is worth 1.
    # The value is (2/3, 1/6, 1/6) (Wikipedia, "Shapley value", section
    # "Glove game").
    v = [min(mask & 1, ((mask >> 1) & 1) + ((mask >> 2) & 1)) for mask in range(8)]
    phi = shapley.exact(shapley.TableGame(v), method=method)
    np.testing.assert_allclose(phi, [2 / 3, 1 / 6, 1 / 6], rtol=0, atol=kernel_bound(3, 1.0))


@pytest.mark.parametrize("method", shapley.METHODS)
@pytest.mark.parametrize("n_right", [1, 4, 9])
def test_glove_game_many_right_gloves(method, n_right):
    # With one left glove and r right gloves, the left glove gets r / (r + 1)
    # and each right glove 1 / (r (r + 1)): the left glove is in every pair.
    n = n_right + 1
    v = [min(mask & 1, bin(mask >> 1).count("1")) for mask in range(2**n)]
    phi = shapley.exact(shapley.TableGame(v), method=method)
    expected = [n_right / (n_right + 1)] + [1 / (n_right * (n_right + 1))] * n_right
    np.testing.assert_allclose(phi, expected, rtol=0, atol=kernel_bound(n, 1.0))


def test_glove_game_reference_is_exact():
    v = [min(mask & 1, ((mask >> 1) & 1) + ((mask >> 2) & 1)) for mask in range(8)]
    phi = shapley_by_permutations(lambda S: Fraction(table_value(v, S)), 3)
    assert phi == [Fraction(2, 3), Fraction(1, 6), Fraction(1, 6)]


@pytest.mark.parametrize("method", shapley.METHODS)
def test_airport_game(method):
    # Littlechild and Owen (1973): a coalition pays for the longest runway
    # its planes need; costs 8, 11, 13, 18 give shares 2, 3, 4, 9.
    costs = [8.0, 11.0, 13.0, 18.0]
    c = [max([costs[i] for i in range(4) if (mask >> i) & 1], default=0.0) for mask in range(16)]
    phi = shapley.exact(shapley.TableGame(c), method=method)
    np.testing.assert_allclose(phi, [2.0, 3.0, 4.0, 9.0], rtol=0, atol=kernel_bound(4, 18.0))


@pytest.mark.parametrize("method", shapley.METHODS)
def test_airport_game_closed_form(method):
    # Littlechild and Owen (1973): with costs sorted c_1 <= ... <= c_n and
    # c_0 = 0, each runway segment (c_{k-1}, c_k] is shared equally by the
    # n - k + 1 planes that need it.
    n = 12
    rng = np.random.default_rng(11)
    costs = rng.permutation(np.cumsum(rng.uniform(0.5, 3.0, size=n)))
    c = np.zeros(2**n)
    for mask in range(1, 2**n):
        c[mask] = max(costs[i] for i in range(n) if (mask >> i) & 1)
    order = np.argsort(costs)
    segments = np.diff(np.concatenate([[0.0], costs[order]])) / (n - np.arange(n))
    expected = np.empty(n)
    expected[order] = np.cumsum(segments)
    phi = shapley.exact(shapley.TableGame(c), method=method)
    np.testing.assert_allclose(phi, expected, rtol=0, atol=kernel_bound(n, float(costs.max())))


def test_airport_game_reference_is_exact():
    costs = [8, 11, 13, 18]
    c = lambda S: Fraction(max([costs[i] for i in S], default=0))  # noqa: E731
    assert shapley_by_permutations(c, 4) == [2, 3, 4, 9]


def test_exact_output_shapes():
    rng = np.random.default_rng(3)
    assert shapley.exact(shapley.TableGame(rng.normal(size=8))).shape == (3,)
    assert shapley.exact(shapley.TableGame(rng.normal(size=(8, 1)))).shape == (3, 1)
    assert shapley.exact(shapley.TableGame(rng.normal(size=(8, 4)))).shape == (3, 4)


def test_exact_fortran_order_and_integer_tables():
    rng = np.random.default_rng(4)
    table = np.asfortranarray(rng.normal(size=(16, 3)))
    np.testing.assert_array_equal(
        shapley.exact(shapley.TableGame(table)),
        shapley.exact(shapley.TableGame(np.ascontiguousarray(table))),
    )
    integers = rng.integers(-5, 5, size=16)
    np.testing.assert_array_equal(
        shapley.exact(shapley.TableGame(integers)),
        shapley.exact(shapley.TableGame(integers.astype(np.float64))),
    )


@pytest.mark.parametrize("n_outputs", [None, 2])
def test_exact_result_independent_of_threads(n_outputs):
    # Each (player, output) sum runs on one thread in a fixed order, so the
    # parallel kernel, at any thread count, and the serial one agree bitwise.
    numba = pytest.importorskip("numba")
    from mathlearn.shapley import _kernels
    from mathlearn.shapley.exact import PARALLEL_MIN_TERMS
    from mathlearn.shapley.games import binomial_weights

    n = 17
    assert n * 2 ** (n - 1) >= PARALLEL_MIN_TERMS  # exact() takes the parallel kernel
    table = random_table(np.random.default_rng(5), n, n_outputs)
    game = shapley.TableGame(table)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = shapley.exact(game)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = shapley.exact(game)
    finally:
        numba.set_num_threads(before)
    serial = np.empty((n, 1 if n_outputs is None else n_outputs))
    _kernels.subset_phi_serial(table.reshape(2**n, -1), binomial_weights(n), serial)
    np.testing.assert_array_equal(one, many)
    np.testing.assert_array_equal(many, serial[:, 0] if n_outputs is None else serial)


class _QuadraticGame(shapley.Game):
    """v(S) = (sum of weights in S)**2, a game defined by values() only."""

    def __init__(self, weights):
        self.weights = np.asarray(weights, dtype=np.float64)
        self.n_players = len(weights)
        self.n_outputs = None

    def values(self, masks):
        masks = np.asarray(masks)
        bits = (masks[:, None] >> np.arange(self.n_players)) & 1
        return (bits @ self.weights) ** 2


@pytest.mark.parametrize("method", shapley.METHODS)
def test_exact_user_defined_game(method):
    weights = [1.0, 2.0, 3.0, 4.0, 5.0]
    n = len(weights)
    game = _QuadraticGame(weights)
    # For v(S) = (sum_{j in S} a_j)**2, phi_i = a_i * sum_j a_j: the
    # interaction a_i a_j is split equally between i and j.
    expected = np.array(weights) * sum(weights)
    phi = shapley.exact(game, method=method)
    np.testing.assert_allclose(phi, expected, rtol=0, atol=kernel_bound(n, 225.0))
    table = game.table()
    np.testing.assert_allclose(phi, reference_phi(table, n), rtol=0, atol=kernel_bound(n, 225.0))


def test_table_game_values_by_mask():
    table = np.arange(16.0)
    game = shapley.TableGame(table)
    assert game.n_players == 4
    assert game.n_outputs is None
    np.testing.assert_array_equal(game.values([0, mask_of({1, 3}), 15]), [0.0, 10.0, 15.0])
    assert not game.table().flags.writeable
