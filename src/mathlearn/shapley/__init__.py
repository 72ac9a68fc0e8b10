"""Shapley values of cooperative games, exact and sampled.

A cooperative game on the players N = {0, ..., n-1} is a map v from the
coalitions S of N to R or R^m. Coalitions are integer masks: bit i is set
when player i is in S. The Shapley value (Shapley 1953) is

    phi_i = sum over S not containing i of |S|! (n - |S| - 1)! / n!
            * (v(S u {i}) - v(S)).

Games
-----
``TableGame(values)``
    A game given by its 2**n table of values.
``ModelGame(f, x, background)``
    The interventional game of a model f at a point x,
    v_x(S) = mean over background rows b of f(x_S, b_{N minus S}).
``CallableGame(v, n_players)``
    A game given by a function v of a (k, n) bool array of coalitions,
    row r True at the players of coalition r, returning (k,) or (k, m).
``WeightedVotingGame(quota, weights)``
    v(S) = 1 when the integer weights of S sum to at least the quota.
``Game``
    Base class for user-defined games.

Values and checks
-----------------
``exact(game, method="subset" | "potential" | "gray")``
    Exact values in O(n 2**n); "gray" streams the coalitions in Gray-code
    order without storing the table.
``sample(game, budget, method="antithetic" | "permutation" | "stratified" | "kernel", seed)``
    Estimates with standard errors from at most ``budget`` evaluations.
``explain(f, X, background, method="exact", ...)``
    Attributions for every row of X, shape (N, n) or (N, n, k).
``shapley_shubik(game)``, ``banzhaf(game)``
    Power indices of a ``WeightedVotingGame`` by dynamic programming over
    the weights, as floats or exact fractions.
``check_efficiency``, ``check_symmetry``, ``check_null_player``, ``check_additivity``
    Axiom checks that raise ``AssertionError`` with the numbers.

The Numba kernels compile on their first call, not at import.
"""

from .axioms import AxiomCheck, check_additivity, check_efficiency, check_null_player, check_symmetry
from .exact import METHODS, exact
from .explain import EXPLAIN_METHODS, Explanation, explain
from .games import MAX_EXACT_PLAYERS, CallableGame, Game, ModelGame, TableGame, WeightedVotingGame
from .sampling import SAMPLING_METHODS, Estimate, SamplingWarning, minimum_budget, sample
from .voting import banzhaf, shapley_shubik

__all__ = [
    "AxiomCheck",
    "CallableGame",
    "EXPLAIN_METHODS",
    "Estimate",
    "Explanation",
    "Game",
    "MAX_EXACT_PLAYERS",
    "METHODS",
    "ModelGame",
    "SAMPLING_METHODS",
    "SamplingWarning",
    "TableGame",
    "WeightedVotingGame",
    "banzhaf",
    "check_additivity",
    "check_efficiency",
    "check_null_player",
    "check_symmetry",
    "exact",
    "explain",
    "minimum_budget",
    "sample",
    "shapley_shubik",
]
