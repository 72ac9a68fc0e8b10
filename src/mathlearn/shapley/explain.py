"""Attributions of a model's predictions for many rows at once.

``explain(f, X, background)`` computes, for each row x of X, the Shapley
values of the interventional game v_x(S) = mean over background rows b of
f(x_S, b_{N minus S}) (``ModelGame``), exactly or by ``sample``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import as_generator, check_choice, check_int
from .exact import exact
from .games import ModelGame, TableGame, as_background, as_feature_array, check_table_size, features_equal
from .sampling import SAMPLING_METHODS, sample

EXPLAIN_METHODS = ("exact",) + SAMPLING_METHODS


@dataclass(frozen=True)
class Explanation:
    """Shapley values of a model at many rows.

    Attributes
    ----------
    values : ndarray, shape (N, n) or (N, n, k), float64
        ``values[r]`` contains the attributions of row r, and for a model with k
        outputs, ``values[r, :, j]`` explains output j.
    std_errors : ndarray, same shape as ``values``
        0 for exact values.
    base_values : ndarray, shape (N,) or (N, k), float64
        v_x(empty), the mean model output over the background, so that
        ``base_values + values.sum(axis=1)`` equals the model output at X
        up to rounding (efficiency).
    n_evaluations : int
        Game evaluations over all rows, each one K model calls.
    """

    values: np.ndarray
    std_errors: np.ndarray
    base_values: np.ndarray
    n_evaluations: int


def explain(
    f, X, background, method="exact", budget=None, max_background=None, seed=None, batch_size=None,
    mlp_kernel=None,
):
    """Explain a model's outputs at the rows of X against a background set.

    Parameters
    ----------
    f : callable
        Maps an array of shape (B, n) to (B,), (B, 1) or (B, k).
    X : array_like, shape (N, n)
        Rows to explain; N may be 0. Numeric (NaN allowed) or object.
    background : array_like, shape (K, n), K >= 1
    method : {"exact", "antithetic", "permutation", "stratified", "kernel"}
    budget : int, optional
        Game evaluations per row for the sampling methods (required there).
    max_background : int, optional
        Use a random subset of this many background rows, drawn without
        replacement with ``seed``, when K is larger.
    seed : None, int or numpy.random.Generator
        Seeds the background subset and the sampling.
    batch_size : int, optional
        Passed to ``ModelGame``.
    mlp_kernel : bool, optional
        Passed to ``ModelGame``. With the kernel (f a ``mathlearn.MLP`` or
        its ``forward``), method "exact" computes each row's table in C++
        and applies the subset formula to it. When the table would not fit
        in memory, it streams coalitions through f in Gray-code order
        instead.

    Returns
    -------
    Explanation

    Notes
    -----
    Features whose value in x equals every background row (NaN equal to
    NaN) are null players: they get exactly 0 and are left out of the game,
    so the other features form a game on fewer players.
    """
    check_choice(method, "method", EXPLAIN_METHODS)
    if method != "exact" and budget is None:
        raise ValueError(f"budget is required for method={method!r}; pass the game evaluations per row.")
    rng = as_generator(seed)
    X = as_feature_array(X, "X", ndim=2)
    background = as_background(background)
    n = background.shape[1]
    if X.shape[1] != n:
        raise ValueError(f"X must have {n} columns, one per background column; got shape {X.shape}.")
    if max_background is not None:
        max_background = check_int(max_background, "max_background", minimum=1)
        if background.shape[0] > max_background:
            keep = np.sort(rng.choice(background.shape[0], size=max_background, replace=False))
            background = background[keep]

    if X.shape[0] == 0:
        # Learn the output width from one call on the background.
        probe = ModelGame(f, background[0], background, batch_size=batch_size, mlp_kernel=mlp_kernel)
        shape = (0, n) if probe.n_outputs is None else (0, n, probe.n_outputs)
        base_shape = shape[:1] + shape[2:]
        return Explanation(np.zeros(shape), np.zeros(shape), np.zeros(base_shape), 0)

    values, errors, bases, evaluations = [], [], [], 0
    for x in X:
        varying = ~features_equal(background, x[None, :]).all(axis=0)
        game = ModelGame(f, x, background, batch_size=batch_size, mlp_kernel=mlp_kernel)
        base = np.asarray(game.values(np.zeros(1, dtype=np.int64))[0], dtype=np.float64)
        width = () if game.n_outputs is None else (game.n_outputs,)
        phi = np.zeros((n,) + width)
        se = np.zeros((n,) + width)
        players = np.flatnonzero(varying)
        if players.size:
            sub = game if players.size == n else _restricted(game, players)
            if method == "exact":
                phi[players] = _exact_values(game, sub, players)
                evaluations += 2 ** players.size
            else:
                estimate = sample(sub, budget, method=method, seed=rng)
                phi[players] = estimate.values
                se[players] = estimate.std_errors
                evaluations += estimate.n_evaluations
        values.append(phi)
        errors.append(se)
        bases.append(base)
    return Explanation(np.stack(values), np.stack(errors), np.stack(bases), evaluations)


def _exact_values(game: ModelGame, sub, players: np.ndarray) -> np.ndarray:
    """Return exact values of ``sub``, the game on ``players``, from the MLP kernel's table when it fits."""
    if game.uses_mlp_kernel:
        try:
            check_table_size(players.size, game.n_outputs, 1, "explain(method='exact')")
        except ValueError:
            pass  # too large for a table: stream the coalitions below instead
        else:
            return exact(TableGame(game.mlp_table(players)), method="subset")
    return exact(sub, method="gray")


class _restricted:
    """The game v_x on the given players only, the others fixed to the background.

    Coalition bit t is player ``players[t]``; the other features are null
    players, so fixing them outside every coalition leaves their values
    unchanged.
    """

    def __init__(self, game: ModelGame, players: np.ndarray):
        self.game = game
        self.players = players.astype(np.int64)
        self.n_players = players.size
        self.n_outputs = game.n_outputs

    def values(self, masks) -> np.ndarray:
        masks = np.asarray(masks, dtype=np.int64)
        full = np.zeros_like(masks)
        for t, player in enumerate(self.players):
            full |= ((masks >> t) & 1) << player
        return self.game.values(full)


__all__ = ["EXPLAIN_METHODS", "Explanation", "explain"]
