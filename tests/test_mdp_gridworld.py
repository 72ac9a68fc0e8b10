"""The gridworlds of Sutton and Barto (Reinforcement Learning, 2nd ed.)
against the values printed in the book."""

from __future__ import annotations

import numpy as np
import pytest

from mathlearn import mdp

# Figure 3.2: the equiprobable random policy on the 5 x 5 gridworld, gamma 0.9.
FIGURE_3_2 = np.array(
    [
        [3.3, 8.8, 4.4, 5.3, 1.5],
        [1.5, 3.0, 2.3, 1.9, 0.5],
        [0.1, 0.7, 0.7, 0.4, -0.4],
        [-1.0, -0.4, -0.4, -0.6, -1.2],
        [-1.9, -1.3, -1.2, -1.4, -2.0],
    ]
)

# Figure 3.5: v* of the same gridworld.
FIGURE_3_5 = np.array(
    [
        [22.0, 24.4, 22.0, 19.4, 17.5],
        [19.8, 22.0, 19.8, 17.8, 16.0],
        [17.8, 19.8, 17.8, 16.0, 14.4],
        [16.0, 17.8, 16.0, 14.4, 13.0],
        [14.4, 16.0, 14.4, 13.0, 11.7],
    ]
)

# Figure 3.5, right: every optimal action, as arrows (north, south, east, west).
FIGURE_3_5_POLICY = """\
   → ↑↓→←    ← ↑↓→←    ←
  ↑→    ↑   ↑←    ←    ←
  ↑→    ↑   ↑←   ↑←   ↑←
  ↑→    ↑   ↑←   ↑←   ↑←
  ↑→    ↑   ↑←   ↑←   ↑←"""

# Figure 4.1, k = infinity: the random policy on the 4 x 4 gridworld, undiscounted.
FIGURE_4_1 = np.array(
    [
        [0.0, -14.0, -20.0, -22.0],
        [-14.0, -18.0, -20.0, -20.0],
        [-20.0, -20.0, -18.0, -14.0],
        [-22.0, -20.0, -14.0, 0.0],
    ]
)


@pytest.fixture(scope="module")
def grid5():
    return mdp.examples.gridworld_5x5()


def test_gridworld_5x5_layout(grid5):
    model = grid5.model
    assert grid5.shape == (5, 5)
    assert model.n_states == 25
    assert model.n_actions == 4
    assert model.gamma == 0.9
    assert grid5.actions == ("north", "south", "east", "west")
    A, A_prime = grid5.state(0, 1), grid5.state(4, 1)
    B, B_prime = grid5.state(0, 3), grid5.state(2, 3)
    for a in range(4):
        assert model.P[a, A, A_prime] == 1.0
        assert model.R[A, a] == 10.0
        assert model.P[a, B, B_prime] == 1.0
        assert model.R[B, a] == 5.0
    corner = grid5.state(4, 4)
    south, east, north = 1, 2, 0
    assert model.P[south, corner, corner] == 1.0
    assert model.R[corner, south] == -1.0
    assert model.R[corner, east] == -1.0
    assert model.P[north, corner, grid5.state(3, 4)] == 1.0
    assert model.R[corner, north] == 0.0


def test_random_policy_matches_figure_3_2(grid5):
    v = mdp.evaluate_policy(grid5.model, mdp.uniform_policy(grid5.model))
    np.testing.assert_array_equal(np.round(v, 1).reshape(5, 5), FIGURE_3_2)


@pytest.mark.parametrize("solver", ["value_iteration", "policy_iteration"])
def test_optimal_values_match_figure_3_5(grid5, solver):
    result = getattr(mdp, solver)(grid5.model)
    assert result.converged
    np.testing.assert_array_equal(np.round(result.v, 1).reshape(5, 5), FIGURE_3_5)


def test_optimal_values_satisfy_teleport_equations(grid5):
    # From A every action earns 10 and lands on A', so v*(A) = 10 + gamma v*(A'),
    # and likewise v*(B) = 5 + gamma v*(B').
    result = mdp.value_iteration(grid5.model, epsilon=1e-10)
    v = result.v
    tol = 2 * result.bound
    assert v[grid5.state(0, 1)] == pytest.approx(10 + 0.9 * v[grid5.state(4, 1)], abs=tol)
    assert v[grid5.state(0, 3)] == pytest.approx(5 + 0.9 * v[grid5.state(2, 3)], abs=tol)


def test_optimal_policy_matches_figure_3_5(grid5):
    result = mdp.value_iteration(grid5.model, epsilon=1e-10)
    mask = mdp.optimal_actions(grid5.model, result.v, atol=2 * 0.9 * result.bound + 1e-12)
    assert grid5.format_policy(mask) == FIGURE_3_5_POLICY
    # The deterministic policy takes the lowest index among the optimal actions.
    np.testing.assert_array_equal(result.policy, np.argmax(mask, axis=1))


def test_format_values_prints_figure_3_5(grid5):
    result = mdp.value_iteration(grid5.model)
    expected = "\n".join(" ".join(f"{x:4.1f}" for x in row) for row in FIGURE_3_5)
    assert grid5.format_values(result.v) == expected


def test_format_values_drops_negative_zero(grid5):
    v = np.zeros(25)
    v[0] = -0.01
    assert grid5.format_values(v).splitlines()[0] == "0.0 0.0 0.0 0.0 0.0"


def test_format_rejects_wrong_shapes(grid5):
    with pytest.raises(ValueError, match=r"v must have shape \(S,\) = \(25,\); got shape \(24,\)"):
        grid5.format_values(np.zeros(24))
    with pytest.raises(ValueError, match=r"policy must contain actions in 0 \.\. 3; got values from 0 to 4"):
        grid5.format_policy(np.array([4] + [0] * 24))
    with pytest.raises(ValueError, match=r"policy must be integer actions of shape \(25,\)"):
        grid5.format_policy(np.zeros(25))


def absorption_moments(model, pi, terminal):
    """Return E[T] and E[T (T - 1)] for the steps T to absorption under pi.

    With Q the transition matrix among non-terminal states and N = (I - Q)^-1,
    E[T] = N 1 and E[T^2] = (2 N - I) E[T], so E[T (T - 1)] = 2 (N - I) E[T]
    = 2 N Q E[T].
    """
    P_pi = np.einsum("sa,ast->st", pi, model.P)
    keep = [s for s in range(model.n_states) if s not in terminal]
    Q = P_pi[np.ix_(keep, keep)]
    N = np.linalg.inv(np.eye(len(keep)) - Q)
    mean = N @ np.ones(len(keep))
    factorial_second = 2 * N @ Q @ mean
    return keep, mean, factorial_second


def test_gridworld_4x4_random_policy_matches_figure_4_1():
    grid = mdp.examples.gridworld_4x4()
    model = grid.model
    pi = mdp.uniform_policy(model)
    v = mdp.evaluate_policy(model, pi)

    # With reward -1 per step and gamma = 1, as in the book, v is -E[T]: minus
    # the expected number of steps to a terminal corner.
    assert model.gamma == 1.0
    keep, mean, _ = absorption_moments(model, pi, grid.terminal)
    expected = FIGURE_4_1.ravel()
    np.testing.assert_allclose(-mean, expected[keep], rtol=0, atol=1e-9)
    np.testing.assert_allclose(v[keep], -mean, rtol=0, atol=1e-9)
    for s in grid.terminal:
        assert v[s] == 0.0
    np.testing.assert_array_equal(np.round(v, 1).reshape(4, 4) + 0.0, FIGURE_4_1)


def test_gridworld_4x4_optimal_policy():
    grid = mdp.examples.gridworld_4x4()
    result = mdp.value_iteration(grid.model)
    assert result.converged
    # v*(s) is minus the number of steps to the nearer terminal corner,
    # discounted: -(1 + gamma + ... + gamma^(d - 1)).
    gamma = grid.model.gamma
    for row in range(4):
        for col in range(4):
            d = min(row + col, 6 - row - col)
            expected = -sum(gamma**t for t in range(d))
            assert result.v[grid.state(row, col)] == pytest.approx(expected, abs=1e-12)
    # Ties go to the lowest index: north, then south, east, west.
    assert grid.format_policy(result.policy) == "\n".join(
        ["· ← ← ↓", "↑ ↑ ↑ ↓", "↑ ↑ ↓ ↓", "↑ → → ·"]
    )


def test_gridworld_gamma_validated():
    with pytest.raises(ValueError, match=r"gamma must be in \[0.0, 1.0\]; got 1.5"):
        mdp.examples.gridworld_4x4(gamma=1.5)
    with pytest.raises(ValueError, match=r"got -0.5"):
        mdp.examples.gridworld_5x5(gamma=-0.5)
