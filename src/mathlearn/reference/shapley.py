"""Pure-Python reference for Shapley values and the model game.

The Shapley value of player i is the mean, over all n! orders of the
players, of the marginal contribution v(P u {i}) - v(P) of i to the set
P of players before i in the order (L. S. Shapley, A value for n-person
games, Contributions to the Theory of Games II, 1953). The code below
sums those n! terms one by one, so it is exact when v returns
``fractions.Fraction`` or ``int`` values, and slow: use it for n <= 8.
"""

from __future__ import annotations

import itertools
import math

import numpy as np


def mask_of(coalition) -> int:
    """Return the integer mask of a set of players: bit i is set when i is in it."""
    mask = 0
    for i in coalition:
        mask |= 1 << i
    return mask


def coalition_of(mask: int, n: int) -> frozenset:
    """Return the set of players whose bit is set in ``mask``, among players 0..n-1."""
    return frozenset(i for i in range(n) if (mask >> i) & 1)


def shapley_by_permutations(v, n: int) -> list:
    """Compute the Shapley values by averaging marginal contributions over all n! orders.

    Parameters
    ----------
    v : callable
        Maps a ``frozenset`` of players in 0..n-1 to a number, or to a
        sequence of m numbers for a vector game.
    n : int
        Number of players.

    Returns
    -------
    list
        ``phi[i]`` for i = 0..n-1: a number, or a list of m numbers for a
        vector game, in the arithmetic of the values of v.
    """
    totals = [None] * n
    for order in itertools.permutations(range(n)):
        before = frozenset()
        v_before = v(before)
        for i in order:
            with_i = before | {i}
            v_with_i = v(with_i)
            contribution = _subtract(v_with_i, v_before)
            totals[i] = contribution if totals[i] is None else _add(totals[i], contribution)
            before, v_before = with_i, v_with_i
    n_orders = math.factorial(n)
    return [_divide(total, n_orders) for total in totals]


def table_value(values, coalition):
    """Return v(coalition) from a table indexed by coalition mask.

    ``values[mask]`` is a number or a sequence of numbers.
    """
    return values[mask_of(coalition)]


def model_game_value(f, x, background, coalition):
    """Evaluate the interventional model game v_x at one coalition.

    v_x(S) = (1/K) sum_k f(z_k), where z_k takes feature j from x when j
    is in S and from background row k otherwise.

    Parameters
    ----------
    f : callable
        Maps an array of shape (B, n) to shape (B,) or (B, m).
    x : sequence of float, length n
    background : sequence of K rows, each of length n
    coalition : set of int

    Returns
    -------
    float or list of float
        A float when f returns shape (B,), a list of m floats otherwise.
    """
    n = len(x)
    total = None
    for row in background:
        z = [x[j] if j in coalition else row[j] for j in range(n)]
        out = np.asarray(f(np.array([z])))[0]
        value = float(out) if out.ndim == 0 else [float(entry) for entry in out]
        total = value if total is None else _add(total, value)
    return _divide(total, len(background))


def _add(a, b):
    if isinstance(a, list):
        return [a_k + b_k for a_k, b_k in zip(a, b)]
    return a + b


def _subtract(a, b):
    if isinstance(a, (list, tuple, np.ndarray)):
        return [a_k - b_k for a_k, b_k in zip(a, b)]
    return a - b


def _divide(a, d):
    if isinstance(a, list):
        return [a_k / d for a_k in a]
    return a / d


def banzhaf_by_subsets(v, n: int) -> list:
    """Compute the Banzhaf values beta_i = sum over S without i of (v(S u {i}) - v(S)) / 2**(n-1).

    The sum runs over all 2**(n-1) subsets S for each player, so it is
    exact for ``int`` or ``fractions.Fraction`` values of v (then the
    division returns Fractions when v does) and slow: use it for n <= 12.
    """
    from fractions import Fraction

    totals = []
    for i in range(n):
        others = [j for j in range(n) if j != i]
        total = 0
        for size in range(n):
            for S in itertools.combinations(others, size):
                coalition = frozenset(S)
                total = total + (v(coalition | {i}) - v(coalition))
        totals.append(Fraction(total, 2 ** (n - 1)) if isinstance(total, int) else total / 2 ** (n - 1))
    return totals
