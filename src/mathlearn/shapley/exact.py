"""Exact Shapley values from the full table of coalition values.

For a game v on N = {0, ..., n-1}, the Shapley value (L. S. Shapley, A
value for n-person games, Contributions to the Theory of Games II, 1953) is

    phi_i = sum over S not containing i of |S|! (n - |S| - 1)! / n!
            * (v(S u {i}) - v(S)),

the unique value with efficiency, symmetry, null player and additivity.
Both methods here need the whole 2**n table first, then cost O(n 2**n)
operations in Numba kernels that accumulate in float64.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_choice, check_int
from .games import MAX_MASK_PLAYERS, ModelGame, TableGame, binomial_weights, check_table_size

METHODS = ("subset", "potential")

# The subset method runs in parallel from this many terms w(|S|) (v(S u i) - v(S))
# on, about 1 ms of serial work at roughly 1 ns per term. Below it, starting the
# thread pool can cost more than the work: on 2 cores shared with other jobs, a
# parallel launch took up to 8 ms (benchmarks/bench_shapley.py, n = 10).
PARALLEL_MIN_TERMS = 2**20


def exact(game, method: str = "subset") -> np.ndarray:
    """Compute the exact Shapley values of a game.

    Parameters
    ----------
    game : Game
        Any object with ``n_players``, ``n_outputs`` and ``table()`` or
        ``values(masks)``, such as ``TableGame`` or ``ModelGame``. The full
        table of 2**n values is built first; a ``ModelGame`` evaluates it
        in batches of hybrid rows.
    method : {"subset", "potential"}
        ``"subset"`` sums the weighted marginal contributions of each
        player (Shapley 1953), in parallel over players and outputs for
        large tables. ``"potential"``
        uses the recursion of the Hart and Mas-Colell potential
        (S. Hart and A. Mas-Colell, Potential, value, and consistency,
        Econometrica 57(3), 1989) on one thread and needs a second table
        of 2**n float64 values. Both give the same values up to rounding.

    Returns
    -------
    phi : ndarray, float64
        Shape (n,) for a scalar game and (n, m) for a game with
        ``n_outputs == m``, including m = 1. The values are float64 even
        for a float32 game, because they are accumulated in float64.

    Raises
    ------
    ValueError
        If n exceeds ``MAX_EXACT_PLAYERS`` (30) or the tables would not
        fit in the memory available. Both are checked before allocating.
        Also if the table of a user-defined game has the wrong shape or
        non-finite values.
    TypeError
        If ``game`` lacks the game interface.

    Examples
    --------
    >>> from mathlearn import shapley
    >>> shapley.exact(shapley.TableGame([0, 0, 0, 1, 0, 1, 0, 1]))  # glove game
    array([0.66666667, 0.16666667, 0.16666667])
    """
    check_choice(method, "method", METHODS)
    n, n_outputs = game_shape(game)
    owns_table = not isinstance(game, TableGame)
    n_tables = int(owns_table) + (1 if method == "potential" else 0)
    check_table_size(n, n_outputs, n_tables, f"exact(method={method!r})")

    table = full_table(game, n, n_outputs)
    width = 1 if n_outputs is None else n_outputs
    table = table.reshape(2**n, width)
    phi = np.empty((n, width), dtype=np.float64)

    from . import _kernels  # imports Numba here, not when mathlearn is imported

    if method == "subset":
        if n * 2 ** (n - 1) * width >= PARALLEL_MIN_TERMS:
            _kernels.subset_phi(table, binomial_weights(n), phi)
        else:
            _kernels.subset_phi_serial(table, binomial_weights(n), phi)
    else:
        P = np.empty((2**n, width), dtype=np.float64)
        _kernels.potential_phi(table, P, phi)
    return phi[:, 0] if n_outputs is None else phi


def game_shape(game) -> tuple[int, int | None]:
    """Return ``(n_players, n_outputs)`` of ``game`` after checking them."""
    if not hasattr(game, "n_players") or not (hasattr(game, "table") or hasattr(game, "values")):
        raise TypeError(
            f"game must have n_players, n_outputs and table() or values(masks), such as "
            f"shapley.TableGame or shapley.ModelGame; got {type(game).__name__}."
        )
    n = check_int(game.n_players, "game.n_players", minimum=1, maximum=MAX_MASK_PLAYERS)
    n_outputs = getattr(game, "n_outputs", None)
    if n_outputs is not None:
        n_outputs = check_int(n_outputs, "game.n_outputs", minimum=1)
    return n, n_outputs


def full_table(game, n: int, n_outputs: int | None) -> np.ndarray:
    """Return the table of ``game`` as a C-contiguous float32 or float64 array.

    The table of a user-defined game is checked for its shape and for
    non-finite values. Games of this package are checked as they are built.
    """
    if isinstance(game, TableGame):
        return game.table()  # checked when the game was built
    if isinstance(game, ModelGame):
        return game.table()  # each batch of f's output is checked
    if hasattr(game, "table"):
        raw = game.table()
    else:
        raw = game.values(np.arange(2**n, dtype=np.int64))
    table = as_float_array(raw, "game.table()", ndim=(1, 2))
    expected = (2**n,) if n_outputs is None else (2**n, n_outputs)
    if table.shape != expected:
        raise ValueError(
            f"game.table() must have shape {expected} for n_players={n} and "
            f"n_outputs={n_outputs}; got shape {table.shape}."
        )
    return table


__all__ = ["exact", "METHODS", "full_table", "game_shape"]
