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
