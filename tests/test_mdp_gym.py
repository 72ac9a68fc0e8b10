"""The Gymnasium bridge: terminated transitions are not bootstrapped."""

from __future__ import annotations

import numpy as np
import pytest

from mathlearn import mdp
from mathlearn.mdp.gym import from_gymnasium
from mathlearn.reference import mdp as ref


def test_table_terminated_not_bootstrapped():
    # From state 0, action 0 ends the episode with reward 1. Its next_state
    # is 1, whose value 10 / (1 - gamma) must not be added. Action 1 moves to 1.
    table = {
        0: {0: [(1.0, 1, 1.0, True)], 1: [(1.0, 1, 0.0, False)]},
        1: {0: [(1.0, 1, 10.0, False)], 1: [(1.0, 1, 10.0, False)]},
    }
    model = from_gymnasium(table, 0.5, n_states=2, n_actions=2)
    assert model.n_states == 3
    assert model.terminal.tolist() == [False, False, True]
    v = mdp.policy_iteration(model).v
    np.testing.assert_allclose(v, [max(1.0, 0.5 * 20.0), 20.0, 0.0], rtol=0, atol=1e-12)
    q = mdp.q_from_v(model, v)
    assert q[0, 0] == pytest.approx(1.0, abs=1e-12)


def test_table_rejects_bad_entries():
    with pytest.raises(ValueError, match="n_states and n_actions must be given"):
        from_gymnasium({0: {0: []}}, 0.9)
    with pytest.raises(ValueError, match=r"P\[0\]\[0\] must contain \(prob, next_state, reward, terminated\)"):
        from_gymnasium({0: {0: [(1.0, 0)]}}, 0.9, n_states=1, n_actions=1)
    with pytest.raises(ValueError, match="no entry for action 1 in state 0"):
        from_gymnasium({0: {0: [(1.0, 0, 0.0, False)]}}, 0.9, n_states=1, n_actions=2)
    with pytest.raises(TypeError, match="env must have a transition table"):
        from_gymnasium(object(), 0.9)


ENVS = [("FrozenLake-v1", 0.99), ("CliffWalking-v1", 0.95), ("Taxi-v4", 0.9)]


@pytest.mark.parametrize("name, gamma", ENVS)
def test_toy_text_matches_table_reference(name, gamma):
    gym = pytest.importorskip("gymnasium")
    env = gym.make(name)
    table = env.unwrapped.P
    S, A = env.observation_space.n, env.action_space.n
    model = from_gymnasium(env, gamma)
    assert model.is_sparse and model.n_states == S + 1
    n_sweeps = 30
    v_ref = np.array(ref.table_value_iteration(table, S, A, gamma, n_sweeps))
    v = np.zeros(S + 1)
    for _ in range(n_sweeps):
        v = mdp.bellman_operator(model, v)
    np.testing.assert_allclose(v[:S], v_ref, rtol=0, atol=1e-10)
    result = mdp.value_iteration(model, epsilon=1e-8)
    exact = mdp.policy_iteration(model)
    np.testing.assert_allclose(result.v, exact.v, rtol=0, atol=result.bound + 1e-9)


def test_frozenlake_start_value_matches_quantecon():
    gym = pytest.importorskip("gymnasium")
    quantecon_markov = pytest.importorskip("quantecon.markov")
    model = from_gymnasium(gym.make("FrozenLake-v1"), 0.99)
    dense = model.to_dense()
    ddp = quantecon_markov.DiscreteDP(dense.R, np.ascontiguousarray(dense.P.transpose(1, 0, 2)), 0.99)
    theirs = ddp.solve(method="policy_iteration")
    ours = mdp.policy_iteration(model)
    np.testing.assert_allclose(ours.v, theirs.v, rtol=0, atol=1e-9)
