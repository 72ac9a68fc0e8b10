"""Power indices of weighted voting games by dynamic programming over the weights.

In the game [q; w_0, ..., w_{n-1}] a coalition S wins when w(S) >= q.
Player i swings in a coalition S without i when w(S) < q <= w(S) + w_i.

- The Shapley-Shubik index (L. S. Shapley and M. Shubik, A method for
  evaluating the distribution of power in a committee system, APSR 48,
  1954) is the Shapley value of the game:
  phi_i = sum over s of s! (n - s - 1)! / n! * (swings of i in coalitions of size s).
- The Banzhaf value (J. F. Banzhaf, Weighted voting doesn't work, Rutgers
  Law Review 19, 1965) is beta_i = (swings of i) / 2**(n-1); the
  normalized Banzhaf index divides the swings by their sum over players.

Swings are counted by the generating-function recursion for subset sums
restricted to weights below q (S. Matsui and T. Matsui, A survey of
algorithms for calculating power indices of weighted majority games,
J. Oper. Res. Soc. Japan 43(1), 2000, section 5): O(n q) integer
operations for Banzhaf and O(n**2 q) for Shapley-Shubik. Then each
distinct weight is removed from the counts in O(q) or O(n q), because
players of equal weight are symmetric and get the same index.

Arithmetic by path:

- n <= 62: int64 counts in Numba. Every count is below 2**62, so they are
  exact, and the floats returned are each a correctly summed ratio of
  exact integers up to float64 rounding.
- n > 62, Banzhaf: Python integers, exact.
- n > 62, Shapley-Shubik: float64 distributions of coalition weight by
  size (see ``_voting_kernels.shapley_shubik_float``), O(n**2 W) with W
  the sum of the weights, or Python integers when ``fractions=True``.

``fractions=True`` returns ``fractions.Fraction`` values computed from
exact integer counts on every path.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from .._validation import check_memory
from .games import MAX_MASK_PLAYERS, WeightedVotingGame

# int64 counts are exact while C(n, s) and 2**n stay below 2**63.
MAX_INT64_PLAYERS = MAX_MASK_PLAYERS


def shapley_shubik(game: WeightedVotingGame, fractions: bool = False):
    """Compute the Shapley-Shubik index of every player of a weighted voting game.

    Parameters
    ----------
    game : WeightedVotingGame
    fractions : bool, default False
        Return a list of exact ``fractions.Fraction`` values instead of floats.

    Returns
    -------
    ndarray of shape (n,), float64, or list of n Fraction
        The values sum to 1 (exactly with ``fractions=True``).

    Notes
    -----
    Cost O(n**2 q) time and O(n q) memory per thread for n <= 62 or with
    ``fractions=True`` (Python integers, far slower), and O(n**2 W) time
    with W the sum of the weights for larger n in float64.
    """
    quota, weights, n = _game_parts(game)
    if n <= MAX_INT64_PLAYERS:
        swings = _shapley_shubik_int64(weights, quota)
        if fractions:
            return [
                sum((Fraction(int(c), n * math.comb(n - 1, s)) for s, c in enumerate(row)), Fraction(0))
                for row in swings
            ]
        return np.array([_sum_ratios(row, n) for row in swings], dtype=np.float64)
    if fractions:
        swings = _shapley_shubik_python(weights, quota)
        return [
            sum((Fraction(c, n * math.comb(n - 1, s)) for s, c in enumerate(row)), Fraction(0))
            for row in swings
        ]
    total = int(weights.sum())
    check_memory(
        (n + 1) * (total + 1) * 8 * 3,
        f"shapley_shubik with n={n} players and total weight {total}",
        "Pass fractions=True for the Python-integer path, which needs O(n q) memory.",
    )
    from . import _voting_kernels

    A = _voting_kernels.size_weight_distribution(weights, total)
    targets, player_target = np.unique(weights, return_inverse=True)
    phi = np.empty(targets.shape[0], dtype=np.float64)
    _voting_kernels.shapley_shubik_float(A, targets, quota, phi)
    return phi[player_target]


def banzhaf(game: WeightedVotingGame, normalized: bool = False, fractions: bool = False):
    """Compute the Banzhaf value or the normalized Banzhaf index of every player.

    Parameters
    ----------
    game : WeightedVotingGame
    normalized : bool, default False
        False gives beta_i = swings_i / 2**(n-1). True divides the swings
        by their sum, so the values sum to 1 (all zeros when no player
        ever swings).
    fractions : bool, default False
        Return a list of exact ``fractions.Fraction`` values instead of floats.

    Returns
    -------
    ndarray of shape (n,), float64, or list of n Fraction
    """
    quota, weights, n = _game_parts(game)
    if n <= MAX_INT64_PLAYERS:
        from . import _voting_kernels

        C = _voting_kernels.count_by_weight(weights, quota)
        targets, player_target = np.unique(weights, return_inverse=True)
        swings_arr = np.empty(targets.shape[0], dtype=np.int64)
        _voting_kernels.banzhaf_swings(C, targets, quota, swings_arr)
        swings = [int(c) for c in swings_arr[player_target]]
    else:
        swings = _banzhaf_python(weights, quota)
    denominator = sum(swings) if normalized else 2 ** (n - 1)
    if denominator == 0:
        values = [Fraction(0)] * n
    else:
        values = [Fraction(c, denominator) for c in swings]
    if fractions:
        return values
    return np.array([float(v) for v in values], dtype=np.float64)


def _game_parts(game):
    if not isinstance(game, WeightedVotingGame):
        raise TypeError(
            f"game must be a shapley.WeightedVotingGame; got {type(game).__name__}. Build one with "
            f"WeightedVotingGame(quota, weights)."
        )
    weights = np.ascontiguousarray(game.weights, dtype=np.int64)
    check_memory(
        game.quota * 8 * 4,
        f"the weight counts up to quota {game.quota}",
        "The dynamic program needs memory proportional to the quota.",
    )
    return int(game.quota), weights, game.n_players


def _shapley_shubik_int64(weights: np.ndarray, quota: int) -> np.ndarray:
    from . import _voting_kernels

    n = weights.shape[0]
    check_memory(
        (n + 1) * quota * 8 * 3,
        f"shapley_shubik with n={n} players and quota {quota}",
        "Lower the quota by dividing all weights and the quota by a common factor.",
    )
    C = _voting_kernels.count_by_size_and_weight(weights, quota)
    targets, player_target = np.unique(weights, return_inverse=True)
    swings = np.empty((targets.shape[0], n), dtype=np.int64)
    _voting_kernels.shapley_shubik_swings(C, targets, quota, swings)
    return swings[player_target]


def _sum_ratios(counts, n: int) -> float:
    # Each term is an exact integer ratio rounded once; Fraction keeps the sum exact.
    total = sum((Fraction(int(c), n * math.comb(n - 1, s)) for s, c in enumerate(counts) if c), Fraction(0))
    return float(total)


def _banzhaf_python(weights: np.ndarray, quota: int) -> list:
    """Return the swings of each player with Python-integer counts (any n)."""
    C = _counts_python(weights, quota)
    by_weight = {}
    for wi in sorted({int(w) for w in weights}):
        if wi == 0:
            by_weight[wi] = 0
            continue
        D = _remove_player(C, wi, quota)
        by_weight[wi] = int(sum(D[max(0, quota - wi) :]))
    return [by_weight[int(w)] for w in weights]


def _counts_python(weights: np.ndarray, quota: int) -> np.ndarray:
    C = np.array([0] * quota, dtype=object)
    C[0] = 1
    for wj in (int(w) for w in weights):
        if wj < quota:
            # The right side is evaluated before the assignment, so it uses the old counts.
            C[wj:] = C[wj:] + C[: quota - wj]
    return C


def _remove_player(C: np.ndarray, wi: int, quota: int) -> np.ndarray:
    D = C.copy()
    if wi >= quota:
        return D
    # D[w] = C[w] - D[w - wi], solved in blocks of wi consecutive weights.
    for start in range(wi, quota, wi):
        stop = min(start + wi, quota)
        D[start:stop] = C[start:stop] - D[start - wi : stop - wi]
    return D


def _shapley_shubik_python(weights: np.ndarray, quota: int) -> list:
    """Return swings[i][s] with Python-integer counts (any n, O(n**2 q) object operations)."""
    n = weights.shape[0]
    C = np.zeros((n + 1, quota), dtype=object)
    C[0, 0] = 1
    for j, wj in enumerate(int(w) for w in weights):
        if wj < quota:
            C[1 : j + 2, wj:] = C[1 : j + 2, wj:] + C[0 : j + 1, : quota - wj]
    by_weight = {}
    for wi in sorted({int(w) for w in weights}):
        if wi == 0:
            by_weight[wi] = [0] * n
            continue
        D = C[:n].copy()
        if wi < quota:
            for s in range(1, n):
                D[s, wi:] = C[s, wi:] - D[s - 1, : quota - wi]
        low = max(0, quota - wi)
        by_weight[wi] = [int(sum(D[s, low:])) for s in range(n)]
    return [by_weight[int(w)] for w in weights]


__all__ = ["banzhaf", "shapley_shubik"]
