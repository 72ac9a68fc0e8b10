"""Policies: validation, the uniform policy, and greedy policies from q.

A stochastic policy is a matrix ``pi`` of shape (S, A) whose rows are
distributions, ``pi[s, a] = pi(a | s)``. A deterministic policy is an
integer vector of shape (S,) with one action per state.
"""

from __future__ import annotations

import numpy as np

from .._validation import _short, as_float_array
from .model import ROW_SUM_ATOL, FiniteMDP


def as_policy_matrix(pi, n_states: int, n_actions: int, name: str = "pi") -> np.ndarray:
    """Return ``pi`` as a float64 matrix of shape (S, A) after checking it.

    Parameters
    ----------
    pi : array_like
        Either shape (S, A) with rows that are distributions (entries >= 0,
        each row summing to 1 within 1e-10), or an integer array of shape (S,)
        with actions in ``0 .. A-1``.
    n_states, n_actions : int
        S and A of the model.
    name : str
        The argument name used in error messages.
    """
    arr = np.asarray(pi) if not isinstance(pi, np.ndarray) else pi
    if arr.ndim == 1:
        return _deterministic_matrix(arr, n_states, n_actions, name)

    matrix = as_float_array(pi, name, ndim=(1, 2), dtype=np.float64, finite=True)
    if matrix.shape != (n_states, n_actions):
        raise ValueError(
            f"{name} must have shape (S, A) = ({n_states}, {n_actions}) for probabilities or "
            f"(S,) = ({n_states},) for integer actions; got shape {matrix.shape}."
        )
    if matrix.min() < 0:
        s, a = np.unravel_index(int(np.argmin(matrix)), matrix.shape)
        raise ValueError(
            f"{name} must contain probabilities >= 0; got {float(matrix[s, a])!r} at s={s}, a={a}."
        )
    sums = matrix.sum(axis=1)
    deviation = np.abs(sums - 1.0)
    s = int(np.argmax(deviation))
    if deviation[s] > ROW_SUM_ATOL:
        raise ValueError(
            f"{name} rows must be distributions summing to 1 within {ROW_SUM_ATOL:g}; row "
            f"s={s} sums to {float(sums[s])!r}. Normalize the rows, e.g. "
            f"{name} / {name}.sum(axis=1, keepdims=True)."
        )
    return matrix


def _deterministic_matrix(actions: np.ndarray, n_states: int, n_actions: int, name: str) -> np.ndarray:
    if actions.dtype.kind not in "iu":
        raise TypeError(
            f"{name} of shape (S,) must contain integer actions; got dtype {actions.dtype} "
            f"({_short(actions)}). Convert with {name}.astype(int), or pass probabilities "
            "of shape (S, A)."
        )
    if actions.shape != (n_states,):
        raise ValueError(
            f"{name} of integer actions must have shape (S,) = ({n_states},); got shape "
            f"{actions.shape}."
        )
    bad = np.flatnonzero((actions < 0) | (actions >= n_actions))
    if bad.size:
        s = int(bad[0])
        raise ValueError(
            f"{name} must contain actions in 0 .. {n_actions - 1}; got {int(actions[s])} at s={s}."
        )
    matrix = np.zeros((n_states, n_actions))
    matrix[np.arange(n_states), actions] = 1.0
    return matrix


def action_mask(policy, n_states: int, n_actions: int) -> np.ndarray:
    """Return the (S, A) bool mask of the actions a policy takes, for drawing it.

    ``policy`` is an integer array (S,) of one action per state, or an array
    (S, A) of probabilities or booleans, whose positive entries are the
    actions taken.
    """
    policy = np.asarray(policy)
    if policy.shape == (n_states,) and policy.dtype.kind in "iu":
        if policy.size and (policy.min() < 0 or policy.max() >= n_actions):
            raise ValueError(
                f"policy must contain actions in 0 .. {n_actions - 1}; got values from "
                f"{int(policy.min())} to {int(policy.max())}."
            )
        mask = np.zeros((n_states, n_actions), dtype=bool)
        mask[np.arange(n_states), policy] = True
        return mask
    if policy.shape == (n_states, n_actions) and policy.dtype.kind in "bfiu":
        return policy > 0
    raise ValueError(
        f"policy must be integer actions of shape ({n_states},) or an array of shape "
        f"({n_states}, {n_actions}); got dtype {policy.dtype} and shape {policy.shape}."
    )


def uniform_policy(model: FiniteMDP) -> np.ndarray:
    """Return the equiprobable random policy, ``pi[s, a] = 1 / A``, shape (S, A)."""
    return np.full((model.n_states, model.n_actions), 1.0 / model.n_actions)


def greedy_actions(q: np.ndarray) -> np.ndarray:
    """Return the lowest index of a maximum in each row of ``q``, as int64 (S,)."""
    return np.argmax(q, axis=1).astype(np.int64)


def optimal_action_mask(q: np.ndarray, atol: float) -> np.ndarray:
    """Return the bool mask (S, A) of actions whose q is within ``atol`` of the row maximum."""
    return q >= q.max(axis=1, keepdims=True) - atol


def greedy_set_policy(mask) -> np.ndarray:
    """Return the policy that is uniform over a set of actions per state.

    Parameters
    ----------
    mask : array_like of bool, shape (S, A)
        The allowed actions, e.g. the optimal actions from
        :func:`mathlearn.mdp.optimal_actions`; at least one per state.

    Returns
    -------
    ndarray of float64, shape (S, A)
        ``pi[s, a] = 1 / |mask[s]|`` on the set and 0 elsewhere. Every such
        policy over optimal actions is optimal.
    """
    mask = np.asarray(mask)
    if mask.dtype != np.bool_ or mask.ndim != 2:
        raise TypeError(
            f"mask must be a bool array of shape (S, A); got dtype {mask.dtype} and shape "
            f"{mask.shape}."
        )
    counts = mask.sum(axis=1)
    if counts.size and counts.min() == 0:
        s = int(np.argmin(counts))
        raise ValueError(f"mask must allow at least one action per state; state s={s} has none.")
    return mask / counts[:, None]


def epsilon_greedy_policy(q, epsilon: float, ties: str = "lowest") -> np.ndarray:
    """Return the epsilon-greedy policy of action values ``q``.

    With probability ``1 - epsilon`` the greedy action, otherwise an action
    drawn uniformly from all A actions (Sutton and Barto, 2nd ed., section
    2.2), so ``pi[s, a] = epsilon / A + (1 - epsilon) [a greedy]``.

    Parameters
    ----------
    q : array_like, shape (S, A)
    epsilon : float
        Exploration probability in [0, 1].
    ties : {"lowest", "uniform"}
        ``"lowest"`` gives the greedy mass to the lowest index among exact
        maximizers; ``"uniform"`` splits it evenly among them.

    Returns
    -------
    ndarray of float64, shape (S, A)
    """
    from .._validation import check_choice, check_real

    q = as_float_array(q, "q", ndim=2, dtype=np.float64, finite=True)
    epsilon = check_real(epsilon, "epsilon", low=0.0, high=1.0)
    ties = check_choice(ties, "ties", ("lowest", "uniform"))
    n_states, n_actions = q.shape
    if ties == "lowest":
        greedy = np.zeros_like(q)
        greedy[np.arange(n_states), greedy_actions(q)] = 1.0
    else:
        greedy = greedy_set_policy(optimal_action_mask(q, 0.0))
    return epsilon / n_actions + (1.0 - epsilon) * greedy


def softmax_policy(q, temperature: float = 1.0) -> np.ndarray:
    """Return the softmax (Boltzmann) policy ``pi(a | s) ∝ exp(q[s, a] / temperature)``.

    Sutton and Barto, 2nd ed., section 13.1. The row maximum is subtracted
    before exponentiating, so large ``q / temperature`` does not overflow.

    Parameters
    ----------
    q : array_like, shape (S, A)
    temperature : float
        > 0. Small temperatures approach the greedy policy with ties split
        evenly; large ones approach the uniform policy.

    Returns
    -------
    ndarray of float64, shape (S, A)
    """
    from .._validation import check_real

    q = as_float_array(q, "q", ndim=2, dtype=np.float64, finite=True)
    temperature = check_real(temperature, "temperature", low=0.0, low_open=True)
    z = (q - q.max(axis=1, keepdims=True)) / temperature
    weights = np.exp(z)
    return weights / weights.sum(axis=1, keepdims=True)
