"""Reported error bounds of the MDP solvers hold in floating point for gamma near 1.

The reference v* is the value of the optimal policy, solved by LU and
refined with residuals computed in long double, so it is far more
accurate than the float64 solvers it checks.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mathlearn import mdp

LONG_EPS = float(np.finfo(np.longdouble).eps)

pytestmark = pytest.mark.skipif(
    LONG_EPS >= np.finfo(np.float64).eps, reason="long double is no wider than float64 here"
)


def _random_model(n_states, n_actions, gamma, seed, sparse):
    """Return a random MDP with peaked rows of P and rewards of size 10, so |v| ~ 10 / (1 - gamma)."""
    rng = np.random.default_rng(seed)
    P = rng.random((n_actions, n_states, n_states)) ** 4
    P /= P.sum(axis=2, keepdims=True)
    R = 10.0 * rng.standard_normal((n_states, n_actions))
    if sparse:
        rows = np.ascontiguousarray(P.transpose(1, 0, 2)).reshape(n_states * n_actions, n_states)
        return mdp.FiniteMDP(sp.csr_matrix(rows), R, gamma), P, R
    return mdp.FiniteMDP(P, R, gamma), P, R


def _q_long(P, R, gamma, v):
    """Return q_v in long double, shape (S, A)."""
    P_long, v_long = P.astype(np.longdouble), v.astype(np.longdouble)
    return R.astype(np.longdouble) + np.longdouble(gamma) * np.einsum("ast,t->sa", P_long, v_long)


def _policy_values(P, R, gamma, policy):
    """Return v_pi of a deterministic policy, solved in float64 and refined in long double."""
    n_states = R.shape[0]
    states = np.arange(n_states)
    A = np.eye(n_states) - gamma * P[policy, states]
    A_long = A.astype(np.longdouble)
    r_long = R[states, policy].astype(np.longdouble)
    v = np.linalg.solve(A, R[states, policy]).astype(np.longdouble)
    # Iterative refinement: each step divides the error by about cond(A) eps64.
    for _ in range(6):
        correction = np.linalg.solve(A, (r_long - A_long @ v).astype(np.float64))
        v = v + correction.astype(np.longdouble)
    return v


def _optimal_values(P, R, gamma, policy):
    """Return (v*, a bound on its error) in long double, by policy iteration from ``policy``."""
    n_states = R.shape[0]
    states = np.arange(n_states)
    for _ in range(50):
        v = _policy_values(P, R, gamma, policy)
        q = _q_long(P, R, gamma, v)
        improved = q.argmax(axis=1)
        if np.all(q[states, improved] <= q[states, policy]):
            break
        policy = improved
    residual = float(np.abs(q.max(axis=1) - v).max())
    # ||v - v*|| <= ||T v - v|| / (1 - gamma), plus the long double rounding of that residual.
    error = (residual + 100 * n_states * LONG_EPS * float(np.abs(v).max())) / (1.0 - gamma)
    return v, error


# epsilon = 1e-10 lies below the rounding floor of |v| ~ 1e4 at gamma = 0.999,
# so some runs stop at max_iter. Their bounds must hold all the same.
SOLVERS = {
    "value_iteration": lambda m: mdp.value_iteration(m, epsilon=1e-10, max_iter=20_000),
    "value_iteration gauss-seidel": lambda m: mdp.value_iteration(
        m, epsilon=1e-10, max_iter=20_000, method="gauss-seidel"
    ),
    "policy_iteration": mdp.policy_iteration,
    "modified_policy_iteration": lambda m: mdp.modified_policy_iteration(m, epsilon=1e-10, max_iter=5_000),
}


@pytest.mark.filterwarnings("ignore::mathlearn.mdp.ConvergenceWarning")
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("gamma", [0.99, 0.999])
def test_bound_covers_true_error(solver, gamma, sparse):
    for seed in range(4):
        model, P, R = _random_model(12 + 7 * seed, 3, gamma, seed, sparse)
        result = SOLVERS[solver](model)
        v_star, reference_error = _optimal_values(P, R, gamma, result.policy)
        error = float(np.abs(result.v.astype(np.longdouble) - v_star).max())
        assert result.bound > 0.0
        assert error <= result.bound + reference_error, (seed, error, result.bound)

        loss = float((v_star - _policy_values(P, R, gamma, result.policy)).max())
        assert result.policy_bound > 0.0
        assert loss <= result.policy_bound + reference_error, (seed, loss, result.policy_bound)
