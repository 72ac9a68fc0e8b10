"""Pure-Python reference for the Bellman equations of a finite MDP.

Plain loops over Python floats, written as Sutton and Barto (Reinforcement
Learning, 2nd ed., chapter 4) state them. Arrays follow
:mod:`mathlearn.mdp`: ``P[a][s][s2] = Pr(s2 | s, a)``, ``R[s][a] = E[r | s, a]``,
``pi[s][a] = pi(a | s)``. Inputs may be nested lists or numpy arrays and
are not validated. Outputs are lists.
"""

from __future__ import annotations


def _as_lists(x):
    return x.tolist() if hasattr(x, "tolist") else x


def q_value(P, R, gamma, v, s, a):
    """Return ``R[s][a] + gamma * sum_s2 P[a][s][s2] v[s2]`` (section 4.2)."""
    expected_next = 0.0
    for s2 in range(len(v)):
        expected_next += P[a][s][s2] * v[s2]
    return R[s][a] + gamma * expected_next


def bellman_backup(P, R, gamma, v, s):
    """Return ``(max_a q(s, a), the lowest a attaining it)`` at state ``s`` (section 4.4)."""
    best_value = q_value(P, R, gamma, v, s, 0)
    best_action = 0
    for a in range(1, len(R[s])):
        value = q_value(P, R, gamma, v, s, a)
        if value > best_value:
            best_value = value
            best_action = a
    return best_value, best_action


def value_iteration_sweep(P, R, gamma, v):
    """Return ``T v`` as a list, every state backed up from the same ``v``."""
    P, R, v = _as_lists(P), _as_lists(R), _as_lists(v)
    return [bellman_backup(P, R, gamma, v, s)[0] for s in range(len(v))]


def greedy_policy(P, R, gamma, v):
    """Return the greedy policy of ``v`` as a list of actions, lowest index among ties."""
    P, R, v = _as_lists(P), _as_lists(R), _as_lists(v)
    return [bellman_backup(P, R, gamma, v, s)[1] for s in range(len(v))]


def value_iteration(P, R, gamma, epsilon, max_iter):
    """Iterate ``v <- T v`` from ``v = 0`` with the stopping rule of Puterman, Theorem 6.3.1.

    Stops at the first sweep whose sup-norm change is below
    ``epsilon (1 - gamma) / (2 gamma)``, or after ``max_iter`` sweeps.

    Returns
    -------
    v : list of float
        The last iterate.
    policy : list of int
        Greedy with respect to ``v``.
    n_iter : int
        Number of sweeps.
    delta : float
        Sup-norm change of the last sweep.
    """
    P, R = _as_lists(P), _as_lists(R)
    n_states = len(R)
    threshold = float("inf") if gamma == 0 else epsilon * (1 - gamma) / (2 * gamma)
    v = [0.0] * n_states
    n_iter = 0
    delta = float("inf")
    while n_iter < max_iter:
        v_new = value_iteration_sweep(P, R, gamma, v)
        delta = max(abs(v_new[s] - v[s]) for s in range(n_states))
        v = v_new
        n_iter += 1
        if delta < threshold:
            break
    return v, greedy_policy(P, R, gamma, v), n_iter, delta


def evaluate_policy_iterative(P, R, gamma, pi, tol):
    """Evaluate ``pi`` by the in-place sweep of Sutton and Barto, section 4.1.

    Each state is updated with the newest values of the others,
    ``v(s) <- sum_a pi(a|s) (R[s][a] + gamma sum_s2 P[a][s][s2] v(s2))``,
    until a whole sweep changes v by less than ``tol`` in the sup norm.
    That sweep is a gamma-contraction in the sup norm, so the result is
    within ``gamma tol / (1 - gamma)`` of ``v_pi``.

    Returns
    -------
    v : list of float
    n_sweeps : int
    """
    P, R, pi = _as_lists(P), _as_lists(R), _as_lists(pi)
    n_states = len(R)
    n_actions = len(R[0])
    v = [0.0] * n_states
    n_sweeps = 0
    while True:
        delta = 0.0
        for s in range(n_states):
            old = v[s]
            new = 0.0
            for a in range(n_actions):
                new += pi[s][a] * q_value(P, R, gamma, v, s, a)
            v[s] = new
            delta = max(delta, abs(new - old))
        n_sweeps += 1
        if delta < tol:
            return v, n_sweeps


def gauss_seidel_sweep(P, R, gamma, v):
    """Return v after one in-place sweep: state s backs up from the new values of 0 .. s-1.

    Gauss-Seidel value iteration (Puterman, Markov Decision Processes, 1994, chapter 6).
    """
    P, R = _as_lists(P), _as_lists(R)
    v = list(_as_lists(v))
    for s in range(len(v)):
        v[s] = bellman_backup(P, R, gamma, v, s)[0]
    return v


def table_value_iteration(table, n_states, n_actions, gamma, n_sweeps):
    """Run ``n_sweeps`` Jacobi sweeps on a Gymnasium table ``P[s][a]`` from v = 0.

    Each entry ``(prob, s_next, r, terminated)`` contributes
    ``prob * (r + gamma * v[s_next])``, without the value of ``s_next`` when
    ``terminated`` is true. Returns v as a list.
    """
    v = [0.0] * n_states
    for _ in range(n_sweeps):
        new = []
        for s in range(n_states):
            best = None
            for a in range(n_actions):
                total = 0.0
                for prob, s_next, r, terminated in table[s][a]:
                    total += prob * (r + (0.0 if terminated else gamma * v[s_next]))
                best = total if best is None else max(best, total)
            new.append(best)
        v = new
    return v
