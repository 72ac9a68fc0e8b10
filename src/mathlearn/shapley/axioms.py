"""Checks of the four Shapley axioms for a computed value phi.

Shapley (1953) characterises the value by efficiency, symmetry, null
player and additivity. Each check here returns an ``AxiomCheck`` when
phi satisfies the axiom within ``atol`` and raises ``AssertionError``
with the numbers when it does not, so it serves in tests and in user
code alike. ``atol`` is in the units of v.

Symmetry and null player have a premise (players i and j are
interchangeable, player i adds nothing). A premise counts as true when
it is true within ``atol`` on the full table. Under that premise the exact value
meets the conclusion within ``atol`` too, because phi_i - phi_j and phi_i
are averages of the premise's differences with weights that sum to 1.
A computed value adds its rounding error on top.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import as_float_array, check_real
from .exact import exact, full_table, game_shape
from .games import TableGame


@dataclass(frozen=True)
class AxiomCheck:
    """Result of a passed axiom check.

    Attributes
    ----------
    axiom : str
        "efficiency", "symmetry", "null player" or "additivity".
    max_error : float
        The largest violation found, in the units of v.
    atol : float
        The tolerance it was compared with.
    checked : tuple
        The players (null player) or pairs of players (symmetry) whose
        premise held and whose values were checked; empty for the others.
    """

    axiom: str
    max_error: float
    atol: float
    checked: tuple = ()


def check_efficiency(game, phi, atol) -> AxiomCheck:
    """Check that sum_i phi_i = v(N) - v(empty) within ``atol``.

    Parameters
    ----------
    game : Game
    phi : array_like, shape (n,) or (n, m)
    atol : float
        Absolute tolerance, >= 0.

    Raises
    ------
    AssertionError
        If some output of sum_i phi_i differs from v(N) - v(empty) by more than ``atol``.
    """
    n, n_outputs = game_shape(game)
    phi = _as_phi(phi, n, n_outputs)
    atol = check_real(atol, "atol", low=0.0)
    ends = np.array([0, 2**n - 1], dtype=np.int64)
    if hasattr(game, "values"):
        v = np.asarray(game.values(ends), dtype=np.float64)
    else:
        v = np.asarray(full_table(game, n, n_outputs)[ends], dtype=np.float64)
    expected = v[1] - v[0]
    total = phi.sum(axis=0)
    error = float(np.max(np.abs(total - expected)))
    if not error <= atol:
        raise AssertionError(
            f"efficiency fails: sum of phi = {total}, v(N) - v(empty) = {expected}, "
            f"difference {error:.3e} > atol {atol:.3e}."
        )
    return AxiomCheck("efficiency", error, atol)


def check_symmetry(game, phi, atol, pairs=None) -> AxiomCheck:
    """Check that interchangeable players get equal values within ``atol``.

    Players i and j are interchangeable when v(S u {i}) = v(S u {j})
    within ``atol`` for every S containing neither.

    Parameters
    ----------
    game : Game
    phi : array_like, shape (n,) or (n, m)
    atol : float
        Absolute tolerance, >= 0, for the premise and the conclusion.
    pairs : iterable of (int, int), optional
        The pairs to check. By default every interchangeable pair is
        found and checked.

    Raises
    ------
    ValueError
        If a given pair is not interchangeable, because the axiom makes no claim about it.
    AssertionError
        If an interchangeable pair has values further apart than ``atol``.
    """
    n, n_outputs = game_shape(game)
    phi = _as_phi(phi, n, n_outputs)
    atol = check_real(atol, "atol", low=0.0)
    table = _table_2d(game, n, n_outputs)
    masks = np.arange(2**n, dtype=np.int64)

    def premise_gap(i, j):
        both = (1 << i) | (1 << j)
        S = masks[(masks & both) == 0]
        return float(np.max(np.abs(table[S | (1 << i)] - table[S | (1 << j)])))

    if pairs is None:
        candidates = [(i, j) for i in range(n) for j in range(i + 1, n)]
        checked = [(i, j) for i, j in candidates if premise_gap(i, j) <= atol]
    else:
        checked = [_check_pair(pair, n) for pair in pairs]
        for i, j in checked:
            gap = premise_gap(i, j)
            if not gap <= atol:
                raise ValueError(
                    f"pairs: players {i} and {j} are not interchangeable, v(S u {{{i}}}) and "
                    f"v(S u {{{j}}}) differ by up to {gap:.3e} > atol {atol:.3e}, so symmetry "
                    f"makes no claim about them. Check only interchangeable pairs."
                )

    error = 0.0
    for i, j in checked:
        gap = float(np.max(np.abs(phi[i] - phi[j])))
        if not gap <= atol:
            raise AssertionError(
                f"symmetry fails: players {i} and {j} are interchangeable but phi[{i}] = "
                f"{phi[i]} and phi[{j}] = {phi[j]} differ by {gap:.3e} > atol {atol:.3e}."
            )
        error = max(error, gap)
    return AxiomCheck("symmetry", error, atol, tuple(checked))


def check_null_player(game, phi, atol, players=None) -> AxiomCheck:
    """Check that null players get value 0 within ``atol``.

    Player i is a null player when v(S u {i}) = v(S) within ``atol`` for
    every S not containing i.

    Parameters
    ----------
    game : Game
    phi : array_like, shape (n,) or (n, m)
    atol : float
        Absolute tolerance, >= 0, for the premise and the conclusion.
    players : iterable of int, optional
        The players to check. By default every null player is found and checked.

    Raises
    ------
    ValueError
        If a given player is not a null player.
    AssertionError
        If a null player has a value further from 0 than ``atol``.
    """
    n, n_outputs = game_shape(game)
    phi = _as_phi(phi, n, n_outputs)
    atol = check_real(atol, "atol", low=0.0)
    table = _table_2d(game, n, n_outputs)
    masks = np.arange(2**n, dtype=np.int64)

    def largest_contribution(i):
        S = masks[(masks & (1 << i)) == 0]
        return float(np.max(np.abs(table[S | (1 << i)] - table[S])))

    if players is None:
        checked = [i for i in range(n) if largest_contribution(i) <= atol]
    else:
        checked = [_check_player(i, n, "players") for i in players]
        for i in checked:
            gap = largest_contribution(i)
            if not gap <= atol:
                raise ValueError(
                    f"players: player {i} is not a null player, its marginal contribution "
                    f"reaches {gap:.3e} > atol {atol:.3e}. Check only null players."
                )

    error = 0.0
    for i in checked:
        size = float(np.max(np.abs(phi[i])))
        if not size <= atol:
            raise AssertionError(
                f"null player fails: player {i} adds nothing to any coalition but phi[{i}] = "
                f"{phi[i]}, |phi[{i}]| = {size:.3e} > atol {atol:.3e}."
            )
        error = max(error, size)
    return AxiomCheck("null player", error, atol, tuple(checked))


def check_additivity(v, w, atol, value=exact) -> AxiomCheck:
    """Check that value(v + w) = value(v) + value(w) within ``atol``.

    Parameters
    ----------
    v, w : Game
        Games with the same number of players and outputs.
    atol : float
        Absolute tolerance, >= 0.
    value : callable, default ``exact``
        Maps a game to its values, shape (n,) or (n, m).

    Raises
    ------
    ValueError
        If the games differ in ``n_players`` or ``n_outputs``.
    AssertionError
        If some entry of value(v + w) differs from value(v) + value(w) by more than ``atol``.
    """
    shape_v, shape_w = game_shape(v), game_shape(w)
    if shape_v != shape_w:
        raise ValueError(
            f"w must have the same (n_players, n_outputs) as v, {shape_v}; got {shape_w}."
        )
    atol = check_real(atol, "atol", low=0.0)
    n, n_outputs = shape_v
    total = TableGame(
        np.asarray(full_table(v, n, n_outputs), dtype=np.float64)
        + np.asarray(full_table(w, n, n_outputs), dtype=np.float64)
    )
    phi_v = np.asarray(value(v), dtype=np.float64)
    phi_w = np.asarray(value(w), dtype=np.float64)
    phi_total = np.asarray(value(total), dtype=np.float64)
    error = float(np.max(np.abs(phi_total - (phi_v + phi_w))))
    if not error <= atol:
        raise AssertionError(
            f"additivity fails: value(v + w) = {phi_total} but value(v) + value(w) = "
            f"{phi_v + phi_w}, largest difference {error:.3e} > atol {atol:.3e}."
        )
    return AxiomCheck("additivity", error, atol)


def _as_phi(phi, n: int, n_outputs: int | None) -> np.ndarray:
    phi = as_float_array(phi, "phi", ndim=(1, 2), dtype=np.float64)
    expected = (n,) if n_outputs is None else (n, n_outputs)
    if phi.shape != expected:
        raise ValueError(
            f"phi must have shape {expected} for a game with n_players={n} and "
            f"n_outputs={n_outputs}; got shape {phi.shape}."
        )
    return phi


def _table_2d(game, n: int, n_outputs: int | None) -> np.ndarray:
    return np.asarray(full_table(game, n, n_outputs), dtype=np.float64).reshape(2**n, -1)


def _check_player(i, n: int, name: str) -> int:
    if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
        raise TypeError(f"{name} must contain player indices (int); got {i!r}.")
    if not 0 <= i < n:
        raise ValueError(f"{name} must contain player indices in [0, {n - 1}]; got {i}.")
    return int(i)


def _check_pair(pair, n: int) -> tuple[int, int]:
    try:
        i, j = pair
    except (TypeError, ValueError):
        raise TypeError(f"pairs must contain pairs (i, j) of players; got {pair!r}.") from None
    i, j = _check_player(i, n, "pairs"), _check_player(j, n, "pairs")
    if i == j:
        raise ValueError(f"pairs must contain two different players; got ({i}, {j}).")
    return i, j
