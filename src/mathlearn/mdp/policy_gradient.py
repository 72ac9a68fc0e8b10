"""REINFORCE with a baseline, with the library's MLP as the policy network.

The policy is ``pi_w(a | s) = softmax(f_w(x_s))_a``, where ``f_w`` is a
:class:`mathlearn.MLP` with one output (logit) per action and ``x_s`` the
features of state s (one-hot by default). The policy gradient theorem
gives, for an episode ``s_0, a_0, r_1, ..., s_T`` sampled from ``pi_w``
(Sutton and Barto, 2nd ed., section 13.4),

    grad J(w) = E[ sum_t gamma^t (G_t - b(s_t)) grad log pi_w(a_t | s_t) ],

with the return ``G_t = sum_{k >= t} gamma^{k-t} r_{k+1}`` and any
baseline b that does not depend on the action. Since
``-log pi_w(a | s)`` is the softmax cross-entropy of the logits
``f_w(x_s)`` against the label a, one step of gradient ascent on J is one
step of gradient descent on the weighted cross-entropy surrogate

    L(w) = (1 / E) sum_t u_t CE(f_w(x_t), a_t),   u_t = gamma^t (G_t - b(s_t)),

summed over the steps of E sampled episodes: supervised learning on
samples that change as the policy plays. :func:`surrogate_gradient`
computes the mean over the N steps instead, and :func:`reinforce` scales
it by N / E.

The network's ``value_and_gradient(X, Y, loss="cross_entropy")`` takes
probability rows Y and returns the gradient of the mean cross-entropy,
whose derivative in the logits is ``(p_t - Y_t) / N`` with ``p_t =
softmax(f_w(x_t))``. Choosing ``Y_t = p_t - c D_t`` turns that into any
logit derivative ``D_t`` whose entries sum to 0, such as ``u_t (p_t -
e_{a_t})``; :func:`backpropagate_logits` states the admissible c. The
result is the exact gradient of the surrogate up to round-off, with no
per-sample weights in the network's interface.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .._validation import as_float_array, as_generator, check_choice, check_int, check_real
from .model import FiniteMDP


@dataclass(frozen=True)
class ReinforceResult:
    """Result of :func:`reinforce`.

    Attributes
    ----------
    network : mathlearn.MLP
        The trained policy network; ``softmax(network.forward(x_s))`` is
        ``pi(. | s)``.
    policy : ndarray of float64, shape (S, A), or None
        The learned stochastic policy on every state, for a FiniteMDP or an
        environment with discrete observations; None otherwise.
    returns : ndarray of float64, shape (n_episodes,)
        The discounted return ``G_0`` of each sampled episode, in order.
    n_episodes : int
    """

    network: object
    policy: np.ndarray | None
    returns: np.ndarray
    n_episodes: int


def softmax_rows(logits: np.ndarray) -> np.ndarray:
    """Return the row-wise softmax of ``logits`` (B, m), shifted by the row maximum."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def backpropagate_logits(network, X, D, use_targets: bool = False) -> np.ndarray:
    """Return ``sum_b Jac f_{x_b}(w)^T D_b``, the parameter gradient for logit gradients D.

    Parameters
    ----------
    network : mathlearn.MLP
        With ``forward`` and ``value_and_gradient(X, Y, loss="cross_entropy")``.
    X : ndarray, shape (N, n_features)
    D : ndarray of float64, shape (N, m)
        The derivative of a loss in the logits ``f_w(x_b)``; every row must
        sum to 0, as every derivative of a function of softmax(f) does.
    use_targets : bool
        Use the cross-entropy route below even when the network has a
        vector-Jacobian product ``vjp(X, U)``, which is used by default.

    Returns
    -------
    ndarray of float64, shape (P,)

    Notes
    -----
    Without ``vjp``, the gradient comes from ``value_and_gradient`` alone.
    The mean cross-entropy against target rows Y has logit derivative
    ``(p_b - Y_b) / n``, so ``Y_b = p_b - c D_b`` turns it into ``c D_b / n``.
    ``Y_b`` is a probability row when ``c D_bk <= p_bk`` for every k; each
    row's largest such c is halved against round-off. Rows whose c agree
    within a factor 2**10 share one call, with the smallest c of the group.
    Round-off is then of relative size ``2**-52 / c``.
    """
    X = np.asarray(X)
    D = np.asarray(D, dtype=np.float64)
    if not use_targets and hasattr(network, "vjp"):
        return np.asarray(network.vjp(X, D), dtype=np.float64)
    p = softmax_rows(np.asarray(network.forward(X), dtype=np.float64))
    gradient = np.zeros(network.n_params)
    active = np.flatnonzero(np.any(D != 0.0, axis=1))
    if active.size == 0:
        return gradient
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(D[active] > 0, p[active] / D[active], np.inf)
    c_max = 0.5 * ratio.min(axis=1)
    groups = np.floor(np.log2(c_max) / 10.0)
    for g in np.unique(groups):
        in_group = groups == g
        members = active[in_group]
        c = float(c_max[in_group].min())
        if not (c > 0.0 and math.isfinite(c)):
            continue
        Y = p[members] - c * D[members]
        np.clip(Y, 0.0, None, out=Y)
        Y /= Y.sum(axis=1, keepdims=True)
        _, g_group = network.value_and_gradient(X[members], Y, loss="cross_entropy")
        gradient += np.asarray(g_group, dtype=np.float64) * (members.size / c)
    return gradient


def surrogate_gradient(
    network, X, actions, weights, entropy: float = 0.0, use_targets: bool = False
) -> tuple[float, np.ndarray]:
    """Return the value and gradient of ``(1 / N) sum_t [u_t CE(f_w(x_t), a_t) - beta H_t]``.

    Parameters
    ----------
    network : mathlearn.MLP
    X : ndarray, shape (N, n_features)
    actions : ndarray of int, shape (N,)
    weights : ndarray of float64, shape (N,)
        The weights ``u_t``, of any sign.
    entropy : float
        The coefficient beta >= 0 of the entropy ``H_t = -sum_a pi(a | s_t)
        log pi(a | s_t)``. The bonus keeps every action sampled while the
        returns are still noisy, so the policy does not turn deterministic
        on an early, lucky episode.
    use_targets : bool
        Passed to :func:`backpropagate_logits`.

    Returns
    -------
    value : float
        The surrogate at the current parameters.
    gradient : ndarray of float64, shape (P,)

    Notes
    -----
    The logit derivative of ``u CE(z, a)`` is ``u (p - e_a)`` and that of
    ``-beta H`` is ``beta p (log p + H)``; :func:`backpropagate_logits`
    turns them into the parameter gradient with the network's
    cross-entropy gradient.
    """
    X = np.asarray(X)
    actions = np.asarray(actions, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.float64)
    n = X.shape[0]
    p = softmax_rows(np.asarray(network.forward(X), dtype=np.float64))
    rows = np.arange(n)
    log_p = np.log(np.maximum(p, np.finfo(np.float64).tiny))
    H = -(p * log_p).sum(axis=1)
    value = float(np.mean(weights * -log_p[rows, actions] - entropy * H))

    D = p * weights[:, None]
    D[rows, actions] -= weights
    if entropy > 0.0:
        D += entropy * p * (log_p + H[:, None])
    D /= n
    return value, backpropagate_logits(network, X, D, use_targets)


class _Adam:
    """Adam optimizer (Kingma and Ba, 2015, "Adam: A method for stochastic optimization")."""

    def __init__(self, n_params: int, lr: float, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = np.zeros(n_params)
        self.v = np.zeros(n_params)
        self.t = 0

    def step(self, params: np.ndarray, gradient: np.ndarray) -> None:
        self.t += 1
        self.m = self.beta1 * self.m + (1 - self.beta1) * gradient
        self.v = self.beta2 * self.v + (1 - self.beta2) * gradient**2
        m_hat = self.m / (1 - self.beta1**self.t)
        v_hat = self.v / (1 - self.beta2**self.t)
        params -= (self.lr * m_hat / (np.sqrt(v_hat) + self.eps)).astype(params.dtype)


def reinforce(
    env,
    n_episodes: int = 2_000,
    batch_size: int = 50,
    lr: float = 0.01,
    gamma: float | None = None,
    hidden: int = 32,
    network=None,
    features=None,
    baseline: str = "state",
    baseline_rate: float = 0.1,
    start=0,
    max_steps: int = 1_000,
    optimizer: str = "adam",
    entropy: float = 0.01,
    seed=None,
) -> ReinforceResult:
    """Train a softmax policy network by REINFORCE with a baseline.

    Parameters
    ----------
    env : FiniteMDP or gymnasium.Env
        A model of this library, sampled with its expected rewards ``R[s, a]``
        (this keeps the expected gradient and lowers its variance), or a
        Gymnasium environment with a ``Discrete`` action space, played
        through ``reset`` and ``step``.
    n_episodes : int
        Episodes to sample, >= 1.
    batch_size : int
        Episodes per update, >= 1.
    lr : float
        Learning rate, > 0.
    gamma : float, optional
        Discount in [0, 1]; the model's gamma by default, required for an
        environment.
    hidden : int
        Width of the hidden layer of the default network
        ``MLP([n_features, hidden, A], activation="tanh")``, >= 1.
    network : mathlearn.MLP, optional
        A network with A outputs to train in place instead of the default.
    features : array_like, shape (S, n_features), optional
        Features of each state of a FiniteMDP or discrete observation;
        one-hot by default. Box observations are used as features as they are.
    baseline : {"state", "batch", "none"}
        ``"state"``: a table ``b(s)`` moved toward the mean return observed
        from s by ``baseline_rate`` after each update (discrete states
        only). ``"batch"``: the mean return at the same time step in the
        batch. ``"none"``: b = 0.
    baseline_rate : float
        Step size of the state baseline, in (0, 1].
    start : int or array_like of shape (S,)
        Start state of a FiniteMDP, or its start distribution.
    max_steps : int
        Episodes are cut after this many steps (truncation, not termination).
    optimizer : {"adam", "sgd"}
        Update rule for the network parameters.
    entropy : float
        Initial coefficient >= 0 of the entropy bonus of
        :func:`surrogate_gradient`, per step. It decays linearly to 0 over
        the episodes: early on it keeps every action sampled, and at the end
        the update is plain REINFORCE. 0 gives plain REINFORCE throughout.
    seed : None, int or numpy.random.Generator
        Source of the network's initial weights and of the episodes.

    Returns
    -------
    ReinforceResult

    Notes
    -----
    Episodes of a FiniteMDP end on arrival at a terminal state
    (``model.terminal``) or after ``max_steps`` steps. All episodes of a
    batch are sampled together, with the policy fixed during the batch.
    """
    n_episodes = check_int(n_episodes, "n_episodes", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    hidden = check_int(hidden, "hidden", minimum=1)
    baseline = check_choice(baseline, "baseline", ("state", "batch", "none"))
    baseline_rate = check_real(baseline_rate, "baseline_rate", low=0.0, high=1.0, low_open=True)
    max_steps = check_int(max_steps, "max_steps", minimum=1)
    optimizer = check_choice(optimizer, "optimizer", ("adam", "sgd"))
    entropy = check_real(entropy, "entropy", low=0.0)
    rng = as_generator(seed)

    if isinstance(env, FiniteMDP):
        sampler = _ModelSampler(env, start, max_steps)
        if gamma is None:
            gamma = env.gamma
    else:
        sampler = _GymSampler(env, max_steps)
        if gamma is None:
            raise ValueError("gamma must be given for a Gymnasium environment; got None.")
    gamma = check_real(gamma, "gamma", low=0.0, high=1.0)
    n_actions = sampler.n_actions

    table = sampler.feature_table(features)
    n_features = table.shape[1] if table is not None else sampler.n_features
    if network is None:
        from ..network import MLP

        network = MLP([n_features, hidden, n_actions], activation="tanh", seed=rng)
    if getattr(network, "n_outputs", n_actions) != n_actions:
        raise ValueError(
            f"network must have one output per action, A = {n_actions}; got "
            f"{network.n_outputs} outputs."
        )
    if baseline == "state" and table is None:
        raise ValueError(
            "baseline='state' needs discrete states; use baseline='batch' for an environment "
            "with continuous observations."
        )
    n_states = table.shape[0] if table is not None else 0
    state_baseline = np.zeros(n_states)
    opt = _Adam(network.n_params, lr) if optimizer == "adam" else None

    all_returns = []
    done = 0
    while done < n_episodes:
        n_batch = min(batch_size, n_episodes - done)
        policy_table = None
        if table is not None:
            policy_table = softmax_rows(np.asarray(network.forward(table), dtype=np.float64))
        states, actions, rewards, alive = sampler.sample(network, policy_table, n_batch, rng)
        G = _discounted_returns(rewards, alive, gamma)
        all_returns.append(G[0].copy())
        discount = gamma ** np.arange(G.shape[0])[:, None]

        if baseline == "state":
            b = state_baseline[states]
        elif baseline == "batch":
            counts = np.maximum(alive.sum(axis=1, keepdims=True), 1)
            b = np.where(alive, (G * alive).sum(axis=1, keepdims=True) / counts, 0.0)
        else:
            b = np.zeros_like(G)
        weights = discount * (G - b)

        mask = alive
        if table is not None:
            X = table[states[mask]]
        else:
            X = sampler.observations[mask]
        # The entropy bonus decays linearly to 0, so that the final policy
        # optimizes the return alone.
        beta = entropy * (1.0 - done / n_episodes)
        _, gradient = surrogate_gradient(network, X, actions[mask], weights[mask], beta)
        # The estimate of grad J averages over episodes and sums over their
        # steps, while surrogate_gradient averages over all steps.
        gradient *= X.shape[0] / n_batch
        params = network.params
        if opt is not None:
            opt.step(params, gradient)
        else:
            params -= (lr * gradient).astype(params.dtype)

        if baseline == "state":
            visited = states[mask]
            sums = np.bincount(visited, weights=G[mask], minlength=n_states)
            counts = np.bincount(visited, minlength=n_states)
            seen = counts > 0
            state_baseline[seen] += baseline_rate * (sums[seen] / counts[seen] - state_baseline[seen])
        done += n_batch

    policy = None
    if table is not None:
        policy = softmax_rows(np.asarray(network.forward(table), dtype=np.float64))
    return ReinforceResult(
        network=network, policy=policy, returns=np.concatenate(all_returns), n_episodes=done
    )


def _discounted_returns(rewards: np.ndarray, alive: np.ndarray, gamma: float) -> np.ndarray:
    """Return ``G[t, e] = sum_{k >= t} gamma^(k-t) rewards[k, e]`` over the alive steps."""
    G = np.zeros_like(rewards)
    running = np.zeros(rewards.shape[1])
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = np.where(alive[t], rewards[t] + gamma * running, 0.0)
        G[t] = running
    return G


class _ModelSampler:
    """Samples batches of episodes of a FiniteMDP in lockstep."""

    def __init__(self, model: FiniteMDP, start, max_steps: int):
        S = model.n_states
        self.model = model
        self.n_actions = model.n_actions
        self.max_steps = max_steps
        if isinstance(start, (numbers.Integral, np.integer)) and not isinstance(start, bool):
            start = check_int(start, "start", minimum=0, maximum=S - 1)
            self.start = np.zeros(S)
            self.start[start] = 1.0
        else:
            self.start = as_float_array(start, "start", ndim=1, dtype=np.float64)
            if self.start.shape != (S,) or self.start.min() < 0 or abs(self.start.sum() - 1) > 1e-10:
                raise ValueError(
                    f"start must be a state in 0 .. {S - 1} or a distribution of shape ({S},) "
                    "summing to 1."
                )
        indptr, indices, data = model.transitions_csr()
        self.indptr, self.indices = indptr, indices
        self.cumulative = np.cumsum(data)

    def feature_table(self, features):
        S = self.model.n_states
        if features is None:
            return np.eye(S)
        table = as_float_array(features, "features", ndim=2, dtype=np.float64)
        if table.shape[0] != S:
            raise ValueError(f"features must have one row per state, shape ({S}, n); got {table.shape}.")
        return table

    def sample(self, network, pi, n, rng):
        model, A = self.model, self.n_actions
        s = rng.choice(model.n_states, size=n, p=self.start)
        running = ~model.terminal[s]
        states, actions, rewards, alive = [], [], [], []
        for _ in range(self.max_steps):
            if not running.any():
                break
            cdf = np.cumsum(pi[s], axis=1)
            u = rng.random(n)
            a = np.minimum((u[:, None] > cdf).sum(axis=1), A - 1)
            states.append(s)
            actions.append(a)
            rewards.append(np.where(running, model.R[s, a], 0.0))
            alive.append(running)
            s = np.where(running, self._next_states(s, a, rng), s)
            running = running & ~model.terminal[s]
        return (
            np.array(states), np.array(actions), np.array(rewards), np.array(alive, dtype=bool)
        )

    def _next_states(self, s, a, rng):
        rows = s * self.n_actions + a
        first = self.indptr[rows]
        last = self.indptr[rows + 1] - 1
        base = np.where(first > 0, self.cumulative[np.maximum(first - 1, 0)], 0.0)
        total = self.cumulative[last] - base
        target = base + rng.random(s.size) * total
        k = np.searchsorted(self.cumulative, target, side="right")
        k = np.clip(k, first, last)
        return self.indices[k].astype(np.int64)


class _GymSampler:
    """Plays episodes of a Gymnasium environment one at a time through reset and step."""

    def __init__(self, env, max_steps: int):
        self.env = env
        self.max_steps = max_steps
        n = getattr(env.action_space, "n", None)
        if n is None:
            raise TypeError(f"env.action_space must be Discrete; got {env.action_space!r}.")
        self.n_actions = int(n)
        self.n_obs = getattr(env.observation_space, "n", None)
        shape = getattr(env.observation_space, "shape", None)
        self.n_features = int(self.n_obs) if self.n_obs is not None else int(np.prod(shape))
        self.observations = None

    def feature_table(self, features):
        if self.n_obs is None:
            if features is not None:
                raise ValueError(
                    "features must be None for an environment with Box observations, which "
                    "are used as features as they are; got an array."
                )
            return None
        if features is None:
            return np.eye(int(self.n_obs))
        return as_float_array(features, "features", ndim=2, dtype=np.float64)

    def sample(self, network, pi, n, rng):
        episodes = []
        for _ in range(n):
            obs, _ = self.env.reset(seed=int(rng.integers(2**31)))
            steps = []
            for _ in range(self.max_steps):
                if pi is not None:
                    probs = pi[int(obs)]
                else:
                    x = np.asarray(obs, dtype=np.float64).reshape(1, -1)
                    probs = softmax_rows(np.asarray(network.forward(x), dtype=np.float64))[0]

                a = int(min(np.searchsorted(np.cumsum(probs), rng.random(), side="right"), self.n_actions - 1))
                next_obs, reward, terminated, truncated, _ = self.env.step(a)
                steps.append((obs, a, float(reward)))
                obs = next_obs
                if terminated or truncated:
                    break
            episodes.append(steps)

        T = max(len(e) for e in episodes)
        states = np.zeros((T, n), dtype=np.int64)
        actions = np.zeros((T, n), dtype=np.int64)
        rewards = np.zeros((T, n))
        alive = np.zeros((T, n), dtype=bool)
        observations = np.zeros((T, n, self.n_features))
        for e, steps in enumerate(episodes):
            for t, (o, a, r) in enumerate(steps):
                if self.n_obs is not None:
                    states[t, e] = int(o)
                else:
                    observations[t, e] = np.asarray(o, dtype=np.float64).ravel()
                actions[t, e] = a
                rewards[t, e] = r
                alive[t, e] = True
        # reinforce reads observations[alive] for environments without discrete states.
        self.observations = observations
        return states, actions, rewards, alive
