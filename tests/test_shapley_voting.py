"""Weighted voting games: Shapley-Shubik and Banzhaf indices against tables and published values."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from mathlearn import shapley
from mathlearn.shapley import voting
from mathlearn.reference.shapley import banzhaf_by_subsets, shapley_by_permutations

U = np.finfo(np.float64).eps / 2


def banzhaf_by_table(game):
    """Swings of each player counted from the full 0/1 table."""
    n = game.n_players
    table = game.table()
    masks = np.arange(2**n)
    return [int(np.sum(table[masks[masks & (1 << i) == 0] | (1 << i)] - table[masks[masks & (1 << i) == 0]])) for i in range(n)]


def test_three_player_game_exact_fractions():
    game = shapley.WeightedVotingGame(3, [2, 1, 1])
    assert shapley.shapley_shubik(game, fractions=True) == [Fraction(2, 3), Fraction(1, 6), Fraction(1, 6)]
    assert shapley.banzhaf(game, fractions=True) == [Fraction(3, 4), Fraction(1, 4), Fraction(1, 4)]


def test_reference_permutations_agree_with_fractions():
    game = shapley.WeightedVotingGame(7, [4, 3, 2, 1, 1, 0])
    table = game.table()
    expected = shapley_by_permutations(lambda S: Fraction(int(table[sum(1 << i for i in S)])), 6)
    assert shapley.shapley_shubik(game, fractions=True) == expected
    by_subsets = banzhaf_by_subsets(lambda S: int(table[sum(1 << i for i in S)]), 6)
    assert shapley.banzhaf(game, fractions=True) == by_subsets


def test_security_council_published_values():
    # UN Security Council: 5 permanent members with veto (weight 7), 10
    # others (weight 1), quota 39, with the often quoted indices 421/2145
    # and 4/2145. By hand: a non-permanent member swings exactly when all 5
    # permanent members and 3 of the other 9 vote yes, C(9, 3) = 84 times,
    # each with s = 8, so 84 * 8! 6! / 15! = 4/2145; a permanent member
    # swings with the other 4 and at least 4 of the 10, sum_{k>=4} C(10, k) = 848.
    game = shapley.WeightedVotingGame(39, [7] * 5 + [1] * 10)
    ss = shapley.shapley_shubik(game, fractions=True)
    assert ss[:5] == [Fraction(421, 2145)] * 5
    assert ss[5:] == [Fraction(4, 2145)] * 10
    swings = [b * 2**14 for b in shapley.banzhaf(game, fractions=True)]
    assert swings == [848] * 5 + [84] * 10
    normalized = shapley.banzhaf(game, normalized=True)
    np.testing.assert_allclose(normalized, [848 / 5080] * 5 + [84 / 5080] * 10, rtol=4 * U)


@pytest.mark.parametrize("seed", range(6))
def test_random_games_match_exact_table(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 12))
    weights = rng.integers(0, 9, size=n)
    quota = int(rng.integers(1, max(2, weights.sum()) + 1)) if weights.sum() else 1
    weights[0] = max(weights[0], 1)
    quota = min(quota, int(weights.sum()))
    game = shapley.WeightedVotingGame(quota, weights)
    phi = shapley.exact(game)
    # exact sums 2**(n-1) weighted 0/1 differences with weights summing to 1.
    np.testing.assert_allclose(shapley.shapley_shubik(game), phi, rtol=0, atol=2**n * U * 4)
    assert [b * 2 ** (n - 1) for b in shapley.banzhaf(game, fractions=True)] == banzhaf_by_table(game)


def test_float_and_fraction_paths_agree_beyond_int64():
    # n = 70 > 62 uses float64 distributions for the floats and Python
    # integers for the fractions; the float path errs by O(n W u) at most.
    rng = np.random.default_rng(3)
    weights = rng.integers(1, 6, size=70)
    game = shapley.WeightedVotingGame(int(weights.sum() * 2 // 3), weights)
    floats = shapley.shapley_shubik(game)
    exact = shapley.shapley_shubik(game, fractions=True)
    assert sum(exact) == 1
    W = int(weights.sum())
    np.testing.assert_allclose(floats, [float(f) for f in exact], rtol=0, atol=70 * W * U * 8)


def test_symmetric_game_many_players():
    # Every player has weight 1: by symmetry each Shapley-Shubik index is
    # 1/n, and the swings of each are C(n - 1, q - 1).
    n, quota = 1500, 800
    game = shapley.WeightedVotingGame(quota, [1] * n)
    beta = shapley.banzhaf(game, fractions=True)
    assert beta[0] == Fraction(math.comb(n - 1, quota - 1), 2 ** (n - 1))
    assert len(set(beta)) == 1


@pytest.mark.slow
def test_shapley_shubik_thousand_players_float():
    n = 1000
    weights = np.ones(n, dtype=np.int64)
    weights[0] = 50
    game = shapley.WeightedVotingGame(600, weights)
    phi = shapley.shapley_shubik(game)
    assert abs(phi.sum() - 1) < 1e-9
    np.testing.assert_allclose(phi[1:], phi[1], rtol=1e-9)


def test_symmetric_game_shapley_shubik_beyond_int64():
    n = 120
    game = shapley.WeightedVotingGame(61, [1] * n)
    np.testing.assert_allclose(shapley.shapley_shubik(game), 1 / n, rtol=1e-12)


def test_zero_weight_and_dictator():
    game = shapley.WeightedVotingGame(5, [5, 0, 3, 1])
    assert shapley.shapley_shubik(game, fractions=True) == [1, 0, 0, 0]
    assert shapley.banzhaf(game, fractions=True) == [1, 0, 0, 0]
    assert shapley.check_null_player(game, shapley.shapley_shubik(game), atol=0.0).checked == (1, 2, 3)


def test_voting_game_bad_input():
    with pytest.raises(TypeError, match="weights must be integers"):
        shapley.WeightedVotingGame(2, [1.5, 1.0])
    with pytest.raises(ValueError, match="weights must be non-negative; got -1 at index 1"):
        shapley.WeightedVotingGame(2, [3, -1])
    with pytest.raises(ValueError, match="quota must be <= 4; got 5"):
        shapley.WeightedVotingGame(5, [3, 1])
    with pytest.raises(ValueError, match="quota must be >= 1"):
        shapley.WeightedVotingGame(0, [3, 1])
    with pytest.raises(ValueError, match="weights must be a non-empty 1-D array"):
        shapley.WeightedVotingGame(1, [])
    with pytest.raises(TypeError, match="game must be a shapley.WeightedVotingGame"):
        shapley.shapley_shubik(shapley.TableGame([0, 1]))
    big = shapley.WeightedVotingGame(40, [1] * 70)
    with pytest.raises(ValueError, match="n_players must be <= 62"):
        big.values([0])


@pytest.mark.parametrize("seed", range(3))
def test_python_integer_counts_match_int64(seed):
    # The Python-integer paths serve n > 62; on small games they must give
    # the same swing counts as the int64 kernels.
    rng = np.random.default_rng(seed)
    weights = rng.integers(0, 7, size=11)
    weights[0] = 3
    quota = int(weights.sum() // 2 + 1)
    game = shapley.WeightedVotingGame(quota, weights)
    swings = voting._shapley_shubik_python(game.weights, quota)
    assert swings == voting._shapley_shubik_int64(game.weights, quota).tolist()
    banzhaf_swings = [b * 2**10 for b in shapley.banzhaf(game, fractions=True)]
    assert voting._banzhaf_python(game.weights, quota) == banzhaf_swings
