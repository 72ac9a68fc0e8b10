"""Bellman operators, policy evaluation, value iteration and policy iteration.

Notation as in :mod:`mathlearn.mdp.model`: ``P`` (A, S, S), ``R`` (S, A),
``gamma`` in [0, 1). For a value function ``v`` (S,):

- ``q_v[s, a] = R[s, a] + gamma sum_s' P[a, s, s'] v[s']`` (Sutton and Barto,
  2nd ed., section 4.2);
- the Bellman optimality operator ``(T v)(s) = max_a q_v[s, a]``
  (section 4.4), a gamma-contraction in the sup norm, so ``T^k v``
  converges to the unique fixed point ``v*`` (Banach fixed-point theorem;
  Puterman, Markov Decision Processes, 1994, section 6.3);
- for a policy ``pi`` (S, A), ``v_pi`` is the unique solution of the linear
  system ``(I - gamma P_pi) v = r_pi`` with ``P_pi[s, s'] = sum_a pi[s, a]
  P[a, s, s']`` and ``r_pi[s] = sum_a pi[s, a] R[s, a]`` (section 4.1).

Ties: a greedy policy takes the lowest action index among the maximizers
of ``q_v[s, :]``, compared exactly in floating point.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .._validation import as_float_array, check_int, check_real
from .model import FiniteMDP
from .policies import as_policy_matrix, greedy_actions, optimal_action_mask

# With parallel=None, value iteration splits each sweep across Numba threads
# when the sweep has at least this many multiply-adds (A * S * S, here
# S = 500 and A = 8) and Numba has more than one thread. See the Notes of
# value_iteration for the measurements behind it.
PARALLEL_MIN_WORK = 2_000_000


class ConvergenceWarning(UserWarning):
    """Warning that an iterative solver stopped before its stopping rule held."""


@dataclass(frozen=True)
class SolverResult:
    """Result of :func:`value_iteration` or :func:`policy_iteration`.

    Attributes
    ----------
    v : ndarray of float64, shape (S,)
        The value function found.
    policy : ndarray of int64, shape (S,)
        A greedy policy with respect to ``v``.
    q : ndarray of float64, shape (S, A)
        ``q_v[s, a] = R[s, a] + gamma sum_s' P[a, s, s'] v[s']``.
    n_iter : int
        Sweeps of ``T`` (value iteration) or policy improvement steps
        (policy iteration).
    converged : bool
        Whether the stopping rule held within ``max_iter``.
    bound : float
        An upper bound on ``||v - v*||_inf``, valid whether or not the
        solver converged (see the solver's Notes).
    policy_bound : float
        An upper bound on ``||v_policy - v*||_inf``, the loss of following
        ``policy`` instead of an optimal policy.
    residual : float
        The sup-norm change of the last sweep (value iteration), or
        ``||T v - v||_inf`` (policy iteration).
    """

    v: np.ndarray
    policy: np.ndarray
    q: np.ndarray
    n_iter: int
    converged: bool
    bound: float
    policy_bound: float
    residual: float


def _check_model(model) -> FiniteMDP:
    if not isinstance(model, FiniteMDP):
        raise TypeError(
            f"model must be a mathlearn.mdp.FiniteMDP; got {type(model).__name__}. "
            "Build one with FiniteMDP(P, R, gamma)."
        )
    return model


def _check_values(model: FiniteMDP, v, name: str = "v") -> np.ndarray:
    v = as_float_array(v, name, ndim=1, dtype=np.float64, finite=True)
    if v.shape != (model.n_states,):
        raise ValueError(f"{name} must have shape (S,) = ({model.n_states},); got shape {v.shape}.")
    return v


def _q(model: FiniteMDP, v: np.ndarray) -> np.ndarray:
    # P @ v has shape (A, S): NumPy runs one matrix-vector product per action.
    return model.R + model.gamma * (model.P @ v).T


def q_from_v(model: FiniteMDP, v) -> np.ndarray:
    """Return the action values of ``v``, ``q[s, a] = R[s, a] + gamma sum_s' P[a, s, s'] v[s']``.

    Parameters
    ----------
    model : FiniteMDP
    v : array_like, shape (S,)

    Returns
    -------
    ndarray of float64, shape (S, A)
        Sutton and Barto, 2nd ed., section 4.2.
    """
    model = _check_model(model)
    return _q(model, _check_values(model, v))


def bellman_operator(model: FiniteMDP, v) -> np.ndarray:
    """Apply the Bellman optimality operator, ``(T v)(s) = max_a q_v[s, a]``.

    Parameters
    ----------
    model : FiniteMDP
    v : array_like, shape (S,)

    Returns
    -------
    ndarray of float64, shape (S,)
        Sutton and Barto, 2nd ed., section 4.4.
    """
    return q_from_v(model, v).max(axis=1)


def greedy_policy(model: FiniteMDP, v) -> np.ndarray:
    """Return a policy greedy with respect to ``v``, ``pi(s) = argmax_a q_v[s, a]``.

    Parameters
    ----------
    model : FiniteMDP
    v : array_like, shape (S,)

    Returns
    -------
    ndarray of int64, shape (S,)
        One action per state: the lowest index among the exact maximizers.
    """
    return greedy_actions(q_from_v(model, v))


def optimal_actions(model: FiniteMDP, v, atol: float = 0.0) -> np.ndarray:
    """Return the mask of actions that are greedy with respect to ``v``, up to ``atol``.

    Parameters
    ----------
    model : FiniteMDP
    v : array_like, shape (S,)
    atol : float
        Actions with ``q_v[s, a] >= max_a' q_v[s, a'] - atol`` count as greedy,
        >= 0. When ``v`` is within ``bound`` of ``v*``, each q is within
        ``gamma * bound`` of ``q*``, so an ``atol`` slightly above
        ``2 * gamma * bound`` (to cover round-off) keeps every optimal action.

    Returns
    -------
    ndarray of bool, shape (S, A)
        Pass it to ``GridWorld.format_policy`` to draw every optimal arrow.
    """
    atol = check_real(atol, "atol", low=0.0)
    return optimal_action_mask(q_from_v(model, v), atol)


def policy_matrices(model: FiniteMDP, pi) -> tuple[np.ndarray, np.ndarray]:
    """Return ``P_pi`` (S, S) and ``r_pi`` (S,) of a policy.

    ``P_pi[s, s'] = sum_a pi[s, a] P[a, s, s']`` and ``r_pi[s] = sum_a pi[s, a]
    R[s, a]``. ``pi`` is as in :func:`evaluate_policy`.
    """
    model = _check_model(model)
    pi = as_policy_matrix(pi, model.n_states, model.n_actions)
    P_pi = np.einsum("sa,ast->st", pi, model.P)
    r_pi = np.einsum("sa,sa->s", pi, model.R)
    return P_pi, r_pi


def evaluate_policy(model: FiniteMDP, pi) -> np.ndarray:
    """Return the value function ``v_pi`` by solving the Bellman equation of ``pi``.

    Solves the linear system ``(I - gamma P_pi) v = r_pi`` directly
    (Sutton and Barto, 2nd ed., section 4.1). The matrix is invertible because ``gamma < 1`` and
    ``P_pi`` is stochastic.

    Parameters
    ----------
    model : FiniteMDP
    pi : array_like, shape (S, A) or (S,)
        Probabilities ``pi[s, a] = pi(a | s)`` whose rows sum to 1 within
        1e-10, or an integer array of one action per state.

    Returns
    -------
    ndarray of float64, shape (S,)
    """
    P_pi, r_pi = policy_matrices(model, pi)
    # NOTE: a dense LU solve takes O(S^3) time and S^2 memory, so large
    # sparse models would need scipy.sparse.linalg instead.
    system = np.eye(model.n_states) - model.gamma * P_pi
    return np.linalg.solve(system, r_pi)


def _stopping_threshold(epsilon: float, gamma: float) -> float:
    if gamma == 0.0:
        # T v = max_a R does not depend on v, so one sweep is exact.
        return np.inf
    return epsilon * (1.0 - gamma) / (2.0 * gamma)


def value_iteration(
    model: FiniteMDP,
    epsilon: float = 1e-8,
    max_iter: int = 10_000,
    v0=None,
    parallel: bool | None = None,
) -> SolverResult:
    """Find an epsilon-optimal policy by value iteration, ``v_{k+1} = T v_k``.

    Parameters
    ----------
    model : FiniteMDP
    epsilon : float
        Target accuracy, > 0. Iteration stops at the first k with
        ``||v_{k+1} - v_k||_inf < epsilon (1 - gamma) / (2 gamma)``.
    max_iter : int
        Maximum number of sweeps, >= 1. It is never exceeded.
    v0 : array_like, shape (S,), optional
        Initial value function; zeros by default.
    parallel : bool or None
        Split each sweep over states across Numba threads (True), run it on
        one thread (False), or decide by size (None): parallel when
        ``A * S * S >= PARALLEL_MIN_WORK`` (2e6) and Numba has more than one
        thread. Both kernels give the same result up to round-off.

    Returns
    -------
    SolverResult
        ``v`` is the last iterate ``v_{k+1}``, ``policy`` is greedy with respect
        to it (lowest index among exact ties), ``n_iter`` counts the sweeps.

    Warns
    -----
    ConvergenceWarning
        When ``max_iter`` sweeps end before the stopping rule holds. The
        result then has ``converged=False`` and still carries valid bounds.

    Notes
    -----
    With ``delta = ||v_{k+1} - v_k||_inf``, the contraction property gives
    ``||v_{k+1} - v*||_inf <= gamma delta / (1 - gamma)`` (reported as
    ``bound``) and, for the greedy policy d, ``||v_d - v*||_inf <=
    2 gamma delta / (1 - gamma)`` (reported as ``policy_bound``). Under the
    stopping rule these are below epsilon / 2 and epsilon: the policy is
    epsilon-optimal (Puterman, 1994, Theorem 6.3.1). Both bounds assume
    exact arithmetic, and floating-point round-off adds about
    ``S * 2**-52 * max|v| / (1 - gamma)``.

    Each sweep is a dense Numba kernel over all states. It reads all of
    P once, so memory bandwidth bounds it. At S = 100 and S = 500 (A = 8)
    the serial kernel ran at about the speed of one ``numpy.sum`` over P.

    NOTE: the size threshold for ``parallel=None`` comes from timings
    with benchmarks/bench_mdp.py on a 2-core machine shared with other
    jobs (Numba 0.68, OpenMP layer), which were noisy. With the second
    core free, 2 threads made whole solves 2 to 2.7 times faster at
    S = 500 and S = 1000 (A = 8), and at S = 100 about equal. With the
    second core busy, they made them 2 to 10 times slower, because each
    sweep ends at a barrier that waits for the descheduled thread. On a
    loaded machine pass ``parallel=False`` or call
    ``mathlearn.set_num_threads(1)``.
    """
    model = _check_model(model)
    epsilon = check_real(epsilon, "epsilon", low=0.0, low_open=True)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    if v0 is None:
        v = np.zeros(model.n_states)
    else:
        v = _check_values(model, v0, "v0").copy()

    from . import _kernels  # Numba loads on first use, not on import.

    work = np.empty_like(v)
    q = np.empty((model.n_states, model.n_actions))
    policy = np.empty(model.n_states, dtype=np.int64)
    gamma = model.gamma
    threshold = _stopping_threshold(epsilon, gamma)

    if parallel is None:
        work_per_sweep = model.n_actions * model.n_states * model.n_states
        parallel = work_per_sweep >= PARALLEL_MIN_WORK and _numba_threads() > 1
    elif not isinstance(parallel, (bool, np.bool_)):
        raise TypeError(
            f"parallel must be True, False or None; got {parallel!r} of type "
            f"{type(parallel).__name__}."
        )
    kernel = _kernels.value_iteration_parallel if parallel else _kernels.value_iteration_serial
    n_iter, delta = kernel(model.P, model.R, gamma, threshold, max_iter, v, work, q, policy)

    converged = bool(delta < threshold)
    factor = gamma / (1.0 - gamma)
    if not converged:
        warnings.warn(
            f"value_iteration stopped after max_iter={max_iter} sweeps without meeting the "
            f"stopping rule: the last sweep changed v by {delta:.3g}, not below "
            f"{threshold:.3g} = epsilon (1 - gamma) / (2 gamma). The result is within "
            f"{factor * delta:.3g} of v*. Raise max_iter or epsilon.",
            ConvergenceWarning,
            stacklevel=2,
        )
    return SolverResult(
        v=v,
        policy=policy,
        q=q,
        n_iter=int(n_iter),
        converged=converged,
        bound=float(factor * delta),
        policy_bound=float(2.0 * factor * delta),
        residual=float(delta),
    )


def _numba_threads() -> int:
    import numba

    return numba.get_num_threads()


def policy_iteration(model: FiniteMDP, max_iter: int = 1_000, pi0=None) -> SolverResult:
    """Find an optimal policy by policy iteration (Howard's algorithm).

    Alternates exact evaluation of the policy (:func:`evaluate_policy`) and
    greedy improvement until no state can improve (Sutton and Barto, 2nd ed.,
    section 4.3; Puterman, 1994, section 6.4).

    Parameters
    ----------
    model : FiniteMDP
    max_iter : int
        Maximum number of improvement steps, >= 1. For a finite MDP policy
        iteration ends after at most A^S steps, and usually after a handful.
    pi0 : array_like of int, shape (S,), optional
        Initial deterministic policy; by default greedy with respect to
        ``v = 0``, that is ``argmax_a R[s, a]``.

    Returns
    -------
    SolverResult
        ``v`` is ``v_policy``, ``n_iter`` counts improvement steps.

    Warns
    -----
    ConvergenceWarning
        When ``max_iter`` steps end while the policy still improves.

    Notes
    -----
    Ties: the improvement step moves state s to the lowest-index maximizer
    of ``q[s, :]`` only when it beats the current action by more than
    ``4 S 2**-52 max(1, max|q|) / (1 - gamma)``. That is the size of the
    round-off of the linear solve: LU with partial pivoting has backward
    error of order S eps, and the condition number of ``I - gamma P_pi``
    in the sup norm is at most ``(1 + gamma) / (1 - gamma)``. The margin
    keeps round-off from making the policy cycle between tied actions.
    Among tied optimal actions the result therefore keeps the earlier one,
    which need not be the lowest index.

    ``bound`` is ``||T v - v||_inf / (1 - gamma)``, an upper bound on
    ``||v - v*||_inf`` for any v, because ``||v - v*|| <= ||v - T v|| +
    ||T v - T v*|| <= ||T v - v|| + gamma ||v - v*||``. Since
    ``v = v_policy`` here, it also bounds the policy's loss, and
    ``policy_bound`` equals ``bound``.
    """
    model = _check_model(model)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    n_states = model.n_states
    if pi0 is None:
        policy = greedy_actions(model.R)
    else:
        pi0 = np.asarray(pi0)
        as_policy_matrix(pi0, n_states, model.n_actions, name="pi0")
        if pi0.ndim != 1:
            raise ValueError(
                f"pi0 must be an integer array of one action per state, shape ({n_states},); "
                f"got shape {pi0.shape}."
            )
        policy = pi0.astype(np.int64)

    states = np.arange(n_states)
    eps = np.finfo(np.float64).eps
    n_iter = 0
    converged = False
    while True:
        v = evaluate_policy(model, policy)
        q = _q(model, v)
        candidate = greedy_actions(q)
        scale = max(1.0, float(np.abs(q).max()))
        margin = 4 * n_states * eps * scale / (1.0 - model.gamma)
        improves = q[states, candidate] > q[states, policy] + margin
        if not improves.any():
            converged = True
            break
        if n_iter == max_iter:
            break
        policy = np.where(improves, candidate, policy)
        n_iter += 1

    residual = float(np.abs(q.max(axis=1) - v).max())
    bound = residual / (1.0 - model.gamma)
    if not converged:
        warnings.warn(
            f"policy_iteration stopped after max_iter={max_iter} improvement steps while the "
            f"policy still improved; ||T v - v||_inf = {residual:.3g}, so v is within "
            f"{bound:.3g} of v*. Raise max_iter.",
            ConvergenceWarning,
            stacklevel=2,
        )
    return SolverResult(
        v=v,
        policy=policy,
        q=q,
        n_iter=n_iter,
        converged=converged,
        bound=bound,
        policy_bound=bound,
        residual=residual,
    )
