"""REINFORCE with the library's MLP: the surrogate gradient against central
differences and the Jacobian, and learning on FrozenLake and the gridworld."""

from __future__ import annotations

import numpy as np
import pytest

from mathlearn import mdp

network = pytest.importorskip("mathlearn.network", reason="mathlearn.MLP is not built in this tree")
from mathlearn.mdp.policy_gradient import reinforce, softmax_rows, surrogate_gradient  # noqa: E402


def surrogate(net, X, actions, weights):
    p = softmax_rows(np.asarray(net.forward(X)))
    return float(np.mean(weights * -np.log(p[np.arange(len(actions)), actions])))


def central_difference(net, X, actions, weights, h=1e-6):
    w0 = net.params.copy()
    gradient = np.empty_like(w0)
    for i in range(w0.size):
        net.params[i] = w0[i] + h
        up = surrogate(net, X, actions, weights)
        net.params[i] = w0[i] - h
        down = surrogate(net, X, actions, weights)
        net.params[i] = w0[i]
        gradient[i] = (up - down) / (2 * h)
    return gradient


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    net = network.MLP([5, 7, 3], seed=1)
    X = rng.standard_normal((40, 5))
    actions = rng.integers(3, size=40)
    weights = 3 * rng.standard_normal(40)
    weights[:4] = 0.0
    return net, X, actions, weights


@pytest.mark.parametrize("use_targets", [False, True], ids=["vjp", "targets"])
def test_surrogate_gradient_matches_central_differences(batch, use_targets):
    net, X, actions, weights = batch
    value, gradient = surrogate_gradient(net, X, actions, weights, use_targets=use_targets)
    assert value == pytest.approx(surrogate(net, X, actions, weights), rel=1e-12)
    numeric = central_difference(net, X, actions, weights)
    # Central differences err by O(h^2) plus round-off eps |L| / h, about 1e-9 here.
    np.testing.assert_allclose(gradient, numeric, rtol=0, atol=1e-7)


def test_surrogate_gradient_matches_jacobian(batch):
    net, X, actions, weights = batch
    _, gradient = surrogate_gradient(net, X, actions, weights)
    p = softmax_rows(np.asarray(net.forward(X)))
    onehot = np.eye(3)[actions]
    dlogits = weights[:, None] * (p - onehot) / len(actions)
    expected = np.einsum("bm,bmp->p", dlogits, net.jacobian(X))
    np.testing.assert_allclose(gradient, expected, rtol=0, atol=1e-12 * max(1.0, np.abs(expected).max()))


def test_target_route_matches_vjp(batch):
    net, X, actions, weights = batch
    if not hasattr(net, "vjp"):
        pytest.skip("this MLP has no vjp")
    from mathlearn.mdp.policy_gradient import backpropagate_logits

    p = softmax_rows(np.asarray(net.forward(X)))
    D = weights[:, None] * (p - np.eye(3)[actions]) / len(actions)
    by_targets = backpropagate_logits(net, X, D, use_targets=True)
    by_vjp = backpropagate_logits(net, X, D)
    np.testing.assert_allclose(by_targets, by_vjp, rtol=0, atol=1e-12 * np.abs(by_vjp).max())


def test_surrogate_gradient_with_tiny_probabilities():
    # Large logits make pi(a | s) tiny for some taken actions with negative
    # weights, which forces several target groups.
    net = network.MLP([2, 4, 3], seed=2)
    net.params[:] *= 12.0
    rng = np.random.default_rng(3)
    X = rng.standard_normal((25, 2))
    actions = rng.integers(3, size=25)
    weights = rng.standard_normal(25)
    _, gradient = surrogate_gradient(net, X, actions, weights, use_targets=True)
    p = softmax_rows(np.asarray(net.forward(X)))
    assert p[np.arange(25), actions].min() < 1e-6
    dlogits = weights[:, None] * (p - np.eye(3)[actions]) / 25
    expected = np.einsum("bm,bmp->p", dlogits, net.jacobian(X))
    np.testing.assert_allclose(gradient, expected, rtol=0, atol=1e-8 * np.abs(expected).max())


def test_frozenlake_policy_within_005_of_optimal():
    gym = pytest.importorskip("gymnasium")
    from mathlearn.mdp.gym import from_gymnasium

    model = from_gymnasium(gym.make("FrozenLake-v1"), 0.99)
    v_star = mdp.policy_iteration(model).v
    result = reinforce(model, n_episodes=10_000, max_steps=200, seed=0)
    np.testing.assert_allclose(result.policy.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    v = mdp.evaluate_policy(model, result.policy)
    assert v[0] >= v_star[0] - 0.05


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1, 6))
def test_frozenlake_other_seeds(seed):
    gym = pytest.importorskip("gymnasium")
    from mathlearn.mdp.gym import from_gymnasium

    model = from_gymnasium(gym.make("FrozenLake-v1"), 0.99)
    v_star = mdp.policy_iteration(model).v
    result = reinforce(model, n_episodes=10_000, max_steps=200, seed=seed)
    assert mdp.evaluate_policy(model, result.policy)[0] >= v_star[0] - 0.05


def test_entropy_gradient_matches_central_differences(batch):
    net, X, actions, weights = batch
    beta = 0.3

    def loss(w):
        old = net.params.copy()
        net.params[:] = w
        p = softmax_rows(np.asarray(net.forward(X)))
        H = -(p * np.log(p)).sum(axis=1)
        out = surrogate(net, X, actions, weights) - beta * float(np.mean(H))
        net.params[:] = old
        return out

    value, gradient = surrogate_gradient(net, X, actions, weights, entropy=beta, use_targets=True)
    w0 = net.params.copy()
    assert value == pytest.approx(loss(w0), rel=1e-12)
    h = 1e-6
    numeric = np.array([(loss(w0 + h * e) - loss(w0 - h * e)) / (2 * h) for e in np.eye(w0.size)])
    np.testing.assert_allclose(gradient, numeric, rtol=0, atol=1e-7)


def test_runs_on_gymnasium_env():
    gym = pytest.importorskip("gymnasium")
    env = gym.make("FrozenLake-v1", is_slippery=False)
    result = reinforce(env, n_episodes=300, batch_size=10, lr=0.05, gamma=0.9, seed=1, max_steps=50)
    assert result.returns.shape == (300,)
    assert result.policy.shape == (16, 4)
    # Without slipping the goal is 6 steps away; a learned policy reaches it
    # far more often than the uniform policy (about 1.5 % of episodes).
    assert result.returns[-50:].mean() > 0.3


def test_runs_on_gridworld_with_gamma_one():
    grid = mdp.examples.gridworld_4x4()
    model = grid.model
    start = np.full(16, 1 / 14)
    start[list(grid.terminal)] = 0.0
    result = reinforce(model, n_episodes=600, batch_size=20, lr=0.05, start=start, seed=2)
    v = mdp.evaluate_policy(model, result.policy)
    v_uniform = mdp.evaluate_policy(model, mdp.uniform_policy(model))
    v_star = mdp.policy_iteration(model).v
    # Figure 4.1: the uniform policy needs 14 to 22 steps; optimal at most 3.
    assert np.all(v >= v_uniform)
    assert np.abs(v - v_star).max() < 2.0


def test_rejects_bad_arguments():
    grid = mdp.examples.gridworld_5x5()
    with pytest.raises(ValueError, match="network must have one output per action, A = 4; got 3"):
        reinforce(grid.model, network=network.MLP([25, 4, 3], seed=0), n_episodes=1)
    with pytest.raises(ValueError, match="baseline must be one of"):
        reinforce(grid.model, baseline="mean", n_episodes=1)
    with pytest.raises(ValueError, match=r"features must have one row per state"):
        reinforce(grid.model, features=np.eye(3), n_episodes=1)
    with pytest.raises(ValueError, match=r"entropy must be in \[0.0, inf.; got -1.0"):
        reinforce(grid.model, entropy=-1.0, n_episodes=1)


def test_runs_on_box_observations():
    gym = pytest.importorskip("gymnasium")
    env = gym.make("CartPole-v1")
    result = reinforce(env, n_episodes=20, batch_size=5, gamma=0.99, baseline="batch", seed=3, max_steps=100)
    assert result.policy is None
    assert result.returns.shape == (20,)
    # CartPole pays 1 per step until the pole falls, so each return is at least 1.
    assert np.all(result.returns >= 1.0)
    with pytest.raises(ValueError, match="baseline='state' needs discrete states"):
        reinforce(env, n_episodes=1, gamma=0.99)
