"""Solvers of mathlearn.mdp against the pure-Python reference, the linear
program for v*, QuantEcon, and the bounds that the theory guarantees."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mathlearn import mdp
from mathlearn.mdp import _kernels
from mathlearn.reference import mdp as ref

EPS64 = np.finfo(np.float64).eps


def random_mdp(n_states, n_actions, gamma, seed, concentration=1.0):
    """Return a dense random FiniteMDP: Dirichlet rows of P, standard normal R."""
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.full(n_states, concentration), size=(n_actions, n_states))
    R = rng.standard_normal((n_states, n_actions))
    return mdp.FiniteMDP(P, R, gamma)


def roundoff(model, scale):
    """Return a bound on the floating-point error of one Bellman backup.

    Recursive summation of S terms errs by at most (S - 1) eps times the sum
    of their absolute values, which is at most ``scale`` here. The extra
    terms and the factor 4 cover the products and the reward addition.
    """
    return 4 * (model.n_states + 2) * EPS64 * max(1.0, scale)


def optimal_values(model):
    """Return v* by policy iteration followed by an exact linear solve."""
    result = mdp.policy_iteration(model)
    return mdp.evaluate_policy(model, result.policy)


def value_scale(model):
    """Return max|R| / (1 - gamma), a bound on |v| for every policy."""
    return float(np.abs(model.R).max()) / (1.0 - model.gamma)


CASES = [
    (1, 1, 0.5),
    (1, 3, 0.9),
    (2, 1, 0.0),
    (5, 2, 0.9),
    (12, 4, 0.5),
    (30, 3, 0.95),
    (60, 5, 0.99),
]


@pytest.mark.parametrize("n_states, n_actions, gamma", CASES)
def test_value_iteration_matches_reference(n_states, n_actions, gamma):
    model = random_mdp(n_states, n_actions, gamma, seed=n_states * 100 + n_actions)
    epsilon = 1e-6
    result = mdp.value_iteration(model, epsilon=epsilon)
    v_ref, policy_ref, n_iter_ref, delta_ref = ref.value_iteration(
        model.P, model.R, gamma, epsilon, max_iter=10_000
    )

    # Both sum in the same order, so they differ at most by round-off per sweep,
    # which the contraction keeps from growing beyond 1 / (1 - gamma) times.
    tol = roundoff(model, value_scale(model)) / (1.0 - gamma)
    np.testing.assert_allclose(result.v, v_ref, rtol=0, atol=tol)
    assert result.n_iter == n_iter_ref
    assert result.converged
    assert delta_ref < epsilon * (1 - gamma) / (2 * gamma) if gamma > 0 else True
    # The residual is ||T v - v|| at the returned v, one more reference sweep.
    next_ref = ref.value_iteration_sweep(model.P, model.R, gamma, v_ref)
    residual_ref = np.abs(np.asarray(next_ref) - np.asarray(v_ref)).max()
    assert result.residual == pytest.approx(residual_ref, rel=0, abs=2 * tol)

    # Policies must agree wherever the best action beats the runner-up by
    # more than the round-off in q.
    q = np.asarray(result.q)
    sorted_q = np.sort(q, axis=1)
    gap = sorted_q[:, -1] - (sorted_q[:, -2] if n_actions > 1 else -np.inf)
    clear = gap > 4 * tol
    np.testing.assert_array_equal(result.policy[clear], np.asarray(policy_ref)[clear])


@pytest.mark.parametrize("n_states, n_actions, gamma", CASES)
def test_value_iteration_within_bound_of_optimum(n_states, n_actions, gamma):
    model = random_mdp(n_states, n_actions, gamma, seed=7 + n_states)
    epsilon = 1e-6
    result = mdp.value_iteration(model, epsilon=epsilon)
    v_star = optimal_values(model)
    slack = roundoff(model, value_scale(model)) / (1.0 - gamma)

    # Puterman, Theorem 6.3.1: v within epsilon / 2 of v*, greedy policy epsilon-optimal.
    assert result.bound < epsilon / 2
    assert result.policy_bound < epsilon
    assert np.abs(result.v - v_star).max() <= result.bound + slack
    v_policy = mdp.evaluate_policy(model, result.policy)
    assert np.abs(v_policy - v_star).max() <= result.policy_bound + slack


@pytest.mark.parametrize("n_states, n_actions, gamma", CASES)
def test_policy_iteration_agrees_with_value_iteration(n_states, n_actions, gamma):
    model = random_mdp(n_states, n_actions, gamma, seed=11 + n_states)
    epsilon = 1e-8
    vi = mdp.value_iteration(model, epsilon=epsilon)
    pi = mdp.policy_iteration(model)
    slack = roundoff(model, value_scale(model)) / (1.0 - gamma)

    assert pi.converged
    assert pi.bound <= slack
    assert np.abs(pi.v - vi.v).max() <= vi.bound + pi.bound + slack
    # v_pi solves its own Bellman equation, and its policy is greedy for it.
    np.testing.assert_allclose(mdp.bellman_operator(model, pi.v), pi.v, rtol=0, atol=slack)


def test_value_iteration_matches_linear_program():
    # v* is the minimizer of sum_s v(s) subject to
    # v(s) >= R[s, a] + gamma sum_s' P[a, s, s'] v(s') for all (s, a),
    # because every feasible v is >= T v and hence >= v*.
    optimize = pytest.importorskip("scipy.optimize")
    model = random_mdp(25, 3, 0.8, seed=3)
    S, A, gamma = model.n_states, model.n_actions, model.gamma
    A_ub = np.concatenate([gamma * model.P[a] - np.eye(S) for a in range(A)])
    b_ub = -np.concatenate([model.R[:, a] for a in range(A)])
    lp = optimize.linprog(np.ones(S), A_ub=A_ub, b_ub=b_ub, bounds=(None, None), method="highs")
    assert lp.status == 0

    result = mdp.value_iteration(model, epsilon=1e-10)
    # HiGHS meets the constraints to its default primal feasibility tolerance
    # of 1e-7 (SciPy 1.17). A violation of size t moves v by at most t / (1 - gamma).
    np.testing.assert_allclose(result.v, lp.x, rtol=0, atol=1e-7 / (1.0 - gamma))


def test_value_iteration_matches_quantecon():
    quantecon_markov = pytest.importorskip("quantecon.markov")
    model = random_mdp(40, 4, 0.9, seed=5)
    ddp = quantecon_markov.DiscreteDP(model.R, model.P.transpose(1, 0, 2), model.gamma)
    theirs = ddp.solve(method="policy_iteration")
    ours = mdp.value_iteration(model, epsilon=1e-10)
    slack = roundoff(model, value_scale(model)) / (1.0 - model.gamma)

    np.testing.assert_allclose(ours.v, theirs.v, rtol=0, atol=ours.bound + slack)
    np.testing.assert_array_equal(ours.policy, theirs.sigma)


def test_parallel_and_serial_kernels_agree():
    model = random_mdp(200, 4, 0.95, seed=21)
    threshold = 1e-8 * (1 - model.gamma) / (2 * model.gamma)
    outputs = []
    for kernel in (_kernels.value_iteration_serial, _kernels.value_iteration_parallel):
        v = np.zeros(model.n_states)
        q = np.empty((model.n_states, model.n_actions))
        policy = np.empty(model.n_states, dtype=np.int64)
        n_iter, delta = kernel(
            model.P, model.R, model.gamma, threshold, 10_000, v, np.empty_like(v), q, policy
        )
        outputs.append((v, q, policy, n_iter, delta))

    (v_s, q_s, pol_s, n_s, d_s), (v_p, q_p, pol_p, n_p, d_p) = outputs
    # Both kernels back up each state with the same compiled function, so
    # they usually agree bit for bit. If LLVM vectorizes the two call sites
    # differently, they still agree to round-off.
    tol = roundoff(model, value_scale(model)) / (1.0 - model.gamma)
    np.testing.assert_allclose(v_p, v_s, rtol=0, atol=tol)
    np.testing.assert_allclose(q_p, q_s, rtol=0, atol=tol)
    np.testing.assert_array_equal(pol_p, pol_s)
    assert n_p == n_s
    assert d_p == pytest.approx(d_s, rel=0, abs=tol)


@pytest.mark.parametrize("parallel", [True, False])
def test_value_iteration_parallel_switch(parallel):
    model = random_mdp(40, 3, 0.9, seed=22)
    result = mdp.value_iteration(model, epsilon=1e-8, parallel=parallel)
    v_ref, _, n_ref, _ = ref.value_iteration(model.P, model.R, model.gamma, 1e-8, 10_000)
    tol = roundoff(model, value_scale(model)) / (1.0 - model.gamma)
    np.testing.assert_allclose(result.v, v_ref, rtol=0, atol=tol)
    assert result.n_iter == n_ref


@pytest.mark.parametrize(
    "n_states, n_threads, expected",
    [(500, 2, "parallel"), (499, 2, "serial"), (500, 1, "serial")],
)
def test_parallel_none_picks_kernel_by_size(monkeypatch, n_states, n_threads, expected):
    # 8 * 500 * 500 = 2e6 multiply-adds per sweep is the threshold.
    assert mdp.solvers.PARALLEL_MIN_WORK == 8 * 500 * 500
    calls = []

    def spy(name):
        def kernel(*args):
            calls.append(name)
            return 1, 0.0

        return kernel

    monkeypatch.setattr(_kernels, "value_iteration_serial", spy("serial"))
    monkeypatch.setattr(_kernels, "value_iteration_parallel", spy("parallel"))
    monkeypatch.setattr(mdp.solvers, "_numba_threads", lambda: n_threads)
    P = np.zeros((8, n_states, n_states))
    P[:, :, 0] = 1.0
    mdp.value_iteration(mdp.FiniteMDP(P, np.zeros((n_states, 8)), 0.5))
    assert calls == [expected]


def test_value_iteration_rejects_bad_parallel():
    model = random_mdp(4, 2, 0.5, seed=1)
    with pytest.raises(TypeError, match="parallel must be True, False or None; got 'yes'"):
        mdp.value_iteration(model, parallel="yes")


def test_sweep_kernels_match_reference():
    model = random_mdp(150, 5, 0.9, seed=8)
    rng = np.random.default_rng(1)
    v = rng.standard_normal(model.n_states)
    expected = ref.value_iteration_sweep(model.P, model.R, model.gamma, v)
    tol = roundoff(model, np.abs(v).max() + np.abs(model.R).max())
    for sweep in (_kernels.sweep_serial, _kernels.sweep_parallel):
        v_new = np.empty_like(v)
        q = np.empty((model.n_states, model.n_actions))
        policy = np.empty(model.n_states, dtype=np.int64)
        delta = sweep(model.P, model.R, model.gamma, v, v_new, q, policy)
        np.testing.assert_allclose(v_new, expected, rtol=0, atol=tol)
        assert delta == pytest.approx(np.abs(np.asarray(expected) - v).max(), rel=0, abs=tol)
        np.testing.assert_array_equal(v_new, q.max(axis=1))
        np.testing.assert_array_equal(policy, np.argmax(q, axis=1))


def test_policy_sweep_kernels_match_reference():
    model = random_mdp(150, 5, 0.9, seed=9)
    rng = np.random.default_rng(2)
    v = rng.standard_normal(model.n_states)
    policy = rng.integers(model.n_actions, size=model.n_states)
    expected = np.array([
        ref.q_value(model.P, model.R, model.gamma, v, s, int(policy[s])) for s in range(model.n_states)
    ])
    tol = roundoff(model, np.abs(v).max() + np.abs(model.R).max())
    for sweep in (_kernels.dense_policy_sweep, _kernels.dense_policy_sweep_parallel):
        v_new = np.empty_like(v)
        delta = sweep(model.P, model.R, model.gamma, policy, v, v_new)
        np.testing.assert_allclose(v_new, expected, rtol=0, atol=tol)
        assert delta == pytest.approx(np.abs(expected - v).max(), rel=0, abs=tol)


@pytest.mark.parametrize("parallel", [True, False])
def test_span_mpi_matches_policy_iteration(parallel):
    model = random_mdp(60, 4, 0.95, seed=23)
    exact = mdp.policy_iteration(model)
    result = mdp.modified_policy_iteration(model, epsilon=1e-8, stopping="span", parallel=parallel)
    tol = roundoff(model, value_scale(model)) / (1.0 - model.gamma)
    assert result.converged
    assert result.bound < 0.5e-8
    np.testing.assert_allclose(result.v, exact.v, rtol=0, atol=result.bound + exact.bound + tol)
    np.testing.assert_array_equal(result.policy, exact.policy)


def test_span_mpi_rejects_gamma_one():
    P = np.zeros((1, 2, 2))
    P[0, :, 1] = 1.0
    model = mdp.FiniteMDP(P, np.array([[-1.0], [0.0]]), 1.0)
    with pytest.raises(ValueError, match="stopping='span' needs gamma < 1"):
        mdp.modified_policy_iteration(model, stopping="span")


def test_max_iter_honoured_with_warning():
    model = random_mdp(10, 3, 0.99, seed=2)
    with pytest.warns(mdp.ConvergenceWarning, match="max_iter=3"):
        result = mdp.value_iteration(model, epsilon=1e-8, max_iter=3)
    assert result.n_iter == 3
    assert result.converged is False

    v_ref, _, n_ref, _ = ref.value_iteration(model.P, model.R, model.gamma, 1e-8, max_iter=3)
    assert n_ref == 3
    tol = roundoff(model, value_scale(model)) * 3
    np.testing.assert_allclose(result.v, v_ref, rtol=0, atol=tol)
    # The a posteriori bound is valid without convergence too.
    v_star = optimal_values(model)
    slack = roundoff(model, value_scale(model)) / (1.0 - model.gamma)
    assert np.abs(result.v - v_star).max() <= result.bound + slack


def test_convergence_warning_is_user_warning():
    assert issubclass(mdp.ConvergenceWarning, UserWarning)


def test_max_iter_one_with_exact_start():
    model = random_mdp(8, 2, 0.9, seed=4)
    v_star = optimal_values(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = mdp.value_iteration(model, epsilon=1e-6, max_iter=1, v0=v_star)
    assert result.n_iter == 1
    assert result.converged


def test_policy_iteration_max_iter_warns():
    # Sparse rows and a poor start make policy iteration need several steps.
    model = random_mdp(50, 6, 0.95, seed=12, concentration=0.05)
    start = np.zeros(50, dtype=int)
    full = mdp.policy_iteration(model, pi0=start)
    assert full.n_iter >= 2
    with pytest.warns(mdp.ConvergenceWarning, match="policy_iteration"):
        short = mdp.policy_iteration(model, max_iter=1, pi0=start)
    assert short.n_iter == 1
    assert short.converged is False
    v_star = optimal_values(model)
    assert np.abs(short.v - v_star).max() <= short.bound * (1 + 1e-9)


def test_gamma_zero_is_one_sweep():
    model = random_mdp(6, 3, 0.0, seed=9)
    result = mdp.value_iteration(model)
    assert result.n_iter == 1
    assert result.converged
    np.testing.assert_array_equal(result.v, model.R.max(axis=1))
    np.testing.assert_array_equal(result.policy, model.R.argmax(axis=1))
    assert result.bound == 0.0


@pytest.mark.parametrize("n_states, n_actions, gamma", [(1, 2, 0.5), (6, 3, 0.9), (20, 4, 0.7)])
def test_evaluate_policy_matches_iterative_reference(n_states, n_actions, gamma):
    model = random_mdp(n_states, n_actions, gamma, seed=30 + n_states)
    rng = np.random.default_rng(n_states)
    pi = rng.dirichlet(np.ones(n_actions), size=n_states)
    v = mdp.evaluate_policy(model, pi)
    tol = 1e-12
    v_ref, _ = ref.evaluate_policy_iterative(model.P, model.R, gamma, pi, tol)
    # The in-place sweep stopped at change tol is within gamma tol / (1 - gamma).
    bound = gamma * tol / (1 - gamma) + roundoff(model, value_scale(model)) / (1 - gamma)
    np.testing.assert_allclose(v, v_ref, rtol=0, atol=bound)


def test_evaluate_policy_solves_bellman_equation():
    model = random_mdp(15, 3, 0.9, seed=14)
    pi = np.random.default_rng(0).dirichlet(np.ones(3), size=15)
    v = mdp.evaluate_policy(model, pi)
    expected = [
        sum(pi[s, a] * ref.q_value(model.P, model.R, model.gamma, v, s, a) for a in range(3))
        for s in range(15)
    ]
    np.testing.assert_allclose(v, expected, rtol=0, atol=roundoff(model, value_scale(model)) / 0.1)


def test_evaluate_policy_integer_actions_equal_one_hot():
    model = random_mdp(9, 4, 0.8, seed=15)
    actions = np.random.default_rng(2).integers(0, 4, size=9)
    one_hot = np.eye(4)[actions]
    np.testing.assert_array_equal(
        mdp.evaluate_policy(model, actions), mdp.evaluate_policy(model, one_hot)
    )
    np.testing.assert_array_equal(
        mdp.evaluate_policy(model, actions.tolist()), mdp.evaluate_policy(model, one_hot)
    )


def test_operators_match_reference():
    model = random_mdp(12, 4, 0.9, seed=16)
    v = np.random.default_rng(3).standard_normal(12)
    tol = roundoff(model, np.abs(v).max() + np.abs(model.R).max())
    q = mdp.q_from_v(model, v)
    for s in range(12):
        for a in range(4):
            assert q[s, a] == pytest.approx(
                ref.q_value(model.P, model.R, model.gamma, v, s, a), rel=0, abs=tol
            )
    np.testing.assert_allclose(
        mdp.bellman_operator(model, v),
        ref.value_iteration_sweep(model.P, model.R, model.gamma, v),
        rtol=0,
        atol=tol,
    )
    np.testing.assert_array_equal(
        mdp.greedy_policy(model, v), ref.greedy_policy(model.P, model.R, model.gamma, v)
    )


def test_greedy_policy_breaks_ties_by_lowest_index():
    # Every action from every state has the same reward and the same next
    # state, so every q row is an exact tie.
    S, A = 4, 3
    P = np.zeros((A, S, S))
    P[:, :, 0] = 1.0
    R = np.ones((S, A))
    model = mdp.FiniteMDP(P, R, 0.5)
    np.testing.assert_array_equal(mdp.greedy_policy(model, np.arange(S, dtype=float)), 0)
    np.testing.assert_array_equal(mdp.value_iteration(model).policy, 0)
    # A strictly better later action wins.
    R[2, 2] = 2.0
    policy = mdp.greedy_policy(mdp.FiniteMDP(P, R, 0.5), np.zeros(S))
    np.testing.assert_array_equal(policy, [0, 0, 2, 0])


def test_value_iteration_contraction_rate():
    # ||T u - T w|| <= gamma ||u - w|| in the sup norm (Banach).
    model = random_mdp(20, 3, 0.85, seed=17)
    rng = np.random.default_rng(4)
    tol = roundoff(model, 10.0)
    for _ in range(20):
        u, w = rng.normal(scale=3, size=(2, 20))
        lhs = np.abs(mdp.bellman_operator(model, u) - mdp.bellman_operator(model, w)).max()
        assert lhs <= model.gamma * np.abs(u - w).max() + tol


def test_result_is_dataclass_with_documented_fields():
    result = mdp.value_iteration(random_mdp(5, 2, 0.5, seed=1))
    assert isinstance(result, mdp.SolverResult)
    assert result.v.shape == (5,)
    assert result.v.dtype == np.float64
    assert result.q.shape == (5, 2)
    assert result.policy.dtype == np.int64
    np.testing.assert_array_equal(result.policy, np.argmax(result.q, axis=1))


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"epsilon": 0.0}, ValueError, r"epsilon must be in \(0.0, inf\); got 0.0"),
        ({"epsilon": -1.0}, ValueError, "epsilon must be in"),
        ({"epsilon": "small"}, TypeError, "epsilon must be a real number"),
        ({"max_iter": 0}, ValueError, "max_iter must be >= 1; got 0"),
        ({"max_iter": 2.5}, TypeError, "max_iter must be an integer"),
        ({"v0": np.zeros(4)}, ValueError, r"v0 must have shape \(S,\) = \(5,\); got shape \(4,\)"),
        ({"v0": [np.nan] * 5}, ValueError, "v0 must contain only finite values"),
    ],
)
def test_value_iteration_rejects_bad_arguments(kwargs, error, pattern):
    model = random_mdp(5, 2, 0.5, seed=1)
    with pytest.raises(error, match=pattern):
        mdp.value_iteration(model, **kwargs)


def test_solvers_reject_non_model():
    with pytest.raises(TypeError, match="model must be a mathlearn.mdp.FiniteMDP; got dict"):
        mdp.value_iteration({"P": 1})
    with pytest.raises(TypeError, match="model must be"):
        mdp.evaluate_policy(None, [0])


def test_policy_iteration_rejects_bad_start():
    model = random_mdp(5, 2, 0.5, seed=1)
    with pytest.raises(ValueError, match=r"pi0 must contain actions in 0 \.\. 1; got 2 at s=3"):
        mdp.policy_iteration(model, pi0=[0, 0, 0, 2, 0])
    with pytest.raises(ValueError, match="pi0 must be an integer array of one action per state"):
        mdp.policy_iteration(model, pi0=np.full((5, 2), 0.5))


def test_value_iteration_leaves_v0_unchanged():
    model = random_mdp(6, 2, 0.9, seed=23)
    v0 = np.ones(6)
    mdp.value_iteration(model, v0=v0)
    np.testing.assert_array_equal(v0, np.ones(6))


def test_float32_model_solves_like_float64():
    rng = np.random.default_rng(24)
    P32 = rng.dirichlet(np.ones(30), size=(3, 30)).astype(np.float32)
    R32 = rng.standard_normal((30, 3)).astype(np.float32)
    model32 = mdp.FiniteMDP(P32, R32, 0.9)
    # The float64 model built from the same float32 numbers, renormalized the same way.
    P64 = P32.astype(np.float64)
    P64 /= P64.sum(axis=2, keepdims=True)
    model64 = mdp.FiniteMDP(P64, R32.astype(np.float64), 0.9)
    np.testing.assert_array_equal(model32.P, model64.P)
    result32 = mdp.value_iteration(model32)
    result64 = mdp.value_iteration(model64)
    np.testing.assert_array_equal(result32.v, result64.v)
    assert result32.v.dtype == np.float64


def test_import_does_not_load_numba():
    import subprocess
    import sys

    code = (
        "import sys, mathlearn\n"
        "from mathlearn import mdp\n"
        "mdp.examples.gridworld_5x5()\n"
        "assert 'numba' not in sys.modules, 'numba imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)



def test_value_iteration_chunked_sweeps_identical(monkeypatch):
    # Large dense models run the kernel in chunks of sweeps; the chunks must
    # continue the same sequence of iterates, so v and n_iter are unchanged.
    from mathlearn.mdp import solvers

    rng = np.random.default_rng(5)
    P = rng.random((3, 40, 40))
    P /= P.sum(axis=2, keepdims=True)
    model = mdp.FiniteMDP(P, rng.normal(size=(40, 3)), 0.95)
    whole = mdp.value_iteration(model, epsilon=1e-8, parallel=False)
    monkeypatch.setattr(solvers, "CHUNKED_VI_ENTRIES", 1)
    monkeypatch.setattr(solvers, "CHUNK_READ_ENTRIES", 7 * P.size)  # 7 sweeps per chunk
    chunked = mdp.value_iteration(model, epsilon=1e-8, parallel=False)
    assert chunked.n_iter == whole.n_iter
    np.testing.assert_array_equal(chunked.v, whole.v)
    np.testing.assert_array_equal(chunked.policy, whole.policy)
