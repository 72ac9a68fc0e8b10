"""FiniteMDP: the three constructors agree, and bad input is rejected with
a message that names the argument, the rule and the value."""

from __future__ import annotations

import numpy as np
import pytest

from mathlearn import mdp


def random_arrays(n_states, n_actions, seed):
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(n_states), size=(n_actions, n_states))
    R = rng.standard_normal((n_states, n_actions))
    return P, R


def test_attributes_and_storage():
    P, R = random_arrays(4, 3, seed=0)
    model = mdp.FiniteMDP(P, R, gamma=0.9)
    assert model.n_states == 4
    assert model.n_actions == 3
    assert model.gamma == 0.9
    np.testing.assert_array_equal(model.P, P)
    np.testing.assert_array_equal(model.R, R)
    for array in (model.P, model.R):
        assert array.dtype == np.float64
        assert array.flags.c_contiguous
        assert not array.flags.writeable
    # The caller's arrays stay writable and are not shared.
    assert P.flags.writeable
    P[0, 0, 0] += 1.0
    assert model.P[0, 0, 0] != P[0, 0, 0]


def test_fortran_order_and_integer_input():
    P, R = random_arrays(5, 2, seed=1)
    model = mdp.FiniteMDP(np.asfortranarray(P), np.asfortranarray(R), 0.5)
    assert model.P.flags.c_contiguous
    np.testing.assert_array_equal(model.P, P)

    P_int = np.zeros((2, 3, 3), dtype=np.int64)
    P_int[:, :, 0] = 1
    model = mdp.FiniteMDP(P_int, np.zeros((3, 2), dtype=np.int32), 0.5)
    assert model.P.dtype == np.float64
    assert model.R.dtype == np.float64


def test_float32_accepted_and_renormalized():
    P, R = random_arrays(300, 3, seed=2)
    P32 = P.astype(np.float32)
    P32 /= P32.sum(axis=2, keepdims=True)
    model = mdp.FiniteMDP(P32, R.astype(np.float32), 0.9)
    assert model.P.dtype == np.float64
    # Renormalized in float64: each row sums to 1 up to float64 round-off of 300 terms.
    np.testing.assert_allclose(model.P.sum(axis=2), 1.0, rtol=0, atol=300 * np.finfo(np.float64).eps)
    np.testing.assert_allclose(model.P, P32, rtol=4 * np.finfo(np.float32).eps, atol=0)

    # A float32 row off by far more than float32 round-off is still rejected.
    P32[1, 7, 0] += np.float32(1e-4)
    with pytest.raises(ValueError, match=r"distribution at a=1, s=7 sums to"):
        mdp.FiniteMDP(P32, R, 0.9)


def test_row_sum_tolerance_float64():
    P, R = random_arrays(3, 2, seed=3)
    P[1, 2, 0] += 1e-11
    mdp.FiniteMDP(P, R, 0.9)
    P[1, 2, 0] += 1e-9
    with pytest.raises(ValueError, match=r"P must contain probability distributions summing to 1 within 1e-10; the distribution at a=1, s=2 sums to 1\.000000001"):
        mdp.FiniteMDP(P, R, 0.9)
    P[1, 2, 0] -= 2e-9
    with pytest.raises(ValueError, match=r"a=1, s=2 sums to 0\.99999999"):
        mdp.FiniteMDP(P, R, 0.9)


def test_negative_probability_rejected():
    P, R = random_arrays(3, 2, seed=4)
    P[0, 1, 2] = -0.25
    P[0, 1, 0] += 0.25
    with pytest.raises(ValueError, match=r"P must contain probabilities >= 0; got -0\.25 at a=0, s=1, s'=2"):
        mdp.FiniteMDP(P, R, 0.9)


@pytest.mark.parametrize("gamma", [-0.1, 1.5, float("nan"), float("inf")])
def test_gamma_out_of_range_rejected(gamma):
    P, R = random_arrays(3, 2, seed=5)
    with pytest.raises(ValueError, match=r"gamma must be in \[0\.0, 1\.0\]; got .*Use gamma < 1"):
        mdp.FiniteMDP(P, R, gamma)


def test_gamma_one_without_terminal_rejected():
    P, R = random_arrays(3, 2, seed=5)
    with pytest.raises(ValueError, match=r"gamma = 1 needs an episodic MDP with a terminal state"):
        mdp.FiniteMDP(P, R, 1.0)


def test_gamma_message_names_value():
    P, R = random_arrays(3, 2, seed=5)
    with pytest.raises(ValueError, match=r"got -0\.1\."):
        mdp.FiniteMDP(P, R, -0.1)
    with pytest.raises(TypeError, match="gamma must be a real number; got '0.9'"):
        mdp.FiniteMDP(P, R, "0.9")


@pytest.mark.parametrize(
    "P_shape, R_shape, pattern",
    [
        ((2, 3, 4), (3, 2), r"P must have shape \(A, S, S\).*got shape \(2, 3, 4\)"),
        ((2, 3, 3), (2, 3), r"R must have shape \(S, A\) = \(3, 2\).*got shape \(2, 3\)"),
        ((2, 3, 3), (3,), r"R must have 2 dimension\(s\); got an array of shape \(3,\)"),
        ((3, 3), (3, 1), r"P must have 3 dimension\(s\); got an array of shape \(3, 3\)"),
        ((0, 3, 3), (3, 0), r"P must have at least one action and one state; got shape \(0, 3, 3\)"),
        ((2, 0, 0), (0, 2), r"P must have at least one action and one state; got shape \(2, 0, 0\)"),
    ],
)
def test_wrong_shapes_rejected(P_shape, R_shape, pattern):
    P = np.zeros(P_shape)
    if P.ndim == 3 and P.shape[1] and P.shape[1] == P.shape[2]:
        P[..., 0] = 1.0
    elif P.ndim == 2:
        P[:, 0] = 1.0
    with pytest.raises(ValueError, match=pattern):
        mdp.FiniteMDP(P, np.zeros(R_shape), 0.9)


def test_non_finite_rejected():
    P, R = random_arrays(3, 2, seed=6)
    R[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"R must contain only finite values; got .*nan.* at index \(2, 1\)"):
        mdp.FiniteMDP(P, R, 0.9)
    P2, R2 = random_arrays(3, 2, seed=6)
    P2[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="P must contain only finite values"):
        mdp.FiniteMDP(P2, R2, 0.9)


def test_wrong_dtypes_rejected():
    P, R = random_arrays(3, 2, seed=7)
    with pytest.raises(TypeError, match="P must be a real numeric array.*complex128"):
        mdp.FiniteMDP(P.astype(complex), R, 0.9)
    with pytest.raises(TypeError, match="R must be a numeric array; got a str"):
        mdp.FiniteMDP(P, "rewards", 0.9)


def test_from_dynamics_matches_matrix_form():
    rng = np.random.default_rng(8)
    S, A, K = 6, 3, 4
    p = rng.dirichlet(np.ones(S * K), size=(S, A)).reshape(S, A, S, K)
    rewards = rng.standard_normal(K)
    model = mdp.FiniteMDP.from_dynamics(p, rewards, 0.8)

    for s in range(S):
        for a in range(A):
            for s_next in range(S):
                expected = sum(p[s, a, s_next, k] for k in range(K))
                assert model.P[a, s, s_next] == pytest.approx(expected, rel=1e-15, abs=0)
            expected_r = sum(rewards[k] * p[s, a, t, k] for t in range(S) for k in range(K))
            assert model.R[s, a] == pytest.approx(expected_r, rel=0, abs=1e-14)


def test_from_dynamics_accepts_float32():
    rng = np.random.default_rng(14)
    p = rng.dirichlet(np.ones(40), size=(10, 2)).reshape(10, 2, 10, 4).astype(np.float32)
    rewards = np.array([-1.0, 0.0, 1.0, 2.0], dtype=np.float32)
    model = mdp.FiniteMDP.from_dynamics(p, rewards, 0.9)
    np.testing.assert_allclose(model.P.sum(axis=2), 1.0, rtol=0, atol=1e-14)
    expected_P = p.astype(np.float64).sum(axis=3).transpose(1, 0, 2)
    np.testing.assert_allclose(model.P, expected_P, rtol=0, atol=4e-7)


def test_from_dynamics_rejects_bad_input():
    rng = np.random.default_rng(9)
    p = rng.dirichlet(np.ones(6), size=(3, 2)).reshape(3, 2, 3, 2)
    with pytest.raises(ValueError, match=r"rewards must have shape \(K,\) = \(2,\).*got shape \(3,\)"):
        mdp.FiniteMDP.from_dynamics(p, np.zeros(3), 0.9)
    with pytest.raises(ValueError, match=r"p must have shape \(S, A, S, K\)"):
        mdp.FiniteMDP.from_dynamics(p[:, :, :2], np.zeros(2), 0.9)
    bad = p.copy()
    bad[2, 1, 0, 0] += 1e-9
    with pytest.raises(ValueError, match=r"p must contain probability distributions .* s=2, a=1 sums to"):
        mdp.FiniteMDP.from_dynamics(bad, np.zeros(2), 0.9)
    bad = p.copy()
    bad[0, 0, 0, 0] = -bad[0, 0, 0, 0]
    with pytest.raises(ValueError, match=r"p must contain probabilities >= 0; got -"):
        mdp.FiniteMDP.from_dynamics(bad, np.zeros(2), 0.9)


def test_from_transitions_matches_matrix_form():
    P, R = random_arrays(4, 2, seed=10)
    rows = []
    for s in range(4):
        for a in range(2):
            for s_next in range(4):
                # Split each transition into two rows with different rewards
                # whose probability-weighted mean is the reward of this (s, a).
                half = P[a, s, s_next] / 2
                rows.append((s, a, s_next, R[s, a] + 1.0, half))
                rows.append((s, a, s_next, R[s, a] - 1.0, half))
    model = mdp.FiniteMDP.from_transitions(iter(rows), 4, 2, 0.7)
    np.testing.assert_allclose(model.P, P, rtol=1e-15, atol=0)
    np.testing.assert_allclose(model.R, R, rtol=0, atol=1e-14)
    assert model.gamma == 0.7


def test_from_transitions_builds_gridworld():
    grid = mdp.examples.gridworld_5x5()
    P, R = grid.model.P, grid.model.R
    rows = [
        (s, a, t, R[s, a], P[a, s, t])
        for a in range(4)
        for s in range(25)
        for t in range(25)
        if P[a, s, t] > 0
    ]
    model = mdp.FiniteMDP.from_transitions(rows, 25, 4, 0.9)
    np.testing.assert_array_equal(model.P, P)
    np.testing.assert_array_equal(model.R, R)


@pytest.mark.parametrize(
    "rows, error, pattern",
    [
        ([(0, 0, 0, 0.0)], ValueError, r"rows\[0\] must be a tuple \(s, a, s_next, r, prob\)"),
        ([(0, 0, 5, 0.0, 1.0)], ValueError, r"rows\[0\] next state s_next must be <= 1; got 5"),
        ([(0, -1, 0, 0.0, 1.0)], ValueError, r"rows\[0\] action a must be >= 0; got -1"),
        ([(0.0, 0, 0, 0.0, 1.0)], TypeError, r"rows\[0\] state s must be an integer; got 0.0"),
        ([(0, 0, 0, 0.0, -0.5)], ValueError, r"rows\[0\] probability prob must be in \[0.0, 1.0\]; got -0.5"),
        ([(0, 0, 0, float("nan"), 1.0)], ValueError, r"rows\[0\] reward r must be in"),
        ([(0, 0, 0, 0.0, 1.0)], ValueError, r"pair s=0, a=1 has no transition .*3 pair\(s\)"),
        (
            [(s, a, 0, 0.0, 1.0 - 1e-9 * (s == 1)) for s in range(2) for a in range(2)],
            ValueError,
            r"rows must contain probability distributions .* s=1, a=0 sums to 0.999999999",
        ),
        (42, TypeError, "rows must be an iterable"),
    ],
)
def test_from_transitions_rejects_bad_rows(rows, error, pattern):
    with pytest.raises(error, match=pattern):
        mdp.FiniteMDP.from_transitions(rows, 2, 2, 0.9)


def test_from_transitions_rejects_bad_sizes():
    with pytest.raises(ValueError, match="n_states must be >= 1; got 0"):
        mdp.FiniteMDP.from_transitions([], 0, 2, 0.9)
    with pytest.raises(ValueError, match=r"gamma must be in \[0.0, 1.0\]; got 1.5"):
        mdp.FiniteMDP.from_transitions([], 2, 2, 1.5)


@pytest.mark.parametrize(
    "pi, error, pattern",
    [
        (np.full((3, 2), 0.4), ValueError, r"pi rows must be distributions summing to 1 within 1e-10; row s=0 sums to 0.8"),
        ([[1.0, 0.0], [0.5, 0.5 + 1e-9], [0.0, 1.0]], ValueError, r"row s=1 sums to 1.000000001"),
        ([[1.5, -0.5], [0.5, 0.5], [0.0, 1.0]], ValueError, r"pi must contain probabilities >= 0; got -0.5 at s=0, a=1"),
        (np.full((2, 2), 0.5), ValueError, r"pi must have shape \(S, A\) = \(3, 2\).*got shape \(2, 2\)"),
        (np.array([0.0, 1.0, 1.0]), TypeError, r"pi of shape \(S,\) must contain integer actions; got dtype float64"),
        (np.array([0, 2, 1]), ValueError, r"pi must contain actions in 0 \.\. 1; got 2 at s=1"),
        (np.array([0, 1]), ValueError, r"pi of integer actions must have shape \(S,\) = \(3,\); got shape \(2,\)"),
        ([[np.nan, 1.0], [0.5, 0.5], [0.0, 1.0]], ValueError, "pi must contain only finite values"),
    ],
)
def test_evaluate_policy_rejects_bad_pi(pi, error, pattern):
    P, R = random_arrays(3, 2, seed=11)
    model = mdp.FiniteMDP(P, R, 0.9)
    with pytest.raises(error, match=pattern):
        mdp.evaluate_policy(model, pi)


def test_evaluate_policy_accepts_rows_within_tolerance():
    P, R = random_arrays(3, 2, seed=12)
    model = mdp.FiniteMDP(P, R, 0.9)
    pi = np.full((3, 2), 0.5)
    pi[1, 0] += 1e-11
    v = mdp.evaluate_policy(model, pi)
    assert v.shape == (3,)


def test_repr_names_sizes():
    P, R = random_arrays(3, 2, seed=13)
    assert repr(mdp.FiniteMDP(P, R, 0.25)) == "FiniteMDP(n_states=3, n_actions=2, gamma=0.25, dense)"


def test_rewards_too_large_for_float64():
    with pytest.raises(ValueError, match=r"R is too large for float64 values: max \|R\| / \(1 - gamma\)"):
        mdp.FiniteMDP(np.ones((1, 1, 1)), [[1e308]], 0.9)


def test_large_rewards_within_range_accepted():
    model = mdp.FiniteMDP(np.ones((1, 1, 1)), [[1e298]], 0.9)
    result = mdp.value_iteration(model, epsilon=1e288)
    assert np.isfinite(result.v).all()
    assert result.v[0] == pytest.approx(1e299, rel=1e-6)
