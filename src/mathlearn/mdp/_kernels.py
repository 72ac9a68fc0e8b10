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


# ---------------------------------------------------------------------------
# Sweeps shared by value iteration, Gauss-Seidel and modified policy iteration.
#
# Every sweep reads ``v_in`` and writes ``v_out`` state by state and returns
# max_s |v_out[s] - v_in[s]| (the old value read before the write). Passing
# the same array as ``v_in`` and ``v_out`` makes the sweep Gauss-Seidel:
# state s then backs up from the new values of states 0 .. s-1. The CSR
# arrays describe P over state-action pairs, row ``s * A + a``.


# Rows hold few entries (10 in the benchmark model), too few for the 16-wide
# vector loop LLVM builds under reassociation, which then runs its scalar
# remainder. Two accumulators hide the latency of the additions instead, and
# "contract" lets each multiply-add round once (FMA).
@njit(cache=True, fastmath={"contract"})
def _csr_backup_state(indptr, indices, data, R, gamma, v, s, q_row):
    """Write q(s, .) into ``q_row`` and return (max_a q(s, a), lowest maximizing a)."""
    n_actions = R.shape[1]
    best_value = -np.inf
    best_action = 0
    row = s * n_actions
    start = indptr[row]
    for a in range(n_actions):
        stop = indptr[row + a + 1]
        even = 0.0
        odd = 0.0
        k = start
        while k + 1 < stop:
            even += data[k] * v[indices[k]]
            odd += data[k + 1] * v[indices[k + 1]]
            k += 2
        if k < stop:
            even += data[k] * v[indices[k]]
        start = stop
        value = R[s, a] + gamma * (even + odd)
        q_row[a] = value
        if value > best_value:
            best_value = value
            best_action = a
    return best_value, best_action


@njit(cache=True)
def csr_sweep_serial(indptr, indices, data, R, gamma, v_in, v_out, q, policy):
    """Bellman optimality sweep over CSR transitions on one thread (Jacobi or Gauss-Seidel)."""
    delta = 0.0
    for s in range(R.shape[0]):
        old = v_in[s]
        best_value, best_action = _csr_backup_state(indptr, indices, data, R, gamma, v_in, s, q[s])
        v_out[s] = best_value
        policy[s] = best_action
        delta = max(delta, abs(best_value - old))
    return delta


# States per parallel task: few enough tasks that scheduling and the final
# maximum cost little, enough that 2 threads share 1e5 states evenly.
CSR_BLOCK = 1024


@njit(cache=True, parallel=True)
def csr_sweep_parallel(indptr, indices, data, R, gamma, v_in, v_out, q, policy):
    """Jacobi Bellman optimality sweep over CSR transitions, blocks of states split across threads.

    ``v_in`` and ``v_out`` must be different arrays.
    """
    n_states = R.shape[0]
    n_blocks = (n_states + CSR_BLOCK - 1) // CSR_BLOCK
    change = np.zeros(n_blocks)
    for b in prange(n_blocks):
        block_change = 0.0
        for s in range(b * CSR_BLOCK, min(n_states, (b + 1) * CSR_BLOCK)):
            best_value, best_action = _csr_backup_state(indptr, indices, data, R, gamma, v_in, s, q[s])
            v_out[s] = best_value
            policy[s] = best_action
            block_change = max(block_change, abs(best_value - v_in[s]))
        change[b] = block_change
    return change.max()


@njit(cache=True)
def dense_gauss_seidel_sweep(P, R, gamma, v, q, policy):
    """Bellman optimality sweep over a dense P that updates ``v`` in place, state by state."""
    delta = 0.0
    for s in range(P.shape[1]):
        old = v[s]
        best_value, best_action = _backup_state(P, R, gamma, v, s, q[s])
        v[s] = best_value
        policy[s] = best_action
        delta = max(delta, abs(best_value - old))
    return delta


@njit(cache=True, fastmath={"reassoc"})
def dense_policy_sweep(P, R, gamma, policy, v_in, v_out):
    """Sweep ``v_out[s] = R[s, d(s)] + gamma sum_s' P[d(s), s, s'] v_in[s']`` for the policy d."""
    n_states = P.shape[1]
    delta = 0.0
    for s in range(n_states):
        a = policy[s]
        old = v_in[s]
        expected_next = 0.0
        for t in range(n_states):
            expected_next += P[a, s, t] * v_in[t]
        value = R[s, a] + gamma * expected_next
        v_out[s] = value
        delta = max(delta, abs(value - old))
    return delta


@njit(cache=True, parallel=True, fastmath={"reassoc"})
def dense_policy_sweep_parallel(P, R, gamma, policy, v_in, v_out):
    """Run :func:`dense_policy_sweep` with the states split across Numba threads.

    ``v_in`` and ``v_out`` must be different arrays. Each state reads one
    row of P, so a sweep reads S^2 entries instead of the A S^2 of an
    optimality sweep.
    """
    n_states = P.shape[1]
    change = np.empty(n_states)
    for s in prange(n_states):
        a = policy[s]
        expected_next = 0.0
        for t in range(n_states):
            expected_next += P[a, s, t] * v_in[t]
        value = R[s, a] + gamma * expected_next
        v_out[s] = value
        change[s] = abs(value - v_in[s])
    return change.max()


@njit(cache=True, fastmath={"reassoc"})
def csr_policy_sweep(indptr, indices, data, R, gamma, policy, v_in, v_out):
    """Sweep the policy operator of :func:`dense_policy_sweep` over CSR transitions."""
    n_actions = R.shape[1]
    delta = 0.0
    for s in range(R.shape[0]):
        a = policy[s]
        row = s * n_actions + a
        old = v_in[s]
        expected_next = 0.0
        for k in range(indptr[row], indptr[row + 1]):
            expected_next += data[k] * v_in[indices[k]]
        value = R[s, a] + gamma * expected_next
        v_out[s] = value
        delta = max(delta, abs(value - old))
    return delta


@njit(cache=True)
def trapped_states(pair_indptr, pair_indices, state_indptr, state_pairs, terminal, n_actions):
    """Find the largest set C of non-terminal states that some policy never leaves.

    ``pair_indptr``/``pair_indices`` are the CSR support of P over pairs
    (row ``s * A + a``) and ``state_indptr``/``state_pairs`` its CSC form,
    listing for each state t the pairs that can reach t. A state stays in
    C while at least one of its actions leads only into C. Removing a
    state from C can only remove more states, so one pass of a work list
    finds the fixed point in O(nnz).

    Returns
    -------
    in_set : ndarray of bool, shape (S,)
    action : ndarray of int64, shape (S,)
        For states in C, an action whose successors all lie in C.
    """
    n_states = terminal.shape[0]
    n_pairs = n_states * n_actions
    in_set = ~terminal
    outside = np.zeros(n_pairs, dtype=np.int64)
    for p in range(n_pairs):
        for k in range(pair_indptr[p], pair_indptr[p + 1]):
            if terminal[pair_indices[k]]:
                outside[p] += 1
    staying_actions = np.zeros(n_states, dtype=np.int64)
    for p in range(n_pairs):
        if outside[p] == 0:
            staying_actions[p // n_actions] += 1
    queue = np.empty(n_states, dtype=np.int64)
    queued = np.zeros(n_states, dtype=np.bool_)
    head = 0
    tail = 0
    for s in range(n_states):
        if in_set[s] and staying_actions[s] == 0:
            queue[tail] = s
            tail += 1
            queued[s] = True
    while head < tail:
        t = queue[head]
        head += 1
        in_set[t] = False
        for k in range(state_indptr[t], state_indptr[t + 1]):
            p = state_pairs[k]
            outside[p] += 1
            if outside[p] == 1:
                s = p // n_actions
                staying_actions[s] -= 1
                if staying_actions[s] == 0 and in_set[s] and not queued[s]:
                    queue[tail] = s
                    tail += 1
                    queued[s] = True
    action = np.full(n_states, -1, dtype=np.int64)
    for s in range(n_states):
        if in_set[s]:
            for a in range(n_actions):
                if outside[s * n_actions + a] == 0:
                    action[s] = a
                    break
    return in_set, action


@njit(cache=True)
def reach_terminal(state_indptr, state_pairs, terminal, n_actions):
    """Search backward from the terminal states over the support of P.

    Returns (reaches, action): ``reaches[s]`` is whether some action sequence
    leads from s to a terminal state with positive probability, and
    ``action[s]`` the action by which the search found s (-1 otherwise).
    Following ``action`` moves each state one step closer to a terminal
    state with positive probability, so that policy is proper.
    """
    n_states = terminal.shape[0]
    reaches = terminal.copy()
    action = np.full(n_states, -1, dtype=np.int64)
    queue = np.empty(n_states, dtype=np.int64)
    tail = 0
    for s in range(n_states):
        if terminal[s]:
            queue[tail] = s
            tail += 1
    head = 0
    while head < tail:
        t = queue[head]
        head += 1
        for k in range(state_indptr[t], state_indptr[t + 1]):
            p = state_pairs[k]
            s = p // n_actions
            if not reaches[s]:
                reaches[s] = True
                action[s] = p % n_actions
                queue[tail] = s
                tail += 1
    return reaches, action
