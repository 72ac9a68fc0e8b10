"""gamma = 1 for episodic MDPs, the book's Gambler's problem and Jack's car
rental, and the stochastic policies."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mathlearn import mdp
from mathlearn.reference import mdp as ref

EPS64 = np.finfo(np.float64).eps


def chain(n, p_forward, gamma=1.0):
    """States 0 .. n, n terminal. Action 0 moves right w.p. p_forward, else stays;
    action 1 moves right w.p. 1. Rewards -1 and -2 per step."""
    P = np.zeros((2, n + 1, n + 1))
    for s in range(n):
        P[0, s, s + 1] = p_forward
        P[0, s, s] = 1 - p_forward
        P[1, s, s + 1] = 1.0
    P[:, n, n] = 1.0
    R = np.zeros((n + 1, 2))
    R[:n, 0] = -1.0
    R[:n, 1] = -2.0
    return mdp.FiniteMDP(P, R, gamma)


def test_proper_chain_accepted_and_solved():
    model = chain(6, 0.25)
    assert model.episodic == "proper"
    np.testing.assert_array_equal(model.terminal, [False] * 6 + [True])
    # Action 0 costs 1 per try and takes 4 tries per cell on average, so
    # action 1 (cost 2, one try) is optimal: v*(s) = -2 (6 - s).
    v_star = -2.0 * (6 - np.arange(7))
    for result in (
        mdp.value_iteration(model, epsilon=1e-10),
        mdp.value_iteration(model, epsilon=1e-10, method="gauss-seidel"),
        mdp.modified_policy_iteration(model, epsilon=1e-10),
        mdp.policy_iteration(model),
        mdp.policy_iteration(model.to_sparse(), evaluation="krylov"),
    ):
        assert result.converged
        assert np.abs(result.v - v_star).max() <= result.bound + 1e-12
        assert result.bound < 0.5e-10
        np.testing.assert_array_equal(result.policy[:6], 1)


def test_max_expected_steps_bound():
    model = chain(5, 0.25)
    # Always taking action 0 maximizes the steps: 4 per cell, 20 from state 0.
    M = mdp.solvers._max_expected_steps(model)
    assert 20.0 <= M <= 20.0 * (1 + 1e-9)


def test_value_iteration_bound_holds_before_convergence():
    model = chain(8, 0.5)
    v_star = mdp.policy_iteration(model).v
    with pytest.warns(mdp.ConvergenceWarning):
        short = mdp.value_iteration(model, epsilon=1e-12, max_iter=3)
    assert np.abs(short.v - v_star).max() <= short.bound
    v_policy = mdp.evaluate_policy(model, short.policy)
    assert np.abs(v_policy - v_star).max() <= short.policy_bound


def test_improper_policy_with_nonnegative_reward_rejected():
    P = np.zeros((2, 3, 3))
    P[0, 0, 0] = 1.0  # action 0 in state 0 loops forever
    P[1, 0, 2] = 1.0
    P[:, 1, 2] = 1.0
    P[:, 2, 2] = 1.0
    R = np.zeros((3, 2))
    R[0, 1] = 1.0
    with pytest.raises(ValueError, match=r"from state 0, action 0 leads only to states of that set"):
        mdp.FiniteMDP(P, R, 1.0)
    # Negative rewards make the loop cost -inf, so the model is accepted.
    R[:2] = -1.0
    model = mdp.FiniteMDP(P, R, 1.0)
    assert model.episodic == "costly"
    np.testing.assert_allclose(mdp.value_iteration(model).v, [-1.0, -1.0, 0.0])


def test_unreachable_terminal_rejected():
    P = np.zeros((1, 3, 3))
    P[0, 0, 1] = 1.0
    P[0, 1, 0] = 1.0
    P[0, 2, 2] = 1.0
    with pytest.raises(ValueError, match=r"no action sequence leads from state 0 to a terminal state"):
        mdp.FiniteMDP(P, -np.ones((3, 1)) * [[1], [1], [0]], 1.0)


def test_sparse_episodic_check_matches_dense():
    model = chain(30, 0.3).to_sparse()
    assert model.episodic == "proper"
    P = model.P.tolil()
    P[3 * 2 + 0, :] = 0
    P[3 * 2 + 0, 3] = 1.0  # state 3, action 0 now loops with reward -1
    costly = mdp.FiniteMDP(sp.csr_matrix(P), model.R, 1.0)
    assert costly.episodic == "costly"


def test_improper_policy_evaluation_rejected():
    grid = mdp.examples.gridworld_4x4()
    north = np.zeros(16, dtype=int)
    with pytest.raises(ValueError, match=r"pi must reach a terminal state with probability 1"):
        mdp.evaluate_policy(grid.model, north)


@pytest.mark.parametrize("kind", ["dense", "sparse"])
def test_gridworld_4x4_solvers_agree(kind):
    grid = mdp.examples.gridworld_4x4()
    model = grid.model if kind == "dense" else grid.model.to_sparse()
    rows, cols = np.divmod(np.arange(16), 4)
    v_star = -np.minimum(rows + cols, 6 - rows - cols).astype(float)
    for result in (
        mdp.value_iteration(model),
        mdp.value_iteration(model, method="gauss-seidel"),
        mdp.modified_policy_iteration(model),
        mdp.policy_iteration(model),
        mdp.policy_iteration(model, evaluation="krylov"),
    ):
        assert result.converged
        np.testing.assert_allclose(result.v, v_star, rtol=0, atol=result.bound + 1e-12)


# --- Gambler's problem (Sutton and Barto, Example 4.3) -------------------


@pytest.fixture(scope="module")
def gambler():
    return mdp.examples.gamblers_problem()


def test_gambler_closed_form_values(gambler):
    # Betting everything at 50 wins with probability p. From 25 it takes two
    # wins, p^2. From 75 one win suffices, or a loss and then a win from 50,
    # so the value is p + (1 - p) p.
    p = 0.4
    result = mdp.value_iteration(gambler.model, epsilon=1e-12)
    assert result.converged
    tol = result.bound + 1e-12
    assert result.v[50] == pytest.approx(p, abs=tol)
    assert result.v[25] == pytest.approx(p**2, abs=tol)
    assert result.v[75] == pytest.approx(p + (1 - p) * p, abs=tol)
    assert result.v[0] == 0.0
    assert result.v[100] == 0.0


def test_gambler_solvers_agree(gambler):
    model = gambler.model
    pi = mdp.policy_iteration(model)
    for other in (
        mdp.value_iteration(model, epsilon=1e-10, method="gauss-seidel"),
        mdp.modified_policy_iteration(model, epsilon=1e-10),
        mdp.value_iteration(model.to_sparse(), epsilon=1e-10),
    ):
        np.testing.assert_allclose(other.v, pi.v, rtol=0, atol=other.bound + pi.bound + 1e-12)


def test_gambler_optimal_stakes_are_allowed(gambler):
    result = mdp.policy_iteration(gambler.model)
    mask = mdp.optimal_actions(gambler.model, result.v, atol=1e-9) & gambler.valid
    # Every capital 1 .. 99 has an allowed optimal stake; all-in at 50 is one.
    assert mask[1:100].any(axis=1).all()
    assert mask[50, 49]
    assert gambler.actions[49] == 50


def test_gambler_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"p_heads must be in \(0.0, 1.0\); got 1.0"):
        mdp.examples.gamblers_problem(p_heads=1.0)
    with pytest.raises(ValueError, match="goal must be >= 2; got 1"):
        mdp.examples.gamblers_problem(goal=1)


# --- Jack's car rental (Sutton and Barto, Example 4.2) -------------------


@pytest.fixture(scope="module")
def jack():
    return mdp.examples.jacks_car_rental()


def test_jack_policy_matches_figure_4_2_corners(jack):
    result = mdp.policy_iteration(jack.model)
    assert result.converged
    moves = jack.actions[result.policy].reshape(21, 21)
    # Figure 4.2, policy pi_4: +5 with many cars at the first location and
    # none at the second, a move back (negative) in the opposite corner.
    assert moves[20, 0] == 5
    assert moves[0, 20] < 0
    assert moves[0, 0] == 0
    assert jack.valid[np.arange(441), result.policy].all()


def test_jack_solvers_agree(jack):
    pi = mdp.policy_iteration(jack.model)
    vi = mdp.value_iteration(jack.model, epsilon=1e-4)
    mpi = mdp.modified_policy_iteration(jack.model, epsilon=1e-4)
    for result in (vi, mpi):
        assert result.converged
        np.testing.assert_allclose(result.v, pi.v, rtol=0, atol=result.bound + 1e-8)
        loss = np.abs(mdp.evaluate_policy(jack.model, result.policy) - pi.v).max()
        assert loss <= result.policy_bound + 1e-8


def test_jack_location_dynamics_are_distributions():
    from mathlearn.mdp.examples import _location_dynamics

    T, r = _location_dynamics(20, 3.0, 3.0, 10.0)
    np.testing.assert_allclose(T.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # With no cars nothing is rented; with 20 cars almost every request is met.
    assert r[0] == 0.0
    assert r[20] == pytest.approx(30.0, abs=1e-3)


# --- Policies -------------------------------------------------------------


def test_epsilon_greedy_rows():
    q = np.array([[1.0, 3.0, 3.0], [0.0, -1.0, 2.0]])
    pi = mdp.epsilon_greedy_policy(q, 0.3)
    np.testing.assert_allclose(pi, [[0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    uniform_ties = mdp.epsilon_greedy_policy(q, 0.3, ties="uniform")
    np.testing.assert_allclose(uniform_ties, [[0.1, 0.45, 0.45], [0.1, 0.1, 0.8]])
    with pytest.raises(ValueError, match=r"epsilon must be in \[0.0, 1.0\]; got 1.5"):
        mdp.epsilon_greedy_policy(q, 1.5)


def test_softmax_temperature_limits():
    q = np.array([[0.0, 1.0, 1.0], [1000.0, 0.0, -5.0]])
    cold = mdp.softmax_policy(q, temperature=1e-3)
    np.testing.assert_allclose(cold, [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]], atol=1e-12)
    hot = mdp.softmax_policy(q, temperature=1e6)
    np.testing.assert_allclose(hot, 1.0 / 3.0, atol=1e-3)
    mid = mdp.softmax_policy(q, temperature=2.0)
    expected = np.exp(q[0] / 2.0) / np.exp(q[0] / 2.0).sum()
    np.testing.assert_allclose(mid[0], expected, rtol=1e-14)
    with pytest.raises(ValueError, match=r"temperature must be in \(0.0, inf\); got 0.0"):
        mdp.softmax_policy(q, temperature=0.0)


def test_greedy_set_policy_is_optimal():
    grid = mdp.examples.gridworld_5x5()
    result = mdp.policy_iteration(grid.model)
    mask = mdp.optimal_actions(grid.model, result.v, atol=1e-9)
    pi = mdp.greedy_set_policy(mask)
    v = mdp.evaluate_policy(grid.model, pi)
    np.testing.assert_allclose(v, result.v, rtol=0, atol=1e-9)
    with pytest.raises(ValueError, match="state s=0 has none"):
        mdp.greedy_set_policy(np.zeros((2, 2), dtype=bool))


def test_stochastic_policy_value_matches_reference():
    grid = mdp.examples.gridworld_5x5()
    q = mdp.q_from_v(grid.model, np.zeros(25))
    pi = mdp.epsilon_greedy_policy(q, 0.2)
    v = mdp.evaluate_policy(grid.model, pi)
    v_ref, _ = ref.evaluate_policy_iterative(grid.model.P, grid.model.R, 0.9, pi, 1e-12)
    np.testing.assert_allclose(v, v_ref, rtol=0, atol=0.9 * 1e-12 / 0.1 + 1e-12)
