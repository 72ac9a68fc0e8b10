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

METHODS = ("subset", "potential", "gray")

# Coalitions per call of game.values and per kernel call in the "gray" method.
GRAY_CHUNK = 2**16

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
    method : {"subset", "potential", "gray"}
        ``"subset"`` sums the weighted marginal contributions of each
        player (Shapley 1953), in parallel over players and outputs for
        large tables. ``"potential"``
        uses the recursion of the Hart and Mas-Colell potential
        (S. Hart and A. Mas-Colell, Potential, value, and consistency,
        Econometrica 57(3), 1989) on one thread and needs a second table
        of 2**n float64 values. ``"gray"`` evaluates the coalitions in
        Gray-code order, in chunks of 65536, and adds each v(S) to the sums
        of the subset formula at once. A ``ModelGame`` or ``CallableGame``
        is then never stored as a full table, so memory is O(n m + chunk)
        instead of O(2**n m). All three give the same
        values up to rounding.

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
    if isinstance(game, TableGame):
        game.check_finite()
    owns_table = not isinstance(game, TableGame)
    n_tables = int(owns_table) + (1 if method == "potential" else 0)
    if method == "gray":
        n_tables = 0
    check_table_size(n, n_outputs, n_tables, f"exact(method={method!r})")
    if method == "gray":
        return _gray_exact(game, n, n_outputs)

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


def _gray_exact(game, n: int, n_outputs: int | None) -> np.ndarray:
    """Return exact values by streaming coalitions in Gray-code order (method "gray")."""
    # NOTE: a ModelGame of a mathlearn.MLP is evaluated through f here, not by
    # the C++ kernel, which writes whole tables only. Methods "subset" and
    # "potential" use the kernel.
    from . import _kernels

    width = 1 if n_outputs is None else n_outputs
    weights = np.append(binomial_weights(n), 0.0)
    inside = np.zeros((n, width), dtype=np.float64)
    outside = np.zeros(width, dtype=np.float64)
    v_empty = _values_2d(game, np.zeros(1, dtype=np.int64), n, width)[0].astype(np.float64)
    for first in range(0, 2**n, GRAY_CHUNK):
        r = np.arange(first, min(first + GRAY_CHUNK, 2**n), dtype=np.int64)
        values = _values_2d(game, r ^ (r >> 1), n, width)
        _kernels.gray_accumulate(values, first, v_empty, weights, inside, outside)
    phi = inside - outside
    return phi[:, 0] if n_outputs is None else phi


def _values_2d(game, masks: np.ndarray, n: int, width: int) -> np.ndarray:
    """Return game values at masks as a C-contiguous (k, width) float array, checked."""
    if isinstance(game, TableGame):
        return np.ascontiguousarray(game.table().reshape(2**n, width)[masks])
    if hasattr(game, "values"):
        raw = game.values(masks)
    else:
        raw = full_table(game, n, None if width == 1 and getattr(game, "n_outputs", None) is None else width)[masks]
    out = as_float_array(raw, "game.values(masks)", ndim=(1, 2))
    if out.shape[0] != masks.shape[0] or out.size != masks.shape[0] * width:
        raise ValueError(
            f"game.values(masks) must return {masks.shape[0]} rows of {width} value(s); got shape {out.shape}."
        )
    return out.reshape(masks.shape[0], width)


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
        return game.table()  # exact checks it for NaN and inf first
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
