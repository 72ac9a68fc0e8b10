"""Bellman operators, policy evaluation, value iteration and policy iteration.

Notation as in :mod:`mathlearn.mdp.model`: ``P``, ``R`` (S, A), ``gamma``
in [0, 1]. For a value function ``v`` (S,):

- ``q_v[s, a] = R[s, a] + gamma sum_s' P(s' | s, a) v[s']`` (Sutton and
  Barto, 2nd ed., section 4.2);
- the Bellman optimality operator ``(T v)(s) = max_a q_v[s, a]``
  (section 4.4), a gamma-contraction in the sup norm, so ``T^k v``
  converges to the unique fixed point ``v*`` (Banach fixed-point theorem;
  Puterman, Markov Decision Processes, 1994, section 6.3);
- for a policy ``pi`` (S, A), ``v_pi`` is the unique solution of the linear
  system ``(I - gamma P_pi) v = r_pi`` with ``P_pi[s, s'] = sum_a pi[s, a]
  P(s' | s, a)`` and ``r_pi[s] = sum_a pi[s, a] R[s, a]`` (section 4.1).

Error bounds. Write ``rho = ||T v - v||_inf`` for the Bellman residual of
``v`` and ``M`` for a bound on the expected (discounted) number of steps
until termination, ``M = 1 / (1 - gamma)`` when ``gamma < 1``. Then

- ``||v - v*||_inf <= rho M`` and ``||T v - v*||_inf <= rho (M - 1)``;
- the greedy policy d of ``v`` loses ``||v_d - v*||_inf <= 2 rho (M - 1)``.

Proof sketch: with ``m`` the vector of maximal expected steps, ``m = 1 +
max_a P_a m`` on non-terminal states, so ``T(v + rho m) <= T v + rho (m -
1) <= v + rho m``; monotonicity of T gives ``v* <= v + rho m``, and the
other side is the same with ``-rho m``. For ``gamma < 1`` this is the
bound of Puterman, Theorem 6.3.1. When ``gamma = 1`` and every policy
terminates (``model.episodic == "proper"``), ``M`` is the largest expected
number of steps, computed once per model by policy iteration. When some
policy never terminates but all rewards are at most ``-c < 0``
(``"costly"``), the optimal policy and the greedy policy of v take at most
``K = ||v||_inf / (c - rho)`` expected steps while ``rho < c``, and every
bound above holds with ``M - 1`` and ``M`` both replaced by ``K``.

The reported bounds add the float64 rounding of the computed residual:
``rho`` is computed with an error of at most ``delta = (k + 4) eps
(||R||_inf + ||v||_inf)``, where k is the largest number of nonzero
entries in a row of P, so a residual that rounds to 0 still gives a
positive bound of order ``eps ||v||_inf M``.

Ties: a greedy policy takes the lowest action index among the maximizers
of ``q_v[s, :]``, compared exactly in floating point.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .._validation import as_float_array, check_choice, check_int, check_real
from .model import FiniteMDP
from .policies import as_policy_matrix, greedy_actions, optimal_action_mask

# With parallel=None, value iteration splits each sweep across Numba threads
# when the sweep has at least this many multiply-adds (A * S * S for a dense
# model, nnz for a sparse one; here S = 500 and A = 8) and Numba has more
# than one thread. See the Notes of value_iteration for the measurements.
PARALLEL_MIN_WORK = 2_000_000

#: Largest number of (transient) states that policy evaluation solves by LU
#: factorization when ``method="auto"`` and the model is sparse. Sparse LU
#: of a random transition graph fills in, so larger systems use a Krylov solver.
DIRECT_MAX_STATES = 2_000

_EPS = float(np.finfo(np.float64).eps)


class ConvergenceWarning(UserWarning):
    """Warning that an iterative solver stopped before its stopping rule held."""


@dataclass(frozen=True)
class SolverResult:
    """Result of :func:`value_iteration`, :func:`policy_iteration` or
    :func:`modified_policy_iteration`.

    Attributes
    ----------
    v : ndarray of float64, shape (S,)
        The value function found.
    policy : ndarray of int64, shape (S,)
        A greedy policy with respect to ``v``.
    q : ndarray of float64, shape (S, A)
        ``q_v[s, a] = R[s, a] + gamma sum_s' P(s' | s, a) v[s']``.
    n_iter : int
        Sweeps of ``T`` (value iteration), or policy improvement steps
        (policy iteration and modified policy iteration).
    converged : bool
        Whether the stopping rule held within ``max_iter``.
    bound : float
        An upper bound on ``||v - v*||_inf``, valid whether or not the
        solver converged (see the module docstring).
    policy_bound : float
        An upper bound on ``||v_policy - v*||_inf``, the loss of following
        ``policy`` instead of an optimal policy.
    residual : float
        ``||T v - v||_inf`` at the returned ``v``.
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


def _expected_next(model: FiniteMDP, v: np.ndarray) -> np.ndarray:
    """Return ``E[v(s') | s, a]`` as an (S, A) array."""
    if model.is_sparse:
        return (model.P @ v).reshape(model.n_states, model.n_actions)
    # P @ v has shape (A, S): NumPy runs one matrix-vector product per action.
    return (model.P @ v).T


def _q(model: FiniteMDP, v: np.ndarray, R=None) -> np.ndarray:
    R = model.R if R is None else R
    return R + model.gamma * _expected_next(model, v)


def q_from_v(model: FiniteMDP, v) -> np.ndarray:
    """Return the action values of ``v``, ``q[s, a] = R[s, a] + gamma sum_s' P(s' | s, a) v[s']``.

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


def policy_matrices(model: FiniteMDP, pi):
    """Return ``P_pi`` (S, S) and ``r_pi`` (S,) of a policy.

    ``P_pi[s, s'] = sum_a pi[s, a] P(s' | s, a)`` and ``r_pi[s] = sum_a
    pi[s, a] R[s, a]``. ``pi`` is as in :func:`evaluate_policy`. ``P_pi``
    is a dense array for a dense model and a CSR matrix for a sparse one.
    """
    model = _check_model(model)
    pi = as_policy_matrix(pi, model.n_states, model.n_actions)
    return _policy_matrices(model, pi)


def _policy_matrices(model: FiniteMDP, pi: np.ndarray, R=None):
    R = model.R if R is None else R
    r_pi = np.einsum("sa,sa->s", pi, R)
    if model.is_sparse:
        import scipy.sparse as sp

        S, A = model.n_states, model.n_actions
        # Pi has one row per state with pi[s, a] at column s * A + a, so
        # Pi @ P mixes the rows of P in O(nnz).
        Pi = sp.csr_matrix(
            (pi.ravel(), np.arange(S * A), np.arange(0, S * A + 1, A)), shape=(S, S * A)
        )
        return (Pi @ model.P).tocsr(), r_pi
    return np.einsum("sa,ast->st", pi, model.P), r_pi


# ---------------------------------------------------------------------------
# Expected numbers of steps, for the bounds when gamma = 1


def _max_expected_steps(model: FiniteMDP) -> float:
    """Return M >= the largest expected number of steps to termination.

    Only for ``model.episodic == "proper"``. Policy iteration maximizes the
    expected number of steps (reward 1 per step); with ``rho`` the Bellman
    residual of the result m, ``m* <= m + rho m*`` gives
    ``||m*|| <= ||m|| / (1 - rho)``.
    """
    if "max_steps" in model._cache:
        return model._cache["max_steps"]
    steps_reward = np.where(model.terminal[:, None], 0.0, 1.0) * np.ones(model.n_actions)
    start = np.zeros(model.n_states, dtype=np.int64)
    m, q, _, _, _ = _policy_iteration_loop(model, steps_reward, start, 10_000, "auto", None)
    rho = float(np.abs(q.max(axis=1) - m).max())
    M = float(np.abs(m).max()) / (1.0 - rho) if rho < 1.0 else math.inf
    model._cache["max_steps"] = M
    return M


def _min_cost(model: FiniteMDP, R: np.ndarray) -> float:
    """Return c = min |R| over non-terminal pairs when all those rewards have one sign."""
    inner = R[~model.terminal]
    if inner.size and (np.all(inner < 0) or np.all(inner > 0)):
        return float(np.abs(inner).min())
    return 0.0


def _step_factors(model: FiniteMDP, v: np.ndarray, rho: float, R=None) -> tuple[float, float]:
    """Return (M, H) with ``||v - v*|| <= rho M`` and ``||T v - v*|| <= rho H``.

    The greedy policy of v then loses at most ``2 rho H``. See the module
    docstring for the three cases.
    """
    if model.gamma < 1.0:
        return 1.0 / (1.0 - model.gamma), model.gamma / (1.0 - model.gamma)
    R = model.R if R is None else R
    if model.episodic == "proper" and R is model.R:
        M = _max_expected_steps(model)
        return M, max(M - 1.0, 0.0)
    c = _min_cost(model, R)
    if c > 0 and rho < c:
        K = float(np.abs(v).max()) / (c - rho)
        return K, K
    if model.episodic == "proper":
        M = _max_expected_steps(model)
        return M, max(M - 1.0, 0.0)
    return math.inf, math.inf


def _max_outcomes(model: FiniteMDP) -> int:
    """Return the maximum number of nonzero P(s' | s, a) over the pairs (s, a), cached on the model."""
    if "max_outcomes" not in model._cache:
        if model.is_sparse:
            count = int(np.diff(model.P.indptr).max())
        else:
            count = int(np.count_nonzero(model.P, axis=2).max())
        model._cache["max_outcomes"] = count
    return model._cache["max_outcomes"]


def _backup_rounding(model: FiniteMDP, v: np.ndarray) -> float:
    """Return delta, a bound on the float64 rounding error of one Bellman backup of v.

    Each q[s, a] = R[s, a] + gamma sum_s' P(s' | s, a) v[s'] adds k nonzero
    products. In any order of summation, with or without FMA, the computed
    sum differs from the exact one by at most gamma_k sum |P| |v| <=
    gamma_k ||v||_inf (Higham, Accuracy and Stability of Numerical
    Algorithms, 2nd ed., section 3.1), because the rows of P sum to 1. Here
    gamma_k = k u / (1 - k u) <= k eps for u = eps / 2 and k u <= 1/2.
    Scaling by gamma and adding R round twice more, and the maximum over
    actions is exact, so (T v)(s) is within (k + 2) eps (||R|| + ||v||) of
    its exact value. The differences T v - v and v_{k+1} - v_k round once
    more, by at most eps (||R|| + 2 ||v||) / 2. Zero entries of a dense P
    add exact zeros, so k counts only the nonzero entries. With gamma = 0
    the backup returns R exactly, and delta is 0.
    """
    if model.gamma == 0.0:
        return 0.0
    k = _max_outcomes(model)
    scale = float(np.abs(model.R).max()) + float(np.abs(v).max())
    return (k + 4) * _EPS * scale


# ---------------------------------------------------------------------------
# Policy evaluation


def evaluate_policy(model: FiniteMDP, pi, method: str = "auto", tol: float | None = None) -> np.ndarray:
    """Return the value function ``v_pi`` by solving the Bellman equation of ``pi``.

    Solves the linear system ``(I - gamma P_pi) v = r_pi`` (Sutton and Barto,
    2nd ed., section 4.1). With ``gamma = 1`` the system is restricted to the
    non-terminal states, and ``v = 0`` at terminal states. The restricted
    system is nonsingular exactly when ``pi`` reaches a terminal state with
    probability 1 from every state.

    Parameters
    ----------
    model : FiniteMDP
    pi : array_like, shape (S, A) or (S,)
        Probabilities ``pi[s, a] = pi(a | s)`` whose rows sum to 1 within
        1e-10, or an integer array of one action per state.
    method : {"auto", "direct", "krylov"}
        ``"direct"``: LU factorization (dense LAPACK for a dense model,
        SuperLU for a sparse one). ``"krylov"``: BiCGSTAB from
        scipy.sparse.linalg, with restarted GMRES as fallback, which need
        only matrix-vector products with the sparse ``P_pi``. ``"auto"`` uses ``"direct"`` for dense models
        and for sparse models with at most ``DIRECT_MAX_STATES`` states.
    tol : float, optional
        Target for ``||v - v_pi||_inf`` with ``"krylov"``, > 0. By default
        ``1e-10 max(1, ||r_pi||_inf) M``, where M bounds
        ``||(I - gamma P_pi)^{-1}||_inf`` (``1 / (1 - gamma)`` for gamma < 1).

    Returns
    -------
    ndarray of float64, shape (S,)

    Raises
    ------
    ValueError
        When ``gamma = 1`` and ``pi`` does not reach a terminal state from
        some state, so that its value there is -inf.

    Warns
    -----
    ConvergenceWarning
        When the Krylov solver stops before its error bound falls below ``tol``.

    Notes
    -----
    The Krylov solvers stop on the 2-norm residual ``r = r_pi - (I - gamma P_pi) v``.
    The error is ``(I - gamma P_pi)^{-1} r`` and ``||r||_inf <= ||r||_2``,
    so stopping at ``||r||_2 <= tol / M`` keeps ``||v - v_pi||_inf <= tol``.
    After the solve the residual is recomputed exactly and the a posteriori
    bound ``M ||r||_inf`` is checked; with ``gamma = 1`` and rewards of one
    sign bounded away from 0 by c, ``M <= (||v|| + error) / c`` gives the
    error bound ``||r|| ||v|| / (c - ||r||)`` without knowing M.
    """
    model = _check_model(model)
    method = check_choice(method, "method", ("auto", "direct", "krylov"))
    if tol is not None:
        tol = check_real(tol, "tol", low=0.0, low_open=True)
    pi = as_policy_matrix(pi, model.n_states, model.n_actions)
    v, _ = _evaluate(model, pi, method, tol)
    _check_finite_values(v, "evaluate_policy")
    return v


def _evaluate(model: FiniteMDP, pi: np.ndarray, method: str, tol, R=None):
    """Return (v_pi, a bound on its error) for the policy matrix ``pi``."""
    P_pi, r_pi = _policy_matrices(model, pi, R)
    S = model.n_states
    if model.gamma == 1.0:
        transient = np.flatnonzero(~model.terminal)
        _check_policy_terminates(model, P_pi, transient)
    else:
        transient = np.arange(S)
    n = transient.size
    v = np.zeros(S)
    if n == 0:
        return v, 0.0

    if model.is_sparse:
        import scipy.sparse as sp

        system = sp.identity(n, format="csr") - model.gamma * P_pi[transient][:, transient]
    else:
        system = np.eye(n) - model.gamma * P_pi[np.ix_(transient, transient)]
    b = r_pi[transient]

    if method == "auto":
        method = "krylov" if model.is_sparse and n > DIRECT_MAX_STATES else "direct"
    if method == "direct":
        if model.is_sparse:
            from scipy.sparse.linalg import spsolve

            x = spsolve(system.tocsc(), b)
        else:
            x = np.linalg.solve(system, b)
        v[transient] = x
        # LU with partial pivoting has a backward error of order n eps; the
        # caller adds its own round-off margin, so report no solve error.
        return v, 0.0
    x, error = _krylov_solve(model, system, b, tol, R)
    v[transient] = x
    return v, error


def _check_policy_terminates(model: FiniteMDP, P_pi, transient: np.ndarray) -> None:
    if model.episodic == "proper":
        return
    import scipy.sparse as sp

    from . import _kernels

    support = sp.csr_matrix(P_pi, copy=True)
    support.data = (support.data > 0).astype(np.int8)
    support.eliminate_zeros()
    by_state = support.tocsc()
    trapped, _ = _kernels.trapped_states(
        support.indptr, support.indices, by_state.indptr, by_state.indices, model.terminal, 1
    )
    if trapped.any():
        s = int(np.flatnonzero(trapped)[0])
        raise ValueError(
            f"pi must reach a terminal state with probability 1 when gamma = 1, but from "
            f"state {s} it never does ({int(trapped.sum())} such state(s)), so its value is "
            "-inf there. Evaluate a policy that terminates, e.g. one from policy_iteration."
        )


def _krylov_solve(model: FiniteMDP, system, b: np.ndarray, tol, R):
    from scipy.sparse.linalg import bicgstab, gmres

    if model.gamma < 1.0:
        M = 1.0 / (1.0 - model.gamma)
    elif model.episodic == "proper" and R is None:
        M = _max_expected_steps(model)
    else:
        M = None
    scale = max(1.0, float(np.abs(b).max()))
    if tol is None:
        tol = 1e-10 * scale * (M if M is not None else 1.0)
    x = np.zeros_like(b)
    error = math.inf
    # A Krylov solver cannot push the 2-norm residual much below eps ||b||_2, so the
    # target stops there; after a miss it shrinks by the factor missed.
    floor = 16 * _EPS * float(np.linalg.norm(b))
    target = tol / (M if M is not None else max(1.0, 2.0 * float(np.abs(b).max())))
    previous = math.inf
    for _ in range(4):
        # BiCGSTAB keeps a fixed number of vectors (O(S) memory); restarted
        # GMRES, slower but with a monotone residual, takes over if it fails.
        x_new, info = bicgstab(system, b, x0=x, rtol=0.0, atol=max(target, floor), maxiter=2_000)
        if info != 0 or not np.all(np.isfinite(x_new)):
            x_new, _ = gmres(system, b, x0=x, rtol=0.0, atol=max(target, floor), restart=20, maxiter=200)
        x = x_new
        residual = float(np.abs(b - system @ x).max())
        if M is not None:
            error = M * residual
        else:
            c = _min_cost(model, model.R if R is None else R)
            x_norm = float(np.abs(x).max())
            if residual == 0.0:
                error = 0.0
            elif 0.0 < residual < c:
                error = residual * x_norm / (c - residual)
            else:
                error = math.inf
        if error <= tol or residual >= 0.5 * previous:
            break
        previous = residual
        target = target * tol / (2.0 * error) if math.isfinite(error) else target / 100.0
    if error <= tol:
        return x, error
    warnings.warn(
        f"evaluate_policy: the Krylov solver (BiCGSTAB, then GMRES) reached an error bound "
        f"of {error:.3g}, above tol={tol:.3g}. "
        "Raise tol, or use method='direct' for a small model.",
        ConvergenceWarning,
        stacklevel=3,
    )
    return x, error


# ---------------------------------------------------------------------------
# Sweeps


class _Sweeps:
    """Numba sweeps over the dense or CSR transitions of one model."""

    def __init__(self, model: FiniteMDP, parallel: bool, R=None):
        from . import _kernels  # Numba loads on first use, not on import.

        self.k = _kernels
        self.model = model
        self.R = model.R if R is None else R
        self.parallel = parallel
        if model.is_sparse:
            P = model.P
            self.csr = (P.indptr, P.indices, P.data)

    def optimality(self, v_in, v_out, q, policy) -> float:
        """Write T v_in into v_out; Gauss-Seidel when both are the same array."""
        k, gamma = self.k, self.model.gamma
        in_place = v_in is v_out
        if self.model.is_sparse:
            kernel = k.csr_sweep_parallel if self.parallel and not in_place else k.csr_sweep_serial
            return kernel(*self.csr, self.R, gamma, v_in, v_out, q, policy)
        if in_place:
            return k.dense_gauss_seidel_sweep(self.model.P, self.R, gamma, v_in, q, policy)
        kernel = k.sweep_parallel if self.parallel else k.sweep_serial
        return kernel(self.model.P, self.R, gamma, v_in, v_out, q, policy)

    def evaluation(self, policy, v_in, v_out) -> float:
        """Write T_d v_in into v_out for the deterministic policy d."""
        if self.model.is_sparse:
            return self.k.csr_policy_sweep(*self.csr, self.R, self.model.gamma, policy, v_in, v_out)
        kernel = self.k.dense_policy_sweep_parallel if self.parallel and v_in is not v_out else self.k.dense_policy_sweep
        return kernel(self.model.P, self.R, self.model.gamma, policy, v_in, v_out)


def _pick_parallel(model: FiniteMDP, parallel) -> bool:
    if parallel is None:
        if model.is_sparse:
            work = model.P.nnz
        else:
            work = model.n_actions * model.n_states * model.n_states
        return work >= PARALLEL_MIN_WORK and _numba_threads() > 1
    if not isinstance(parallel, (bool, np.bool_)):
        raise TypeError(
            f"parallel must be True, False or None; got {parallel!r} of type "
            f"{type(parallel).__name__}."
        )
    return bool(parallel)


def _numba_threads() -> int:
    import numba

    return numba.get_num_threads()


def _start_values(model: FiniteMDP, v0) -> np.ndarray:
    if v0 is None:
        return np.zeros(model.n_states)
    v = _check_values(model, v0, "v0").copy()
    if model.gamma == 1.0:
        # Terminal states keep their value under T when gamma = 1, so only 0 is consistent.
        v[model.terminal] = 0.0
    return v


def _check_finite_values(v, what):
    """Raise ValueError when a solver's values overflowed float64."""
    if not np.all(np.isfinite(v)):
        s = int(np.flatnonzero(~np.isfinite(v))[0])
        raise ValueError(
            f"{what} overflowed float64: v[{s}] = {float(v[s])!r}. The rewards are too large for "
            "the expected number of steps; rescale R."
        )


def _finish(model, sweeps, v, n_iter, converged, bound_before, name, epsilon, max_iter, stacklevel=3):
    """Back up v once more for q, the greedy policy and the final bounds; warn if needed."""
    _check_finite_values(v, name)
    q = np.empty((model.n_states, model.n_actions))
    policy = np.empty(model.n_states, dtype=np.int64)
    scratch = np.empty_like(v)
    rho = float(sweeps.optimality(v, scratch, q, policy))
    M, H = _step_factors(model, v, rho)
    # Rounding: the residual rho, the step ||v_{k+1} - v_k|| behind
    # bound_before and each computed q may each be off by delta (see
    # _backup_rounding). With the exact residual at most rho + delta,
    # ||v - v*|| <= (rho + delta) M. The last iterate v = fl(T v_prev) is
    # within delta of T v_prev, so ||v - v*|| <= H step + (H + 1) delta.
    # The greedy policy maximizes q up to 2 delta, which adds 2 delta M to
    # the loss bound of an exactly greedy policy.
    delta = _backup_rounding(model, v)
    bound = min(bound_before + (H + 1.0) * delta, (rho + delta) * M)
    policy_bound = 2.0 * (rho + delta) * H + 2.0 * delta * M
    if not converged:
        warnings.warn(
            f"{name} stopped after max_iter={max_iter} iterations without meeting the stopping "
            f"rule for epsilon={epsilon:g}; the result is within {bound:.3g} of v*, and its "
            f"greedy policy within {policy_bound:.3g} of optimal. Raise max_iter or epsilon.",
            ConvergenceWarning,
            stacklevel=stacklevel,
        )
    return SolverResult(
        v=v,
        policy=policy,
        q=q,
        n_iter=int(n_iter),
        converged=bool(converged),
        bound=float(bound),
        policy_bound=float(policy_bound),
        residual=rho,
    )


# ---------------------------------------------------------------------------
# Value iteration


def value_iteration(
    model: FiniteMDP,
    epsilon: float = 1e-8,
    max_iter: int = 10_000,
    v0=None,
    parallel: bool | None = None,
    method: str = "jacobi",
    stopping: str = "sup",
) -> SolverResult:
    """Find an epsilon-optimal policy by value iteration, ``v_{k+1} = T v_k``.

    Parameters
    ----------
    model : FiniteMDP
        Dense or sparse, any gamma the model accepts.
    epsilon : float
        Target accuracy, > 0. On convergence ``||v - v*||_inf < epsilon / 2``
        and the greedy policy is epsilon-optimal.
    max_iter : int
        Maximum number of sweeps, >= 1. It is never exceeded.
    v0 : array_like, shape (S,), optional
        Initial value function; zeros by default. With ``gamma = 1`` its
        entries at terminal states are replaced by 0.
    parallel : bool or None
        Split each Jacobi sweep over states across Numba threads (True), run
        it on one thread (False), or decide by size (None): parallel when
        the sweep has at least ``PARALLEL_MIN_WORK`` (2e6) multiply-adds and
        Numba has more than one thread. Gauss-Seidel sweeps always run on
        one thread, because each state reads the new values of the states
        before it.
    method : {"jacobi", "gauss-seidel"}
        ``"jacobi"`` backs up every state from the previous iterate;
        ``"gauss-seidel"`` updates v in place, state by state.
    stopping : {"sup", "span"}
        ``"sup"`` stops on the sup norm of the change of a sweep.
        ``"span"`` (Jacobi with gamma < 1 only) stops on its span and
        returns the last iterate shifted by a constant to the middle of the
        bounds of MacQueen (1966), see Notes. On MDPs whose chains mix fast
        it needs far fewer sweeps, because the span contracts faster than
        gamma while the sup norm does not.

    Returns
    -------
    SolverResult
        ``v`` is the last iterate, ``policy`` is greedy with respect to it
        (lowest index among exact ties), ``n_iter`` counts the sweeps.

    Warns
    -----
    ConvergenceWarning
        When ``max_iter`` sweeps end before the stopping rule holds. The
        result then has ``converged=False`` and still carries valid bounds.

    Notes
    -----
    Jacobi: a sweep computes ``v_{k+1} = T v_k`` and ``delta = ||v_{k+1} -
    v_k||_inf``, the residual of ``v_k``. The iteration stops at the first
    k with ``delta H < epsilon / 2`` (module docstring: ``H = gamma / (1 -
    gamma)`` when gamma < 1), so that ``||v_{k+1} - v*||_inf < epsilon / 2``.
    For gamma < 1 this is ``delta < epsilon (1 - gamma) / (2 gamma)``, the
    rule of Puterman, 1994, Theorem 6.3.1. The greedy policy of
    ``v_{k+1}`` is then epsilon-optimal, because its residual is at most
    ``gamma delta`` (at most ``delta`` when gamma = 1).

    Gauss-Seidel: the in-place sweep is also a gamma-contraction, and each
    sweep with change ``delta H < epsilon / 2`` triggers one Jacobi sweep
    that measures the residual rho of the current v. The iteration stops
    when ``rho H < epsilon / 2`` and returns ``T v`` from that sweep; the
    checking sweeps do not count in ``n_iter``.

    ``bound`` and ``policy_bound`` come from the residual of the returned
    v, computed by one more sweep (module docstring). They assume exact
    arithmetic, and floating-point round-off adds about
    ``S * 2**-52 * max|v| * M``.

    Span stopping: with ``lo = min(T v - v)``, ``hi = max(T v - v)`` and
    ``H = gamma / (1 - gamma)``, every optimal value satisfies
    ``T v + H lo <= v* <= T v + H hi`` (MacQueen, "A modified dynamic
    programming method for Markovian decision problems", J. Math. Anal.
    Appl. 14, 1966). Proof: for the greedy policy d of v, ``v_d - T v =
    gamma P_d (v_d - T v) + gamma P_d (T v - v)``, so ``v_d >= T v + H lo``,
    and ``v* >= v_d``; for an optimal d*, ``v* - T v <= gamma P_d* (v* -
    T v) + gamma hi``. The iteration stops when ``H (hi - lo) / 2 <
    epsilon / 2`` and returns ``T v + H (lo + hi) / 2``; the greedy policy
    loses at most ``H (hi - lo) < epsilon``.

    A sweep reads all of P once, so memory bandwidth bounds it.

    NOTE: the size threshold for ``parallel=None`` comes from timings
    with benchmarks/bench_mdp.py on a 2-core machine shared with other
    jobs (Numba 0.68, OpenMP layer), which were noisy. With the second
    core free, 2 threads made whole dense solves 2 to 2.7 times faster at
    S = 500 and S = 1000 (A = 8), and at S = 100 about equal. With the
    second core busy, they made them 2 to 10 times slower, because each
    sweep ends at a barrier that waits for the descheduled thread. On a
    loaded machine pass ``parallel=False`` or call
    ``mathlearn.set_num_threads(1)``.
    """
    model = _check_model(model)
    epsilon = check_real(epsilon, "epsilon", low=0.0, low_open=True)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    method = check_choice(method, "method", ("jacobi", "gauss-seidel"))
    stopping = check_choice(stopping, "stopping", ("sup", "span"))
    if stopping == "span" and (method != "jacobi" or model.gamma == 1.0):
        raise ValueError(
            f"stopping='span' needs method='jacobi' and gamma < 1, because its bounds use "
            f"the discount; got method={method!r}, gamma={model.gamma}. Use stopping='sup'."
        )
    v = _start_values(model, v0)
    parallel = _pick_parallel(model, parallel)
    sweeps = _Sweeps(model, parallel)

    if stopping == "span":
        return _span_jacobi(model, sweeps, v, epsilon, max_iter)
    if method == "jacobi" and not model.is_sparse and model.gamma < 1.0:
        return _dense_jacobi(model, sweeps, v, epsilon, max_iter, parallel)

    q = np.empty((model.n_states, model.n_actions))
    policy = np.empty(model.n_states, dtype=np.int64)
    work = np.empty_like(v)
    half = epsilon / 2.0
    n_iter = 0
    converged = False
    bound_before = math.inf
    bar = _sweep_progress(max_iter)
    while n_iter < max_iter:
        bar.update()
        if method == "jacobi":
            delta = float(sweeps.optimality(v, work, q, policy))
            n_iter += 1
            _, H = _step_factors(model, v, delta)
            v, work = work, v
            bound_before = delta * H
            if bound_before < half:
                converged = True
                break
        else:
            delta = float(sweeps.optimality(v, v, q, policy))
            n_iter += 1
            _, H = _step_factors(model, v, delta)
            if delta * H < half:
                rho = float(sweeps.optimality(v, work, q, policy))
                _, H = _step_factors(model, v, rho)
                if rho * H < half:
                    v, work = work, v
                    bound_before = rho * H
                    converged = True
                    break
    bar.close()
    return _finish(model, sweeps, v, n_iter, converged, bound_before, "value_iteration", epsilon, max_iter)


def _sweep_progress(max_iter):
    """Return a progress bar over sweeps, shown on a terminal after 1 s of work.

    MATHLEARN_PROGRESS=0 turns it off (see mathlearn._progress).
    """
    from .._progress import progress

    return progress(total=max_iter, desc="value iteration", unit="sweep")


def _span_jacobi(model, sweeps, v, epsilon, max_iter):
    """Run Jacobi value iteration with MacQueen's span stopping rule (gamma < 1)."""
    H = model.gamma / (1.0 - model.gamma)
    q = np.empty((model.n_states, model.n_actions))
    policy = np.empty(model.n_states, dtype=np.int64)
    work = np.empty_like(v)
    n_iter = 0
    converged = False
    lo = hi = 0.0
    bar = _sweep_progress(max_iter)
    while n_iter < max_iter:
        bar.update()
        sweeps.optimality(v, work, q, policy)
        n_iter += 1
        np.subtract(work, v, out=v)
        lo, hi = float(v.min()), float(v.max())
        v, work = work, v
        if H * (hi - lo) < epsilon:
            converged = True
            break
    bar.close()
    v += H * (lo + hi) / 2.0
    return _finish(model, sweeps, v, n_iter, converged, H * (hi - lo) / 2.0, "value_iteration", epsilon, max_iter)


# Dense models with at least this many entries of P run value iteration in
# chunks of sweeps (see _dense_jacobi); 2**24 entries are 128 MiB of float64.
CHUNKED_VI_ENTRIES = 2**24
# Entries of P read per chunk: 2**28 float64 entries are 2 GiB.
CHUNK_READ_ENTRIES = 2**28


def _dense_jacobi(model, sweeps, v, epsilon, max_iter, parallel):
    """Run the whole Jacobi loop inside one Numba call (dense, gamma < 1)."""
    from . import _kernels

    gamma = model.gamma
    H = gamma / (1.0 - gamma)
    # Stop at delta < epsilon (1 - gamma) / (2 gamma); gamma = 0 stops after one sweep.
    threshold = math.inf if gamma == 0.0 else epsilon / (2.0 * H)
    work = np.empty_like(v)
    q = np.empty((model.n_states, model.n_actions))
    policy = np.empty(model.n_states, dtype=np.int64)
    kernel = _kernels.value_iteration_parallel if parallel else _kernels.value_iteration_serial
    # Large models run in chunks of sweeps, each reading CHUNK_READ_ENTRIES
    # entries of P, so that a progress bar can advance between them. The
    # iterates are the same.
    if model.P.size < CHUNKED_VI_ENTRIES:
        chunk = max_iter
    else:
        chunk = max(1, CHUNK_READ_ENTRIES // model.P.size)
    bar = _sweep_progress(max_iter) if chunk < max_iter else None
    n_iter, delta = 0, math.inf
    while n_iter < max_iter:
        done, delta = kernel(model.P, model.R, gamma, threshold, min(chunk, max_iter - n_iter), v, work, q, policy)
        n_iter += done
        if bar is not None:
            bar.update(done)
        if delta < threshold:
            break
    if bar is not None:
        bar.close()
    converged = bool(delta < threshold)
    return _finish(
        model, sweeps, v, n_iter, converged, float(delta) * H, "value_iteration", epsilon, max_iter,
        stacklevel=4,
    )


def modified_policy_iteration(
    model: FiniteMDP,
    epsilon: float = 1e-8,
    max_iter: int = 10_000,
    n_eval_sweeps: int = 20,
    v0=None,
    parallel: bool | None = None,
    stopping: str = "sup",
) -> SolverResult:
    """Find an epsilon-optimal policy by modified policy iteration.

    Each iteration takes one Bellman optimality sweep, which gives ``T v``
    and the greedy policy d, and then ``n_eval_sweeps`` sweeps of the
    policy operator ``T_d v = R_d + gamma P_d v`` (Puterman, 1994, section
    6.5). ``n_eval_sweeps = 0`` is value iteration; many sweeps approach
    policy iteration.

    Parameters
    ----------
    model : FiniteMDP
    epsilon : float
        Target accuracy, > 0, with the stopping rule of
        :func:`value_iteration` applied to the optimality sweep.
    max_iter : int
        Maximum number of iterations (optimality sweeps), >= 1.
    n_eval_sweeps : int
        Sweeps of ``T_d`` per iteration, >= 0.
    v0 : array_like, shape (S,), optional
        Initial value function; zeros by default.
    parallel : bool or None
        As in :func:`value_iteration`, for the Jacobi sweeps of both kinds.
    stopping : {"sup", "span"}
        As in :func:`value_iteration`; ``"span"`` needs gamma < 1. Both
        rules are checked on the optimality sweep only.

    Returns
    -------
    SolverResult
        ``n_iter`` counts the optimality sweeps.

    Warns
    -----
    ConvergenceWarning
        When ``max_iter`` iterations end before the stopping rule holds.

    Notes
    -----
    Span stopping: MacQueen's bounds ``T v + H lo <= v* <= T v + H hi``
    (proof in :func:`value_iteration`) hold for every v, whatever sweeps
    produced it, so they hold at the start of each iteration after the
    evaluation sweeps of the one before. The iteration stops when ``H (hi
    - lo) < epsilon`` and returns ``T v + H (lo + hi) / 2``, which lies
    within ``H (hi - lo) / 2 < epsilon / 2`` of v*. The evaluation sweeps
    cost ``S^2`` multiply-adds each against ``A S^2`` for an optimality
    sweep, and they shrink the span of ``T v - v`` once the greedy policy
    stops changing, so fewer optimality sweeps are needed.
    """
    model = _check_model(model)
    epsilon = check_real(epsilon, "epsilon", low=0.0, low_open=True)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    n_eval_sweeps = check_int(n_eval_sweeps, "n_eval_sweeps", minimum=0)
    stopping = check_choice(stopping, "stopping", ("sup", "span"))
    if stopping == "span" and model.gamma == 1.0:
        raise ValueError(
            f"stopping='span' needs gamma < 1, because its bounds use the discount; got "
            f"gamma={model.gamma}. Use stopping='sup'."
        )
    v = _start_values(model, v0)
    sweeps = _Sweeps(model, _pick_parallel(model, parallel))
    q = np.empty((model.n_states, model.n_actions))
    policy = np.empty(model.n_states, dtype=np.int64)
    work = np.empty_like(v)
    if stopping == "span":
        return _span_mpi(model, sweeps, v, work, q, policy, epsilon, max_iter, n_eval_sweeps)
    half = epsilon / 2.0
    n_iter = 0
    converged = False
    bound_before = math.inf
    while n_iter < max_iter:
        rho = float(sweeps.optimality(v, work, q, policy))
        n_iter += 1
        _, H = _step_factors(model, v, rho)
        v, work = work, v
        bound_before = rho * H
        if bound_before < half:
            converged = True
            break
        for _ in range(n_eval_sweeps):
            sweeps.evaluation(policy, v, work)
            v, work = work, v
    return _finish(
        model, sweeps, v, n_iter, converged, bound_before, "modified_policy_iteration",
        epsilon, max_iter,
    )


def _span_mpi(model, sweeps, v, work, q, policy, epsilon, max_iter, n_eval_sweeps):
    """Run modified policy iteration with MacQueen's span stopping rule (gamma < 1)."""
    H = model.gamma / (1.0 - model.gamma)
    n_iter = 0
    converged = False
    lo = hi = 0.0
    while n_iter < max_iter:
        sweeps.optimality(v, work, q, policy)
        n_iter += 1
        np.subtract(work, v, out=v)
        lo, hi = float(v.min()), float(v.max())
        v, work = work, v
        if H * (hi - lo) < epsilon:
            converged = True
            break
        if n_iter == max_iter:
            break  # keep v = T v_k, to which lo and hi refer
        for _ in range(n_eval_sweeps):
            sweeps.evaluation(policy, v, work)
            v, work = work, v
    v += H * (lo + hi) / 2.0
    return _finish(
        model, sweeps, v, n_iter, converged, H * (hi - lo) / 2.0, "modified_policy_iteration",
        epsilon, max_iter, stacklevel=4,
    )


# ---------------------------------------------------------------------------
# Policy iteration


def policy_iteration(
    model: FiniteMDP, max_iter: int = 1_000, pi0=None, evaluation: str = "auto"
) -> SolverResult:
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
        Initial deterministic policy. By default greedy with respect to
        ``v = 0``, that is ``argmax_a R[s, a]``. For ``model.episodic ==
        "costly"`` the default is a policy that reaches a terminal state from
        every state, because the first evaluation needs a finite value.
    evaluation : {"auto", "direct", "krylov"}
        The ``method`` of :func:`evaluate_policy`.

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
    ``4 S 2**-52 max(1, max|q|) M`` plus twice the error bound of an
    iterative evaluation. That is the size of the round-off of the linear
    solve: LU with partial pivoting has backward error of order S eps, and
    the condition number of ``I - gamma P_pi`` in the sup norm is at most
    ``(1 + gamma) M``. The margin keeps round-off from making the policy
    cycle between tied actions. Among tied optimal actions the result
    therefore keeps the earlier one, which need not be the lowest index.

    ``bound`` is ``(||T v - v||_inf + delta) M``, an upper bound on
    ``||v - v*||_inf`` for any v (module docstring), where delta bounds the
    float64 rounding of the computed residual (``_backup_rounding``). Since ``v = v_policy`` here, it also
    bounds the policy's loss, and ``policy_bound`` equals ``bound``.
    """
    model = _check_model(model)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    evaluation = check_choice(evaluation, "evaluation", ("auto", "direct", "krylov"))
    n_states = model.n_states
    if pi0 is None:
        if model.episodic == "costly":
            policy = model._cache["proper_policy"].astype(np.int64)
        else:
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

    v, q, policy, n_iter, converged = _policy_iteration_loop(
        model, model.R, policy, max_iter, evaluation, None
    )
    residual = float(np.abs(q.max(axis=1) - v).max())
    M, _ = _step_factors(model, v, residual)
    # The computed residual may be off by the rounding of one backup.
    bound = (residual + _backup_rounding(model, v)) * M
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


def _policy_iteration_loop(model, R, policy, max_iter, evaluation, tol):
    """Run policy iteration with rewards R; return (v, q, policy, n_iter, converged)."""
    n_states, n_actions = model.n_states, model.n_actions
    states = np.arange(n_states)
    n_iter = 0
    converged = False
    while True:
        pi = np.zeros((n_states, n_actions))
        pi[states, policy] = 1.0
        v, error = _evaluate(model, pi, evaluation, tol, None if R is model.R else R)
        q = _q(model, v, R)
        candidate = greedy_actions(q)
        scale = max(1.0, float(np.abs(q).max()))
        if model.gamma < 1.0:
            M = 1.0 / (1.0 - model.gamma)
        else:
            # Expected steps of the current policy are at most |v| / c when all
            # rewards have one sign; otherwise the bound of the module docstring.
            c = _min_cost(model, R)
            M = (float(np.abs(v).max()) / c + 1.0) if c > 0 else _max_expected_steps(model)
        margin = 4 * n_states * _EPS * scale * M + 2.0 * error
        improves = q[states, candidate] > q[states, policy] + margin
        if not improves.any():
            converged = True
            break
        if n_iter == max_iter:
            break
        policy = np.where(improves, candidate, policy)
        n_iter += 1
    return v, q, policy, n_iter, converged
