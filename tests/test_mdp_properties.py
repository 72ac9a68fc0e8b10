"""Property tests of value iteration on random small MDPs (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest

from mathlearn import mdp
from test_mdp import optimal_values, random_mdp, roundoff, value_scale

hypothesis = pytest.importorskip("hypothesis")
strategies = hypothesis.strategies


@hypothesis.settings(max_examples=40, deadline=None)
@hypothesis.given(
    n_states=strategies.integers(1, 6),
    n_actions=strategies.integers(1, 4),
    gamma=strategies.floats(0.0, 0.98),
    seed=strategies.integers(0, 2**32 - 1),
    concentration=strategies.sampled_from([0.05, 1.0, 20.0]),
)
def test_value_iteration_bound_property(n_states, n_actions, gamma, seed, concentration):
    model = random_mdp(n_states, n_actions, gamma, seed, concentration)
    epsilon = 1e-6
    result = mdp.value_iteration(model, epsilon=epsilon)
    v_star = optimal_values(model)
    slack = roundoff(model, value_scale(model)) / (1.0 - gamma)
    assert result.converged
    assert result.bound < epsilon / 2
    assert np.abs(result.v - v_star).max() <= result.bound + slack
    v_policy = mdp.evaluate_policy(model, result.policy)
    assert np.abs(v_policy - v_star).max() <= result.policy_bound + slack


SOLVERS = {
    "gauss-seidel": lambda m, eps: mdp.value_iteration(m, epsilon=eps, method="gauss-seidel"),
    "span": lambda m, eps: mdp.value_iteration(m, epsilon=eps, stopping="span"),
    "mpi": lambda m, eps: mdp.modified_policy_iteration(m, epsilon=eps, n_eval_sweeps=3),
    "mpi-span": lambda m, eps: mdp.modified_policy_iteration(m, epsilon=eps, n_eval_sweeps=3, stopping="span"),
    "mpi-span-parallel": lambda m, eps: mdp.modified_policy_iteration(
        m, epsilon=eps, n_eval_sweeps=3, stopping="span", parallel=True),
    "sparse-jacobi": lambda m, eps: mdp.value_iteration(m.to_sparse(), epsilon=eps),
}


@pytest.mark.parametrize("solver", list(SOLVERS))
@hypothesis.settings(max_examples=25, deadline=None)
@hypothesis.given(
    n_states=strategies.integers(1, 6),
    n_actions=strategies.integers(1, 4),
    gamma=strategies.floats(0.0, 0.98),
    seed=strategies.integers(0, 2**32 - 1),
    concentration=strategies.sampled_from([0.05, 1.0, 20.0]),
)
def test_solver_bounds_property(solver, n_states, n_actions, gamma, seed, concentration):
    model = random_mdp(n_states, n_actions, gamma, seed, concentration)
    epsilon = 1e-6
    result = SOLVERS[solver](model, epsilon)
    v_star = optimal_values(model)
    slack = roundoff(model, value_scale(model)) / (1.0 - gamma)
    assert result.converged
    assert result.bound < epsilon / 2 + slack
    assert np.abs(result.v - v_star).max() <= result.bound + slack
    v_policy = mdp.evaluate_policy(model, result.policy)
    assert np.abs(v_policy - v_star).max() <= result.policy_bound + slack


@hypothesis.settings(max_examples=30, deadline=None)
@hypothesis.given(
    n_states=strategies.integers(2, 7),
    n_actions=strategies.integers(1, 3),
    seed=strategies.integers(0, 2**32 - 1),
)
def test_episodic_bounds_property(n_states, n_actions, seed):
    # Every action moves to a higher state or to the terminal last state with
    # positive probability, so every policy terminates.
    rng = np.random.default_rng(seed)
    S = n_states
    P = np.zeros((n_actions, S, S))
    for a in range(n_actions):
        for s in range(S - 1):
            # At most half the mass stays at s, so every step leaves s with
            # probability at least 1/2.
            P[a, s, s] = 0.5 * rng.random()
            P[a, s, s + 1 :] = (1.0 - P[a, s, s]) * rng.dirichlet(np.ones(S - s - 1))
    P[:, S - 1, S - 1] = 1.0
    R = rng.standard_normal((S, n_actions))
    R[S - 1] = 0.0
    model = mdp.FiniteMDP(P, R, 1.0)
    assert model.episodic == "proper"
    v_star = mdp.policy_iteration(model).v
    for result in (
        mdp.value_iteration(model, epsilon=1e-6),
        mdp.value_iteration(model, epsilon=1e-6, method="gauss-seidel"),
    ):
        assert result.converged
        assert np.abs(result.v - v_star).max() <= result.bound + 1e-9
        v_policy = mdp.evaluate_policy(model, result.policy)
        assert np.abs(v_policy - v_star).max() <= result.policy_bound + 1e-9
