"""Shapley values of cooperative games, computed exactly.

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
``Game``
    Base class for user-defined games.

Values and checks
-----------------
``exact(game, method="subset" | "potential")``
    Exact values in O(n 2**n) from the full table.
``check_efficiency``, ``check_symmetry``, ``check_null_player``, ``check_additivity``
    Axiom checks that raise ``AssertionError`` with the numbers.

The Numba kernels compile on the first call of ``exact``, not at import.
"""

from .axioms import AxiomCheck, check_additivity, check_efficiency, check_null_player, check_symmetry
from .exact import METHODS, exact
from .games import MAX_EXACT_PLAYERS, Game, ModelGame, TableGame

__all__ = [
    "AxiomCheck",
    "Game",
    "MAX_EXACT_PLAYERS",
    "METHODS",
    "ModelGame",
    "TableGame",
    "check_additivity",
    "check_efficiency",
    "check_null_player",
    "check_symmetry",
    "exact",
]
