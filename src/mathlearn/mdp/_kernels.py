"""Numba kernels for the dense Bellman optimality sweep.

All arrays are C-contiguous float64 (int64 for policies) and allocated by
the caller: ``P`` (A, S, S), ``R`` (S, A), ``v`` and ``work`` (S,), ``q``
(S, A), ``policy`` (S,). The kernels compile on first call and are cached
on disk (``cache=True``), so importing this module costs no compilation.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


# Reassociation lets LLVM vectorize the dot product with several partial
# sums. The sum then differs from sequential order only by round-off.
@njit(cache=True, fastmath={"reassoc"})
def _backup_state(P, R, gamma, v, s, q_row):
    """Write q(s, .) into ``q_row`` and return (max_a q(s, a), lowest maximizing a)."""
    n_actions = P.shape[0]
    n_states = P.shape[1]
    best_value = -np.inf
    best_action = 0
    for a in range(n_actions):
        expected_next = 0.0
        for t in range(n_states):
            expected_next += P[a, s, t] * v[t]
        value = R[s, a] + gamma * expected_next
        q_row[a] = value
        # Strict comparison keeps the lowest index among exact ties.
        if value > best_value:
            best_value = value
            best_action = a
    return best_value, best_action


@njit(cache=True)
def sweep_serial(P, R, gamma, v, v_new, q, policy):
    """Set ``v_new = T v``, q and the greedy policy at ``v``, and return ``||v_new - v||_inf``."""
    delta = 0.0
    for s in range(P.shape[1]):
        best_value, best_action = _backup_state(P, R, gamma, v, s, q[s])
        v_new[s] = best_value
        policy[s] = best_action
        delta = max(delta, abs(best_value - v[s]))
    return delta


@njit(cache=True, parallel=True)
def sweep_parallel(P, R, gamma, v, v_new, q, policy):
    """Run :func:`sweep_serial` with the states split across Numba threads."""
    n_states = P.shape[1]
    change = np.empty(n_states)
    for s in prange(n_states):
        best_value, best_action = _backup_state(P, R, gamma, v, s, q[s])
        v_new[s] = best_value
        policy[s] = best_action
        change[s] = abs(best_value - v[s])
    return change.max()


@njit(cache=True)
def value_iteration_serial(P, R, gamma, threshold, max_iter, v, work, q, policy):
    """Iterate ``v <- T v`` in place until a sweep changes v by less than ``threshold``.

    Runs at most ``max_iter`` sweeps. On return ``v`` is the last iterate,
    ``q`` and ``policy`` are q and the greedy policy at that iterate, and the
    result is (number of sweeps, sup-norm change of the last sweep).
    """
    n_iter = 0
    delta = np.inf
    current = v
    other = work
    while n_iter < max_iter:
        delta = sweep_serial(P, R, gamma, current, other, q, policy)
        current, other = other, current
        n_iter += 1
        if delta < threshold:
            break
    # One more backup gives q and the greedy policy at the returned iterate.
    # It also writes T of that iterate into the scratch buffer, which is discarded.
    sweep_serial(P, R, gamma, current, other, q, policy)
    if n_iter % 2 == 1:
        v[:] = current
    return n_iter, delta


@njit(cache=True, parallel=True)
def value_iteration_parallel(P, R, gamma, threshold, max_iter, v, work, q, policy):
    """Run :func:`value_iteration_serial` with each sweep split across Numba threads."""
    n_states = P.shape[1]
    change = np.empty(n_states)
    n_iter = 0
    delta = np.inf
    current = v
    other = work
    while n_iter < max_iter:
        for s in prange(n_states):
            best_value, best_action = _backup_state(P, R, gamma, current, s, q[s])
            other[s] = best_value
            policy[s] = best_action
            change[s] = abs(best_value - current[s])
        delta = change.max()
        current, other = other, current
        n_iter += 1
        if delta < threshold:
            break
    for s in prange(n_states):
        best_value, best_action = _backup_state(P, R, gamma, current, s, q[s])
        policy[s] = best_action
    if n_iter % 2 == 1:
        v[:] = current
    return n_iter, delta
